//! Validated values: each `parse` is the only way in, so code holding one can trust it.

use std::collections::HashSet;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use super::spoofing::{hidden_char, name_skeletons};

/// Why a value was refused, naming the field it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    pub field: &'static str,
    pub message: String,
    /// The value was too long, as opposed to malformed (maps to `payload_too_large` for
    /// message bodies).
    pub too_long: bool,
}

impl ValidationError {
    /// A malformed (not too long) value.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::new(field, message)
    }

    fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
            too_long: false,
        }
    }
}

impl std::fmt::Display for ValidationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for ValidationError {}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// Checks a trimmed, single-line text of `min..=max` characters.
fn line(field: &'static str, raw: &str, min: usize, max: usize) -> Result<String, ValidationError> {
    let text = raw.trim();
    let len = text.chars().count();
    if len < min || len > max {
        return Err(ValidationError::new(
            field,
            format!("must be {min}-{max} characters"),
        ));
    }
    if has_control(text) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(text.to_owned())
}

/// Checks a name people see: a [`line`] of 1-64 characters with nothing hidden in it (no
/// invisible or bidi-control characters but joiners inside emoji and scripts that need them:
/// see [`super::spoofing`]).
fn name(field: &'static str, raw: &str) -> Result<String, ValidationError> {
    let text = line(field, raw, 1, 64)?;
    if let Some(c) = hidden_char(&text) {
        return Err(ValidationError::new(
            field,
            format!(
                "must not contain invisible or text-direction control characters (found U+{:04X})",
                u32::from(c)
            ),
        ));
    }
    Ok(text)
}

