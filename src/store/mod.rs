//! Persistence behind the [`Store`] trait: SQLite (embedded default) and PostgreSQL (clusters),
//! each owning its migrations and sharing one set of queries ([`sql`]). The store keeps and finds data; it never decides permissions.

pub mod postgres;
mod sql;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::crypto::{Field, Keyring, PREFIX_CHARS, RoomKey};
use crate::domain::{
    AccountSummary, AuditFilter, AuditRecord, EventKind, HistoryVisibility, Invite, Membership,
    Mention, Message, NotifyLevel, Permissions, PresenceMode, Reaction, ReplyTo, Report,
    ReportedMessage, Retention, Role, Room, RoomId, RoomKind, Sender, Seq, Session, SessionId,
    TimelineEvent, Totals, Unread, Upload, User, UserId, avatar_url, describe_device, matches,
    search_text,
};

/// The store's errors: few on purpose. Constraint violations arrive as `Conflict`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// A message's sender is not (or no longer) a member of its room, as seen by the
    /// transaction that would have stored it.
    #[error("not a member")]
    NotMember,
    /// The room's permission table or a mute refuses the event (the reason, for people).
    #[error("{0}")]
    Refused(&'static str),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A user to create.
pub struct NewUser {
    pub id: UserId,
    pub username: String,
    pub username_key: String,
    pub display_name: String,
    pub password_hash: String,
    pub is_admin: bool,
}

/// A user's changeable profile and settings.
#[derive(Debug, Clone)]
pub struct Profile {
    pub display_name: String,
    pub status_text: String,
    pub status_emoji: String,
    pub presence_mode: PresenceMode,
    pub send_receipts: bool,
    pub locale: String,
    pub one_device: bool,
    pub email: String,
}

/// A room to create; its creator becomes the owner (and, for direct rooms, both users members).
pub struct NewRoom {
    pub id: RoomId,
    pub name: String,
    /// `None` for direct rooms.
    pub name_key: Option<String>,
    /// The name's confusable skeletons, each unique across rooms (empty for direct rooms).
    pub skeletons: Vec<String>,
    pub kind: RoomKind,
    pub topic: String,
    pub owner_id: UserId,
    pub key_hash: Option<String>,
    pub history: HistoryVisibility,
    pub retention: Retention,
    /// For direct rooms: the sorted pair, unique per pair.
    pub direct: Option<[UserId; 2]>,
    /// For a group conversation: the members besides the owner (who starts it).
    pub group: Vec<UserId>,
    /// For a sealed room: its seal (`key_hash` is then the join proof's hash).
    pub seal: Option<crate::domain::Seal>,
}

/// A room's changeable settings, written as a whole.
pub struct RoomSettings {
    pub topic: String,
    pub kind: RoomKind,
    pub key_hash: Option<String>,
    pub history: HistoryVisibility,
    pub retention: Retention,
    pub permissions: Permissions,
}

/// A message to append; the store gives it the room's next `seq`. Its mentions and the
/// message it replies to are resolved before (`Chat::commit`): the store writes them and never
/// parses the body (it only reads stored bodies back, e.g. an earlier copy for a retried
/// `client_id`).
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub room_id: RoomId,
    pub sender: Sender,
    pub client_id: String,
    pub body: String,
    pub mentions: Vec<Mention>,
    pub reply_to: Option<ReplyTo>,
    /// The sender's unsent uploads to attach, in order (checked again by the append, which
    /// refuses the message with `Conflict("attachments")` if one was taken meanwhile).
    pub attachments: Vec<Upload>,
    /// What the search index will hold for it ([`index_terms`]), when worked out before;
    /// otherwise the append works it out.
    pub terms: Option<Terms>,
}

/// A change to a stored message, checked against the rules before (`Chat`); the store checks
/// only what can change under it (the message still exists and is not deleted) and gives an
/// effective change the room's next `seq`.
#[derive(Debug, Clone)]
pub struct NewChange {
    pub room_id: RoomId,
    pub actor: UserId,
    pub message_seq: Seq,
    pub change: Change,
}

