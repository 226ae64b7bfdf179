//! Names that deceive the eye: characters that show nothing or reorder the text around them
//! (refused in room and display names), and the confusable skeleton under which room names
//! that look alike are one name.
//!
//! **Hidden characters.** A name may not hold a bidi control (`Bidi_Control`: U+061C,
//! U+200E/U+200F, U+202A–U+202E, U+2066–U+2069), a format character (general category `Cf`:
//! U+200B–U+200D, U+2060, U+FEFF, U+00AD, U+180E, tag characters, ...), a line or paragraph
//! separator (U+2028/U+2029), or any other `Default_Ignorable_Code_Point` (U+034F,
//! U+115F/U+1160, U+3164, U+FFA0, variation selectors, ...). Three uses are legitimate and
//! allowed:
//!
//! - ZWJ (U+200D) inside an emoji sequence: right after a pictograph (which may carry VS16 or
//!   a skin tone) and right before another, as in 👩🏽‍💻, 🏳️‍🌈 or ❤️‍🔥;
//! - ZWJ and ZWNJ (U+200C) where IDNA allows them (RFC 5892, CONTEXTJ): after a virama, for
//!   Indic conjuncts (ශ්‍රී), and ZWNJ between joining letters, as Persian writes می‌خواهم;
//! - VS16 (U+FE0F, "show as emoji") right after a character that has an emoji form (❤️, 1️⃣).
//!
//! Anything else is refused, including tag sequences (so the England, Scotland and Wales flags:
//! tag characters can carry hidden text), VS15, ideographic and Mongolian variation selectors.
//! Since no hidden character is allowed on its own, a name is never invisible as a whole.
//! Unassigned and private-use code points are not refused: a client may know newer emoji than
//! this server's Unicode data.

use icu_properties::props::{
    BidiControl, CanonicalCombiningClass, DefaultIgnorableCodePoint, Emoji, EmojiModifier,
    ExtendedPictographic, GeneralCategory, JoiningType,
};
use icu_properties::{CodePointMapData, CodePointSetData};
use unicode_normalization::UnicodeNormalization;

const ZWNJ: char = '\u{200C}';
const ZWJ: char = '\u{200D}';
const VS16: char = '\u{FE0F}';

/// The first character of `name` that the rule above refuses, if any.
pub(crate) fn hidden_char(name: &str) -> Option<char> {
    let chars: Vec<char> = name.chars().collect();
    (0..chars.len())
        .find(|&i| is_hidden(chars[i]) && !allowed_at(&chars, i))
        .map(|i| chars[i])
}

/// An uploaded file's name made safe to show: the last path component, without control or
/// hidden characters (a right-to-left override turns `gpj.exe` into what reads as
/// `exe.jpg`), trimmed, at most 200 characters; `file` when nothing is left.
pub fn display_filename(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = last
        .nfc()
        .filter(|&c| !c.is_control() && !is_hidden(c))
        .take(200)
        .collect();
    let clean = clean.trim().trim_start_matches('.').trim();
    if clean.is_empty() {
        "file".to_owned()
    } else {
        clean.to_owned()
    }
}

/// Shows nothing by itself, or changes how the text around it is ordered or joined.
fn is_hidden(c: char) -> bool {
    // U+2800 BRAILLE PATTERN BLANK is a visible-width blank in no category above.
    c == '\u{2800}'
        || CodePointSetData::new::<BidiControl>().contains(c)
        || CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
        || matches!(
            CodePointMapData::<GeneralCategory>::new().get(c),
            GeneralCategory::Format
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
        )
}

/// The hidden character at `i` does a visible job there (the three exceptions above).
fn allowed_at(chars: &[char], i: usize) -> bool {
    let (before, after) = (&chars[..i], &chars[i + 1..]);
    match chars[i] {
        ZWJ => joins_emoji(before, after) || after_virama(before),
        ZWNJ => after_virama(before) || between_joining_letters(before, after),
        VS16 => before
            .last()
            .is_some_and(|&c| CodePointSetData::new::<Emoji>().contains(c)),
        _ => false,
    }
}

fn joins_emoji(before: &[char], after: &[char]) -> bool {
    let pictograph = CodePointSetData::new::<ExtendedPictographic>();
    let modifier = CodePointSetData::new::<EmojiModifier>();
    let base = before
        .iter()
        .rev()
        .find(|&&c| c != VS16 && !modifier.contains(c));
    base.is_some_and(|&c| pictograph.contains(c))
        && after.first().is_some_and(|&c| pictograph.contains(c))
}

fn after_virama(before: &[char]) -> bool {
    before.last().is_some_and(|&c| {
        CodePointMapData::<CanonicalCombiningClass>::new().get(c) == CanonicalCombiningClass::Virama
    })
}

/// RFC 5892 A.1: `(L|D) T* ZWNJ T* (R|D)` by `Joining_Type`.
fn between_joining_letters(before: &[char], after: &[char]) -> bool {
    let joining = CodePointMapData::<JoiningType>::new();
    let non_transparent =
        |&c: &char| Some(joining.get(c)).filter(|&t| t != JoiningType::Transparent);
    let left = before.iter().rev().find_map(non_transparent);
    let right = after.iter().find_map(non_transparent);
    matches!(left, Some(t) if t == JoiningType::LeftJoining || t == JoiningType::DualJoining)
        && matches!(right, Some(t) if t == JoiningType::RightJoining || t == JoiningType::DualJoining)
}

