//! `/download`'s API (issues 17 and 13): the files of `downloads_dir` with their SHA-256,
//! the deployment's store pages and the version; the files streamed as attachments; nothing
//! outside the folder; `deployment_file` refusing a `public_origin` it does not list.
//! (No database work: SQLite is enough.)

mod common;

use std::path::Path;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::{Engine, Harness, ORIGIN};
use http_body_util::BodyExt as _;
use nhi_server::config::Config;
use serde_json::json;
use tower::ServiceExt as _;

/// The artefact names of notes/issue13/PLAN.md, what scripts/run.sh offers, and a stranger.
const FILES: &[(&str, &str)] = &[
    ("SHA256SUMS", "checksums"),
    ("nhi-bridge", "bridge"),
    ("nhi-bridge-0.1.0-1.x86_64.rpm", "rpm"),
    ("nhi-bridge-0.1.0-x64.msi", "msi"),
    ("nhi-bridge_0.1.0-1_amd64.deb", "deb"),
    ("nhi-card-bridge-0.1.0-chromium.zip", "chromium_extension"),
    ("nhi-card-bridge-0.1.0-firefox.zip", "firefox_extension"),
    ("nhi-extension.zip", "extension"),
    ("notes.txt", "other"),
];

const EXAMPLE_DEPLOYMENT: &str = include_str!("../../deploy/example.json");

/// Some bytes per name; the rpm is larger than one read chunk of the file service.
fn contents(name: &str) -> Vec<u8> {
    let mut bytes = format!("not really {name}\n").into_bytes();
    if name.ends_with(".rpm") {
        bytes.extend((0..300_000u32).map(|n| (n % 251) as u8));
    }
    bytes
}

/// A downloads folder holding [`FILES`], plus what must never be offered.
fn folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, _) in FILES {
        std::fs::write(dir.path().join(name), contents(name)).expect("write");
    }
    std::fs::write(dir.path().join(".hidden"), b"secret").expect("write");
    std::fs::create_dir(dir.path().join("sub")).expect("dir");
    std::fs::write(dir.path().join("sub").join("inner.txt"), b"inner").expect("write");
    dir
}

/// What `sha256sum` says of `path` (the tool the page tells people to use).
fn sha256sum(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum runs");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .split_whitespace()
        .next()
        .expect("a sum")
        .to_owned()
}

async fn fetch(h: &Harness, uri: &str) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let req = Request::builder()
        .uri(uri)
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(Body::empty())
        .expect("request");
    let resp = h.app.router.clone().oneshot(req).await.expect("infallible");
    let (status, headers) = (resp.status(), resp.headers().clone());
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, headers, body.to_vec())
}

fn write_deployment(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("deployment.json");
    std::fs::write(&path, text).expect("write");
    path
}

/// The development deployment as a test server (`http://localhost:8080`) uses it, with store
/// pages so the listing has some.
fn development_with_stores() -> String {
    let mut d: serde_json::Value =
        serde_json::from_str(include_str!("../../deploy/development.json")).expect("json");
    d["stores"] = json!({
        "chrome": "https://chromewebstore.google.com/detail/nhi-card-bridge/x",
        "edge": "https://microsoftedge.microsoft.com/addons/detail/nhi-card-bridge/y",
    });
    d.to_string()
}

