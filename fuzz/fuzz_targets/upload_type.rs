//! An upload's type, told from its first bytes (`natter::chat::uploads::media::sniff`): any
//! bytes get a type, and only the kinds a page may show are served inline.
#![no_main]

use libfuzzer_sys::fuzz_target;
use natter::chat::uploads::media::{Kind, inline, sniff};

fuzz_target!(|data: &[u8]| {
    let head = &data[..data.len().min(8192)];
    let (content_type, kind) = sniff(head);
    assert!(!content_type.is_empty());
    if inline(&content_type) {
        assert!(
            matches!(kind, Kind::Image | Kind::Video | Kind::Audio),
            "{content_type} would be shown inline but is {kind:?}"
        );
    }
});
