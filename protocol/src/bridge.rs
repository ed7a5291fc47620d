//! Messages between the page, the browser extension and the native host (the "card bridge").
//!
//! Path of a request (DESIGN.md "The card bridge"):
//! page `postMessage` → content script → extension service worker → native host → PC/SC → card.
//! Every message carries the protocol version [`PROTOCOL_VERSION`] in `v`.
//!
//! Wire shapes (JSON, the same from the page to the extension and from the extension to the
//! host, except that only the extension sets `origin`):
//!
//! ```json
//! {"v":2,"id":7,"cmd":{"type":"hello"}}
//! {"v":2,"id":8,"cmd":{"type":"status"}}
//! {"v":2,"id":9,"cmd":{"type":"read_basic_data"}}
//! {"v":2,"id":10,"origin":"https://nhi.example","cmd":{"type":"card_proof","nonce":"<64 hex>"}}
//! {"v":2,"id":11,"cmd":{"type":"subscribe"}}
//! {"v":2,"id":12,"cmd":{"type":"certificate"}}
//! {"v":2,"id":13,"origin":"https://nhi.example","cmd":{"type":"authenticate","nonce":"<64 hex>"}}
//! {"v":2,"id":14,"cmd":{"type":"cancel","request":13}}
//!
//! {"kind":"reply","v":2,"id":9,"result":{"ok":{"type":"basic_data","reader":"…","data":{…}}}}
//! {"kind":"reply","v":2,"id":10,"result":{"ok":{"type":"card_proof","reader":"…","origin":"…","record":"<114 hex>","mac":"<32 hex>"}}}
//! {"kind":"reply","v":2,"id":12,"result":{"ok":{"type":"certificate","reader":"…","certificate":"<base64 DER>"}}}
//! {"kind":"reply","v":2,"id":13,"result":{"ok":{"type":"authenticate","reader":"…","origin":"…","certificate":"<base64 DER>","signature":"<base64>","algorithm":"ES256"}}}
//! {"kind":"reply","v":2,"id":13,"result":{"err":{"code":"pin_wrong","message":"…","tries_left":2}}}
//! {"kind":"reply","v":2,"id":14,"result":{"ok":{"type":"cancelled"}}}
//! {"kind":"reply","v":2,"id":9,"result":{"err":{"code":"no_card","message":"…"}}}
//! {"kind":"event","v":2,"event":{"type":"card_inserted","reader":"…","kind":"certificate"}}
//! ```
//!
//! The host answers the first request only if it is `hello` (the version handshake); the page
//! can then tell "extension missing" (no answer at all), "bridge missing"
//! ([`ErrorCode::BridgeMissing`], from the extension) and "bridge too old"
//! ([`ErrorCode::BridgeVersion`]) apart.
//!
//! This module is I/O-free and builds for `wasm32-unknown-unknown`.

use serde::{Deserialize, Serialize};

use crate::card::CardBasicData;
use crate::card_proof::{CardMac, CardRecord, Nonce};
#[cfg(not(feature = "citizen-page"))]
use crate::certificate::SignatureAlgorithm;

/// The bridge protocol version every message carries. Version 2 (issue 10): the card proof
/// covers the card's own record and the answer carries that record.
pub const PROTOCOL_VERSION: u32 = 2;

/// The oldest protocol version this build still speaks. Version 1 proofs are no longer
/// accepted by the server, so a version 1 peer is told to update.
pub const MIN_PROTOCOL_VERSION: u32 = 2;

/// Largest frame the host accepts from the browser (Web eID uses the same 8 KiB).
pub const MAX_REQUEST_FRAME: usize = 8 * 1024;

/// Largest frame a host may send to the browser (Chrome's documented limit is 1 MiB).
pub const MAX_REPLY_FRAME: usize = 1024 * 1024;

/// The native-messaging host name registered with the browsers.
pub const HOST_NAME: &str = "tw.nhi.card_bridge";

/// A request id chosen by the sender and echoed in the reply.
pub type RequestId = u32;

