//! Profiles, presence, notification levels and mentions: the values and rules of a room that
//! feels alive.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{UserId, ValidationError};

/// Most characters of a status text.
pub const MAX_STATUS_CHARS: usize = 140;

/// A status line ("On holiday until Monday"): up to 140 characters, may be empty.
pub struct StatusText(String);

impl StatusText {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let text = raw.trim();
        if text.chars().count() > MAX_STATUS_CHARS {
            return Err(ValidationError::invalid(
                "status_text",
                "must be at most 140 characters",
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(ValidationError::invalid(
                "status_text",
                "must not contain control characters",
            ));
        }
        Ok(Self(text.to_owned()))
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// The emoji shown beside a status: empty, or one emoji (up to 8 code points, so flags,
/// skin tones and joined sequences fit), with no letters, digits or spaces.
pub struct StatusEmoji(String);

impl StatusEmoji {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let text = raw.trim();
        let ok = text.chars().count() <= 8
            && !text
                .chars()
                .any(|c| c.is_alphanumeric() || c.is_whitespace() || c.is_control());
        if !ok {
            return Err(ValidationError::invalid(
                "status_emoji",
                "must be a single emoji",
            ));
        }
        Ok(Self(text.to_owned()))
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// What others see of a user's presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PresenceStatus {
    Online,
    Away,
    Offline,
}

/// The languages the web client is translated into (`docs/protocol.md`, `PATCH /me`).
pub const LOCALES: [&str; 5] = ["en", "es", "de", "fr", "ar"];

/// The language the user chose for the web client: one of [`LOCALES`], or empty to follow
/// the browser's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locale(String);

impl Locale {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        if s.is_empty() || LOCALES.contains(&s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(ValidationError::invalid(
                "locale",
                "must be empty (follow the browser) or one of en, es, de, fr, ar",
            ))
        }
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// What the user chose: follow their connections (`auto`), always `away`, or appear offline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PresenceMode {
    #[default]
    Auto,
    Away,
    Invisible,
}

impl PresenceMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Away => "away",
            Self::Invisible => "invisible",
        }
    }
    pub fn from_db(s: &str) -> Self {
        match s {
            "away" => Self::Away,
            "invisible" => Self::Invisible,
            _ => Self::Auto,
        }
    }
}

/// When a room's messages deserve a notification for one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotifyLevel {
    /// Every message from someone else.
    All,
    /// Only messages that mention the member.
    Mentions,
    /// Never.
    Muted,
}

impl NotifyLevel {
    /// The level of a member who has not chosen: direct messages notify, rooms on mentions.
    pub fn default_for(direct: bool) -> Self {
        if direct { Self::All } else { Self::Mentions }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Mentions => "mentions",
            Self::Muted => "muted",
        }
    }
    pub fn from_db(s: &str) -> Option<Self> {
        match s {
            "all" => Some(Self::All),
            "mentions" => Some(Self::Mentions),
            "muted" => Some(Self::Muted),
            _ => None,
        }
    }

    /// Why a message deserves a notification at this level, if it does.
    pub fn reason(self, mentioned: bool, direct: bool) -> Option<NotifyReason> {
        match self {
            Self::Muted => None,
            _ if mentioned => Some(NotifyReason::Mention),
            Self::All if direct => Some(NotifyReason::Direct),
            Self::All => Some(NotifyReason::Message),
            Self::Mentions => None,
        }
    }
}

/// Why a `notify` event was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotifyReason {
    Mention,
    Direct,
    Message,
}

/// A mention of a member in a message body: `start` and `end` count Unicode code points
/// (`[...body].slice(start, end)` in JavaScript is the `@name`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Mention {
    pub user_id: UserId,
    pub username: String,
    pub start: usize,
    pub end: usize,
}

