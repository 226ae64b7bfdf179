-- Rooms by owner: counting the rooms a user owns (max_rooms_per_user) reads this index, not
-- the whole table.
create index rooms_owner on rooms(owner_id);