/// A request from the page (via the extension) to the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Protocol version of the sender.
    pub v: u32,
    pub id: RequestId,
    /// The page's origin as the *browser* reports it. Only the extension sets this; the
    /// extension drops whatever the page put here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    pub cmd: Command,
}

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    /// Version handshake; must be the first request on a connection.
    Hello {
        /// The client's name and version, for the host's log (e.g. `"nhi-bridge-extension/0.1.0"`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<String>,
    },
    /// PC/SC service state, readers and card presence per reader.
    Status,
    /// SELECT + READ of the 57-byte basic-data record.
    ReadBasicData,
    /// The origin-bound challenge-response v2 ([`crate::card_proof`]); the origin is the
    /// request's `origin`. The host reads the record and lets the card MAC it in one
    /// transaction.
    CardProof { nonce: Nonce },
    /// Push [`Event`]s (card insert/remove, reader plug/unplug) on this connection.
    Subscribe,
    /// Stop pushing events.
    Unsubscribe,
    #[cfg(not(feature = "citizen-page"))]
    /// Read the citizen certificate card's (自然人憑證) authentication certificate; no PIN.
    Certificate,
    #[cfg(not(feature = "citizen-page"))]
    /// Sign [`crate::certificate::signed_digest`] of the request's `origin` and `nonce` with
    /// the certificate card's authentication key. The host asks for the PIN in its own dialog
    /// (naming the origin), then verifies it and signs in one exclusive transaction that ends
    /// with a card reset.
    Authenticate { nonce: Nonce },
    #[cfg(not(feature = "citizen-page"))]
    /// Cancel the running request `request` (closes its PIN dialog): this request answers
    /// `cancelled`, the cancelled one the error [`ErrorCode::Cancelled`].
    Cancel { request: RequestId },
}

impl Command {
    /// The command's wire name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Hello { .. } => "hello",
            Command::Status => "status",
            Command::ReadBasicData => "read_basic_data",
            Command::CardProof { .. } => "card_proof",
            Command::Subscribe => "subscribe",
            Command::Unsubscribe => "unsubscribe",
            #[cfg(not(feature = "citizen-page"))]
            Command::Certificate => "certificate",
            #[cfg(not(feature = "citizen-page"))]
            Command::Authenticate { .. } => "authenticate",
            #[cfg(not(feature = "citizen-page"))]
            Command::Cancel { .. } => "cancel",
        }
    }
}

/// Anything the host (or, for its own errors, the extension) sends back.
///
/// Read through `HostMessageWire` (the same JSON; see [`Event`] for why).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", try_from = "HostMessageWire")]
pub enum HostMessage {
    /// The answer to one request. `id` is absent when the request was too broken to have one.
    Reply {
        v: u32,
        #[serde(default)]
        id: Option<RequestId>,
        result: Outcome,
    },
    /// Pushed after `subscribe`.
    Event { v: u32, event: Event },
}

/// A [`HostMessage`] as it travels: its `kind` and the fields of both kinds, each optional.
#[derive(Deserialize)]
struct HostMessageWire {
    kind: HostMessageKind,
    v: Option<u32>,
    #[serde(default)]
    id: Option<RequestId>,
    #[serde(default)]
    result: Option<Outcome>,
    #[serde(default)]
    event: Option<Event>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum HostMessageKind {
    Reply,
    Event,
}

impl TryFrom<HostMessageWire> for HostMessage {
    type Error = &'static str;
    fn try_from(w: HostMessageWire) -> Result<Self, Self::Error> {
        let v = w.v.ok_or("missing field `v`")?;
        Ok(match w.kind {
            HostMessageKind::Reply => HostMessage::Reply {
                v,
                id: w.id,
                result: w.result.ok_or("missing field `result`")?,
            },
            HostMessageKind::Event => HostMessage::Event {
                v,
                event: w.event.ok_or("missing field `event`")?,
            },
        })
    }
}

impl HostMessage {
    pub fn reply(id: Option<RequestId>, result: Result<Answer, BridgeError>) -> Self {
        HostMessage::Reply {
            v: PROTOCOL_VERSION,
            id,
            result: result.into(),
        }
    }

    pub fn event(event: Event) -> Self {
        HostMessage::Event {
            v: PROTOCOL_VERSION,
            event,
        }
    }
}

/// Success or a coded error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok(Answer),
    Err(BridgeError),
}

impl From<Result<Answer, BridgeError>> for Outcome {
    fn from(r: Result<Answer, BridgeError>) -> Self {
        match r {
            Ok(a) => Outcome::Ok(a),
            Err(e) => Outcome::Err(e),
        }
    }
}

impl From<Outcome> for Result<Answer, BridgeError> {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Ok(a) => Ok(a),
            Outcome::Err(e) => Err(e),
        }
    }
}

