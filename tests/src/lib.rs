//! Harness for the end-to-end suite: a chromedriver process, headless Chromium sessions with
//! an optional unpacked extension, geckodriver with headless Firefox ESR ([`firefox`]), and
//! the built SPA.
//!
//! Environment: `CHROME_BIN` (default `/usr/lib/chromium/chromium`, the real binary — Debian's
//! `/usr/bin/chromium` is a wrapper that injects flags), `CHROMEDRIVER` (default
//! `chromedriver`), `FIREFOX` (default `/usr/bin/firefox-esr`), `GECKODRIVER` (default the
//! one scripts/tools.sh caches in `/opt/nhi-tools/bin`), `NHI_DIST_DIR` (default
//! `<workspace>/dist`), `NHI_E2E_ARTEFACTS` (default `<workspace>/target/e2e-artefacts`:
//! screenshots and browser logs).

pub mod browser;
pub mod certificate;
pub mod firefox;
pub mod flows;
pub mod mail;
pub mod page;
pub mod stack;
pub mod webauthn;

use std::path::PathBuf;

/// The workspace root.
pub fn workspace_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// The SPA built by Trunk (`scripts/build-app.sh`).
pub fn dist_dir() -> PathBuf {
    std::env::var_os("NHI_DIST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_dir().join("dist"))
}

/// Where the suite leaves screenshots and logs for people to look at.
pub fn artefacts_dir() -> PathBuf {
    let dir = std::env::var_os("NHI_E2E_ARTEFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_dir().join("target/e2e-artefacts"));
    let _ = std::fs::create_dir_all(&dir);
    dir
}
