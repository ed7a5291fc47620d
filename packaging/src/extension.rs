//! The browser extension of a deployment, rendered from the template `bridge/extension/`
//! (itself the development deployment's rendering, [`Flavor::Development`]).
//!
//! What differs per browser and store:
//!
//! | | Chromium (Chrome Web Store, Edge Add-ons) | Firefox (AMO) | development (checked in) |
//! |---|---|---|---|
//! | `background` | `service_worker` | `scripts` | both |
//! | `browser_specific_settings` | none | `gecko.id` = the deployment's, `strict_min_version`, `data_collection_permissions` | as Firefox |
//! | `key` | never (the store assigns the id) | never | the development key |
//!
//! Everywhere: `version` = the workspace version, `content_scripts[0].matches` =
//! [`Deployment::content_script_matches`], `sw.js`'s `ALLOWED_ORIGINS` = the origins.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use nhi_protocol::deployment::{is_development_origin, Deployment, DeploymentError};
use serde::{Deserialize, Serialize};

/// The workspace version (every crate's), which the extension carries.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Which form of the extension to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Chrome, Chromium, Edge: `background.service_worker` only.
    Chromium,
    /// Firefox: `background.scripts` only, `browser_specific_settings.gecko`.
    Firefox,
    /// The checked-in form loaded unpacked by both browsers in development and by the e2e
    /// suite: both background keys, the gecko settings and the development `key`.
    Development,
}

impl Flavor {
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Chromium => "chromium",
            Flavor::Firefox => "firefox",
            Flavor::Development => "development",
        }
    }
}

/// The extension manifest: the fields the template has, in the order they are written.
/// Unknown fields in the template are refused, so nothing is dropped silently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub manifest_version: u32,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short_name: Option<String>,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icons: Option<Icons>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub permissions: Vec<String>,
    pub background: Background,
    pub content_scripts: Vec<ContentScript>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser_specific_settings: Option<BrowserSpecificSettings>,
}

/// `icons`: the sizes the stores ask for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Icons {
    #[serde(rename = "16")]
    pub x16: String,
    #[serde(rename = "48")]
    pub x48: String,
    #[serde(rename = "128")]
    pub x128: String,
}