#[derive(Debug, Clone)]
pub enum Change {
    /// A new body (the old one is kept in the edit history); its mentions are resolved.
    Edit {
        body: String,
        mentions: Vec<Mention>,
    },
    /// A tombstone; with `audit`, the deletion is written to the audit log with the reason
    /// and the actor's address.
    Delete {
        reason: String,
        audit: bool,
        address: String,
        /// By a server admin who need not be a member of the room (closing a report).
        by_server_admin: bool,
    },
    /// Adds (`add`) or removes the actor's reaction with `emoji`.
    React {
        emoji: String,
        add: bool,
    },
    Pin(bool),
}

/// What the group commit appends: a message, or a change to one. Not boxed: messages, the
/// larger variant, are the common case, and boxing one would cost an allocation per send.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Entry {
    Message(NewMessage),
    Change(NewChange),
}

impl Entry {
    pub fn room_id(&self) -> &RoomId {
        match self {
            Self::Message(m) => &m.room_id,
            Self::Change(c) => &c.room_id,
        }
    }
}

/// The result of one entry: the event it made, or (`duplicate`) the earlier copy of a retried
/// message or a change that changed nothing (a reaction already there); those are not published.
#[derive(Debug, Clone)]
pub struct Appended {
    pub event: TimelineEvent,
    pub duplicate: bool,
    /// The message is in a direct room (notification defaults differ).
    pub direct: bool,
}

impl Appended {
    pub fn message(&self) -> &Message {
        &self.event.message
    }
}

/// A page of messages, oldest first.
pub struct MessageRange {
    pub room_id: RoomId,
    /// Only messages with `seq` above this (history visibility floor).
    pub floor: Seq,
    pub limit: i64,
    /// Whose `reactions[].me` to fill in (`None`: leave it out).
    pub viewer: Option<UserId>,
}

/// One earlier text of an edited message.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct EditRecord {
    pub body: String,
    /// When the edit that replaced it was made.
    pub replaced_at: DateTime<Utc>,
}

/// The store: one trait per area of the schema (each implemented by its own file of
/// `sql/`), plus what concerns the database as a whole.
#[async_trait]
pub trait Store:
    Accounts + Rooms + Timeline + Search + Uploads + Admin + Security + Send + Sync + 'static
{
    /// Whether the database answers (for `/readyz`).
    async fn ping(&self) -> bool;

    /// Flushes and closes connections (graceful shutdown).
    async fn close(&self);

    /// The room keys the store seals texts with (and the bus's key, derived from the same
    /// master key).
    fn keyring(&self) -> &Arc<Keyring>;
}

/// Users, their profiles and avatars, and their sessions (`sql/accounts.rs`).
#[async_trait]
pub trait Accounts {
    async fn create_user(&self, user: NewUser) -> StoreResult<User>;
    async fn user(&self, id: &UserId) -> StoreResult<User>;
    /// The user and their password hash, by case-folded username.
    async fn user_credentials(&self, username_key: &str) -> StoreResult<(User, String)>;
    async fn set_password_hash(&self, id: &UserId, hash: &str) -> StoreResult<()>;
    /// Users whose username or display name contains `q` (case-insensitive).
    async fn search_users(&self, q: &str, limit: i64) -> StoreResult<Vec<User>>;
    /// Writes the profile and settings fields as a whole.
    async fn update_profile(&self, id: &UserId, profile: &Profile) -> StoreResult<User>;
    /// Stores the avatar's thumbnails (size, PNG bytes) under `hash` and points the user at
    /// them; `None` returns the user to a generated avatar.
    async fn set_avatar(
        &self,
        id: &UserId,
        avatar: Option<(&str, &[(u32, Vec<u8>)])>,
    ) -> StoreResult<User>;
    /// One thumbnail of a stored avatar.
    async fn avatar(&self, hash: &str, size: u32) -> StoreResult<Vec<u8>>;
    /// Deletes the stored avatars no user shows any more; returns how many images went.
    async fn drop_unused_avatars(&self) -> StoreResult<u64>;
    /// When the user was last connected (`None`: never, or invisible).
    async fn last_seen(&self, id: &UserId) -> StoreResult<Option<DateTime<Utc>>>;
    async fn set_last_seen(&self, id: &UserId, at: DateTime<Utc>) -> StoreResult<()>;