/// A successful answer. Read through `AnswerWire` (the same JSON; see [`Event`] for why).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", try_from = "AnswerWire")]
pub enum Answer {
    Hello {
        /// The protocol version the host speaks.
        protocol: u32,
        /// The oldest protocol version the host still speaks.
        min_protocol: u32,
        /// The host binary's version.
        bridge_version: String,
        /// Filled in by the extension on the way to the page.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        extension_version: Option<String>,
    },
    Status(Status),
    BasicData {
        reader: String,
        data: CardBasicData,
    },
    CardProof {
        reader: String,
        /// The origin the challenge was bound to (the browser-reported one).
        origin: String,
        /// The record the card stores (and MACed); the server verifies the MAC over it.
        record: CardRecord,
        mac: CardMac,
    },
    /// Events follow; `status` is the state at the moment of subscribing.
    Subscribed(Status),
    Unsubscribed,
    #[cfg(not(feature = "citizen-page"))]
    /// The citizen certificate card's authentication certificate.
    Certificate {
        reader: String,
        /// DER, standard base64.
        certificate: String,
    },
    #[cfg(not(feature = "citizen-page"))]
    /// The card's signature over [`crate::certificate::signed_data`] of `origin` and the nonce.
    Authenticate {
        reader: String,
        /// The origin the signature was bound to (the browser-reported one).
        origin: String,
        /// The certificate of the key that signed, DER, standard base64.
        certificate: String,
        /// Standard base64 (`r ‖ s` for ES256).
        signature: String,
        algorithm: SignatureAlgorithm,
    },
    #[cfg(not(feature = "citizen-page"))]
    /// The request named by `cancel` was cancelled (or had already finished).
    Cancelled,
}

