//! The NHI card bridge: a native-messaging host between the browser extension and the PC/SC
//! card reader (DESIGN.md "The card bridge"), its installer and doctor, and a virtual NHI card
//! that speaks the vpcd protocol for tests and the demo.
//!
//! - [`framing`]: native-messaging frames (4-byte native-endian length + JSON), size-limited.
//! - [`session`]: the per-connection protocol state machine (handshake, origin checks); no I/O.
//! - [`card`]: PC/SC access: status, basic-data read, card proof, with typed errors.
//! - [`events`]: card insert/remove and reader plug/unplug via `SCardGetStatusChange`.
//! - [`host`]: the host process: stdin/stdout loop, worker, watchdog, event pushes.
//! - [`config`]: allowed extension ids and web origins, timeouts, log file.
//! - [`install`]: host manifests for Chrome, Chromium, Edge and Firefox.
//! - [`doctor`]: every layer's state in zh-TW and English.
//! - [`vcard`]: the virtual NHI card.
//! - [`certcard`]: the virtual citizen certificate card (PKI applet) and the test PKI loader.
//! - [`pin`]: the host's PIN dialog (pinentry over Assuan; the Windows credential prompt).
//! - [`pcscd`]: waiting on reader state and the machine-wide pcscd lock used by tests/scripts.

#![deny(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod card;
pub mod certcard;
pub mod config;
pub mod doctor;
pub mod events;
pub mod framing;
pub mod host;
pub mod install;
pub mod logging;
pub mod pcscd;
pub mod pin;
pub mod session;
pub mod vcard;

/// The bridge binary's version (reported in the handshake and by `doctor`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
