-- Full-text search. The index holds each message's folded words (worked out by the server:
-- accents dropped, lower-cased, split at punctuation), never its text; deleted messages leave it.

-- a number per indexed message, newest highest: the index's row id and the search cursor
create table search_docs (
    doc integer primary key autoincrement,
    room_id text not null references rooms(id) on delete cascade,
    seq integer not null,
    unique (room_id, seq)
);

create virtual table message_search using fts5(
    words,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 0',
    prefix = '2 3'
);

-- whether the messages from before this migration have been indexed (done once, at start)
create table search_state (backfilled bigint not null);
insert into search_state (backfilled) values (0);