impl Icons {
    pub fn files(&self) -> [&str; 3] {
        [&self.x16, &self.x48, &self.x128]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Background {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_worker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scripts: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentScript {
    pub matches: Vec<String>,
    pub js: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_frames: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrowserSpecificSettings {
    pub gecko: Gecko,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gecko {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict_min_version: Option<String>,
    /// AMO refuses new add-ons without it; the extension collects nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_collection_permissions: Option<DataCollection>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataCollection {
    pub required: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExtensionError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the template manifest is not of the expected shape: {0}")]
    Template(serde_json::Error),
    #[error("the template manifest has no content script")]
    NoContentScript,
    #[error(
        "sw.js must have exactly one line starting with `const ALLOWED_ORIGINS = ` (found {0})"
    )]
    AllowList(usize),
    #[error("not for a store: {0}")]
    Deployment(#[from] DeploymentError),
    #[error("the manifest is not store-ready: {}", .0.join("; "))]
    NotStoreReady(Vec<String>),
    #[error("the zip {path} could not be written: {source}")]
    Zip {
        path: PathBuf,
        source: zip::result::ZipError,
    },
}

/// The template folder's two rendered files.
#[derive(Debug, Clone)]
pub struct Template {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub sw_js: String,
}

impl Template {
    pub fn load(dir: &Path) -> Result<Self, ExtensionError> {
        let manifest_path = dir.join("manifest.json");
        let text = read_string(&manifest_path)?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(ExtensionError::Template)?;
        let sw_js = read_string(&dir.join("sw.js"))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            manifest,
            sw_js,
        })
    }
}

fn read_string(path: &Path) -> Result<String, ExtensionError> {
    std::fs::read_to_string(path).map_err(|source| ExtensionError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// The manifest of `deployment`'s extension for `flavor`.
pub fn render_manifest(
    template: &Manifest,
    deployment: &Deployment,
    flavor: Flavor,
) -> Result<Manifest, ExtensionError> {
    let mut m = template.clone();
    m.version = VERSION.to_string();
    let script = m
        .content_scripts
        .first_mut()
        .ok_or(ExtensionError::NoContentScript)?;
    script.matches = deployment.content_script_matches();
    let worker = m
        .background
        .service_worker
        .clone()
        .or_else(|| {
            m.background
                .scripts
                .as_ref()
                .and_then(|s| s.first().cloned())
        })
        .unwrap_or_else(|| "sw.js".to_string());
    let template_gecko = template
        .browser_specific_settings
        .as_ref()
        .map(|b| &b.gecko);
    let gecko = Gecko {
        id: deployment.firefox_extension_id.clone(),
        strict_min_version: template_gecko.and_then(|g| g.strict_min_version.clone()),
        data_collection_permissions: Some(DataCollection {
            required: vec!["none".to_string()],
        }),
    };
    match flavor {
        Flavor::Chromium => {
            m.background = Background {
                service_worker: Some(worker),
                scripts: None,
            };
            m.browser_specific_settings = None;
            // A store gives the id; a development deployment keeps the development key so
            // that its unpacked Chromium folder has the id its host allows.
            if !deployment.development {
                m.key = None;
            }
        }
        Flavor::Firefox => {
            m.background = Background {
                service_worker: None,
                scripts: Some(vec![worker]),
            };
            m.browser_specific_settings = Some(BrowserSpecificSettings { gecko });
            m.key = None;
        }
        Flavor::Development => {
            m.background = Background {
                service_worker: Some(worker.clone()),
                scripts: Some(vec![worker]),
            };
            m.browser_specific_settings = Some(BrowserSpecificSettings { gecko });
        }
    }
    Ok(m)
}

/// The manifest's text as written to `manifest.json` (two-space indent, final newline).
pub fn manifest_text(m: &Manifest) -> String {
    let mut s = serde_json::to_string_pretty(m).unwrap_or_default();
    s.push('\n');
    s
}

/// `sw.js` with its `ALLOWED_ORIGINS` line set to the deployment's origins.
pub fn render_sw_js(template: &str, deployment: &Deployment) -> Result<String, ExtensionError> {
    const PREFIX: &str = "const ALLOWED_ORIGINS = ";
    let count = template.lines().filter(|l| l.starts_with(PREFIX)).count();
    if count != 1 {
        return Err(ExtensionError::AllowList(count));
    }
    let list: Vec<String> = deployment
        .origins
        .iter()
        .map(|o| serde_json::to_string(o).unwrap_or_default())
        .collect();
    let line = format!("{PREFIX}[{}];", list.join(", "));
    let mut out = String::with_capacity(template.len() + line.len());
    for piece in template.split_inclusive('\n') {
        if piece.starts_with(PREFIX) {
            out.push_str(&line);
            if piece.ends_with("\r\n") {
                out.push_str("\r\n");
            } else if piece.ends_with('\n') {
                out.push('\n');
            }
        } else {
            out.push_str(piece);
        }
    }
    Ok(out)
}

/// The origins in `sw.js`'s `ALLOWED_ORIGINS` line.
pub fn sw_js_origins(sw_js: &str) -> Option<Vec<String>> {
    let line = sw_js
        .lines()
        .find(|l| l.starts_with("const ALLOWED_ORIGINS = "))?;
    let list = line
        .strip_prefix("const ALLOWED_ORIGINS = ")?
        .strip_suffix(';')?;
    serde_json::from_str(list).ok()
}

/// Why a rendered extension may not go to a store (empty: it may). Checks the manifest's
/// `content_scripts` matches and `sw.js`'s allow-list for development origins (http,
/// loopback, any port), a `key`, and the version.
pub fn store_problems(m: &Manifest, sw_js: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if m.key.is_some() {
        problems.push("the manifest has a `key` (the store assigns the id)".to_string());
    }
    if m.version != VERSION {
        problems.push(format!(
            "version {} is not the workspace version {VERSION}",
            m.version
        ));
    }
    for script in &m.content_scripts {
        for pattern in &script.matches {
            let dev = !pattern.starts_with("https://")
                || pattern.contains("localhost")
                || pattern.starts_with("https://127.")
                || pattern.contains(":*");
            if dev {
                problems.push(format!(
                    "content_scripts matches {pattern:?} is a development pattern"
                ));
            }
        }
    }
    match sw_js_origins(sw_js) {
        None => problems.push("sw.js has no readable ALLOWED_ORIGINS line".to_string()),
        Some(list) if list.is_empty() => {
            problems.push("sw.js allows no origin".to_string());
        }
        Some(list) => {
            for o in list.iter().filter(|o| is_development_origin(o)) {
                problems.push(format!("sw.js allows the development origin {o:?}"));
            }
        }
    }
    problems
}

/// One rendered extension: its files (path in the extension → bytes), sorted by path.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub flavor: Flavor,
    pub manifest: Manifest,
    pub files: Vec<(String, Vec<u8>)>,
}

impl Rendered {
    pub fn file(&self, name: &str) -> Option<&[u8]> {
        self.files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b.as_slice())
    }

    pub fn sw_js(&self) -> String {
        self.file("sw.js")
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
    }

    /// [`store_problems`] of this rendering, as an error.
    pub fn check_store_ready(&self) -> Result<(), ExtensionError> {
        let problems = store_problems(&self.manifest, &self.sw_js());
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ExtensionError::NotStoreReady(problems))
        }
    }

