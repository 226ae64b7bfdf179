-- Encryption at rest: 1 where a message's body and what it quotes (reply_excerpt), or an
-- earlier text of it, are sealed with its room's key (base64 of nonce and ciphertext). Rows
-- from before this migration are sealed in the background, a batch at a time, and their
-- search entries replaced by keyed tokens; the partial indexes find those still to do.
alter table messages add column sealed bigint not null default 0;
alter table message_edits add column sealed bigint not null default 0;
create index messages_unsealed on messages(room_id, seq) where sealed = 0;
create index message_edits_unsealed on message_edits(room_id, message_seq, seq) where sealed = 0;
