//! The WebSocket protocol's typed frames: what clients send ([`ClientFrame`]) and what the
//! server sends ([`ServerEvent`]), exactly as `docs/protocol.md` describes them.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use chrono::{DateTime, Utc};

use crate::domain::{
    EventKind, Message, NotifyReason, PresenceMode, PresenceStatus, Role, Room, RoomId, Sender,
    Seq, SessionId, TimelineEvent, User, UserId,
};

/// A frame from the client, tagged by `"type"`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    Send {
        room_id: RoomId,
        client_id: String,
        body: String,
        /// The `seq` of the message this one answers.
        #[serde(default)]
        reply_to: Option<Seq>,
        /// Ids of the sender's uploads to send with it (at most 10; `body` may then be empty).
        #[serde(default)]
        attachments: Vec<String>,
    },
    /// Replay what was missed: the last `seq` seen per room.
    Sync {
        since: HashMap<RoomId, Seq>,
    },
    Typing {
        room_id: RoomId,
    },
    Read {
        room_id: RoomId,
        seq: Seq,
    },
    /// Choose how others see you: `auto`, `away` or `invisible`.
    Presence {
        mode: PresenceMode,
    },
}

/// The `type` values clients may send, for telling an unknown type from a malformed frame.
pub const CLIENT_TYPES: [&str; 5] = ["send", "sync", "typing", "read", "presence"];

