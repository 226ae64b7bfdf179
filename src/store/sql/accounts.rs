//! Accounts: users, their profiles and avatars, and sessions. The SQL is shared by both
//! backends: [`sql_store!`](super::sql_store) expands this area's macro for each one.

/// Writes `impl Accounts for $Store` (and the helpers it needs) for a backend whose pools hold
/// `$Db` connections with `$Row` rows.
macro_rules! sql_accounts {
    ($Store:ident, $Db:ty, $Row:ty) => {
impl $Store {
    /// Inserts a new account on `conn` (in a transaction of the caller's, or alone).
    async fn insert_user(
        conn: &mut <$Db as sqlx::Database>::Connection,
        u: NewUser,
    ) -> StoreResult<User> {
        let now = now_ms();
        sqlx::query(
            "insert into users (id, username, username_key, display_name, password_hash, is_admin, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(u.id.as_str())
        .bind(&u.username)
        .bind(&u.username_key)
        .bind(&u.display_name)
        .bind(&u.password_hash)
        .bind(i64::from(u.is_admin))
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(fail("username"))?;
        Ok(User {
            avatar_url: avatar_url(None, &u.username),
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            is_admin: u.is_admin,
            deactivated: false,
            created_at: time(now),
            status_text: String::new(),
            status_emoji: String::new(),
            presence_mode: PresenceMode::Auto,
            send_receipts: true,
            locale: String::new(),
            one_device: false,
            email: String::new(),
            totp_enabled: false,
        })
    }

    /// Deletes every session of the user on `conn` (in the caller's transaction); their ids.
    async fn end_sessions(
        conn: &mut <$Db as sqlx::Database>::Connection,
        user: &UserId,
    ) -> StoreResult<Vec<SessionId>> {
        let ended: Vec<String> =
            sqlx::query_scalar("delete from sessions where user_id = $1 returning id")
                .bind(user.as_str())
                .fetch_all(&mut *conn)
                .await
                .map_err(fail("sessions"))?;
        Ok(ended.into_iter().map(SessionId::from).collect())
    }

    /// A user read back on the write connection, right after changing it.
    async fn user_written(&self, id: &UserId) -> StoreResult<User> {
        let sql = format!("select {USER_COLS} from users u where u.id = $1");
        let row = sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_one(&self.write)
            .await;
        Ok(user_row(&row.map_err(fail("user"))?))
    }
}

#[async_trait]
impl Accounts for $Store {
    #[tracing::instrument(skip_all)]
    async fn create_user(&self, u: NewUser) -> StoreResult<User> {
        let mut conn = self.write.acquire().await.map_err(fail("user"))?;
        Self::insert_user(&mut conn, u).await
    }

    async fn user(&self, id: &UserId) -> StoreResult<User> {
        let sql = format!("select {USER_COLS} from users u where u.id = $1");
        let row = sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_one(&self.read)
            .await;
        Ok(user_row(&row.map_err(fail("user"))?))
    }

    async fn user_credentials(&self, key: &str) -> StoreResult<(User, String)> {
        let sql =
            format!("select {USER_COLS}, u.password_hash from users u where u.username_key = $1");
        let row = sqlx::query(&sql)
            .bind(key)
            .fetch_one(&self.read)
            .await
            .map_err(fail("user"))?;
        Ok((user_row(&row), row.get("password_hash")))
    }

    async fn set_password_hash(&self, id: &UserId, hash: &str) -> StoreResult<()> {
        let done = sqlx::query("update users set password_hash = $1 where id = $2")
            .bind(hash)
            .bind(id.as_str())
            .execute(&self.write)
            .await
            .map_err(fail("password"))?;
        found(done.rows_affected())
    }

    async fn search_users(&self, q: &str, limit: i64) -> StoreResult<Vec<User>> {
        let strpos = Self::DIALECT.strpos;
        let sql = format!(
            "select {USER_COLS} from users u \
             where u.deactivated_at is null \
             and ({strpos}(u.username_key, $1) > 0 or {strpos}(lower(u.display_name), $1) > 0) \
             order by u.username_key limit $2"
        );
        let rows = sqlx::query(&sql)
            .bind(q.to_lowercase())
            .bind(limit)
            .fetch_all(&self.read)
            .await
            .map_err(fail("users"))?;
        Ok(rows.iter().map(user_row).collect())
    }

    async fn update_profile(&self, id: &UserId, p: &Profile) -> StoreResult<User> {
        let done = sqlx::query(
            "update users set display_name = $1, status_text = $2, status_emoji = $3, \
             presence_mode = $4, send_receipts = $5, locale = $6, one_device = $7, email = $8 \
             where id = $9",
        )
        .bind(&p.display_name)
        .bind(&p.status_text)
        .bind(&p.status_emoji)
        .bind(p.presence_mode.as_str())
        .bind(i64::from(p.send_receipts))
        .bind(&p.locale)
        .bind(i64::from(p.one_device))
        .bind(&p.email)
        .bind(id.as_str())
        .execute(&self.write)
        .await
        .map_err(fail("profile"))?;
        found(done.rows_affected())?;
        self.user_written(id).await
    }

    async fn set_avatar(
        &self,
        id: &UserId,
        avatar: Option<(&str, &[(u32, Vec<u8>)])>,
    ) -> StoreResult<User> {
        let mut tx = self
            .write
            .begin_with(Self::DIALECT.begin)
            .await
            .map_err(fail("avatar"))?;
        // The user points at it first: the collector, which deletes avatars no user points
        // at, then sees it named, or (if it was deleting it) makes this insert wait and insert.
        sqlx::query("update users set avatar = $1 where id = $2")
            .bind(avatar.map(|(hash, _)| hash))
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(fail("avatar"))?;
        if let Some((hash, sizes)) = avatar {
            for (size, bytes) in sizes {
                // `do update` locks a row already there, so the collector cannot take it away
                // under this transaction.
                sqlx::query("insert into avatars (hash, size, bytes) values ($1, $2, $3) \
                             on conflict (hash, size) do update set bytes = excluded.bytes")
                    .bind(hash)
                    .bind(i64::from(*size))
                    .bind(bytes)
                    .execute(&mut *tx)
                    .await
                    .map_err(fail("avatar"))?;
            }
        }
        tx.commit().await.map_err(fail("avatar"))?;
        self.user_written(id).await
    }

    async fn drop_unused_avatars(&self) -> StoreResult<u64> {
        let unused: Vec<String> = sqlx::query_scalar(
            "select distinct hash from avatars a where not exists \
             (select 1 from users u where u.avatar = a.hash) limit 500",
        )
        .fetch_all(&self.read)
        .await
        .map_err(fail("dropping avatars"))?;
        let mut dropped = 0;
        for hash in unused {
            // As for blobs: lock, then check in a statement of its own (a fresh snapshot on
            // PostgreSQL), then delete.
            let mut tx = self
                .write
                .begin_with(Self::DIALECT.begin)
                .await
                .map_err(fail("dropping avatars"))?;
            let lock = if Self::DIALECT.lock_rooms { " for update" } else { "" };
            sqlx::query(&format!("select hash from avatars where hash = $1{lock}"))
                .bind(&hash)
                .fetch_all(&mut *tx)
                .await
                .map_err(fail("dropping avatars"))?;
            let shown: bool =
                sqlx::query_scalar("select exists (select 1 from users where avatar = $1)")
                    .bind(&hash)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(fail("dropping avatars"))?;
            if !shown {
                let done = sqlx::query("delete from avatars where hash = $1")
                    .bind(&hash)
                    .execute(&mut *tx)
                    .await
                    .map_err(fail("dropping avatars"))?;
                dropped += done.rows_affected();
            }
            tx.commit().await.map_err(fail("dropping avatars"))?;
        }
        Ok(dropped)
    }

    async fn avatar(&self, hash: &str, size: u32) -> StoreResult<Vec<u8>> {
        sqlx::query_scalar("select bytes from avatars where hash = $1 and size = $2")
            .bind(hash)
            .bind(i64::from(size))
            .fetch_one(&self.read)
            .await
            .map_err(fail("avatar"))
    }

    async fn last_seen(&self, id: &UserId) -> StoreResult<Option<DateTime<Utc>>> {
        let at: Option<i64> = sqlx::query_scalar("select last_seen_at from users where id = $1")
            .bind(id.as_str())
            .fetch_one(&self.read)
            .await
            .map_err(fail("user"))?;
        Ok(at.map(time))
    }

    async fn set_last_seen(&self, id: &UserId, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("update users set last_seen_at = $1 where id = $2")
            .bind(ms(at))
            .bind(id.as_str())
            .execute(&self.write)
            .await
            .map_err(fail("user"))?;
        Ok(())
    }

    async fn create_session(&self, s: &Session, token_hash: &str) -> StoreResult<()> {
        // Only for an active account: a deactivation committed first refuses it, and on
        // PostgreSQL one in progress is waited for (the user's row is share-locked), so a
        // sign-in racing a deactivation never leaves a session behind.
        let lock = if Self::DIALECT.lock_rooms { " for share" } else { "" };
        let done = sqlx::query(&format!(
            "insert into sessions (id, user_id, token_hash, user_agent, address, created_at, last_seen) \
             select $1, $2, $3, $4, $5, $6, $7 where exists \
             (select 1 from users where id = $2 and deactivated_at is null{lock})"
        ))
        .bind(s.id.as_str())
        .bind(s.user_id.as_str())
        .bind(token_hash)
        .bind(&s.user_agent)
        .bind(&s.address)
        .bind(ms(s.created_at))
        .bind(ms(s.last_seen))
        .execute(&self.write)
        .await
        .map_err(fail("session"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Refused("this account has been deactivated"));
        }
        Ok(())
    }

    async fn session_by_token(&self, token_hash: &str) -> StoreResult<(Session, User)> {
        let sql = format!(
            "select {USER_COLS}, s.id as session_id, s.user_agent, s.address, s.created_at as s_created, s.last_seen \
             from sessions s join users u on u.id = s.user_id \
             where s.token_hash = $1 and u.deactivated_at is null"
        );
        let row = sqlx::query(&sql)
            .bind(token_hash)
            .fetch_one(&self.read)
            .await
            .map_err(fail("session"))?;
        let user = user_row(&row);
        let session = Session {
            id: row.get::<String, _>("session_id").into(),
            user_id: user.id.clone(),
            device: describe_device(row.get("user_agent")),
            user_agent: row.get("user_agent"),
            address: row.get("address"),
            created_at: time(row.get("s_created")),
            last_seen: time(row.get("last_seen")),
        };
        Ok((session, user))
    }

    async fn touch_session(&self, id: &SessionId, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("update sessions set last_seen = $1 where id = $2")
            .bind(ms(at))
            .bind(id.as_str())
            .execute(&self.write)
            .await
            .map_err(fail("session"))?;
        Ok(())
    }

    async fn delete_session(&self, id: &SessionId) -> StoreResult<()> {
        sqlx::query("delete from sessions where id = $1")
            .bind(id.as_str())
            .execute(&self.write)
            .await
            .map_err(fail("session"))?;
        Ok(())
    }

    async fn sessions_of(&self, user: &UserId) -> StoreResult<Vec<Session>> {
        let rows = sqlx::query(
            "select id, user_agent, address, created_at, last_seen from sessions where user_id = $1 \
             order by last_seen desc",
        )
        .bind(user.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(fail("sessions"))?;
        Ok(rows
            .iter()
            .map(|r| Session {
                id: r.get::<String, _>("id").into(),
                user_id: user.clone(),
                device: describe_device(r.get("user_agent")),
                user_agent: r.get("user_agent"),
                address: r.get("address"),
                created_at: time(r.get("created_at")),
                last_seen: time(r.get("last_seen")),
            })
            .collect())
    }

    async fn set_block(&self, user: &UserId, other: &UserId, on: bool) -> StoreResult<bool> {
        let done = if on {
            sqlx::query(
                "insert into blocks (user_id, blocked_id, created_at) values ($1, $2, $3) \
                 on conflict do nothing",
            )
            .bind(user.as_str())
            .bind(other.as_str())
            .bind(now_ms())
            .execute(&self.write)
            .await
        } else {
            sqlx::query("delete from blocks where user_id = $1 and blocked_id = $2")
                .bind(user.as_str())
                .bind(other.as_str())
                .execute(&self.write)
                .await
        };
        Ok(done.map_err(fail("blocks"))?.rows_affected() > 0)
    }

    async fn blocked_by(&self, user: &UserId) -> StoreResult<Vec<User>> {
        let sql = format!(
            "select {USER_COLS} from blocks b join users u on u.id = b.blocked_id \
             where b.user_id = $1 order by b.created_at desc"
        );
        let rows = sqlx::query(&sql)
            .bind(user.as_str())
            .fetch_all(&self.read)
            .await
            .map_err(fail("blocks"))?;
        Ok(rows.iter().map(user_row).collect())
    }

    async fn blocks(&self, user: &UserId, other: &UserId) -> StoreResult<bool> {
        let found: i64 = sqlx::query_scalar(
            "select count(*) from blocks where user_id = $1 and blocked_id = $2",
        )
        .bind(user.as_str())
        .bind(other.as_str())
        .fetch_one(&self.write)
        .await
        .map_err(fail("blocks"))?;
        Ok(found > 0)
    }

    async fn delete_other_sessions(
        &self,
        user: &UserId,
        keep: Option<&SessionId>,
    ) -> StoreResult<Vec<SessionId>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "delete from sessions where user_id = $1 and id <> coalesce($2, '') returning id",
        )
        .bind(user.as_str())
        .bind(keep.map(SessionId::as_str))
        .fetch_all(&self.write)
        .await
        .map_err(fail("sessions"))?;
        Ok(ids.into_iter().map(SessionId::from).collect())
    }
}
    };
}

pub(crate) use sql_accounts;
