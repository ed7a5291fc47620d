//! `nhi-bridge install` / `uninstall`: native-messaging host manifests for Chrome, Chromium,
//! Edge and Firefox, per user or system-wide, at the locations each browser documents
//! (Linux and macOS folders; the Windows registry pointing at a manifest file).
//!
//! The plan ([`plan`]) is pure and tested for every OS; [`apply`] performs it on this one.

use std::path::{Path, PathBuf};

use nhi_protocol::bridge::HOST_NAME;
use serde_json::json;

use crate::config::Config;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Browser {
    Chrome,
    Chromium,
    Edge,
    Firefox,
}

impl Browser {
    pub const ALL: [Browser; 4] = [
        Browser::Chrome,
        Browser::Chromium,
        Browser::Edge,
        Browser::Firefox,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Browser::Chrome => "Chrome",
            Browser::Chromium => "Chromium",
            Browser::Edge => "Edge",
            Browser::Firefox => "Firefox",
        }
    }

    pub fn parse(s: &str) -> Option<Browser> {
        match s.trim().to_ascii_lowercase().as_str() {
            "chrome" | "google-chrome" => Some(Browser::Chrome),
            "chromium" => Some(Browser::Chromium),
            "edge" | "msedge" | "microsoft-edge" => Some(Browser::Edge),
            "firefox" | "mozilla" => Some(Browser::Firefox),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    User,
    System,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Linux,
    MacOs,
    Windows,
}

impl Os {
    pub fn current() -> Os {
        if cfg!(target_os = "windows") {
            Os::Windows
        } else if cfg!(target_os = "macos") {
            Os::MacOs
        } else {
            Os::Linux
        }
    }
}

/// Where one manifest goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub browser: Browser,
    /// The manifest file.
    pub manifest: PathBuf,
    /// Windows: the registry key (under HKCU or HKLM) whose default value names the manifest.
    pub registry_key: Option<String>,
}

/// Folders the plan needs: the home folder (user scope), and on Windows the folder that holds
/// the manifest files.
#[derive(Debug, Clone)]
pub struct Roots {
    pub home: PathBuf,
    /// Windows: `%LOCALAPPDATA%\nhi-bridge` (user) or the program folder (system).
    pub windows_manifest_dir: PathBuf,
}

/// The manifest locations for `browsers` at `scope` on `os`.
pub fn plan(os: Os, scope: Scope, browsers: &[Browser], roots: &Roots) -> Vec<Target> {
    let file = format!("{HOST_NAME}.json");
    browsers
        .iter()
        .map(|&b| {
            let (manifest, registry_key) = match os {
                Os::Linux => {
                    let dir: PathBuf = match (scope, b) {
                        (Scope::User, Browser::Chrome) => roots
                            .home
                            .join(".config/google-chrome/NativeMessagingHosts"),
                        (Scope::User, Browser::Chromium) => {
                            roots.home.join(".config/chromium/NativeMessagingHosts")
                        }
                        (Scope::User, Browser::Edge) => roots
                            .home
                            .join(".config/microsoft-edge/NativeMessagingHosts"),
                        (Scope::User, Browser::Firefox) => {
                            roots.home.join(".mozilla/native-messaging-hosts")
                        }
                        (Scope::System, Browser::Chrome) => {
                            "/etc/opt/chrome/native-messaging-hosts".into()
                        }
                        (Scope::System, Browser::Chromium) => {
                            "/etc/chromium/native-messaging-hosts".into()
                        }
                        (Scope::System, Browser::Edge) => {
                            "/etc/opt/edge/native-messaging-hosts".into()
                        }
                        (Scope::System, Browser::Firefox) => {
                            "/usr/lib/mozilla/native-messaging-hosts".into()
                        }
                    };
                    (dir.join(&file), None)
                }
                Os::MacOs => {
                    let dir: PathBuf = match (scope, b) {
                        (Scope::User, Browser::Chrome) => roots
                            .home
                            .join("Library/Application Support/Google/Chrome/NativeMessagingHosts"),
                        (Scope::User, Browser::Chromium) => roots
                            .home
                            .join("Library/Application Support/Chromium/NativeMessagingHosts"),
                        (Scope::User, Browser::Edge) => roots.home.join(
                            "Library/Application Support/Microsoft Edge/NativeMessagingHosts",
                        ),
                        (Scope::User, Browser::Firefox) => roots
                            .home
                            .join("Library/Application Support/Mozilla/NativeMessagingHosts"),
                        (Scope::System, Browser::Chrome) => {
                            "/Library/Google/Chrome/NativeMessagingHosts".into()
                        }
                        (Scope::System, Browser::Chromium) => {
                            "/Library/Application Support/Chromium/NativeMessagingHosts".into()
                        }
                        (Scope::System, Browser::Edge) => {
                            "/Library/Microsoft/Edge/NativeMessagingHosts".into()
                        }
                        (Scope::System, Browser::Firefox) => {
                            "/Library/Application Support/Mozilla/NativeMessagingHosts".into()
                        }
                    };
                    (dir.join(&file), None)
                }
                Os::Windows => {
                    let hive = match scope {
                        Scope::User => "HKCU",
                        Scope::System => "HKLM",
                    };
                    let vendor = match b {
                        Browser::Chrome => r"Software\Google\Chrome",
                        Browser::Chromium => r"Software\Chromium",
                        Browser::Edge => r"Software\Microsoft\Edge",
                        Browser::Firefox => r"Software\Mozilla",
                    };
                    // Firefox and Chromium-family manifests differ, so each browser gets its own file.
                    let manifest = roots.windows_manifest_dir.join(format!(
                        "{HOST_NAME}.{}.json",
                        b.name().to_ascii_lowercase()
                    ));
                    (
                        manifest,
                        Some(format!(r"{hive}\{vendor}\NativeMessagingHosts\{HOST_NAME}")),
                    )
                }
            };
            Target {
                browser: b,
                manifest,
                registry_key,
            }
        })
        .collect()
}

