//! Arbitrary bytes into the narinfo, nix-cache-info, key and signature parsers: none may panic,
//! and whatever parses must print to text that parses back to the same value.

#![no_main]

use kiln_formats::cache_info::CacheInfo;
use kiln_formats::narinfo::NarInfo;
use kiln_formats::signing::{PublicKey, SecretKey, Signature};
use kiln_formats::store_path::DEFAULT_STORE_DIR;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(info) = NarInfo::parse(DEFAULT_STORE_DIR, text) {
        let printed = info.render(DEFAULT_STORE_DIR);
        let back = NarInfo::parse(DEFAULT_STORE_DIR, &printed).expect("printed narinfo parses");
        assert_eq!(back, info);
        assert_eq!(back.render(DEFAULT_STORE_DIR), printed);
        let _ = info.fingerprint(DEFAULT_STORE_DIR);
    }
    if let Ok(info) = CacheInfo::parse(text) {
        assert_eq!(
            CacheInfo::parse(&info.render()).expect("printed cache info parses"),
            info
        );
    }
    if let Ok(key) = SecretKey::parse(text) {
        assert_eq!(
            SecretKey::parse(&key.to_string()).expect("printed key parses"),
            key
        );
        let sig = key.sign(data);
        assert!(key.to_public().verify(data, &sig));
    }
    if let Ok(key) = PublicKey::parse(text) {
        assert_eq!(
            PublicKey::parse(&key.to_string()).expect("printed key parses"),
            key
        );
    }
    if let Ok(sig) = Signature::parse(text) {
        assert_eq!(
            Signature::parse(&sig.to_string()).expect("printed signature parses"),
            sig
        );
    }
});
