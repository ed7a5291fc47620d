//! The per-connection protocol state machine: turns a request frame into either an immediate
//! reply or a job for the card worker. No I/O, so it is unit-tested and fuzzed directly.

use nhi_protocol::bridge::{
    origin_allowed, parse_request, Answer, BridgeError, Command, ErrorCode, HostMessage, RequestId,
    MIN_PROTOCOL_VERSION, PROTOCOL_VERSION,
};
use nhi_protocol::card_proof::Nonce;

/// Work that needs the card reader (done off the stdin thread).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    Status,
    ReadBasicData,
    /// `origin` is the browser-reported origin, already checked against the allow-list.
    CardProof {
        origin: String,
        nonce: Nonce,
    },
    Subscribe,
    Unsubscribe,
    /// Read the certificate card's authentication certificate.
    Certificate,
    /// Ask for the PIN (naming `origin`, already checked), verify it and sign
    /// `signed_digest(origin, nonce)`.
    Authenticate {
        origin: String,
        nonce: Nonce,
    },
}

impl Job {
    pub fn name(&self) -> &'static str {
        match self {
            Job::Status => "status",
            Job::ReadBasicData => "read_basic_data",
            Job::CardProof { .. } => "card_proof",
            Job::Subscribe => "subscribe",
            Job::Unsubscribe => "unsubscribe",
            Job::Certificate => "certificate",
            Job::Authenticate { .. } => "authenticate",
        }
    }
}

/// What to do with one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send this right away.
    Reply(HostMessage),
    /// Run this job and reply to `id` with its result.
    Run { id: RequestId, job: Job },
    /// Cancel the running request `request` at once (on the stdin thread) and answer `id`
    /// with `cancelled`.
    Cancel { id: RequestId, request: RequestId },
}

/// One browser connection's protocol state.
#[derive(Debug, Clone)]
pub struct Session {
    greeted: bool,
    origins: Vec<String>,
}

impl Session {
    /// `origins`: the web origins whose pages may ask for card proofs.
    pub fn new(origins: Vec<String>) -> Self {
        Self {
            greeted: false,
            origins,
        }
    }

    pub fn greeted(&self) -> bool {
        self.greeted
    }

    /// Handles one complete request frame. Never panics.
    pub fn on_frame(&mut self, frame: &[u8]) -> Step {
        let req = match parse_request(frame) {
            Ok(r) => r,
            Err(e) => return Step::Reply(HostMessage::reply(e.id, Err(e.error))),
        };
        let id = req.id;
        let fail = |code, msg: &str| {
            Step::Reply(HostMessage::reply(
                Some(id),
                Err(BridgeError::new(code, msg)),
            ))
        };
        if let Some(origin) = &req.origin {
            if !origin_allowed(origin, &self.origins) {
                return fail(
                    ErrorCode::OriginNotAllowed,
                    "this bridge does not serve that origin",
                );
            }
        }
        let job = match req.cmd {
            Command::Hello { .. } => {
                self.greeted = true;
                return Step::Reply(HostMessage::reply(
                    Some(id),
                    Ok(Answer::Hello {
                        protocol: PROTOCOL_VERSION,
                        min_protocol: MIN_PROTOCOL_VERSION,
                        bridge_version: crate::VERSION.to_string(),
                        extension_version: None,
                    }),
                ));
            }
            _ if !self.greeted => {
                return fail(
                    ErrorCode::BadRequest,
                    "the first request must be hello (version handshake)",
                )
            }
            Command::Status => Job::Status,
            Command::ReadBasicData => Job::ReadBasicData,
            Command::CardProof { nonce } => match req.origin {
                Some(origin) => Job::CardProof { origin, nonce },
                None => {
                    return fail(
                        ErrorCode::OriginNotAllowed,
                        "a card proof needs the page origin from the extension",
                    )
                }
            },
            Command::Subscribe => Job::Subscribe,
            Command::Unsubscribe => Job::Unsubscribe,
            Command::Certificate => Job::Certificate,
            Command::Authenticate { nonce } => match req.origin {
                Some(origin) => Job::Authenticate { origin, nonce },
                None => {
                    return fail(
                        ErrorCode::OriginNotAllowed,
                        "a signature needs the page origin from the extension",
                    )
                }
            },
            Command::Cancel { request } => return Step::Cancel { id, request },
        };
        Step::Run { id, job }
    }
}

