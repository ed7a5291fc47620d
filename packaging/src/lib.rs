//! `nhi-package`: renders a deployment (`deploy/<name>.json`, [`nhi_protocol::deployment`])
//! into what scripts/package.sh packages (issue 13):
//!
//! - [`extension`]: the browser extension per browser from the template `bridge/extension/`,
//!   the store-readiness check and the store zips;
//! - [`host`]: the native host's `nhi-bridge.json`, its native-messaging manifests (Linux
//!   system-wide folders, Windows install folder + HKLM keys) and the MSI's WiX source;
//! - [`icons`]: the extension's icons, drawn reproducibly.

#![deny(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod extension;
pub mod host;
pub mod icons;
