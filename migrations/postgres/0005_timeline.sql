-- The room timeline: edits, deletions, reactions, replies and pins take a seq of their own.

alter table messages add column edited_at bigint;
alter table messages add column deleted bigint not null default 0;
alter table messages add column reply_to bigint;
alter table messages add column reply_sender_id text;
alter table messages add column reply_excerpt text;
create index messages_reply on messages(room_id, reply_to) where reply_to is not null;
alter table messages add column pinned_at bigint;
alter table messages add column reaction_count bigint not null default 0;
create index messages_pinned on messages(room_id, pinned_at) where pinned_at is not null;

create table events (
    room_id text not null references rooms(id) on delete cascade,
    seq bigint not null,
    kind text not null,
    message_seq bigint not null,
    user_id text not null,
    emoji text,
    created_at bigint not null,
    primary key (room_id, seq)
);
create index events_message on events(room_id, message_seq);

create table message_edits (
    room_id text not null references rooms(id) on delete cascade,
    message_seq bigint not null,
    seq bigint not null,
    body text not null,
    replaced_at bigint not null,
    primary key (room_id, message_seq, seq)
);

create table reactions (
    room_id text not null references rooms(id) on delete cascade,
    message_seq bigint not null,
    emoji text not null,
    user_id text not null references users(id) on delete cascade,
    created_at bigint not null,
    primary key (room_id, message_seq, emoji, user_id)
);

create table audit_log (
    id bigserial primary key,
    ts bigint not null,
    actor_id text not null,
    action text not null,
    room_id text,
    target text not null default '',
    reason text not null default ''
);
create index audit_log_room on audit_log(room_id, id);
