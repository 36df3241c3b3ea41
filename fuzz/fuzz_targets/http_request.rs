//! Arbitrary bytes into `kiln serve`'s HTTP request parser: it may not panic, a request never
//! takes more bytes than there are, and the verdict on a request's own bytes is the verdict
//! on them followed by anything else (what follows a request cannot change it).

#![no_main]

use kiln_serve::parse_http_request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(n)) = parse_http_request(data) {
        assert!(n > 0 && n <= data.len());
        assert_eq!(parse_http_request(&data[..n]), Ok(Some(n)));
    }
    // A prefix of a complete request is incomplete or already bad, never another request.
    if let Ok(Some(n)) = parse_http_request(data) {
        for cut in 0..n {
            assert!(!matches!(parse_http_request(&data[..cut]), Ok(Some(_))));
        }
    }
});
