-- The room timeline: edits, deletions, reactions, replies and pins take a seq of their own.

-- the current state of each message
alter table messages add column edited_at integer;
alter table messages add column deleted integer not null default 0;
-- a reply: the seq of the message it answers, and what it quotes of it (its sender and the
-- start of its text as it was; the text is erased when that message is deleted)
alter table messages add column reply_to integer;
alter table messages add column reply_sender_id text;
alter table messages add column reply_excerpt text;
create index messages_reply on messages(room_id, reply_to) where reply_to is not null;
alter table messages add column pinned_at integer;
-- how many reactions it has (0: none to read)
alter table messages add column reaction_count integer not null default 0;
create index messages_pinned on messages(room_id, pinned_at) where pinned_at is not null;

-- every change to a message, at the seq it took (new messages are the messages themselves)
create table events (
    room_id text not null references rooms(id) on delete cascade,
    seq integer not null,
    -- edited | deleted | reaction_added | reaction_removed | pinned | unpinned
    kind text not null,
    message_seq integer not null,
    user_id text not null,
    emoji text,
    created_at integer not null,
    primary key (room_id, seq)
) without rowid;
create index events_message on events(room_id, message_seq);

-- the texts a message had before each edit (for moderators); erased with the message
create table message_edits (
    room_id text not null references rooms(id) on delete cascade,
    message_seq integer not null,
    -- the seq of the edit that replaced this text
    seq integer not null,
    body text not null,
    replaced_at integer not null,
    primary key (room_id, message_seq, seq)
) without rowid;

create table reactions (
    room_id text not null references rooms(id) on delete cascade,
    message_seq integer not null,
    emoji text not null,
    user_id text not null references users(id) on delete cascade,
    created_at integer not null,
    primary key (room_id, message_seq, emoji, user_id)
) without rowid;

-- moderation actions; no foreign keys, so entries outlive the rooms and users they name
create table audit_log (
    id integer primary key autoincrement,
    ts integer not null,
    actor_id text not null,
    action text not null,
    room_id text,
    target text not null default '',
    reason text not null default ''
);
create index audit_log_room on audit_log(room_id, id);
