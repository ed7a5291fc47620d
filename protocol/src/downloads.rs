//! What `/download` offers (issues 17 and 13): the files of the server's `downloads_dir` —
//! the packages `scripts/package.sh` built for its deployment, or what `scripts/run.sh` put
//! there for a developer — each with its SHA-256, so a person can check what they run; the
//! deployment's store pages of the extension; the version the server was built as.
//!
//! | Method | Path | Body → answer |
//! |---|---|---|
//! | GET | `/api/v1/downloads` | – → [`DownloadsResponse`] |
//! | GET | `/api/v1/downloads/{name}` | – → the file (`Content-Disposition: attachment`) |
//!
//! The names the packaging tool gives its artefacts (notes/issue13/PLAN.md):
//!
//! | Name | [`DownloadKind`] |
//! |---|---|
//! | `nhi-bridge_<ver>-1_amd64.deb` | [`DownloadKind::Deb`] |
//! | `nhi-bridge-<ver>-1.x86_64.rpm` | [`DownloadKind::Rpm`] |
//! | `nhi-bridge-<ver>-x64.msi` | [`DownloadKind::Msi`] |
//! | `nhi-card-bridge-<ver>-chromium.zip` | [`DownloadKind::ChromiumExtension`] |
//! | `nhi-card-bridge-<ver>-firefox.zip` (or `.xpi`) | [`DownloadKind::FirefoxExtension`] |
//! | `SHA256SUMS` | [`DownloadKind::Checksums`] |
//! | `nhi-bridge`, `nhi-bridge.exe` (a bare host binary, `scripts/run.sh`) | [`DownloadKind::Bridge`] |
//! | `nhi-extension.zip` (the unpacked extension, `scripts/run.sh`) | [`DownloadKind::Extension`] |

use serde::{Deserialize, Serialize};

use crate::deployment::Stores;

/// What a file is, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DownloadKind {
    /// The card reader program for Debian / Ubuntu (`nhi-bridge_<ver>_<arch>.deb`).
    Deb,
    /// The card reader program for Fedora / RHEL / openSUSE (`nhi-bridge-<ver>.<arch>.rpm`).
    Rpm,
    /// The card reader program for Windows (`nhi-bridge-<ver>-x64.msi`).
    Msi,
    /// The extension for the Chromium family (Chrome, Edge, …) as sent to its stores.
    ChromiumExtension,
    /// The extension for Firefox as sent to AMO.
    FirefoxExtension,
    /// A bare host binary (`nhi-bridge`, `nhi-bridge.exe`): for developers, installed with
    /// `nhi-bridge install`.
    Bridge,
    /// The unpacked development extension as a zip (`nhi-extension.zip`): for developers.
    Extension,
    /// The SHA-256 of every file (`SHA256SUMS`, `sha256sum -c`).
    Checksums,
    Other,
}

/// The operating system a file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DownloadOs {
    /// Debian, Ubuntu and their relatives (.deb).
    LinuxDeb,
    /// Fedora, RHEL, openSUSE (.rpm).
    LinuxRpm,
    Windows,
    /// Any system (an extension, the checksum list).
    Any,
}

/// The browser family an extension file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DownloadBrowser {
    /// Chrome, Edge, Chromium, Brave, Opera, …
    Chromium,
    Firefox,
}