    async fn create_session(&self, session: &Session, token_hash: &str) -> StoreResult<()>;
    async fn session_by_token(&self, token_hash: &str) -> StoreResult<(Session, User)>;
    async fn touch_session(&self, id: &SessionId, at: DateTime<Utc>) -> StoreResult<()>;
    async fn delete_session(&self, id: &SessionId) -> StoreResult<()>;
    /// The user's sessions, most recently seen first.
    async fn sessions_of(&self, user: &UserId) -> StoreResult<Vec<Session>>;
    /// `user` blocks (`on`) or unblocks `other`; returns whether anything changed.
    async fn set_block(&self, user: &UserId, other: &UserId, on: bool) -> StoreResult<bool>;
    /// The users `user` blocks, most recent first.
    async fn blocked_by(&self, user: &UserId) -> StoreResult<Vec<User>>;
    /// Whether `user` blocks `other`.
    async fn blocks(&self, user: &UserId, other: &UserId) -> StoreResult<bool>;
    /// Deletes every session of the user but `keep`; returns the ids deleted.
    async fn delete_other_sessions(
        &self,
        user: &UserId,
        keep: Option<&SessionId>,
    ) -> StoreResult<Vec<SessionId>>;
}

/// Rooms, memberships, bans, read markers, notification levels and receipts (`sql/rooms.rs`).
#[async_trait]
pub trait Rooms {
    async fn create_room(&self, room: NewRoom) -> StoreResult<Room>;
    async fn room(&self, id: &RoomId) -> StoreResult<Room>;
    /// The room and its key hash, by case-folded name.
    async fn room_by_name(&self, name_key: &str) -> StoreResult<(Room, Option<String>)>;
    async fn direct_room(&self, pair: &[UserId; 2]) -> StoreResult<Room>;
    async fn update_room(&self, id: &RoomId, settings: RoomSettings) -> StoreResult<Room>;
    /// Deletes the room with its messages, memberships and bans.
    async fn delete_room(&self, id: &RoomId) -> StoreResult<()>;
    /// How many rooms, direct rooms aside, the user owns.
    async fn rooms_owned(&self, user: &UserId) -> StoreResult<i64>;
    /// Public rooms whose name contains `q` (case-insensitive), by name.
    async fn public_rooms(&self, q: &str, limit: i64) -> StoreResult<Vec<Room>>;
    /// The user's rooms with their membership and unread counts in each.
    async fn rooms_of(&self, user: &UserId) -> StoreResult<Vec<(Room, Membership, Unread)>>;
    /// A member's unread counts in one room.
    async fn unread(&self, room: &RoomId, user: &UserId) -> StoreResult<Unread>;
    async fn room_ids_of(&self, user: &UserId) -> StoreResult<Vec<RoomId>>;
    /// Every room id with its own retention (for the pruner).
    async fn all_rooms_retention(&self) -> StoreResult<Vec<(RoomId, Retention)>>;

    async fn membership(&self, room: &RoomId, user: &UserId) -> StoreResult<Option<Membership>>;
    /// Adds the user (joined at the room's current `last_seq`); returns the existing
    /// membership if they already are one.
    async fn add_member(&self, room: &RoomId, user: &UserId, role: Role)
    -> StoreResult<Membership>;
    /// Removes the membership; returns whether there was one.
    async fn remove_member(&self, room: &RoomId, user: &UserId) -> StoreResult<bool>;
    async fn set_role(&self, room: &RoomId, user: &UserId, role: Role) -> StoreResult<()>;
    async fn members(&self, room: &RoomId) -> StoreResult<Vec<(User, Membership)>>;
    /// The room's members among these case-folded usernames: `(key, id, username)`. One query
    /// for up to 64 distinct names; more are not looked up.
    async fn members_named(
        &self,
        room: &RoomId,
        keys: &[String],
    ) -> StoreResult<Vec<(String, UserId, String)>>;
    /// Records the ban and removes the membership in one transaction.
    async fn ban(&self, room: &RoomId, user: &UserId, by: &UserId, reason: &str)
    -> StoreResult<()>;
    /// Returns whether there was a ban.
    async fn unban(&self, room: &RoomId, user: &UserId) -> StoreResult<bool>;
    async fn is_banned(&self, room: &RoomId, user: &UserId) -> StoreResult<bool>;
    /// The room's bans, newest first: the banned user, the reason and when.
    async fn bans(&self, room: &RoomId) -> StoreResult<Vec<(User, String, DateTime<Utc>)>>;
    /// Moves the read marker forward (never back); returns the marker now in force.
    async fn mark_read(&self, room: &RoomId, user: &UserId, seq: Seq) -> StoreResult<Seq>;
    /// Sets (or with `None` resets to the default) a member's notification level.
    async fn set_notify(
        &self,
        room: &RoomId,
        user: &UserId,
        level: Option<NotifyLevel>,
    ) -> StoreResult<()>;
    /// The read markers of the room's members who share them.
    async fn receipts(&self, room: &RoomId) -> StoreResult<Vec<(UserId, Seq)>>;
    /// Mutes the user in the room until `until` (`None`: until unmuted), replacing a mute.
    async fn mute(
        &self,
        room: &RoomId,
        user: &UserId,
        until: Option<DateTime<Utc>>,
        by: &UserId,
    ) -> StoreResult<()>;
    /// Returns whether there was a mute.
    async fn unmute(&self, room: &RoomId, user: &UserId) -> StoreResult<bool>;
    /// The room's mutes in force: who, and until when (`None`: until unmuted).
    async fn mutes(&self, room: &RoomId) -> StoreResult<Vec<(UserId, Option<DateTime<Utc>>)>>;
    /// Writes an entry of the audit log.
    async fn audit(&self, entry: &AuditEntry) -> StoreResult<()>;
}

