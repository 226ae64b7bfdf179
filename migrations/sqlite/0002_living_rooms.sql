-- Presence, profiles, avatars, read receipts, mentions, notification levels.

alter table users add column status_text text not null default '';
alter table users add column status_emoji text not null default '';
-- content hash of the uploaded avatar; null: a generated one
alter table users add column avatar text;
-- auto | away | invisible
alter table users add column presence_mode text not null default 'auto';
alter table users add column send_receipts integer not null default 1;
-- unix ms of the last connection's end (never written while invisible)
alter table users add column last_seen_at integer;

-- all | mentions | muted; null: the default for the room's kind
alter table memberships add column notify text;

-- JSON array of structured mentions; null when there are none
alter table messages add column mentions text;

-- one row per (message, mentioned user), for mention counts
create table mentions (
    room_id text not null references rooms(id) on delete cascade,
    seq integer not null,
    user_id text not null references users(id) on delete cascade,
    primary key (room_id, user_id, seq)
) without rowid;

-- square PNG thumbnails, addressed by the hash of their content
create table avatars (
    hash text not null,
    size integer not null,
    bytes blob not null,
    primary key (hash, size)
) without rowid;