/// An [`Answer`] as it travels: its `type` and the fields of every kind, each optional.
#[derive(Deserialize)]
struct AnswerWire {
    #[serde(rename = "type")]
    kind: AnswerKind,
    #[serde(default)]
    protocol: Option<u32>,
    #[serde(default)]
    min_protocol: Option<u32>,
    #[serde(default)]
    bridge_version: Option<String>,
    #[serde(default)]
    extension_version: Option<String>,
    #[serde(default)]
    service: Option<ServiceState>,
    #[serde(default)]
    readers: Option<Vec<ReaderStatus>>,
    #[serde(default)]
    reader: Option<String>,
    #[serde(default)]
    data: Option<CardBasicData>,
    #[serde(default)]
    origin: Option<String>,
    #[serde(default)]
    record: Option<CardRecord>,
    #[serde(default)]
    mac: Option<CardMac>,
    #[cfg(not(feature = "citizen-page"))]
    #[serde(default)]
    certificate: Option<String>,
    #[cfg(not(feature = "citizen-page"))]
    #[serde(default)]
    signature: Option<String>,
    #[cfg(not(feature = "citizen-page"))]
    #[serde(default)]
    algorithm: Option<SignatureAlgorithm>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum AnswerKind {
    Hello,
    Status,
    BasicData,
    CardProof,
    Subscribed,
    Unsubscribed,
    #[cfg(not(feature = "citizen-page"))]
    Certificate,
    #[cfg(not(feature = "citizen-page"))]
    Authenticate,
    #[cfg(not(feature = "citizen-page"))]
    Cancelled,
}

impl TryFrom<AnswerWire> for Answer {
    type Error = String;
    fn try_from(w: AnswerWire) -> Result<Self, String> {
        fn need<T>(v: Option<T>, field: &str) -> Result<T, String> {
            v.ok_or_else(|| format!("missing field `{field}`"))
        }
        let status = |w: AnswerWire| -> Result<Status, String> {
            Ok(Status {
                service: need(w.service, "service")?,
                readers: need(w.readers, "readers")?,
            })
        };
        Ok(match w.kind {
            AnswerKind::Hello => Answer::Hello {
                protocol: need(w.protocol, "protocol")?,
                min_protocol: need(w.min_protocol, "min_protocol")?,
                bridge_version: need(w.bridge_version, "bridge_version")?,
                extension_version: w.extension_version,
            },
            AnswerKind::Status => Answer::Status(status(w)?),
            AnswerKind::Subscribed => Answer::Subscribed(status(w)?),
            AnswerKind::BasicData => Answer::BasicData {
                reader: need(w.reader, "reader")?,
                data: need(w.data, "data")?,
            },
            AnswerKind::CardProof => Answer::CardProof {
                reader: need(w.reader, "reader")?,
                origin: need(w.origin, "origin")?,
                record: need(w.record, "record")?,
                mac: need(w.mac, "mac")?,
            },
            AnswerKind::Unsubscribed => Answer::Unsubscribed,
            #[cfg(not(feature = "citizen-page"))]
            AnswerKind::Certificate => Answer::Certificate {
                reader: need(w.reader, "reader")?,
                certificate: need(w.certificate, "certificate")?,
            },
            #[cfg(not(feature = "citizen-page"))]
            AnswerKind::Authenticate => Answer::Authenticate {
                reader: need(w.reader, "reader")?,
                origin: need(w.origin, "origin")?,
                certificate: need(w.certificate, "certificate")?,
                signature: need(w.signature, "signature")?,
                algorithm: need(w.algorithm, "algorithm")?,
            },
            #[cfg(not(feature = "citizen-page"))]
            AnswerKind::Cancelled => Answer::Cancelled,
        })
    }
}

/// PC/SC state as the host sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// Whether the PC/SC service (pcscd, the Windows Smart Card service) answered.
    pub service: ServiceState,
    pub readers: Vec<ReaderStatus>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceState {
    Running,
    NotRunning,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReaderStatus {
    pub name: String,
    pub card: CardPresence,
    /// Which card is in the reader, when one is present and the host could tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<CardKind>,
}

/// What kind of card is in a reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardKind {
    /// An NHI card (健保卡).
    Nhi,
    /// A citizen digital certificate card (自然人憑證).
    Certificate,
    /// Some other card.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardPresence {
    /// No card in the reader.
    Empty,
    /// A card is in the reader and free.
    Present,
    /// A card is in the reader but another program holds it exclusively.
    InUse,
    /// A card is in the reader but does not answer (inserted the wrong way round, broken).
    Mute,
}

/// Pushed after `subscribe`; DESIGN.md F0 wants insert/remove shown within a second.
///
/// Read through `EventWire` (the same JSON): serde's derive for an internally tagged enum
/// costs the page's wasm several kilobytes per variant, a flat struct a fraction of that.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", try_from = "EventWire")]
pub enum Event {
    ReaderAdded {
        reader: String,
    },
    ReaderRemoved {
        reader: String,
    },
    CardInserted {
        reader: String,
        /// Which card, when the host could tell.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kind: Option<CardKind>,
    },
    CardRemoved {
        reader: String,
    },
    /// The PC/SC service went away (pcscd stopped); readers are gone until it returns.
    ServiceStopped,
    /// The PC/SC service is back; a `status` follows from the page when it wants details.
    ServiceStarted,
}

/// An [`Event`] as it travels: `{"type": …, "reader": …}` (`reader` for the reader and card
/// events).
#[derive(Deserialize)]
struct EventWire {
    #[serde(rename = "type")]
    kind: EventKind,
    #[serde(default)]
    reader: Option<String>,
    #[serde(default, rename = "kind")]
    card_kind: Option<CardKind>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum EventKind {
    ReaderAdded,
    ReaderRemoved,
    CardInserted,
    CardRemoved,
    ServiceStopped,
    ServiceStarted,
}

impl TryFrom<EventWire> for Event {
    type Error = &'static str;
    fn try_from(w: EventWire) -> Result<Self, Self::Error> {
        let reader = || w.reader.clone().ok_or("missing field `reader`");
        Ok(match w.kind {
            EventKind::ReaderAdded => Event::ReaderAdded { reader: reader()? },
            EventKind::ReaderRemoved => Event::ReaderRemoved { reader: reader()? },
            EventKind::CardInserted => Event::CardInserted {
                reader: reader()?,
                kind: w.card_kind,
            },
            EventKind::CardRemoved => Event::CardRemoved { reader: reader()? },
            EventKind::ServiceStopped => Event::ServiceStopped,
            EventKind::ServiceStarted => Event::ServiceStarted,
        })
    }
}

/// A coded error with a short technical message (for logs; the page shows its own wording for
/// the code from its locale files, the bridge doctor its own advice).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct BridgeError {
    pub code: ErrorCode,
    #[serde(default)]
    pub message: String,
    /// PIN tries left, for [`ErrorCode::PinWrong`].
    #[cfg(not(feature = "citizen-page"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tries_left: Option<u8>,
}

impl BridgeError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            #[cfg(not(feature = "citizen-page"))]
            tries_left: None,
        }
    }

    /// [`ErrorCode::PinWrong`] with the tries the card has left.
    #[cfg(not(feature = "citizen-page"))]
    pub fn pin_wrong(tries_left: u8) -> Self {
        Self {
            tries_left: Some(tries_left),
            ..Self::new(
                ErrorCode::PinWrong,
                format!("wrong PIN; {tries_left} tries left"),
            )
        }
    }
}

