//! Accounts and sessions: register, sign in and out, change and reset passwords.
//!
//! Passwords are hashed with Argon2id (m = 19 MiB, t = 2, p = 1) on the blocking pool, at most
//! one per core at a time ([`HASHING`]).
//! Session tokens are 256 random bits, handed out once and stored only as a SHA-256 hash.

use std::net::IpAddr;

use anyhow::Context as _;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::Utc;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{Chat, Error, Result};
use crate::bus::{BusEvent, UserChange};
use crate::domain::{DisplayName, Password, Session, SessionId, User, UserId, Username};
use crate::protocol::close;
use crate::store::{NewUser, StoreError};

/// How often a session's `last_seen` is written at most.
const TOUCH_EVERY: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// Argon2id computations allowed at once: one per core. A burst of sign-ins or registrations
/// then queues instead of taking every core from message delivery, and at most that many
/// 19 MiB blocks are live (measured: 10,000 registrations, 8 at a time, left the server at
/// 2.2 GB RSS without this bound, the allocator keeping each blocking thread's blocks).
static HASHING: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
});

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 params");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password (slow on purpose; runs on the blocking pool).
pub async fn hash_password(password: &str) -> anyhow::Result<String> {
    let password = password.to_owned();
    let _turn = HASHING.acquire().await.context("password hashing queue")?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
    })
    .await
    .context("password hashing task")?
}

/// Checks a password against a stored hash (on the blocking pool).
pub async fn verify_password(password: &str, hash: &str) -> anyhow::Result<bool> {
    let (password, hash) = (password.to_owned(), hash.to_owned());
    let _turn = HASHING.acquire().await.context("password hashing queue")?;
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
        Ok(argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .context("password verification task")?
}

/// Hashes a bearer token for storage and lookup.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The CSRF token of a cookie session: derived from the secret session token, so it needs no
/// storage and cannot be computed without the cookie.
pub fn csrf_token(token: &str) -> String {
    let digest = Sha256::digest(format!("natter-csrf:{token}").as_bytes());
    hex::encode(&digest[..16])
}

/// What signing in (or registering) yields.
pub struct SignedIn {
    pub user: User,
    pub session: Session,
    /// The bearer token; shown once, never stored.
    pub token: String,
}

/// A username and password as typed.
pub struct Credentials<'a> {
    pub username: &'a str,
    pub password: &'a str,
}

impl Chat {
    /// Creates an account and signs it in.
    #[tracing::instrument(skip_all, fields(username = %username))]
    pub async fn register(
        &self,
        username: &str,
        password: &str,
        display_name: Option<&str>,
        user_agent: &str,
    ) -> Result<SignedIn> {
        let user = self
            .create_user(username, password, display_name, false)
            .await?;
        self.start_session(user, user_agent).await
    }

    /// Creates an account (also used by `natter admin create-user`).
    pub async fn create_user(
        &self,
        username: &str,
        password: &str,
        display_name: Option<&str>,
        is_admin: bool,
    ) -> Result<User> {
        let name = Username::parse(username)?;
        let password = Password::parse(password, "password")?;
        let display_name = match display_name {
            Some(d) => DisplayName::parse(d)?.into_inner(),
            None => name.as_str().to_owned(),
        };
        let user = NewUser {
            id: UserId::generate(),
            username: name.as_str().to_owned(),
            username_key: name.key(),
            display_name,
            password_hash: hash_password(password.expose()).await?,
            is_admin,
        };
        self.store.create_user(user).await.map_err(|e| match e {
            StoreError::Conflict(_) => Error::Conflict("that username is taken"),
            other => other.into(),
        })
    }

