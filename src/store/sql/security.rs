//! Sign-in security: two-factor secrets, the last TOTP step used, recovery codes, and
//! one-time password reset links. The SQL is shared by both backends:
//! [`sql_store!`](super::sql_store) expands this area's macro for each one.

/// Writes `impl Security for $Store` for a backend whose pools hold `$Db` connections with
/// `$Row` rows.
macro_rules! sql_security {
    ($Store:ident, $Db:ty, $Row:ty) => {
#[async_trait]
impl Security for $Store {
    async fn totp(&self, user: &UserId) -> StoreResult<TotpState> {
        let row = sqlx::query(
            "select totp_secret, totp_enabled_at, totp_last_step, totp_locked_until, \
             (select count(*) from recovery_codes c where c.user_id = u.id and c.used_at is null) \
             as codes_left from users u where u.id = $1",
        )
        .bind(user.as_str())
        .fetch_one(&self.write)
        .await
        .map_err(fail("user"))?;
        Ok(TotpState {
            secret: row.get("totp_secret"),
            enabled: row.get::<Option<i64>, _>("totp_enabled_at").is_some(),
            last_step: row.get("totp_last_step"),
            codes_left: row.get("codes_left"),
            locked_until: row.get::<Option<i64>, _>("totp_locked_until").map(time),
        })
    }

    async fn set_totp_secret(&self, user: &UserId, secret: &str) -> StoreResult<()> {
        let done = sqlx::query(
            "update users set totp_secret = $1 where id = $2 and totp_enabled_at is null",
        )
        .bind(secret)
        .bind(user.as_str())
        .execute(&self.write)
        .await
        .map_err(fail("user"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict("totp enabled"));
        }
        Ok(())
    }

    async fn enable_totp(&self, user: &UserId, step: i64, codes: &[String]) -> StoreResult<()> {
        let mut tx = self
            .write
            .begin_with(Self::DIALECT.begin)
            .await
            .map_err(fail("totp"))?;
        let done = sqlx::query(
            "update users set totp_enabled_at = $1, totp_last_step = $2 \
             where id = $3 and totp_secret is not null and totp_enabled_at is null",
        )
        .bind(now_ms())
        .bind(step)
        .bind(user.as_str())
        .execute(&mut *tx)
        .await
        .map_err(fail("totp"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict("totp enabled"));
        }
        Self::put_recovery_codes(&mut tx, user, codes).await?;
        tx.commit().await.map_err(fail("totp"))
    }

    async fn disable_totp(&self, user: &UserId) -> StoreResult<()> {
        let mut tx = self
            .write
            .begin_with(Self::DIALECT.begin)
            .await
            .map_err(fail("totp"))?;
        sqlx::query(
            "update users set totp_secret = null, totp_enabled_at = null, totp_last_step = 0 \
             where id = $1",
        )
        .bind(user.as_str())
        .execute(&mut *tx)
        .await
        .map_err(fail("totp"))?;
        Self::put_recovery_codes(&mut tx, user, &[]).await?;
        tx.commit().await.map_err(fail("totp"))
    }

    async fn use_totp_step(&self, user: &UserId, step: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "update users set totp_last_step = $1, totp_failures = 0, totp_locked_until = null \
             where id = $2 and totp_last_step < $1",
        )
        .bind(step)
        .bind(user.as_str())
        .execute(&self.write)
        .await
        .map_err(fail("totp"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn totp_attempt(
        &self,
        user: &UserId,
        limit: i64,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "update users set \
             totp_locked_until = case when totp_failures + 1 >= $1 then $2 \
             else totp_locked_until end, \
             totp_failures = case when totp_failures + 1 >= $1 then 0 else totp_failures + 1 end \
             where id = $3 and (totp_locked_until is null or totp_locked_until <= $4)",
        )
        .bind(limit)
        .bind(ms(until))
        .bind(user.as_str())
        .bind(now_ms())
        .execute(&self.write)
        .await
        .map_err(fail("totp"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn replace_recovery_codes(&self, user: &UserId, codes: &[String]) -> StoreResult<()> {
        let mut tx = self
            .write
            .begin_with(Self::DIALECT.begin)
            .await
            .map_err(fail("recovery codes"))?;
        Self::put_recovery_codes(&mut tx, user, codes).await?;
        tx.commit().await.map_err(fail("recovery codes"))
    }

    async fn use_recovery_code(&self, user: &UserId, code_hash: &str) -> StoreResult<bool> {
        let done = sqlx::query(
            "update recovery_codes set used_at = $1 \
             where user_id = $2 and code_hash = $3 and used_at is null",
        )
        .bind(now_ms())
        .bind(user.as_str())
        .bind(code_hash)
        .execute(&self.write)
        .await
        .map_err(fail("recovery codes"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn create_reset(
        &self,
        token_hash: &str,
        user: &UserId,
        by: &UserId,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "insert into password_resets (token_hash, user_id, created_by, created_at, expires_at) \
             values ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user.as_str())
        .bind(by.as_str())
        .bind(now_ms())
        .bind(ms(expires_at))
        .execute(&self.write)
        .await
        .map_err(fail("reset"))?;
        Ok(())
    }

    async fn reset_user(&self, token_hash: &str) -> StoreResult<UserId> {
        let user: Option<String> = sqlx::query_scalar(
            "select user_id from password_resets \
             where token_hash = $1 and used_at is null and expires_at > $2",
        )
        .bind(token_hash)
        .bind(now_ms())
        .fetch_optional(&self.read)
        .await
        .map_err(fail("reset"))?;
        user.map(UserId::from).ok_or(StoreError::NotFound)
    }

    async fn use_reset(
        &self,
        token_hash: &str,
        password_hash: &str,
    ) -> StoreResult<(UserId, Vec<SessionId>)> {
        let mut tx = self
            .write
            .begin_with(Self::DIALECT.begin)
            .await
            .map_err(fail("reset"))?;
        let now = now_ms();
        let user: Option<String> = sqlx::query_scalar(
            "update password_resets set used_at = $1 \
             where token_hash = $2 and used_at is null and expires_at > $1 returning user_id",
        )
        .bind(now)
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await
        .map_err(fail("reset"))?;
        let user = UserId::from(user.ok_or(StoreError::NotFound)?);
        sqlx::query("update users set password_hash = $1 where id = $2")
            .bind(password_hash)
            .bind(user.as_str())
            .execute(&mut *tx)
            .await
            .map_err(fail("reset"))?;
        // Every other link of the account goes too: one reset ends them all.
        sqlx::query("update password_resets set used_at = $1 where user_id = $2 and used_at is null")
            .bind(now)
            .bind(user.as_str())
            .execute(&mut *tx)
            .await
            .map_err(fail("reset"))?;
        let ended = Self::end_sessions(&mut tx, &user).await?;
        tx.commit().await.map_err(fail("reset"))?;
        Ok((user, ended))
    }
}

impl $Store {
    /// Replaces the user's recovery codes with these (hashes), in the caller's transaction.
    async fn put_recovery_codes(
        conn: &mut <$Db as sqlx::Database>::Connection,
        user: &UserId,
        codes: &[String],
    ) -> StoreResult<()> {
        sqlx::query("delete from recovery_codes where user_id = $1")
            .bind(user.as_str())
            .execute(&mut *conn)
            .await
            .map_err(fail("recovery codes"))?;
        for code in codes {
            sqlx::query("insert into recovery_codes (user_id, code_hash) values ($1, $2)")
                .bind(user.as_str())
                .bind(code)
                .execute(&mut *conn)
                .await
                .map_err(fail("recovery codes"))?;
        }
        Ok(())
    }
}
    };
}

pub(crate) use sql_security;