/// The manifest text for `browser` (Chromium family: `allowed_origins`; Firefox:
/// `allowed_extensions`).
pub fn manifest(browser: Browser, exe: &Path, config: &Config) -> serde_json::Value {
    let mut m = json!({
        "name": HOST_NAME,
        "description": "NHI card bridge (健保卡讀卡元件)",
        "path": exe.to_string_lossy(),
        "type": "stdio",
    });
    if browser == Browser::Firefox {
        m["allowed_extensions"] = json!(config.firefox_extension_ids);
    } else {
        let origins: Vec<String> = config
            .extension_ids
            .iter()
            .map(|id| format!("chrome-extension://{id}/"))
            .collect();
        m["allowed_origins"] = json!(origins);
    }
    m
}

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot remove {path}: {source}")]
    Remove {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("registry update of {key} failed: {message}")]
    Registry { key: String, message: String },
    #[error("cannot find the home folder (HOME / USERPROFILE)")]
    NoHome,
    #[error("cannot find this program's path: {0}")]
    Exe(std::io::Error),
}

/// Options of `install` / `uninstall`.
#[derive(Debug, Clone)]
pub struct Options {
    pub scope: Scope,
    pub browsers: Vec<Browser>,
    /// Extra Chromium `--user-data-dir` folders (tests, portable profiles): the manifest goes in
    /// `DIR/NativeMessagingHosts/`.
    pub profile_dirs: Vec<PathBuf>,
    /// Only print what would be done.
    pub dry_run: bool,
}

/// The options of `install` / `uninstall` from the command line. The scope is per user
/// unless `--system` is given — also when run as root (a system-wide registration writes into
/// /etc, /usr/lib or HKLM and must be asked for). `--profile` alone registers only in those
/// folders (tests); add `--browser` to do both.
pub fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut opts = Options {
        scope: Scope::User,
        browsers: Browser::ALL.to_vec(),
        profile_dirs: Vec::new(),
        dry_run: false,
    };
    let mut only_profiles = false;
    let mut browsers_given = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--user" => opts.scope = Scope::User,
            "--system" => opts.scope = Scope::System,
            "--dry-run" => opts.dry_run = true,
            "--browser" => {
                let list = it
                    .next()
                    .ok_or("--browser needs a list, e.g. chrome,firefox")?;
                let mut bs = Vec::new();
                for name in list.split(',') {
                    bs.push(Browser::parse(name).ok_or_else(|| {
                        format!("unknown browser {name:?} (chrome, chromium, edge, firefox)")
                    })?);
                }
                opts.browsers = bs;
                browsers_given = true;
            }
            "--profile" => {
                let dir = it.next().ok_or("--profile needs a folder")?;
                opts.profile_dirs.push(PathBuf::from(dir));
                only_profiles = true;
            }
            "--profile-only" => only_profiles = true,
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    if only_profiles && !browsers_given {
        opts.browsers.clear();
    }
    Ok(opts)
}

