//! Types shared by every part of the NHI card registration service.
//!
//! This crate does no I/O: it compiles for `wasm32-unknown-unknown` (the SPA) and natively
//! (the bridge and the server), so client and server validate the same way.
//!
//! - [`id`]: national ID and resident certificate numbers.
//! - [`card`]: the NHI card number and the 57-byte basic-data record.
//! - [`date`]: ROC (民國) dates.
//! - [`household`], [`contact`], [`sex`]: the other registration values.
//! - [`mask`]: masking names and numbers for display (王○明, A12****789).
//! - [`password`]: the registration password policy and its feedback.
//! - [`apdu`]: the NHI card commands and status words, in one place.
//! - [`card_proof`]: the origin-bound challenge-response that authenticates a card.
//! - [`bridge`]: messages between the page, the extension and the native host.
//! - [`api`]: HTTP API request and response bodies.
//! - [`areas`]: the separately built parts of the SPA and the paths each serves.
//! - [`online`]: API bodies of the online services after login (F9).
//! - [`units`]: API bodies of the insured-unit services (F4–F8).
//! - [`passkeys`]: API bodies of the passkeys rooted in the card (issue 16).
//! - [`deployment`]: one deployment's origins, extension ids and store pages (issue 13).
//!
//! No `unwrap()`/`expect()` outside tests (`clippy::unwrap_used`, `clippy::expect_used`).

#![deny(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod apdu;
pub mod api;
pub mod areas;
pub mod bridge;
pub mod card;
pub mod card_proof;
pub mod certificate;
pub mod contact;
pub mod date;
pub mod deployment;
pub mod downloads;
pub mod household;
pub mod id;
pub mod mask;
pub mod online;
pub mod passkeys;
pub mod password;
pub mod sex;
pub mod units;

pub use card::{CardBasicData, CardDataError, CardNumber};
pub use contact::{Email, MobileNumber, PhoneNumber};
pub use date::RocDate;
pub use household::HouseholdNumber;
pub use id::NationalId;
pub use sex::Sex;
