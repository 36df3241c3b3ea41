//! Feeds arbitrary bytes to the derivation ATerm parser. It must never panic, and whatever it
//! accepts is canonical: printing gives back the same bytes, which parse to the same derivation.

#![no_main]

use kiln_formats::derivation::Derivation;
use kiln_formats::store_path::DEFAULT_STORE_DIR;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(drv) = Derivation::parse(data, DEFAULT_STORE_DIR) {
        let printed = drv.to_aterm(DEFAULT_STORE_DIR);
        assert_eq!(printed, data, "accepted input is not printed back identically");
        let again = Derivation::parse(&printed, DEFAULT_STORE_DIR).expect("printed form parses");
        assert_eq!(again, drv);
        let _ = drv.kind();
    }
});
