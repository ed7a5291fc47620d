//! F9 online services end to end: headless Chromium with the extension, pcscd with the
//! virtual card, the real server. The person registers, confirms and logs in through the real
//! flow (F1 → F2 → F3), then uses 健康存摺 (date filter, chart + table, CSV in both languages)
//! and 線上申辦業務 (card replacement with a validation error, 投保證明), an operator moves
//! both on through the bearer-token API, the person follows the timeline and downloads the
//! PDF, whose text is extracted with pdftotext. The session then expires (cookie removed):
//! the page says so, 「重新登入」 goes to login and back with the form draft kept.
//!
//! Every page state is checked with axe-core (zero violations) in zh-TW and English.

use anyhow::{bail, ensure, Context, Result};
use base64::Engine as _;
use nhi_e2e::flows::{login_here, register_confirm_login, Stack, PASSWORD, WANG};
use nhi_e2e::page::Page;
use serde_json::{json, Value};

/// A long (valid) address: /home must wrap it (issue 17).
const EMAIL: &str =
    "wang.online@a-deliberately-long-mail-domain-name-for-wrapping-checks.example.com";
/// The operator token; the server gets its SHA-256 (`NHI_OPERATORS`).
const OPERATOR_TOKEN: &str = "e2e-operator-token-7f3a9c";
/// SHA-256 of OPERATOR_TOKEN, hex.
const OPERATOR_TOKEN_SHA256: &str =
    "6ea54469092b7be92c84912240f370df349ad6a376d1052b41cf9c4bf4c90a48";

/// `fetch(url)` in the page (with its cookie); the body as text (`text()` drops a BOM).
async fn fetch_text(p: &Page, url: &str) -> Result<(u64, String)> {
    let v = p
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             fetch(arguments[0]).then(async r => done([r.status, await r.text()])) \
             .catch(e => done([0, String(e)]));",
            vec![json!(url)],
        )
        .await?;
    Ok((
        v[0].as_u64().unwrap_or(0),
        v[1].as_str().unwrap_or_default().to_string(),
    ))
}

/// `fetch(url)` in the page; the body bytes.
async fn fetch_bytes(p: &Page, url: &str) -> Result<Vec<u8>> {
    let v = p
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             fetch(arguments[0]).then(r => r.arrayBuffer()).then(b => { \
               const u = new Uint8Array(b); let s = ''; \
               for (let i = 0; i < u.length; i += 8192) s += String.fromCharCode.apply(null, u.subarray(i, i + 8192)); \
               done(btoa(s)); }).catch(e => done('ERR ' + e));",
            vec![json!(url)],
        )
        .await?;
    let b64 = v.as_str().context("fetch answered")?;
    ensure!(!b64.starts_with("ERR"), "{b64}");
    Ok(base64::engine::general_purpose::STANDARD.decode(b64)?)
}

/// POST to the operator API from outside the browser (plain HTTP/1.1).
async fn operator(origin: &str, id: i64, status: &str) -> Result<Value> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let hostport = origin.trim_start_matches("http://");
    let body = json!({ "status": status, "note": "e2e" }).to_string();
    let req = format!(
        "POST /api/v1/operator/applications/{id}/status HTTP/1.1\r\nHost: {hostport}\r\n\
         Authorization: Bearer {OPERATOR_TOKEN}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut s = tokio::net::TcpStream::connect(hostport).await?;
    s.write_all(req.as_bytes()).await?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await?;
    let text = String::from_utf8_lossy(&buf).to_string();
    ensure!(
        text.starts_with("HTTP/1.1 200"),
        "operator {status}: {text}"
    );
    let json_start = text.find("\r\n\r\n").map_or(0, |i| i + 4);
    // The body may be chunked; take the JSON object.
    let raw = &text[json_start..];
    let (a, b) = (
        raw.find('{').unwrap_or(0),
        raw.rfind('}').map_or(raw.len(), |i| i + 1),
    );
    Ok(serde_json::from_str(&raw[a..b])?)
}

