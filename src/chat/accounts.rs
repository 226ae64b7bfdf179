//! Accounts and sessions: register, sign in and out, change and reset passwords.
//!
//! Passwords are hashed with Argon2id (see `passwords`).
//! Session tokens are 256 random bits, handed out once and stored only as a SHA-256 hash.

use std::net::IpAddr;
use std::time::Duration;

use chrono::Utc;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::guard::{self, Key};
use super::passwords::{hash_password, verify_password};
use super::{Chat, Error, Result, invalid};
use crate::bus::{BusEvent, UserChange};
use crate::domain::{
    DisplayName, Password, Registration, Session, SessionId, User, UserId, Username,
};
use crate::protocol::close;
use crate::store::{NewUser, StoreError};

/// The longest an attempt on an account under attack waits for its turn; turns are a second
/// apart, so such an account sees at most one guess a second.
pub(super) const MAX_SLOWDOWN: Duration = Duration::from_secs(10);

/// How often a session's `last_seen` is written at most.
const TOUCH_EVERY: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

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

/// What registering asks for: the account, and what lets it in when registration is not open.
pub struct NewAccount<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub display_name: Option<&'a str>,
    /// A server invite's code (needed while registration is `invite`).
    pub invite: Option<&'a str>,
    /// The one-time setup token of a server without an admin: the account becomes its admin,
    /// whatever the registration setting.
    pub setup: Option<&'a str>,
}

/// A username and password as typed, and the two-factor code when the account needs one.
pub struct Credentials<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub totp: Option<&'a str>,
}

impl Chat {
    /// Creates an account and signs it in. Each client address may register
    /// `register_per_address_per_hour` accounts an hour (a burst of that many, then one
    /// every `3600 / n` seconds); attempts refused by the field rules are not counted.
    /// While registration is `invite` a good server invite is needed (its use is counted in
    /// the same transaction that creates the account); while it is `closed`, nobody may. The
    /// setup token passes either and makes the account the server's first admin.
    #[tracing::instrument(skip_all)]
    pub async fn register(
        &self,
        account: NewAccount<'_>,
        ip: IpAddr,
        user_agent: &str,
    ) -> Result<SignedIn> {
        // A request the rules refuse anyway does not use up the address's allowance.
        let name = Username::parse(account.username)?;
        Password::parse(account.password, "password")?;
        if let Some(name) = account.display_name {
            DisplayName::parse(name)?;
        }
        let mode = self.settings().settings.registration;
        if account.setup.is_none() {
            match mode {
                Registration::Closed => {
                    return Err(Error::Forbidden("registration is closed on this server"));
                }
                Registration::Invite if account.invite.is_none() => {
                    return Err(invalid(
                        "invite",
                        "an invite code is needed to register here",
                    ));
                }
                _ => {}
            }
        }
        if let Some(limiter) = &self.register_limiter {
            let address = guard::address(ip);
            if limiter.len() > guard::MAX_KEYS {
                limiter.retain_recent();
            }
            if let Err(not_until) = limiter.check_key(&address) {
                let now = governor::clock::Clock::now(&governor::clock::DefaultClock::default());
                return Err(Error::RateLimited(not_until.wait_time_from(now)));
            }
        }
        let new = self
            .new_user(
                account.username,
                account.password,
                account.display_name,
                false,
            )
            .await?;
        let taken = |e: StoreError| match e {
            StoreError::Conflict(_) => Error::Conflict("that username is taken"),
            other => other.into(),
        };
        let user = match (account.setup, account.invite) {
            (Some(token), _) => self
                .store
                .claim_setup(token, new)
                .await
                .map_err(|e| match e {
                    StoreError::NotFound => {
                        invalid("setup", "this setup link was used already or is wrong")
                    }
                    other => taken(other),
                })?,
            (None, Some(code)) if mode == Registration::Invite => self
                .store
                .register_invited(&token_hash(code), new)
                .await
                .map_err(|e| match e {
                    StoreError::NotFound => invalid(
                        "invite",
                        "this invite is unknown, used up, expired or revoked",
                    ),
                    other => taken(other),
                })?,
            _ => self.store.create_user(new).await.map_err(taken)?,
        };
        if user.is_admin {
            tracing::info!(user = %user.username, "the setup link made the first admin");
        }
        let pair = Key::AccountAddress(name.key(), guard::address(ip));
        self.known_devices.remember(&pair);
        self.start_session(user, ip, user_agent).await
    }

    /// Creates an account (also used by `natter admin create-user`).
    pub async fn create_user(
        &self,
        username: &str,
        password: &str,
        display_name: Option<&str>,
        is_admin: bool,
    ) -> Result<User> {
        let user = self
            .new_user(username, password, display_name, is_admin)
            .await?;
        self.store.create_user(user).await.map_err(|e| match e {
            StoreError::Conflict(_) => Error::Conflict("that username is taken"),
            other => other.into(),
        })
    }

    /// An account to create, its fields checked and its password hashed.
    async fn new_user(
        &self,
        username: &str,
        password: &str,
        display_name: Option<&str>,
        is_admin: bool,
    ) -> Result<NewUser> {
        let name = Username::parse(username)?;
        let password = Password::parse(password, "password")?;
        let display_name = match display_name {
            Some(d) => DisplayName::parse(d)?.into_inner(),
            None => name.as_str().to_owned(),
        };
        Ok(NewUser {
            id: UserId::generate(),
            username: name.as_str().to_owned(),
            username_key: name.key(),
            display_name,
            password_hash: hash_password(password.expose()).await?,
            is_admin,
        })
    }

