//! The real parts the citizen suite runs against: pcscd with the virtual NHI card
//! (`scripts/vcard.sh`), the server binary on SQLite with its file outbox, and a browser
//! profile with the unpacked extension and the native host registered in it.

use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use tokio::process::{Child, Command};

use crate::{artefacts_dir, workspace_dir};

/// One stack at a time on this machine: pcscd and vpcd's ports are machine-wide.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A binary of another workspace crate, built by `cargo test --workspace` into the same
/// target folder as this test.
pub fn sibling_bin(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    // target/debug/deps/<test> → target/debug/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .context("test binary has no target folder")?;
    let bin = dir.join(name);
    ensure!(
        bin.exists(),
        "{} is missing: build it with `cargo build -p nhi-server -p nhi-bridge --bins` (cargo test --workspace does)",
        bin.display()
    );
    Ok(bin)
}

/// pcscd + the virtual card, through `scripts/vcard.sh` (which holds the machine-wide lock
/// shared with the bridge's tests). Stopped on drop.
pub struct VirtualCard {
    run_dir: PathBuf,
    vcard: PathBuf,
}

impl VirtualCard {
    /// Starts pcscd and inserts a card playing `holder` (a national ID from
    /// data/sample/card-holders.json).
    pub fn start(holder: &str) -> Result<Self> {
        Self::start_with(holder, None)
    }

    /// [`VirtualCard::start`] with the test PKI's certificate cards loaded (`--pki`, for
    /// [`VirtualCard::certificate`]).
    pub fn start_with(holder: &str, pki: Option<&TestPki>) -> Result<Self> {
        // Per process: other test binaries (and colleagues' runs) use this harness at the
        // same time; the machine-wide lock in vcard.sh decides who has pcscd.
        let run_dir = artefacts_dir().join(format!("vcard-{}", std::process::id()));
        std::fs::create_dir_all(&run_dir)?;
        let card = Self {
            run_dir,
            vcard: sibling_bin("nhi-vcard")?,
        };
        // pcscd is machine-wide: another test run (the bridge's, a colleague's) may hold it;
        // vcard.sh waits 60 s for the lock each try, we try for up to 10 minutes.
        let deadline = Instant::now() + Duration::from_secs(600);
        let pki_dir = pki.map(|p| p.dir.display().to_string());
        let mut args = vec!["start", "--holder", holder];
        if let Some(dir) = &pki_dir {
            args.extend(["--pki", dir.as_str()]);
        }
        loop {
            match card.script(&args) {
                Ok(()) => return Ok(card),
                Err(e)
                    if e.to_string().contains("is held by another")
                        && Instant::now() < deadline =>
                {
                    eprintln!("waiting for pcscd: {e}");
                }
                Err(e) => {
                    return Err(e)
                        .context("scripts/vcard.sh start (see target/e2e-artefacts/vcard/*.log)")
                }
            }
        }
    }

