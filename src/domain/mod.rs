//! The chat domain: validated input types, roles and permission rules, and the records the
//! rest of the crate passes around. No axum, no SQL: everything here is plain data and pure
//! functions, so it is unit-tested in isolation.

mod admin;
mod device;
mod ids;
mod profile;
mod records;
mod rules;
mod sealed;
mod search;
mod settings;
mod spoofing;
mod values;

pub use admin::{
    AccountSummary, AuditFilter, AuditRecord, Invite, Report, ReportedMessage, Resolution, Totals,
};
pub use device::describe_device;
pub use ids::{RoomId, SessionId, UserId};
pub use profile::{
    LOCALES, Locale, Mention, NotifyLevel, NotifyReason, PresenceMode, PresenceStatus, StatusEmoji,
    StatusText, mention_candidates, resolve_mentions,
};
pub use records::{
    EXCERPT_CHARS, EventKind, Membership, Message, REACTION_USERS, Reaction, ReplyTo, Retention,
    Room, RoomKind, Sender, Session, TimelineEvent, Unread, Upload, User, avatar_url,
};
pub use rules::{
    Action, Permissions, Role, allowed, can_ban, can_change_settings, can_change_table,
    can_delete_message, can_delete_room, can_moderate, can_set_role,
};
pub use sealed::{
    JoinProof, MAX_SEALED_BODY_CHARS, NOT_SEALED, SEAL_KDF, SEALED_CONTENT_TYPE, SEALED_ONLY,
    SEALED_PREFIX, Seal, SealRequest, is_sealed_body,
};
pub use search::{MAX_TERMS, highlights, matches, search_terms, search_text};
pub use settings::{Registration, ServerSettings};
pub use spoofing::{display_filename, name_skeletons};
pub use values::{
    ClientId, DisplayName, HistoryVisibility, MAX_REACTION_KINDS, MessageBody, Password,
    ReactionEmoji, RoomKey, RoomName, Topic, Username, ValidationError, Visibility,
};

/// A room's sequence number: each timeline event (a message or a change to one) takes the
/// room's next, so they rise without gaps over events; message `seq`s rise but may skip.
pub type Seq = i64;
