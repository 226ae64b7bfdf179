-- Room levels and moderation: each room's permission table, timed mutes, and who acted
-- (the audit log gains the actor's address).

-- the actions whose lowest role differs from the defaults, as a JSON object (null: defaults)
alter table rooms add column permissions text;

create table mutes (
    room_id text not null references rooms(id) on delete cascade,
    user_id text not null references users(id) on delete cascade,
    -- unix ms; null: until unmuted
    until integer,
    by_id text not null,
    created_at integer not null,
    primary key (room_id, user_id)
) without rowid;

alter table audit_log add column address text not null default '';
