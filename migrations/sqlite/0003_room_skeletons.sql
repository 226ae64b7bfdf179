-- Look-alike room names (domain::spoofing): each room holds the confusable skeletons of its
-- name, and a skeleton belongs to one room, so a name that looks like another is refused.
-- Direct rooms have none. Rooms from before this table get theirs when the server opens the
-- database (the skeletons are computed in Rust), oldest room first; a room whose look-alike is
-- older goes without the skeleton they share.
create table room_skeletons (
    skeleton text primary key,
    room_id text not null references rooms(id) on delete cascade
) without rowid;
create index room_skeletons_room on room_skeletons(room_id);
