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
    let app = axum::Router::new().fallback_service(service);
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
    Ok(())
}
