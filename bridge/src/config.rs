//! The host's configuration: which extensions may start it, which web origins it serves, its
//! timeouts and its log file.
//!
//! Looked up in order ([`lookup`]): the file named by `NHI_BRIDGE_CONFIG`, `nhi-bridge.json`
//! next to the executable, then
//!
//! - in a development build: the built-in development defaults below;
//! - in a packaged build ([`PACKAGED`]: compiled with `NHI_BRIDGE_PACKAGED=1`, as
//!   scripts/package.sh does for the .deb, .rpm and .msi): the system-wide file the package
//!   installs ([`system_config_path`]: `/etc/nhi-bridge/nhi-bridge.json` on Linux,
//!   `/Library/Application Support/NHI Card Bridge/nhi-bridge.json` on macOS; on Windows the
//!   MSI puts it next to the executable). A packaged host has **no** development defaults:
//!   without a file it refuses to run ([`ConfigError::Missing`]), and `doctor` says to
//!   reinstall the package.
//!
//! Every field is optional in the file; missing ones keep their default (in a packaged build
//! the extension ids and origins default to none).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The id Chromium-family browsers give the development build of `bridge/extension` (fixed by
/// the public key in its manifest; a unit test recomputes it).
pub const DEV_EXTENSION_ID: &str = "iabeigkbcleonjchbhkaajnjdgncoiao";

/// The Firefox add-on id in `bridge/extension/manifest.json` (`browser_specific_settings`).
pub const FIREFOX_EXTENSION_ID: &str = "card-bridge@nhi-registration.example";

/// Origins of the development service (the content script's `matches` cover the same hosts).
pub const DEV_ORIGINS: [&str; 2] = ["http://127.0.0.1:*", "http://localhost:*"];

/// Environment variable naming a config file.
pub const CONFIG_ENV: &str = "NHI_BRIDGE_CONFIG";

/// Whether this is a packaged build (`NHI_BRIDGE_PACKAGED=1` at compile time): no
/// development defaults (see the module docs). Cargo rebuilds the crate when the variable
/// changes (`option_env!` is tracked).
pub const PACKAGED: bool = is_one(option_env!("NHI_BRIDGE_PACKAGED"));

const fn is_one(v: Option<&str>) -> bool {
    match v {
        Some(s) => s.len() == 1 && s.as_bytes()[0] == b'1',
        None => false,
    }
}

/// Where the packages install the configuration for `os` (Windows: next to the executable,
/// which [`lookup`] tries anyway).
pub fn system_config_path(os: crate::install::Os) -> Option<PathBuf> {
    use crate::install::Os;
    match os {
        Os::Linux => Some(PathBuf::from("/etc/nhi-bridge/nhi-bridge.json")),
        Os::MacOs => Some(PathBuf::from(
            "/Library/Application Support/NHI Card Bridge/nhi-bridge.json",
        )),
        Os::Windows => None,
    }
}

/// What [`lookup`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Read this file.
    File(PathBuf),
    /// Use the development defaults (development builds only).
    Defaults,
    /// A packaged build found no file; these were tried.
    Missing(Vec<PathBuf>),
}