/// What an admin or moderator did, for the audit log (which no API edits).
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub actor: UserId,
    /// `member_kicked`, `member_muted`, `member_unmuted`, `room_settings_changed`, …
    pub action: &'static str,
    pub room: Option<RoomId>,
    /// Whom or what it was done to (a user id, a message's seq).
    pub target: String,
    pub reason: String,
    /// The actor's client address.
    pub address: String,
}

/// The timeline: the group commit's append of messages and changes, reading messages and
/// events back, and retention (`sql/timeline.rs`).
#[async_trait]
pub trait Timeline {
    /// The newest message the user may read in each of their rooms (those that have one).
    async fn last_messages(&self, user: &UserId) -> StoreResult<Vec<Message>>;
    /// Appends a batch in one transaction (group commit). Each entry gets its own result, in
    /// order: the event with the room's next `seq`; the original message when `(sender,
    /// client_id)` was stored before; a change that changed nothing; or its own error.
    async fn append(&self, batch: &[Entry]) -> StoreResult<Vec<StoreResult<Appended>>>;
    /// One message in its current state (deleted ones too).
    async fn message(&self, room: &RoomId, seq: Seq) -> StoreResult<Message>;
    /// Up to `limit` messages with `seq < before` (all when `None`), newest ones, oldest first.
    async fn messages_before(
        &self,
        range: MessageRange,
        before: Option<Seq>,
    ) -> StoreResult<Vec<Message>>;
    /// Up to `limit` messages with `seq > after`, the oldest ones, oldest first.
    async fn messages_after(&self, range: MessageRange, after: Seq) -> StoreResult<Vec<Message>>;
    /// Timeline events with `seq` in `after+1 ..= upto`: new messages above the floor and
    /// changes to them, each with its message in its current state. Up to `limit`, the newest
    /// ones, oldest first; `true` when they are all there are.
    async fn events_after(
        &self,
        range: MessageRange,
        after: Seq,
        upto: Seq,
    ) -> StoreResult<(Vec<TimelineEvent>, bool)>;
    /// The smallest kept `seq` above `floor`, if any.
    async fn oldest_seq(&self, room: &RoomId, floor: Seq) -> StoreResult<Option<Seq>>;
    /// The texts a message had before its edits, oldest first.
    async fn edits(&self, room: &RoomId, seq: Seq) -> StoreResult<Vec<EditRecord>>;
    /// The room's pinned messages above the floor, the most recently pinned first.
    async fn pins(&self, range: MessageRange) -> StoreResult<Vec<Message>>;
    /// Seals up to `batch` messages and as many earlier texts stored before encryption at
    /// rest (or while it was off), replacing their index entries by keyed tokens, in one
    /// transaction; returns how many it sealed (0: none left, or encryption is off).
    async fn seal_earlier(&self, batch: i64) -> StoreResult<u64>;
    /// Deletes up to `batch` messages of the room that fall outside `retention` (with their
    /// events, reactions and edits); returns how many went.
    async fn prune(
        &self,
        room: &RoomId,
        retention: Retention,
        now: DateTime<Utc>,
        batch: i64,
    ) -> StoreResult<u64>;
}