#[tokio::test]
async fn the_listing_names_each_kind_with_its_sha256_the_stores_and_the_version() {
    let dl = folder();
    let deploy_dir = tempfile::tempdir().expect("tempdir");
    let dep = write_deployment(deploy_dir.path(), &development_with_stores());
    let dir = dl.path().to_path_buf();
    let h = Harness::new(Engine::Sqlite, |c| {
        c.downloads_dir = Some(dir);
        c.deployment_file = Some(dep);
    })
    .await
    .expect("harness");
    let r = h.get("/api/v1/downloads").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let files = r.json["files"].as_array().expect("files");
    let listed: Vec<(&str, &str)> = files
        .iter()
        .map(|f| {
            (
                f["name"].as_str().expect("name"),
                f["kind"].as_str().expect("kind"),
            )
        })
        .collect();
    assert_eq!(listed, FILES, "by name; no hidden file, no folder");
    for f in files {
        let name = f["name"].as_str().expect("name");
        let path = dl.path().join(name);
        assert_eq!(f["sha256"], sha256sum(&path), "{name}");
        assert_eq!(f["bytes"], contents(name).len(), "{name}");
        assert_eq!(f["url"], format!("/api/v1/downloads/{name}"));
    }
    assert_eq!(
        r.json["stores"],
        json!({
            "chrome": "https://chromewebstore.google.com/detail/nhi-card-bridge/x",
            "edge": "https://microsoftedge.microsoft.com/addons/detail/nhi-card-bridge/y",
            "firefox": null,
        })
    );
    assert_eq!(r.json["version"], env!("CARGO_PKG_VERSION"));

    // A changed file is hashed again (the cache is by size and modification time).
    let rpm = dl.path().join("nhi-bridge-0.1.0-1.x86_64.rpm");
    std::fs::write(&rpm, b"a new build").expect("write");
    let r = h.get("/api/v1/downloads").await;
    let sum = r.json["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["kind"] == "rpm")
        .map(|f| f["sha256"].clone())
        .expect("the rpm");
    assert_eq!(sum, sha256sum(&rpm));

    // Without a folder or a deployment: nothing offered, no store (the page says so).
    let h = Harness::new(Engine::Sqlite, |_| {}).await.expect("harness");
    let r = h.get("/api/v1/downloads").await;
    assert_eq!(
        r.json,
        json!({
            "files": [],
            "stores": { "chrome": null, "edge": null, "firefox": null },
            "version": env!("CARGO_PKG_VERSION"),
        })
    );
    assert_eq!(
        h.get("/api/v1/downloads/nhi-bridge").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn files_are_streamed_as_attachments_with_their_length() {
    let dl = folder();
    let dir = dl.path().to_path_buf();
    let h = Harness::new(Engine::Sqlite, |c| c.downloads_dir = Some(dir))
        .await
        .expect("harness");
    for (name, _) in FILES {
        let (status, headers, body) = fetch(&h, &format!("/api/v1/downloads/{name}")).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert_eq!(body, contents(name), "{name}: the bytes of the file");
        assert_eq!(
            headers[header::CONTENT_LENGTH],
            contents(name).len().to_string(),
            "{name}"
        );
        assert!(
            headers.get(header::CONTENT_ENCODING).is_none(),
            "{name}: sent as it is"
        );
        assert_eq!(
            headers[header::CONTENT_DISPOSITION],
            format!("attachment; filename=\"{name}\""),
        );
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let expected = if name.ends_with(".zip") {
            "application/zip"
        } else {
            "application/octet-stream"
        };
        assert_eq!(headers[header::CONTENT_TYPE], expected, "{name}");
    }
}

#[tokio::test]
async fn nothing_outside_the_folder_is_served() {
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(outside.path().join("secret.txt"), b"outside").expect("write");
    let dl = folder();
    let link = |target: &Path, name: &str| {
        std::os::unix::fs::symlink(target, dl.path().join(name)).expect("symlink")
    };
    link(&outside.path().join("secret.txt"), "escape.txt");
    link(Path::new("/etc/passwd"), "passwd");
    link(Path::new("../"), "up");
    link(&dl.path().join("sub"), "subdir");
    // A link that stays inside the folder is followed (a "latest" alias, say).
    link(
        &dl.path().join("nhi-bridge_0.1.0-1_amd64.deb"),
        "nhi-bridge_latest_amd64.deb",
    );
    let dir = dl.path().to_path_buf();
    let h = Harness::new(Engine::Sqlite, |c| c.downloads_dir = Some(dir))
        .await
        .expect("harness");
    let listing = h.get("/api/v1/downloads").await;
    let names: Vec<String> = listing.json["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["name"].as_str().expect("name").to_owned())
        .collect();
    for hidden in [".hidden", "sub", "escape.txt", "passwd", "up", "subdir"] {
        assert!(!names.iter().any(|n| n == hidden), "{hidden} is listed");
    }
    assert!(names.iter().any(|n| n == "nhi-bridge_latest_amd64.deb"));
    let (status, _, body) = fetch(&h, "/api/v1/downloads/nhi-bridge_latest_amd64.deb").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, contents("nhi-bridge_0.1.0-1_amd64.deb"));

    for bad in [
        "/api/v1/downloads/..",
        "/api/v1/downloads/%2e%2e",
        "/api/v1/downloads/.%2e",
        "/api/v1/downloads/..%2Fsecret.txt",
        "/api/v1/downloads/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/api/v1/downloads/..%5Cnhi.db",
        "/api/v1/downloads/%2Fetc%2Fpasswd",
        "/api/v1/downloads//etc/passwd",
        "/api/v1/downloads/sub/inner.txt",
        "/api/v1/downloads/sub%2Finner.txt",
        "/api/v1/downloads/.hidden",
        "/api/v1/downloads/%2Ehidden",
        "/api/v1/downloads/sub",
        "/api/v1/downloads/subdir",
        "/api/v1/downloads/up",
        "/api/v1/downloads/escape.txt",
        "/api/v1/downloads/passwd",
        "/api/v1/downloads/missing.zip",
        "/api/v1/downloads/nhi-bridge%00",
    ] {
        let (status, _, body) = fetch(&h, bad).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
        let body = String::from_utf8_lossy(&body);
        assert!(
            !body.contains("outside") && !body.contains("root:") && !body.contains("inner"),
            "{bad}: {body}"
        );
    }
}

/// `Config::load` with the given `NHI_*` variables.
fn load(vars: &[(&str, String)]) -> Result<Config, nhi_server::config::ConfigError> {
    let vars = vars.to_vec();
    Config::load(None, move |k| {
        vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    })
}

#[tokio::test]
async fn a_public_origin_outside_the_deployment_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dev = write_deployment(dir.path(), include_str!("../../deploy/development.json"));
    let example = dir.path().join("example.json");
    std::fs::write(&example, EXAMPLE_DEPLOYMENT).expect("write");
    let file = |p: &Path| ("NHI_DEPLOYMENT_FILE", p.display().to_string());
    let real_key = (
        "NHI_CARD_MASTER_KEY_HEX",
        "22".repeat(32), // not the public test key: off-loopback origins load
    );

    // The development deployment on a developer's machine: fine.
    let cfg = load(&[file(&dev)]).expect("loopback server, development deployment");
    assert_eq!(
        cfg.deployment.as_ref().map(|d| d.name.as_str()),
        Some("development")
    );
    // The example deployment's own origin: fine.
    let cfg = load(&[
        file(&example),
        (
            "NHI_PUBLIC_ORIGIN",
            "https://card.nhi-registration.example".into(),
        ),
        ("NHI_LISTEN", "0.0.0.0:8080".into()),
        real_key.clone(),
    ])
    .expect("the deployment's origin");
    assert!(cfg.deployment.is_some_and(|d| d.stores.chrome.is_some()));

    // Card proofs bind to public_origin: one the deployment does not list is refused.
    for (deployment, origin) in [
        (&example, "https://other.example"),
        (&example, "http://card.nhi-registration.example"),
        (&example, "https://card.nhi-registration.example:8443"),
        (&example, ORIGIN),
        (&dev, "https://card.nhi-registration.example"),
    ] {
        let err = load(&[
            file(deployment),
            ("NHI_PUBLIC_ORIGIN", origin.into()),
            real_key.clone(),
        ])
        .expect_err(origin)
        .to_string();
        assert!(
            err.contains("public_origin") && err.contains(origin) && err.contains("origins"),
            "{err}"
        );
    }
    // A development deployment (every loopback port) is served on loopback only.
    let err = load(&[
        file(&dev),
        ("NHI_LISTEN", "0.0.0.0:8080".into()),
        real_key.clone(),
    ])
    .expect_err("development deployment on a public listener")
    .to_string();
    assert!(
        err.contains("deployment_file") && err.contains("development"),
        "{err}"
    );
    // A missing or broken file is refused with its path.
    let missing = dir.path().join("missing.json");
    let err = load(&[file(&missing)]).expect_err("missing").to_string();
    assert!(err.contains("missing.json"), "{err}");
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, r#"{"name":"x"}"#).expect("write");
    let err = load(&[file(&broken)]).expect_err("broken").to_string();
    assert!(
        err.contains("broken.json") && err.contains("deployment"),
        "{err}"
    );

    // A configuration made in code is checked when the app is built.
    let mut config = common::test_config(dir.path());
    config.deployment_file = Some(example);
    let err = nhi_server::app::build(config, nhi_server::app::Overrides::default())
        .await
        .err()
        .expect("the test server's origin is not the example deployment's")
        .to_string();
    assert!(err.contains("public_origin"), "{err}");
}