/// A reply to a frame that could not be read at all (no id).
pub fn frame_error_reply(code: ErrorCode, message: impl Into<String>) -> HostMessage {
    HostMessage::reply(None, Err(BridgeError::new(code, message)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nhi_protocol::bridge::Outcome;
    use serde_json::json;

    fn session() -> Session {
        Session::new(vec!["https://nhi.example".into()])
    }

    fn frame(v: serde_json::Value) -> Vec<u8> {
        v.to_string().into_bytes()
    }

    fn err_code(step: &Step) -> Option<ErrorCode> {
        match step {
            Step::Reply(HostMessage::Reply {
                result: Outcome::Err(e),
                ..
            }) => Some(e.code),
            _ => None,
        }
    }

    #[test]
    fn hello_must_come_first() {
        let mut s = session();
        let st = s.on_frame(&frame(json!({"v":2,"id":1,"cmd":{"type":"status"}})));
        assert_eq!(err_code(&st), Some(ErrorCode::BadRequest));
        let st = s.on_frame(&frame(
            json!({"v":2,"id":2,"cmd":{"type":"hello","client":"t"}}),
        ));
        let Step::Reply(HostMessage::Reply {
            id: Some(2),
            result: Outcome::Ok(Answer::Hello { protocol, .. }),
            ..
        }) = st
        else {
            panic!("hello reply expected, got {st:?}");
        };
        assert_eq!(protocol, PROTOCOL_VERSION);
        assert_eq!(
            s.on_frame(&frame(json!({"v":2,"id":3,"cmd":{"type":"status"}}))),
            Step::Run {
                id: 3,
                job: Job::Status
            }
        );
    }

    #[test]
    fn card_proof_needs_an_allowed_browser_origin() {
        let mut s = session();
        s.on_frame(&frame(json!({"v":2,"id":1,"cmd":{"type":"hello"}})));
        let nonce = "01".repeat(32);
        let st = s.on_frame(&frame(
            json!({"v":2,"id":2,"cmd":{"type":"card_proof","nonce":nonce}}),
        ));
        assert_eq!(err_code(&st), Some(ErrorCode::OriginNotAllowed));
        let st = s.on_frame(&frame(json!({"v":2,"id":3,"origin":"https://evil.example","cmd":{"type":"card_proof","nonce":nonce}})));
        assert_eq!(err_code(&st), Some(ErrorCode::OriginNotAllowed));
        let st = s.on_frame(&frame(json!({"v":2,"id":4,"origin":"https://nhi.example","cmd":{"type":"card_proof","nonce":nonce}})));
        assert_eq!(
            st,
            Step::Run {
                id: 4,
                job: Job::CardProof {
                    origin: "https://nhi.example".into(),
                    nonce: Nonce([1; 32])
                }
            }
        );
    }

    #[test]
    fn authenticate_needs_an_allowed_origin_and_cancel_is_immediate() {
        let mut s = session();
        let nonce = "02".repeat(32);
        let st = s.on_frame(&frame(json!({"v":2,"id":1,"cmd":{"type":"certificate"}})));
        assert_eq!(err_code(&st), Some(ErrorCode::BadRequest));
        s.on_frame(&frame(json!({"v":2,"id":2,"cmd":{"type":"hello"}})));
        assert_eq!(
            s.on_frame(&frame(json!({"v":2,"id":3,"cmd":{"type":"certificate"}}))),
            Step::Run {
                id: 3,
                job: Job::Certificate
            }
        );
        let st = s.on_frame(&frame(
            json!({"v":2,"id":4,"cmd":{"type":"authenticate","nonce":nonce}}),
        ));
        assert_eq!(err_code(&st), Some(ErrorCode::OriginNotAllowed));
        let st = s.on_frame(&frame(json!({"v":2,"id":5,"origin":"https://nhi.example.evil","cmd":{"type":"authenticate","nonce":nonce}})));
        assert_eq!(err_code(&st), Some(ErrorCode::OriginNotAllowed));
        assert_eq!(
            s.on_frame(&frame(json!({"v":2,"id":6,"origin":"https://nhi.example","cmd":{"type":"authenticate","nonce":nonce}}))),
            Step::Run {
                id: 6,
                job: Job::Authenticate {
                    origin: "https://nhi.example".into(),
                    nonce: Nonce([2; 32])
                }
            }
        );
        assert_eq!(
            s.on_frame(&frame(
                json!({"v":2,"id":7,"cmd":{"type":"cancel","request":6}})
            )),
            Step::Cancel { id: 7, request: 6 }
        );
    }

    proptest::proptest! {
        #[test]
        fn any_frame_gets_a_step_and_replies_serialise(frames in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64), 0..8)) {
            let mut s = session();
            s.on_frame(&frame(json!({"v":2,"id":1,"cmd":{"type":"hello"}})));
            for f in frames {
                if let Step::Reply(m) = s.on_frame(&f) {
                    proptest::prop_assert!(serde_json::to_vec(&m).is_ok());
                }
            }
        }
    }

    #[test]
    fn garbage_gets_a_coded_reply() {
        let mut s = session();
        assert_eq!(err_code(&s.on_frame(b"")), Some(ErrorCode::BadRequest));
        assert_eq!(
            err_code(&s.on_frame(b"\x00\x01")),
            Some(ErrorCode::BadRequest)
        );
        assert_eq!(
            err_code(&s.on_frame(b"{\"v\":3,\"id\":1,\"cmd\":{\"type\":\"hello\"}}")),
            Some(ErrorCode::BridgeVersion)
        );
        // A version 1 extension (its proofs are no longer accepted) is told to update.
        assert_eq!(
            err_code(&s.on_frame(b"{\"v\":1,\"id\":1,\"cmd\":{\"type\":\"hello\"}}")),
            Some(ErrorCode::ExtensionVersion)
        );
    }
}
