-- Files: content-addressed blobs (in the file store, named by their SHA-256), and the uploads
-- that name them. A blob no upload names any more is deleted by the collector.
create table blobs (
    hash text primary key,
    size integer not null,
    created_at integer not null
) without rowid;

create table uploads (
    -- unguessable: 128 random bits
    id text primary key,
    uploader_id text not null references users(id) on delete cascade,
    blob text not null references blobs(hash),
    -- for display only (sanitised); the type comes from the bytes
    filename text not null,
    content_type text not null,
    size integer not null,
    width integer,
    height integer,
    duration_ms integer,
    thumb text references blobs(hash),
    created_at integer not null,
    -- the message it is attached to, and its place there (null until sent)
    room_id text references rooms(id) on delete cascade,
    message_seq integer,
    position integer
);
create index uploads_message on uploads(room_id, message_seq) where room_id is not null;
create index uploads_blob on uploads(blob);
create index uploads_thumb on uploads(thumb) where thumb is not null;
create index uploads_unsent on uploads(created_at) where room_id is null;
create index uploads_uploader on uploads(uploader_id);

-- how many uploads it holds (0: none to read)
alter table messages add column attachment_count integer not null default 0;
