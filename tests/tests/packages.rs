//! The packages of scripts/package.sh (issue 13), as a citizen's machine gets them: built by
//! scripts/test.sh's "packages" step into `target/packages/<deployment>/` (or
//! `NHI_PACKAGES_DIR`). Missing artefacts fail the test with what to run; nothing is skipped.
//!
//! - the store zips of deploy/example.json: store-ready manifests, per-browser differences,
//!   every file a manifest names, the checksums;
//! - the .rpm's files and dependency on pcsc-lite (`rpm -qp`);
//! - the MSI's File, Component and Registry tables (`msiinfo export`);
//! - the .deb of deploy/development.json installed for real (`dpkg -i`, or into a scratch
//!   root when not root or when a path it installs already exists), `nhi-bridge doctor` on
//!   the virtual card, F0 all green in Chromium with a fresh profile that has no manifest of
//!   its own (Chromium finds the system-wide /etc/chromium one and starts /usr/bin/nhi-bridge),
//!   then `dpkg --purge` and nothing left.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::{bail, ensure, Context, Result};
use nhi_e2e::browser::{fresh_profile, screenshot, Chromedriver};
use nhi_e2e::flows::all_checks;
use nhi_e2e::page::Page;
use nhi_e2e::stack::{extension_dir, Server, VirtualCard, SERIAL};
use nhi_e2e::{artefacts_dir, workspace_dir};
use nhi_package::extension::{referenced_files, store_problems, Manifest};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const HOST: &str = "tw.nhi.card_bridge";
/// What the .deb installs (and what must be gone after the purge).
const DEB_PATHS: [&str; 6] = [
    "/usr/bin/nhi-bridge",
    "/etc/nhi-bridge/nhi-bridge.json",
    "/etc/opt/chrome/native-messaging-hosts/tw.nhi.card_bridge.json",
    "/etc/chromium/native-messaging-hosts/tw.nhi.card_bridge.json",
    "/etc/opt/edge/native-messaging-hosts/tw.nhi.card_bridge.json",
    "/usr/lib/mozilla/native-messaging-hosts/tw.nhi.card_bridge.json",
];
/// The Chromium id of the checked-in development extension (its `key`).
const DEV_EXTENSION_ID: &str = "iabeigkbcleonjchbhkaajnjdgncoiao";