/// The configuration lookup, without side effects: `env` is `NHI_BRIDGE_CONFIG`'s value,
/// `exe` the executable's path, `is_file` tells whether a path is an existing file.
pub fn lookup(
    env: Option<&std::ffi::OsStr>,
    exe: Option<&Path>,
    packaged: bool,
    os: crate::install::Os,
    is_file: impl Fn(&Path) -> bool,
) -> Lookup {
    if let Some(p) = env.filter(|p| !p.is_empty()) {
        return Lookup::File(PathBuf::from(p));
    }
    let mut tried = Vec::new();
    if let Some(next_to_exe) = exe
        .and_then(Path::parent)
        .map(|d| d.join("nhi-bridge.json"))
    {
        if is_file(&next_to_exe) {
            return Lookup::File(next_to_exe);
        }
        tried.push(next_to_exe);
    }
    if !packaged {
        return Lookup::Defaults;
    }
    if let Some(system) = system_config_path(os) {
        if is_file(&system) {
            return Lookup::File(system);
        }
        tried.push(system);
    }
    Lookup::Missing(tried)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Chromium-family extension ids (32 letters a–p) allowed to start the host.
    pub extension_ids: Vec<String>,
    /// Firefox add-on ids allowed to start the host.
    pub firefox_extension_ids: Vec<String>,
    /// Web origins whose pages may ask for a card proof (`scheme://host[:port]`; a trailing
    /// `:*` allows any port, for development).
    pub origins: Vec<String>,
    /// Log file; default: the platform's per-user state/log folder.
    pub log_file: Option<PathBuf>,
    /// How long to keep retrying while another program holds the card exclusively.
    pub busy_timeout_ms: u64,
    /// Upper bound for one request, after which the page gets `timeout`.
    pub request_timeout_ms: u64,
    /// The pinentry program that asks for the certificate card's PIN (Linux, macOS). Only
    /// ever from this file, never from a message.
    pub pinentry: PathBuf,
    /// Upper bound for an `authenticate` request (the person types the PIN meanwhile).
    pub pin_timeout_ms: u64,
}

impl Default for Config {
    /// The development defaults; in a packaged build no extension and no origin.
    fn default() -> Self {
        let dev = !PACKAGED;
        Self {
            extension_ids: dev
                .then(|| DEV_EXTENSION_ID.to_string())
                .into_iter()
                .collect(),
            firefox_extension_ids: dev
                .then(|| FIREFOX_EXTENSION_ID.to_string())
                .into_iter()
                .collect(),
            origins: if dev {
                DEV_ORIGINS.iter().map(|s| s.to_string()).collect()
            } else {
                Vec::new()
            },
            log_file: None,
            busy_timeout_ms: 3_000,
            request_timeout_ms: 15_000,
            pinentry: crate::pin::default_pinentry(),
            pin_timeout_ms: 120_000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the config file {path} is not valid: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "the config file {path} lists an invalid extension id {id:?} (32 letters a–p expected)"
    )]
    ExtensionId { path: PathBuf, id: String },
    #[error(
        "this packaged nhi-bridge has no configuration: none of {} exists (reinstall the package, or set {CONFIG_ENV})",
        .tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    Missing { tried: Vec<PathBuf> },
}

/// Where a configuration came from (for `doctor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Defaults,
}

impl Config {
    pub fn busy_timeout(&self) -> Duration {
        Duration::from_millis(self.busy_timeout_ms)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms.max(1))
    }

    pub fn pin_timeout(&self) -> Duration {
        Duration::from_millis(self.pin_timeout_ms.max(1))
    }

    /// Loads the configuration (see the module docs for the lookup order).
    pub fn load() -> Result<(Self, Source), ConfigError> {
        let env = std::env::var_os(CONFIG_ENV);
        let exe = std::env::current_exe().ok();
        match lookup(
            env.as_deref(),
            exe.as_deref(),
            PACKAGED,
            crate::install::Os::current(),
            Path::is_file,
        ) {
            Lookup::File(path) => Self::from_file(&path).map(|c| (c, Source::File(path))),
            Lookup::Defaults => Ok((Self::default(), Source::Defaults)),
            Lookup::Missing(tried) => Err(ConfigError::Missing { tried }),
        }
    }

    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let config: Config =
            serde_json::from_slice(&text).map_err(|source| ConfigError::Parse {
                path: path.to_path_buf(),
                source,
            })?;
        if let Some(id) = config
            .extension_ids
            .iter()
            .find(|id| !is_chromium_extension_id(id))
        {
            return Err(ConfigError::ExtensionId {
                path: path.to_path_buf(),
                id: id.clone(),
            });
        }
        Ok(config)
    }

    /// Whether the browser's caller argument names an allowed extension.
    pub fn caller_allowed(&self, caller: &Caller) -> bool {
        match caller {
            Caller::Chromium { extension_id } => {
                self.extension_ids.iter().any(|id| id == extension_id)
            }
            Caller::Firefox { extension_id } => self
                .firefox_extension_ids
                .iter()
                .any(|id| id == extension_id),
        }
    }

    /// The log file to use.
    pub fn log_path(&self) -> Option<PathBuf> {
        if let Some(p) = std::env::var_os("NHI_BRIDGE_LOG").filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(p));
        }
        self.log_file.clone().or_else(default_log_path)
    }
}

