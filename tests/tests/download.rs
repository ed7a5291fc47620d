//! `/download` (issue 13) on the real server: a downloads folder with the packaging tool's
//! artefact names and a deployment file with store pages. Chromium on Linux is offered the
//! Chrome Web Store and the .deb and .rpm first; with a Windows Edge user agent, Edge Add-ons
//! and the .msi. Every file is listed below with its SHA-256; axe finds nothing in zh-TW and
//! English, and the page fits 360 px.

use std::path::Path;

use anyhow::{ensure, Context, Result};
use nhi_e2e::browser::{fresh_profile, Chromedriver};
use nhi_e2e::page::Page;
use nhi_e2e::stack::Server;

const FILES: &[&str] = &[
    "SHA256SUMS",
    "nhi-bridge",
    "nhi-bridge-0.1.0-1.x86_64.rpm",
    "nhi-bridge-0.1.0-x64.msi",
    "nhi-bridge_0.1.0-1_amd64.deb",
    "nhi-card-bridge-0.1.0-chromium.zip",
    "nhi-card-bridge-0.1.0-firefox.zip",
    "nhi-extension.zip",
];

const CHROME_STORE: &str = "https://chromewebstore.google.com/detail/nhi-card-bridge/test";
const EDGE_STORE: &str = "https://microsoftedge.microsoft.com/addons/detail/nhi-card-bridge/test";

const EDGE_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                            (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0";

fn sha256sum(path: &Path) -> Result<String> {
    let out = std::process::Command::new("sha256sum").arg(path).output()?;
    ensure!(out.status.success(), "sha256sum {}", path.display());
    String::from_utf8(out.stdout)?
        .split_whitespace()
        .next()
        .map(str::to_owned)
        .context("no sum")
}

/// The downloads folder and the deployment file (the development deployment's origins, with
/// store pages for Chrome and Edge, none for Firefox).
fn fixtures() -> Result<(std::path::PathBuf, std::path::PathBuf)> {
    let dir = nhi_e2e::artefacts_dir().join("download-fixtures");
    let _ = std::fs::remove_dir_all(&dir);
    let downloads = dir.join("downloads");
    std::fs::create_dir_all(&downloads)?;
    for name in FILES {
        std::fs::write(downloads.join(name), format!("a stand-in for {name}\n"))?;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut deployment: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        root.join("deploy/development.json"),
    )?)?;
    deployment["stores"] = serde_json::json!({ "chrome": CHROME_STORE, "edge": EDGE_STORE });
    let file = dir.join("deployment.json");
    std::fs::write(&file, deployment.to_string())?;
    Ok((downloads, file))
}

/// The kinds offered in the "recommended" section, in order.
async fn recommended_kinds(p: &Page) -> Result<Vec<String>> {
    let v = p
        .client
        .execute(
            "return [...document.querySelectorAll('#download-recommended a[data-kind]')]\
             .map(a => a.dataset.kind)",
            vec![],
        )
        .await?;
    Ok(serde_json::from_value(v)?)
}

async fn store_links(p: &Page) -> Result<Vec<(String, String)>> {
    let v = p
        .client
        .execute(
            "return [...document.querySelectorAll('#download-recommended a.store-link')]\
             .map(a => [a.dataset.store, a.getAttribute('href')])",
            vec![],
        )
        .await?;
    Ok(serde_json::from_value(v)?)
}

/// The recommended section comes before the list of every file.
async fn recommended_first(p: &Page) -> Result<()> {
    let first = p
        .client
        .execute(
            "const r = document.getElementById('recommended'), f = document.getElementById('files'); \
             return !!(r && f && (r.compareDocumentPosition(f) & Node.DOCUMENT_POSITION_FOLLOWING));",
            vec![],
        )
        .await?;
    ensure!(
        first == serde_json::json!(true),
        "the recommendation is not first"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn download_offers_this_systems_package_and_store_first() -> Result<()> {
    let (downloads, deployment) = fixtures()?;
    let server = Server::start_with(
        "download",
        &[
            ("NHI_DOWNLOADS_DIR".into(), downloads.display().to_string()),
            (
                "NHI_DEPLOYMENT_FILE".into(),
                deployment.display().to_string(),
            ),
        ],
    )
    .await?;
    let driver = Chromedriver::start().await?;

    // Chromium on Linux (this machine): the Chrome Web Store, the .deb and the .rpm.
    let client = driver
        .session(&fresh_profile("download-linux")?, None)
        .await?;
    let p = Page::new(client, &server.origin);
    let linux = async {
        p.open("/download").await?;
        p.wait_css("#recommended[data-os='linux'][data-browser='chromium']")
            .await?;
        p.wait_css("#download-recommended a.store-link").await?;
        ensure!(
            store_links(&p).await? == [("chrome".to_string(), CHROME_STORE.to_string())],
            "store links: {:?}",
            store_links(&p).await?
        );
        ensure!(
            recommended_kinds(&p).await? == ["deb", "rpm"],
            "recommended: {:?}",
            recommended_kinds(&p).await?
        );
        recommended_first(&p).await?;
        let table = p.text("table.download-files").await?;
        for name in FILES {
            ensure!(table.contains(name), "{name} not listed: {table}");
            let sum = sha256sum(&downloads.join(name))?;
            ensure!(table.contains(&sum), "{name}'s SHA-256 {sum} not shown");
        }
        // Why it is safe: no local port, hence no local-network-access prompt.
        p.wait_text("#safe", "存取區域網路").await?;
        p.wait_css("#download-recommended a[data-kind='deb'][download]")
            .await?;
        p.audit("download-linux-chromium").await?;
        p.fits_360px("/download (Linux, Chromium)").await?;
        // The English page says the same.
        p.switch_lang().await?;
        p.wait_text("#safe", "local network access").await?;
        p.fits_360px("/download (Linux, Chromium, English)").await
    }
    .await;
    p.client.clone().close().await.ok();
    linux?;

    // Edge on Windows: Edge Add-ons and the .msi.
    let client = driver
        .session_with_args(
            &fresh_profile("download-windows")?,
            None,
            &[format!("--user-agent={EDGE_WINDOWS}")],
        )
        .await?;
    let p = Page::new(client, &server.origin);
    let windows = async {
        p.open("/download").await?;
        let seen = p
            .wait_js(
                "(() => { const r = document.getElementById('recommended'); \
                 return r && document.querySelector('#download-recommended a') \
                 ? [r.dataset.os, r.dataset.browser] : null; })()",
                "the recommendation",
            )
            .await?;
        ensure!(
            seen == serde_json::json!(["windows", "edge"]),
            "a Windows Edge user agent is seen as {seen}"
        );
        ensure!(
            store_links(&p).await? == [("edge".to_string(), EDGE_STORE.to_string())],
            "store links: {:?}",
            store_links(&p).await?
        );
        ensure!(
            recommended_kinds(&p).await? == ["msi"],
            "recommended: {:?}",
            recommended_kinds(&p).await?
        );
        recommended_first(&p).await?;
        p.audit("download-windows-edge").await?;
        p.fits_360px("/download (Windows, Edge)").await
    }
    .await;
    p.client.clone().close().await.ok();
    windows
}
