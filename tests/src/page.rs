//! A browser tab on the SPA: waits on page state (never fixed sleeps), keyboard input,
//! axe-core audits and screenshots in both languages.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(20);

pub struct Page {
    pub client: Client,
    pub origin: String,
}

/// Where axe-core's `axe.min.js` is (`npm install axe-core`; `NHI_AXE_JS` overrides).
pub fn axe_js() -> PathBuf {
    if let Some(p) = std::env::var_os("NHI_AXE_JS") {
        return PathBuf::from(p);
    }
    let tools = std::env::var("NHI_TOOLS").unwrap_or_else(|_| "/opt/nhi-tools".into());
    PathBuf::from(tools).join("npm/node_modules/axe-core/axe.min.js")
}

impl Page {
    pub fn new(client: Client, origin: &str) -> Self {
        Self {
            client,
            origin: origin.to_string(),
        }
    }

    /// Loads `path` and waits until the app has rendered its page heading.
    pub async fn open(&self, path: &str) -> Result<()> {
        self.client.goto(&format!("{}{path}", self.origin)).await?;
        self.wait_css("main h1").await?;
        Ok(())
    }

    pub async fn wait_css(&self, css: &str) -> Result<fantoccini::elements::Element> {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .with_context(|| format!("waiting for {css} (browser logs: target/e2e-artefacts/chrome-*.log, geckodriver-*.log)"))
    }