/// A login name: 3-32 ASCII letters, digits, `.`, `_` or `-`; unique ignoring case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let len = raw.chars().count();
        if !(3..=32).contains(&len) {
            return Err(ValidationError::new("username", "must be 3-32 characters"));
        }
        if !raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(ValidationError::new(
                "username",
                "may contain only letters, digits, '.', '_' and '-'",
            ));
        }
        Ok(Self(raw.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The case-folded form that uniqueness is checked on.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("common-passwords.txt").lines().collect());

/// A new password: 8-128 characters and not among the most common passwords.
pub struct Password(String);

impl Password {
    pub fn parse(raw: &str, field: &'static str) -> Result<Self, ValidationError> {
        let len = raw.chars().count();
        if !(8..=128).contains(&len) {
            return Err(ValidationError::new(field, "must be 8-128 characters"));
        }
        if COMMON_PASSWORDS.contains(raw.to_lowercase().as_str()) {
            return Err(ValidationError::new(field, "is too common; choose another"));
        }
        Ok(Self(raw.to_owned()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A display name: 1-64 characters after trimming, nothing hidden (see [`super::spoofing`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        name("display_name", raw).map(Self)
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A room name: 1-64 characters after trimming, nothing hidden (see [`super::spoofing`]);
/// unique ignoring case and look-alikes ([`RoomName::skeletons`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomName(String);

impl RoomName {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        name("name", raw).map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The case-folded form that lookup by name (join, search) uses; unique too.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
    /// The confusable skeletons that uniqueness is checked on: names that look alike share
    /// one ([`name_skeletons`]).
    pub fn skeletons(&self) -> Vec<String> {
        name_skeletons(&self.0)
    }
    /// The [`key`](Self::key) to find an existing room by. Checked by the rule names had before
    /// hidden characters were refused, so a room named then can still be joined by its name.
    pub fn lookup_key(raw: &str) -> Result<String, ValidationError> {
        line("name", raw, 1, 64).map(|text| text.to_lowercase())
    }
}

/// A room topic: up to 256 characters, may be empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic(String);

impl Topic {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        line("topic", raw, 0, 256).map(Self)
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// The key of a private room: 4-128 characters, compared exactly.
pub struct RoomKey(String);

impl RoomKey {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let len = raw.chars().count();
        if !(4..=128).contains(&len) {
            return Err(ValidationError::new("key", "must be 4-128 characters"));
        }
        Ok(Self(raw.to_owned()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Most characters a message body may hold.
pub const MAX_BODY_CHARS: usize = 4000;

/// A message body: 1-4,000 characters, not blank, no NUL (which PostgreSQL cannot store, and
/// which would fail the whole group commit it landed in). Kept exactly as sent (not trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageBody(String);

impl MessageBody {
    pub fn parse(raw: String) -> Result<Self, ValidationError> {
        if raw.chars().count() > MAX_BODY_CHARS {
            return Err(ValidationError {
                field: "body",
                message: format!("must be at most {MAX_BODY_CHARS} characters"),
                too_long: true,
            });
        }
        if raw.trim().is_empty() {
            return Err(ValidationError::new("body", "must not be empty"));
        }
        if raw.contains('\0') {
            return Err(ValidationError::new(
                "body",
                "must not contain NUL characters",
            ));
        }
        Ok(Self(raw))
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// The most different emoji one message may carry as reactions.
pub const MAX_REACTION_KINDS: i64 = 20;

/// A reaction: exactly one emoji (one grapheme cluster the Unicode emoji list knows, skin tones
/// included), stored in its fully-qualified form so `❤` and `❤️` are one reaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionEmoji(String);

impl ReactionEmoji {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let refuse = || ValidationError::new("emoji", "must be a single emoji");
        // Every emoji has a character outside ASCII (a lone `1` or `#` is text).
        if raw.is_ascii() || raw.len() > 64 {
            return Err(refuse());
        }
        let found = emojis::get(raw)
            .or_else(|| emojis::get(&format!("{raw}\u{fe0f}")))
            .or_else(|| emojis::get(&raw.replace('\u{fe0f}', "")))
            .ok_or_else(refuse)?;
        Ok(Self(found.as_str().to_owned()))
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// The sender's own id for a message, making retries idempotent: 1-64 printable characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(raw: String) -> Result<Self, ValidationError> {
        let len = raw.chars().count();
        if !(1..=64).contains(&len) || has_control(&raw) {
            return Err(ValidationError::new(
                "client_id",
                "must be 1-64 printable characters",
            ));
        }
        Ok(Self(raw))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Whether a room can be found by anyone (`public`) or needs its key (`private`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    Public,
    Private,
}

/// Who may read the messages sent before they joined.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HistoryVisibility {
    /// Members read everything the room keeps.
    #[default]
    Shared,
    /// Members read only what was sent after they joined.
    Joined,
}

impl HistoryVisibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shared => "shared",
            Self::Joined => "joined",
        }
    }
    pub fn from_db(s: &str) -> Self {
        if s == "joined" {
            Self::Joined
        } else {
            Self::Shared
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn usernames() {
        assert!(Username::parse("ana").is_ok());
        assert!(Username::parse("a.b_c-9").is_ok());
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse(&"x".repeat(33)).is_err());
        assert!(Username::parse("ana bob").is_err());
        assert!(Username::parse("anä").is_err());
        assert_eq!(Username::parse("Ana").unwrap().key(), "ana");
    }

    #[test]
    fn passwords() {
        assert!(Password::parse("correct horse battery", "password").is_ok());
        assert!(Password::parse("short", "password").is_err());
        assert!(Password::parse("password", "password").is_err());
        assert!(
            Password::parse("PASSWORD1", "password").is_err(),
            "common ignoring case"
        );
        assert!(Password::parse(&"x".repeat(129), "password").is_err());
    }

    #[test]
    fn room_names_trim_and_fold() {
        let name = RoomName::parse("  Café Rust  ").unwrap();
        assert_eq!(name.as_str(), "Café Rust");
        assert_eq!(name.key(), "café rust");
        assert!(RoomName::parse("   ").is_err());
        assert!(RoomName::parse(&"é".repeat(64)).is_ok());
        assert!(RoomName::parse(&"é".repeat(65)).is_err());
        assert!(RoomName::parse("a\nb").is_err());
    }

    #[test]
    fn names_refuse_hidden_characters() {
        for raw in [
            "\u{202E}lanrete",
            "Gen\u{200B}eral",
            "\u{200B}",
            "\u{200B}\u{200C}\u{200D}",
            "\u{FEFF}",
            "  \u{FEFF}  ",
            "\u{3164}",
            "\u{115F}",
            "a\u{2066}b",
            "\u{FE0F}",
        ] {
            let room = RoomName::parse(raw).unwrap_err();
            assert_eq!(room.field, "name", "{raw:?}");
            assert!(room.message.contains("invisible"), "{raw:?}: {room}");
            let display = DisplayName::parse(raw).unwrap_err();
            assert_eq!(display.field, "display_name", "{raw:?}");
        }
        assert_eq!(
            RoomName::parse("x\u{202E}").unwrap_err().message,
            "must not contain invisible or text-direction control characters (found U+202E)"
        );
        for ok in [
            "Ana 👩\u{1F3FD}\u{200D}💻",
            "🏳\u{FE0F}\u{200D}🌈 pride",
            "می\u{200C}خواهم",
        ] {
            assert!(DisplayName::parse(ok).is_ok(), "{ok:?}");
            assert!(RoomName::parse(ok).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn room_names_unique_by_look() {
        let alike = |a, b| {
            let b = RoomName::parse(b).unwrap().skeletons();
            RoomName::parse(a)
                .unwrap()
                .skeletons()
                .iter()
                .any(|k| b.contains(k))
        };
        assert!(alike("General", "Genera1"));
        assert!(alike("General", "G\u{0435}neral"));
        assert!(alike("General", "GENERAL"));
        assert!(!alike("General", "Generals"));
        // Lookup keeps the old, looser rule: rooms named before it can still be found.
        assert_eq!(
            RoomName::lookup_key(" Gen\u{200B}eral ").unwrap(),
            "gen\u{200B}eral"
        );
        assert!(RoomName::lookup_key("  ").is_err());
    }

    #[test]
    fn bodies() {
        assert!(MessageBody::parse("hi".into()).is_ok());
        assert!(!MessageBody::parse(" ".into()).unwrap_err().too_long);
        assert!(
            MessageBody::parse("😀".repeat(4000)).is_ok(),
            "characters, not bytes"
        );
        assert!(MessageBody::parse("x".repeat(4001)).unwrap_err().too_long);
        assert!(MessageBody::parse("line\nbreak\ttab".into()).is_ok());
        assert!(
            MessageBody::parse("a\0b".into()).is_err(),
            "PostgreSQL cannot store NUL"
        );
    }

    proptest! {
        #[test]
        fn username_parse_never_panics_and_accepts_only_the_alphabet(s in "\\PC{0,40}") {
            if let Ok(u) = Username::parse(&s) {
                prop_assert!((3..=32).contains(&u.as_str().len()));
                prop_assert!(u.as_str().chars().all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c)));
            }
        }

        #[test]
        fn room_name_is_trimmed_and_bounded(s in "\\PC{0,80}") {
            if let Ok(n) = RoomName::parse(&s) {
                prop_assert_eq!(n.as_str(), n.as_str().trim());
                let len = n.as_str().chars().count();
                prop_assert!((1..=64).contains(&len));
            }
        }

        #[test]
        fn names_hold_nothing_hidden(s in "[a\u{200B}-\u{200F}\u{202A}-\u{202E}\u{2060}-\u{2069}\u{FEFF}\u{3164}\u{FE0F}😀]{1,8}") {
            if let Ok(n) = RoomName::parse(&s) {
                prop_assert!(hidden_char(n.as_str()).is_none());
                // What passes is letters and emoji, joiners only inside emoji sequences.
                let joiners = ['\u{200D}', '\u{FE0F}'];
                let only_visible_or_joiners =
                    n.as_str().chars().all(|c| c == 'a' || c == '😀' || joiners.contains(&c));
                prop_assert!(only_visible_or_joiners);
                prop_assert!(!n.as_str().starts_with(joiners));
            }
            prop_assert_eq!(RoomName::parse(&s).is_ok(), DisplayName::parse(&s).is_ok());
        }

        #[test]
        fn look_alike_keys_ignore_case_and_hidden_characters(s in "[a-zA-Z0-9 ]{1,20}") {
            prop_assume!(!s.trim().is_empty());
            let keys = RoomName::parse(&s).unwrap().skeletons();
            let folded = keys.last().unwrap();
            prop_assert!(name_skeletons(&s.to_uppercase()).contains(folded));
            prop_assert!(name_skeletons(&s.to_lowercase()).contains(folded));
            let hidden: String = s.chars().flat_map(|c| [c, '\u{200B}']).collect();
            prop_assert_eq!(&keys, &name_skeletons(&hidden));
        }

        #[test]
        fn body_length_rule(s in "\\PC{0,4100}") {
            let len = s.chars().count();
            let blank = s.trim().is_empty();
            match MessageBody::parse(s) {
                Ok(_) => prop_assert!(len <= MAX_BODY_CHARS && !blank),
                Err(e) => prop_assert!(len > MAX_BODY_CHARS || blank || !e.too_long),
            }
        }
    }
}

#[cfg(test)]
mod reaction_tests {
    use super::ReactionEmoji;

    #[test]
    fn a_reaction_is_one_known_emoji() {
        for ok in ["👍", "❤️", "🇫🇷", "👩‍👩‍👧", "👍🏽", "🫠"] {
            assert_eq!(ReactionEmoji::parse(ok).unwrap().into_inner(), ok, "{ok}");
        }
        assert_eq!(ReactionEmoji::parse("❤").unwrap().into_inner(), "❤️");
        for bad in ["", "a", "👍👍", ":+1:", "👍 ", "<b>", "1", "\u{fe0f}"] {
            assert!(ReactionEmoji::parse(bad).is_err(), "{bad:?}");
        }
    }
}
