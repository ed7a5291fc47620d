//! cp950 (issue 17) on arbitrary bytes: decoding never panics; what decodes encodes back to
//! bytes that decode to the same text (a user-defined code to itself: no `?`, no entity).
//!
//! `cd server/fuzz && cargo +nightly fuzz run cp950`
#![no_main]

use libfuzzer_sys::fuzz_target;
use nhi_server::services::bulk_parse::cp950;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = cp950::decode(data) {
        let bytes = cp950::encode(&text);
        assert_eq!(cp950::decode(&bytes).as_deref(), Ok(text.as_str()));
        if !data.contains(&b'?') {
            assert!(!bytes.contains(&b'?'), "every decoded character has its code");
        }
    }
});