/// What to search for, for whom.
pub struct SearchQuery {
    pub viewer: UserId,
    /// Folded terms; a message matches when each begins one of its words.
    pub terms: Vec<String>,
    pub room: Option<RoomId>,
    /// Only results older than this cursor (from an earlier page's `next`).
    pub before: Option<i64>,
    pub limit: i64,
}

/// The full-text index (`sql/search.rs`; kept up to date by the timeline's writes).
#[async_trait]
pub trait Search {
    /// Messages the viewer may read now whose words the terms begin, newest first, and the
    /// cursor of the next page when there is one.
    async fn search(&self, q: SearchQuery) -> StoreResult<(Vec<Message>, Option<i64>)>;
    /// Rewrites the index so that entries replaced or removed leave nothing behind in it
    /// (SQLite's FTS5 keeps them in its segments until merged; PostgreSQL needs `VACUUM`).
    async fn compact_index(&self) -> StoreResult<()>;
}

/// A room as the append reads (and on PostgreSQL locks) it: where its timeline is, its kind,
/// its permission table, and whether it is sealed end to end.
#[derive(Debug, Clone)]
pub struct LockedRoom {
    pub last: Seq,
    pub kind: RoomKind,
    pub table: Permissions,
    pub sealed: bool,
}

/// A member as the append sees them: their role, and whether a mute is in force.
#[derive(Debug, Clone, Copy)]
pub struct Standing {
    pub role: Role,
    pub muted: bool,
}

/// Why a room refuses this event for its sealing, if it does. A sealed room refuses a message
/// or an edit whose body is not sealed in the browser, or a file that is not (a client that
/// does not know the room is sealed would otherwise give its plain text away); any other room
/// refuses bodies of the sealed shape (which skip the plain-text checks and limit). Read in the
/// append's transaction, from the room row it reads anyway.
pub fn sealed_refuses(entry: &Entry, sealed: bool) -> Option<&'static str> {
    use crate::domain::{NOT_SEALED, SEALED_CONTENT_TYPE, SEALED_ONLY, is_sealed_body};
    if !sealed {
        let shaped = match entry {
            Entry::Message(m) => is_sealed_body(&m.body),
            Entry::Change(c) => {
                matches!(&c.change, Change::Edit { body, .. } if is_sealed_body(body))
            }
        };
        return shaped.then_some(NOT_SEALED);
    }
    let plain = match entry {
        Entry::Message(m) => {
            !is_sealed_body(&m.body)
                || m.attachments
                    .iter()
                    .any(|a| a.content_type != SEALED_CONTENT_TYPE)
        }
        Entry::Change(c) => matches!(&c.change, Change::Edit { body, .. } if !is_sealed_body(body)),
    };
    plain.then_some(SEALED_ONLY)
}

impl Standing {
    /// Why the room's table or a mute refuses this event, if it does. Deletions and pins
    /// are checked before (by `Chat`, against the same table).
    pub fn refuses(&self, table: &Permissions, entry: &Entry) -> Option<&'static str> {
        use crate::domain::{Action, allowed};
        let may = |action| allowed(table, self.role, action, None);
        match entry {
            Entry::Message(m) => {
                if self.muted {
                    Some("you are muted in this room")
                } else if !may(Action::Post) {
                    Some("your role may not post in this room")
                } else if m.reply_to.is_some() && !may(Action::Reply) {
                    Some("you may not reply in this room")
                } else if !m.attachments.is_empty() && !may(Action::Upload) {
                    Some("you may not send files in this room")
                } else {
                    None
                }
            }
            Entry::Change(c) => match &c.change {
                Change::Edit { .. } | Change::React { .. } if self.muted => {
                    Some("you are muted in this room")
                }
                Change::Edit { .. } if !may(Action::Post) => {
                    Some("your role may not post in this room")
                }
                Change::React { .. } if !may(Action::React) => {
                    Some("you may not react in this room")
                }
                _ => None,
            },
        }
    }
}

/// An upload to record: its blob (and thumbnail's) already stored under their hashes.
pub struct NewUpload {
    pub id: String,
    pub uploader: UserId,
    pub blob: String,
    pub size: i64,
    pub filename: String,
    pub content_type: String,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub duration_ms: Option<i64>,
    /// The thumbnail's blob and size.
    pub thumb: Option<(String, i64)>,
}

