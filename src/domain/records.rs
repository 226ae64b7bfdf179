//! The records the store keeps and the API shows. They serialise exactly as the client
//! contract describes them; secrets (password and key hashes) never live in these types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    HistoryVisibility, Mention, NotifyLevel, PresenceMode, Role, RoomId, Seq, SessionId, UserId,
};

/// Where a user's avatar is served: the uploaded one by content hash, or one generated from
/// the username (initials on a colour).
pub fn avatar_url(hash: Option<&str>, username: &str) -> String {
    match hash {
        Some(h) => format!("/avatars/{h}/256.png"),
        None => format!("/avatars/default/{username}.svg"),
    }
}

/// A user account as everyone may see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    /// Server administrator (not a room role).
    pub is_admin: bool,
    /// Deactivated by an admin: cannot sign in, shown greyed out.
    pub deactivated: bool,
    pub created_at: DateTime<Utc>,
    /// Up to 140 characters; may be empty.
    pub status_text: String,
    /// One emoji or empty.
    pub status_emoji: String,
    /// The 256 px avatar (`.../64.png` for the small one when uploaded).
    pub avatar_url: String,
    /// The user's own presence choice (shown to the user only, in `GET /me`).
    #[serde(skip)]
    pub presence_mode: PresenceMode,
    /// Whether the user's read markers are shown to others (read receipts).
    #[serde(skip)]
    pub send_receipts: bool,
    /// The web client's language, or empty to follow the browser (shown to the user only).
    #[serde(skip)]
    pub locale: String,
    /// A new sign-in signs out every other session (shown to the user only).
    #[serde(skip)]
    pub one_device: bool,
    /// Where password reset links are sent; may be empty (shown to the user and admins).
    #[serde(skip)]
    pub email: String,
    /// Signing in takes a TOTP code too (shown to the user and admins).
    #[serde(skip)]
    pub totp_enabled: bool,
}

/// The short form of a user carried on every message.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Sender {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub avatar_url: String,
}

impl From<&User> for Sender {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.clone(),
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            avatar_url: u.avatar_url.clone(),
        }
    }
}

/// One signed-in device or browser.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Session {
    pub id: SessionId,
    #[serde(skip)]
    pub user_id: UserId,
    pub user_agent: String,
    /// The browser and system, in words ("Firefox on Linux").
    pub device: String,
    /// The client address it signed in from.
    pub address: String,
    pub created_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// What kind of room: found by anyone, joined with a key, or between two users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    Public,
    Private,
    Direct,
    /// A group direct conversation of 3 to 9 people: no name to find it by, no settings.
    Group,
}

impl RoomKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Private => "private",
            Self::Direct => "direct",
            Self::Group => "group",
        }
    }
    pub fn from_db(s: &str) -> Self {
        match s {
            "private" => Self::Private,
            "direct" => Self::Direct,
            "group" => Self::Group,
            _ => Self::Public,
        }
    }

    /// A direct conversation (of two, or a group): every message notifies by default, and it
    /// has no settings, moderation or invites.
    pub fn is_conversation(self) -> bool {
        matches!(self, Self::Direct | Self::Group)
    }
}

/// Limits on what a room keeps. `None` means "no limit of this kind" (for a room: fall back
/// to the server default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Retention {
    /// Keep at most this many of the newest messages.
    pub max_messages: Option<i64>,
    /// Delete messages older than this many seconds.
    pub max_age_secs: Option<i64>,
}

/// A room. `unread`, `read_seq` and `role` are filled in when the room is shown to a member.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Room {
    pub id: RoomId,
    pub name: String,
    pub kind: RoomKind,
    pub topic: String,
    pub owner_id: UserId,
    pub history: HistoryVisibility,
    pub retention: Retention,
    /// For each action, the lowest role that may take it (every action named).
    #[serde(serialize_with = "full_table")]
    pub permissions: super::Permissions,
    /// The newest message's `seq` (0 when the room has none).
    pub last_seq: Seq,
    pub created_at: DateTime<Utc>,
    /// For sealed rooms (end to end): how members derive its keys from the passphrase.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seal: Option<super::Seal>,
    /// For direct rooms: the two users.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direct_user_ids: Option<[UserId; 2]>,
    /// The caller's role, when the caller is a member.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// The caller's read marker, when the caller is a member.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_seq: Option<Seq>,
    /// Messages from others after the caller's read marker, when the caller is a member.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unread: Option<i64>,
    /// How many of those mention the caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unread_mentions: Option<i64>,
    /// The caller's notification level here (their choice or the default for the kind).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify: Option<NotifyLevel>,
    /// The newest message the caller may read (in `GET /rooms` and `ready`), for previews.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_message: Option<Box<Message>>,
    /// The newest `seq` the caller may not read, when the caller is a member (their sockets
    /// hold back changes to messages up to it).
    #[serde(skip)]
    pub floor: Seq,
}

fn full_table<S: serde::Serializer>(table: &super::Permissions, s: S) -> Result<S::Ok, S::Error> {
    table.full().serialize(s)
}

/// Counts behind a member's unread badge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unread {
    /// Messages from others after the read marker.
    pub messages: i64,
    /// Of those, the ones that mention the member.
    pub mentions: i64,
}

impl Room {
    /// Shows the room to one of its members.
    pub fn for_member(mut self, m: &Membership, unread: Unread) -> Self {
        self.role = Some(m.role);
        self.read_seq = Some(m.read_seq);
        self.floor = m.visible_from(self.history);
        self.unread = Some(unread.messages);
        self.unread_mentions = Some(unread.mentions);
        self.notify = Some(
            m.notify
                .unwrap_or(NotifyLevel::default_for(self.kind.is_conversation())),
        );
        self
    }
}

