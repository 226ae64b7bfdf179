-- Natter schema, PostgreSQL flavour. Times are unix milliseconds (bigint); flags are
-- integers 0/1, as in the SQLite schema, so one set of queries serves both.

create table users (
    id text primary key,
    username text not null,
    username_key text not null unique,
    display_name text not null,
    password_hash text not null,
    is_admin bigint not null default 0,
    created_at bigint not null,
    status_text text not null default '',
    status_emoji text not null default '',
    avatar text,
    presence_mode text not null default 'auto',
    send_receipts bigint not null default 1,
    last_seen_at bigint
);

create table sessions (
    id text primary key,
    user_id text not null references users(id) on delete cascade,
    token_hash text not null unique,
    user_agent text not null,
    created_at bigint not null,
    last_seen bigint not null
);
create index sessions_user on sessions(user_id);

create table rooms (
    id text primary key,
    name text not null,
    name_key text unique,
    kind text not null,
    topic text not null default '',
    owner_id text not null references users(id),
    key_hash text,
    history text not null,
    retention_max_messages bigint,
    retention_max_age_secs bigint,
    last_seq bigint not null default 0,
    direct_key text unique,
    created_at bigint not null
);

create table memberships (
    room_id text not null references rooms(id) on delete cascade,
    user_id text not null references users(id) on delete cascade,
    role text not null,
    joined_seq bigint not null,
    read_seq bigint not null default 0,
    joined_at bigint not null,
    notify text,
    primary key (room_id, user_id)
);
create index memberships_user on memberships(user_id);

create table bans (
    room_id text not null references rooms(id) on delete cascade,
    user_id text not null references users(id) on delete cascade,
    banned_by text not null,
    reason text not null default '',
    created_at bigint not null,
    primary key (room_id, user_id)
);

create table messages (
    room_id text not null references rooms(id) on delete cascade,
    seq bigint not null,
    sender_id text not null references users(id),
    client_id text not null,
    body text not null,
    created_at bigint not null,
    mentions text,
    primary key (room_id, seq)
);
create unique index messages_client on messages(sender_id, client_id);

create table mentions (
    room_id text not null references rooms(id) on delete cascade,
    seq bigint not null,
    user_id text not null references users(id) on delete cascade,
    primary key (room_id, user_id, seq)
);

create table avatars (
    hash text not null,
    size bigint not null,
    bytes bytea not null,
    primary key (hash, size)
);
