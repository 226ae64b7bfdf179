-- Full-text search. The index holds each message's folded words (worked out by the server:
-- accents dropped, lower-cased, split at punctuation), never its text; deleted messages leave it.
create table search_docs (
    doc bigserial primary key,
    room_id text not null references rooms(id) on delete cascade,
    seq bigint not null,
    words tsvector not null,
    unique (room_id, seq)
);
create index search_docs_words on search_docs using gin (words);

-- whether the messages from before this migration have been indexed (done once, at start)
create table search_state (backfilled bigint not null);
insert into search_state (backfilled) values (0);