/// An event from the server, tagged by `"type"`.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerEvent<'a> {
    /// First frame after authentication.
    Ready {
        user: &'a User,
        session_id: &'a SessionId,
        rooms: &'a [Room],
        /// What this server accepts, so clients can refuse before sending.
        limits: Limits,
    },
    /// The sender's message is durably stored.
    Ack {
        client_id: &'a str,
        message: &'a Message,
    },
    Message {
        message: &'a Message,
    },
    /// Changes to a message, each a timeline event with its own `seq`; `message` is the
    /// message after the change (in a `sync` replay, as it is now).
    MessageEdited(Change<'a>),
    MessageDeleted(Change<'a>),
    ReactionAdded(Change<'a>),
    ReactionRemoved(Change<'a>),
    MessagePinned(Change<'a>),
    MessageUnpinned(Change<'a>),
    /// Replay for one room is done; `complete: false` when only the newest part was sent.
    Synced {
        room_id: &'a RoomId,
        last_seq: Seq,
        complete: bool,
    },
    Error {
        code: &'a str,
        message: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        client_id: Option<&'a str>,
        /// The room the failed command named, when it named one.
        #[serde(skip_serializing_if = "Option::is_none")]
        room_id: Option<&'a RoomId>,
        /// `busy` and `rate_limited`: milliseconds to wait before trying again.
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
    RoomUpdated {
        room_id: &'a RoomId,
        room: &'a Room,
    },
    RoomDeleted {
        room_id: &'a RoomId,
    },
    MemberJoined {
        room_id: &'a RoomId,
        user_id: &'a UserId,
        user: &'a Sender,
    },
    MemberLeft {
        room_id: &'a RoomId,
        user_id: &'a UserId,
    },
    /// A member removed by a moderator (sent as `member_left` with `"kicked": true`).
    #[serde(rename = "member_left")]
    MemberKicked {
        room_id: &'a RoomId,
        user_id: &'a UserId,
        kicked: bool,
    },
    MemberBanned {
        room_id: &'a RoomId,
        user_id: &'a UserId,
        reason: &'a str,
    },
    RoleChanged {
        room_id: &'a RoomId,
        user_id: &'a UserId,
        role: Role,
    },
    /// `active: true` while the user types (it ends by itself after `expires_in_ms` unless
    /// repeated); `active: false` when they sent a message or stopped.
    Typing {
        room_id: &'a RoomId,
        user_id: &'a UserId,
        user: &'a Sender,
        active: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        expires_in_ms: Option<u64>,
    },
    /// The user's read marker moved (sent to their own connections).
    Read {
        room_id: &'a RoomId,
        seq: Seq,
    },
    /// A member's read marker moved (sent to the room, when that member shares receipts).
    Receipt {
        room_id: &'a RoomId,
        user_id: &'a UserId,
        seq: Seq,
    },
    /// What others see of a member changed.
    Presence {
        room_id: &'a RoomId,
        user_id: &'a UserId,
        status: PresenceStatus,
        #[serde(skip_serializing_if = "Option::is_none")]
        last_seen: Option<DateTime<Utc>>,
    },
    /// A user's profile changed (to each room they are in, and to their own connections
    /// without `room_id`).
    UserUpdated {
        #[serde(skip_serializing_if = "Option::is_none")]
        room_id: Option<&'a RoomId>,
        user: &'a User,
    },
    /// This message deserves a notification under the user's level for the room.
    Notify {
        room_id: &'a RoomId,
        seq: Seq,
        message_id: &'a str,
        reason: NotifyReason,
    },
    /// The account signed in somewhere else (to its other sessions).
    NewLogin {
        session: &'a crate::domain::Session,
    },
    /// A message was reported (to the room's moderators and the server's admins).
    ReportFiled {
        report: &'a crate::domain::Report,
    },
}

/// What anyone (signed in or not) may know of the server: `GET /server`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ServerInfo {
    pub name: String,
    pub welcome_text: String,
    pub registration: crate::domain::Registration,
    /// Whether the one-time setup link is still waiting to make the first admin.
    pub needs_setup: bool,
    pub version: &'static str,
}

/// A change event's fields.
#[derive(Debug, Serialize)]
pub struct Change<'a> {
    pub room_id: &'a RoomId,
    pub seq: Seq,
    pub message_seq: Seq,
    /// Who made the change.
    pub user_id: &'a UserId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emoji: Option<&'a str>,
    pub message: &'a Message,
}

impl<'a> ServerEvent<'a> {
    /// The event a timeline entry is sent as: `message` for a new message, else its change.
    pub fn timeline(e: &'a TimelineEvent) -> Self {
        let change = Change {
            room_id: &e.message.room_id,
            seq: e.seq,
            message_seq: e.message.seq,
            user_id: &e.user_id,
            emoji: e.kind.emoji(),
            message: &e.message,
        };
        match e.kind {
            EventKind::Message => Self::Message {
                message: &e.message,
            },
            EventKind::Edited => Self::MessageEdited(change),
            EventKind::Deleted => Self::MessageDeleted(change),
            EventKind::ReactionAdded(_) => Self::ReactionAdded(change),
            EventKind::ReactionRemoved(_) => Self::ReactionRemoved(change),
            EventKind::Pinned => Self::MessagePinned(change),
            EventKind::Unpinned => Self::MessageUnpinned(change),
        }
    }
}

impl ServerEvent<'_> {
    /// Serialises the event once; the text is then shared by every receiver.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("server events always serialise")
    }
}

/// WebSocket close codes the server uses (documented in `docs/protocol.md`).
/// The server's limits a client may check before it sends (in `ready`).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Limits {
    /// The largest file one upload may be, in bytes.
    pub max_upload_bytes: u64,
    /// The most files one message holds.
    pub max_attachments: usize,
}

/// Parses one text frame from a client; when it is not a frame, the `error` event (as text)
/// that says why: malformed JSON, an unknown `type`, or bad fields. Never panics, whatever
/// the text (`fuzz/fuzz_targets/client_frame.rs`).
pub fn parse_client_frame(text: &str) -> Result<ClientFrame, String> {
    serde_json::from_str::<ClientFrame>(text).map_err(|e| parse_error(text, &e))
}

/// Explains why a frame did not parse: malformed JSON, an unknown `type`, or bad fields.
fn parse_error(text: &str, e: &serde_json::Error) -> String {
    let value: Option<serde_json::Value> = serde_json::from_str(text).ok();
    let client_id = value
        .as_ref()
        .and_then(|v| v.get("client_id"))
        .and_then(|c| c.as_str());
    let kind = value
        .as_ref()
        .and_then(|v| v.get("type"))
        .and_then(|t| t.as_str());
    let (code, message) = match (&value, kind) {
        (None, _) => ("invalid_input", format!("malformed JSON: {e}")),
        (Some(v), _) if !v.is_object() => ("invalid_input", "a frame must be a JSON object".into()),
        (Some(_), None) => ("invalid_input", "missing \"type\"".into()),
        (Some(_), Some(t)) if !CLIENT_TYPES.contains(&t) => (
            "unknown_type",
            format!("unknown type {t:?}; expected one of {CLIENT_TYPES:?}"),
        ),
        (Some(_), Some(_)) => ("invalid_input", format!("bad fields: {e}")),
    };
    ServerEvent::Error {
        code,
        message: &message,
        client_id,
        room_id: None,
        retry_after_ms: None,
    }
    .to_text()
}

pub mod close {
    /// The server is shutting down; reconnect (to another node) and `sync`.
    pub const GOING_AWAY: u16 = 1001;
    /// The node lost and regained its link to the other nodes: reconnect and `sync`.
    pub const SERVICE_RESTART: u16 = 1012;
    /// The client broke the WebSocket framing rules (reserved bits or opcodes, a stray
    /// continuation, a fragmented control frame).
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A text frame that is not UTF-8.
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// A frame was larger than the limit.
    pub const TOO_BIG: u16 = 1009;
    /// An unexpected server error.
    pub const INTERNAL: u16 = 1011;
    /// The session was signed out (logout, password change): do not reconnect with it.
    pub const SESSION_REVOKED: u16 = 4001;
    /// The client read too slowly and its outbound queue filled; reconnect and `sync`.
    pub const SLOW_CONSUMER: u16 = 4008;
    /// No frame (not even a pong) arrived within the idle timeout.
    pub const IDLE: u16 = 4009;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn code_of(text: &str) -> Option<String> {
        match parse_client_frame(text) {
            Ok(_) => None,
            Err(event) => {
                let event: serde_json::Value = serde_json::from_str(&event).unwrap();
                assert_eq!(event["type"], "error");
                Some(event["code"].as_str().unwrap().to_owned())
            }
        }
    }

    #[test]
    fn frames_parse_or_explain_why_not() {
        assert_eq!(
            code_of(r#"{"type":"send","room_id":"r","client_id":"c","body":"b"}"#),
            None
        );
        assert_eq!(code_of(r#"{"type":"sync","since":{"r":3}}"#), None);
        assert_eq!(code_of("{oops").as_deref(), Some("invalid_input"));
        assert_eq!(
            code_of(r#"{"type":"dance"}"#).as_deref(),
            Some("unknown_type")
        );
        assert_eq!(
            code_of(r#"{"type":"read","room_id":"r"}"#).as_deref(),
            Some("invalid_input")
        );
        assert_eq!(
            code_of(r#"{"type":"read","room_id":"r","seq":1,"extra":true}"#).as_deref(),
            Some("invalid_input")
        );
    }

    proptest! {
        #[test]
        fn any_text_gets_a_frame_or_an_error_event(text in "\\PC{0,200}") {
            let _ = code_of(&text);
        }

        #[test]
        fn json_shaped_noise_never_panics(
            ty in prop::sample::select(vec!["send", "sync", "typing", "read", "x", ""]),
            key in "[a-z_]{1,10}",
            value in prop_oneof![Just("1".to_owned()), Just("null".to_owned()), Just("{}".to_owned()), "\"\\PC{0,20}\""],
        ) {
            let text = format!(r#"{{"type":"{ty}","{key}":{value}}}"#);
            let _ = code_of(&text);
        }
    }
}
