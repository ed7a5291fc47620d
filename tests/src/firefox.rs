//! geckodriver + headless Firefox ESR, driven with fantoccini: the extension installed as a
//! temporary add-on, the native host registered for Firefox in a test-owned HOME.
//!
//! Environment: `FIREFOX` (default `/usr/bin/firefox-esr`), `GECKODRIVER` (default
//! `$NHI_TOOLS/bin/geckodriver` when scripts/tools.sh installed it there, else `geckodriver`
//! on PATH). A missing browser or driver is an error, never a skip.

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use anyhow::{bail, ensure, Context, Result};
use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};
use tokio::process::{Child, Command};

use crate::flows::Stack;
use crate::page::Page;
use crate::stack::{extension_dir, sibling_bin, Server, VirtualCard};
use crate::{artefacts_dir, webauthn};

/// The background event page's idle timeout in the test browser (Firefox's default is 30 s).
/// Short, so that the scenarios' quiet moments are longer than it: the event page must not be
/// suspended (and the host with it) while a tab holds its port and the host is connected.
pub const EVENT_PAGE_IDLE_MS: u64 = 1_000;

/// The Firefox binary (`FIREFOX`, default Debian's `firefox-esr`).
pub fn firefox_bin() -> PathBuf {
    std::env::var_os("FIREFOX")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/usr/bin/firefox-esr".into())
}

/// The geckodriver binary (`GECKODRIVER`; else the one scripts/tools.sh caches; else PATH).
pub fn geckodriver_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("GECKODRIVER") {
        return PathBuf::from(p);
    }
    let tools = std::env::var("NHI_TOOLS").unwrap_or_else(|_| "/opt/nhi-tools".into());
    let cached = PathBuf::from(tools).join("bin/geckodriver");
    if cached.exists() {
        cached
    } else {
        "geckodriver".into()
    }
}

/// A running geckodriver; killed on drop (and Firefox with it).
pub struct Geckodriver {
    _child: Child,
    url: String,
    /// geckodriver's log with the browser's output (and the pages' console, see
    /// [`Geckodriver::session`]).
    pub log_path: PathBuf,
}

impl Geckodriver {
    /// Starts geckodriver on a free port with `HOME` = `home` (Firefox inherits it, so it finds
    /// the native-messaging manifests in `home/.mozilla/native-messaging-hosts/`, and so does
    /// the host it starts) and `env`. Its output goes to a file in the artefacts folder.
    pub async fn start(home: &Path, env: &[(&str, &Path)]) -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let bin = geckodriver_bin();
        let log_path = artefacts_dir().join(format!("geckodriver-{port}.log"));
        let log = std::fs::File::create(&log_path)?;
        let child = Command::new(&bin)
            .arg("--port")
            .arg(port.to_string())
            .args(["--host", "127.0.0.1", "--log", "info"])
            .env("HOME", home)
            // Only HOME decides where Firefox looks (no per-user XDG folders from outside).
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .env_remove("XDG_CACHE_HOME")
            .env_remove("XDG_STATE_HOME")
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (scripts/tools.sh installs geckodriver; GECKODRIVER overrides)",
                    bin.display()
                )
            })?;
        let url = crate::browser::listening(port, "geckodriver").await?;
        Ok(Self {
            _child: child,
            url,
            log_path,
        })
    }

    /// A new headless Firefox on the fresh profile folder `profile`, 1280 × 900.
    pub async fn session(&self, profile: &Path) -> Result<Client> {
        let bin = firefox_bin();
        ensure!(
            bin.exists(),
            "{} is missing (apt-get install firefox-esr; FIREFOX overrides)",
            bin.display()
        );
        let caps = json!({
            "browserName": "firefox",
            "moz:firefoxOptions": {
                "binary": bin,
                "args": ["-headless", "-profile", profile],
                "prefs": {
                    "extensions.background.idle.timeout": EVENT_PAGE_IDLE_MS,
                    // The pages' and the extension's console into geckodriver's log.
                    "devtools.console.stdout.content": true,
                    "devtools.console.stdout.chrome": true,
                    "browser.shell.checkDefaultBrowser": false,
                    "datareporting.policy.dataSubmissionEnabled": false,
                    "toolkit.telemetry.reportingpolicy.firstRun": false,
                }
            }
        });
        let Value::Object(caps) = caps else {
            bail!("capabilities are an object")
        };
        let conn = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(conn)
            .capabilities(caps)
            .connect(&self.url)
            .await
            .with_context(|| {
                format!(
                    "opening a WebDriver session with {} (see {})",
                    bin.display(),
                    self.log_path.display()
                )
            })?;
        client.set_window_size(1280, 900).await?;
        Ok(client)
    }
}

/// Installs the unpacked extension in `dir` as a temporary add-on (geckodriver's
/// `POST /session/{id}/moz/addon/install`); answers the add-on's id.
pub async fn install_temporary_addon(client: &Client, dir: &Path) -> Result<String> {
    let dir = dir
        .canonicalize()
        .with_context(|| format!("the extension folder {}", dir.display()))?;
    let v = webauthn::raw(
        client,
        http::Method::POST,
        "moz/addon/install".into(),
        Some(json!({ "path": dir, "temporary": true })),
    )
    .await?;
    Ok(v.as_str()
        .with_context(|| format!("an add-on id, not {v}"))?
        .to_string())
}