fn pdftotext(pdf: &[u8]) -> Result<String> {
    let dir = nhi_e2e::artefacts_dir();
    let path = dir.join("enrolment-certificate.pdf");
    std::fs::write(&path, pdf)?;
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .context("pdftotext (Debian poppler-utils)")?;
    ensure!(out.status.success(), "pdftotext failed");
    Ok(String::from_utf8(out.stdout)?)
}

/// The ids of the applications shown, by kind.
async fn application_id(p: &Page, kind: &str) -> Result<i64> {
    let v = p
        .wait_js(
            &format!("document.querySelector('li.application[data-kind={kind}]')?.id"),
            &format!("a {kind} application in the list"),
        )
        .await?;
    let id = v.as_str().unwrap_or_default().trim_start_matches("app-");
    Ok(id.parse()?)
}

#[tokio::test(flavor = "multi_thread")]
async fn health_bank_and_applications_in_both_languages() -> Result<()> {
    // The server inherits this: the operator whose token the test uses.
    std::env::set_var("NHI_OPERATORS", format!("e2e:{OPERATOR_TOKEN_SHA256}"));
    Stack::run("online_services", WANG.id, scenario).await
}

/// The timeline of application `id` as shown: `status:done|current|todo`, comma-separated.
async fn timeline(p: &Page, id: i64, what: &str) -> Result<Value> {
    p.wait_js(
        &format!("[...document.querySelectorAll('#app-{id} .timeline-step')].map(li => li.dataset.status + ':' + li.className.split('timeline-').pop()).join(',')"),
        what,
    )
    .await
}