/// Every failure the page must tell apart (DESIGN.md "The card bridge").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No extension answered the page (set by the page itself after its timeout).
    ExtensionMissing,
    /// The extension speaks a protocol the page does not (extension too old or too new).
    ExtensionVersion,
    /// The extension could not start the native host (not installed / not allowed).
    BridgeMissing,
    /// The native host speaks a protocol the extension or page does not (bridge too old).
    BridgeVersion,
    /// The PC/SC service is not running (pcscd stopped, Windows Smart Card service off).
    PcscNotRunning,
    /// No card reader is connected.
    NoReader,
    /// A reader is connected but it holds no card.
    NoCard,
    /// The card in the reader is not an NHI card (or is inserted the wrong way round).
    NotNhiCard,
    /// Another program holds the card (PC/SC sharing violation `0x8010000B`).
    CardBusy,
    /// The card was removed (or reset) in the middle of the operation.
    CardRemoved,
    /// The card answered with an unexpected status or a malformed record.
    CardError,
    /// The operation did not finish in time.
    Timeout,
    /// The request is not valid JSON or not a known command, or breaks the protocol order.
    BadRequest,
    /// The request frame is larger than [`MAX_REQUEST_FRAME`].
    FrameTooLarge,
    /// The caller (extension id or page origin) is not one this bridge serves.
    OriginNotAllowed,
    /// A bug or an unexpected environment failure inside the bridge.
    Internal,
    #[cfg(not(feature = "citizen-page"))]
    /// The card in the reader is not a citizen certificate card (an NHI card, say).
    NotCertificateCard,
    #[cfg(not(feature = "citizen-page"))]
    /// The PIN was wrong; `tries_left` says how many tries the card still allows.
    PinWrong,
    #[cfg(not(feature = "citizen-page"))]
    /// The PIN is blocked (too many wrong tries): only the issuer can unblock it.
    PinBlocked,
    #[cfg(not(feature = "citizen-page"))]
    /// The person closed the PIN dialog, or the page cancelled the request.
    Cancelled,
    #[cfg(not(feature = "citizen-page"))]
    /// The host could not show its PIN dialog (no pinentry, no desktop session).
    PinDialogUnavailable,
}

impl ErrorCode {
    #[cfg(not(feature = "citizen-page"))]
    pub const ALL: [ErrorCode; 21] = [
        ErrorCode::ExtensionMissing,
        ErrorCode::ExtensionVersion,
        ErrorCode::BridgeMissing,
        ErrorCode::BridgeVersion,
        ErrorCode::PcscNotRunning,
        ErrorCode::NoReader,
        ErrorCode::NoCard,
        ErrorCode::NotNhiCard,
        ErrorCode::CardBusy,
        ErrorCode::CardRemoved,
        ErrorCode::CardError,
        ErrorCode::Timeout,
        ErrorCode::BadRequest,
        ErrorCode::FrameTooLarge,
        ErrorCode::OriginNotAllowed,
        ErrorCode::Internal,
        ErrorCode::NotCertificateCard,
        ErrorCode::PinWrong,
        ErrorCode::PinBlocked,
        ErrorCode::Cancelled,
        ErrorCode::PinDialogUnavailable,
    ];
    /// The codes of the citizen page's build (without the certificate card's).
    #[cfg(feature = "citizen-page")]
    pub const ALL: [ErrorCode; 16] = [
        ErrorCode::ExtensionMissing,
        ErrorCode::ExtensionVersion,
        ErrorCode::BridgeMissing,
        ErrorCode::BridgeVersion,
        ErrorCode::PcscNotRunning,
        ErrorCode::NoReader,
        ErrorCode::NoCard,
        ErrorCode::NotNhiCard,
        ErrorCode::CardBusy,
        ErrorCode::CardRemoved,
        ErrorCode::CardError,
        ErrorCode::Timeout,
        ErrorCode::BadRequest,
        ErrorCode::FrameTooLarge,
        ErrorCode::OriginNotAllowed,
        ErrorCode::Internal,
    ];