/// A user's place in a room.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Membership {
    pub room_id: RoomId,
    pub user_id: UserId,
    pub role: Role,
    /// The room's `last_seq` when the user joined.
    pub joined_seq: Seq,
    /// The newest `seq` the user has read.
    pub read_seq: Seq,
    /// The member's chosen notification level (`None`: the default for the room's kind).
    pub notify: Option<NotifyLevel>,
}

impl Membership {
    /// The newest `seq` this member may *not* read: they read messages with `seq` above it.
    pub fn visible_from(&self, history: HistoryVisibility) -> Seq {
        match history {
            HistoryVisibility::Shared => 0,
            HistoryVisibility::Joined => self.joined_seq,
        }
    }
}

/// One stored message, in its current state.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Message {
    pub id: String,
    pub room_id: RoomId,
    pub seq: Seq,
    pub sender: Sender,
    pub client_id: String,
    /// CommonMark; `""` once deleted.
    pub body: String,
    /// Members named with `@username` in the body.
    pub mentions: Vec<Mention>,
    /// When the server stored it.
    pub ts: DateTime<Utc>,
    /// When the body was last edited (`None`: never).
    pub edited_at: Option<DateTime<Utc>>,
    /// A tombstone: the `seq` and sender stay, the text, edits, reactions and pin are gone.
    pub deleted: bool,
    /// Reactions, in the order they were first given.
    pub reactions: Vec<Reaction>,
    /// Whether it has reactions (the store reads them only for messages that do).
    #[serde(skip)]
    pub has_reactions: bool,
    /// The message this one answers.
    pub reply_to: Option<ReplyTo>,
    pub pinned: bool,
    /// Files sent with it, in the order given.
    pub attachments: Vec<Upload>,
    /// Whether it has attachments (the store reads them only for messages that do).
    #[serde(skip)]
    pub has_attachments: bool,
}

/// An uploaded file, as clients see it (protocol "Uploads").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Upload {
    /// Unguessable.
    pub id: String,
    /// For display only.
    pub filename: String,
    /// Read from the bytes, never from the name.
    pub content_type: String,
    pub size: i64,
    /// Where the bytes are (relative to the server).
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    /// A small JPEG or PNG of an image, or a video's poster frame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
}

impl Upload {
    /// Where an upload's bytes are served.
    pub fn url_of(id: &str) -> String {
        format!("/api/v1/uploads/{id}")
    }
    /// Where an upload's thumbnail is served.
    pub fn thumbnail_url_of(id: &str) -> String {
        format!("/api/v1/uploads/{id}/thumbnail")
    }
}

/// One emoji's reactions to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Reaction {
    pub emoji: String,
    pub count: i64,
    /// Who reacted (the first 20, earliest first), for "who reacted" on hover.
    pub user_ids: Vec<UserId>,
    /// Whether the caller reacted with it: in HTTP answers only (events name the acting user).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub me: Option<bool>,
}

/// The most reactors each reaction lists by id.
pub const REACTION_USERS: usize = 20;

/// What a reply quotes of the message it answers: its sender and the start of its text as it
/// was when the reply was sent. When that message is deleted, the quote's text is erased too
/// (`deleted: true`, `excerpt: ""`); clients apply the same rule on `message_deleted`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReplyTo {
    pub seq: Seq,
    pub sender: Sender,
    /// The start of its text (at most 140 characters, whitespace folded; `""` once deleted).
    pub excerpt: String,
    pub deleted: bool,
}

/// The longest excerpt a reply quotes, in characters.
pub const EXCERPT_CHARS: usize = 140;

impl ReplyTo {
    /// The excerpt a reply quotes of `body`: its first characters, whole lines folded.
    pub fn excerpt(body: &str) -> String {
        let folded: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
        match folded.char_indices().nth(EXCERPT_CHARS) {
            Some((at, _)) => format!("{}…", &folded[..at]),
            None => folded,
        }
    }
}

/// What a timeline event did. New messages are events too: the message's own `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    Message,
    Edited,
    Deleted,
    ReactionAdded(String),
    ReactionRemoved(String),
    Pinned,
    Unpinned,
}

impl EventKind {
    /// The name stored for a change (never for `Message`) and used as the event's `type`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::Edited => "message_edited",
            Self::Deleted => "message_deleted",
            Self::ReactionAdded(_) => "reaction_added",
            Self::ReactionRemoved(_) => "reaction_removed",
            Self::Pinned => "message_pinned",
            Self::Unpinned => "message_unpinned",
        }
    }

    pub fn from_db(kind: &str, emoji: Option<String>) -> Option<Self> {
        Some(match kind {
            "message_edited" => Self::Edited,
            "message_deleted" => Self::Deleted,
            "reaction_added" => Self::ReactionAdded(emoji?),
            "reaction_removed" => Self::ReactionRemoved(emoji?),
            "message_pinned" => Self::Pinned,
            "message_unpinned" => Self::Unpinned,
            _ => return None,
        })
    }

    pub fn emoji(&self) -> Option<&str> {
        match self {
            Self::ReactionAdded(e) | Self::ReactionRemoved(e) => Some(e),
            _ => None,
        }
    }
}

/// One entry of a room's timeline, as `sync` and gap filling replay it: the event's `seq`,
/// what it did and who did it, and the message it concerns in its current state.
#[derive(Debug, Clone)]
pub struct TimelineEvent {
    pub seq: Seq,
    pub kind: EventKind,
    /// Who made the change (the sender, for a new message).
    pub user_id: UserId,
    pub message: Message,
}
