//! The records of server administration as admins (and, for reports, moderators) see them:
//! accounts with their standing, invites, reports of messages, audit log entries, totals.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{RoomId, Sender, Seq, User, UserId};

/// An account as the admin panel lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountSummary {
    #[serde(flatten)]
    pub user: User,
    /// When the account was deactivated (null: active).
    pub deactivated_at: Option<DateTime<Utc>>,
    /// Where reset links are sent (empty: none).
    pub email: String,
    /// Signing in takes a code from an authenticator app too.
    pub totp_enabled: bool,
    pub sessions: i64,
    pub rooms: i64,
    pub messages: i64,
    pub last_seen: Option<DateTime<Utc>>,
}

/// An invitation: to register on the server (`room_id` null) or into a room. The code itself
/// is shown once, when it is made.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Invite {
    pub id: String,
    pub room_id: Option<RoomId>,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub max_uses: Option<i64>,
    pub uses: i64,
    pub revoked: bool,
}

/// A report of a message to the room's moderators and the server's admins.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Report {
    pub id: String,
    pub room_id: RoomId,
    pub room_name: String,
    pub seq: Seq,
    pub reporter: Sender,
    pub reason: String,
    pub created_at: DateTime<Utc>,
    /// The reported message as it is now (null when it was deleted or pruned since).
    pub message: Option<ReportedMessage>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<UserId>,
    /// `dismissed`, `message_deleted`, `banned` or `deactivated`.
    pub resolution: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportedMessage {
    pub sender: Sender,
    pub body: String,
    pub ts: DateTime<Utc>,
}

/// How a report was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    Dismissed,
    MessageDeleted,
    Banned,
    Deactivated,
}

impl Resolution {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dismissed => "dismissed",
            Self::MessageDeleted => "message_deleted",
            Self::Banned => "banned",
            Self::Deactivated => "deactivated",
        }
    }
}

/// One entry of the audit log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditRecord {
    pub id: i64,
    pub ts: DateTime<Utc>,
    /// The user who acted (their id stays after the account is deleted).
    pub actor: UserId,
    /// The actor's username, null once the account is gone.
    pub actor_username: Option<String>,
    pub action: String,
    pub room_id: Option<RoomId>,
    /// Whom or what it was done to: a user id, a message's `seq`, a setting's name.
    pub target: String,
    /// The username, when the target is an account that still exists.
    pub target_username: Option<String>,
    pub reason: String,
    /// The actor's client address.
    pub address: String,
}

/// Which audit entries to read: each filter given narrows; newest first, ids below `before`.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<UserId>,
    pub action: Option<String>,
    pub room: Option<RoomId>,
    pub target: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub before: Option<i64>,
    pub limit: i64,
}

/// The dashboard's counts.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Totals {
    pub users: i64,
    pub deactivated_users: i64,
    pub admins: i64,
    pub rooms: i64,
    pub messages: i64,
    pub open_reports: i64,
}