    /// The wire name (`"no_card"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ExtensionMissing => "extension_missing",
            ErrorCode::ExtensionVersion => "extension_version",
            ErrorCode::BridgeMissing => "bridge_missing",
            ErrorCode::BridgeVersion => "bridge_version",
            ErrorCode::PcscNotRunning => "pcsc_not_running",
            ErrorCode::NoReader => "no_reader",
            ErrorCode::NoCard => "no_card",
            ErrorCode::NotNhiCard => "not_nhi_card",
            ErrorCode::CardBusy => "card_busy",
            ErrorCode::CardRemoved => "card_removed",
            ErrorCode::CardError => "card_error",
            ErrorCode::Timeout => "timeout",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::OriginNotAllowed => "origin_not_allowed",
            ErrorCode::Internal => "internal",
            #[cfg(not(feature = "citizen-page"))]
            ErrorCode::NotCertificateCard => "not_certificate_card",
            #[cfg(not(feature = "citizen-page"))]
            ErrorCode::PinWrong => "pin_wrong",
            #[cfg(not(feature = "citizen-page"))]
            ErrorCode::PinBlocked => "pin_blocked",
            #[cfg(not(feature = "citizen-page"))]
            ErrorCode::Cancelled => "cancelled",
            #[cfg(not(feature = "citizen-page"))]
            ErrorCode::PinDialogUnavailable => "pin_dialog_unavailable",
        }
    }

    /// Whether trying again after the user acted (inserted the card, closed the other
    /// program) can succeed without reinstalling anything.
    pub fn is_user_fixable(self) -> bool {
        #[cfg(not(feature = "citizen-page"))]
        if matches!(
            self,
            ErrorCode::NotCertificateCard | ErrorCode::PinWrong | ErrorCode::Cancelled
        ) {
            return true;
        }
        matches!(
            self,
            ErrorCode::NoReader
                | ErrorCode::NoCard
                | ErrorCode::NotNhiCard
                | ErrorCode::CardBusy
                | ErrorCode::CardRemoved
                | ErrorCode::Timeout
        )
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a request frame could not be turned into a [`Request`]; carries the id when the frame
/// had a usable one, so the reply can still be matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    pub id: Option<RequestId>,
    pub error: BridgeError,
}

/// Parses one request frame. Never panics; every failure is a coded [`RequestError`]:
/// [`ErrorCode::BadRequest`] for anything that is not a known, well-formed command and
/// [`ErrorCode::BridgeVersion`] / [`ErrorCode::ExtensionVersion`] for a version this build
/// does not speak.
pub fn parse_request(frame: &[u8]) -> Result<Request, RequestError> {
    let bad = |id, message: String| RequestError {
        id,
        error: BridgeError::new(ErrorCode::BadRequest, message),
    };
    let value: serde_json::Value =
        serde_json::from_slice(frame).map_err(|e| bad(None, format!("not JSON: {e}")))?;
    let obj = value
        .as_object()
        .ok_or_else(|| bad(None, "not a JSON object".into()))?;
    let id = obj
        .get("id")
        .and_then(serde_json::Value::as_u64)
        .and_then(|n| RequestId::try_from(n).ok());
    match obj.get("v").and_then(serde_json::Value::as_u64) {
        None => return Err(bad(id, "missing protocol version \"v\"".into())),
        Some(v) => {
            if let Some(code) = version_mismatch(v) {
                return Err(RequestError {
                    id,
                    error: BridgeError::new(
                        code,
                        format!("protocol version {v} not supported (this side speaks {MIN_PROTOCOL_VERSION}..={PROTOCOL_VERSION})"),
                    ),
                });
            }
        }
    }
    if id.is_none() {
        return Err(bad(None, "missing or invalid request id".into()));
    }
    serde_json::from_value::<Request>(value)
        .map_err(|e| bad(id, format!("unknown or malformed command: {e}")))
}

/// Compares a peer's protocol version with this build's: `None` when compatible, else who is
/// too old from this side's point of view ([`ErrorCode::ExtensionVersion`] when the peer is
/// older than we support, [`ErrorCode::BridgeVersion`] when the peer is newer than we are).
pub fn version_mismatch(peer: u64) -> Option<ErrorCode> {
    if peer < u64::from(MIN_PROTOCOL_VERSION) {
        Some(ErrorCode::ExtensionVersion)
    } else if peer > u64::from(PROTOCOL_VERSION) {
        Some(ErrorCode::BridgeVersion)
    } else {
        None
    }
}

