//! The native host's files of a deployment: its configuration `nhi-bridge.json`, the
//! native-messaging manifests per browser (written by the bridge's own
//! [`nhi_bridge::install::manifest`]) and, for Windows, the WiX source of the MSI.
//!
//! Linux (`.deb`, `.rpm`): `/usr/bin/nhi-bridge`, `/etc/nhi-bridge/nhi-bridge.json`, and one
//! manifest per browser in the system-wide folders of [`nhi_bridge::install::plan`]
//! ([`Scope::System`]), `path` = `/usr/bin/nhi-bridge`.
//!
//! Windows (MSI): `nhi-bridge.exe`, `nhi-bridge.json` and `tw.nhi.card_bridge.<browser>.json`
//! in `[ProgramFiles64Folder]NHI Card Bridge`; HKLM registry keys (the plan's, per machine)
//! whose default value is the manifest's path. The manifests' `path` is `nhi-bridge.exe`,
//! relative to the manifest's own folder, which Chrome, Edge and Firefox accept on Windows:
//! the manifests stay right if an administrator installs to another folder (`INSTALLDIR=`).

use std::path::{Path, PathBuf};

use nhi_bridge::config::Config;
use nhi_bridge::install::{self, Browser, Os, Roots, Scope};
use nhi_protocol::bridge::HOST_NAME;
use nhi_protocol::deployment::Deployment;
use serde::Serialize;
use sha2::Digest as _;

use crate::extension::VERSION;

/// Where the Linux packages put the host.
pub const LINUX_EXE: &str = "/usr/bin/nhi-bridge";
/// Where the Linux packages put the configuration (a conffile of the .deb).
pub const LINUX_CONFIG: &str = "/etc/nhi-bridge/nhi-bridge.json";
/// The MSI's install folder under `[ProgramFiles64Folder]`.
pub const WINDOWS_FOLDER: &str = "NHI Card Bridge";
/// The browsers the MSI registers (per machine).
pub const WINDOWS_BROWSERS: [Browser; 3] = [Browser::Chrome, Browser::Edge, Browser::Firefox];
/// The MSI's UpgradeCode: never changes, so a newer MSI replaces an older one.
pub const UPGRADE_CODE: &str = "5E3B9A62-1C4D-4F0B-9A7E-3D2C8B6F1A40";

/// `nhi-bridge.json` as the packages install it: only what the deployment decides; every
/// other setting keeps the host's default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostConfig {
    pub extension_ids: Vec<String>,
    pub firefox_extension_ids: Vec<String>,
    pub origins: Vec<String>,
}

impl HostConfig {
    pub fn of(d: &Deployment) -> Self {
        Self {
            extension_ids: d.chromium_extension_ids.clone(),
            firefox_extension_ids: vec![d.firefox_extension_id.clone()],
            origins: d.origins.clone(),
        }
    }

    pub fn text(&self) -> String {
        pretty(self)
    }

    /// The bridge's [`Config`] this file amounts to.
    pub fn config(&self) -> Config {
        Config {
            extension_ids: self.extension_ids.clone(),
            firefox_extension_ids: self.firefox_extension_ids.clone(),
            origins: self.origins.clone(),
            ..Config::default()
        }
    }
}

fn pretty<T: Serialize>(v: &T) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

/// The native-messaging manifest for `browser` with the host at `exe`.
pub fn manifest_text(browser: Browser, exe: &str, config: &HostConfig) -> String {
    pretty(&install::manifest(
        browser,
        Path::new(exe),
        &config.config(),
    ))
}

/// One file of a package: where it goes on the target machine, its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub target: PathBuf,
    pub text: String,
}

/// The Linux packages' files besides the binary: the configuration and the system-wide
/// manifests for Chrome, Chromium, Edge and Firefox.
pub fn linux_files(d: &Deployment) -> Vec<Installed> {
    let config = HostConfig::of(d);
    let mut out = vec![Installed {
        target: LINUX_CONFIG.into(),
        text: config.text(),
    }];
    let roots = Roots {
        home: PathBuf::from("/nonexistent"),
        windows_manifest_dir: PathBuf::new(),
    };
    for t in install::plan(Os::Linux, Scope::System, &Browser::ALL, &roots) {
        out.push(Installed {
            target: t.manifest,
            text: manifest_text(t.browser, LINUX_EXE, &config),
        });
    }
    out
}

