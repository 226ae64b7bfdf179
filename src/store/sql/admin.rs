//! Server administration: the settings admins change, the setup token of a server without an
//! admin, invites, reports of messages, accounts as admins see them, the audit log read back,
//! totals. The SQL is shared by both backends: [`sql_store!`](super::sql_store) expands this
//! area's macro for each one.

/// Writes `impl Admin for $Store` for a backend whose pools hold `$Db` connections with `$Row`
/// rows.
macro_rules! sql_admin {
    ($Store:ident, $Db:ty, $Row:ty) => {
/// The settings row that holds a fresh server's setup token (never shown as a setting).
const SETUP_TOKEN: &str = "setup_token";

const INVITE_COLS: &str =
    "id, room_id, created_by, created_at, expires_at, max_uses, uses, revoked_at";

fn invite_row(r: &$Row) -> Invite {
    Invite {
        id: r.get("id"),
        room_id: r.get::<Option<String>, _>("room_id").map(RoomId::from),
        created_by: r.get::<String, _>("created_by").into(),
        created_at: time(r.get("created_at")),
        expires_at: r.get::<Option<i64>, _>("expires_at").map(time),
        max_uses: r.get("max_uses"),
        uses: r.get("uses"),
        revoked: r.get::<Option<i64>, _>("revoked_at").is_some(),
    }
}

const REPORT_SELECT: &str = "select p.id, p.room_id, r.name as room_name, p.seq, p.reason, \
    p.created_at, p.resolved_at, p.resolved_by, p.resolution, \
    ru.id as reporter_id, ru.username as reporter_username, \
    ru.display_name as reporter_display_name, ru.avatar as reporter_avatar, \
    g.body, g.sealed, g.created_at as message_ts, g.deleted, su.id as sender_id, \
    su.username as sender_username, su.display_name as sender_display_name, \
    su.avatar as sender_avatar \
    from reports p join rooms r on r.id = p.room_id join users ru on ru.id = p.reporter_id \
    left join messages g on g.room_id = p.room_id and g.seq = p.seq \
    left join users su on su.id = g.sender_id";

impl $Store {
    /// A report from its row ([`REPORT_SELECT`]), the reported text opened.
    async fn open_report(&self, r: &$Row) -> StoreResult<Report> {
        let mut report = report_row(r);
        if let Some(message) = report.message.as_mut().filter(|_| r.get::<Option<i64>, _>("sealed") == Some(1)) {
            let key = self.keys.room(&report.room_id, false).await?.ok_or_else(|| {
                anyhow::anyhow!("room {} holds sealed messages but has no key", report.room_id)
            })?;
            message.body = key
                .open_text(report.seq, Field::Body, &message.body)
                .map_err(|e| anyhow::anyhow!("reported message {}-{}: {e}", report.room_id, report.seq))?;
        }
        Ok(report)
    }
}

fn report_row(r: &$Row) -> Report {
    let sender = |prefix: &str| -> Option<Sender> {
        let id: Option<String> = r.get(format!("{prefix}_id").as_str());
        let username: String = r.get::<Option<String>, _>(format!("{prefix}_username").as_str())?;
        Some(Sender {
            id: id?.into(),
            display_name: r.get(format!("{prefix}_display_name").as_str()),
            avatar_url: avatar_url(r.get(format!("{prefix}_avatar").as_str()), &username),
            username,
        })
    };
    let live = r.get::<Option<i64>, _>("deleted") == Some(0);
    let message = if live {
        sender("sender").map(|sender| ReportedMessage {
            sender,
            body: r.get("body"),
            ts: time(r.get("message_ts")),
        })
    } else {
        None
    };
    Report {
        id: r.get("id"),
        room_id: r.get::<String, _>("room_id").into(),
        room_name: r.get("room_name"),
        seq: r.get("seq"),
        reporter: sender("reporter").expect("a report has a reporter"),
        reason: r.get("reason"),
        created_at: time(r.get("created_at")),
        message,
        resolved_at: r.get::<Option<i64>, _>("resolved_at").map(time),
        resolved_by: r.get::<Option<String>, _>("resolved_by").map(UserId::from),
        resolution: r.get("resolution"),
    }
}

/// An account with its counts, for a query over `users u`.
const ACCOUNT_COLS: &str = "u.last_seen_at, \
    (select count(*) from sessions s where s.user_id = u.id) as session_count, \
    (select count(*) from memberships m where m.user_id = u.id) as room_count, \
    (select count(*) from messages g where g.sender_id = u.id and g.deleted = 0) as message_count";

fn account_row(r: &$Row) -> AccountSummary {
    let user = user_row(r);
    AccountSummary {
        email: user.email.clone(),
        totp_enabled: user.totp_enabled,
        user,
        deactivated_at: r.get::<Option<i64>, _>("deactivated_at").map(time),
        sessions: r.get("session_count"),
        rooms: r.get("room_count"),
        messages: r.get("message_count"),
        last_seen: r.get::<Option<i64>, _>("last_seen_at").map(time),
    }
}

impl $Store {
    /// `Conflict("last admin")` unless an active admin other than `id` remains; on PostgreSQL
    /// the admins' rows are locked first, so two admins cannot each demote the other.
    async fn keep_an_admin(
        conn: &mut <$Db as sqlx::Database>::Connection,
        id: &UserId,
    ) -> StoreResult<()> {
        let lock = if Self::DIALECT.lock_rooms { " for update" } else { "" };
        let admins: Vec<String> = sqlx::query_scalar(&format!(
            "select id from users where is_admin = 1 and deactivated_at is null order by id{lock}"
        ))
        .fetch_all(&mut *conn)
        .await
        .map_err(fail("admins"))?;
        if admins.iter().any(|a| a == id.as_str()) && admins.len() == 1 {
            return Err(StoreError::Conflict("last admin"));
        }
        Ok(())
    }
}

#[async_trait]
impl Admin for $Store {
    async fn settings(&self) -> StoreResult<Vec<(String, String)>> {
        let rows = sqlx::query("select name, value from settings where name <> $1 order by name")
            .bind(SETUP_TOKEN)
            .fetch_all(&self.read)
            .await
            .map_err(fail("settings"))?;
        Ok(rows.iter().map(|r| (r.get("name"), r.get("value"))).collect())
    }

    async fn put_settings(&self, values: &[(String, String)]) -> StoreResult<()> {
        let mut tx = self
            .write
            .begin_with(Self::DIALECT.begin)
            .await
            .map_err(fail("settings"))?;
        for (name, value) in values {
            sqlx::query(
                "insert into settings (name, value) values ($1, $2) \
                 on conflict (name) do update set value = excluded.value",
            )
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await
            .map_err(fail("settings"))?;
        }
        tx.commit().await.map_err(fail("settings"))
    }

    async fn setup_token(&self, fresh: &str) -> StoreResult<Option<String>> {
        let admins: i64 = sqlx::query_scalar(
            "select count(*) from users where is_admin = 1 and deactivated_at is null",
        )
        .fetch_one(&self.write)
        .await
        .map_err(fail("setup"))?;
        if admins > 0 {
            sqlx::query("delete from settings where name = $1")
                .bind(SETUP_TOKEN)
                .execute(&self.write)
                .await
                .map_err(fail("setup"))?;
            return Ok(None);
        }
        sqlx::query("insert into settings (name, value) values ($1, $2) on conflict (name) do nothing")
            .bind(SETUP_TOKEN)
            .bind(fresh)
            .execute(&self.write)
            .await
            .map_err(fail("setup"))?;
        let token: String = sqlx::query_scalar("select value from settings where name = $1")
            .bind(SETUP_TOKEN)
            .fetch_one(&self.write)
            .await
            .map_err(fail("setup"))?;
        Ok(Some(token))
    }

    async fn claim_setup(&self, token: &str, user: NewUser) -> StoreResult<User> {
        let mut tx = self
            .write
            .begin_with(Self::DIALECT.begin)
            .await
            .map_err(fail("setup"))?;
        let lock = if Self::DIALECT.lock_rooms { " for update" } else { "" };
        let stored: Option<String> = sqlx::query_scalar(&format!(
            "select value from settings where name = $1{lock}"
        ))
        .bind(SETUP_TOKEN)
        .fetch_optional(&mut *tx)
        .await
        .map_err(fail("setup"))?;
        // Compared as digests, so how long a wrong guess takes says nothing of the token.
        let digest = |t: &str| <sha2::Sha256 as sha2::Digest>::digest(t.as_bytes());
        if stored.is_none_or(|s| digest(&s) != digest(token)) {
            return Err(StoreError::NotFound);
        }
        let admins: i64 = sqlx::query_scalar(
            "select count(*) from users where is_admin = 1 and deactivated_at is null",
        )
        .fetch_one(&mut *tx)
            .await
            .map_err(fail("setup"))?;
        if admins > 0 {
            return Err(StoreError::NotFound);
        }
        let user = Self::insert_user(&mut tx, NewUser { is_admin: true, ..user }).await?;
        sqlx::query("delete from settings where name = $1")
            .bind(SETUP_TOKEN)
            .execute(&mut *tx)
            .await
            .map_err(fail("setup"))?;
        tx.commit().await.map_err(fail("setup"))?;
        Ok(user)
    }

    async fn register_invited(&self, code_hash: &str, user: NewUser) -> StoreResult<User> {
        let mut tx = self
            .write
            .begin_with(Self::DIALECT.begin)
            .await
            .map_err(fail("invite"))?;
        let used = sqlx::query(
            "update invites set uses = uses + 1 where code_hash = $1 and room_id is null \
             and revoked_at is null and (expires_at is null or expires_at > $2) \
             and (max_uses is null or uses < max_uses)",
        )
        .bind(code_hash)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(fail("invite"))?;
        found(used.rows_affected())?;
        let user = Self::insert_user(&mut tx, user).await?;
        tx.commit().await.map_err(fail("invite"))?;
        Ok(user)
    }

    async fn use_room_invite(&self, code_hash: &str) -> StoreResult<RoomId> {
        let room: Option<String> = sqlx::query_scalar(
            "update invites set uses = uses + 1 where code_hash = $1 and room_id is not null \
             and revoked_at is null and (expires_at is null or expires_at > $2) \
             and (max_uses is null or uses < max_uses) returning room_id",
        )
        .bind(code_hash)
        .bind(now_ms())
        .fetch_optional(&self.write)
        .await
        .map_err(fail("invite"))?;
        room.map(RoomId::from).ok_or(StoreError::NotFound)
    }

    async fn room_of_invite(&self, code_hash: &str) -> StoreResult<RoomId> {
        let room: Option<String> = sqlx::query_scalar(
            "select room_id from invites where code_hash = $1 and room_id is not null \
             and revoked_at is null and (expires_at is null or expires_at > $2) \
             and (max_uses is null or uses < max_uses)",
        )
        .bind(code_hash)
        .bind(now_ms())
        .fetch_optional(&self.read)
        .await
        .map_err(fail("invite"))?;
        room.map(RoomId::from).ok_or(StoreError::NotFound)
    }

    async fn create_invite(&self, i: &NewInvite) -> StoreResult<Invite> {
        let now = now_ms();
        sqlx::query(
            "insert into invites (id, code_hash, room_id, created_by, created_at, expires_at, \
             max_uses) values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&i.id)
        .bind(&i.code_hash)
        .bind(i.room_id.as_ref().map(RoomId::as_str))
        .bind(i.created_by.as_str())
        .bind(now)
        .bind(i.expires_at.map(ms))
        .bind(i.max_uses)
        .execute(&self.write)
        .await
        .map_err(fail("invite"))?;
        Ok(Invite {
            id: i.id.clone(),
            room_id: i.room_id.clone(),
            created_by: i.created_by.clone(),
            created_at: time(now),
            expires_at: i.expires_at,
            max_uses: i.max_uses,
            uses: 0,
            revoked: false,
        })
    }

    async fn invites(&self, room: Option<&RoomId>) -> StoreResult<Vec<Invite>> {
        let rows = match room {
            Some(room) => {
                sqlx::query(&format!(
                    "select {INVITE_COLS} from invites where room_id = $1 \
                     order by created_at desc limit 500"
                ))
                .bind(room.as_str())
                .fetch_all(&self.read)
                .await
            }
            None => {
                sqlx::query(&format!(
                    "select {INVITE_COLS} from invites where room_id is null \
                     order by created_at desc limit 500"
                ))
                .fetch_all(&self.read)
                .await
            }
        };
        Ok(rows.map_err(fail("invites"))?.iter().map(invite_row).collect())
    }

    async fn revoke_invite(&self, id: &str, room: Option<&RoomId>) -> StoreResult<()> {
        let done = sqlx::query(
            "update invites set revoked_at = coalesce(revoked_at, $1) \
             where id = $2 and coalesce(room_id, '') = $3",
        )
        .bind(now_ms())
        .bind(id)
        .bind(room.map_or("", RoomId::as_str))
        .execute(&self.write)
        .await
        .map_err(fail("invite"))?;
        found(done.rows_affected())
    }

    async fn create_report(&self, p: &NewReport) -> StoreResult<()> {
        sqlx::query(
            "insert into reports (id, room_id, seq, reporter_id, reason, created_at) \
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&p.id)
        .bind(p.room_id.as_str())
        .bind(p.seq)
        .bind(p.reporter.as_str())
        .bind(&p.reason)
        .bind(now_ms())
        .execute(&self.write)
        .await
        .map_err(fail("report"))?;
        Ok(())
    }

    async fn reports(
        &self,
        open_only: bool,
        room: Option<&RoomId>,
        limit: i64,
    ) -> StoreResult<Vec<Report>> {
        let rows = sqlx::query(&format!(
            "{REPORT_SELECT} where (p.resolved_at is null or $1 = 0) \
             and p.room_id = coalesce($2, p.room_id) order by p.created_at desc limit $3"
        ))
        .bind(i64::from(open_only))
        .bind(room.map(RoomId::as_str))
        .bind(limit)
        .fetch_all(&self.read)
        .await
        .map_err(fail("reports"))?;
        let mut reports = Vec::with_capacity(rows.len());
        for r in &rows {
            reports.push(self.open_report(r).await?);
        }
        Ok(reports)
    }

    async fn report(&self, id: &str) -> StoreResult<Report> {
        let row = sqlx::query(&format!("{REPORT_SELECT} where p.id = $1"))
            .bind(id)
            .fetch_one(&self.write)
            .await
            .map_err(fail("report"))?;
        self.open_report(&row).await
    }

    async fn resolve_report(&self, id: &str, by: &UserId, resolution: &str) -> StoreResult<()> {
        let done = sqlx::query(
            "update reports set resolved_at = $1, resolved_by = $2, resolution = $3 \
             where resolved_at is null and exists (select 1 from reports o where o.id = $4 \
             and o.room_id = reports.room_id and o.seq = reports.seq)",
        )
        .bind(now_ms())
        .bind(by.as_str())
        .bind(resolution)
        .bind(id)
        .execute(&self.write)
        .await
        .map_err(fail("report"))?;
        found(done.rows_affected())
    }

    async fn accounts(&self, q: &str, limit: i64) -> StoreResult<Vec<AccountSummary>> {
        let strpos = Self::DIALECT.strpos;
        let rows = sqlx::query(&format!(
            "select {USER_COLS}, {ACCOUNT_COLS} from users u \
             where {strpos}(u.username_key, $1) > 0 or {strpos}(lower(u.display_name), $1) > 0 \
             order by u.username_key limit $2"
        ))
        .bind(q.to_lowercase())
        .bind(limit)
        .fetch_all(&self.read)
        .await
        .map_err(fail("users"))?;
        Ok(rows.iter().map(account_row).collect())
    }

    async fn account(&self, id: &UserId) -> StoreResult<AccountSummary> {
        let row = sqlx::query(&format!(
            "select {USER_COLS}, {ACCOUNT_COLS} from users u where u.id = $1"
        ))
        .bind(id.as_str())
        .fetch_one(&self.write)
        .await
        .map_err(fail("user"))?;
        Ok(account_row(&row))
    }

    async fn set_deactivated(&self, id: &UserId, on: bool) -> StoreResult<Vec<SessionId>> {
        let mut tx = self
            .write
            .begin_with(Self::DIALECT.begin)
            .await
            .map_err(fail("user"))?;
        if on {
            Self::keep_an_admin(&mut tx, id).await?;
        }
        let done = sqlx::query(
            "update users set deactivated_at = case when $1 = 1 \
             then coalesce(deactivated_at, $2) else null end where id = $3",
        )
        .bind(i64::from(on))
        .bind(now_ms())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(fail("user"))?;
        found(done.rows_affected())?;
        // Deactivating ends every session; so does reactivating (none should be left, but
        // one that slipped in must not come back to life).
        let ended = Self::end_sessions(&mut tx, id).await?;
        tx.commit().await.map_err(fail("user"))?;
        Ok(ended)
    }

    async fn set_admin(&self, id: &UserId, on: bool) -> StoreResult<()> {
        let mut tx = self
            .write
            .begin_with(Self::DIALECT.begin)
            .await
            .map_err(fail("user"))?;
        if !on {
            Self::keep_an_admin(&mut tx, id).await?;
        }
        let done = sqlx::query("update users set is_admin = $1 where id = $2")
            .bind(i64::from(on))
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(fail("user"))?;
        found(done.rows_affected())?;
        tx.commit().await.map_err(fail("user"))
    }

    async fn all_rooms(&self, q: &str, limit: i64) -> StoreResult<Vec<(Room, i64)>> {
        let strpos = Self::DIALECT.strpos;
        let rows = sqlx::query(&format!(
            "select {ROOM_COLS}, (select count(*) from memberships m where m.room_id = r.id) \
             as member_count from rooms r where {strpos}(lower(r.name), $1) > 0 \
             order by r.created_at desc limit $2"
        ))
        .bind(q.to_lowercase())
        .bind(limit)
        .fetch_all(&self.read)
        .await
        .map_err(fail("rooms"))?;
        Ok(rows
            .iter()
            .map(|r| (room_row(r), r.get("member_count")))
            .collect())
    }

    async fn audit_log(&self, f: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        let rows = sqlx::query(
            "select a.id, a.ts, a.actor_id, u.username as actor_username, a.action, a.room_id, \
             a.target, t.username as target_username, a.reason, a.address from audit_log a \
             left join users u on u.id = a.actor_id left join users t on t.id = a.target \
             where a.actor_id = coalesce($1, a.actor_id) and a.action = coalesce($2, a.action) \
             and coalesce(a.room_id, '') = coalesce($3, a.room_id, '') \
             and a.target = coalesce($4, a.target) and a.ts >= coalesce($5, a.ts) \
             and a.ts <= coalesce($6, a.ts) and a.id < coalesce($7, a.id + 1) \
             order by a.id desc limit $8",
        )
        .bind(f.actor.as_ref().map(UserId::as_str))
        .bind(f.action.as_deref())
        .bind(f.room.as_ref().map(RoomId::as_str))
        .bind(f.target.as_deref())
        .bind(f.since.map(ms))
        .bind(f.until.map(ms))
        .bind(f.before)
        .bind(f.limit)
        .fetch_all(&self.read)
        .await
        .map_err(fail("audit log"))?;
        Ok(rows
            .iter()
            .map(|r| AuditRecord {
                id: r.get("id"),
                ts: time(r.get("ts")),
                actor: r.get::<String, _>("actor_id").into(),
                actor_username: r.get("actor_username"),
                action: r.get("action"),
                room_id: r.get::<Option<String>, _>("room_id").map(RoomId::from),
                target: r.get("target"),
                target_username: r.get("target_username"),
                reason: r.get("reason"),
                address: r.get("address"),
            })
            .collect())
    }

    async fn transfer_room(&self, room: &RoomId, user: &UserId) -> StoreResult<()> {
        let mut tx = self
            .write
            .begin_with(Self::DIALECT.begin)
            .await
            .map_err(fail("room"))?;
        sqlx::query(
            "update memberships set role = 'admin' where room_id = $1 and role = 'owner'",
        )
        .bind(room.as_str())
        .execute(&mut *tx)
        .await
        .map_err(fail("room"))?;
        let done = sqlx::query(
            "update memberships set role = 'owner' where room_id = $1 and user_id = $2",
        )
        .bind(room.as_str())
        .bind(user.as_str())
        .execute(&mut *tx)
        .await
        .map_err(fail("room"))?;
        found(done.rows_affected())?;
        sqlx::query("update rooms set owner_id = $1 where id = $2")
            .bind(user.as_str())
            .bind(room.as_str())
            .execute(&mut *tx)
            .await
            .map_err(fail("room"))?;
        tx.commit().await.map_err(fail("room"))
    }

    async fn live_messages_of(
        &self,
        user: &UserId,
        limit: i64,
    ) -> StoreResult<Vec<(RoomId, Seq)>> {
        let rows = sqlx::query(
            "select room_id, seq from messages where sender_id = $1 and deleted = 0 \
             order by room_id, seq limit $2",
        )
        .bind(user.as_str())
        .bind(limit)
        .fetch_all(&self.write)
        .await
        .map_err(fail("messages"))?;
        Ok(rows
            .iter()
            .map(|r| (RoomId::from(r.get::<String, _>("room_id")), r.get("seq")))
            .collect())
    }

    async fn anonymise_user(
        &self,
        user: &UserId,
        username: &str,
    ) -> StoreResult<(Vec<SessionId>, Vec<RoomId>)> {
        let mut tx = self
            .write
            .begin_with(Self::DIALECT.begin)
            .await
            .map_err(fail("user"))?;
        let done = sqlx::query(
            "update users set username = $1, username_key = $1, display_name = 'Deleted user', \
             password_hash = '!', is_admin = 0, avatar = null, status_text = '', \
             status_emoji = '', email = '', one_device = 0, totp_secret = null, \
             totp_enabled_at = null, deactivated_at = coalesce(deactivated_at, $2) where id = $3",
        )
        .bind(username)
        .bind(now_ms())
        .bind(user.as_str())
        .execute(&mut *tx)
        .await
        .map_err(fail("user"))?;
        found(done.rows_affected())?;
        for sql in [
            "delete from recovery_codes where user_id = $1",
            "delete from password_resets where user_id = $1",
            "delete from blocks where user_id = $1 or blocked_id = $1",
            "delete from mutes where user_id = $1",
        ] {
            sqlx::query(sql)
                .bind(user.as_str())
                .execute(&mut *tx)
                .await
                .map_err(fail("user"))?;
        }
        // The invite links they made stop working with them.
        sqlx::query("update invites set revoked_at = $1 where created_by = $2 and revoked_at is null")
            .bind(now_ms())
            .bind(user.as_str())
            .execute(&mut *tx)
            .await
            .map_err(fail("user"))?;
        let ended = Self::end_sessions(&mut tx, user).await?;
        let left: Vec<String> = sqlx::query_scalar(
            "delete from memberships where user_id = $1 returning room_id",
        )
        .bind(user.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(fail("memberships"))?;
        tx.commit().await.map_err(fail("user"))?;
        Ok((ended, left.into_iter().map(RoomId::from).collect()))
    }

    async fn admin_ids(&self) -> StoreResult<Vec<UserId>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "select id from users where is_admin = 1 and deactivated_at is null",
        )
        .fetch_all(&self.read)
        .await
        .map_err(fail("admins"))?;
        Ok(ids.into_iter().map(UserId::from).collect())
    }

    async fn totals(&self) -> StoreResult<Totals> {
        let row = sqlx::query(
            "select (select count(*) from users) as users, \
             (select count(*) from users where deactivated_at is not null) as deactivated, \
             (select count(*) from users where is_admin = 1) as admins, \
             (select count(*) from rooms) as rooms, \
             (select count(*) from messages where deleted = 0) as messages, \
             (select count(*) from reports where resolved_at is null) as open_reports",
        )
        .fetch_one(&self.read)
        .await
        .map_err(fail("totals"))?;
        Ok(Totals {
            users: row.get("users"),
            deactivated_users: row.get("deactivated"),
            admins: row.get("admins"),
            rooms: row.get("rooms"),
            messages: row.get("messages"),
            open_reports: row.get("open_reports"),
        })
    }
}
    };
}

pub(crate) use sql_admin;