    /// Writes the files into `dir` (emptied first).
    pub fn write_dir(&self, dir: &Path) -> Result<(), ExtensionError> {
        let werr = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ExtensionError::Write { path, source }
        };
        match std::fs::remove_dir_all(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(werr(dir)(e)),
        }
        for (name, bytes) in &self.files {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(werr(parent))?;
            }
            std::fs::write(&path, bytes).map_err(werr(&path))?;
        }
        Ok(())
    }

    /// A store zip (files at the root, fixed timestamps: the same input gives the same zip),
    /// after [`Rendered::check_store_ready`].
    pub fn write_zip(&self, path: &Path) -> Result<(), ExtensionError> {
        self.check_store_ready()?;
        let zerr = |source| ExtensionError::Zip {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::create(path).map_err(|source| ExtensionError::Write {
            path: path.to_path_buf(),
            source,
        })?;
        let mut zip = zip::ZipWriter::new(file);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default())
            .unix_permissions(0o644);
        for (name, bytes) in &self.files {
            zip.start_file(name.as_str(), options).map_err(zerr)?;
            zip.write_all(bytes)
                .map_err(|source| ExtensionError::Write {
                    path: path.to_path_buf(),
                    source,
                })?;
        }
        zip.finish().map_err(zerr)?;
        Ok(())
    }
}

/// Files of the template that are not part of the extension.
fn is_template_only(name: &str) -> bool {
    name.ends_with(".md")
}

/// Renders the whole extension: `manifest.json` and `sw.js` rendered, every other file of the
/// template (content script, icons) copied; documentation left out.
pub fn render(
    template: &Template,
    deployment: &Deployment,
    flavor: Flavor,
) -> Result<Rendered, ExtensionError> {
    let manifest = render_manifest(&template.manifest, deployment, flavor)?;
    let sw_js = render_sw_js(&template.sw_js, deployment)?;
    let mut files = Vec::new();
    collect(&template.dir, "", &mut files)?;
    files.retain(|(name, _)| !is_template_only(name));
    for (name, bytes) in &mut files {
        match name.as_str() {
            "manifest.json" => *bytes = manifest_text(&manifest).into_bytes(),
            "sw.js" => *bytes = sw_js.clone().into_bytes(),
            _ => {}
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Rendered {
        flavor,
        manifest,
        files,
    })
}

fn collect(
    dir: &Path,
    prefix: &str,
    out: &mut Vec<(String, Vec<u8>)>,
) -> Result<(), ExtensionError> {
    let rerr = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ExtensionError::Read { path, source }
    };
    for entry in std::fs::read_dir(dir).map_err(rerr(dir))? {
        let entry = entry.map_err(rerr(dir))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = format!("{prefix}{name}");
        let kind = entry.file_type().map_err(rerr(&path))?;
        if kind.is_dir() {
            collect(&path, &format!("{rel}/"), out)?;
        } else if kind.is_file() {
            out.push((rel, std::fs::read(&path).map_err(rerr(&path))?));
        }
    }
    Ok(())
}

/// The files a manifest names (background scripts, content scripts, icons).
pub fn referenced_files(m: &Manifest) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    out.extend(m.background.service_worker.iter().cloned());
    out.extend(m.background.scripts.iter().flatten().cloned());
    for s in &m.content_scripts {
        out.extend(s.js.iter().cloned());
    }
    if let Some(icons) = &m.icons {
        out.extend(icons.files().iter().map(|s| s.to_string()));
    }
    out.sort();
    out.dedup();
    out
}