async fn scenario(s: &Stack) -> Result<()> {
    let (p, server) = (&s.page, &s.server);
    // F1 → F2 → F3, the real flow.
    register_confirm_login(s, &WANG, EMAIL, PASSWORD).await?;
    p.fits_360px("/home with a long address").await?;

    // ── 健康存摺 ─────────────────────────────────────────────────────────────────────────
    p.click("#home-health-bank a").await?;
    p.wait_css("#hb-results").await?;
    ensure!(p.lang().await?.starts_with("zh"), "zh-TW first");
    let shown: usize = p
        .wait_js(
            "document.querySelectorAll('#hb-visits tr.visit').length",
            "visit rows",
        )
        .await?
        .as_u64()
        .unwrap_or(0) as usize;
    let months = p
        .wait_js(
            "document.querySelectorAll('#hb-months tbody tr').length",
            "month rows",
        )
        .await?
        .as_u64()
        .unwrap_or(0);
    ensure!(months >= 12, "a year of months in the table: {months}");
    p.wait_js(
        "document.querySelector('#hb-chart svg[role=img] title')?.textContent.includes('每月就醫次數')",
        "the chart's zh-TW title",
    )
    .await?;
    p.audit("health-bank").await?;
    // The same page in English: the chart's title and the table headers follow.
    p.switch_lang().await?;
    p.wait_js(
        "document.querySelector('#hb-chart svg title')?.textContent.includes('per month') && (document.querySelector('#hb-visits th')?.textContent ?? 'Date') === 'Date'",
        "the chart and the table in English",
    )
    .await?;
    p.switch_lang().await?;

    // The date filter: the newest visit's day only.
    if shown > 0 {
        let day = p.text("#hb-visits tr.visit th").await?;
        p.client
            .execute(
                "for (const [id, v] of [['hb-from', arguments[0]], ['hb-to', arguments[0]]]) { \
                   const el = document.getElementById(id); el.value = v; \
                   el.dispatchEvent(new Event('input', {bubbles: true})); }",
                vec![json!(day)],
            )
            .await?;
        p.click("#hb-search").await?;
        p.wait_js(
            &format!("location.search.includes('from={day}') && [...document.querySelectorAll('#hb-visits tr.visit th')].every(th => th.textContent === {day:?})"),
            "only that day's visits",
        )
        .await?;
        p.audit("health-bank-filtered").await?;
    }

    // Issue 17: a range over 10 years names the limit and marks both date fields.
    let range = p.value("#hb-from").await?;
    let range_to = p.value("#hb-to").await?;
    p.client
        .execute(
            "for (const [id, v] of [['hb-from', '2000-01-01'], ['hb-to', '2099-12-31']]) { \
               const el = document.getElementById(id); el.value = v; \
               el.dispatchEvent(new Event('input', {bubbles: true})); }",
            vec![],
        )
        .await?;
    p.click("#hb-search").await?;
    p.wait_text("#hb-range-error [role=alert]", "10 年").await?;
    p.wait_js(
        "['hb-from', 'hb-to'].every(id => document.getElementById(id).getAttribute('aria-invalid') === 'true' && document.getElementById(id).getAttribute('aria-describedby') === 'hb-range-error' && document.getElementById(id).closest('.field').classList.contains('field-invalid'))",
        "both date fields marked",
    )
    .await?;
    p.audit("health-bank-range-too-long").await?;
    p.client
        .execute(
            "for (const [id, v] of [['hb-from', arguments[0]], ['hb-to', arguments[1]]]) { \
               const el = document.getElementById(id); el.value = v; \
               el.dispatchEvent(new Event('input', {bubbles: true})); }",
            vec![json!(range), json!(range_to)],
        )
        .await?;
    p.click("#hb-search").await?;
    p.wait_js(
        "!document.querySelector('#hb-range-error [role=alert].message-error') && !document.querySelector('[aria-invalid=true]')",
        "the marks gone with a valid range",
    )
    .await?;

    // CSV in both languages (the link follows the language).
    let href = p
        .wait_js(
            "document.getElementById('export-csv')?.href",
            "the CSV link",
        )
        .await?;
    let (status, csv) = fetch_text(p, href.as_str().unwrap_or_default()).await?;
    ensure!(
        status == 200
            && csv
                .trim_start_matches('\u{feff}')
                .starts_with("就醫日期,醫事機構"),
        "zh-TW CSV: {status} {csv:.80}"
    );
    p.switch_lang().await?;
    let href = p
        .wait_js("document.getElementById('export-csv').href.includes('lang=en') && document.getElementById('export-csv').href", "the English CSV link")
        .await?;
    let (_, csv) = fetch_text(p, href.as_str().unwrap_or_default()).await?;
    ensure!(
        csv.trim_start_matches('\u{feff}')
            .starts_with("Date,Institution"),
        "English CSV: {csv:.80}"
    );
    p.switch_lang().await?;

    // ── 線上申辦業務 ─────────────────────────────────────────────────────────────────────
    p.open("/applications").await?;
    p.wait_css("#apps-none").await?;
    p.audit("applications-empty").await?;
    // A wrong postal code is refused with the field marked, everything kept.
    p.click("#reason-lost").await?;
    p.fill("#postal-code", "12").await?;
    p.fill("#mailing-address", "臺北市大安區信義路三段140號")
        .await?;
    p.click("#replace-submit").await?;
    p.wait_js(
        "document.getElementById('postal-code').getAttribute('aria-invalid') === 'true'",
        "the postal code marked",
    )
    .await?;
    p.audit("applications-form-error").await?;
    ensure!(
        p.value("#mailing-address").await?.contains("信義路"),
        "address kept"
    );
    p.fill("#postal-code", "106").await?;
    p.click("#replace-submit").await?;
    let card_app = application_id(p, "card_replacement").await?;
    p.wait_css("[role=status].message-ok").await?;
    p.click("#cert-apply").await?;
    let cert_app = application_id(p, "enrolment_certificate").await?;
    p.audit("applications-submitted").await?;

    // The operator moves both on; the person refreshes and follows.
    operator(&server.origin, card_app, "in_review").await?;
    operator(&server.origin, card_app, "card_production").await?;
    let issued = operator(&server.origin, cert_app, "issued").await?;
    ensure!(issued["certificate_available"] == json!(true), "{issued}");
    p.click("#apps-refresh").await?;
    p.wait_js(
        &format!("document.getElementById('app-{card_app}')?.dataset.status === 'card_production'"),
        "the card application in production",
    )
    .await?;
    let steps = timeline(p, card_app, "the timeline").await?;
    ensure!(
        steps == json!("submitted:done,in_review:done,card_production:current,mailed:todo"),
        "timeline: {steps}"
    );
    let cert_steps = timeline(p, cert_app, "the certificate timeline").await?;
    ensure!(
        cert_steps == json!("submitted:done,issued:current"),
        "certificate timeline: {cert_steps}"
    );
    let pdf_href = p
        .wait_js(
            &format!("document.getElementById('certificate-{cert_app}')?.href"),
            "the PDF link",
        )
        .await?;
    p.audit("applications-timeline").await?;
    let pdf = fetch_bytes(p, pdf_href.as_str().unwrap_or_default()).await?;
    ensure!(pdf.starts_with(b"%PDF-"), "a PDF");
    let text = pdftotext(&pdf)?;
    for needle in [
        "全民健康保險投保證明",
        "王小明",
        "投保單位名稱",
        "衛生福利部中央健康保險署",
    ] {
        ensure!(
            text.contains(needle),
            "{needle:?} not in the PDF text:\n{text}"
        );
    }

    // One card replacement at a time (issue 17): the form says so while this one is in
    // production; once it is mailed, the next may be asked for.
    p.wait_js(
        "document.getElementById('replace-pending')?.hidden === false",
        "the pending replacement told above the form",
    )
    .await?;
    operator(&server.origin, card_app, "mailed").await?;
    p.click("#apps-refresh").await?;
    p.wait_js(
        "document.getElementById('replace-pending').hidden",
        "the form free again once the card is mailed",
    )
    .await?;

    // ── Session expiry ───────────────────────────────────────────────────────────────────
    p.click("#reason-damaged").await?;
    p.fill("#postal-code", "40701").await?;
    p.fill("#mailing-address", "臺中市西屯區福安里12鄰測試路1號")
        .await?;
    p.client.delete_cookie("nhi_session").await?;
    p.click("#replace-submit").await?;
    p.wait_css("#session-expired").await?;
    p.audit("applications-session-expired").await?;
    p.click("#relogin").await?;
    p.wait_js("location.pathname === '/login'", "the login page")
        .await?;
    login_here(p, PASSWORD).await?;
    p.wait_js(
        "location.pathname === '/applications'",
        "back on the applications page",
    )
    .await?;
    p.wait_js(
        "document.getElementById('postal-code')?.value === '40701' && document.getElementById('reason-damaged')?.checked",
        "the draft restored",
    )
    .await?;
    p.click("#replace-submit").await?;
    p.wait_js(
        "document.querySelectorAll('li.application[data-kind=card_replacement]').length === 2",
        "the second card application",
    )
    .await?;

    // The health bank after expiry: the message, and back to the same range after login.
    p.open("/health-bank?from=2020-01-01").await?;
    p.wait_css("#hb-results").await?;
    p.client.delete_cookie("nhi_session").await?;
    // The CSV link checks the session first: no error saved as a file, the notice instead.
    p.click("#export-csv").await?;
    p.wait_css("#session-expired").await?;
    p.audit("health-bank-session-expired").await?;
    p.click("#relogin").await?;
    login_here(p, PASSWORD).await?;
    p.wait_js(
        "location.pathname === '/health-bank' && location.search.includes('from=2020-01-01')",
        "back on the health bank with the range",
    )
    .await?;
    p.wait_css("#hb-results").await?;
    if p.lang().await?.starts_with("en") {
        bail!("the language switched unexpectedly");
    }
    Ok(())
}
