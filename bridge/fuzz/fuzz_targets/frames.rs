//! The host's input path: native-messaging frame decoder → request parser → session state
//! machine → reply serialisation. Any byte stream must be handled without a panic.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use nhi_bridge::framing::{read_frame, FrameError};
use nhi_bridge::session::{Session, Step};
use nhi_protocol::bridge::MAX_REQUEST_FRAME;

fuzz_target!(|data: &[u8]| {
    // Small limit too, so the skip path of oversize frames is exercised.
    for max in [MAX_REQUEST_FRAME, 16] {
        let mut input = Cursor::new(data);
        let mut session = Session::new(vec![
            "https://nhi.example".into(),
            "http://127.0.0.1:*".into(),
        ]);
        let mut buf = Vec::new();
        loop {
            match read_frame(&mut input, max, &mut buf) {
                Ok(true) => {
                    if let Step::Reply(m) = session.on_frame(&buf) {
                        let _ = serde_json::to_vec(&m).expect("replies always serialise");
                    }
                }
                Ok(false) => break,
                Err(FrameError::TooLarge { .. }) => continue,
                Err(_) => break,
            }
        }
    }
    // The request parser on the raw input as one frame.
    let _ = nhi_protocol::bridge::parse_request(data);
});
