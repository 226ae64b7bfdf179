//! What the server reads out of a message body and a search query: the body's own checks,
//! mentions, the words the search index keeps and highlights, the sealed-body shape, and the
//! names a body may hold. Offsets must lie inside the text; nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use natter::domain::{
    MessageBody, RoomName, Seal, Username, display_filename, highlights, is_sealed_body, matches,
    mention_candidates, search_terms, search_text,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let chars = text.chars().count();
    if let Ok(body) = MessageBody::parse(text.to_owned()) {
        assert_eq!(body.into_inner(), text, "a body is kept exactly as sent");
    }
    for (start, end, name) in mention_candidates(text) {
        assert!(start < end && end <= chars);
        assert_eq!(name.chars().count(), end - start - 1);
    }
    let indexed = search_text(text);
    assert!(
        !indexed.contains("  "),
        "index words are separated by single spaces"
    );
    // The same text as a query, and the body searched for its own words.
    if let Ok(terms) = search_terms(text) {
        assert!(!terms.is_empty());
        for (start, end) in highlights(text, &terms) {
            assert!(start < end && end <= chars);
        }
        assert!(
            matches(text, &terms),
            "a text matches a query of its own words"
        );
    }
    let _ = is_sealed_body(text);
    let _ = Seal::from_stored(text);
    if let Ok(name) = Username::parse(text) {
        let _ = name.key();
    }
    if let Ok(name) = RoomName::parse(text) {
        assert!(!name.skeletons().is_empty());
    }
    let _ = display_filename(text);
});
