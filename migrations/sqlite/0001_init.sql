-- Natter schema, SQLite flavour. Times are unix milliseconds.

create table users (
    id text primary key,
    username text not null,
    username_key text not null unique,
    display_name text not null,
    password_hash text not null,
    is_admin integer not null default 0,
    created_at integer not null
);

create table sessions (
    id text primary key,
    user_id text not null references users(id) on delete cascade,
    token_hash text not null unique,
    user_agent text not null,
    created_at integer not null,
    last_seen integer not null
);
create index sessions_user on sessions(user_id);

create table rooms (
    id text primary key,
    name text not null,
    -- case-folded name; null for direct rooms, which are not found by name
    name_key text unique,
    kind text not null,
    topic text not null default '',
    owner_id text not null references users(id),
    key_hash text,
    history text not null,
    retention_max_messages integer,
    retention_max_age_secs integer,
    last_seq integer not null default 0,
    -- "<user id>:<user id>" (sorted) for direct rooms, so each pair has one
    direct_key text unique,
    created_at integer not null
);

create table memberships (
    room_id text not null references rooms(id) on delete cascade,
    user_id text not null references users(id) on delete cascade,
    role text not null,
    joined_seq integer not null,
    read_seq integer not null default 0,
    joined_at integer not null,
    primary key (room_id, user_id)
) without rowid;
create index memberships_user on memberships(user_id);

create table bans (
    room_id text not null references rooms(id) on delete cascade,
    user_id text not null references users(id) on delete cascade,
    banned_by text not null,
    reason text not null default '',
    created_at integer not null,
    primary key (room_id, user_id)
) without rowid;

create table messages (
    room_id text not null references rooms(id) on delete cascade,
    seq integer not null,
    sender_id text not null references users(id),
    client_id text not null,
    body text not null,
    created_at integer not null,
    primary key (room_id, seq)
) without rowid;
-- a retried send finds its original here
create unique index messages_client on messages(sender_id, client_id);
