-- Encryption at rest: 1 where a message's body and what it quotes (reply_excerpt), or an
-- earlier text of it, are sealed with its room's key (base64 of nonce and ciphertext). Rows
-- from before this migration are sealed in the background, a batch at a time, and their
-- search entries replaced by keyed tokens; the partial indexes find those still to do.
alter table messages add column sealed integer not null default 0;
alter table message_edits add column sealed integer not null default 0;
create index messages_unsealed on messages(room_id, seq) where sealed = 0;
create index message_edits_unsealed on message_edits(room_id, message_seq, seq) where sealed = 0;

-- The keyed tokens of sealed messages (rooms with a key), apart from `message_search`'s plain
-- words: no positions and no prefix indexes (a token is only ever looked up whole; beginnings
-- of words have tokens of their own), which keeps the group commit's index writes small.
create virtual table sealed_search using fts5(
    tokens,
    content = '',
    contentless_delete = 1,
    detail = none,
    tokenize = 'ascii'
);