/// Whether `origin` (as the browser reports it, `scheme://host[:port]`) is one of `allowed`.
/// An entry may end in `:*` to allow any port of that scheme and host (development only).
pub fn origin_allowed<S: AsRef<str>>(origin: &str, allowed: &[S]) -> bool {
    if origin.is_empty() || origin.ends_with('/') || origin == "null" {
        return false;
    }
    allowed.iter().any(|a| {
        let a = a.as_ref();
        match a.strip_suffix(":*") {
            Some(base) => {
                origin == base
                    || origin.strip_prefix(base).is_some_and(|rest| {
                        rest.strip_prefix(':').is_some_and(|port| {
                            !port.is_empty()
                                && port.len() <= 5
                                && port.bytes().all(|b| b.is_ascii_digit())
                        })
                    })
            }
            None => origin == a,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn req(body: serde_json::Value) -> Result<Request, RequestError> {
        parse_request(body.to_string().as_bytes())
    }

    #[test]
    fn parses_every_command() {
        let nonce = "ab".repeat(32);
        let cases = [
            (json!({"type":"hello"}), Command::Hello { client: None }),
            (
                json!({"type":"hello","client":"ext/1"}),
                Command::Hello {
                    client: Some("ext/1".into()),
                },
            ),
            (json!({"type":"status"}), Command::Status),
            (json!({"type":"read_basic_data"}), Command::ReadBasicData),
            (
                json!({"type":"card_proof","nonce":nonce}),
                Command::CardProof {
                    nonce: Nonce([0xAB; 32]),
                },
            ),
            (json!({"type":"subscribe"}), Command::Subscribe),
            (json!({"type":"unsubscribe"}), Command::Unsubscribe),
            (json!({"type":"certificate"}), Command::Certificate),
            (
                json!({"type":"authenticate","nonce":nonce}),
                Command::Authenticate {
                    nonce: Nonce([0xAB; 32]),
                },
            ),
            (
                json!({"type":"cancel","request":13}),
                Command::Cancel { request: 13 },
            ),
        ];
        for (cmd, want) in cases {
            let r = req(json!({"v":2,"id":5,"cmd":cmd})).expect("parses");
            assert_eq!(r.cmd, want);
            assert_eq!(r.id, 5);
            // and back
            let again = parse_request(&serde_json::to_vec(&r).expect("ser")).expect("round trip");
            assert_eq!(again, r);
        }
    }

    #[test]
    fn origin_is_carried_for_the_extension() {
        let r = req(json!({"v":2,"id":1,"origin":"https://nhi.example","cmd":{"type":"status"}}))
            .expect("ok");
        assert_eq!(r.origin.as_deref(), Some("https://nhi.example"));
    }

    #[test]
    fn broken_requests_are_coded_and_keep_the_id() {
        let e = parse_request(b"\xff\x00garbage").expect_err("garbage");
        assert_eq!((e.id, e.error.code), (None, ErrorCode::BadRequest));
        let e = req(json!([1, 2])).expect_err("array");
        assert_eq!(e.error.code, ErrorCode::BadRequest);
        let e = req(json!({"v":2,"id":3,"cmd":{"type":"format_disk"}})).expect_err("unknown");
        assert_eq!((e.id, e.error.code), (Some(3), ErrorCode::BadRequest));
        let e = req(json!({"v":2,"id":3,"cmd":{"type":"card_proof","nonce":"00"}}))
            .expect_err("short nonce");
        assert_eq!((e.id, e.error.code), (Some(3), ErrorCode::BadRequest));
        let e = req(json!({"v":2,"cmd":{"type":"status"}})).expect_err("no id");
        assert_eq!((e.id, e.error.code), (None, ErrorCode::BadRequest));
        let e = req(json!({"id":4,"cmd":{"type":"status"}})).expect_err("no version");
        assert_eq!((e.id, e.error.code), (Some(4), ErrorCode::BadRequest));
        let e = req(json!({"v":99,"id":4,"cmd":{"type":"status"}})).expect_err("newer");
        assert_eq!((e.id, e.error.code), (Some(4), ErrorCode::BridgeVersion));
        let e = req(json!({"v":0,"id":4,"cmd":{"type":"status"}})).expect_err("older");
        assert_eq!((e.id, e.error.code), (Some(4), ErrorCode::ExtensionVersion));
        // A version 1 extension (whose proofs the server no longer takes) is told to update.
        let e = req(json!({"v":1,"id":4,"cmd":{"type":"hello"}})).expect_err("v1");
        assert_eq!((e.id, e.error.code), (Some(4), ErrorCode::ExtensionVersion));
        let e = req(json!({"v":2,"id":4,"cmd":{"type":"status"},"extra":1}))
            .expect_err("unknown field");
        assert_eq!((e.id, e.error.code), (Some(4), ErrorCode::BadRequest));
        let e = req(json!({"v":2,"id":-4,"cmd":{"type":"status"}})).expect_err("negative id");
        assert_eq!((e.id, e.error.code), (None, ErrorCode::BadRequest));
    }

    #[test]
    fn replies_and_events_have_the_documented_shape() {
        let m = HostMessage::reply(Some(9), Err(BridgeError::new(ErrorCode::NoCard, "empty")));
        assert_eq!(
            serde_json::to_value(&m).expect("ser"),
            json!({"kind":"reply","v":2,"id":9,"result":{"err":{"code":"no_card","message":"empty"}}})
        );
        let m = HostMessage::event(Event::CardInserted {
            reader: "R 0".into(),
            kind: None,
        });
        assert_eq!(
            serde_json::to_value(&m).expect("ser"),
            json!({"kind":"event","v":2,"event":{"type":"card_inserted","reader":"R 0"}})
        );
        let status = Status {
            service: ServiceState::Running,
            readers: vec![ReaderStatus {
                name: "R".into(),
                card: CardPresence::Present,
                kind: None,
            }],
        };
        let m = HostMessage::reply(Some(1), Ok(Answer::Status(status)));
        let v = serde_json::to_value(&m).expect("ser");
        assert_eq!(v["result"]["ok"]["type"], "status");
        assert_eq!(v["result"]["ok"]["readers"][0]["card"], "present");
        let back: HostMessage = serde_json::from_value(v).expect("de");
        assert_eq!(back, m);
    }

    #[test]
    fn certificate_answers_and_pin_errors_round_trip() {
        let answers = [
            Answer::Certificate {
                reader: "R".into(),
                certificate: "MIIB".into(),
            },
            Answer::Authenticate {
                reader: "R".into(),
                origin: "https://nhi.example".into(),
                certificate: "MIIB".into(),
                signature: "AAAA".into(),
                algorithm: SignatureAlgorithm::ES256,
            },
            Answer::Cancelled,
        ];
        for a in answers {
            let m = HostMessage::reply(Some(3), Ok(a));
            let back: HostMessage =
                serde_json::from_value(serde_json::to_value(&m).expect("ser")).expect("de");
            assert_eq!(back, m);
        }
        let m = HostMessage::reply(Some(3), Err(BridgeError::pin_wrong(2)));
        let v = serde_json::to_value(&m).expect("ser");
        assert_eq!(v["result"]["err"]["code"], "pin_wrong");
        assert_eq!(v["result"]["err"]["tries_left"], 2);
        assert_eq!(serde_json::from_value::<HostMessage>(v).expect("de"), m);
        let m = HostMessage::event(Event::CardInserted {
            reader: "R".into(),
            kind: Some(CardKind::Certificate),
        });
        let v = serde_json::to_value(&m).expect("ser");
        assert_eq!(v["event"]["kind"], "certificate");
        assert_eq!(serde_json::from_value::<HostMessage>(v).expect("de"), m);
    }

    #[test]
    fn error_codes_serialise_as_their_names() {
        for code in ErrorCode::ALL {
            assert_eq!(
                serde_json::to_value(code).expect("ser"),
                json!(code.as_str())
            );
        }
    }

    #[test]
    fn origins_match_exactly_or_by_any_port() {
        let allowed = ["https://nhi.example", "http://127.0.0.1:*"];
        assert!(origin_allowed("https://nhi.example", &allowed));
        assert!(origin_allowed("http://127.0.0.1:8080", &allowed));
        assert!(origin_allowed("http://127.0.0.1", &allowed));
        assert!(!origin_allowed("https://nhi.example.evil.test", &allowed));
        assert!(!origin_allowed("https://nhi.example/", &allowed));
        assert!(!origin_allowed("http://127.0.0.1.evil.test", &allowed));
        assert!(!origin_allowed("http://127.0.0.1:80x", &allowed));
        assert!(!origin_allowed("http://127.0.0.1:", &allowed));
        assert!(!origin_allowed("null", &allowed));
        assert!(!origin_allowed("", &allowed));
    }

    fn arb_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number)),
            prop_oneof![
                Just("hello".to_string()),
                Just("card_proof".to_string()),
                Just("status".to_string()),
                Just("ab".repeat(32)),
                ".{0,12}",
            ]
            .prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("v".to_string()),
                        Just("id".to_string()),
                        Just("cmd".to_string()),
                        Just("type".to_string()),
                        Just("nonce".to_string()),
                        Just("origin".to_string()),
                        "[a-z]{1,6}",
                    ],
                    inner,
                    0..5
                )
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn parse_request_never_panics_on_arbitrary_json(v in arb_json()) {
            let bytes = v.to_string().into_bytes();
            if let Ok(r) = parse_request(&bytes) {
                // Whatever parses also serialises and parses back to itself.
                let again = parse_request(&serde_json::to_vec(&r).expect("ser"));
                prop_assert_eq!(again, Ok(r));
            }
        }

        #[test]
        fn parse_request_never_panics_on_arbitrary_bytes(b in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_request(&b);
        }

        #[test]
        fn host_messages_never_panic_when_decoded(v in arb_json()) {
            let _ = serde_json::from_value::<HostMessage>(v);
        }

        #[test]
        fn origin_check_never_panics(o in ".{0,40}") {
            let _ = origin_allowed(&o, &["http://127.0.0.1:*", "https://nhi.example"]);
        }
    }
}
