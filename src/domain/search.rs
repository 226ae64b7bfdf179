//! What search indexes and looks for: words, folded the same way for the index and the query
//! (compatibility-decomposed, accents dropped, lower-cased, split at anything that is not a
//! letter or digit), so `Café` is found by `cafe`, `deploy.sh` by `deploy`, `snake_case_name`
//! by `case`, and `https://example.com/docs` by `example`. Every term of a query must be found;
//! the last also finds the words it begins (`deplo` finds "deployment"). Where in a body the
//! words a query found are, for highlighting.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The most terms a query may hold.
pub const MAX_TERMS: usize = 8;

/// The longest word indexed, in bytes: a longer run of letters (a pasted key, a wall of "x") is
/// no word anyone searches for, and would only bloat the index.
pub const MAX_WORD_BYTES: usize = 64;

/// The folded words of `text`, with the code-point range each came from.
fn words_at(text: &str) -> Vec<(String, usize, usize)> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    let mut folded = String::new();
    let mut end = |current: &mut String, start, at| {
        if current.len() <= MAX_WORD_BYTES {
            words.push((std::mem::take(current), start, at));
        } else {
            current.clear();
        }
    };
    for (at, c) in text.chars().enumerate() {
        // ASCII folds to itself (lower-cased): the common case skips decomposition.
        let word_char = if c.is_ascii() {
            folded.clear();
            folded.push(c.to_ascii_lowercase());
            c.is_ascii_alphanumeric()
        } else {
            folded.clear();
            for d in c.nfkd().filter(|d| !is_combining_mark(*d)) {
                folded.extend(d.to_lowercase());
            }
            !folded.is_empty() && folded.chars().all(char::is_alphanumeric)
        };
        if word_char {
            if current.is_empty() {
                start = at;
            }
            if current.len() <= MAX_WORD_BYTES {
                current.push_str(&folded);
            }
        } else if !current.is_empty() {
            end(&mut current, start, at);
        }
    }
    if !current.is_empty() {
        let at = text.chars().count();
        end(&mut current, start, at);
    }
    words
}

/// What the index holds for a body: its folded words, separated by single spaces.
pub fn search_text(body: &str) -> String {
    let words: Vec<String> = words_at(body).into_iter().map(|(w, _, _)| w).collect();
    words.join(" ")
}

/// A query's terms (folded like the index), or why there are none.
pub fn search_terms(q: &str) -> Result<Vec<String>, super::ValidationError> {
    if q.chars().count() > 256 || q.chars().any(char::is_control) {
        return Err(super::ValidationError::invalid(
            "q",
            "must be at most 256 characters, without control characters",
        ));
    }
    let mut terms: Vec<String> = Vec::new();
    for (word, _, _) in words_at(q) {
        if !terms.contains(&word) {
            terms.push(word);
        }
    }
    if terms.is_empty() {
        return Err(super::ValidationError::invalid(
            "q",
            "must contain a letter or digit",
        ));
    }
    terms.truncate(MAX_TERMS);
    Ok(terms)
}

/// The code-point ranges of the words in `body` a query found: a term itself, or a word the
/// last term begins.
pub fn highlights(body: &str, terms: &[String]) -> Vec<(usize, usize)> {
    let Some((last, whole)) = terms.split_last() else {
        return Vec::new();
    };
    words_at(body)
        .into_iter()
        .filter(|(word, _, _)| word.starts_with(last.as_str()) || whole.contains(word))
        .map(|(_, start, end)| (start, end))
        .collect()
}

/// Whether `body` holds every term of a query as a word, and a word the last term begins.
pub fn matches(body: &str, terms: &[String]) -> bool {
    let Some((last, whole)) = terms.split_last() else {
        return true;
    };
    let words = words_at(body);
    words.iter().any(|(w, _, _)| w.starts_with(last.as_str()))
        && whole.iter().all(|t| words.iter().any(|(w, _, _)| w == t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_folded_and_split_at_punctuation() {
        assert_eq!(search_text("Café DÉJÀ-vu"), "cafe deja vu");
        assert_eq!(
            search_text("see https://example.com/docs?q=1 and snake_case_name()"),
            "see https example com docs q 1 and snake case name"
        );
        assert_eq!(search_text("ﬁne ①"), "fine 1");
        assert_eq!(search_text("🎉 !!"), "");
        let terms = |q: &str| search_terms(q).unwrap();
        assert!(matches("Deploy the café", &terms("cafe depl")));
        assert!(
            !matches("Deploy the café", &terms("depl cafe")),
            "only the last is a prefix"
        );
        assert!(!matches("internationalism", &terms("internationaliz")));
        let long = "x".repeat(MAX_WORD_BYTES + 1);
        assert_eq!(
            search_text(&format!("a {long} b")),
            "a b",
            "too long to be a word"
        );
        assert_eq!(search_text("日本語 テキスト"), "日本語 テキスト");
    }

    #[test]
    fn queries_become_distinct_terms() {
        assert_eq!(search_terms("  Deplo  déplo ").unwrap(), ["deplo"]);
        assert_eq!(search_terms("example.com").unwrap(), ["example", "com"]);
        assert!(search_terms("").is_err());
        assert!(search_terms("!!! ...").is_err());
        assert!(search_terms("a\u{0}b").is_err());
        assert_eq!(
            search_terms("a b c d e f g h i j").unwrap().len(),
            MAX_TERMS
        );
    }

    #[test]
    fn highlights_cover_the_words_found() {
        let body = "Deployment of café ran, deploy again, cafés";
        let terms = search_terms("cafe deplo").unwrap();
        let chars: Vec<char> = body.chars().collect();
        let found: Vec<String> = highlights(body, &terms)
            .into_iter()
            .map(|(s, e)| chars[s..e].iter().collect())
            .collect();
        assert_eq!(found, ["Deployment", "café", "deploy"]);
    }

    proptest::proptest! {
        /// Every highlight is a whole word of the body, whatever the input.
        #[test]
        fn highlights_stay_inside_the_body(body in "\\PC{0,80}", q in "\\PC{1,20}") {
            if let Ok(terms) = search_terms(&q) {
                let n = body.chars().count();
                for (s, e) in highlights(&body, &terms) {
                    proptest::prop_assert!(s < e && e <= n);
                }
            }
        }
    }
}
