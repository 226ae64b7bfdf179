//! Getting back into an account: one-time password reset links, made by an admin (handed over
//! however the admin likes) or, when the server can send email (`smtp_url`), asked for by the
//! user and sent to the address on their account ("forgot password"). A link is good once and
//! for a limited time, is kept only as a hash, and using it signs the account out everywhere.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rand::RngCore;

use super::guard::{self, Key};
use super::passwords::hash_password;
use super::{Chat, Error, Result};
use crate::domain::{Password, User, UserId, Username};
use crate::store::StoreError;

/// How long an admin's reset link stays good.
const ADMIN_LINK_HOURS: i64 = 24;
/// How long an emailed reset link stays good.
const EMAIL_LINK_MINUTES: i64 = 60;
/// Emailed links per account: one per this long at most, so nobody floods an inbox.
const EMAIL_EVERY: Duration = Duration::from_secs(300);

/// A reset link just made: the path with its token (shown once) and when it stops working.
pub struct ResetLink {
    pub path: String,
    pub expires_at: DateTime<Utc>,
}

/// Sends mail through the configured SMTP server.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: lettre::message::Mailbox,
}

impl Mailer {
    /// From `smtp_url` (`smtp://host:port` for plain or STARTTLS when offered, `smtps://` for
    /// TLS, with `user:password@` for authentication) and the sender address.
    pub fn new(url: &str, from: &str) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| anyhow::anyhow!("smtp_url: {e}"))?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        let from = from
            .parse()
            .map_err(|e| anyhow::anyhow!("smtp_from {from:?}: {e}"))?;
        Ok(Self { transport, from })
    }

    async fn send(&self, to: &str, subject: &str, body: String) -> anyhow::Result<()> {
        let message = Message::builder()
            .from(self.from.clone())
            .to(to.parse()?)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)?;
        self.transport.send(message).await?;
        Ok(())
    }
}

fn fresh_token() -> String {
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    hex::encode(raw)
}

impl Chat {
    /// A one-time link that sets a new password for the account (an admin hands it over).
    pub async fn admin_reset_link(
        &self,
        admin: &User,
        address: IpAddr,
        id: &UserId,
    ) -> Result<ResetLink> {
        self.require_admin(admin)?;
        self.store
            .user(id)
            .await
            .map_err(|_| Error::NotFound("user"))?;
        let token = fresh_token();
        let expires_at = Utc::now() + TimeDelta::hours(ADMIN_LINK_HOURS);
        self.store
            .create_reset(
                &super::accounts::token_hash(&token),
                id,
                &admin.id,
                expires_at,
            )
            .await?;
        self.audited(
            &admin.id,
            address,
            "reset_link_created",
            None,
            id.to_string(),
            "",
        )
        .await;
        Ok(ResetLink {
            path: format!("/?reset={token}"),
            expires_at,
        })
    }

    /// Sets a new password with a reset link's token; the account is signed out everywhere.
    /// Guesses are limited per client address, and the token is checked before the password
    /// is hashed, so wrong tokens cost the server no hashing.
    pub async fn reset_with_link(&self, token: &str, password: &str, ip: IpAddr) -> Result<()> {
        self.key_guard
            .attempt(&Key::Recovery(guard::address(ip)), 10)
            .map_err(Error::RateLimited)?;
        let password = Password::parse(password, "password")?;
        let token_hash = super::accounts::token_hash(token);
        let bad = |e: StoreError| match e {
            StoreError::NotFound => super::invalid(
                "token",
                "this link was used already, has expired, or is wrong",
            ),
            other => other.into(),
        };
        self.store.reset_user(&token_hash).await.map_err(bad)?;
        let hash = hash_password(password.expose()).await?;
        let (user, ended) = self
            .store
            .use_reset(&token_hash, &hash)
            .await
            .map_err(bad)?;
        self.key_guard.succeeded(&Key::Recovery(guard::address(ip)));
        self.close_sessions(&user, ended);
        Ok(())
    }

    /// "Forgot password": when the server sends email and the account has an address, a
    /// reset link goes there. The answer is the same whether or not the account exists or
    /// has an address, and the mail is sent after answering, so neither the answer nor its
    /// timing tells who has an account. Limited per client address and per account.
    pub async fn forgot_password(&self, username: &str, ip: IpAddr) -> Result<()> {
        let (Some(mailer), Some(origin)) = (&self.mailer, &self.config.public_url) else {
            return Err(Error::NotConfigured(
                "this server sends no email: ask an admin for a reset link",
            ));
        };
        self.key_guard
            .attempt(&Key::Recovery(guard::address(ip)), 10)
            .map_err(Error::RateLimited)?;
        let Ok(name) = Username::parse(username) else {
            return Ok(());
        };
        let user = match self.store.user_credentials(&name.key()).await {
            Ok((user, _)) => user,
            Err(StoreError::NotFound) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if user.email.is_empty() || user.deactivated || !self.mail_turns.take(&user.id) {
            return Ok(());
        }
        let token = fresh_token();
        let expires_at = Utc::now() + TimeDelta::minutes(EMAIL_LINK_MINUTES);
        let server = self.settings().settings.server_name.clone();
        let body = format!(
            "Someone (we hope you) asked to reset the password of {} on {server}.\n\n\
             To choose a new password, open this link within {EMAIL_LINK_MINUTES} minutes:\n\n\
             {origin}/?reset={token}\n\n\
             If it was not you, ignore this email: your password stays as it is.\n",
            user.username
        );
        let mailer = mailer.clone();
        let store = self.store.clone();
        // Stored and sent after answering: the answer's timing is the same for everyone.
        tokio::spawn(async move {
            let hash = super::accounts::token_hash(&token);
            if let Err(e) = store
                .create_reset(&hash, &user.id, &user.id, expires_at)
                .await
            {
                tracing::warn!(error = %e, "a password reset link could not be stored");
                return;
            }
            let to = &user.email;
            if let Err(e) = mailer
                .send(to, &format!("Reset your password on {server}"), body)
                .await
            {
                tracing::warn!(error = %e, "a password reset email could not be sent");
            }
        });
        Ok(())
    }
}

impl Chat {
    /// Tells the old address that the account's email address changed (when the server
    /// sends email), so a takeover does not go unnoticed.
    pub(super) fn mail_email_changed(&self, user: &User, new: &str) {
        let Some(mailer) = self.mailer.clone() else {
            return;
        };
        let server = self.settings().settings.server_name.clone();
        let body = format!(
            "The email address of {} on {server} was changed{}.\n\n\
             If you did not change it, sign in and change your password now, or ask an admin \
             of the server for help.\n",
            user.username,
            if new.is_empty() { " (removed)" } else { "" }
        );
        let to = user.email.clone();
        tokio::spawn(async move {
            let subject = format!("Your email address on {server} was changed");
            if let Err(e) = mailer.send(&to, &subject, body).await {
                tracing::warn!(error = %e, "an email-change notice could not be sent");
            }
        });
    }
}

/// One emailed link per account per [`EMAIL_EVERY`] (on this node).
#[derive(Default)]
pub struct MailTurns {
    last: std::sync::Mutex<std::collections::HashMap<UserId, std::time::Instant>>,
}

impl MailTurns {
    fn take(&self, user: &UserId) -> bool {
        let mut last = self.last.lock().expect("mail turns lock");
        let now = std::time::Instant::now();
        last.retain(|_, at| now.duration_since(*at) < EMAIL_EVERY);
        if last.contains_key(user) {
            return false;
        }
        last.insert(user.clone(), now);
        true
    }
}
