//! Feeds arbitrary bytes to the NAR reader: every event is walked and every file's contents
//! drained (alternately read and skipped), then the same bytes go through `ls` and `cat`.
//! Nothing may panic, hang or allocate from an untrusted length.

#![no_main]

use std::io::Read;

use kiln_formats::nar::{cat, ls, Event, NarReader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut reader = NarReader::new(data);
    let mut buf = [0u8; 13];
    let mut files = 0u64;
    loop {
        match reader.next() {
            Ok(Some(Event::Regular { .. })) => {
                files += 1;
                if files % 2 == 0 {
                    // Drain through `Read` in small chunks; errors end the walk below.
                    while let Ok(n) = reader.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                    }
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => {
                // Every format error knows where it happened, within the input.
                if let Some(offset) = e.offset() {
                    assert!(offset <= data.len() as u64, "{e}");
                }
                let _ = e.to_string();
                break;
            }
        }
    }
    let listed = ls(data, "/", true);
    if let Ok(entries) = &listed {
        // Every regular file listed can be read back with `cat`.
        for entry in entries.iter().take(8) {
            if let (kiln_formats::nar::EntryKind::Regular { size, .. }, Ok(path)) =
                (&entry.kind, std::str::from_utf8(&entry.path))
            {
                let mut out = Vec::new();
                cat(data, path, &mut out).expect("cat of a listed file");
                assert_eq!(out.len() as u64, *size);
            }
        }
    }
});
