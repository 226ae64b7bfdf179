-- Sealed rooms (end to end): the seal members derive the room's keys from (JSON: kdf,
-- iterations, salt, check), null for every other room. The join proof's hash is key_hash.
alter table rooms add column seal text;
