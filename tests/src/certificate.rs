//! The stack of the citizen certificate (自然人憑證) login (issue 12): the test PKI generated
//! at run time, the server trusting its issuing CA, the virtual card with its certificate
//! cards, and a browser whose native host asks the scripted pinentry
//! (`nhi-pinentry-script`) for the PIN: the test writes `pin <digits>` or `cancel` into its
//! queue file, as a person would type into (or close) the PIN window.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{ensure, Context, Result};

use crate::browser::{screenshot, Chromedriver};
use crate::page::Page;
use crate::stack::{
    extension_dir, profile_with_bridge, sibling_bin, Server, TestPki, VirtualCard, SERIAL,
};

/// The PIN of every test card (`pki.json`).
pub const PIN: &str = "123456";
/// A wrong PIN, distinctive enough to grep every log for.
pub const WRONG_PIN: &str = "918273";

/// Records every `postMessage` the page sees (its requests to the extension and the
/// extension's answers) in `window.__nhiMessages`, as JSON texts.
const CAPTURE_JS: &str = "if (!window.__nhiMessages) { window.__nhiMessages = []; \
  window.addEventListener('message', e => { try { window.__nhiMessages.push(JSON.stringify(e.data)); } \
  catch (_) { window.__nhiMessages.push(String(e.data)); } }, true); } return true;";

pub struct CertStack {
    pub pki: TestPki,
    pub card: VirtualCard,
    pub server: Server,
    pub page: Page,
    pub driver: Chromedriver,
    /// The scripted pinentry's queue (`NHI_PINENTRY_QUEUE`) and log (`NHI_PINENTRY_LOG`).
    pub pinentry_queue: PathBuf,
    pub pinentry_log: PathBuf,
    /// The native host's log (`NHI_BRIDGE_LOG`).
    pub host_log: PathBuf,
    /// Every page message captured so far ([`CertStack::capture`], [`CertStack::harvest`]).
    pub messages: std::sync::Mutex<Vec<String>>,
}