/// The line said before anything is written: which scope, and where.
pub fn announcement(opts: &Options, remove: bool) -> String {
    let verb = if remove {
        "unregistering"
    } else {
        "registering"
    };
    let whom = match opts.scope {
        Scope::User => "for this user only (folders in the home folder; --system for all users)",
        Scope::System => "SYSTEM-WIDE for all users (needs administrator rights)",
    };
    let names: Vec<&str> = opts.browsers.iter().map(|b| b.name()).collect();
    let mut line = format!("nhi-bridge: {verb} the native-messaging host {whom}");
    if !names.is_empty() {
        line.push_str(&format!(": {}", names.join(", ")));
    }
    if !opts.profile_dirs.is_empty() {
        line.push_str(&format!(
            " (+{} profile folder(s))",
            opts.profile_dirs.len()
        ));
    }
    line
}

pub fn roots(scope: Scope) -> Result<Roots, InstallError> {
    let home = std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .map(PathBuf::from)
        .ok_or(InstallError::NoHome)?;
    let windows_manifest_dir = match scope {
        Scope::User => std::env::var_os("LOCALAPPDATA")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join("AppData").join("Local"))
            .join("nhi-bridge"),
        Scope::System => std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| home.clone()),
    };
    Ok(Roots {
        home,
        windows_manifest_dir,
    })
}

/// All targets for `opts` on this machine (profile folders as Chromium targets).
pub fn targets(opts: &Options) -> Result<Vec<Target>, InstallError> {
    let mut t = plan(
        Os::current(),
        opts.scope,
        &opts.browsers,
        &roots(opts.scope)?,
    );
    for dir in &opts.profile_dirs {
        t.push(Target {
            browser: Browser::Chromium,
            manifest: dir
                .join("NativeMessagingHosts")
                .join(format!("{HOST_NAME}.json")),
            registry_key: None,
        });
    }
    Ok(t)
}

/// Writes (or with `remove`, deletes) the manifests; returns one line per action.
pub fn apply(opts: &Options, config: &Config, remove: bool) -> Result<Vec<String>, InstallError> {
    let exe = std::env::current_exe().map_err(InstallError::Exe)?;
    let mut done = Vec::new();
    for t in targets(opts)? {
        if remove {
            if opts.dry_run {
                done.push(format!("would remove {}", t.manifest.display()));
            } else {
                match std::fs::remove_file(&t.manifest) {
                    Ok(()) => done.push(format!("removed {}", t.manifest.display())),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(source) => {
                        return Err(InstallError::Remove {
                            path: t.manifest.clone(),
                            source,
                        })
                    }
                }
            }
            if let Some(key) = &t.registry_key {
                registry(key, None, opts.dry_run)?;
                done.push(format!("registry: removed {key}"));
            }
            continue;
        }
        let text =
            serde_json::to_string_pretty(&manifest(t.browser, &exe, config)).unwrap_or_default();
        if opts.dry_run {
            done.push(format!(
                "would write {} ({})",
                t.manifest.display(),
                t.browser.name()
            ));
        } else {
            if let Some(dir) = t.manifest.parent() {
                std::fs::create_dir_all(dir).map_err(|source| InstallError::Write {
                    path: dir.to_path_buf(),
                    source,
                })?;
            }
            std::fs::write(&t.manifest, text + "\n").map_err(|source| InstallError::Write {
                path: t.manifest.clone(),
                source,
            })?;
            done.push(format!(
                "wrote {} ({})",
                t.manifest.display(),
                t.browser.name()
            ));
        }
        if let Some(key) = &t.registry_key {
            registry(key, Some(&t.manifest), opts.dry_run)?;
            done.push(format!("registry: {key} = {}", t.manifest.display()));
        }
    }
    Ok(done)
}

