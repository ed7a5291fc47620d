//! F0: the live environment self-check. Each layer passes or fails with the remedy for the
//! user's OS and browser; card and reader events from the bridge update it without reloading.

use leptos::prelude::*;
use nhi_protocol::bridge::{CardKind, CardPresence, ErrorCode, ServiceState, Status};

use crate::components::PageTitle;
use crate::i18n::{readers_text, remedy, use_i18n, version_text, I18n, T};
use crate::route::Link;
use crate::util::{platform, Browser, Os};

#[derive(Debug, Clone, PartialEq)]
enum Detail {
    Key(T),
    Version(T, String),
    Readers(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
enum Check {
    Pending,
    Pass(Detail),
    Fail(ErrorCode),
    /// A reason in words rather than a bridge code (card held by another program, mute).
    FailKey(T),
    Skipped,
}

impl Check {
    fn state(&self) -> &'static str {
        match self {
            Check::Pending => "pending",
            Check::Pass(_) => "pass",
            Check::Fail(_) | Check::FailKey(_) => "fail",
            Check::Skipped => "skipped",
        }
    }
}

/// The seven layers, top to bottom.
#[derive(Clone, Copy)]
struct Layers {
    browser: RwSignal<Check>,
    extension: RwSignal<Check>,
    bridge: RwSignal<Check>,
    pcsc: RwSignal<Check>,
    readers: RwSignal<Check>,
    card: RwSignal<Check>,
    nhi: RwSignal<Check>,
    /// Bumped on every refresh; a slower, older refresh does not overwrite a newer one.
    generation: RwSignal<u32>,
}

impl Layers {
    fn new() -> Self {
        let s = || RwSignal::new(Check::Pending);
        Self {
            browser: s(),
            extension: s(),
            bridge: s(),
            pcsc: s(),
            readers: s(),
            card: s(),
            nhi: s(),
            generation: RwSignal::new(0),
        }
    }

    fn all(&self) -> [RwSignal<Check>; 7] {
        [
            self.browser,
            self.extension,
            self.bridge,
            self.pcsc,
            self.readers,
            self.card,
            self.nhi,
        ]
    }

