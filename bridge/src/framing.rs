//! Native-messaging framing: each message is a 4-byte length in the platform's native byte
//! order followed by that many bytes of UTF-8 JSON, in both directions.
//!
//! The wire format is the `native_messaging` crate's ([`native_messaging::host`]); this module
//! adds what a host facing untrusted input needs on top of it: incoming frames larger than the
//! limit are *skipped* (their bytes read and discarded) so the stream stays in step and the
//! host can answer `frame_too_large` and keep serving, and a frame that is not UTF-8 is handed
//! on as bytes so that it gets a `bad_request` answer instead of ending the session.

use std::io::{self, Read, Write};

use native_messaging::host::{self as nm, NmError};

/// Why no frame could be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The frame announced `len` bytes, over the limit; its body was skipped.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge { len: u64, max: usize },
    /// The stream ended inside a frame (the browser went away mid-message).
    #[error("stream ended inside a frame")]
    Truncated,
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

impl FrameError {
    /// Whether the stream can still be read after this error.
    pub fn is_recoverable(&self) -> bool {
        matches!(self, FrameError::TooLarge { .. })
    }
}

fn io_error(e: io::Error) -> FrameError {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => FrameError::Truncated,
        _ => FrameError::Io(e),
    }
}

/// Reads one frame into `buf` (replaced). `Ok(false)` on a clean end of stream before a
/// frame started.
pub fn read_frame<R: Read>(r: &mut R, max: usize, buf: &mut Vec<u8>) -> Result<bool, FrameError> {
    buf.clear();
    match nm::decode_message_opt(r, max) {
        Ok(None) => Ok(false),
        Ok(Some(text)) => {
            *buf = text.into_bytes();
            Ok(true)
        }
        Err(NmError::IncomingNotUtf8(e)) => {
            *buf = e.into_bytes();
            Ok(true)
        }
        Err(NmError::IncomingTooLarge { len, .. }) => {
            let len = len as u64;
            let skipped = io::copy(&mut r.take(len), &mut io::sink())?;
            if skipped < len {
                return Err(FrameError::Truncated);
            }
            Err(FrameError::TooLarge { len, max })
        }
        Err(NmError::Io(e)) => Err(io_error(e)),
        Err(NmError::Disconnected) => Err(FrameError::Truncated),
        Err(other) => Err(FrameError::Io(io::Error::other(other.to_string()))),
    }
}

/// Why a frame could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("outgoing frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge { len: usize, max: usize },
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

/// Writes `payload` as one frame (length and body in one write) and flushes.
pub fn write_frame<W: Write>(w: &mut W, payload: &[u8], max: usize) -> Result<(), WriteError> {
    if payload.len() > max.min(nm::MAX_TO_BROWSER) {
        return Err(WriteError::TooLarge {
            len: payload.len(),
            max,
        });
    }
    nm::send_frame(w, &encode_frame(payload)).map_err(|e| match e {
        NmError::Io(e) => WriteError::Io(e),
        other => WriteError::Io(io::Error::other(other.to_string())),
    })
}

/// Encodes one frame (for tests and clients).
pub fn encode_frame(payload: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(payload.len() + 4);
    msg.extend_from_slice(&(payload.len() as u32).to_ne_bytes());
    msg.extend_from_slice(payload);
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Cursor;

    #[test]
    fn reads_frames_in_order_and_ends_cleanly() {
        let mut input = encode_frame(b"{\"a\":1}");
        input.extend(encode_frame(b""));
        input.extend(encode_frame(b"[]"));
        let mut r = Cursor::new(input);
        let mut buf = Vec::new();
        assert!(read_frame(&mut r, 64, &mut buf).expect("1"));
        assert_eq!(buf, b"{\"a\":1}");
        assert!(read_frame(&mut r, 64, &mut buf).expect("2"));
        assert!(buf.is_empty());
        assert!(read_frame(&mut r, 64, &mut buf).expect("3"));
        assert_eq!(buf, b"[]");
        assert!(!read_frame(&mut r, 64, &mut buf).expect("eof"));
    }

    #[test]
    fn oversize_frames_are_skipped_and_the_stream_stays_in_step() {
        let mut input = encode_frame(&[b'x'; 100]);
        input.extend(encode_frame(b"ok"));
        let mut r = Cursor::new(input);
        let mut buf = Vec::new();
        let e = read_frame(&mut r, 10, &mut buf).expect_err("too large");
        assert!(matches!(e, FrameError::TooLarge { len: 100, max: 10 }));
        assert!(e.is_recoverable());
        assert!(read_frame(&mut r, 10, &mut buf).expect("next"));
        assert_eq!(buf, b"ok");
    }

    #[test]
    fn frames_that_are_not_utf8_are_handed_on_as_bytes() {
        let mut input = encode_frame(&[0xFF, 0xFE]);
        input.extend(encode_frame(b"ok"));
        let mut r = Cursor::new(input);
        let mut buf = Vec::new();
        assert!(read_frame(&mut r, 10, &mut buf).expect("not UTF-8, still a frame"));
        assert_eq!(buf, [0xFF, 0xFE]);
        assert!(read_frame(&mut r, 10, &mut buf).expect("next"));
        assert_eq!(buf, b"ok");
    }

    #[test]
    fn truncated_input_is_an_error() {
        let mut buf = Vec::new();
        let e = read_frame(&mut Cursor::new(vec![1u8, 0]), 10, &mut buf).expect_err("short len");
        assert!(matches!(e, FrameError::Truncated));
        let mut input = encode_frame(b"abcdef");
        input.truncate(7);
        let e = read_frame(&mut Cursor::new(input), 10, &mut buf).expect_err("short body");
        assert!(matches!(e, FrameError::Truncated));
        let huge = u32::MAX.to_ne_bytes().to_vec();
        let e = read_frame(&mut Cursor::new(huge), 10, &mut buf).expect_err("huge, no body");
        assert!(matches!(e, FrameError::Truncated));
    }

    #[test]
    fn writes_native_endian_and_enforces_the_reply_limit() {
        let mut out = Vec::new();
        write_frame(&mut out, b"hi", 10).expect("write");
        assert_eq!(out, encode_frame(b"hi"));
        assert_eq!(&out[..4], &2u32.to_ne_bytes());
        let e = write_frame(&mut out, &[0; 11], 10).expect_err("too big");
        assert!(matches!(e, WriteError::TooLarge { len: 11, max: 10 }));
    }

    proptest! {
        #[test]
        fn never_panics_and_round_trips(frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..6), tail in prop::collection::vec(any::<u8>(), 0..8)) {
            let mut input = Vec::new();
            for f in &frames { input.extend(encode_frame(f)); }
            let mut r = Cursor::new(input);
            let mut buf = Vec::new();
            for f in &frames {
                if f.len() <= 20 {
                    prop_assert!(read_frame(&mut r, 20, &mut buf).expect("frame"));
                    prop_assert_eq!(&buf, f);
                } else {
                    let is_too_large = matches!(read_frame(&mut r, 20, &mut buf), Err(FrameError::TooLarge { .. }));
                    prop_assert!(is_too_large);
                }
            }
            prop_assert!(!read_frame(&mut r, 20, &mut buf).expect("eof"));
            // Arbitrary bytes never panic.
            let mut r = Cursor::new(tail);
            while let Ok(true) = read_frame(&mut r, 20, &mut buf) {}
        }
    }
}
