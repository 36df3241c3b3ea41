//! Feeds arbitrary bytes to the export-stream reader: every entry's NAR is read to its end (in
//! small chunks, alternately read whole or left for `finish` to drain), then its trailer. Nothing
//! may panic, hang or allocate from an untrusted length, and every error about the stream
//! names an offset within the input.

#![no_main]

use std::io::Read;

use kiln_store::ExportReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut reader = ExportReader::new(data, "/nix/store");
    let mut buf = [0u8; 13];
    let mut entries = 0u64;
    loop {
        let mut entry = match reader.next_entry() {
            Ok(Some(entry)) => entry,
            Ok(None) => break,
            Err(e) => {
                check(&e, data);
                break;
            }
        };
        entries += 1;
        let mut nar_len = 0u64;
        if entries % 2 == 1 {
            loop {
                match entry.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => nar_len += n as u64,
                    Err(_) => break,
                }
            }
            assert!(entry.nar_offset() + nar_len <= data.len() as u64);
        }
        match entry.finish() {
            Ok(_) => {}
            Err(e) => {
                check(&e, data);
                break;
            }
        }
    }
});

fn check(e: &kiln_store::ExportError, data: &[u8]) {
    if let Some(offset) = e.offset() {
        assert!(offset <= data.len() as u64, "{e}");
    }
    let _ = e.to_string();
}