/// The keys under which room names that look alike are one name (a room holds each of its
/// keys alone): the UTS #39 confusable skeleton of the name as written, so "GeneraI" (capital
/// i) meets "General", and of the name lower-cased, so "GENERA1" meets "general". Both start
/// from the NFKC form; the lower-cased one is lower-cased again after the skeleton (prototypes
/// may be capitals: `0` becomes `O`, which must meet `o`); white space is removed. So "General", "GENERAL", "Genera1", "GeneraI", "Gеneral" (Cyrillic е),
/// "Gen\u{200B}eral" and "Ｇｅｎｅｒａｌ" are one name, while "MAIL" and "mall" stay two (one
/// key alone, the case-folded skeleton of both, would make every `i` an `l`).
///
/// Stored keys come from the Unicode data of the `unicode-security` version that computed them;
/// a new version may map a few characters differently, which only matters for names made of
/// those characters.
pub fn name_skeletons(name: &str) -> Vec<String> {
    // Spacing does not tell names apart: a hair space (which NFKC makes a plain one) is
    // nearly invisible, so "Gen eral" is "General".
    let spaced = |s: String| s.split_whitespace().collect::<String>();
    let normal: String = name.nfkc().collect();
    let as_written = spaced(unicode_security::skeleton(&normal).collect());
    let folded = unicode_security::skeleton(&normal.to_lowercase())
        .collect::<String>()
        .to_lowercase();
    let folded = spaced(folded);
    if folded == as_written {
        vec![folded]
    } else {
        vec![as_written, folded]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_are_found() {
        for (name, c) in [
            ("evil\u{202E}gnp.exe", '\u{202E}'),
            ("\u{2066}ab\u{2069}", '\u{2066}'),
            ("a\u{200E}", '\u{200E}'),
            ("\u{061C}x", '\u{061C}'),
            ("zero\u{200B}width", '\u{200B}'),
            ("\u{FEFF}", '\u{FEFF}'),
            ("word\u{2060}joiner", '\u{2060}'),
            ("soft\u{00AD}hyphen", '\u{00AD}'),
            ("mongolian\u{180E}", '\u{180E}'),
            ("\u{3164}", '\u{3164}'),
            ("General\u{2800}", '\u{2800}'),
            ("\u{115F}\u{1160}", '\u{115F}'),
            ("half\u{FFA0}width", '\u{FFA0}'),
            ("cgj\u{034F}", '\u{034F}'),
            ("line\u{2028}break", '\u{2028}'),
            ("tag\u{E0041}", '\u{E0041}'),
            ("\u{200D}", '\u{200D}'),
            ("\u{200C}", '\u{200C}'),
            ("\u{FE0F}", '\u{FE0F}'),
            ("a\u{FE0F}", '\u{FE0F}'),
            ("a\u{FE00}", '\u{FE00}'),
            ("\u{2764}\u{FE0E}", '\u{FE0E}'),
            ("ab\u{200D}cd", '\u{200D}'),
            ("ab\u{200C}cd", '\u{200C}'),
            ("😀\u{200D}", '\u{200D}'),
            ("\u{200D}😀", '\u{200D}'),
            ("😀\u{200D}a", '\u{200D}'),
        ] {
            assert_eq!(hidden_char(name), Some(c), "{name:?}");
        }
    }

    #[test]
    fn emoji_sequences_and_scripts_that_need_joiners_pass() {
        for name in [
            "Plain name",
            "Café ☕",
            "👨\u{200D}👩\u{200D}👧\u{200D}👦", // family
            "👩\u{1F3FD}\u{200D}💻",            // technologist, skin tone
            "🏳\u{FE0F}\u{200D}🌈",              // rainbow flag
            "❤\u{FE0F}\u{200D}🔥",              // heart on fire
            "🏴\u{200D}\u{2620}\u{FE0F}",       // pirate flag
            "👩\u{200D}🦰",                     // red hair
            "🫱\u{1F3FB}\u{200D}🫲\u{1F3FF}",   // handshake, two tones
            "1\u{FE0F}\u{20E3} keycap",         // 1️⃣
            "I \u{2764}\u{FE0F} Rust",          // ❤️
            "ශ\u{0DCA}\u{200D}ර\u{0DD3}",       // Sinhala "Sri"
            "می\u{200C}خواهم",                  // Persian
            "क\u{094D}\u{200C}ष",               // Devanagari, explicit virama
            "עברית",
            "العربية",
            "🇫🇷 France",
        ] {
            assert_eq!(hidden_char(name), None, "{name:?}");
        }
    }

    fn alike(a: &str, b: &str) -> bool {
        let b = name_skeletons(b);
        name_skeletons(a).iter().any(|k| b.contains(k))
    }

    #[test]
    fn look_alikes_share_a_skeleton() {
        for alike_general in [
            "general",
            "GENERAL",
            "Genera1",
            "GeneraI",
            "G\u{0435}neral",
            "Gen\u{200B}eral",
            "Ｇｅｎｅｒａｌ",
            "  General  ",
            "Gen\u{200A}eral",
        ] {
            assert!(alike("General", alike_general), "{alike_general:?}");
        }
        assert!(alike("r00m  one", "Room one"));
        assert!(alike("R00M", "room"));
        assert!(alike("rnodern", "modern"));
        assert!(alike("Ian", "lan"));
        for (a, b) in [
            ("General", "Generic"),
            ("Café", "Cafe"),
            ("rust", "rusty"),
            ("MAIL", "mall"),
            ("mail", "mall"),
        ] {
            assert!(!alike(a, b), "{a:?} {b:?}");
        }
        assert_eq!(name_skeletons("general").len(), 1, "no key twice");
    }
}