/// An upload as stored: who made it, its blobs, and the message it is attached to.
#[derive(Debug, Clone)]
pub struct StoredUpload {
    pub upload: Upload,
    pub uploader: UserId,
    pub blob: String,
    pub thumb: Option<String>,
    pub thumb_size: Option<i64>,
    /// The room and `seq` of the message that holds it (`None`: not sent yet).
    pub attached: Option<(RoomId, Seq)>,
    pub created_at: DateTime<Utc>,
}

/// What uploads take, for admins: `(id, bytes, files)` of the largest users and rooms, and the
/// bytes actually stored (blobs are shared between uploads of the same bytes).
#[derive(Debug, Clone)]
pub struct StorageTotals {
    pub users: Vec<(String, i64, i64)>,
    pub rooms: Vec<(String, i64, i64)>,
    pub stored_bytes: i64,
    pub blobs: i64,
}

/// Uploads and their blobs (`sql/uploads.rs`). Attaching happens in the timeline's append;
/// deleting a message, pruning it or deleting its room deletes its uploads; the collector
/// then deletes the blobs no upload names.
#[async_trait]
pub trait Uploads {
    /// Records the upload and claims its blobs (creating their rows), in one transaction;
    /// `Conflict("quota")` when the uploader's uploads would then pass `quota` bytes.
    async fn create_upload(&self, upload: &NewUpload, quota: Option<i64>) -> StoreResult<Upload>;
    async fn upload(&self, id: &str) -> StoreResult<StoredUpload>;
    /// Deletes an upload of `uploader`'s that is not attached to a message (`NotFound` else).
    async fn delete_unsent_upload(&self, id: &str, uploader: &UserId) -> StoreResult<()>;
    /// The bytes of the user's uploads, or of everyone's (`None`).
    async fn upload_usage(&self, user: Option<&UserId>) -> StoreResult<i64>;
    /// Deletes up to `limit` uploads never sent and made before `before`; returns how many.
    async fn drop_unsent_uploads(&self, before: DateTime<Utc>, limit: i64) -> StoreResult<u64>;
    /// Up to `limit` blobs that no upload names.
    async fn orphan_blobs(&self, limit: i64) -> StoreResult<Vec<String>>;
    /// If no upload names the blob, deletes its row and runs `unlink` (which deletes its
    /// bytes) before committing; returns whether it did. An upload of the same bytes meanwhile
    /// waits for the row, then stores the bytes again.
    async fn drop_blob(
        &self,
        hash: &str,
        unlink: futures_util::future::BoxFuture<'_, anyhow::Result<()>>,
    ) -> StoreResult<bool>;
    /// The `limit` users and rooms whose uploads take the most, and the totals.
    async fn storage_totals(&self, limit: i64) -> StoreResult<StorageTotals>;
}

/// An invitation to make; `code_hash` is the SHA-256 of the code handed out.
pub struct NewInvite {
    pub id: String,
    pub code_hash: String,
    /// `None`: to register on the server.
    pub room_id: Option<RoomId>,
    pub created_by: UserId,
    pub expires_at: Option<DateTime<Utc>>,
    pub max_uses: Option<i64>,
}

/// A report to file.
pub struct NewReport {
    pub id: String,
    pub room_id: RoomId,
    pub seq: Seq,
    pub reporter: UserId,
    pub reason: String,
}

