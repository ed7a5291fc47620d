//! The citizen flows in Firefox ESR (issue 13): headless Firefox with the checked-in extension
//! installed as a temporary add-on and the native host registered for Firefox in the test's
//! own HOME (`nhi-bridge install --user --browser firefox`), pcscd with the virtual NHI card,
//! the real server. One browser session for all of it, the scenarios in sequence: F0 all
//! green (axe in zh-TW and English), the card removed and inserted, F1 → F2 → F3; the host
//! gone and the event page idled out, then a read; last, the host unregistered and then the
//! add-on removed, each reported missing with a remedy.
//!
//! The event page's idle timeout is cut to [`EVENT_PAGE_IDLE_MS`]: the quiet moments here are
//! longer than it, so a host connection that Firefox dropped with an idle event page would
//! show as a missed card event or a failed read. Firefox ESR or geckodriver missing is a
//! failure, not a skip (scripts/tools.sh installs both).

use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use nhi_e2e::artefacts_dir;
use nhi_e2e::firefox::{
    end_hosts, home_dir, host_pids, manifest_addon_id, uninstall_addon, unregister_bridge,
    EVENT_PAGE_IDLE_MS,
};
use nhi_e2e::flows::{
    all_checks, card_removed_then_inserted, read_card, register_confirm_login, Stack, PASSWORD,
    WANG,
};
use nhi_e2e::page::Page;
use nhi_e2e::stack::SERIAL;

const NAME: &str = "firefox";

/// F0: every check green, audited in both languages; then the card out and in again, each
/// shown within a second without a reload (the host's events through the add-on's port).
async fn self_check(s: &Stack) -> Result<serde_json::Value> {
    let p = &s.page;
    p.open("/check").await?;
    all_checks(p, "pass").await?;
    let readers = p.text("#check-readers").await?;
    ensure!(
        readers.contains("Virtual PCD"),
        "reader names listed: {readers}"
    );
    p.audit("firefox-check-all-green").await?;
    all_checks(p, "pass").await?;

    // Quiet for a few idle timeouts of the event page: the tab's port and the host's
    // connection must outlive them (nothing to wait for but time itself).
    tokio::time::sleep(Duration::from_millis(3 * EVENT_PAGE_IDLE_MS)).await;

    let (removed_ms, inserted_ms) = card_removed_then_inserted(&s.card, p, "firefox-check").await?;
    Ok(serde_json::json!({
        "card_removal_shown_ms": removed_ms,
        "card_insertion_shown_ms": inserted_ms,
    }))
}

/// The host gone (ended as if it crashed) and the event page idle: Firefox suspends the event
/// page, which closes the tab's port; the next 「讀取」 must wake it through a new port and
/// start a new host.
async fn host_gone_event_page_idle(s: &Stack, name: &str) -> Result<()> {
    let p = &s.page;
    let home = home_dir(name);
    p.open("/login").await?;
    read_card(p).await?;
    let ended = end_hosts(&home)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while host_pids(&home)?.iter().any(|pid| ended.contains(pid)) {
        ensure!(Instant::now() < deadline, "the host {ended:?} did not exit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Quiet for a few idle timeouts: with no host, nothing keeps the event page (checked by
    // hand: the tab's port closes about 1 s after the host exits). Then 「讀取」 on the same
    // page, whose content script lost its port.
    tokio::time::sleep(Duration::from_millis(3 * EVENT_PAGE_IDLE_MS)).await;
    read_card(p).await?;
    let now = host_pids(&home)?;
    ensure!(
        !now.is_empty() && now.iter().all(|pid| !ended.contains(pid)),
        "a new host for the read: ended {ended:?}, running {now:?}"
    );
    Ok(())
}

/// F0 with a layer missing, in the same session: the host unregistered by its installer, then
/// the add-on uninstalled; each is reported missing with a remedy for Firefox (never the
/// Chromium one) and the link to /download.
async fn missing_layers(s: &Stack, name: &str) -> Result<()> {
    let p = &s.page;
    unregister_bridge(&home_dir(name))?;
    // A new page: a new port and a new host lookup (Firefox reads the manifest each time).
    p.open("/check").await?;
    p.wait_js(
        "document.getElementById('check-bridge')?.dataset.state === 'fail'",
        "the bridge reported missing",
    )
    .await?;
    p.wait_css("#check-bridge a[href='/download']").await?;
    p.full_screenshot("firefox-check-no-bridge", 1280).await?;

    uninstall_addon(&p.client, &manifest_addon_id()?).await?;
    p.open("/check").await?;
    p.wait_js(
        "document.getElementById('check-extension')?.dataset.state === 'fail'",
        "the extension reported missing",
    )
    .await?;
    p.wait_css("#check-extension a[href='/download']").await?;
    not_the_chromium_remedy(p, "#check-extension").await?;
    p.wait_js(
        "document.getElementById('check-nhi')?.dataset.state === 'skipped'",
        "later layers skipped",
    )
    .await?;
    p.full_screenshot("firefox-check-no-extension", 1280).await
}

/// The remedy in `css` is worded for Firefox: it never sends the person to Chromium's pages.
async fn not_the_chromium_remedy(p: &Page, css: &str) -> Result<()> {
    let text = p.text(css).await?;
    ensure!(
        !text.contains("chrome://"),
        "{css} gives Firefox the Chromium remedy: {text}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn firefox_self_check_card_events_register_confirm_login() -> Result<()> {
    let _serial = SERIAL.lock().await;
    let started = Instant::now();
    let stack = Stack::start_firefox(NAME, WANG.id).await?;
    let startup_ms = started.elapsed().as_millis();
    stack
        .run_here(NAME, async |s: &Stack| {
            let t = Instant::now();
            let f0 = self_check(s).await?;
            let f0_ms = t.elapsed().as_millis();

            let t = Instant::now();
            register_confirm_login(s, &WANG, "wang.firefox@example.com", PASSWORD).await?;
            let f123_ms = t.elapsed().as_millis();

            // The host was the one registered in the test's HOME, started by Firefox for the
            // add-on (Firefox passes the add-on id as the host's second argument).
            let log = artefacts_dir().join(format!("bridge-{NAME}.log"));
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let id = manifest_addon_id()?;
            ensure!(
                text.contains(&id),
                "{} does not show the host started for {id}",
                log.display()
            );

            let t = Instant::now();
            host_gone_event_page_idle(s, NAME).await?;
            let host_gone_ms = t.elapsed().as_millis();

            let t = Instant::now();
            missing_layers(s, NAME).await?;
            let missing_ms = t.elapsed().as_millis();

            let report = serde_json::json!({
                "browser": "firefox-esr",
                "startup_ms": startup_ms,
                "f0_check_and_card_events_ms": f0_ms,
                "f0": f0,
                "f1_f2_f3_ms": f123_ms,
                "host_gone_event_page_idle_ms": host_gone_ms,
                "f0_missing_layers_ms": missing_ms,
                "total_ms": started.elapsed().as_millis(),
            });
            std::fs::write(
                artefacts_dir().join("firefox.json"),
                serde_json::to_vec_pretty(&report)?,
            )?;
            eprintln!("firefox: {report}");
            Ok(())
        })
        .await
}
