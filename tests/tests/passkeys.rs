//! Passkeys rooted in the card (issue 16) end to end: headless Chromium with the extension and
//! WebDriver's virtual authenticator (a platform authenticator that verifies the user), pcscd
//! with the virtual card, the real server on `http://localhost:<port>` (a WebAuthn relying
//! party id is a domain, never an IP address).
//!
//! 王小明 registers, confirms and logs in with the card (F1 → F2 → F3), adds a passkey on
//! `/passkeys` with the card step-up (card + registration password), renames it, logs
//! out; the card is pulled out of the reader; he logs in with the passkey from the F3 login
//! page's 「使用通行金鑰登入」 (nothing typed, no card) and reaches 健康存摺; logs in with it on
//! the unit login too and reaches the unit pages; removes the passkey and sees the next
//! passkey login refused. axe on the passkeys page (empty and with a passkey), the adding
//! form and the refused login, in zh-TW, English and 360 px.
//!
//! `passkey_login_latency` (ignored: `cargo test -p nhi-e2e --test passkeys -- --ignored`)
//! times ≥ 10 passkey logins, click → home, and prints the median and p95.

use std::time::Instant;

use anyhow::{ensure, Result};
use nhi_e2e::flows::{read_card, register_confirm_login, Stack, PASSWORD, WANG};
use nhi_e2e::page::Page;
use nhi_e2e::webauthn::VirtualAuthenticator;
use serde_json::json;

const EMAIL: &str = "wang.passkey@example.com";

/// `fetch` from the page with the app's CSRF header: the status and the body.
async fn call(p: &Page, method: &str, path: &str) -> Result<(u64, String)> {
    let v = p
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             fetch(arguments[1], {method: arguments[0], headers: {'x-nhi-request': '1', 'content-type': 'application/json'}, \
               body: arguments[0] === 'GET' ? undefined : '{}'}) \
             .then(async r => done([r.status, await r.text()])).catch(e => done([0, String(e)]));",
            vec![json!(method), json!(path)],
        )
        .await?;
    Ok((
        v[0].as_u64().unwrap_or(0),
        v[1].as_str().unwrap_or_default().to_string(),
    ))
}