/// Every `@name` in a body that could be a username: preceded by the start or a character
/// that cannot be part of a name (so `a@b.c` is not a mention), then 3-32 name characters.
/// Returns `(start, end, name)` with code-point offsets; a trailing `.` is not part of the name.
pub fn mention_candidates(body: &str) -> Vec<(usize, usize, String)> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    let chars: Vec<char> = body.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let boundary = i == 0 || !(is_name(chars[i - 1]) || chars[i - 1] == '@');
        if chars[i] == '@' && boundary {
            let mut end = i + 1;
            while end < chars.len() && is_name(chars[end]) {
                end += 1;
            }
            let scanned = end;
            while end > i + 1 && chars[end - 1] == '.' {
                end -= 1; // "thanks @ana." mentions ana
            }
            if (3..=32).contains(&(end - i - 1)) {
                found.push((i, end, chars[i + 1..end].iter().collect()));
            }
            end = scanned;
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    found
}

/// The mentions among a body's candidates ([`mention_candidates`], their names case-folded),
/// given the room's members they could name (by case-folded username: their id and
/// username). Names of anyone else are plain text.
pub fn resolve_mentions(
    candidates: Vec<(usize, usize, String)>,
    members: &std::collections::HashMap<String, (UserId, String)>,
) -> Vec<Mention> {
    candidates
        .into_iter()
        .filter_map(|(start, end, key)| {
            let (user_id, username) = members.get(&key)?.clone();
            Some(Mention {
                user_id,
                username,
                start,
                end,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn mentions_resolve_to_members_only_whatever_the_case() {
        let members = std::collections::HashMap::from([(
            "ana".to_owned(),
            (UserId::from("U_ana".to_owned()), "Ana".to_owned()),
        )]);
        let folded = |body: &str| {
            let mut found = mention_candidates(body);
            for (_, _, name) in &mut found {
                name.make_ascii_lowercase();
            }
            found
        };
        let found = resolve_mentions(folded("hi @ANA and @bob, @ana."), &members);
        let spans: Vec<(usize, usize, &str)> = found
            .iter()
            .map(|m| (m.start, m.end, m.username.as_str()))
            .collect();
        assert_eq!(spans, [(3, 7, "Ana"), (18, 22, "Ana")]);
    }

    fn names(body: &str) -> Vec<String> {
        mention_candidates(body)
            .into_iter()
            .map(|(_, _, n)| n)
            .collect()
    }

    #[test]
    fn finds_mentions_at_word_boundaries() {
        assert_eq!(names("@ana hi"), ["ana"]);
        assert_eq!(
            names("hi @ana, @bob.smith and @cat."),
            ["ana", "bob.smith", "cat"]
        );
        assert_eq!(names("mail ana@example.com"), Vec::<String>::new());
        assert_eq!(names("@@ana @x @ab"), Vec::<String>::new());
        assert_eq!(names("(@Ana_B-2)"), ["Ana_B-2"]);
        assert_eq!(names(&format!("@{}", "a".repeat(33))), Vec::<String>::new());
        assert_eq!(
            mention_candidates("héé @ana"),
            [(4, 8, "ana".to_owned())],
            "code-point offsets"
        );
    }

    #[test]
    fn notify_levels() {
        use NotifyLevel::*;
        assert_eq!(All.reason(false, false), Some(NotifyReason::Message));
        assert_eq!(All.reason(false, true), Some(NotifyReason::Direct));
        assert_eq!(Mentions.reason(true, false), Some(NotifyReason::Mention));
        assert_eq!(Mentions.reason(false, true), None);
        assert_eq!(Muted.reason(true, true), None);
        assert_eq!(NotifyLevel::default_for(true), All);
        assert_eq!(NotifyLevel::default_for(false), Mentions);
    }

    #[test]
    fn status_values() {
        assert!(StatusText::parse(&"x".repeat(140)).is_ok());
        assert!(StatusText::parse(&"x".repeat(141)).is_err());
        assert!(StatusEmoji::parse("🌴").is_ok());
        assert!(StatusEmoji::parse("👩🏽‍💻").is_ok());
        assert!(StatusEmoji::parse("").is_ok());
        assert!(StatusEmoji::parse("hi").is_err());
    }

    proptest! {
        #[test]
        fn candidates_point_at_their_text(body in "\\PC{0,120}") {
            let chars: Vec<char> = body.chars().collect();
            for (start, end, name) in mention_candidates(&body) {
                prop_assert_eq!(chars[start], '@');
                let slice: String = chars[start + 1..end].iter().collect();
                prop_assert_eq!(slice, name);
            }
        }
    }
}