fn packages_dir() -> PathBuf {
    std::env::var_os("NHI_PACKAGES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_dir().join("target/packages"))
}

/// An artefact of `deployment`'s packages; a missing one is a failure that says what to run.
fn artefact(deployment: &str, name: &str) -> Result<PathBuf> {
    let p = packages_dir().join(deployment).join(name);
    if !p.exists() {
        let flag = if deployment == "example" {
            String::new()
        } else {
            format!(" --deployment deploy/{deployment}.json")
        };
        bail!(
            "{} is missing: build the packages first with `scripts/package.sh{flag} --windows-profile debug` \
             (scripts/test.sh does), or point NHI_PACKAGES_DIR at a folder that has them",
            p.display()
        );
    }
    Ok(p)
}

#[test]
fn a_missing_artefact_fails_and_says_what_to_run() {
    let err = artefact("no-such-deployment", "nhi-bridge.deb")
        .expect_err("a missing artefact is an error, never a pass");
    let text = err.to_string();
    assert!(
        text.contains("scripts/package.sh --deployment deploy/no-such-deployment.json"),
        "{text}"
    );
    assert!(text.contains("NHI_PACKAGES_DIR"), "{text}");
}

fn run(cmd: &mut Command) -> Result<Output> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {shown}"))?;
    ensure!(
        out.status.success(),
        "{shown} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(out)
}

fn stdout(cmd: &mut Command) -> Result<String> {
    Ok(String::from_utf8_lossy(&run(cmd)?.stdout).into_owned())
}

fn zip_entry(z: &mut zip::ZipArchive<std::fs::File>, name: &str) -> Result<String> {
    let mut s = String::new();
    z.by_name(name)
        .with_context(|| format!("{name} in the zip"))?
        .read_to_string(&mut s)?;
    Ok(s)
}

#[test]
fn the_store_zips_are_store_ready_and_differ_per_browser() -> Result<()> {
    let deployment: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        workspace_dir().join("deploy/example.json"),
    )?)?;
    for browser in ["chromium", "firefox"] {
        let path = artefact(
            "example",
            &format!("nhi-card-bridge-{VERSION}-{browser}.zip"),
        )?;
        let mut z = zip::ZipArchive::new(std::fs::File::open(&path)?)?;
        let text = zip_entry(&mut z, "manifest.json")?;
        let m: Manifest = serde_json::from_str(&text).context("manifest.json's shape")?;
        let sw = zip_entry(&mut z, "sw.js")?;
        let problems = store_problems(&m, &sw);
        ensure!(problems.is_empty(), "{browser}: {problems:?}");
        ensure!(m.version == VERSION && m.key.is_none(), "{browser}: {text}");
        ensure!(
            m.content_scripts[0].matches == ["https://card.nhi-registration.example/*"],
            "{browser}: {:?}",
            m.content_scripts[0].matches
        );
        ensure!(
            sw.contains(r#"const ALLOWED_ORIGINS = ["https://card.nhi-registration.example"];"#),
            "{browser}: sw.js allow-list"
        );
        match browser {
            "chromium" => {
                ensure!(m.background.service_worker.as_deref() == Some("sw.js"));
                ensure!(m.background.scripts.is_none(), "no background.scripts");
                ensure!(m.browser_specific_settings.is_none(), "no gecko settings");
            }
            _ => {
                ensure!(m.background.service_worker.is_none(), "no service_worker");
                ensure!(m.background.scripts.as_deref() == Some(&["sw.js".to_string()][..]));
                let g = &m
                    .browser_specific_settings
                    .as_ref()
                    .context("browser_specific_settings")?
                    .gecko;
                ensure!(Some(g.id.as_str()) == deployment["firefox_extension_id"].as_str());
                ensure!(g.strict_min_version.is_some(), "strict_min_version kept");
                let dc = g
                    .data_collection_permissions
                    .as_ref()
                    .context("data_collection_permissions (AMO)")?;
                ensure!(dc.required == ["none"], "{:?}", dc.required);
            }
        }
        ensure!(m.icons.is_some(), "{browser}: icons");
        for f in referenced_files(&m) {
            ensure!(
                z.by_name(&f).is_ok(),
                "{browser}: {f} is named but not in the zip"
            );
        }
        ensure!(
            z.by_name("README.md").is_err(),
            "{browser}: documentation stays out"
        );
    }
    // The development deployment never gets store zips, and every artefact has a checksum.
    let dev = artefact("development", "SHA256SUMS")?;
    let dev_dir = dev.parent().context("folder")?;
    for browser in ["chromium", "firefox"] {
        let zip = dev_dir.join(format!("nhi-card-bridge-{VERSION}-{browser}.zip"));
        ensure!(!zip.exists(), "{} must not exist", zip.display());
    }
    for deployment in ["example", "development"] {
        let sums = artefact(deployment, "SHA256SUMS")?;
        let dir = sums.parent().context("folder")?;
        run(Command::new("sha256sum")
            .arg("--check")
            .arg("--strict")
            .arg("SHA256SUMS")
            .current_dir(dir))?;
        let listed = std::fs::read_to_string(&sums)?;
        for name in [
            format!("nhi-bridge_{VERSION}-1_amd64.deb"),
            format!("nhi-bridge-{VERSION}-1.x86_64.rpm"),
            format!("nhi-bridge-{VERSION}-x64.msi"),
        ] {
            ensure!(listed.contains(&name), "{deployment}: {name} in SHA256SUMS");
        }
    }
    Ok(())
}

