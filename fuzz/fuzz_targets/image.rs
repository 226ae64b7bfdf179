//! Image decoding within limits, thumbnails and metadata stripping, as an uploaded image and
//! as an avatar (`natter::chat::uploads::media::image`, `natter::chat::avatar::thumbnails`):
//! any bytes are decoded or refused with an error, never a panic or an allocation past the
//! limits.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = natter::chat::uploads::media::image(data) {
        assert!(!info.thumb.is_empty());
    }
    let _ = natter::chat::avatar::thumbnails(data);
});
