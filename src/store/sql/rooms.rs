//! Rooms: rooms, memberships, bans, read markers, notification levels and receipts.
//! The SQL is shared by both backends: [`sql_store!`](super::sql_store) expands this
//! area's macro for each one.

/// Writes `impl Rooms for $Store` (and the helpers it needs) for a backend whose pools hold
/// `$Db` connections with `$Row` rows.
macro_rules! sql_rooms {
    ($Store:ident, $Db:ty, $Row:ty) => {
impl $Store {
    /// Gives the rooms from before `room_skeletons` existed their name's skeletons, oldest room
    /// first, in one transaction; run at every open, it then finds only rooms that got none.
    /// A skeleton another room already holds is left to that room (the older name stays the
    /// one its look-alikes meet), and such rooms are logged. Another node creating a
    /// look-alike room meanwhile (PostgreSQL) rolls this back until the next start.
    pub(super) async fn fill_room_skeletons(&self) -> anyhow::Result<()> {
        use anyhow::Context as _;
        let mut tx = self
            .write
            .begin_with(Self::DIALECT.begin)
            .await
            .context("filling room skeletons")?;
        let rooms: Vec<(String, String)> = sqlx::query_as(
            "select r.id, r.name from rooms r where r.name_key is not null and not exists \
             (select 1 from room_skeletons s where s.room_id = r.id) order by r.created_at, r.id",
        )
        .fetch_all(&mut *tx)
        .await
        .context("finding rooms without skeletons")?;
        if rooms.is_empty() {
            return Ok(());
        }
        let mut shared = Vec::new();
        for (id, name) in &rooms {
            for skeleton in crate::domain::name_skeletons(name) {
                let done = sqlx::query(
                    "insert into room_skeletons (skeleton, room_id) \
                     select cast($1 as text), cast($2 as text) where not exists \
                     (select 1 from room_skeletons s where s.skeleton = $1)",
                )
                .bind(&skeleton)
                .bind(id)
                .execute(&mut *tx)
                .await;
                match done {
                    Ok(done) if done.rows_affected() == 0 => shared.push(name.as_str()),
                    Ok(_) => {}
                    Err(sqlx::Error::Database(d)) if d.is_unique_violation() => {
                        tracing::warn!("a look-alike room appeared while filling room skeletons; trying again at the next start");
                        return Ok(());
                    }
                    Err(e) => return Err(e).context("filling room skeletons"),
                }
            }
        }
        tx.commit().await.context("filling room skeletons")?;
        tracing::info!(rooms = rooms.len(), "filled room name skeletons");
        shared.dedup();
        if !shared.is_empty() {
            tracing::warn!(
                rooms = ?shared,
                "rooms whose names look like an older room's: the older room holds the shared skeleton"
            );
        }
        Ok(())
    }
}

#[async_trait]
impl Rooms for $Store {
    async fn create_room(&self, r: NewRoom) -> StoreResult<Room> {
        let now = now_ms();
        let mut tx = self
            .write
            .begin_with(Self::DIALECT.begin)
            .await
            .map_err(fail("room"))?;
        let direct_key = r.direct.as_ref().map(|[a, b]| format!("{a}:{b}"));
        sqlx::query(
            "insert into rooms (id, name, name_key, kind, topic, owner_id, key_hash, history, \
             retention_max_messages, retention_max_age_secs, direct_key, created_at, seal) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(r.id.as_str())
        .bind(&r.name)
        .bind(&r.name_key)
        .bind(r.kind.as_str())
        .bind(&r.topic)
        .bind(r.owner_id.as_str())
        .bind(&r.key_hash)
        .bind(r.history.as_str())
        .bind(r.retention.max_messages)
        .bind(r.retention.max_age_secs)
        .bind(&direct_key)
        .bind(now)
        .bind(r.seal.as_ref().map(crate::domain::Seal::to_stored))
        .execute(&mut *tx)
        .await
        .map_err(fail("room name"))?;
        if !r.skeletons.is_empty() {
            let sql = format!(
                "insert into room_skeletons (skeleton, room_id) values {}",
                Self::DIALECT.values(r.skeletons.len(), &["?", "?"])
            );
            let mut query = sqlx::query(&sql);
            for skeleton in &r.skeletons {
                query = query.bind(skeleton).bind(r.id.as_str());
            }
            query
                .execute(&mut *tx)
                .await
                .map_err(fail("room name"))?;
        }
        // A group conversation's starter is one of its members like the others: it has no
        // owner to delete it or moderate it.
        let starter = if r.kind == RoomKind::Group { Role::Member } else { Role::Owner };
        let mut members = vec![(r.owner_id.clone(), starter)];
        if let Some([a, b]) = &r.direct {
            members = vec![(a.clone(), Role::Member), (b.clone(), Role::Member)];
        }
        members.extend(r.group.iter().map(|u| (u.clone(), Role::Member)));
        for (user, role) in members {
            sqlx::query(
                "insert into memberships (room_id, user_id, role, joined_seq, read_seq, joined_at) \
                 values ($1, $2, $3, 0, 0, $4)",
            )
            .bind(r.id.as_str())
            .bind(user.as_str())
            .bind(role.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(fail("membership"))?;
        }
        tx.commit().await.map_err(fail("room"))?;
        // Its key now (when encryption is on), not with its first message: there it would be
        // a write to the key store, with its own fsync, on the path of that message; a burst
        // of first messages in many new rooms queued behind a thousand of them. Should this
        // fail, the first message still makes it.
        if let Err(e) = self.keys.for_sealing(&[&r.id]).await {
            tracing::warn!(error = %e, room = %r.id, "making a new room's key");
        }
        self.room(&r.id).await
    }

    async fn room(&self, id: &RoomId) -> StoreResult<Room> {
        let sql = format!("select {ROOM_COLS} from rooms r where r.id = $1");
        let row = sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_one(&self.read)
            .await;
        Ok(room_row(&row.map_err(fail("room"))?))
    }

    async fn room_by_name(&self, key: &str) -> StoreResult<(Room, Option<String>)> {
        let sql = format!("select {ROOM_COLS}, r.key_hash from rooms r where r.name_key = $1");
        let row = sqlx::query(&sql)
            .bind(key)
            .fetch_one(&self.read)
            .await
            .map_err(fail("room"))?;
        Ok((room_row(&row), row.get("key_hash")))
    }

    async fn direct_room(&self, [a, b]: &[UserId; 2]) -> StoreResult<Room> {
        let sql = format!("select {ROOM_COLS} from rooms r where r.direct_key = $1");
        let row = sqlx::query(&sql)
            .bind(format!("{a}:{b}"))
            .fetch_one(&self.read)
            .await
            .map_err(fail("room"))?;
        Ok(room_row(&row))
    }

    async fn update_room(&self, id: &RoomId, s: RoomSettings) -> StoreResult<Room> {
        let done = sqlx::query(
            "update rooms set topic = $1, kind = $2, key_hash = $3, history = $4, \
             retention_max_messages = $5, retention_max_age_secs = $6, permissions = $7 \
             where id = $8",
        )
        .bind(&s.topic)
        .bind(s.kind.as_str())
        .bind(&s.key_hash)
        .bind(s.history.as_str())
        .bind(s.retention.max_messages)
        .bind(s.retention.max_age_secs)
        .bind(
            (!s.permissions.0.is_empty())
                .then(|| serde_json::to_string(&s.permissions).expect("permissions serialise")),
        )
        .bind(id.as_str())
        .execute(&self.write)
        .await
        .map_err(fail("room"))?;
        found(done.rows_affected())?;
        self.room(id).await
    }

    async fn delete_room(&self, id: &RoomId) -> StoreResult<()> {
        // Memberships, bans, messages and the rest go by `on delete cascade`; SQLite's
        // full-text index is a virtual table, emptied of the room first.
        let mut tx = self.write.begin().await.map_err(fail("room"))?;
        Self::unindex(&mut tx, id, None, Seq::MAX).await?;
        sqlx::query("delete from rooms where id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(fail("room"))?;
        tx.commit().await.map_err(fail("room"))?;
        // Then its key: whatever of its data lingers (WAL, free pages, backups) is unreadable.
        // A failure here leaves a key without a room, which the next start destroys.
        self.keys.erase(id).await?;
        Ok(())
    }

    async fn rooms_owned(&self, user: &UserId) -> StoreResult<i64> {
        sqlx::query_scalar("select count(*) from rooms where owner_id = $1 and kind not in ('direct', 'group')")
            .bind(user.as_str())
            .fetch_one(&self.read)
            .await
            .map_err(fail("rooms owned"))
    }

    async fn public_rooms(&self, q: &str, limit: i64) -> StoreResult<Vec<Room>> {
        let strpos = Self::DIALECT.strpos;
        let sql = format!(
            "select {ROOM_COLS} from rooms r where r.kind = 'public' and {strpos}(r.name_key, $1) > 0 \
             order by r.name_key limit $2"
        );
        let rows = sqlx::query(&sql)
            .bind(q.to_lowercase())
            .bind(limit)
            .fetch_all(&self.read)
            .await
            .map_err(fail("rooms"))?;
        Ok(rows.iter().map(room_row).collect())
    }

    async fn rooms_of(&self, user: &UserId) -> StoreResult<Vec<(Room, Membership, Unread)>> {
        let sql = format!(
            "select {ROOM_COLS}, {MEMBER_COLS}, {UNREAD_COLS} from memberships m \
             join rooms r on r.id = m.room_id where m.user_id = $1 order by r.created_at"
        );
        let rows = sqlx::query(&sql)
            .bind(user.as_str())
            .fetch_all(&self.read)
            .await
            .map_err(fail("rooms"))?;
        Ok(rows
            .iter()
            .map(|r| (room_row(r), member_row(r), unread_row(r)))
            .collect())
    }

    async fn unread(&self, room: &RoomId, user: &UserId) -> StoreResult<Unread> {
        let sql = format!(
            "select {UNREAD_COLS} from memberships m where m.room_id = $1 and m.user_id = $2"
        );
        let row = sqlx::query(&sql)
            .bind(room.as_str())
            .bind(user.as_str())
            .fetch_optional(&self.read)
            .await
            .map_err(fail("unread"))?;
        Ok(row.as_ref().map(unread_row).unwrap_or_default())
    }

    async fn room_ids_of(&self, user: &UserId) -> StoreResult<Vec<RoomId>> {
        let ids: Vec<String> =
            sqlx::query_scalar("select room_id from memberships where user_id = $1")
                .bind(user.as_str())
                .fetch_all(&self.read)
                .await
                .map_err(fail("rooms"))?;
        Ok(ids.into_iter().map(RoomId::from).collect())
    }

    async fn all_rooms_retention(&self) -> StoreResult<Vec<(RoomId, Retention)>> {
        let rows =
            sqlx::query("select id, retention_max_messages, retention_max_age_secs from rooms")
                .fetch_all(&self.read)
                .await
                .map_err(fail("rooms"))?;
        Ok(rows
            .iter()
            .map(|r| {
                let retention = Retention {
                    max_messages: r.get(1),
                    max_age_secs: r.get(2),
                };
                (r.get::<String, _>(0).into(), retention)
            })
            .collect())
    }

    async fn membership(&self, room: &RoomId, user: &UserId) -> StoreResult<Option<Membership>> {
        let sql = format!(
            "select {MEMBER_COLS} from memberships m where m.room_id = $1 and m.user_id = $2"
        );
        let row = sqlx::query(&sql)
            .bind(room.as_str())
            .bind(user.as_str())
            .fetch_optional(&self.read)
            .await
            .map_err(fail("membership"))?;
        Ok(row.as_ref().map(member_row))
    }

    async fn add_member(
        &self,
        room: &RoomId,
        user: &UserId,
        role: Role,
    ) -> StoreResult<Membership> {
        sqlx::query(
            "insert into memberships (room_id, user_id, role, joined_seq, read_seq, joined_at) \
             select id, $1, $2, last_seq, last_seq, $3 from rooms where id = $4 \
             on conflict do nothing",
        )
        .bind(user.as_str())
        .bind(role.as_str())
        .bind(now_ms())
        .bind(room.as_str())
        .execute(&self.write)
        .await
        .map_err(fail("membership"))?;
        let sql = format!(
            "select {MEMBER_COLS} from memberships m where m.room_id = $1 and m.user_id = $2"
        );
        let row = sqlx::query(&sql)
            .bind(room.as_str())
            .bind(user.as_str())
            .fetch_one(&self.write)
            .await
            .map_err(fail("membership"))?;
        Ok(member_row(&row))
    }

    async fn remove_member(&self, room: &RoomId, user: &UserId) -> StoreResult<bool> {
        let done = sqlx::query("delete from memberships where room_id = $1 and user_id = $2")
            .bind(room.as_str())
            .bind(user.as_str())
            .execute(&self.write)
            .await
            .map_err(fail("membership"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_role(&self, room: &RoomId, user: &UserId, role: Role) -> StoreResult<()> {
        let done = sqlx::query("update memberships set role = $1 where room_id = $2 and user_id = $3")
            .bind(role.as_str())
            .bind(room.as_str())
            .bind(user.as_str())
            .execute(&self.write)
            .await
            .map_err(fail("membership"))?;
        found(done.rows_affected())
    }

    async fn members(&self, room: &RoomId) -> StoreResult<Vec<(User, Membership)>> {
        let sql = format!(
            "select {USER_COLS}, {MEMBER_COLS} from memberships m join users u on u.id = m.user_id \
             where m.room_id = $1 order by u.username_key"
        );
        let rows = sqlx::query(&sql)
            .bind(room.as_str())
            .fetch_all(&self.read)
            .await
            .map_err(fail("members"))?;
        Ok(rows.iter().map(|r| (user_row(r), member_row(r))).collect())
    }

    async fn members_named(
        &self,
        room: &RoomId,
        keys: &[String],
    ) -> StoreResult<Vec<(String, UserId, String)>> {
        let mut keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        keys.sort_unstable();
        keys.dedup();
        keys.truncate(64);
        let Some(&last) = keys.last() else {
            return Ok(Vec::new());
        };
        // One statement of one of the cached shapes: the list is padded with its last name
        // (`in (...)` ignores repeats) up to the next chunk size.
        let size = CHUNKS.iter().rev().copied().find(|&n| n >= keys.len()).unwrap_or(64);
        keys.resize(size, last);
        // One placeholder per name ($2, $3, ...): the names are bound, never spliced.
        let slots: Vec<String> = (2..keys.len() + 2).map(|i| format!("${i}")).collect();
        let sql = format!(
            "select u.username_key, u.id, u.username from memberships m \
             join users u on u.id = m.user_id \
             where m.room_id = $1 and u.username_key in ({})",
            slots.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(room.as_str());
        for key in &keys {
            query = query.bind(*key);
        }
        let rows = query
            .fetch_all(&self.read)
            .await
            .map_err(fail("members by name"))?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get::<String, _>(0),
                    r.get::<String, _>(1).into(),
                    r.get::<String, _>(2),
                )
            })
            .collect())
    }

    async fn ban(
        &self,
        room: &RoomId,
        user: &UserId,
        by: &UserId,
        reason: &str,
    ) -> StoreResult<()> {
        let mut tx = self
            .write
            .begin_with(Self::DIALECT.begin)
            .await
            .map_err(fail("ban"))?;
        sqlx::query(
            "insert into bans (room_id, user_id, banned_by, reason, created_at) values ($1, $2, $3, $4, $5) \
             on conflict (room_id, user_id) do update set banned_by = excluded.banned_by, reason = excluded.reason",
        )
        .bind(room.as_str())
        .bind(user.as_str())
        .bind(by.as_str())
        .bind(reason)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(fail("ban"))?;
        sqlx::query("delete from memberships where room_id = $1 and user_id = $2")
            .bind(room.as_str())
            .bind(user.as_str())
            .execute(&mut *tx)
            .await
            .map_err(fail("ban"))?;
        tx.commit().await.map_err(fail("ban"))
    }

    async fn unban(&self, room: &RoomId, user: &UserId) -> StoreResult<bool> {
        let done = sqlx::query("delete from bans where room_id = $1 and user_id = $2")
            .bind(room.as_str())
            .bind(user.as_str())
            .execute(&self.write)
            .await
            .map_err(fail("ban"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn is_banned(&self, room: &RoomId, user: &UserId) -> StoreResult<bool> {
        let found: i64 =
            sqlx::query_scalar("select count(*) from bans where room_id = $1 and user_id = $2")
                .bind(room.as_str())
                .bind(user.as_str())
                .fetch_one(&self.read)
                .await
                .map_err(fail("ban"))?;
        Ok(found > 0)
    }

    async fn bans(&self, room: &RoomId) -> StoreResult<Vec<(User, String, DateTime<Utc>)>> {
        let sql = format!(
            "select {USER_COLS}, b.reason, b.created_at as banned_at from bans b \
             join users u on u.id = b.user_id where b.room_id = $1 order by b.created_at desc"
        );
        let rows = sqlx::query(&sql)
            .bind(room.as_str())
            .fetch_all(&self.read)
            .await
            .map_err(fail("bans"))?;
        Ok(rows
            .iter()
            .map(|r| (user_row(r), r.get("reason"), time(r.get("banned_at"))))
            .collect())
    }

    async fn mark_read(&self, room: &RoomId, user: &UserId, seq: Seq) -> StoreResult<Seq> {
        let greatest = Self::DIALECT.greatest;
        let least = Self::DIALECT.least;
        let sql = format!(
            "update memberships set read_seq = {greatest}(read_seq, {least}($1, \
             (select last_seq from rooms where id = $2))) \
             where room_id = $3 and user_id = $4 returning read_seq"
        );
        sqlx::query_scalar(&sql)
        .bind(seq)
        .bind(room.as_str())
        .bind(room.as_str())
        .bind(user.as_str())
        .fetch_one(&self.write)
        .await
        .map_err(fail("read marker"))
    }

    async fn set_notify(
        &self,
        room: &RoomId,
        user: &UserId,
        level: Option<NotifyLevel>,
    ) -> StoreResult<()> {
        let done =
            sqlx::query("update memberships set notify = $1 where room_id = $2 and user_id = $3")
                .bind(level.map(NotifyLevel::as_str))
                .bind(room.as_str())
                .bind(user.as_str())
                .execute(&self.write)
                .await
                .map_err(fail("membership"))?;
        found(done.rows_affected())
    }

    async fn receipts(&self, room: &RoomId) -> StoreResult<Vec<(UserId, Seq)>> {
        let rows = sqlx::query(
            "select m.user_id, m.read_seq from memberships m join users u on u.id = m.user_id \
             where m.room_id = $1 and u.send_receipts <> 0 order by m.read_seq desc, u.username_key",
        )
        .bind(room.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(fail("receipts"))?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<String, _>(0).into(), r.get(1)))
            .collect())
    }

    async fn mute(
        &self,
        room: &RoomId,
        user: &UserId,
        until: Option<DateTime<Utc>>,
        by: &UserId,
    ) -> StoreResult<()> {
        // The room's row is what an append locks first (on PostgreSQL): taking it too, a mute
        // waits for a send in flight, and a send after it sees the mute.
        let mut tx = self
            .write
            .begin_with(Self::DIALECT.begin)
            .await
            .map_err(fail("mute"))?;
        if Self::DIALECT.lock_rooms {
            sqlx::query("select id from rooms where id = $1 for update")
                .bind(room.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(fail("mute"))?;
        }
        sqlx::query(
            "insert into mutes (room_id, user_id, until, by_id, created_at) values ($1, $2, $3, $4, $5) \
             on conflict (room_id, user_id) do update set until = excluded.until, \
             by_id = excluded.by_id, created_at = excluded.created_at",
        )
        .bind(room.as_str())
        .bind(user.as_str())
        .bind(until.map(ms))
        .bind(by.as_str())
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(fail("mute"))?;
        tx.commit().await.map_err(fail("mute"))?;
        Ok(())
    }

    async fn unmute(&self, room: &RoomId, user: &UserId) -> StoreResult<bool> {
        let done = sqlx::query("delete from mutes where room_id = $1 and user_id = $2")
            .bind(room.as_str())
            .bind(user.as_str())
            .execute(&self.write)
            .await
            .map_err(fail("unmute"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn mutes(&self, room: &RoomId) -> StoreResult<Vec<(UserId, Option<DateTime<Utc>>)>> {
        let rows = sqlx::query(
            "select user_id, until from mutes where room_id = $1 \
             and (until is null or until > $2) order by created_at",
        )
        .bind(room.as_str())
        .bind(now_ms())
        .fetch_all(&self.read)
        .await
        .map_err(fail("mutes"))?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get::<String, _>("user_id").into(),
                    r.get::<Option<i64>, _>("until").map(time),
                )
            })
            .collect())
    }

    async fn audit(&self, e: &AuditEntry) -> StoreResult<()> {
        sqlx::query(
            "insert into audit_log (ts, actor_id, action, room_id, target, reason, address) \
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(now_ms())
        .bind(e.actor.as_str())
        .bind(e.action)
        .bind(e.room.as_ref().map(|r| r.as_str()))
        .bind(&e.target)
        .bind(&e.reason)
        .bind(&e.address)
        .execute(&self.write)
        .await
        .map_err(fail("auditing"))?;
        Ok(())
    }
}
    };
}

pub(crate) use sql_rooms;
