//! The chat domain: validated input types, roles and permission rules, and the records the
//! rest of the crate passes around. No axum, no SQL: everything here is plain data and pure
//! functions, so it is unit-tested in isolation.

mod ids;
mod profile;
mod records;
mod rules;
mod spoofing;
mod values;

pub use ids::{RoomId, SessionId, UserId};
pub use profile::{
    LOCALES, Locale, Mention, NotifyLevel, NotifyReason, PresenceMode, PresenceStatus, StatusEmoji,
    StatusText, mention_candidates, resolve_mentions,
};
pub use records::{
    Membership, Message, Retention, Room, RoomKind, Sender, Session, Unread, User, avatar_url,
};
pub use rules::{Role, can_ban, can_change_settings, can_delete_room, can_set_role};
pub use spoofing::name_skeletons;
pub use values::{
    ClientId, DisplayName, HistoryVisibility, MessageBody, Password, RoomKey, RoomName, Topic,
    Username, ValidationError, Visibility,
};

/// A room's sequence number: 1, 2, 3, ... per room, with no gaps.
pub type Seq = i64;