    /// Signs in. Failures count per account and per client address; once either is over
    /// its limit, further attempts get `RateLimited` until the window passes.
    #[tracing::instrument(skip_all, fields(username = %creds.username))]
    pub async fn login(
        &self,
        creds: Credentials<'_>,
        ip: IpAddr,
        user_agent: &str,
    ) -> Result<SignedIn> {
        let account_key = format!("user:{}", creds.username.to_lowercase());
        let ip_key = format!("ip:{ip}");
        let limit = self.config.login_max_failures;
        self.login_guard
            .attempt(&account_key, limit)
            .map_err(Error::RateLimited)?;
        if let Err(wait) = self.login_guard.attempt(&ip_key, limit * 4) {
            self.login_guard.succeeded(&account_key);
            return Err(Error::RateLimited(wait));
        }
        // No username has control characters (and PostgreSQL cannot compare one with NUL).
        let lookup = if creds.username.chars().any(char::is_control) {
            Err(StoreError::NotFound)
        } else {
            let key = creds.username.to_ascii_lowercase();
            self.store.user_credentials(&key).await
        };
        let found = match lookup {
            Ok(found) => Some(found),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        // Verify against a real hash even for unknown names, so timing does not tell.
        let hash = found.as_ref().map_or(DUMMY_HASH, |(_, h)| h.as_str());
        let ok = verify_password(creds.password, hash).await?;
        match found {
            Some((user, _)) if ok => {
                self.login_guard.succeeded(&account_key);
                self.login_guard.succeeded(&ip_key);
                self.start_session(user, user_agent).await
            }
            _ => Err(Error::Unauthorized("wrong username or password")),
        }
    }

    async fn start_session(&self, user: User, user_agent: &str) -> Result<SignedIn> {
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        let token = hex::encode(raw);
        let now = Utc::now();
        let session = Session {
            id: SessionId::generate(),
            user_id: user.id.clone(),
            user_agent: user_agent.chars().take(256).collect(),
            created_at: now,
            last_seen: now,
        };
        self.store
            .create_session(&session, &token_hash(&token))
            .await?;
        Ok(SignedIn {
            user,
            session,
            token,
        })
    }

    /// The session and user a token belongs to.
    pub async fn authenticate(&self, token: &str) -> Result<(Session, User)> {
        let (session, user) = match self.store.session_by_token(&token_hash(token)).await {
            Ok(found) => found,
            Err(StoreError::NotFound) => return Err(Error::Unauthorized("not signed in")),
            Err(e) => return Err(e.into()),
        };
        let now = Utc::now();
        if now - session.last_seen > TOUCH_EVERY {
            self.store.touch_session(&session.id, now).await?;
        }
        Ok((session, user))
    }

    /// Ends one session and closes its sockets.
    pub async fn logout(&self, session: &Session) -> Result<()> {
        self.store.delete_session(&session.id).await?;
        self.close_sessions(&session.user_id, vec![session.id.clone()]);
        Ok(())
    }

    /// The user's signed-in devices and browsers.
    pub async fn sessions(&self, user: &UserId) -> Result<Vec<Session>> {
        Ok(self.store.sessions_of(user).await?)
    }

    /// Signs out one of the user's sessions (another device) and closes its sockets.
    pub async fn revoke_session(&self, user: &UserId, id: &SessionId) -> Result<()> {
        let sessions = self.store.sessions_of(user).await?;
        if !sessions.iter().any(|s| &s.id == id) {
            return Err(Error::NotFound("session"));
        }
        self.store.delete_session(id).await?;
        self.close_sessions(user, vec![id.clone()]);
        Ok(())
    }

    /// Changes the password after checking the current one; signs out every other session.
    pub async fn change_password(&self, session: &Session, current: &str, new: &str) -> Result<()> {
        let user = self.store.user(&session.user_id).await?;
        // Guesses of the current password count like failed logins.
        let account_key = format!("user:{}", user.username.to_lowercase());
        let limit = self.config.login_max_failures;
        self.login_guard
            .attempt(&account_key, limit)
            .map_err(Error::RateLimited)?;
        let (_, hash) = self
            .store
            .user_credentials(&user.username.to_ascii_lowercase())
            .await?;
        if verify_password(current, &hash).await? {
            self.login_guard.succeeded(&account_key);
        } else {
            return Err(Error::Forbidden("the current password is wrong"));
        }
        let new = Password::parse(new, "new_password")?;
        self.store
            .set_password_hash(&user.id, &hash_password(new.expose()).await?)
            .await?;
        let ended = self
            .store
            .delete_other_sessions(&user.id, Some(&session.id))
            .await?;
        self.close_sessions(&user.id, ended);
        Ok(())
    }

    /// Sets a new password without the old one and signs out every session
    /// (`natter admin reset-password`).
    pub async fn reset_password(&self, username: &str, new: &str) -> Result<()> {
        let (user, _) = self
            .store
            .user_credentials(&username.to_ascii_lowercase())
            .await
            .map_err(|e| match e {
                StoreError::NotFound => Error::NotFound("user"),
                other => other.into(),
            })?;
        let new = Password::parse(new, "password")?;
        self.store
            .set_password_hash(&user.id, &hash_password(new.expose()).await?)
            .await?;
        let ended = self.store.delete_other_sessions(&user.id, None).await?;
        self.close_sessions(&user.id, ended);
        Ok(())
    }

    fn close_sessions(&self, user_id: &UserId, sessions: Vec<SessionId>) {
        if sessions.is_empty() {
            return;
        }
        let change = UserChange::CloseSessions(sessions, close::SESSION_REVOKED);
        self.bus.publish(BusEvent::User {
            user_id: user_id.clone(),
            frame: None,
            change: Some(change),
        });
    }
}

/// An Argon2id hash of a random password, verified against when the username is unknown.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$8sx0A8HVQmHE3HPDOjTSkVH8a4bLvTWXXaY3FvEuvZY";
