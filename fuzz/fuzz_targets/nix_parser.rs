//! Feeds arbitrary bytes to the Nix parser: it must never panic, never overflow the stack, and
//! must produce either a tree without errors or at least one error. Dumping the tree walks it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut interner = kiln_eval::Interner::new();
    let parsed = kiln_eval::parse(kiln_eval::FileId(0), data, &mut interner);
    let _ = kiln_eval::dump(&parsed.expr, &interner);
    for e in &parsed.errors {
        assert!(e.span.start <= e.span.end && e.span.end as usize <= data.len());
        let _ = e.to_string();
    }
});