#[test]
fn the_rpm_has_the_host_its_manifests_and_needs_pcsc_lite() -> Result<()> {
    let rpm = artefact("example", &format!("nhi-bridge-{VERSION}-1.x86_64.rpm"))?;
    let files = stdout(Command::new("rpm").arg("-qlp").arg(&rpm))?;
    for f in [
        "/usr/bin/nhi-bridge",
        "/etc/nhi-bridge/nhi-bridge.json",
        "/etc/opt/chrome/native-messaging-hosts/tw.nhi.card_bridge.json",
        "/etc/chromium/native-messaging-hosts/tw.nhi.card_bridge.json",
        "/etc/opt/edge/native-messaging-hosts/tw.nhi.card_bridge.json",
        "/usr/lib64/mozilla/native-messaging-hosts/tw.nhi.card_bridge.json",
    ] {
        ensure!(
            files.lines().any(|l| l == f),
            "{f} not in the rpm:\n{files}"
        );
    }
    let requires = stdout(Command::new("rpm").args(["-qp", "--requires"]).arg(&rpm))?;
    ensure!(
        requires.lines().any(|l| l.trim().starts_with("pcsc-lite")),
        "the rpm does not require pcsc-lite:\n{requires}"
    );
    let config = stdout(Command::new("rpm").args(["-qp", "--configfiles"]).arg(&rpm))?;
    ensure!(
        config.contains("/etc/nhi-bridge/nhi-bridge.json"),
        "the configuration is a config file:\n{config}"
    );
    Ok(())
}

#[test]
fn the_msi_installs_the_host_and_registers_it_for_three_browsers() -> Result<()> {
    let msi = artefact("example", &format!("nhi-bridge-{VERSION}-x64.msi"))?;
    let table = |t: &str| stdout(Command::new("msiinfo").arg("export").arg(&msi).arg(t));
    let files = table("File")?;
    for f in [
        "nhi-bridge.exe",
        "nhi-bridge.json",
        "tw.nhi.card_bridge.chrome.json",
        "tw.nhi.card_bridge.edge.json",
        "tw.nhi.card_bridge.firefox.json",
    ] {
        ensure!(
            files.lines().any(|l| l.split('\t').nth(2) == Some(f)),
            "{f} not in the File table:\n{files}"
        );
    }
    let registry = table("Registry")?;
    for (key, file) in [
        (r"Software\Google\Chrome\NativeMessagingHosts", "chrome"),
        (r"Software\Microsoft\Edge\NativeMessagingHosts", "edge"),
        (r"Software\Mozilla\NativeMessagingHosts", "firefox"),
    ] {
        let key = format!(r"{key}\{HOST}");
        let row = registry
            .lines()
            .find(|l| l.split('\t').nth(2) == Some(key.as_str()))
            .with_context(|| format!("{key} not in the Registry table:\n{registry}"))?;
        let cols: Vec<&str> = row.split('\t').collect();
        // Root 2 = HKLM; no name = the default value; the value = the manifest's path.
        ensure!(cols[1] == "2", "{key}: root {}", cols[1]);
        ensure!(cols[3].is_empty(), "{key}: the default value");
        ensure!(
            cols[4] == format!("[INSTALLDIR]{HOST}.{file}.json"),
            "{key}: {}",
            cols[4]
        );
    }
    let components = table("Component")?;
    ensure!(
        components
            .lines()
            .filter(|l| l.contains("\tINSTALLDIR\t"))
            .count()
            == 5,
        "five components in INSTALLDIR:\n{components}"
    );
    let dirs = table("Directory")?;
    ensure!(
        dirs.contains("ProgramFiles64Folder") && dirs.contains("NHI Card Bridge"),
        "[ProgramFiles64Folder]NHI Card Bridge:\n{dirs}"
    );
    let props = table("Property")?;
    ensure!(props.contains("ALLUSERS\t1"), "per machine:\n{props}");
    ensure!(
        props.contains(&format!("ProductVersion\t{VERSION}")),
        "version:\n{props}"
    );
    Ok(())
}

/// Where the .deb was installed: `/` (a real install) or a scratch root.
struct Installed {
    root: Option<PathBuf>,
    purged: bool,
}

impl Installed {
    fn dpkg(&self) -> Command {
        let mut c = Command::new("dpkg");
        if let Some(r) = &self.root {
            c.arg(format!("--root={}", r.display()))
                .args(["--force-not-root", "--force-script-chrootless"]);
        }
        c
    }