/// Which browsers have a manifest for this host (for `doctor`), per scope.
pub fn installed(scope: Scope) -> Vec<(Browser, PathBuf)> {
    let Ok(r) = roots(scope) else {
        return Vec::new();
    };
    plan(Os::current(), scope, &Browser::ALL, &r)
        .into_iter()
        .filter(|t| t.manifest.is_file())
        .map(|t| (t.browser, t.manifest))
        .collect()
}

#[cfg(windows)]
fn registry(key: &str, manifest: Option<&Path>, dry_run: bool) -> Result<(), InstallError> {
    if dry_run {
        return Ok(());
    }
    let mut cmd = std::process::Command::new("reg");
    match manifest {
        Some(m) => cmd
            .args(["add", key, "/ve", "/t", "REG_SZ", "/d"])
            .arg(m)
            .arg("/f"),
        None => cmd.args(["delete", key, "/f"]),
    };
    let out = cmd.output().map_err(|e| InstallError::Registry {
        key: key.into(),
        message: e.to_string(),
    })?;
    if out.status.success() || manifest.is_none() {
        Ok(())
    } else {
        Err(InstallError::Registry {
            key: key.into(),
            message: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

#[cfg(not(windows))]
fn registry(key: &str, _manifest: Option<&Path>, dry_run: bool) -> Result<(), InstallError> {
    if dry_run {
        return Ok(());
    }
    Err(InstallError::Registry {
        key: key.into(),
        message: "the registry exists only on Windows".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roots() -> Roots {
        Roots {
            home: "/home/u".into(),
            windows_manifest_dir: r"C:\Users\u\AppData\Local\nhi-bridge".into(),
        }
    }

    fn paths(os: Os, scope: Scope) -> Vec<String> {
        plan(os, scope, &Browser::ALL, &roots())
            .into_iter()
            .map(|t| t.manifest.to_string_lossy().into_owned())
            .collect()
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_default_is_per_user_and_system_wide_needs_the_flag() {
        // Whoever runs it (root included): per user unless --system.
        let o = parse_args(&[]).expect("no options");
        assert_eq!(o.scope, Scope::User);
        assert_eq!(o.browsers, Browser::ALL);
        assert!(!o.dry_run);
        assert_eq!(
            parse_args(&args(&["--system"])).map(|o| o.scope),
            Ok(Scope::System)
        );
        let o = parse_args(&args(&["--dry-run", "--browser", "chromium,firefox"])).expect("ok");
        assert_eq!((o.scope, o.dry_run), (Scope::User, true));
        assert_eq!(o.browsers, [Browser::Chromium, Browser::Firefox]);
        let o = parse_args(&args(&["--profile", "/tmp/p"])).expect("ok");
        assert!(o.browsers.is_empty(), "--profile alone: only there");
        assert!(parse_args(&args(&["--browser", "netscape"])).is_err());
        assert!(parse_args(&args(&["--everywhere"])).is_err());
        let said = announcement(&parse_args(&[]).expect("ok"), false);
        assert!(said.contains("for this user only"), "{said}");
        assert!(said.contains("Chrome, Chromium, Edge, Firefox"), "{said}");
        let said = announcement(&parse_args(&args(&["--system"])).expect("ok"), false);
        assert!(said.contains("SYSTEM-WIDE"), "{said}");
    }

    #[test]
    fn per_user_paths_stay_in_the_home_folder_on_every_os() {
        for os in [Os::Linux, Os::MacOs, Os::Windows] {
            let t = plan(os, Scope::User, &Browser::ALL, &roots());
            assert_eq!(t.len(), 4);
            for target in &t {
                let m = target.manifest.to_string_lossy();
                assert!(
                    m.starts_with("/home/u/") || m.starts_with(r"C:\Users\u\"),
                    "{os:?} {:?}: {m}",
                    target.browser
                );
                if let Some(key) = &target.registry_key {
                    assert!(key.starts_with(r"HKCU\"), "{key}");
                }
            }
        }
    }

    #[test]
    fn linux_paths() {
        let f = format!("{HOST_NAME}.json");
        assert_eq!(
            paths(Os::Linux, Scope::User),
            [
                format!("/home/u/.config/google-chrome/NativeMessagingHosts/{f}"),
                format!("/home/u/.config/chromium/NativeMessagingHosts/{f}"),
                format!("/home/u/.config/microsoft-edge/NativeMessagingHosts/{f}"),
                format!("/home/u/.mozilla/native-messaging-hosts/{f}"),
            ]
        );
        assert_eq!(
            paths(Os::Linux, Scope::System),
            [
                format!("/etc/opt/chrome/native-messaging-hosts/{f}"),
                format!("/etc/chromium/native-messaging-hosts/{f}"),
                format!("/etc/opt/edge/native-messaging-hosts/{f}"),
                format!("/usr/lib/mozilla/native-messaging-hosts/{f}"),
            ]
        );
    }

    #[test]
    fn macos_paths() {
        let p = paths(Os::MacOs, Scope::User);
        assert!(p[0].starts_with(
            "/home/u/Library/Application Support/Google/Chrome/NativeMessagingHosts/"
        ));
        assert!(
            p[3].starts_with("/home/u/Library/Application Support/Mozilla/NativeMessagingHosts/")
        );
        let p = paths(Os::MacOs, Scope::System);
        assert!(p[0].starts_with("/Library/Google/Chrome/NativeMessagingHosts/"));
        assert!(p[2].starts_with("/Library/Microsoft/Edge/NativeMessagingHosts/"));
    }

    #[test]
    fn windows_registry_keys() {
        let t = plan(Os::Windows, Scope::User, &Browser::ALL, &roots());
        let keys: Vec<_> = t
            .iter()
            .map(|t| t.registry_key.clone().unwrap_or_default())
            .collect();
        assert_eq!(
            keys[0],
            format!(r"HKCU\Software\Google\Chrome\NativeMessagingHosts\{HOST_NAME}")
        );
        assert_eq!(
            keys[2],
            format!(r"HKCU\Software\Microsoft\Edge\NativeMessagingHosts\{HOST_NAME}")
        );
        assert_eq!(
            keys[3],
            format!(r"HKCU\Software\Mozilla\NativeMessagingHosts\{HOST_NAME}")
        );
        let t = plan(Os::Windows, Scope::System, &[Browser::Chromium], &roots());
        assert_eq!(
            t[0].registry_key.as_deref(),
            Some(format!(r"HKLM\Software\Chromium\NativeMessagingHosts\{HOST_NAME}").as_str())
        );
    }

    #[test]
    fn manifests_name_only_the_configured_extensions() {
        let c = Config::default();
        let m = manifest(Browser::Chromium, Path::new("/opt/nhi-bridge"), &c);
        assert_eq!(m["name"], HOST_NAME);
        assert_eq!(m["type"], "stdio");
        assert_eq!(m["path"], "/opt/nhi-bridge");
        assert_eq!(
            m["allowed_origins"],
            json!([format!(
                "chrome-extension://{}/",
                crate::config::DEV_EXTENSION_ID
            )])
        );
        assert!(m.get("allowed_extensions").is_none());
        let m = manifest(Browser::Firefox, Path::new("/opt/nhi-bridge"), &c);
        assert_eq!(
            m["allowed_extensions"],
            json!([crate::config::FIREFOX_EXTENSION_ID])
        );
        assert!(m.get("allowed_origins").is_none());
    }

    #[test]
    fn install_and_uninstall_in_a_profile_folder() {
        let dir = std::env::temp_dir().join(format!("nhi-bridge-install-{}", std::process::id()));
        let opts = Options {
            scope: Scope::User,
            browsers: vec![],
            profile_dirs: vec![dir.clone()],
            dry_run: false,
        };
        let done = apply(&opts, &Config::default(), false).expect("install");
        assert_eq!(done.len(), 1);
        let file = dir
            .join("NativeMessagingHosts")
            .join(format!("{HOST_NAME}.json"));
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&file).expect("written")).expect("json");
        assert_eq!(m["name"], HOST_NAME);
        apply(&opts, &Config::default(), true).expect("uninstall");
        assert!(!file.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