/// Uninstalls the add-on `id` (geckodriver's `POST /session/{id}/moz/addon/uninstall`).
pub async fn uninstall_addon(client: &Client, id: &str) -> Result<()> {
    webauthn::raw(
        client,
        http::Method::POST,
        "moz/addon/uninstall".into(),
        Some(json!({ "id": id })),
    )
    .await?;
    Ok(())
}

/// The test-owned HOME folder of the stack `name`: `<artefacts>/homes/<name>`.
pub fn home_dir(name: &str) -> PathBuf {
    artefacts_dir().join("homes").join(name)
}

/// `nhi-bridge install|uninstall --user --browser firefox` with HOME = `home`.
fn bridge_installer(home: &Path, verb: &str) -> Result<String> {
    let out = StdCommand::new(sibling_bin("nhi-bridge")?)
        .args([verb, "--user", "--browser", "firefox"])
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .output()?;
    ensure!(
        out.status.success(),
        "nhi-bridge {verb} --user --browser firefox failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Where Firefox looks for the host's manifest in `home`.
pub fn host_manifest(home: &Path) -> PathBuf {
    home.join(".mozilla/native-messaging-hosts/tw.nhi.card_bridge.json")
}

/// A fresh, test-owned HOME folder ([`home_dir`]) with the native host registered for Firefox
/// in it by the bridge's own installer (`nhi-bridge install --user --browser firefox`:
/// [`host_manifest`], naming the debug `nhi-bridge` and allowing the add-on id of the
/// checked-in manifest).
pub fn home_with_bridge(name: &str) -> Result<PathBuf> {
    let home = home_dir(name);
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home)?;
    let said = bridge_installer(&home, "install")?;
    let manifest = host_manifest(&home);
    ensure!(
        manifest.exists(),
        "the installer wrote no {} ({said})",
        manifest.display()
    );
    Ok(home)
}

/// Unregisters the host from `home` with the bridge's installer (`nhi-bridge uninstall --user
/// --browser firefox`), as a person would.
pub fn unregister_bridge(home: &Path) -> Result<()> {
    let said = bridge_installer(home, "uninstall")?;
    let manifest = host_manifest(home);
    ensure!(
        !manifest.exists(),
        "{} is still there after uninstall ({said})",
        manifest.display()
    );
    Ok(())
}

/// The native hosts running for `home`: the processes whose arguments name its host manifest
/// (Firefox starts the host as `nhi-bridge MANIFEST ADDON_ID`).
pub fn host_pids(home: &Path) -> Result<Vec<u32>> {
    let manifest = host_manifest(home);
    let manifest = manifest.to_string_lossy();
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc")? {
        let e = e?;
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        if cmdline
            .split(|&b| b == 0)
            .any(|arg| arg == manifest.as_bytes())
        {
            pids.push(pid);
        }
    }
    Ok(pids)
}

/// Ends the native hosts Firefox started for `home` ([`host_pids`]; SIGTERM, each by its id),
/// as if the host had crashed; answers their ids.
pub fn end_hosts(home: &Path) -> Result<Vec<u32>> {
    let pids = host_pids(home)?;
    ensure!(
        !pids.is_empty(),
        "no native host runs for {}",
        home.display()
    );
    for pid in &pids {
        let status = StdCommand::new("kill").arg(pid.to_string()).status()?;
        ensure!(status.success(), "kill {pid} failed");
    }
    Ok(pids)
}

/// The add-on id the checked-in manifest gives Firefox (`browser_specific_settings.gecko.id`).
pub fn manifest_addon_id() -> Result<String> {
    let path = extension_dir().join("manifest.json");
    let m: Value = serde_json::from_slice(&std::fs::read(&path)?)
        .with_context(|| format!("parsing {}", path.display()))?;
    m["browser_specific_settings"]["gecko"]["id"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("no gecko id in {}", path.display()))
}

impl Stack {
    /// [`Stack::start`] in Firefox: the card playing `holder`, the server, and a headless
    /// Firefox ESR with the checked-in extension as a temporary add-on and the native host
    /// registered for Firefox in its own HOME; the host logs to `<artefacts>/bridge-<name>.log`.
    pub async fn start_firefox(name: &str, holder: &str) -> Result<Self> {
        let card = VirtualCard::start(holder)?;
        let server = Server::start(name).await?;
        let home = home_with_bridge(name)?;
        let host_log = artefacts_dir().join(format!("bridge-{name}.log"));
        let _ = std::fs::remove_file(&host_log);
        let driver = Geckodriver::start(&home, &[("NHI_BRIDGE_LOG", &host_log)]).await?;
        let profile = crate::browser::fresh_profile(name)?;
        let client = driver.session(&profile).await?;
        let page = Page::new(client, &server.origin);
        let stack = Self {
            card,
            server,
            page,
            driver: Box::new(driver),
        };
        let installed = async {
            let id = install_temporary_addon(&stack.page.client, &extension_dir()).await?;
            let expected = manifest_addon_id()?;
            ensure!(
                id == expected,
                "Firefox installed the add-on as {id}, the host allows {expected}"
            );
            Ok(())
        }
        .await;
        if let Err(e) = installed {
            stack.page.client.clone().close().await.ok();
            return Err(e);
        }
        Ok(stack)
    }
}