/// The store zip's file name for `flavor`.
pub fn zip_name(flavor: Flavor) -> String {
    format!("nhi-card-bridge-{VERSION}-{}.zip", flavor.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    fn deployment(name: &str) -> Deployment {
        let text = std::fs::read_to_string(workspace().join(format!("deploy/{name}.json")))
            .expect("deployment file");
        Deployment::parse(&text).expect("valid deployment")
    }

    fn template() -> Template {
        Template::load(&workspace().join("bridge/extension")).expect("template")
    }

    #[test]
    fn the_checked_in_extension_is_the_development_rendering() {
        let t = template();
        let r = render(&t, &deployment("development"), Flavor::Development).expect("render");
        let dir = workspace().join("bridge/extension");
        for name in ["manifest.json", "sw.js"] {
            let on_disk = std::fs::read(dir.join(name)).expect("checked-in file");
            assert!(
                r.file(name) == Some(on_disk.as_slice()),
                "bridge/extension/{name} is not the rendering of deploy/development.json; \
                 regenerate it with `cargo run -p nhi-package -- extension --deployment \
                 deploy/development.json --flavor development --out bridge/extension-new` \
                 and compare:\n{}",
                String::from_utf8_lossy(r.file(name).unwrap_or_default())
            );
        }
        assert!(r.manifest.key.is_some(), "the development key is kept");
        assert!(r.manifest.background.service_worker.is_some());
        assert!(r.manifest.background.scripts.is_some());
        assert!(r.file("README.md").is_none());
        for f in referenced_files(&r.manifest) {
            assert!(r.file(&f).is_some(), "{f} is referenced and rendered");
        }
    }

    #[test]
    fn the_example_deployment_renders_store_ready_extensions() {
        let t = template();
        let d = deployment("example");
        d.store_ready().expect("example is store-ready");
        let c = render(&t, &d, Flavor::Chromium).expect("chromium");
        c.check_store_ready().expect("chromium is store-ready");
        assert_eq!(c.manifest.key, None);
        assert_eq!(c.manifest.browser_specific_settings, None);
        assert_eq!(
            c.manifest.background.service_worker.as_deref(),
            Some("sw.js")
        );
        assert_eq!(c.manifest.background.scripts, None);
        assert_eq!(
            c.manifest.content_scripts[0].matches,
            ["https://card.nhi-registration.example/*"]
        );
        assert_eq!(
            sw_js_origins(&c.sw_js()),
            Some(vec!["https://card.nhi-registration.example".to_string()])
        );
        let f = render(&t, &d, Flavor::Firefox).expect("firefox");
        f.check_store_ready().expect("firefox is store-ready");
        assert_eq!(f.manifest.key, None);
        assert_eq!(f.manifest.background.service_worker, None);
        assert_eq!(f.manifest.background.scripts, Some(vec!["sw.js".into()]));
        let gecko = &f
            .manifest
            .browser_specific_settings
            .as_ref()
            .expect("bss")
            .gecko;
        assert_eq!(gecko.id, d.firefox_extension_id);
        assert_eq!(gecko.strict_min_version.as_deref(), Some("128.0"));
        assert_eq!(
            gecko.data_collection_permissions,
            Some(DataCollection {
                required: vec!["none".into()]
            })
        );
        let text = String::from_utf8_lossy(f.file("manifest.json").expect("manifest"));
        assert!(
            text.contains(r#""data_collection_permissions": {"#),
            "{text}"
        );
        for r in [&c, &f] {
            assert_eq!(r.manifest.version, VERSION);
            assert!(r.manifest.icons.is_some(), "stores need icons");
            for file in referenced_files(&r.manifest) {
                assert!(r.file(&file).is_some(), "{file} is in the rendering");
            }
        }
    }

    #[test]
    fn the_development_deployment_is_refused_for_stores() {
        let t = template();
        let d = deployment("development");
        assert!(d.store_ready().is_err());
        for flavor in [Flavor::Chromium, Flavor::Firefox, Flavor::Development] {
            let r = render(&t, &d, flavor).expect("renders for unpacked use");
            let err = r.check_store_ready().expect_err("not for a store");
            let text = err.to_string();
            assert!(text.contains("http://127.0.0.1/*"), "{flavor:?}: {text}");
            assert!(text.contains("http://localhost:*"), "{flavor:?}: {text}");
            let dir = std::env::temp_dir().join(format!(
                "nhi-package-zip-{}-{}",
                std::process::id(),
                flavor.name()
            ));
            std::fs::create_dir_all(&dir).expect("dir");
            let zip = dir.join("x.zip");
            assert!(r.write_zip(&zip).is_err());
            assert!(!zip.exists(), "nothing written");
            let _ = std::fs::remove_dir_all(&dir);
        }
        // The development key is kept for unpacked Chromium, never for Firefox.
        assert!(render(&t, &d, Flavor::Chromium)
            .expect("c")
            .manifest
            .key
            .is_some());
        assert!(render(&t, &d, Flavor::Firefox)
            .expect("f")
            .manifest
            .key
            .is_none());
    }

    #[test]
    fn the_store_check_catches_each_development_trace() {
        let t = template();
        let d = deployment("example");
        let good = render(&t, &d, Flavor::Chromium).expect("render");
        assert!(store_problems(&good.manifest, &good.sw_js()).is_empty());
        let mut keyed = good.manifest.clone();
        keyed.key = Some("MIIB".into());
        assert_eq!(store_problems(&keyed, &good.sw_js()).len(), 1);
        let mut old = good.manifest.clone();
        old.version = "0.0.1".into();
        assert_eq!(store_problems(&old, &good.sw_js()).len(), 1);
        for m in [
            "http://card.example.tw/*",
            "https://localhost/*",
            "https://127.0.0.1/*",
            "https://card.example.tw:*/*",
        ] {
            let mut dev = good.manifest.clone();
            dev.content_scripts[0].matches = vec![m.into()];
            assert_eq!(store_problems(&dev, &good.sw_js()).len(), 1, "{m}");
        }
        for line in [
            r#"const ALLOWED_ORIGINS = ["http://localhost:*"];"#,
            r#"const ALLOWED_ORIGINS = ["https://card.example.tw:*"];"#,
            r#"const ALLOWED_ORIGINS = ["https://127.0.0.1"];"#,
            "const ALLOWED_ORIGINS = [];",
            "// no list",
        ] {
            assert_eq!(store_problems(&good.manifest, line).len(), 1, "{line}");
        }
    }

    #[test]
    fn sw_js_needs_exactly_one_allow_list() {
        let d = deployment("example");
        assert!(matches!(
            render_sw_js("let x = 1;\n", &d),
            Err(ExtensionError::AllowList(0))
        ));
        let two = "const ALLOWED_ORIGINS = [];\nconst ALLOWED_ORIGINS = [];\n";
        assert!(matches!(
            render_sw_js(two, &d),
            Err(ExtensionError::AllowList(2))
        ));
        let one = "a\nconst ALLOWED_ORIGINS = [\"x\"];\nb\n";
        assert_eq!(
            render_sw_js(one, &d).expect("renders"),
            "a\nconst ALLOWED_ORIGINS = [\"https://card.nhi-registration.example\"];\nb\n"
        );
    }

    #[test]
    fn store_zips_hold_the_rendered_files_and_are_reproducible() {
        let t = template();
        let d = deployment("example");
        let dir = std::env::temp_dir().join(format!("nhi-package-zips-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let r = render(&t, &d, Flavor::Firefox).expect("render");
        let (a, b) = (dir.join("a.zip"), dir.join("b.zip"));
        r.write_zip(&a).expect("zip a");
        r.write_zip(&b).expect("zip b");
        let bytes = std::fs::read(&a).expect("read");
        assert_eq!(
            bytes,
            std::fs::read(&b).expect("read"),
            "same input, same zip"
        );
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
        let mut names: Vec<String> = z
            .file_names()
            .map(|n| n.map(|n| n.into_owned()))
            .collect::<Result<_, _>>()
            .expect("names");
        names.sort();
        let expected: Vec<String> = r.files.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(names, expected);
        let mut m = String::new();
        std::io::Read::read_to_string(&mut z.by_name("manifest.json").expect("manifest"), &mut m)
            .expect("utf-8");
        assert_eq!(m.as_bytes(), r.file("manifest.json").expect("manifest"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
