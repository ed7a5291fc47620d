//! What the online-service pages (F9) share: graceful session expiry, number and time
//! formatting.
//!
//! Session expiry: a 401 from a service shows a clear message (role=alert) with a
//! 「重新登入」 button instead of throwing the person out mid-sentence; the page's address
//! (with its query, e.g. the health bank's date range) is kept in sessionStorage and the
//! login page returns there after a successful login ([`take_return_path`]). Forms keep
//! their drafts the same way.

use leptos::prelude::*;
use nhi_protocol::api::ErrorCode;

use crate::api::Failure;
use crate::i18n::{use_i18n, T};
use crate::route::navigate;

const RETURN_KEY: &str = "nhi.return_to";

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.session_storage().ok().flatten())
}

/// Reads a value kept for this tab.
pub fn stash_get(key: &str) -> Option<String> {
    session_storage().and_then(|s| s.get_item(key).ok().flatten())
}

/// Keeps a value for this tab (sessionStorage: gone when the tab closes).
pub fn stash_set(key: &str, value: &str) {
    if let Some(s) = session_storage() {
        let _ = s.set_item(key, value);
    }
}

pub fn stash_remove(key: &str) {
    if let Some(s) = session_storage() {
        let _ = s.remove_item(key);
    }
}

/// The current path with its query.
pub fn here() -> String {
    web_sys::window()
        .and_then(|w| {
            let l = w.location();
            Some(format!("{}{}", l.pathname().ok()?, l.search().ok()?))
        })
        .unwrap_or_else(|| "/home".into())
}

/// Where the login page goes after success: the page whose session expired, once, else the
/// home page. Only same-site paths are accepted.
pub fn take_return_path() -> String {
    let to = stash_get(RETURN_KEY);
    stash_remove(RETURN_KEY);
    to.filter(|p| p.starts_with('/') && !p.starts_with("//") && !p.starts_with("/login"))
        .unwrap_or_else(|| "/home".into())
}

/// True when a failure means "log in again".
pub fn is_expired(f: &Failure) -> bool {
    f.api_code() == Some(ErrorCode::Unauthenticated)
}

/// The session-expired notice: a message and 「重新登入」, which remembers this page.
#[component]
pub fn SessionExpired(expired: RwSignal<bool>) -> impl IntoView {
    let i = use_i18n();
    let relogin = move |_| {
        stash_set(RETURN_KEY, &here());
        navigate("/login");
    };
    view! {
        <div role="alert" class=move || if expired.get() { "message message-error" } else { "message-empty" }>
            {move || expired.get().then(|| view! {
                <p id="session-expired">{move || i.t(T::SessionExpired)}</p>
                <button type="button" id="relogin" class="button button-primary" on:click=relogin>
                    {move || i.t(T::Relogin)}
                </button>
            })}
        </div>
    }
}

/// A download link (CSV, PDF) that checks the session first: a plain click asks `/me`, then
/// either goes to `href` (an attachment: the browser downloads it and stays on the page) or
/// shows the session-expired notice instead of saving an error as the file. Modified clicks
/// (new tab, save as) keep the browser's behaviour.
pub fn guarded_download(
    ev: leptos::ev::MouseEvent,
    href: String,
    expired: RwSignal<bool>,
    error: RwSignal<Option<crate::i18n::Msg>>,
) {
    if ev.ctrl_key() || ev.meta_key() || ev.shift_key() || ev.alt_key() || ev.button() != 0 {
        return;
    }
    ev.prevent_default();
    leptos::task::spawn_local(async move {
        match crate::api::get::<nhi_protocol::api::UserInfo>("/me").await {
            Ok(_) => {
                if let Some(w) = web_sys::window() {
                    let _ = w.location().assign(&href);
                }
            }
            Err(e) if is_expired(&e) => {
                let _ = expired.try_set(true);
            }
            Err(e) => {
                let _ = error.try_set(Some(crate::i18n::Msg::from(&e)));
            }
        }
    });
}

/// `12345` → `12,345`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// Unix seconds → `YYYY-MM-DD HH:MM` in the browser's time zone.
pub fn local_time(unix: i64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(unix as f64 * 1000.0));
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes()
    )
}

/// Escapes text for SVG/HTML markup.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_escaping() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(-1234567), "-1,234,567");
        assert_eq!(escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
    }
}