/// One browser's registration in the MSI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowsManifest {
    pub browser: Browser,
    /// The manifest's file name in the install folder.
    pub file: String,
    /// The key under HKLM (without `HKLM\`).
    pub key: String,
    pub text: String,
}

/// The MSI's manifests and registry keys: [`install::plan`]'s for Windows, per machine.
pub fn windows_manifests(d: &Deployment) -> Vec<WindowsManifest> {
    let config = HostConfig::of(d);
    let roots = Roots {
        home: PathBuf::new(),
        windows_manifest_dir: PathBuf::new(),
    };
    install::plan(Os::Windows, Scope::System, &WINDOWS_BROWSERS, &roots)
        .into_iter()
        .map(|t| WindowsManifest {
            browser: t.browser,
            file: t.manifest.to_string_lossy().into_owned(),
            key: t
                .registry_key
                .as_deref()
                .and_then(|k| k.strip_prefix(r"HKLM\"))
                .unwrap_or_default()
                .to_string(),
            text: manifest_text(t.browser, "nhi-bridge.exe", &config),
        })
        .collect()
}

/// A GUID derived from `name` (stable across builds, distinct per component).
fn guid(name: &str) -> String {
    let h = sha2::Sha256::digest(format!("{UPGRADE_CODE} {name}").as_bytes());
    let hx = hex_upper(&h[..16]);
    format!(
        "{}-{}-5{}-{}-{}",
        &hx[0..8],
        &hx[8..12],
        &hx[13..16],
        &hx[16..20],
        &hx[20..32]
    )
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The MSI's version: `major.minor.patch` of the workspace version (MSI has no pre-releases).
pub fn msi_version() -> String {
    VERSION
        .split(['-', '+'])
        .next()
        .unwrap_or(VERSION)
        .to_string()
}

/// The MSI's file name.
pub fn msi_name() -> String {
    format!("nhi-bridge-{VERSION}-x64.msi")
}

/// The WiX source for `wixl -a x64` (which sets the x64 platform), run in the folder that
/// holds `nhi-bridge.exe`, `nhi-bridge.json` and the manifests ([`windows_manifests`]).
/// Every file and registry value belongs to a component, and Windows Installer removes a
/// component's files and registry values on uninstall (and a key its removal leaves empty),
/// so no custom action or `RemoveRegistryKey` is needed — wixl does not support
/// `RegistryKey/@Action` anyway.
pub fn wxs(d: &Deployment) -> String {
    let mut components = String::new();
    let mut refs = String::new();
    let mut add = |id: &str, body: String| {
        components.push_str(&format!(
            "          <Component Id=\"{id}\" Guid=\"{}\" Win64=\"yes\">\n{body}          </Component>\n",
            guid(id)
        ));
        refs.push_str(&format!("      <ComponentRef Id=\"{id}\"/>\n"));
    };
    add(
        "HostExe",
        "            <File Id=\"nhi_bridge.exe\" Name=\"nhi-bridge.exe\" Source=\"nhi-bridge.exe\" KeyPath=\"yes\"/>\n".into(),
    );
    add(
        "HostConfig",
        "            <File Id=\"nhi_bridge.json\" Name=\"nhi-bridge.json\" Source=\"nhi-bridge.json\" KeyPath=\"yes\"/>\n".into(),
    );
    for m in windows_manifests(d) {
        let name = m.browser.name();
        let file_id = format!("manifest_{}", name.to_ascii_lowercase());
        add(
            &format!("Register{name}"),
            format!(
                "            <File Id=\"{file_id}\" Name=\"{file}\" Source=\"{file}\"/>\n            \
                 <RegistryValue Root=\"HKLM\" Key=\"{key}\" Type=\"string\" Value=\"[INSTALLDIR]{file}\" KeyPath=\"yes\"/>\n",
                file = xml(&m.file),
                key = xml(&m.key),
            ),
        );
    }
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<!-- Generated by nhi-package from deploy/{name}.json; build with: wixl -a x64 nhi-bridge.wxs -->
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="NHI Card Bridge" Language="1033" Version="{version}" Manufacturer="NHI card web registration" UpgradeCode="{UPGRADE_CODE}">
    <Package InstallerVersion="500" Compressed="yes" InstallScope="perMachine" Description="NHI card bridge {VERSION} ({name})" Comments="Native-messaging host {HOST_NAME} for Chrome, Edge and Firefox"/>
    <MajorUpgrade DowngradeErrorMessage="A newer NHI Card Bridge is already installed."/>
    <Media Id="1" Cabinet="bridge.cab" EmbedCab="yes"/>
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFiles64Folder">
        <Directory Id="INSTALLDIR" Name="{WINDOWS_FOLDER}">
{components}        </Directory>
      </Directory>
    </Directory>
    <Feature Id="Bridge" Title="NHI Card Bridge" Level="1">
{refs}    </Feature>
  </Product>
</Wix>
"#,
        name = xml(&d.name),
        version = msi_version(),
    )
}

#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct WriteError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

fn write(path: &Path, text: &str) -> Result<(), WriteError> {
    let werr = |path: &Path| {
        let path = path.to_path_buf();
        move |source| WriteError { path, source }
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(werr(parent))?;
    }
    std::fs::write(path, text).map_err(werr(path))
}

/// The file names in the Linux staging folder, which `bridge/Cargo.toml`'s deb and rpm
/// metadata name: the configuration and one manifest per browser.
pub fn linux_staging_name(target: &Path) -> String {
    if target == Path::new(LINUX_CONFIG) {
        return "nhi-bridge.json".into();
    }
    // Chrome, Chromium and Edge share the text but get a file each (one asset per path).
    let dir = target.to_string_lossy();
    let browser = if dir.contains("/opt/chrome/") {
        "chrome"
    } else if dir.contains("/chromium/") {
        "chromium"
    } else if dir.contains("/opt/edge/") {
        "edge"
    } else {
        "firefox"
    };
    format!("{HOST_NAME}.{browser}.json")
}

/// Writes the host files into `staging`: `linux/` (the deb's and rpm's assets) and
/// `windows/` (the MSI's files and `nhi-bridge.wxs`; `nhi-bridge.exe` is copied in by
/// scripts/package.sh).
pub fn write_staging(d: &Deployment, staging: &Path) -> Result<Vec<PathBuf>, WriteError> {
    let mut written = Vec::new();
    let linux = staging.join("linux");
    for f in linux_files(d) {
        let p = linux.join(linux_staging_name(&f.target));
        write(&p, &f.text)?;
        written.push(p);
    }
    let windows = staging.join("windows");
    let p = windows.join("nhi-bridge.json");
    write(&p, &HostConfig::of(d).text())?;
    written.push(p);
    for m in windows_manifests(d) {
        let p = windows.join(&m.file);
        write(&p, &m.text)?;
        written.push(p);
    }
    let p = windows.join("nhi-bridge.wxs");
    write(&p, &wxs(d))?;
    written.push(p);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(name: &str) -> Deployment {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../deploy/{name}.json"));
        Deployment::parse(&std::fs::read_to_string(path).expect("file")).expect("valid")
    }

    #[test]
    fn the_host_config_is_the_deployments_and_the_bridge_reads_it() {
        let d = deployment("example");
        let dir = std::env::temp_dir().join(format!("nhi-package-host-{}", std::process::id()));
        let written = write_staging(&d, &dir).expect("staging");
        assert_eq!(written.len(), 5 + 1 + 3 + 1);
        let c = Config::from_file(&dir.join("linux/nhi-bridge.json")).expect("bridge reads it");
        assert_eq!(c.extension_ids, d.chromium_extension_ids);
        assert_eq!(
            c.firefox_extension_ids,
            std::slice::from_ref(&d.firefox_extension_id)
        );
        assert_eq!(c.origins, d.origins);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn linux_manifests_are_system_wide_and_name_the_installed_host() {
        let d = deployment("example");
        let files = linux_files(&d);
        let targets: Vec<String> = files
            .iter()
            .map(|f| f.target.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            targets,
            [
                "/etc/nhi-bridge/nhi-bridge.json",
                "/etc/opt/chrome/native-messaging-hosts/tw.nhi.card_bridge.json",
                "/etc/chromium/native-messaging-hosts/tw.nhi.card_bridge.json",
                "/etc/opt/edge/native-messaging-hosts/tw.nhi.card_bridge.json",
                "/usr/lib/mozilla/native-messaging-hosts/tw.nhi.card_bridge.json",
            ]
        );
        let names: Vec<String> = files
            .iter()
            .map(|f| linux_staging_name(&f.target))
            .collect();
        assert_eq!(
            names,
            [
                "nhi-bridge.json",
                "tw.nhi.card_bridge.chrome.json",
                "tw.nhi.card_bridge.chromium.json",
                "tw.nhi.card_bridge.edge.json",
                "tw.nhi.card_bridge.firefox.json",
            ]
        );
        let chrome: serde_json::Value = serde_json::from_str(&files[1].text).expect("json");
        assert_eq!(chrome["path"], LINUX_EXE);
        assert_eq!(
            chrome["allowed_origins"],
            serde_json::json!([
                "chrome-extension://hmkcpbnfgdlojieahmkcpbnfgdlojiea/",
                "chrome-extension://nbfgoakjelcidmhpnbfgoakjelcidmhp/"
            ])
        );
        let firefox: serde_json::Value = serde_json::from_str(&files[4].text).expect("json");
        assert_eq!(
            firefox["allowed_extensions"],
            serde_json::json!(["card-bridge@nhi-registration.example"])
        );
    }

    #[test]
    fn the_msi_source_installs_the_files_and_the_three_registry_keys() {
        let d = deployment("example");
        let ms = windows_manifests(&d);
        let keys: Vec<&str> = ms.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                r"Software\Google\Chrome\NativeMessagingHosts\tw.nhi.card_bridge",
                r"Software\Microsoft\Edge\NativeMessagingHosts\tw.nhi.card_bridge",
                r"Software\Mozilla\NativeMessagingHosts\tw.nhi.card_bridge",
            ]
        );
        let files: Vec<&str> = ms.iter().map(|m| m.file.as_str()).collect();
        assert_eq!(
            files,
            [
                "tw.nhi.card_bridge.chrome.json",
                "tw.nhi.card_bridge.edge.json",
                "tw.nhi.card_bridge.firefox.json"
            ]
        );
        let w = wxs(&d);
        for needle in [
            r#"<Directory Id="ProgramFiles64Folder">"#,
            r#"Name="NHI Card Bridge""#,
            r#"InstallScope="perMachine""#,
            &format!(r#"UpgradeCode="{UPGRADE_CODE}""#),
            &format!(r#"Version="{}""#, msi_version()),
            r#"Source="nhi-bridge.exe""#,
            r#"Source="nhi-bridge.json""#,
            r#"Value="[INSTALLDIR]tw.nhi.card_bridge.firefox.json""#,
            r#"Key="Software\Mozilla\NativeMessagingHosts\tw.nhi.card_bridge""#,
        ] {
            assert!(w.contains(needle), "{needle} in\n{w}");
        }
        assert_eq!(w.matches("<Component ").count(), 5);
        assert_eq!(w.matches("<ComponentRef ").count(), 5);
        let m: serde_json::Value = serde_json::from_str(&ms[0].text).expect("json");
        assert_eq!(m["path"], "nhi-bridge.exe");
    }

    #[test]
    fn component_guids_are_stable_and_distinct() {
        assert_eq!(guid("HostExe"), guid("HostExe"));
        assert_ne!(guid("HostExe"), guid("HostConfig"));
        let g = guid("HostExe");
        assert_eq!(g.len(), 36);
        assert_eq!(g.matches('-').count(), 4);
    }
}