    /// Signs in. Attempts are counted before the password is checked (successes are taken
    /// back): per client address first (`login_max_failures` x 4 per window), then per
    /// account from that address (`login_max_failures`); past either, `RateLimited`. The
    /// account as a whole is never locked, so a stranger's guesses cannot keep its owner out:
    /// past `login_max_failures` x 2 failures from all addresses together, further attempts
    /// on it are paced instead: one a second, each waiting for its turn, and `RateLimited`
    /// when the turn is more than [`MAX_SLOWDOWN`] away. Addresses that signed in to the
    /// account before (in the last 30 days, on this node) skip the pacing, so its owner gets
    /// in at once from their own address. A username the rules would refuse is never counted
    /// as an account.
    #[tracing::instrument(skip_all)]
    pub async fn login(
        &self,
        creds: Credentials<'_>,
        ip: IpAddr,
        user_agent: &str,
    ) -> Result<SignedIn> {
        let limit = self.config.login_max_failures;
        let address = Key::Address(guard::address(ip));
        self.login_guard
            .attempt(&address, limit.saturating_mul(4))
            .map_err(Error::RateLimited)?;
        let Ok(name) = Username::parse(creds.username) else {
            // No such account can exist: a failure of this address, and nothing else kept.
            return Err(Error::Unauthorized("wrong username or password"));
        };
        let pair = Key::AccountAddress(name.key(), guard::address(ip));
        if let Err(wait) = self.login_guard.attempt(&pair, limit) {
            self.login_guard.succeeded(&address);
            return Err(Error::RateLimited(wait));
        }
        let account = Key::Account(name.key());
        let earlier = self.login_guard.tally(&account);
        if earlier >= limit.saturating_mul(2) && !self.known_devices.seen(&pair) {
            match self.login_pacer.turn(&account) {
                Ok(wait) => tokio::time::sleep(wait).await,
                Err(retry) => {
                    for key in [&address, &pair, &account] {
                        self.login_guard.succeeded(key);
                    }
                    return Err(Error::RateLimited(retry));
                }
            }
        }
        let found = match self.store.user_credentials(&name.key()).await {
            Ok(found) => Some(found),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        // Verify against a real hash even for unknown names, so timing does not tell.
        let hash = found.as_ref().map_or(DUMMY_HASH, |(_, h)| h.as_str());
        let ok = verify_password(creds.password, hash).await?;
        match found {
            Some((user, _)) if ok => {
                if user.totp_enabled {
                    match self.check_second_factor(&user, creds.totp).await {
                        Ok(()) => {}
                        // Asking for the code is no guess: this attempt is taken back. A wrong
                        // code stays counted, like a wrong password.
                        Err(e @ Error::SecondFactor(_))
                            if creds.totp.is_none_or(|c| c.trim().is_empty()) =>
                        {
                            for key in [&address, &pair, &account] {
                                self.login_guard.succeeded(key);
                            }
                            return Err(e);
                        }
                        Err(e) => return Err(e),
                    }
                }
                for key in [&address, &pair, &account] {
                    self.login_guard.succeeded(key);
                }
                // Only someone holding the password learns that the account is deactivated.
                if user.deactivated {
                    return Err(Error::Deactivated);
                }
                self.known_devices.remember(&pair);
                let signed = self.start_session(user, ip, user_agent).await?;
                self.announce_sign_in(&signed).await?;
                Ok(signed)
            }
            _ => Err(Error::Unauthorized("wrong username or password")),
        }
    }

    async fn start_session(&self, user: User, ip: IpAddr, user_agent: &str) -> Result<SignedIn> {
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        let token = hex::encode(raw);
        let now = Utc::now();
        let session = Session {
            id: SessionId::generate(),
            user_id: user.id.clone(),
            user_agent: user_agent.chars().take(256).collect(),
            device: crate::domain::describe_device(user_agent),
            address: ip.to_string(),
            created_at: now,
            last_seen: now,
        };
        self.store
            .create_session(&session, &token_hash(&token))
            .await
            .map_err(|e| match e {
                StoreError::Refused(_) => Error::Deactivated,
                other => other.into(),
            })?;
        Ok(SignedIn {
            user,
            session,
            token,
        })
    }

    /// Tells the account's other sessions of a new sign-in (`new_login`), or, for an account
    /// that keeps one device at a time, signs them out.
    async fn announce_sign_in(&self, signed: &SignedIn) -> Result<()> {
        let event = crate::protocol::ServerEvent::NewLogin {
            session: &signed.session,
        };
        self.publish_user(&signed.user.id, event);
        if signed.user.one_device {
            let ended = self
                .store
                .delete_other_sessions(&signed.user.id, Some(&signed.session.id))
                .await?;
            self.close_sessions(&signed.user.id, ended);
        }
        Ok(())
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
        // Guesses of the current password (by whoever holds this session) are limited like
        // failed logins of the account from one address; no other key is involved.
        let account_key = Key::Session(session.id.to_string());
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

    pub(super) fn close_sessions(&self, user_id: &UserId, sessions: Vec<SessionId>) {
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