    /// Marks every layer after `from` as skipped.
    fn skip_from(&self, from: usize) {
        for s in self.all().iter().skip(from) {
            s.set(Check::Skipped);
        }
    }
}

fn browser_ok() -> bool {
    // We are running as WebAssembly, so the engine is there; the bridge needs postMessage,
    // the API needs fetch, the session needs cookies.
    web_sys::window().is_some_and(|w| {
        let w: &wasm_bindgen::JsValue = w.as_ref();
        ["fetch", "postMessage", "Worker", "localStorage"]
            .iter()
            .all(|k| js_sys::Reflect::has(w, &(*k).into()).unwrap_or(false))
    })
}

async fn run_handshake(l: Layers) -> bool {
    l.browser.set(if browser_ok() {
        Check::Pass(Detail::Key(T::BrowserOk))
    } else {
        Check::FailKey(T::BrowserFail)
    });
    match crate::bridge::hello().await {
        Ok((ext, bridge)) => {
            l.extension
                .set(Check::Pass(Detail::Version(T::CheckExtension, ext)));
            l.bridge
                .set(Check::Pass(Detail::Version(T::CheckBridge, bridge)));
            true
        }
        Err(e)
            if matches!(
                e.code,
                ErrorCode::ExtensionMissing | ErrorCode::ExtensionVersion
            ) =>
        {
            l.extension.set(Check::Fail(e.code));
            l.skip_from(2);
            false
        }
        Err(e) => {
            l.extension.set(Check::Pass(Detail::Key(T::StatePass)));
            l.bridge.set(Check::Fail(e.code));
            l.skip_from(3);
            false
        }
    }
}

/// Applies a PC/SC status; reads the card when one is present.
async fn apply_status(l: Layers, status: Status, generation: u32) {
    if status.service == ServiceState::NotRunning {
        l.pcsc.set(Check::Fail(ErrorCode::PcscNotRunning));
        l.skip_from(4);
        return;
    }
    l.pcsc.set(Check::Pass(Detail::Key(T::PcscOk)));
    if status.readers.is_empty() {
        l.readers.set(Check::Fail(ErrorCode::NoReader));
        l.skip_from(5);
        return;
    }
    let names = status.readers.iter().map(|r| r.name.clone()).collect();
    l.readers.set(Check::Pass(Detail::Readers(names)));
    let best = status
        .readers
        .iter()
        .min_by_key(|r| match r.card {
            CardPresence::Present => 0,
            CardPresence::InUse => 1,
            CardPresence::Mute => 2,
            CardPresence::Empty => 3,
        })
        .map(|r| (r.card, r.kind))
        .unwrap_or((CardPresence::Empty, None));
    match best.0 {
        // A citizen certificate card (自然人憑證): recognised, but not the NHI card.
        CardPresence::Present if best.1 == Some(CardKind::Certificate) => {
            l.card.set(Check::Pass(Detail::Key(T::CardCertificate)));
            l.nhi.set(Check::Fail(ErrorCode::NotNhiCard));
            return;
        }
        CardPresence::Present => l.card.set(Check::Pass(Detail::Key(T::CardPresent))),
        CardPresence::InUse => {
            l.card.set(Check::FailKey(T::CardInUse));
            l.skip_from(6);
            return;
        }
        CardPresence::Mute => {
            l.card.set(Check::FailKey(T::CardMute));
            l.skip_from(6);
            return;
        }
        CardPresence::Empty => {
            l.card.set(Check::Fail(ErrorCode::NoCard));
            l.skip_from(6);
            return;
        }
    }
    l.nhi.set(Check::Pending);
    let read = crate::bridge::read_basic_data().await;
    if l.generation.get_untracked() != generation {
        return;
    }
    l.nhi.set(match read {
        Ok(_) => Check::Pass(Detail::Key(T::NhiOk)),
        Err(e) => Check::Fail(e.code),
    });
}

async fn refresh(l: Layers) {
    let generation = l.generation.get_untracked().wrapping_add(1);
    l.generation.set(generation);
    match crate::bridge::status().await {
        Ok(status) if l.generation.get_untracked() == generation => {
            apply_status(l, status, generation).await
        }
        Ok(_) => {}
        Err(e) => {
            l.pcsc.set(Check::Fail(e.code));
            l.skip_from(4);
        }
    }
}

async fn start(l: Layers, sub: StoredValue<Option<crate::bridge::Subscription>>) {
    for s in l.all() {
        s.set(Check::Pending);
    }
    if !run_handshake(l).await {
        return;
    }
    // An event subscription, not a load or a submit: each card/reader event starts a
    // re-check of the layers (signals the page owns) as a task.
    let on_event = move |event: Option<&nhi_protocol::bridge::Event>| match event {
        Some(_) => leptos::task::spawn_local(refresh(l)),
        // The bridge went away: check every layer again (and subscribe anew).
        None => leptos::task::spawn_local(start(l, sub)),
    };
    match crate::bridge::subscribe(on_event).await {
        Ok((s, status)) => {
            if let Some(old) = sub.get_value() {
                old.cancel();
            }
            sub.set_value(Some(s));
            let generation = l.generation.get_untracked().wrapping_add(1);
            l.generation.set(generation);
            apply_status(l, status, generation).await;
        }
        Err(e) => {
            l.pcsc.set(Check::Fail(e.code));
            l.skip_from(4);
        }
    }
}

#[component]
pub fn SelfCheck() -> impl IntoView {
    let i = use_i18n();
    let layers = Layers::new();
    let sub = StoredValue::new(None::<crate::bridge::Subscription>);
    leptos::task::spawn_local(start(layers, sub));
    on_cleanup(move || {
        if let Some(s) = sub.try_get_value().flatten() {
            s.cancel();
        }
    });
    let (os, browser) = platform();
    let rows = [
        ("browser", T::CheckBrowser, layers.browser),
        ("extension", T::CheckExtension, layers.extension),
        ("bridge", T::CheckBridge, layers.bridge),
        ("pcsc", T::CheckPcsc, layers.pcsc),
        ("readers", T::CheckReaders, layers.readers),
        ("card", T::CheckCard, layers.card),
        ("nhi", T::CheckNhi, layers.nhi),
    ];
    let summary = move || {
        let all = layers.all().map(|s| s.get());
        if all.iter().all(|c| matches!(c, Check::Pass(_))) {
            Some(i.t(T::CheckAllGood))
        } else {
            None
        }
    };
    let all_pass = move || {
        layers
            .all()
            .iter()
            .all(|s| matches!(s.get(), Check::Pass(_)))
    };
    view! {
        <PageTitle key=T::CheckTitle />
        <p class="lead">{move || i.t(T::CheckIntro)}</p>
        <div role="status" id="check-summary" class="message-ok" class:message=all_pass class:message-empty=move || !all_pass()>
            {summary}
        </div>
        <ol class="checks" aria-label=move || i.t(T::CheckLive)>
            {rows
                .into_iter()
                .map(|(name, title, sig)| view! { <CheckRow name title check=sig os browser /> })
                .collect_view()}
        </ol>
        <ul class="downloads">
            <li><Link href="/download">{move || i.t(T::GetExtension)}</Link></li>
            <li><Link href="/download">{move || i.t(T::GetBridge)}</Link></li>
        </ul>
        <div class="actions">
            <button
                type="button"
                id="check-again"
                class="button button-secondary"
                on:click=move |_| leptos::task::spawn_local(start(layers, sub))
            >
                {move || i.t(T::CheckAgain)}
            </button>
        </div>
    }
}

fn detail_text(i: I18n, d: &Detail) -> String {
    match d {
        Detail::Key(k) => i.t(*k),
        Detail::Version(what, v) => version_text(i, *what, v),
        Detail::Readers(names) => readers_text(i, names),
    }
}

#[component]
fn CheckRow(
    name: &'static str,
    title: T,
    check: RwSignal<Check>,
    os: Os,
    browser: Browser,
) -> impl IntoView {
    let i = use_i18n();
    let state = move || check.with(Check::state);
    let word = move || {
        i.t(match check.get() {
            Check::Pending => T::StatePending,
            Check::Pass(_) => T::StatePass,
            Check::Fail(_) | Check::FailKey(_) => T::StateFail,
            Check::Skipped => T::StateSkipped,
        })
    };
    let icon = move || match check.with(Check::state) {
        "pass" => "✓",
        "fail" => "✕",
        "skipped" => "–",
        _ => "…",
    };
    let body = move || match check.get() {
        Check::Pending => String::new(),
        Check::Pass(d) => detail_text(i, &d),
        Check::Fail(code) => remedy(i, code, os, browser),
        Check::FailKey(k) => i.t(k),
        Check::Skipped => i.t(T::SkippedBody),
    };
    let link = move || {
        match check.get() {
        Check::Fail(ErrorCode::ExtensionMissing | ErrorCode::ExtensionVersion) => Some(
            view! { <p><Link href="/download" class="button-link">{move || i.t(T::GetExtension)}</Link></p> }
                .into_any(),
        ),
        Check::Fail(ErrorCode::BridgeMissing | ErrorCode::BridgeVersion) => Some(
            view! { <p><Link href="/download" class="button-link">{move || i.t(T::GetBridge)}</Link></p> }
                .into_any(),
        ),
        _ => None,
    }
    };
    let heading_id = format!("check-{name}-title");
    view! {
        <li id=format!("check-{name}") class=move || format!("check check-{}", state()) data-state=state aria-labelledby=heading_id.clone()>
            <span class="check-icon" aria-hidden="true">{icon}</span>
            <div class="check-body">
                <h2 class="check-title" id=heading_id.clone()>
                    {move || i.t(title)}
                    <span class="check-state">{word}</span>
                </h2>
                <p class="check-detail">{body}</p>
                {link}
            </div>
        </li>
    }
}