/// The part of an artefact name between a prefix and a suffix: a version (and release,
/// architecture), starting with a digit, no empty pieces.
fn versioned(name: &str, prefix: &str, suffix: &str) -> bool {
    name.strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix(suffix))
        .is_some_and(|v| {
            v.starts_with(|c: char| c.is_ascii_digit())
                && !v.contains("..")
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
}

impl DownloadKind {
    /// The kind a file name stands for (names that are not offerable are [`Self::Other`]).
    pub fn of_name(name: &str) -> Self {
        if !is_offerable_name(name) {
            return Self::Other;
        }
        if versioned(name, "nhi-bridge_", ".deb") {
            Self::Deb
        } else if versioned(name, "nhi-bridge-", ".rpm") {
            Self::Rpm
        } else if versioned(name, "nhi-bridge-", ".msi") {
            Self::Msi
        } else if versioned(name, "nhi-card-bridge-", "-chromium.zip") {
            Self::ChromiumExtension
        } else if versioned(name, "nhi-card-bridge-", "-firefox.zip")
            || versioned(name, "nhi-card-bridge-", "-firefox.xpi")
        {
            Self::FirefoxExtension
        } else if name == "nhi-bridge" || name == "nhi-bridge.exe" {
            Self::Bridge
        } else if name == "nhi-extension.zip" {
            Self::Extension
        } else if name == "SHA256SUMS" {
            Self::Checksums
        } else {
            Self::Other
        }
    }

    /// The system the file is for; `None` for files that are not for citizens (a bare
    /// binary, the development extension, anything unknown).
    pub fn os(self) -> Option<DownloadOs> {
        match self {
            Self::Deb => Some(DownloadOs::LinuxDeb),
            Self::Rpm => Some(DownloadOs::LinuxRpm),
            Self::Msi => Some(DownloadOs::Windows),
            Self::ChromiumExtension | Self::FirefoxExtension | Self::Checksums => {
                Some(DownloadOs::Any)
            }
            Self::Bridge | Self::Extension | Self::Other => None,
        }
    }

    /// The browser family an extension is for; `None` for anything else.
    pub fn browser(self) -> Option<DownloadBrowser> {
        match self {
            Self::ChromiumExtension | Self::Extension => Some(DownloadBrowser::Chromium),
            Self::FirefoxExtension => Some(DownloadBrowser::Firefox),
            _ => None,
        }
    }

    /// A package of the card reader program (deb, rpm, msi).
    pub fn is_bridge_package(self) -> bool {
        matches!(self, Self::Deb | Self::Rpm | Self::Msi)
    }

    /// The wire name (`"chromium_extension"`), e.g. for a `data-kind` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deb => "deb",
            Self::Rpm => "rpm",
            Self::Msi => "msi",
            Self::ChromiumExtension => "chromium_extension",
            Self::FirefoxExtension => "firefox_extension",
            Self::Bridge => "bridge",
            Self::Extension => "extension",
            Self::Checksums => "checksums",
            Self::Other => "other",
        }
    }
}

/// One offered file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DownloadFile {
    pub name: String,
    pub kind: DownloadKind,
    pub bytes: u64,
    /// Lower-case hex.
    pub sha256: String,
    /// Where to fetch it (`/api/v1/downloads/{name}`).
    pub url: String,
}

/// Every offered file, by name (empty when the server offers none), the extension's store
/// pages of the server's deployment (none without `deployment_file`) and the server's
/// version (the workspace version, which the packages carry too).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DownloadsResponse {
    pub files: Vec<DownloadFile>,
    #[serde(default)]
    pub stores: Stores,
    #[serde(default)]
    pub version: String,
}

