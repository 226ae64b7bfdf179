//! The `natter.toml` file: any text gets settings or an error (and settings that parsed get
//! checked), never a panic (`natter::config::Config::from_toml`, `validate`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = natter::config::Config::from_toml(text) {
        let _ = config.validate();
        let _ = config.database_url();
    }
});