    fn path(&self, p: &str) -> PathBuf {
        match &self.root {
            Some(r) => r.join(p.trim_start_matches('/')),
            None => PathBuf::from(p),
        }
    }

    fn purge(&mut self) -> Result<()> {
        self.purged = true;
        run(self.dpkg().args(["--purge", "nhi-bridge"]))?;
        Ok(())
    }
}

impl Drop for Installed {
    /// A failure in the middle still removes the package.
    fn drop(&mut self) {
        if !self.purged {
            let _ = self.dpkg().args(["--purge", "nhi-bridge"]).output();
        }
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn dpkg_knows(root: Option<&Path>) -> bool {
    let mut c = Command::new("dpkg-query");
    if let Some(r) = root {
        c.arg(format!("--admindir={}", r.join("var/lib/dpkg").display()));
    }
    c.args(["-W", "-f=${Status}", "nhi-bridge"])
        .output()
        .map(|o| {
            o.status.success() && !String::from_utf8_lossy(&o.stdout).contains("not-installed")
        })
        .unwrap_or(false)
}

/// Installs the development deployment's .deb: system-wide when root and nothing it would
/// install is there (run.sh --system-wide writes the same manifests), else into a scratch
/// root with a minimal dpkg database.
fn install_deb(deb: &Path) -> Result<Installed> {
    let free = DEB_PATHS.iter().all(|p| !Path::new(p).exists()) && !dpkg_knows(None);
    if is_root() && free {
        let installed = Installed {
            root: None,
            purged: false,
        };
        run(installed.dpkg().arg("-i").arg(deb))?;
        eprintln!("packages: installed {} system-wide", deb.display());
        return Ok(installed);
    }
    let root = artefacts_dir().join(format!("dpkg-root-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for d in [
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        "var/lib/dpkg/triggers",
    ] {
        std::fs::create_dir_all(root.join(d))?;
    }
    std::fs::write(root.join("var/lib/dpkg/status"), "")?;
    std::fs::write(root.join("var/lib/dpkg/available"), "")?;
    let installed = Installed {
        root: Some(root.clone()),
        purged: false,
    };
    // The scratch database knows none of the dependencies (pcscd, libc6).
    run(installed.dpkg().args(["--force-depends", "-i"]).arg(deb))?;
    eprintln!(
        "packages: installed {} into the scratch root {} (a system-wide install would collide or needs root)",
        deb.display(),
        root.display()
    );
    Ok(installed)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_deb_installs_serves_the_browser_and_purges_clean() -> Result<()> {
    let deb = artefact("development", &format!("nhi-bridge_{VERSION}-1_amd64.deb"))?;
    let _serial = SERIAL.lock().await;
    let card = VirtualCard::start("A123456789")?;
    let mut installed = install_deb(&deb)?;
    for p in DEB_PATHS {
        ensure!(installed.path(p).is_file(), "{p} installed");
    }
    let host = installed.path("/usr/bin/nhi-bridge");
    let config = installed.path("/etc/nhi-bridge/nhi-bridge.json");
    let version = stdout(Command::new(&host).arg("--version"))?;
    ensure!(version.contains("packaged build"), "{version}");

    // doctor: the system-wide configuration and registration, the virtual card readable.
    let mut doctor = Command::new(&host);
    doctor.arg("doctor").env_remove("NHI_BRIDGE_CONFIG");
    if installed.root.is_some() {
        doctor.env("NHI_BRIDGE_CONFIG", &config);
    }
    let report = stdout(&mut doctor)?;
    eprintln!("{report}");
    ensure!(
        report.contains(&config.display().to_string()),
        "doctor reads {}:\n{report}",
        config.display()
    );
    ensure!(report.contains("Result: all is well"), "{report}");
    if installed.root.is_none() {
        ensure!(report.contains("Chromium (全機/system)"), "{report}");
    }

    // F0 in Chromium: a fresh profile with no manifest of its own.
    let result = f0_with_the_installed_host(&installed, &host, &config).await;

    installed.purge()?;
    drop(card);
    result?;
    for p in DEB_PATHS {
        let p = installed.path(p);
        ensure!(!p.exists(), "{} is left after the purge", p.display());
    }
    ensure!(
        !installed.path("/etc/nhi-bridge").exists(),
        "/etc/nhi-bridge is left after the purge"
    );
    ensure!(
        !dpkg_knows(installed.root.as_deref()),
        "dpkg still knows nhi-bridge after the purge"
    );
    the_packaged_host_refuses_to_run_without_its_configuration(&deb)
}

/// The packaged host of the .deb, unpacked without its configuration: no development
/// defaults, a refusal on stderr, and doctor's remedy.
fn the_packaged_host_refuses_to_run_without_its_configuration(deb: &Path) -> Result<()> {
    if Path::new("/etc/nhi-bridge/nhi-bridge.json").exists() {
        eprintln!("packages: /etc/nhi-bridge/nhi-bridge.json exists on this machine; the refusal is not checked");
        return Ok(());
    }
    let dir = artefacts_dir().join(format!("deb-unpacked-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&dir))?;
    std::fs::remove_dir_all(dir.join("etc"))?;
    let host = dir.join("usr/bin/nhi-bridge");
    let out = Command::new(&host)
        .arg("doctor")
        .env_remove("NHI_BRIDGE_CONFIG")
        .stdin(Stdio::null())
        .output()?;
    let report = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.code() == Some(7),
        "doctor exit {:?}:\n{report}",
        out.status
    );
    ensure!(
        report.contains("[FAIL]") && report.contains("Reinstall the package"),
        "{report}"
    );
    let out = Command::new(&host)
        .arg(format!("chrome-extension://{DEV_EXTENSION_ID}/"))
        .env_remove("NHI_BRIDGE_CONFIG")
        .env("NHI_BRIDGE_LOG", dir.join("host.log"))
        .stdin(Stdio::null())
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.code() == Some(1), "host exit {:?}", out.status);
    ensure!(
        stderr.contains("has no configuration")
            && stderr.contains("/etc/nhi-bridge/nhi-bridge.json"),
        "the refusal on stderr: {stderr}"
    );
    let log = std::fs::read_to_string(dir.join("host.log")).unwrap_or_default();
    ensure!(
        log.contains("has no configuration"),
        "the refusal logged: {log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

async fn f0_with_the_installed_host(
    installed: &Installed,
    host: &Path,
    config: &Path,
) -> Result<()> {
    let server = Server::start("packages-deb").await?;
    let profile = fresh_profile("packages-deb")?;
    let log = artefacts_dir().join("bridge-packages-deb.log");
    let _ = std::fs::remove_file(&log);
    let mut env: Vec<(&str, &Path)> = vec![("NHI_BRIDGE_LOG", log.as_path())];
    if installed.root.is_some() {
        // A scratch root is invisible to Chromium: its system manifest goes into the profile,
        // naming the scratch host, which reads the scratch configuration.
        let text = std::fs::read_to_string(
            installed.path("/etc/chromium/native-messaging-hosts/tw.nhi.card_bridge.json"),
        )?;
        let mut m: serde_json::Value = serde_json::from_str(&text)?;
        m["path"] = serde_json::json!(host.display().to_string());
        let dir = profile.join("NativeMessagingHosts");
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(format!("{HOST}.json")), m.to_string())?;
        env.push(("NHI_BRIDGE_CONFIG", config));
    } else {
        ensure!(
            !profile.join("NativeMessagingHosts").exists(),
            "the profile has no manifest of its own"
        );
    }
    let driver = Chromedriver::start_with_env(&env).await?;
    let client = driver.session(&profile, Some(&extension_dir())).await?;
    let page = Page::new(client.clone(), &server.origin);
    let result = async {
        page.open("/check").await?;
        all_checks(&page, "pass").await?;
        let logged = std::fs::read_to_string(&log)
            .with_context(|| format!("the installed host wrote no log {}", log.display()))?;
        ensure!(
            logged.contains("started") && logged.contains(DEV_EXTENSION_ID),
            "the installed host was started by the extension:\n{logged}"
        );
        Ok(())
    }
    .await;
    if result.is_err() {
        let _ = screenshot(&client, "FAILED-packages-deb").await;
    }
    client.close().await.ok();
    result
}
