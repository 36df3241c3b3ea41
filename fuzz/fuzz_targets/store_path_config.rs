//! Arbitrary bytes into the store path, hash and nix.conf parsers: none may panic, and what
//! parses must print back to what was parsed.

#![no_main]

use std::path::Path;

use kiln_formats::config::{parse, Settings};
use kiln_formats::hash::{Encoding, Hash};
use kiln_formats::store_path::{StorePath, DEFAULT_STORE_DIR};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = StorePath::from_absolute(DEFAULT_STORE_DIR, text) {
        assert_eq!(p.to_absolute(DEFAULT_STORE_DIR), text);
    }
    if let Ok(p) = StorePath::from_base_name(text) {
        assert_eq!(p.base_name(), text);
    }
    let _ = StorePath::from_absolute_prefix(DEFAULT_STORE_DIR, text);
    if let Ok(h) = Hash::parse_any(text, None) {
        for enc in [Encoding::Base16, Encoding::Nix32, Encoding::Base64, Encoding::Sri] {
            assert_eq!(Hash::parse_any(&h.encode(enc, true), None).unwrap(), h);
        }
    }
    let _ = parse("fuzz", text);
    let mut settings = Settings::new();
    let _ = settings.apply(Path::new("/fuzz/nix.conf"), text, &mut |_| Ok(None));
});
