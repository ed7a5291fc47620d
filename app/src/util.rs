//! Small browser helpers: timers, performance marks, the query string and the fragment.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// Runs `f` once after `ms` milliseconds.
pub fn set_timeout(ms: u32, f: impl FnOnce() + 'static) {
    let Some(w) = web_sys::window() else {
        return;
    };
    let cb = Closure::once_into_js(f);
    let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(
        cb.unchecked_ref(),
        i32::try_from(ms).unwrap_or(i32::MAX),
    );
}

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: u32) {
    let (tx, rx) = futures_channel::oneshot::channel::<()>();
    set_timeout(ms, move || {
        let _ = tx.send(());
    });
    let _ = rx.await;
}

/// `performance.mark(name)`; the e2e suite reads the marks and measures.
pub fn mark(name: &str) {
    if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
        let _ = p.mark(name);
    }
}

/// `performance.measure(name, start)` once the next frame, which shows the change, has been
/// painted: a task queued from `requestAnimationFrame` runs after that frame's paint.
pub fn measure_after_paint(name: &'static str, start: &'static str) {
    let Some(w) = web_sys::window() else {
        return;
    };
    let cb = Closure::once_into_js(move || {
        set_timeout(0, move || {
            if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
                let _ = p.measure_with_start_mark(name, start);
            }
        });
    });
    let _ = w.request_animation_frame(cb.unchecked_ref());
}

/// A query parameter of the current URL.
pub fn query_param(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get(name)
}

/// Takes the parameter `name` out of the URL *fragment* (`#name=value&…`, percent-decoded).
/// Mailed links carry their one-time ticket there (`nhi_protocol::api::ticket_link`): a
/// fragment never reaches a server log or a Referer. Once read, the fragment is removed from
/// the address bar and from this history entry (`history.replaceState`), so the ticket does
/// not stay in the history either. A fragment without `name` (e.g. the skip link's `#main`) is
/// left alone.
pub fn take_fragment_param(name: &str) -> Option<String> {
    let window = web_sys::window()?;
    let location = window.location();
    let hash = location.hash().ok()?;
    let fragment = hash.strip_prefix('#').unwrap_or(&hash);
    if fragment.is_empty() {
        return None;
    }
    let value = web_sys::UrlSearchParams::new_with_str(fragment)
        .ok()?
        .get(name)?;
    let without = format!(
        "{}{}",
        location.pathname().unwrap_or_else(|_| "/".into()),
        location.search().unwrap_or_default()
    );
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&without));
    }
    Some(value)
}

/// A mailed link's one-time ticket (`#ticket=…`, F2 and F7), taken out of the address bar.
pub fn ticket_in_fragment() -> Option<String> {
    take_fragment_param(nhi_protocol::api::CONFIRM_TICKET_PARAM).filter(|t| !t.trim().is_empty())
}

/// Moves keyboard focus to the element with `id` (after a page or step change, so screen
/// readers and keyboard users start at the new heading).
pub fn focus_id(id: &'static str) {
    set_timeout(0, move || {
        if let Some(el) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(id))
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = el.focus();
        }
    });
}

/// The user's OS and browser, for the self-check's remedies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Windows,
    Mac,
    Linux,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Browser {
    Chrome,
    Edge,
    Firefox,
    Other,
}

pub fn platform() -> (Os, Browser) {
    let ua = web_sys::window()
        .and_then(|w| w.navigator().user_agent().ok())
        .unwrap_or_default();
    let os = if ua.contains("Windows") {
        Os::Windows
    } else if ua.contains("Mac OS") {
        Os::Mac
    } else if ua.contains("Linux") || ua.contains("X11") {
        Os::Linux
    } else {
        Os::Other
    };
    let browser = if ua.contains("Edg/") {
        Browser::Edge
    } else if ua.contains("Firefox/") {
        Browser::Firefox
    } else if ua.contains("Chrome/") || ua.contains("Chromium/") {
        Browser::Chrome
    } else {
        Browser::Other
    };
    (os, browser)
}

/// The last checks of a card form's submit (F3, F8), then the submission: the card must have
/// been read (else 「請先讀取健保卡」), the fields valid (`fields_ok`, their own messages
/// already set; else 「請修正標示的欄位」).
pub fn submit_card_form(
    card: leptos::prelude::RwSignal<Option<nhi_protocol::CardBasicData>>,
    error: leptos::prelude::RwSignal<Option<crate::i18n::Msg>>,
    fields_ok: bool,
    busy: leptos::prelude::RwSignal<bool>,
    task: impl std::future::Future<Output = ()> + 'static,
) {
    use crate::i18n::{Msg, T};
    use leptos::prelude::{Set, WithUntracked};
    if card.with_untracked(Option::is_none) {
        error.set(Some(Msg::Key(T::CardNeeded)));
    } else if !fields_ok {
        error.set(Some(Msg::Key(T::FixErrors)));
    } else {
        error.set(None);
        submit(busy, task);
    }
}

/// Runs a submission (the card-proof sequence of F1–F3 and F8): `busy` while it runs (the
/// button says 「傳送中」 and a second click is ignored), the outcome applied by `task` itself.
/// The citizen area's stand-in for Leptos' `Action` (the unit and online areas use
/// `Action::new_local`): the first page's size budget has no room for the action machinery
/// (+10 KB gzip measured, app README).
pub fn submit(
    busy: leptos::prelude::RwSignal<bool>,
    task: impl std::future::Future<Output = ()> + 'static,
) {
    use leptos::prelude::Set;
    busy.set(true);
    leptos::task::spawn_local(async move {
        task.await;
        busy.set(false);
    });
}
