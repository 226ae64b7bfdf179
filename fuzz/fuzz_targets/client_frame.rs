//! A client's WebSocket text frame: it parses into a frame, or gets an `error` event that is
//! JSON with a stable code, whatever the text (`natter::protocol::parse_client_frame`).
#![no_main]

use libfuzzer_sys::fuzz_target;

const CODES: [&str; 2] = ["invalid_input", "unknown_type"];

fuzz_target!(|data: &[u8]| {
    // The socket refuses a text frame that is not UTF-8 before parsing (close code 1007).
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(event) = natter::protocol::parse_client_frame(text) {
        let event: serde_json::Value =
            serde_json::from_str(&event).expect("the error event is JSON");
        assert_eq!(event["type"], "error");
        let code = event["code"].as_str().expect("the error event has a code");
        assert!(CODES.contains(&code), "unexpected code {code}");
        if let Some(id) = event.get("client_id") {
            assert!(id.is_string() || id.is_null());
        }
    }
});
