//! The Trunk-built SPA loads and renders in headless Chromium.
//!
//! Served here by a plain static server; the flows' suites use the real server.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use fantoccini::{Client, Locator};
use nhi_e2e::browser::{fresh_profile, screenshot, Chromedriver};
use tower_http::services::{ServeDir, ServeFile};

async fn serve_dist() -> Result<std::net::SocketAddr> {
    let dist = nhi_e2e::dist_dir();
    ensure!(
        dist.join("index.html").exists(),
        "no SPA build in {} — run scripts/build-app.sh first",
        dist.display()
    );
    let service = ServeDir::new(&dist).fallback(ServeFile::new(dist.join("index.html")));
    // What the real server's downloads_dir listing answers (server/tests/http.rs checks that).
    // /download is a page of the online area: its bundle's index.html, as the server answers.
    let app = axum::Router::new()
        .route_service(
            "/download",
            ServeFile::new(dist.join("online").join("index.html")),
        )
        .route(
            "/api/v1/downloads",
            axum::routing::get(|| async { axum::Json(downloads_fixture()) }),
        )
        .fallback_service(service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_spa_renders_its_shell() -> Result<()> {
    let addr = serve_dist().await?;
    let driver = Chromedriver::start().await?;
    let client = driver.session(&fresh_profile("spa-shell")?, None).await?;
    let result = check_shell(&client, addr).await;
    client.close().await.ok();
    result
}

const BRIDGE_SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn downloads_fixture() -> serde_json::Value {
    serde_json::json!({ "files": [
        { "name": "nhi-bridge", "kind": "bridge", "bytes": 5_400_000, "sha256": BRIDGE_SHA,
          "url": "/api/v1/downloads/nhi-bridge" },
        { "name": "nhi-extension.zip", "kind": "extension", "bytes": 6_000,
          "sha256": "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752",
          "url": "/api/v1/downloads/nhi-extension.zip" },
    ]})
}

/// /download lists the server's files with their SHA-256 and a link to each.
async fn check_download(client: &Client, addr: std::net::SocketAddr) -> Result<()> {
    client.goto(&format!("http://{addr}/download")).await?;
    let table = client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("table.download-files"))
        .await
        .context("/download lists no files")?;
    let text = table.text().await?;
    for needle in ["nhi-bridge", "nhi-extension.zip", BRIDGE_SHA, "5.1 MB"] {
        ensure!(text.contains(needle), "{needle:?} missing in {text:?}");
    }
    let link = client
        .find(Locator::Css("tr[data-kind='bridge'] a[download]"))
        .await?;
    ensure!(link.attr("href").await?.as_deref() == Some("/api/v1/downloads/nhi-bridge"));
    screenshot(client, "download-zh-TW").await?;
    Ok(())
}

async fn check_shell(client: &Client, addr: std::net::SocketAddr) -> Result<()> {
    client.goto(&format!("http://{addr}/")).await?;
    let h1 = client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("main h1"))
        .await
        .context("the app did not render <main><h1> (see target/e2e-artefacts/chrome-*.log)")?;
    ensure!(h1.text().await? == "健保卡網路服務註冊");
    screenshot(client, "shell-zh-TW").await?;
    check_download(client, addr).await
}