    fn script(&self, args: &[&str]) -> Result<()> {
        let out = StdCommand::new("bash")
            .arg(workspace_dir().join("scripts/vcard.sh"))
            .args(args)
            .env("NHI_RUN_DIR", &self.run_dir)
            .env("NHI_VCARD_BIN", &self.vcard)
            // pcscd and the card stop when this test process ends, even when killed
            .env("NHI_VCARD_OWNER_PID", std::process::id().to_string())
            .stdin(Stdio::null())
            .output()?;
        ensure!(
            out.status.success(),
            "vcard.sh {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }

    /// Pulls the card out and waits until PC/SC sees the reader empty.
    pub fn remove(&self) -> Result<()> {
        self.script(&["remove"])
    }

    /// Puts the card back and waits until PC/SC sees it.
    pub fn insert(&self) -> Result<()> {
        self.script(&["insert"])
    }

    /// Swaps the card for another holder's.
    pub fn holder(&self, id: &str) -> Result<()> {
        self.script(&["holder", id])
    }

    /// Swaps in the citizen certificate card `label` of the test PKI (its PIN counter
    /// persists while the virtual card runs, as a real card's does), and waits until PC/SC
    /// sees it (`vcard.sh certificate`: the old card out first, as `holder` does).
    pub fn certificate(&self, label: &str) -> Result<()> {
        self.script(&["certificate", label])
    }

    /// Resets the PIN counter of the certificate card `label` (tests only).
    pub fn unblock(&self, label: &str) -> Result<()> {
        self.ctl(&["unblock", label])
    }

    /// One command on the virtual card's control socket (`nhi-vcard ctl`).
    fn ctl(&self, args: &[&str]) -> Result<()> {
        let out = StdCommand::new(&self.vcard)
            .arg("ctl")
            .arg("--control")
            .arg(self.run_dir.join("card.sock"))
            .args(args)
            .stdin(Stdio::null())
            .output()?;
        ensure!(
            out.status.success(),
            "nhi-vcard ctl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }
}

/// The test PKI of the certificate login (`nhi-testpki init`), generated at run time into
/// the artefacts folder, and the server settings that trust it (`nhi-testpki env`).
pub struct TestPki {
    pub dir: PathBuf,
    /// `NHI_CERTIFICATE_…` = value, for the server.
    pub server_env: Vec<(String, String)>,
}

impl TestPki {
    /// A fresh test PKI in `<artefacts>/pki/<name>`.
    pub fn init(name: &str) -> Result<Self> {
        let dir = artefacts_dir().join("pki").join(name);
        let _ = std::fs::remove_dir_all(&dir);
        let bin = sibling_bin("nhi-testpki")?;
        let out = StdCommand::new(&bin)
            .arg("init")
            .arg(&dir)
            .stdin(Stdio::null())
            .output()?;
        ensure!(
            out.status.success(),
            "nhi-testpki init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = StdCommand::new(&bin)
            .arg("env")
            .arg(&dir)
            .stdin(Stdio::null())
            .output()?;
        ensure!(
            out.status.success(),
            "nhi-testpki env failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let server_env = String::from_utf8(out.stdout)?
            .lines()
            .filter_map(|l| l.trim().split_once('='))
            .map(|(k, v)| {
                let v = v.trim_matches(|c| c == '\'' || c == '"');
                (k.trim().to_string(), v.to_string())
            })
            .collect::<Vec<_>>();
        ensure!(
            server_env
                .iter()
                .any(|(k, _)| k == "NHI_CERTIFICATE_ISSUING_CAS"),
            "nhi-testpki env printed no NHI_CERTIFICATE_ISSUING_CAS"
        );
        Ok(Self { dir, server_env })
    }
}

impl Drop for VirtualCard {
    fn drop(&mut self) {
        let _ = self.script(&["stop"]);
    }
}

/// The server binary on a fresh SQLite database, the file mailer and the built SPA.
pub struct Server {
    _child: Child,
    pub origin: String,
    pub mail_dir: PathBuf,
    /// The server's stdout and stderr (its whole log).
    pub log_path: PathBuf,
    /// Its artefacts folder (the SQLite database `nhi.db` is there).
    pub dir: PathBuf,
}

impl Server {
    pub async fn start(name: &str) -> Result<Self> {
        Self::start_with(name, &[]).await
    }

    /// [`Server::start`] with more environment (the certificate login's settings).
    pub async fn start_with(name: &str, extra_env: &[(String, String)]) -> Result<Self> {
        Self::start_at(name, extra_env, "127.0.0.1").await
    }

    /// [`Server::start_with`] with `host` (a name of this machine's loopback) in the public
    /// origin: `localhost` for WebAuthn, whose relying party id must be a domain, never an IP
    /// address (the browser refuses `127.0.0.1` with a `SecurityError`).
    pub async fn start_at(name: &str, extra_env: &[(String, String)], host: &str) -> Result<Self> {
        let dist = crate::dist_dir();
        ensure!(
            dist.join("index.html").exists(),
            "no SPA build in {} — run scripts/build-app.sh first",
            dist.display()
        );
        let dir = artefacts_dir().join("server").join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let origin = format!("http://{host}:{port}");
        let mail_dir = dir.join("mail");
        let log_path = dir.join("server.log");
        let log = std::fs::File::create(&log_path)?;
        let child = Command::new(sibling_bin("nhi-server")?)
            .env("NHI_LISTEN", format!("127.0.0.1:{port}"))
            .env("NHI_PUBLIC_ORIGIN", &origin)
            .env(
                "NHI_DATABASE_URL",
                format!("sqlite://{}?mode=rwc", dir.join("nhi.db").display()),
            )
            .env("NHI_DIST_DIR", &dist)
            .env("NHI_MAIL_DIR", &mail_dir)
            .env("NHI_OUTBOX_POLL_MS", "100")
            .env("NHI_RATE_LIMIT_PER_MINUTE", "0")
            .env("NHI_RESEND_INTERVAL_SECONDS", "0")
            .env("NHI_ARGON2_MEMORY_KIB", "4096")
            .env("NHI_ARGON2_ITERATIONS", "1")
            .env("RUST_LOG", "info,sqlx=warn")
            .envs(extra_env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("starting nhi-server")?;
        let server = Self {
            _child: child,
            origin,
            mail_dir,
            log_path,
            dir: dir.clone(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if healthy(port).await {
                return Ok(server);
            }
            if Instant::now() > deadline {
                bail!(
                    "nhi-server did not answer /healthz within 30 s (see {})",
                    dir.join("server.log").display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Fails if `secret` (e.g. a mailed link's one-time ticket) occurs anywhere in the server's
    /// log: the ticket travels in the link's fragment, which no request carries, and the
    /// pages send it only in request bodies, which are not logged.
    pub fn ensure_log_lacks(&self, secret: &str, what: &str) -> Result<()> {
        ensure!(
            secret.len() >= 16,
            "{what}: {secret:?} is too short to look for"
        );
        let log = std::fs::read(&self.log_path)
            .with_context(|| format!("reading {}", self.log_path.display()))?;
        ensure!(!log.is_empty(), "{} is empty", self.log_path.display());
        let found = log
            .windows(secret.len())
            .position(|w| w == secret.as_bytes());
        ensure!(
            found.is_none(),
            "{what} occurs in the server log {} at byte {}",
            self.log_path.display(),
            found.unwrap_or_default()
        );
        Ok(())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// Waits for the `n`-th mail to `to` and returns its confirmation link's path and
    /// fragment (`/confirm#ticket=…`).
    pub async fn confirm_link(&self, to: &str, n: usize) -> Result<String> {
        self.mail(to, n)
            .await?
            .confirm_path()
            .with_context(|| format!("a confirmation link in mail #{n} to {to}"))
    }

    /// Waits for the `n`-th mail (counting from 1, in the order sent) to `to` and returns its
    /// decoded text.
    pub async fn mail(&self, to: &str, n: usize) -> Result<crate::mail::Mail> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mails: Vec<_> = crate::mail::read_dir(&self.mail_dir)?
                .into_iter()
                .filter(|m| m.to.contains(to))
                .collect();
            if mails.len() >= n {
                return Ok(mails[n - 1].clone());
            }
            if Instant::now() > deadline {
                bail!(
                    "mail #{n} to {to} did not arrive within 20 s ({} so far)",
                    mails.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn healthy(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let req = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if s.write_all(req.as_bytes()).await.is_err() {
        return false;
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    buf.starts_with(b"HTTP/1.1 200")
}

/// A fresh browser profile with the native host registered in it by `nhi-bridge install
/// --profile` (the bridge's own installer).
pub fn profile_with_bridge(name: &str) -> Result<PathBuf> {
    let dir = crate::browser::fresh_profile(name)?;
    let out = StdCommand::new(sibling_bin("nhi-bridge")?)
        .args(["install", "--profile"])
        .arg(&dir)
        .env(
            "NHI_BRIDGE_LOG",
            artefacts_dir().join(format!("bridge-{name}.log")),
        )
        .output()?;
    ensure!(
        out.status.success(),
        "nhi-bridge install --profile failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(dir)
}

/// The unpacked extension.
pub fn extension_dir() -> PathBuf {
    workspace_dir().join("bridge/extension")
}