impl CertStack {
    /// Starts everything; the virtual card plays 王小明's NHI card until a test swaps in a
    /// certificate card ([`VirtualCard::certificate`]).
    pub async fn start(name: &str) -> Result<Self> {
        let pki = TestPki::init(name)?;
        let card = VirtualCard::start_with("A123456789", Some(&pki))?;
        let server = Server::start_with(name, &pki.server_env).await?;
        let dir = crate::artefacts_dir().join("pinentry").join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let pinentry_queue = dir.join("queue");
        let pinentry_log = dir.join("pinentry.log");
        std::fs::write(&pinentry_queue, "")?;
        std::fs::write(&pinentry_log, "")?;
        let host_log = dir.join("host.log");
        // The host's config (NHI_BRIDGE_CONFIG): the development defaults and the scripted
        // pinentry as its PIN dialog.
        let config = dir.join("nhi-bridge.json");
        let pinentry = sibling_bin("nhi-pinentry-script")?;
        std::fs::write(
            &config,
            serde_json::to_vec_pretty(&serde_json::json!({ "pinentry": pinentry }))?,
        )?;
        let driver = Chromedriver::start_with_env(&[
            ("NHI_PINENTRY_QUEUE", &pinentry_queue),
            ("NHI_PINENTRY_LOG", &pinentry_log),
            ("NHI_BRIDGE_CONFIG", &config),
            ("NHI_BRIDGE_LOG", &host_log),
        ])
        .await?;
        let profile = profile_with_bridge(name)?;
        let client = driver.session(&profile, Some(&extension_dir())).await?;
        let page = Page::new(client, &server.origin);
        Ok(Self {
            pki,
            card,
            server,
            page,
            driver,
            pinentry_queue,
            pinentry_log,
            host_log,
            messages: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// Runs `scenario` on a fresh stack (one stack at a time on this machine), photographs
    /// the page when it fails, and closes the browser.
    pub async fn run(
        name: &str,
        scenario: impl AsyncFnOnce(&CertStack) -> Result<()>,
    ) -> Result<()> {
        let _serial = SERIAL.lock().await;
        let stack = Self::start(name).await?;
        let result = scenario(&stack).await;
        if result.is_err() {
            let _ = screenshot(&stack.page.client, &format!("FAILED-{name}")).await;
        }
        stack.page.client.clone().close().await.ok();
        result
    }

    /// What the person does in the PIN window next: `pin <digits>` or `cancel`.
    pub fn queue(&self, line: &str) -> Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.pinentry_queue)?;
        writeln!(f, "{line}")?;
        Ok(())
    }

    /// Empties the queue (a line nobody asked for must not answer a later dialog).
    pub fn clear_queue(&self) -> Result<()> {
        std::fs::write(&self.pinentry_queue, "")?;
        Ok(())
    }

    pub fn pinentry_log(&self) -> Result<String> {
        std::fs::read_to_string(&self.pinentry_log)
            .with_context(|| format!("reading {}", self.pinentry_log.display()))
    }

    /// Starts recording the page's messages (again after every full page load).
    pub async fn capture(&self) -> Result<()> {
        self.page.client.execute(CAPTURE_JS, vec![]).await?;
        Ok(())
    }

    /// Moves the messages recorded on the page into [`CertStack::messages`]; answers how many.
    pub async fn harvest(&self) -> Result<usize> {
        let v = self
            .page
            .client
            .execute(
                "const m = window.__nhiMessages || []; window.__nhiMessages = []; return m;",
                vec![],
            )
            .await?;
        let got: Vec<String> = v
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|x| x.as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default();
        let n = got.len();
        self.messages
            .lock()
            .map_err(|_| anyhow::anyhow!("messages lock poisoned"))?
            .extend(got);
        Ok(n)
    }

    /// Opens `/units/login` and starts recording its messages.
    pub async fn open_login(&self) -> Result<()> {
        self.page.open("/units/login").await?;
        self.page.wait_css("#cert-submit").await?;
        self.capture().await
    }

    /// Types `id` and presses 「以自然人憑證登入」 (the PIN window's answer must be queued).
    pub async fn submit(&self, id: &str) -> Result<()> {
        self.page.fill("#national-id", id).await?;
        self.page.click("#cert-submit").await
    }

    /// Every place a PIN could leak to, as `(what, bytes)`: the server's log, the host's
    /// log, the pinentry's log, the browser's log, the page's messages and the database.
    pub fn leak_sources(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let mut out = Vec::new();
        let files = [
            ("server log", self.server.log_path.clone()),
            ("host log", self.host_log.clone()),
            ("pinentry log", self.pinentry_log.clone()),
            ("browser log", self.driver.log_path.clone()),
        ];
        for (what, path) in files {
            let bytes =
                std::fs::read(&path).with_context(|| format!("{what}: {}", path.display()))?;
            out.push((format!("{what} {}", path.display()), bytes));
        }
        for entry in std::fs::read_dir(&self.server.dir)? {
            let path = entry?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            if name.starts_with("nhi.db") {
                out.push((
                    format!("database {}", path.display()),
                    std::fs::read(&path)?,
                ));
            }
        }
        let messages = self
            .messages
            .lock()
            .map_err(|_| anyhow::anyhow!("messages lock poisoned"))?
            .join("\n");
        out.push(("page messages".into(), messages.into_bytes()));
        Ok(out)
    }
}

/// Fails if `needle` occurs in any of `sources`.
pub fn ensure_absent(sources: &[(String, Vec<u8>)], needle: &str) -> Result<()> {
    for (what, bytes) in sources {
        let at = pin_position(bytes, needle);
        ensure!(
            at.is_none(),
            "the PIN {needle} occurs in the {what} at byte {}",
            at.unwrap_or_default()
        );
    }
    Ok(())
}

/// Where `pin` occurs in `bytes` as a number of its own: not inside a longer run of digits
/// (the test PIN `123456` is also part of unit `12345678` and ID `A123456789`, which every log
/// rightly has). A PIN leaking would stand alone: `"123456"`, `D 123456`, `pin=123456`.
pub fn pin_position(bytes: &[u8], pin: &str) -> Option<usize> {
    let n = pin.len();
    bytes.windows(n).enumerate().find_map(|(i, w)| {
        let before = i.checked_sub(1).and_then(|j| bytes.get(j));
        let after = bytes.get(i + n);
        let digit = |b: Option<&u8>| b.is_some_and(u8::is_ascii_digit);
        (w == pin.as_bytes() && !digit(before) && !digit(after)).then_some(i)
    })
}

#[cfg(test)]
mod tests {
    use super::pin_position;

    #[test]
    fn a_pin_is_found_alone_not_inside_longer_numbers() {
        assert_eq!(pin_position(b"unit=12345678 id=A123456789", "123456"), None);
        assert_eq!(pin_position(b"{\"pin\":\"123456\"}", "123456"), Some(8));
        assert_eq!(pin_position(b"D 123456\n", "123456"), Some(2));
        assert_eq!(pin_position(b"123456", "123456"), Some(0));
    }
}
