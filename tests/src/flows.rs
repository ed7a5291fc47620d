//! The flows as a person goes through them in the SPA, shared by the scenarios: a fresh
//! [`Stack`] per scenario, F1 [`register`] (with the mouse, up to the pending page), F2
//! [`confirm`] from the mailed link ([`Server::confirm_link`]), F3 [`login`], and the steps
//! they are made of ([`start_registration`], [`fill_household`], [`set_password`],
//! [`read_card`], [`login_here`]), and F0's self-check states ([`all_checks`],
//! [`card_shown`]). Each helper waits on page state, never on sleeps, and leaves
//! the page where its doc comment says.

use std::time::Instant;

use anyhow::Result;

use crate::browser::{screenshot, Chromedriver};
use crate::page::Page;
use crate::stack::{extension_dir, profile_with_bridge, Server, VirtualCard, SERIAL};

/// A person the virtual card plays (data/sample/card-holders.json) and the household data
/// the registry has for them.
pub struct Holder {
    pub id: &'static str,
    pub household: &'static str,
    pub county: &'static str,
    pub township: &'static str,
    pub village: &'static str,
    pub neighbourhood: &'static str,
}

/// 王小明, the virtual card's default holder, admin of the sample unit 12345678.
pub const WANG: Holder = Holder {
    id: "A123456789",
    household: "F1234567",
    county: "臺北市",
    township: "大安區",
    village: "龍坡里",
    neighbourhood: "5",
};
/// 陳美麗.
pub const CHEN: Holder = Holder {
    id: "B223456719",
    household: "B0012345",
    county: "臺中市",
    township: "西屯區",
    village: "福安里",
    neighbourhood: "12",
};
/// 林志豪.
pub const LIN: Holder = Holder {
    id: "F135792464",
    household: "H7654321",
    county: "新北市",
    township: "板橋區",
    village: "留侯里",
    neighbourhood: "3",
};

/// A password the strength rule accepts.
pub const PASSWORD: &str = "tide-Lamp-47";

/// Everything one scenario runs against: pcscd with the virtual card, the server, and a
/// browser tab with the extension and the native host (Chromium: [`Stack::start`]; Firefox:
/// [`Stack::start_firefox`](crate::firefox)).
pub struct Stack {
    pub card: VirtualCard,
    pub server: Server,
    pub page: Page,
    /// The WebDriver process (chromedriver or geckodriver), killed when the stack goes.
    pub(crate) driver: Box<dyn std::any::Any + Send + Sync>,
}

impl Stack {
    /// Starts the card (playing `holder`, a national ID), the server and the browser; `name`
    /// names the server's artefacts folder and the browser profile.
    pub async fn start(name: &str, holder: &str) -> Result<Self> {
        Self::start_at(name, holder, "127.0.0.1").await
    }

    /// [`Stack::start`] with the server's public origin on `host` (`localhost` for the
    /// passkey scenarios: [`Server::start_at`]).
    pub async fn start_at(name: &str, holder: &str, host: &str) -> Result<Self> {
        let card = VirtualCard::start(holder)?;
        let server = Server::start_at(name, &[], host).await?;
        let driver = Chromedriver::start().await?;
        let profile = profile_with_bridge(name)?;
        let client = driver.session(&profile, Some(&extension_dir())).await?;
        let page = Page::new(client, &server.origin);
        Ok(Self {
            card,
            server,
            page,
            driver: Box::new(driver),
        })
    }

    /// Runs `scenario` on a fresh stack, one scenario at a time on this machine ([`SERIAL`]):
    /// photographs the page as `FAILED-<name>` when it fails, and always closes the browser.
    pub async fn run(
        name: &str,
        holder: &str,
        scenario: impl AsyncFnOnce(&Stack) -> Result<()>,
    ) -> Result<()> {
        Self::run_at(name, holder, "127.0.0.1", scenario).await
    }

    /// [`Stack::run`] with the server's public origin on `host` ([`Stack::start_at`]).
    pub async fn run_at(
        name: &str,
        holder: &str,
        host: &str,
        scenario: impl AsyncFnOnce(&Stack) -> Result<()>,
    ) -> Result<()> {
        let _serial = SERIAL.lock().await;
        Self::start_at(name, holder, host)
            .await?
            .run_here(name, scenario)
            .await
    }

    /// Runs `scenario` on this stack (the caller holds [`SERIAL`]): photographs the page as
    /// `FAILED-<name>` when it fails, and always closes the browser.
    pub async fn run_here(
        self,
        name: &str,
        scenario: impl AsyncFnOnce(&Stack) -> Result<()>,
    ) -> Result<()> {
        let result = scenario(&self).await;
        if result.is_err() {
            let _ = screenshot(&self.page.client, &format!("FAILED-{name}")).await;
        }
        self.page.client.clone().close().await.ok();
        drop(self.driver);
        result
    }
}

