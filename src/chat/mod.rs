//! What users can do, carried out: each command is validated into domain types, checked
//! against the permission rules, written through the [`Store`] and announced on the [`Bus`].
//! HTTP handlers and the WebSocket reader both call in here, so the two transports behave
//! the same. No axum here.

mod accounts;
pub mod admin;
pub mod avatar;
mod blocks;
mod changes;
mod commit;
mod groups;
mod guard;
mod invites;
mod messages;
mod moderation;
mod passwords;
mod presence;
pub mod pressure;
mod profile;
mod recovery;
mod reports;
pub mod retention;
mod rooms;
pub mod sealing;
mod search;
pub mod settings;
mod two_factor;
mod typing;
pub mod uploads;

use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

pub use accounts::{Credentials, NewAccount, SignedIn, csrf_token};
pub use commit::Committer;
pub use guard::address as client_address;
pub use messages::{MAX_ATTACHMENTS, PageAt};
pub use profile::{ProfilePatch, run_liveness};
pub use recovery::ResetLink;
pub use rooms::{NewRoomRequest, RoomPatch};
pub use two_factor::TotpSetup;

use crate::bus::{Bus, BusEvent, Frame};
use crate::config::Config;
use crate::domain::{RoomId, UserId, ValidationError};
use crate::protocol::ServerEvent;
use crate::store::{Store, StoreError};

/// Why a command was refused. Each maps to one stable error code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Invalid(ValidationError),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    /// The password was right; a two-factor code is needed, or the one given is wrong.
    #[error("{0}")]
    SecondFactor(&'static str),
    /// The server is not set up for this (e.g. it sends no email).
    #[error("{0}")]
    NotConfigured(&'static str),
    /// The account was deactivated by an admin (the right password was given).
    #[error("this account has been deactivated")]
    Deactivated,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(&'static str),
    #[error("{0}")]
    TooLarge(&'static str),
    #[error("{0}")]
    Unsupported(&'static str),
    /// A request's body stopped arriving (`http_body_timeout_secs`).
    #[error("{0}")]
    TimedOut(&'static str),
    /// An upload past the user's or the server's storage quota.
    #[error("{0}")]
    QuotaExceeded(&'static str),
    #[error("too many requests; retry in {} s", .0.as_secs().max(1))]
    RateLimited(Duration),
    /// The server is past its capacity for writes: try again after the hint (with jitter).
    #[error("the server is busy; retry in {} ms", .0.as_millis())]
    Busy(Duration),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl Error {
    /// The stable, documented error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(e) if e.too_long => "payload_too_large",
            Self::Invalid(_) => "invalid_input",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::Deactivated => "account_deactivated",
            Self::SecondFactor(_) => "totp_required",
            Self::NotConfigured(_) => "not_configured",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::TooLarge(_) => "payload_too_large",
            Self::Unsupported(_) => "unsupported_media_type",
            Self::TimedOut(_) => "request_timeout",
            Self::QuotaExceeded(_) => "quota_exceeded",
            Self::RateLimited(_) => "rate_limited",
            Self::Busy(_) => "busy",
            Self::Internal(_) => "internal",
        }
    }
}

impl From<ValidationError> for Error {
    fn from(e: ValidationError) -> Self {
        Self::Invalid(e)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound("resource"),
            StoreError::Conflict(what) => Self::Conflict(what),
            StoreError::NotMember => Self::Forbidden("not a member of this room"),
            StoreError::Refused(why) => Self::Forbidden(why),
            StoreError::Other(e) => Self::Internal(e),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Shorthand for a field-level validation error.
pub(crate) fn invalid(field: &'static str, message: &str) -> Error {
    Error::Invalid(ValidationError {
        field,
        message: message.into(),
        too_long: false,
    })
}

/// The chat service: shared by every request and connection.
pub struct Chat {
    pub store: Arc<dyn Store>,
    pub bus: Arc<dyn Bus>,
    pub committer: Committer,
    pub config: Arc<Config>,
    /// Where uploaded files are kept.
    pub files: uploads::Files,
    /// This node's view of who is online.
    pub presence: presence::Presence,
    /// In a cluster: presence over all nodes.
    pub board: Option<Arc<crate::bus::redis::PresenceBoard>>,
    pub typing: typing::Typing,
    /// The server settings in force (and the send limiter they make).
    live: settings::Live,
    /// Sends password reset emails (`smtp_url`); `None` when the server sends none.
    mailer: Option<Arc<recovery::Mailer>>,
    mail_turns: recovery::MailTurns,
    /// Registrations per client address (`None`: unlimited).
    register_limiter: Option<DefaultKeyedRateLimiter<std::net::IpAddr>>,
    login_guard: guard::FailureGuard,
    /// Accounts from addresses that registered or signed in to them (for 30 days after the
    /// last time, on this node): the owner's own address skips the pacing of an account under
    /// attack.
    known_devices: guard::FailureGuard,
    /// Turns for sign-in attempts at an account past its failure threshold.
    login_pacer: guard::Pacer,
    key_guard: guard::FailureGuard,
}

impl Chat {
    /// Builds the service and starts its group-commit task (which ends once the service and
    /// every committer handle are dropped).
    pub fn new(
        store: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        config: Arc<Config>,
        files: uploads::Files,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (committer, task) =
            Committer::start(store.clone(), bus.clone(), config.max_queued_writes);
        let window = Duration::from_secs(config.login_window_secs);
        let chat = Self {
            store,
            bus,
            committer,
            files,
            board: None,
            presence: presence::Presence::new(Duration::from_secs(config.away_after_secs)),
            typing: typing::Typing::new(Duration::from_millis(config.typing_ttl_ms)),
            live: settings::Live::new(settings::from_config(&config)),
            mailer: match (&config.smtp_url, &config.smtp_from) {
                (Some(url), Some(from)) => match recovery::Mailer::new(url, from) {
                    Ok(mailer) => Some(Arc::new(mailer)),
                    Err(e) => {
                        tracing::error!(error = %e, "password reset emails are off");
                        None
                    }
                },
                _ => None,
            },
            mail_turns: recovery::MailTurns::default(),
            register_limiter: std::num::NonZeroU32::new(config.register_per_address_per_hour)
                .map(|n| RateLimiter::keyed(Quota::per_hour(n))),
            login_guard: guard::FailureGuard::new(window),
            known_devices: guard::FailureGuard::new(Duration::from_secs(30 * 24 * 3600)),
            login_pacer: guard::Pacer::new(Duration::from_secs(1), accounts::MAX_SLOWDOWN),
            key_guard: guard::FailureGuard::new(window),
            config,
        };
        (chat, task)
    }

    /// Serialises an event once and publishes it to a room's listeners.
    fn publish_room(
        &self,
        room_id: &RoomId,
        event: ServerEvent<'_>,
        change: Option<crate::bus::RoomChange>,
    ) {
        let frame = Frame::new(event.to_text());
        self.bus.publish(BusEvent::Room {
            room_id: room_id.clone(),
            frame: Some(frame),
            change,
        });
    }

    /// Serialises an event once and publishes it to all of one user's connections.
    fn publish_user(&self, user_id: &UserId, event: ServerEvent<'_>) {
        let frame = Frame::new(event.to_text());
        self.bus.publish(BusEvent::User {
            user_id: user_id.clone(),
            frame: Some(frame),
            change: None,
        });
    }
}