/// Whether `name` may be offered: a plain file name (letters, digits, `.`, `_`, `-`), not
/// hidden, so no path ever leaves the folder.
pub fn is_offerable_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_packaging_tools_names_are_recognised() {
        for (name, kind, os, browser) in [
            (
                "nhi-bridge_0.1.0-1_amd64.deb",
                DownloadKind::Deb,
                Some(DownloadOs::LinuxDeb),
                None,
            ),
            (
                "nhi-bridge-0.1.0-1.x86_64.rpm",
                DownloadKind::Rpm,
                Some(DownloadOs::LinuxRpm),
                None,
            ),
            (
                "nhi-bridge-0.1.0-x64.msi",
                DownloadKind::Msi,
                Some(DownloadOs::Windows),
                None,
            ),
            (
                "nhi-card-bridge-0.1.0-chromium.zip",
                DownloadKind::ChromiumExtension,
                Some(DownloadOs::Any),
                Some(DownloadBrowser::Chromium),
            ),
            (
                "nhi-card-bridge-0.1.0-firefox.zip",
                DownloadKind::FirefoxExtension,
                Some(DownloadOs::Any),
                Some(DownloadBrowser::Firefox),
            ),
            (
                "nhi-card-bridge-1.2.3-firefox.xpi",
                DownloadKind::FirefoxExtension,
                Some(DownloadOs::Any),
                Some(DownloadBrowser::Firefox),
            ),
            (
                "SHA256SUMS",
                DownloadKind::Checksums,
                Some(DownloadOs::Any),
                None,
            ),
            // What scripts/run.sh offers a developer.
            ("nhi-bridge", DownloadKind::Bridge, None, None),
            ("nhi-bridge.exe", DownloadKind::Bridge, None, None),
            (
                "nhi-extension.zip",
                DownloadKind::Extension,
                None,
                Some(DownloadBrowser::Chromium),
            ),
            ("README.txt", DownloadKind::Other, None, None),
        ] {
            assert_eq!(DownloadKind::of_name(name), kind, "{name}");
            assert_eq!(kind.os(), os, "{name}");
            assert_eq!(kind.browser(), browser, "{name}");
            let wire = serde_json::to_string(&kind).expect("serialises");
            assert_eq!(wire, format!("\"{}\"", kind.as_str()));
        }
        assert!(DownloadKind::Msi.is_bridge_package());
        assert!(!DownloadKind::Bridge.is_bridge_package());
    }

    #[test]
    fn look_alike_and_hostile_names_are_other() {
        for name in [
            "nhi-bridge_0.1.0-1_amd64.deb.exe",
            "nhi-bridge_0.1.0-1_amd64.deb/",
            "nhi-bridge_.deb",
            "nhi-bridge_x.deb",
            "nhi-bridge_..deb",
            "nhi-bridge_0..1.deb",
            "../nhi-bridge_0.1.0-1_amd64.deb",
            "evil/nhi-bridge-0.1.0-x64.msi",
            "nhi-bridge-0.1.0-x64.msi.lnk",
            "nhi-bridge-0.1.0-x64.MSI",
            "NHI-BRIDGE",
            "nhi-bridge.sh",
            "nhi-bridge-evil.exe",
            "evil-nhi-bridge-0.1.0.rpm",
            "nhi-card-bridge-0.1.0-chromium.zip.exe",
            "nhi-card-bridge--chromium.zip",
            "nhi-card-bridge-0.1.0-chrome.zip",
            "nhi-extension.zip.exe",
            "my-extension.zip",
            "SHA256SUMS.exe",
            "sha256sums",
            ".nhi-bridge_0.1.0-1_amd64.deb",
            "nhi-bridge_0.1.0 1_amd64.deb",
            "nhi-bridge_0.1.0\u{0}_amd64.deb",
            "nhi-bridge_名_amd64.deb",
            "",
        ] {
            assert_eq!(DownloadKind::of_name(name), DownloadKind::Other, "{name:?}");
        }
    }

    #[test]
    fn offerable_names() {
        assert!(is_offerable_name("nhi-extension.zip"));
        assert!(is_offerable_name("SHA256SUMS"));
        for bad in [
            "",
            ".",
            "..",
            ".hidden",
            "../etc/passwd",
            "a/b",
            "/etc/passwd",
            "a b",
            "名.zip",
            "a\\b",
            "%2e%2e",
            "a\u{0}b",
        ] {
            assert!(!is_offerable_name(bad), "{bad:?}");
        }
        assert!(!is_offerable_name(&"a".repeat(101)));
    }

    #[test]
    fn an_older_answer_without_stores_or_version_still_reads() {
        let r: DownloadsResponse = serde_json::from_str(r#"{"files":[]}"#).expect("reads");
        assert_eq!(r, DownloadsResponse::default());
    }
}
