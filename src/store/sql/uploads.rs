//! Uploads and the blobs they name: recording an upload (and claiming its blobs), finding it,
//! attaching uploads to messages (called by the timeline's append), quotas, and the
//! collector's side: unsent uploads, and blobs no upload names. The SQL is shared by both
//! backends: [`sql_store!`](super::sql_store) expands this area's macro for each one.

/// Writes `impl Uploads for $Store` (and the helpers the timeline uses) for a backend whose
/// pools hold `$Db` connections with `$Row` rows.
macro_rules! sql_uploads {
    ($Store:ident, $Db:ty, $Row:ty) => {
fn upload_row(r: &$Row) -> Upload {
    let id: String = r.get("id");
    let thumb: Option<String> = r.get("thumb");
    Upload {
        url: Upload::url_of(&id),
        thumbnail_url: thumb.map(|_| Upload::thumbnail_url_of(&id)),
        id,
        filename: r.get("filename"),
        content_type: r.get("content_type"),
        size: r.get("size"),
        width: r.get("width"),
        height: r.get("height"),
        duration_ms: r.get("duration_ms"),
    }
}

const UPLOAD_COLS: &str = "u.id, u.filename, u.content_type, u.size, u.width, u.height, \
    u.duration_ms, u.thumb";

impl $Store {
    /// Fills in the attachments of `messages` (each room's in `seq` order): one query per room
    /// over the `seq` range of those that have any.
    async fn add_attachments(
        conn: &mut <$Db as sqlx::Database>::Connection,
        messages: &mut [Message],
    ) -> StoreResult<()> {
        let mut rooms: Vec<&RoomId> = messages
            .iter()
            .filter(|m| m.has_attachments)
            .map(|m| &m.room_id)
            .collect();
        if rooms.is_empty() {
            return Ok(());
        }
        rooms.sort_unstable();
        rooms.dedup();
        let rooms: Vec<RoomId> = rooms.into_iter().cloned().collect();
        for room in rooms {
            let seqs = messages
                .iter()
                .filter(|m| m.has_attachments && m.room_id == room)
                .map(|m| m.seq);
            let (low, high) = seqs.fold((Seq::MAX, Seq::MIN), |(l, h), s| (l.min(s), h.max(s)));
            let rows = sqlx::query(&format!(
                "select {UPLOAD_COLS}, u.message_seq from uploads u \
                 where u.room_id = $1 and u.message_seq >= $2 and u.message_seq <= $3 \
                 order by u.message_seq, u.position"
            ))
            .bind(room.as_str())
            .bind(low)
            .bind(high)
            .fetch_all(&mut *conn)
            .await
            .map_err(fail("attachments"))?;
            for r in rows {
                let seq: Seq = r.get("message_seq");
                if let Some(m) = messages
                    .iter_mut()
                    .find(|m| m.seq == seq && m.room_id == room)
                {
                    m.attachments.push(upload_row(&r));
                }
            }
        }
        Ok(())
    }

    /// Attaches the sender's unsent uploads to the message `room`/`seq`, in the order given.
    /// `Conflict` (before any write) when one is not the sender's, is already attached, or is
    /// gone; on PostgreSQL the rows read are locked, so two messages never take one upload.
    async fn attach_uploads(
        tx: &mut Transaction<'_, $Db>,
        room: &RoomId,
        seq: Seq,
        sender: &UserId,
        uploads: &[Upload],
    ) -> StoreResult<()> {
        let sql = format!(
            "select id from uploads where uploader_id = $1 and room_id is null and id in ({}){}",
            (2..uploads.len() + 2).map(|n| format!("${n}")).collect::<Vec<_>>().join(", "),
            if Self::DIALECT.lock_rooms { " for update" } else { "" }
        );
        let mut query = sqlx::query(&sql).bind(sender.as_str());
        for u in uploads {
            query = query.bind(&u.id);
        }
        let free = query
            .fetch_all(&mut **tx)
            .await
            .map_err(fail("finding uploads"))?;
        if free.len() != uploads.len() {
            return Err(StoreError::Conflict("attachments"));
        }
        for (position, u) in uploads.iter().enumerate() {
            sqlx::query(
                "update uploads set room_id = $1, message_seq = $2, position = $3 where id = $4",
            )
            .bind(room.as_str())
            .bind(seq)
            .bind(position as i64)
            .bind(&u.id)
            .execute(&mut **tx)
            .await
            .map_err(fail("attaching uploads"))?;
        }
        Ok(())
    }

    /// Claims a blob for an upload in `tx`: creates its row, or locks the one there (so the
    /// collector, which holds that lock while it deletes the blob, is waited for).
    async fn claim_blob(
        tx: &mut Transaction<'_, $Db>,
        hash: &str,
        size: i64,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "insert into blobs (hash, size, created_at) values ($1, $2, $3) \
             on conflict (hash) do update set size = excluded.size",
        )
        .bind(hash)
        .bind(size)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(fail("claiming a blob"))?;
        Ok(())
    }
}

#[async_trait]
impl Uploads for $Store {
    async fn create_upload(&self, u: &NewUpload, quota: Option<i64>) -> StoreResult<Upload> {
        let now = now_ms();
        let mut tx = self
            .write
            .begin_with(Self::DIALECT.begin)
            .await
            .map_err(fail("upload"))?;
        if let Some(quota) = quota {
            // One upload of a user's at a time passes this point (the user's row is locked on
            // PostgreSQL; SQLite has one writer), so uploads in parallel cannot each fit.
            let lock = if Self::DIALECT.lock_rooms { " for update" } else { "" };
            sqlx::query(&format!("select id from users where id = $1{lock}"))
                .bind(u.uploader.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(fail("upload"))?;
            let used: Option<i64> = sqlx::query_scalar(
                "select cast(sum(size) as bigint) from uploads where uploader_id = $1",
            )
            .bind(u.uploader.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(fail("upload"))?;
            if used.unwrap_or(0) + u.size > quota {
                return Err(StoreError::Conflict("quota"));
            }
        }
        Self::claim_blob(&mut tx, &u.blob, u.size, now).await?;
        if let Some((hash, size)) = &u.thumb {
            Self::claim_blob(&mut tx, hash, *size, now).await?;
        }
        sqlx::query(
            "insert into uploads (id, uploader_id, blob, filename, content_type, size, width, \
             height, duration_ms, thumb, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&u.id)
        .bind(u.uploader.as_str())
        .bind(&u.blob)
        .bind(&u.filename)
        .bind(&u.content_type)
        .bind(u.size)
        .bind(u.width)
        .bind(u.height)
        .bind(u.duration_ms)
        .bind(u.thumb.as_ref().map(|(hash, _)| hash.as_str()))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(fail("upload"))?;
        tx.commit().await.map_err(fail("upload"))?;
        Ok(Upload {
            url: Upload::url_of(&u.id),
            thumbnail_url: u.thumb.as_ref().map(|_| Upload::thumbnail_url_of(&u.id)),
            id: u.id.clone(),
            filename: u.filename.clone(),
            content_type: u.content_type.clone(),
            size: u.size,
            width: u.width,
            height: u.height,
            duration_ms: u.duration_ms,
        })
    }

    async fn upload(&self, id: &str) -> StoreResult<StoredUpload> {
        let r = sqlx::query(&format!(
            "select {UPLOAD_COLS}, u.uploader_id, u.blob, u.room_id, u.message_seq, u.created_at, \
             t.size as thumb_size from uploads u left join blobs t on t.hash = u.thumb where u.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.read)
        .await
        .map_err(fail("upload"))?
        .ok_or(StoreError::NotFound)?;
        let room: Option<String> = r.get("room_id");
        Ok(StoredUpload {
            upload: upload_row(&r),
            uploader: r.get::<String, _>("uploader_id").into(),
            blob: r.get("blob"),
            thumb: r.get("thumb"),
            thumb_size: r.get("thumb_size"),
            attached: room.map(|room| (room.into(), r.get("message_seq"))),
            created_at: time(r.get("created_at")),
        })
    }

    async fn delete_unsent_upload(&self, id: &str, uploader: &UserId) -> StoreResult<()> {
        let done = sqlx::query(
            "delete from uploads where id = $1 and uploader_id = $2 and room_id is null",
        )
        .bind(id)
        .bind(uploader.as_str())
        .execute(&self.write)
        .await
        .map_err(fail("deleting an upload"))?;
        found(done.rows_affected())
    }

    async fn upload_usage(&self, user: Option<&UserId>) -> StoreResult<i64> {
        let total: Option<i64> = match user {
            Some(user) => sqlx::query_scalar(
                "select cast(sum(size) as bigint) from uploads where uploader_id = $1",
            )
            .bind(user.as_str())
            .fetch_one(&self.read)
            .await,
            None => sqlx::query_scalar("select cast(sum(size) as bigint) from uploads")
                .fetch_one(&self.read)
                .await,
        }
        .map_err(fail("upload usage"))?;
        Ok(total.unwrap_or(0))
    }

    async fn drop_unsent_uploads(&self, before: DateTime<Utc>, limit: i64) -> StoreResult<u64> {
        let done = sqlx::query(
            // `room_id is null` again outside: an upload attached meanwhile stays.
            "delete from uploads where room_id is null and created_at < $1 and id in \
             (select id from uploads where room_id is null and created_at < $1 \
              order by created_at limit $2)",
        )
        .bind(ms(before))
        .bind(limit)
        .execute(&self.write)
        .await
        .map_err(fail("dropping unsent uploads"))?;
        Ok(done.rows_affected())
    }

    async fn orphan_blobs(&self, limit: i64) -> StoreResult<Vec<String>> {
        sqlx::query_scalar(
            "select hash from blobs b where not exists (select 1 from uploads u where u.blob = b.hash) \
             and not exists (select 1 from uploads u where u.thumb = b.hash) limit $1",
        )
        .bind(limit)
        .fetch_all(&self.read)
        .await
        .map_err(fail("finding orphan blobs"))
    }

    async fn drop_blob(
        &self,
        hash: &str,
        unlink: futures_util::future::BoxFuture<'_, anyhow::Result<()>>,
    ) -> StoreResult<bool> {
        let mut tx = self
            .write
            .begin_with(Self::DIALECT.begin)
            .await
            .map_err(fail("dropping a blob"))?;
        // Lock the row first, then look for uploads naming it in a statement of its own: on
        // PostgreSQL that statement's snapshot is taken after the lock is granted, so it sees
        // an upload committed by whoever held the lock (a recheck inside one statement would
        // not). An upload claiming the blob meanwhile waits for this transaction.
        let lock = if Self::DIALECT.lock_rooms { " for update" } else { "" };
        let exists: Option<String> =
            sqlx::query_scalar(&format!("select hash from blobs where hash = $1{lock}"))
                .bind(hash)
                .fetch_optional(&mut *tx)
                .await
                .map_err(fail("dropping a blob"))?;
        if exists.is_none() {
            return Ok(false);
        }
        let named: bool = sqlx::query_scalar(
            "select exists (select 1 from uploads where blob = $1) \
             or exists (select 1 from uploads where thumb = $1)",
        )
        .bind(hash)
        .fetch_one(&mut *tx)
        .await
        .map_err(fail("dropping a blob"))?;
        if named {
            return Ok(false);
        }
        sqlx::query("delete from blobs where hash = $1")
            .bind(hash)
            .execute(&mut *tx)
            .await
            .map_err(fail("dropping a blob"))?;
        // The bytes go while the row is still held; if that fails, the row stays for the next
        // pass.
        unlink.await.map_err(StoreError::Other)?;
        tx.commit().await.map_err(fail("dropping a blob"))?;
        Ok(true)
    }

    async fn storage_totals(&self, limit: i64) -> StoreResult<StorageTotals> {
        let users = sqlx::query(
            "select uploader_id as id, cast(sum(size) as bigint) as bytes, count(*) as files \
             from uploads group by uploader_id order by bytes desc limit $1",
        )
        .bind(limit)
        .fetch_all(&self.read)
        .await
        .map_err(fail("storage totals"))?;
        let rooms = sqlx::query(
            "select room_id as id, cast(sum(size) as bigint) as bytes, count(*) as files \
             from uploads where room_id is not null group by room_id order by bytes desc limit $1",
        )
        .bind(limit)
        .fetch_all(&self.read)
        .await
        .map_err(fail("storage totals"))?;
        let stored: (Option<i64>, i64) =
            sqlx::query_as("select cast(sum(size) as bigint), count(*) from blobs")
                .fetch_one(&self.read)
                .await
                .map_err(fail("storage totals"))?;
        let row = |r: &$Row| (r.get::<String, _>("id"), r.get::<i64, _>("bytes"), r.get::<i64, _>("files"));
        Ok(StorageTotals {
            users: users.iter().map(row).collect(),
            rooms: rooms.iter().map(row).collect(),
            stored_bytes: stored.0.unwrap_or(0),
            blobs: stored.1,
        })
    }
}
    };
}

pub(crate) use sql_uploads;