/// 「讀取」 on the current page, until the card's (masked) data is shown.
pub async fn read_card(p: &Page) -> Result<()> {
    p.click("#read-card").await?;
    p.wait_css("#card-data").await?;
    Ok(())
}

/// F1 with the mouse from the start: the terms agreed, the card read; leaves the page on the
/// household step.
pub async fn start_registration(p: &Page) -> Result<()> {
    p.open("/register").await?;
    p.click("#agree").await?;
    p.click("#next").await?;
    read_card(p).await?;
    p.click("#next").await?;
    Ok(())
}

/// Fills the household step with `h`'s data, but `neighbourhood` (which may be wrong on
/// purpose).
pub async fn fill_household(p: &Page, h: &Holder, neighbourhood: &str) -> Result<()> {
    p.fill("#household", h.household).await?;
    p.select("#county", h.county).await?;
    p.select("#township", h.township).await?;
    p.select("#village", h.village).await?;
    p.fill("#neighbourhood", neighbourhood).await?;
    Ok(())
}

/// Types `password` into both password fields.
pub async fn set_password(p: &Page, password: &str) -> Result<()> {
    p.fill("#password", password).await?;
    p.fill("#password2", password).await?;
    Ok(())
}

/// F1 with the mouse for the card's holder `h`, up to the pending page.
pub async fn register(p: &Page, h: &Holder, email: &str, password: &str) -> Result<()> {
    start_registration(p).await?;
    fill_household(p, h, h.neighbourhood).await?;
    p.click("#next").await?;
    p.wait_css("#password").await?;
    set_password(p, password).await?;
    p.fill("#email", email).await?;
    p.click("#submit").await?;
    p.wait_css("#pending").await?;
    Ok(())
}

/// F2: opens the mailed `link`, reads the card, up to 「註冊完成」.
pub async fn confirm(p: &Page, link: &str) -> Result<()> {
    p.open(link).await?;
    p.click("#read-card").await?;
    p.wait_css("#confirm-done").await?;
    Ok(())
}

/// F3 on the login page (already open): reads the card, types `password`, submits. Where
/// the page goes next is the caller's to check.
pub async fn login_here(p: &Page, password: &str) -> Result<()> {
    p.wait_css("#password").await?;
    read_card(p).await?;
    p.fill("#password", password).await?;
    p.click("#submit").await?;
    Ok(())
}

/// F3 from `/login` up to the home page.
pub async fn login(p: &Page, password: &str) -> Result<()> {
    p.open("/login").await?;
    login_here(p, password).await?;
    p.wait_css("#me").await?;
    Ok(())
}

/// F1 → F2 → F3, the real flow, for the card's holder `h`: registers, confirms with the link
/// from the activation mail (the first mail to `email`) and logs in; leaves the page on home.
pub async fn register_confirm_login(
    s: &Stack,
    h: &Holder,
    email: &str,
    password: &str,
) -> Result<()> {
    register(&s.page, h, email, password).await?;
    let link = s.server.confirm_link(email, 1).await?;
    confirm(&s.page, &link).await?;
    login(&s.page, password).await
}

/// F0: waits until the self-check shows all its 7 checks in `state` (`pass`, `fail`, …).
pub async fn all_checks(p: &Page, state: &str) -> Result<()> {
    p.wait_js(
        &format!("[...document.querySelectorAll('li.check')].length === 7 && [...document.querySelectorAll('li.check')].every(li => li.dataset.state === {state:?})"),
        &format!("every check {state}"),
    )
    .await
    .map(|_| ())
}

/// F0: how long (ms, from now) until the self-check shows the card's check in `state`.
pub async fn card_shown(p: &Page, state: &str, what: &str) -> Result<u128> {
    let t = Instant::now();
    p.wait_js(
        &format!("document.getElementById('check-card').dataset.state === {state:?}"),
        what,
    )
    .await?;
    Ok(t.elapsed().as_millis())
}

/// F0 on an all-green self-check: the virtual card pulled out shows within a second without
/// a reload (the bridge's event subscription, audited as `{audit}-card-removed`), put back in
/// shows within a second, and every check is green again. Returns (removal ms, insertion ms).
pub async fn card_removed_then_inserted(
    card: &VirtualCard,
    p: &Page,
    audit: &str,
) -> Result<(u128, u128)> {
    card.remove()?;
    let removed_ms = card_shown(p, "fail", "card shown removed").await?;
    anyhow::ensure!(
        removed_ms <= 1000,
        "card removal shown after {removed_ms} ms"
    );
    p.audit(&format!("{audit}-card-removed")).await?;
    card.insert()?;
    let inserted_ms = card_shown(p, "pass", "card shown inserted").await?;
    anyhow::ensure!(
        inserted_ms <= 1000,
        "card insertion shown after {inserted_ms} ms"
    );
    all_checks(p, "pass").await?;
    Ok((removed_ms, inserted_ms))
}