/// A Chromium extension id: 32 letters `a`–`p`.
pub fn is_chromium_extension_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| (b'a'..=b'p').contains(&b))
}

/// Computes a Chromium extension id from the base64 DER public key in a manifest's `key`.
pub fn extension_id_from_key(key_b64: &str) -> Option<String> {
    use base64::Engine as _;
    use sha2::Digest as _;
    let der = base64::engine::general_purpose::STANDARD
        .decode(key_b64.trim())
        .ok()?;
    let hash = sha2::Sha256::digest(der);
    Some(
        hash.iter()
            .take(16)
            .flat_map(|b| [b >> 4, b & 0x0f])
            .map(|n| char::from(b'a' + n))
            .collect(),
    )
}

/// Who started the host, from the arguments the browser passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// Chrome/Chromium/Edge pass `chrome-extension://ID/` (and on Windows `--parent-window=N`).
    Chromium { extension_id: String },
    /// Firefox passes the manifest path and then the add-on id.
    Firefox { extension_id: String },
}

impl Caller {
    /// Recognises the browser's arguments (without the program name); `None` if they are not
    /// a browser's.
    pub fn from_args(args: &[String]) -> Option<Caller> {
        let first = args.first()?;
        if let Some(rest) = first.strip_prefix("chrome-extension://") {
            let id = rest.strip_suffix('/').unwrap_or(rest);
            return Some(Caller::Chromium {
                extension_id: id.to_string(),
            });
        }
        if first.ends_with(".json") {
            let id = args.get(1)?;
            return Some(Caller::Firefox {
                extension_id: id.clone(),
            });
        }
        None
    }
}