    /// Evaluates `expr` (a JS expression) until it is truthy; returns its value.
    pub async fn wait_js(&self, expr: &str, what: &str) -> Result<Value> {
        let deadline = Instant::now() + WAIT;
        let script = format!("return ({expr});");
        loop {
            let v = self.client.execute(&script, vec![]).await?;
            let truthy =
                !matches!(&v, Value::Null | Value::Bool(false)) && v != json!("") && v != json!(0);
            if truthy {
                return Ok(v);
            }
            if Instant::now() > deadline {
                bail!("timed out waiting for {what} ({expr})");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until the element `css` contains `needle` in its text.
    pub async fn wait_text(&self, css: &str, needle: &str) -> Result<()> {
        let expr = format!(
            "(document.querySelector({css:?})?.textContent || '').includes({needle:?})",
            css = css,
            needle = needle
        );
        self.wait_js(&expr, &format!("{css} to say {needle:?}"))
            .await
            .map(|_| ())
    }

    pub async fn text(&self, css: &str) -> Result<String> {
        Ok(self.wait_css(css).await?.text().await?)
    }

    pub async fn click(&self, css: &str) -> Result<()> {
        self.wait_css(css).await?.click().await?;
        Ok(())
    }

    pub async fn fill(&self, css: &str, text: &str) -> Result<()> {
        let el = self.wait_css(css).await?;
        el.clear().await?;
        el.send_keys(text).await?;
        Ok(())
    }

    pub async fn value(&self, css: &str) -> Result<String> {
        Ok(self
            .wait_css(css)
            .await?
            .prop("value")
            .await?
            .unwrap_or_default())
    }

    /// Chooses `option` in the `<select>` `css` (by its text) with the mouse-free DOM API.
    pub async fn select(&self, css: &str, option: &str) -> Result<()> {
        self.wait_js(
            &format!("[...(document.querySelector({css:?})?.options || [])].some(o => o.value === {option:?})"),
            &format!("option {option} in {css}"),
        )
        .await?;
        self.client
            .execute(
                "const s = document.querySelector(arguments[0]); s.value = arguments[1]; \
                 s.dispatchEvent(new Event('change', {bubbles: true}));",
                vec![json!(css), json!(option)],
            )
            .await?;
        Ok(())
    }

    // ── keyboard ────────────────────────────────────────────────────────────────────────

    /// Presses keys on whatever has focus (WebDriver actions: real key events).
    pub async fn keys(&self, keys: &[char]) -> Result<()> {
        let mut a = KeyActions::new("keyboard".into());
        for &k in keys {
            a = a
                .then(KeyAction::Down { value: k })
                .then(KeyAction::Up { value: k });
        }
        self.client.perform_actions(a).await?;
        Ok(())
    }

    pub async fn type_text(&self, text: &str) -> Result<()> {
        let chars: Vec<char> = text.chars().collect();
        self.keys(&chars).await
    }

    pub async fn press(&self, key: Key) -> Result<()> {
        self.keys(&[key.into()]).await
    }

    /// Presses Tab until the element with `id` has focus (at most 60 times).
    pub async fn tab_to(&self, id: &str) -> Result<()> {
        for _ in 0..60 {
            let focused = self
                .client
                .execute(
                    "return document.activeElement && document.activeElement.id",
                    vec![],
                )
                .await?;
            if focused == json!(id) {
                return Ok(());
            }
            self.press(Key::Tab).await?;
        }
        bail!("#{id} cannot be reached with the Tab key")
    }

    /// Chooses the option with text `option` in the focused `<select>` with ArrowDown.
    pub async fn arrow_to_option(&self, id: &str, option: &str) -> Result<()> {
        let idx = self
            .wait_js(
                &format!(
                    "(() => {{ const i = [...document.getElementById({id:?}).options].findIndex(o => o.value === {option:?}); return i >= 0 ? i + 1 : 0; }})()"
                ),
                &format!("option {option} in #{id}"),
            )
            .await?
            .as_u64()
            .unwrap_or(1) as usize
            - 1;
        self.tab_to(id).await?;
        let current = self
            .client
            .execute(
                &format!("return document.getElementById({id:?}).selectedIndex"),
                vec![],
            )
            .await?
            .as_u64()
            .unwrap_or(0) as usize;
        let downs = vec![char::from(Key::Down); idx.saturating_sub(current)];
        self.keys(&downs).await?;
        self.wait_js(
            &format!("document.getElementById({id:?}).value === {option:?}"),
            &format!("#{id} = {option}"),
        )
        .await?;
        Ok(())
    }

    // ── language, audits, screenshots ───────────────────────────────────────────────────

    pub async fn lang(&self) -> Result<String> {
        Ok(self
            .client
            .execute("return document.documentElement.lang", vec![])
            .await?
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// Switches the language with the header button and waits for the switch.
    pub async fn switch_lang(&self) -> Result<String> {
        let before = self.lang().await?;
        self.click("#lang-switch").await?;
        self.wait_js(
            &format!("document.documentElement.lang !== {before:?}"),
            "the language switch",
        )
        .await?;
        self.lang().await
    }

    /// Runs axe-core on the page as it is; fails on any violation.
    pub async fn axe(&self, name: &str) -> Result<()> {
        let loaded = self
            .client
            .execute("return typeof window.axe === 'object'", vec![])
            .await?;
        if loaded != json!(true) {
            let js = std::fs::read_to_string(axe_js()).with_context(|| {
                format!(
                    "reading {} (npm install --prefix /opt/nhi-tools/npm axe-core)",
                    axe_js().display()
                )
            })?;
            self.client.execute(&js, vec![]).await?;
        }
        let out = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1]; \
                 axe.run(document).then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, \
                   nodes: v.nodes.map(n => n.target.join(' ') + ' :: ' + n.failureSummary)})))) \
                 .catch(e => done([{id: 'axe-error', help: String(e), nodes: []}]));",
                vec![],
            )
            .await?;
        let violations = out
            .as_array()
            .cloned()
            .with_context(|| format!("axe did not run on {name}: {out}"))?;
        if !violations.is_empty() {
            bail!(
                "axe: {} violation(s) on {name}:\n{}",
                violations.len(),
                serde_json::to_string_pretty(&violations)?
            );
        }
        Ok(())
    }

    /// A screenshot of the whole page (the window is stretched to the page's height).
    pub async fn full_screenshot(&self, label: &str, width: u32) -> Result<()> {
        let (w0, h0) = self.client.get_window_size().await?;
        self.client.set_window_size(width, 900).await?;
        let height = self
            .client
            .execute("return document.documentElement.scrollHeight", vec![])
            .await?
            .as_u64()
            .unwrap_or(900)
            .clamp(600, 6000) as u32;
        self.client.set_window_size(width, height + 140).await?;
        let shot = crate::browser::screenshot(&self.client, label).await;
        self.client.set_window_size(w0 as u32, h0 as u32).await?;
        shot.map(|_| ())
    }

    /// axe and a full-page screenshot in both languages (zh-TW and English), plus axe and a
    /// screenshot 360 px wide in zh-TW; leaves the page in the language it was in.
    pub async fn audit(&self, name: &str) -> Result<()> {
        for _ in 0..2 {
            let lang = self.lang().await?;
            let zh = lang.starts_with("zh");
            let label = format!("{name}-{}", if zh { "zh-TW" } else { "en" });
            self.full_screenshot(&label, 1280).await?;
            self.axe(&label).await?;
            if zh {
                let (w0, h0) = self.client.get_window_size().await?;
                self.client.set_window_size(360, 800).await?;
                let narrow = format!("{label}-360px");
                let checked = self.axe(&narrow).await;
                let shot = self.full_screenshot(&narrow, 360).await;
                self.client.set_window_size(w0 as u32, h0 as u32).await?;
                checked?;
                shot?;
            }
            self.switch_lang().await?;
        }
        Ok(())
    }

    /// Nothing on the page is wider than a 360 px window (a long value wraps instead of
    /// overflowing, issue 17); leaves the window as it was.
    pub async fn fits_360px(&self, what: &str) -> Result<()> {
        let (w0, h0) = self.client.get_window_size().await?;
        self.client.set_window_size(360, 800).await?;
        let widths = self
            .client
            .execute(
                "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]",
                vec![],
            )
            .await;
        self.client.set_window_size(w0 as u32, h0 as u32).await?;
        let widths = widths?;
        let (scroll, client) = (widths[0].as_u64(), widths[1].as_u64());
        anyhow::ensure!(
            scroll.is_some() && scroll <= client,
            "{what}: the page is {scroll:?} px wide in a {client:?} px window"
        );
        Ok(())
    }
}
