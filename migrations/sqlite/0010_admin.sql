-- Server administration: deactivated accounts, the settings an admin changes at run time,
-- invites (to register, or into a room), reports of messages, and where a session signed in
-- from.

-- unix ms; null: active. A deactivated account cannot sign in and has no sessions.
alter table users add column deactivated_at integer;
alter table sessions add column address text not null default '';

-- each a JSON value; a name not here takes its default from the configuration
create table settings (
    name text primary key,
    value text not null
);
-- a fresh server's one-time setup token lives here until an admin exists
create table invites (
    id text primary key,
    -- SHA-256 of the code; the code is shown once, when made
    code_hash text not null unique,
    -- null: an invitation to register on the server; else into this room
    room_id text references rooms(id) on delete cascade,
    created_by text not null,
    created_at integer not null,
    expires_at integer,
    max_uses integer,
    uses integer not null default 0,
    revoked_at integer
);
create index invites_room on invites(room_id, created_at);

create table reports (
    id text primary key,
    room_id text not null references rooms(id) on delete cascade,
    seq integer not null,
    reporter_id text not null references users(id) on delete cascade,
    reason text not null,
    created_at integer not null,
    -- null while open; then who closed it, how (`dismissed`, `message_deleted`, `banned`,
    -- `deactivated`) and when
    resolved_at integer,
    resolved_by text,
    resolution text,
    unique (room_id, seq, reporter_id)
);
create index reports_open on reports(resolved_at, created_at);

create index audit_log_actor on audit_log(actor_id, id);
create index audit_log_action on audit_log(action, id);