/// Waits for the mail to `to` whose text contains `needle`.
async fn mail_with_text(s: &Stack, to: &str, needle: &str) -> Result<nhi_e2e::mail::Mail> {
    let deadline = Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(m) = nhi_e2e::mail::read_dir(&s.server.mail_dir)?
            .into_iter()
            .find(|m| m.to.contains(to) && m.text.contains(needle))
        {
            return Ok(m);
        }
        ensure!(
            Instant::now() < deadline,
            "no mail {needle:?} to {to} within 20 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The nav's 登出, up to the login page.
async fn logout(p: &Page) -> Result<()> {
    p.click("#nav-logout").await?;
    p.wait_css("#read-card").await?;
    p.wait_js(
        "location.pathname === '/login'",
        "the login page after logout",
    )
    .await?;
    Ok(())
}

/// On `/passkeys`: 「新增通行金鑰」, the card read, the password, `name`; waits for
/// the list to show the passkey.
async fn add_passkey(p: &Page, name: &str) -> Result<()> {
    p.click("#passkey-add-open").await?;
    p.wait_css("#passkey-add-form").await?;
    read_card(p).await?;
    p.fill("#password", PASSWORD).await?;
    p.fill("#passkey-name", name).await?;
    p.click("#passkey-add-submit").await?;
    p.wait_css("#passkeys-list .passkey").await?;
    p.wait_text("#passkeys-list", name).await?;
    Ok(())
}

/// From the open F3 login page: 「使用通行金鑰登入」 up to the home page's data; the time it
/// took.
async fn passkey_login_from_login_page(p: &Page) -> Result<u128> {
    p.wait_css("#passkey-login").await?;
    let t = Instant::now();
    p.click("#passkey-login").await?;
    p.wait_css("#me").await?;
    Ok(t.elapsed().as_millis())
}

#[tokio::test(flavor = "multi_thread")]
async fn enrol_with_the_card_then_log_in_without_it() -> Result<()> {
    Stack::run_at("passkeys", WANG.id, "localhost", scenario).await
}

async fn scenario(s: &Stack) -> Result<()> {
    let (p, card) = (&s.page, &s.card);
    register_confirm_login(s, &WANG, EMAIL, PASSWORD).await?;
    let authenticator = VirtualAuthenticator::add(&p.client).await?;

    // ── /passkeys, reached from the home page ───────────────────────────────────
    p.click("#home-passkeys a").await?;
    p.wait_css("#passkeys-none").await?;
    p.audit("passkeys-empty").await?;
    p.click("#passkey-add-open").await?;
    p.wait_css("#passkey-add-form").await?;
    p.audit("passkeys-add-form").await?;
    p.click("#passkey-add-cancel").await?;

    // No ceremony without a step-up in this session.
    let (status, body) = call(p, "POST", "/api/v1/passkeys/registration").await?;
    ensure!(
        status == 403 && body.contains("step_up_required"),
        "registration without a step-up: {status} {body}"
    );

    // Adding needs the card + the password: a wrong password is refused, nothing is made.
    p.click("#passkey-add-open").await?;
    read_card(p).await?;
    p.fill("#password", "not-the-password-1").await?;
    p.click("#passkey-add-submit").await?;
    p.wait_css("#add-error .message-error").await?;
    ensure!(
        authenticator.credentials(&p.client).await?.is_empty(),
        "a passkey was made without a valid step-up"
    );
    p.click("#passkey-add-cancel").await?;

    add_passkey(p, "E2E laptop").await?;
    let creds = authenticator.credentials(&p.client).await?;
    ensure!(creds.len() == 1, "the authenticator holds {creds:?}");
    ensure!(
        creds[0]["isResidentCredential"] == json!(true),
        "not a discoverable credential: {creds:?}"
    );
    let mail = mail_with_text(s, EMAIL, "A passkey named").await?;
    ensure!(
        mail.text.contains("E2E laptop") && mail.text.contains("/passkeys"),
        "the added-passkey mail names it and how to remove it: {}",
        mail.text
    );
    let item = p.text("#passkeys-list .passkey").await?;
    ensure!(
        item.contains("****"),
        "the enrolling card is shown masked: {item}"
    );
    p.audit("passkeys-list").await?;
    p.fits_360px("the passkeys page").await?;

    // Rename.
    p.click(".passkey-rename").await?;
    p.fill(".passkey-rename input", "Office laptop").await?;
    p.click(".passkey-rename-save").await?;
    p.wait_text(".passkey-name", "Office laptop").await?;

    // ── Log out, pull the card out, log in with the passkey, reach the health bank ──────
    logout(p).await?;
    card.remove()?;
    let ms = passkey_login_from_login_page(p).await?;
    eprintln!("passkey login, click → home: {ms} ms");
    p.click("#home-health-bank a").await?;
    p.wait_css("#hb-range").await?;
    p.wait_js("location.pathname === '/health-bank'", "the health bank")
        .await?;
    p.wait_css("#hb-results").await?;

    // The unit login: the same account and permissions, back to the unit pages.
    p.open("/home").await?;
    logout(p).await?;
    p.open("/units/login").await?;
    p.click("#passkey-login").await?;
    p.wait_css("#unit-list").await?;
    p.wait_text("#unit-list", "12345678").await?;

    // Last used is now shown.
    p.open("/passkeys").await?;
    p.wait_css("#passkeys-list .passkey").await?;
    let item = p.text("#passkeys-list .passkey").await?;
    ensure!(
        item.contains("Office laptop") && !item.contains("尚未使用"),
        "the renamed passkey with its last use: {item}"
    );

    // ── Remove it: the next passkey login is refused ────────────────────────────────────
    p.click(".passkey-remove").await?;
    p.click(".passkey-remove-confirm").await?;
    p.wait_css("#passkeys-none").await?;
    p.open("/home").await?;
    logout(p).await?;
    p.click("#passkey-login").await?;
    p.wait_js(
        "location.pathname === '/passkey-login'",
        "the passkey login page",
    )
    .await?;
    p.wait_css("#passkey-error .message-error").await?;
    ensure!(
        p.text("#passkey-error")
            .await?
            .contains("本網站不認得這把通行金鑰"),
        "the removed passkey's login says why: {}",
        p.text("#passkey-error").await?
    );
    let (me, _) = call(p, "GET", "/api/v1/me").await?;
    ensure!(me == 401, "no session after a refused passkey: /me {me}");
    p.audit("passkey-login-refused").await?;
    authenticator.remove(&p.client).await?;
    card.insert()?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "timing: run with --ignored"]
async fn passkey_login_latency() -> Result<()> {
    Stack::run_at("passkeys_latency", WANG.id, "localhost", async |s: &Stack| {
        let p = &s.page;
        register_confirm_login(s, &WANG, EMAIL, PASSWORD).await?;
        let _authenticator = VirtualAuthenticator::add(&p.client).await?;
        p.open("/passkeys").await?;
        add_passkey(p, "latency").await?;
        let mut times = Vec::new();
        for _ in 0..12 {
            p.open("/home").await?;
            logout(p).await?;
            times.push(passkey_login_from_login_page(p).await?);
        }
        times.sort_unstable();
        let median = times[times.len() / 2];
        let p95 = times[((times.len() as f64) * 0.95).ceil() as usize - 1];
        eprintln!(
            "passkey login click → home over {} logins: median {median} ms, p95 {p95} ms, all {times:?}",
            times.len()
        );
        std::fs::write(
            nhi_e2e::artefacts_dir().join("passkey-latency.json"),
            serde_json::to_vec_pretty(&json!({
                "logins": times.len(), "median_ms": median, "p95_ms": p95, "ms": times,
            }))?,
        )?;
        Ok(())
    })
    .await
}
