//! What `/download` offers (issue 17): the files of the server's `downloads_dir`, each with
//! its SHA-256, so a person can check what they run.
//!
//! | Method | Path | Body → answer |
//! |---|---|---|
//! | GET | `/api/v1/downloads` | – → [`DownloadsResponse`] |
//! | GET | `/api/v1/downloads/{name}` | – → the file (`Content-Disposition: attachment`) |

use serde::{Deserialize, Serialize};

/// What a file is, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DownloadKind {
    /// The card reader component (`nhi-bridge…`).
    Bridge,
    /// The browser extension (`…extension….zip`).
    Extension,
    Other,
}

impl DownloadKind {
    /// The kind a file name stands for.
    pub fn of_name(name: &str) -> Self {
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("nhi-bridge") {
            Self::Bridge
        } else if lower.contains("extension") && lower.ends_with(".zip") {
            Self::Extension
        } else {
            Self::Other
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

/// Every offered file, by name; empty when the server offers none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DownloadsResponse {
    pub files: Vec<DownloadFile>,
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
    fn names_and_kinds() {
        assert_eq!(DownloadKind::of_name("nhi-bridge"), DownloadKind::Bridge);
        assert_eq!(
            DownloadKind::of_name("nhi-bridge.exe"),
            DownloadKind::Bridge
        );
        assert_eq!(
            DownloadKind::of_name("nhi-extension.zip"),
            DownloadKind::Extension
        );
        assert_eq!(DownloadKind::of_name("README.txt"), DownloadKind::Other);
        assert!(is_offerable_name("nhi-extension.zip"));
        for bad in [
            "",
            ".hidden",
            "../etc/passwd",
            "a/b",
            "a b",
            "名.zip",
            "a\\b",
        ] {
            assert!(!is_offerable_name(bad), "{bad:?}");
        }
    }
}
