//! chromedriver + headless Chromium, driven with fantoccini.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};
use tokio::process::{Child, Command};

/// A running chromedriver; killed on drop.
pub struct Chromedriver {
    _child: Child,
    url: String,
    /// chromedriver's log with the browser's (`--enable-chrome-logs`).
    pub log_path: PathBuf,
}

impl Chromedriver {
    /// Starts chromedriver on a free port; its output and the browser's console go to files
    /// in the artefacts folder, never to the test's stdout (a browser that outlives a
    /// panicking test would otherwise hold the pipe and hang the run).
    pub async fn start() -> Result<Self> {
        Self::start_with_env(&[]).await
    }

    /// [`Chromedriver::start`] with more environment for chromedriver, which the browser it
    /// starts inherits, and so does the native host the browser starts (the scripted
    /// pinentry's queue and log, the host's config).
    pub async fn start_with_env(env: &[(&str, &Path)]) -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let logs = crate::artefacts_dir();
        let stdio = std::fs::File::create(logs.join(format!("chromedriver-{port}.out")))?;
        let log_path = logs.join(format!("chrome-{port}.log"));
        let child = Command::new(&bin)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log_path.display()))
            .envs(env.iter().copied())
            .arg("--enable-chrome-logs")
            .stdout(stdio.try_clone()?)
            .stderr(stdio)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {bin} (apt-get install chromium-driver)"))?;
        let url = listening(port, "chromedriver").await?;
        Ok(Self {
            _child: child,
            url,
            log_path,
        })
    }

    /// A new headless browser with a fresh profile in `profile`, and `extension` loaded
    /// unpacked when given.
    pub async fn session(&self, profile: &Path, extension: Option<&Path>) -> Result<Client> {
        self.session_with_args(profile, extension, &[]).await
    }

    /// [`Chromedriver::session`] with more command-line switches for the browser (e.g.
    /// `--user-agent=…`, to see a page as another system's browser sees it).
    pub async fn session_with_args(
        &self,
        profile: &Path,
        extension: Option<&Path>,
        extra: &[String],
    ) -> Result<Client> {
        let mut args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-gpu".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--no-first-run".into(),
            "--window-size=1280,900".into(),
            format!("--user-data-dir={}", profile.display()),
        ];
        if let Some(ext) = extension {
            args.push(format!("--load-extension={}", ext.display()));
            args.push(format!("--disable-extensions-except={}", ext.display()));
        }
        args.extend(extra.iter().cloned());
        let bin =
            std::env::var("CHROME_BIN").unwrap_or_else(|_| "/usr/lib/chromium/chromium".into());
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": bin, "args": args }
        });
        let Value::Object(caps) = caps else {
            bail!("capabilities are an object")
        };
        let conn = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(conn)
            .capabilities(caps)
            .connect(&self.url)
            .await
            .context("opening a WebDriver session (is Debian's chromium installed?)")
    }
}

/// A fresh, empty folder under the artefacts folder for a browser profile.
pub fn fresh_profile(name: &str) -> Result<PathBuf> {
    let dir = crate::artefacts_dir().join("profiles").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Saves a PNG screenshot of the current page as an artefact.
pub async fn screenshot(client: &Client, name: &str) -> Result<PathBuf> {
    let png = client.screenshot().await?;
    let dir = crate::artefacts_dir().join("screenshots");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png)?;
    Ok(path)
}

/// Waits (10 s at most) until a WebDriver server just started on `port` accepts connections;
/// its URL.
pub(crate) async fn listening(port: u16, what: &str) -> Result<String> {
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(url);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{what} did not listen on {url} within 10 s")
}