/// Server administration (`sql/admin.rs`): the settings admins change, the setup token, invites,
/// reports, accounts as admins see them, reading the audit log back, totals.
#[async_trait]
pub trait Admin {
    /// The settings admins have set, each as its name and JSON text.
    async fn settings(&self) -> StoreResult<Vec<(String, String)>>;
    /// Sets these settings (name, JSON text) in one transaction.
    async fn put_settings(&self, values: &[(String, String)]) -> StoreResult<()>;
    /// While no admin exists: the setup token (storing `fresh` if there is none yet, so every
    /// node prints the same one). Once one exists: `None`, and any token is deleted.
    async fn setup_token(&self, fresh: &str) -> StoreResult<Option<String>>;
    /// Creates `user` as an admin if `token` is the setup token and still no admin exists, and
    /// deletes the token; `NotFound` otherwise.
    async fn claim_setup(&self, token: &str, user: NewUser) -> StoreResult<User>;
    /// Creates `user` if the server invite whose code hashes to `code_hash` is still good
    /// (counting the use), in one transaction; `NotFound` when it is not.
    async fn register_invited(&self, code_hash: &str, user: NewUser) -> StoreResult<User>;
    async fn create_invite(&self, invite: &NewInvite) -> StoreResult<Invite>;
    /// Counts a use of the room invite whose code hashes to `code_hash` if it is still good;
    /// its room (`NotFound` when it is not).
    async fn use_room_invite(&self, code_hash: &str) -> StoreResult<RoomId>;
    /// The room a room invite still good leads to, without using it (`NotFound` otherwise).
    async fn room_of_invite(&self, code_hash: &str) -> StoreResult<RoomId>;
    /// The server's invites (`room` `None`) or a room's, newest first.
    async fn invites(&self, room: Option<&RoomId>) -> StoreResult<Vec<Invite>>;
    /// Revokes one of the server's (`room` `None`) or the room's invites.
    async fn revoke_invite(&self, id: &str, room: Option<&RoomId>) -> StoreResult<()>;
    /// Files a report; `Conflict("report")` if the reporter reported that message before.
    async fn create_report(&self, report: &NewReport) -> StoreResult<()>;
    /// Reports, newest first: open ones only or all, of one room or every room.
    async fn reports(
        &self,
        open_only: bool,
        room: Option<&RoomId>,
        limit: i64,
    ) -> StoreResult<Vec<Report>>;
    async fn report(&self, id: &str) -> StoreResult<Report>;
    /// Closes the report and every other open report of the same message.
    async fn resolve_report(&self, id: &str, by: &UserId, resolution: &str) -> StoreResult<()>;
    /// Accounts whose username or display name holds `q` (deactivated ones included).
    async fn accounts(&self, q: &str, limit: i64) -> StoreResult<Vec<AccountSummary>>;
    async fn account(&self, id: &UserId) -> StoreResult<AccountSummary>;
    /// Deactivates or reactivates the user, either way deleting every session (whose ids it
    /// returns).
    async fn set_deactivated(&self, id: &UserId, on: bool) -> StoreResult<Vec<SessionId>>;
    /// Makes or unmakes a server admin; `Conflict("last admin")` for the last one.
    async fn set_admin(&self, id: &UserId, on: bool) -> StoreResult<()>;
    /// Every room whose name holds `q`, private and direct ones included, with its member count.
    async fn all_rooms(&self, q: &str, limit: i64) -> StoreResult<Vec<(Room, i64)>>;
    async fn audit_log(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>>;
    async fn totals(&self) -> StoreResult<Totals>;
    /// Makes `user` the owner of the room (the old owner becomes an admin of it).
    async fn transfer_room(&self, room: &RoomId, user: &UserId) -> StoreResult<()>;
    /// The `(room, seq)` of up to `limit` of the user's messages not deleted yet.
    async fn live_messages_of(&self, user: &UserId, limit: i64) -> StoreResult<Vec<(RoomId, Seq)>>;
    /// Turns the account into a placeholder its messages still name: `username` (a fresh
    /// `deleted-…`), "Deleted user", no password, avatar, email, two-factor, admin rights,
    /// blocks or mutes, deactivated; every session and membership goes. Returns the sessions
    /// ended and the rooms it left.
    async fn anonymise_user(
        &self,
        user: &UserId,
        username: &str,
    ) -> StoreResult<(Vec<SessionId>, Vec<RoomId>)>;
    /// The active server admins.
    async fn admin_ids(&self) -> StoreResult<Vec<UserId>>;
}

/// A user's two-factor state.
#[derive(Debug, Clone)]
pub struct TotpState {
    /// Base32; present once a setup began.
    pub secret: Option<String>,
    /// Sign-in asks for a code.
    pub enabled: bool,
    /// The last 30-second step a code was accepted for (a code is good once).
    pub last_step: i64,
    /// Recovery codes not used yet.
    pub codes_left: i64,
    /// Codes from the app are refused until then (too many wrong ones).
    pub locked_until: Option<DateTime<Utc>>,
}

/// Sign-in security (`sql/security.rs`): two-factor secrets and recovery codes (stored as
/// hashes), and one-time password reset links (their tokens as hashes).
#[async_trait]
pub trait Security {
    async fn totp(&self, user: &UserId) -> StoreResult<TotpState>;
    /// Keeps a fresh secret for a setup to confirm; `Conflict` once two-factor is on.
    async fn set_totp_secret(&self, user: &UserId, secret: &str) -> StoreResult<()>;
    /// Turns two-factor on (the code of `step` confirmed the secret) with these recovery codes.
    async fn enable_totp(&self, user: &UserId, step: i64, codes: &[String]) -> StoreResult<()>;
    /// Turns it off: secret, steps and recovery codes go.
    async fn disable_totp(&self, user: &UserId) -> StoreResult<()>;
    /// Takes `step` if it is later than the last one used (`false`: a code seen before), and
    /// clears the count of wrong codes.
    async fn use_totp_step(&self, user: &UserId, step: i64) -> StoreResult<bool>;
    /// Counts an attempt with a code from the app, unless codes are locked (`false`); the
    /// `limit`th attempt since the last good code locks them until `until`.
    async fn totp_attempt(
        &self,
        user: &UserId,
        limit: i64,
        until: DateTime<Utc>,
    ) -> StoreResult<bool>;
    async fn replace_recovery_codes(&self, user: &UserId, codes: &[String]) -> StoreResult<()>;
    /// Uses up a recovery code (`false`: no such unused code).
    async fn use_recovery_code(&self, user: &UserId, code_hash: &str) -> StoreResult<bool>;
    async fn create_reset(
        &self,
        token_hash: &str,
        user: &UserId,
        by: &UserId,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Whose reset link this is, if it is still good (`NotFound` otherwise); uses nothing.
    async fn reset_user(&self, token_hash: &str) -> StoreResult<UserId>;
    /// Uses a reset link still good (`NotFound` otherwise): sets the password, ends the
    /// account's other links and every session (whose ids it returns), in one transaction.
    async fn use_reset(
        &self,
        token_hash: &str,
        password_hash: &str,
    ) -> StoreResult<(UserId, Vec<SessionId>)>;
}

/// Opens the store `config` names (its database, with the keyring of its master key and key
/// store), creating and migrating it when needed.
pub async fn open(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let keys = Keyring::open(config).await?;
    let database_url = config.database_url();
    let database_url = database_url.as_str();
    if database_url.starts_with("sqlite:") {
        Ok(Arc::new(
            sqlite::SqliteStore::open(database_url, keys).await?,
        ))
    } else if database_url.starts_with("postgres:") || database_url.starts_with("postgresql:") {
        Ok(Arc::new(postgres::PgStore::open(database_url, keys).await?))
    } else {
        anyhow::bail!(
            "unsupported database_url {database_url:?} (expected sqlite:... or postgres://...)"
        )
    }
}

/// The keys of the rooms a batch seals texts in (a room without one stores plain text).
type RoomKeys = std::collections::HashMap<RoomId, Arc<RoomKey>>;

/// What the search index holds for one message.
#[derive(Debug, Clone)]
pub struct Terms {
    /// Folded words, or keyed tokens, separated by spaces.
    text: String,
    /// Keyed tokens (the room has a key).
    sealed: bool,
}

/// What the index will hold for a message of `body` in `room`, worked out before the group
/// commit (folding words and hashing them with the room's key take longer than storing them,
/// and the commit has one thread).
pub async fn index_terms(keys: &Keyring, room: &RoomId, body: &str) -> anyhow::Result<Terms> {
    let key = keys.for_sealing(&[room]).await?.remove(room);
    Ok(index_words(key.as_ref(), body))
}

/// What the search index holds for a body: its folded words, as keyed tokens where the room
/// has a key.
fn index_words(key: Option<&Arc<RoomKey>>, body: &str) -> Terms {
    // A sealed room's body is ciphertext from the browser: nothing to find in it.
    let words = if crate::domain::is_sealed_body(body) {
        String::new()
    } else {
        search_text(body)
    };
    match key {
        Some(key) => Terms {
            text: key.blind_words(&words),
            sealed: true,
        },
        None => Terms {
            text: words,
            sealed: false,
        },
    }
}

/// Blanks what replies quote of messages at or below `floor` (which the reader may not read).
pub fn hide_quotes_below(messages: &mut [Message], floor: Seq) {
    for quote in messages.iter_mut().filter_map(|m| m.reply_to.as_mut()) {
        if quote.seq <= floor {
            quote.excerpt.clear();
        }
    }
}

/// The id a message is known by: its room and its place in it.
pub fn message_id(room: &RoomId, seq: Seq) -> String {
    format!("{room}-{seq}")
}