/// The platform's per-user log location.
pub fn default_log_path() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    if cfg!(target_os = "windows") {
        std::env::var_os("LOCALAPPDATA")
            .map(|d| PathBuf::from(d).join("nhi-bridge").join("nhi-bridge.log"))
    } else if cfg!(target_os = "macos") {
        home.map(|h| h.join("Library/Logs/nhi-bridge.log"))
    } else {
        std::env::var_os("XDG_STATE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| home.map(|h| h.join(".local/state")))
            .map(|d| d.join("nhi-bridge").join("nhi-bridge.log"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_extension_id_matches_the_manifest_key() {
        let manifest: serde_json::Value =
            serde_json::from_str(include_str!("../extension/manifest.json"))
                .expect("manifest is JSON");
        let key = manifest["key"].as_str().expect("manifest has a key");
        assert_eq!(
            extension_id_from_key(key).as_deref(),
            Some(DEV_EXTENSION_ID)
        );
        assert_eq!(
            manifest["browser_specific_settings"]["gecko"]["id"].as_str(),
            Some(FIREFOX_EXTENSION_ID)
        );
    }

    #[test]
    fn the_lookup_order_and_the_packaged_build_without_defaults() {
        use crate::install::Os;
        use std::ffi::OsStr;
        let exe = Path::new("/opt/x/nhi-bridge");
        let next = PathBuf::from("/opt/x/nhi-bridge.json");
        let etc = PathBuf::from("/etc/nhi-bridge/nhi-bridge.json");
        let none = |_: &Path| false;
        let all = |_: &Path| true;
        let only = |want: PathBuf| move |p: &Path| p == want;
        // The variable wins, whatever exists; an empty one is ignored.
        for packaged in [false, true] {
            assert_eq!(
                lookup(
                    Some(OsStr::new("/c.json")),
                    Some(exe),
                    packaged,
                    Os::Linux,
                    all
                ),
                Lookup::File("/c.json".into())
            );
            assert_eq!(
                lookup(Some(OsStr::new("")), Some(exe), packaged, Os::Linux, all),
                Lookup::File(next.clone())
            );
        }
        // Development: next to the exe, else the defaults (never /etc).
        assert_eq!(
            lookup(None, Some(exe), false, Os::Linux, only(etc.clone())),
            Lookup::Defaults
        );
        // Packaged: next to the exe, then the system file, else refused.
        assert_eq!(
            lookup(None, Some(exe), true, Os::Linux, all),
            Lookup::File(next.clone())
        );
        assert_eq!(
            lookup(None, Some(exe), true, Os::Linux, only(etc.clone())),
            Lookup::File(etc.clone())
        );
        assert_eq!(
            lookup(None, Some(exe), true, Os::Linux, none),
            Lookup::Missing(vec![next.clone(), etc.clone()])
        );
        let mac = PathBuf::from("/Library/Application Support/NHI Card Bridge/nhi-bridge.json");
        assert_eq!(
            lookup(None, Some(exe), true, Os::MacOs, only(mac.clone())),
            Lookup::File(mac)
        );
        assert_eq!(
            lookup(None, Some(exe), true, Os::Windows, none),
            Lookup::Missing(vec![next])
        );
        assert_eq!(
            lookup(None, None, true, Os::Linux, none),
            Lookup::Missing(vec![etc.clone()])
        );
        let e = ConfigError::Missing { tried: vec![etc] };
        assert!(e.to_string().contains("reinstall the package"), "{e}");
        assert!(
            e.to_string().contains("/etc/nhi-bridge/nhi-bridge.json"),
            "{e}"
        );
        assert!(is_one(Some("1")) && !is_one(Some("0")) && !is_one(Some("")) && !is_one(None));
    }

    #[test]
    fn callers_are_recognised() {
        let chrome = Caller::from_args(&[
            format!("chrome-extension://{DEV_EXTENSION_ID}/"),
            "--parent-window=7".into(),
        ]);
        assert_eq!(
            chrome,
            Some(Caller::Chromium {
                extension_id: DEV_EXTENSION_ID.into()
            })
        );
        let ff = Caller::from_args(&[
            "/usr/lib/mozilla/native-messaging-hosts/x.json".into(),
            FIREFOX_EXTENSION_ID.into(),
        ]);
        assert_eq!(
            ff,
            Some(Caller::Firefox {
                extension_id: FIREFOX_EXTENSION_ID.into()
            })
        );
        assert_eq!(Caller::from_args(&["--help".into()]), None);
        assert_eq!(Caller::from_args(&[]), None);
        let c = Config::default();
        assert!(c.caller_allowed(&chrome.expect("chrome")));
        assert!(!c.caller_allowed(&Caller::Chromium {
            extension_id: "a".repeat(32)
        }));
        assert!(!c.caller_allowed(&Caller::Firefox {
            extension_id: "evil@x".into()
        }));
    }

    #[test]
    fn config_files_are_partial_and_checked() {
        let dir = std::env::temp_dir().join(format!("nhi-bridge-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let p = dir.join("c.json");
        std::fs::write(
            &p,
            r#"{"origins":["https://nhi.example"],"busy_timeout_ms":10,"pinentry":"/opt/pe","pin_timeout_ms":5000}"#,
        )
        .expect("write");
        let c = Config::from_file(&p).expect("loads");
        assert_eq!(c.origins, ["https://nhi.example"]);
        assert_eq!(c.busy_timeout_ms, 10);
        assert_eq!(c.pinentry, Path::new("/opt/pe"));
        assert_eq!(c.pin_timeout(), Duration::from_secs(5));
        assert_eq!(Config::default().pin_timeout(), Duration::from_secs(120));
        assert_eq!(c.extension_ids, [DEV_EXTENSION_ID]);
        std::fs::write(&p, r#"{"extension_ids":["nope"]}"#).expect("write");
        assert!(matches!(
            Config::from_file(&p),
            Err(ConfigError::ExtensionId { .. })
        ));
        std::fs::write(&p, r#"{"origin":[]}"#).expect("write");
        assert!(matches!(
            Config::from_file(&p),
            Err(ConfigError::Parse { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
