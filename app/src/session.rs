//! The session as the page sees it: whether someone is logged in (for the nav), the one
//! gate for a 401 ([`SessionGate`]), and where the login returns to.
//!
//! The session cookie is HttpOnly, so the page cannot see it: it keeps a hint in
//! localStorage (`nhi.session`), set by a successful login and cleared by logging out and by
//! any 401 a page meets. The hint only chooses what the nav offers; the server decides.
//!
//! Session expiry: a 401 from a service shows a clear message (role=alert) with a login
//! button instead of throwing the person out mid-sentence; the page's address (with its
//! query, e.g. the health bank's date range) is kept in sessionStorage and the login page
//! returns there after a successful login ([`take_return_path`]). Forms keep their drafts the
//! same way.

use leptos::prelude::*;
use nhi_protocol::api::ErrorCode;

use crate::api::Failure;
use crate::i18n::{use_i18n, T};
use crate::route::{use_route, Route};

const HINT_KEY: &str = "nhi.session";

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.local_storage().ok().flatten())
}

/// Whether the page believes someone is logged in (tracked), in context.
#[derive(Clone, Copy)]
pub struct Session {
    logged_in: RwSignal<bool>,
    route: Route,
}

impl Session {
    pub fn logged_in(&self) -> bool {
        self.logged_in.get()
    }

    /// Records a login (`true`), a logout or a 401 (`false`).
    pub fn set(&self, logged_in: bool) {
        if let Some(s) = local_storage() {
            let _ = if logged_in {
                s.set_item(HINT_KEY, "1")
            } else {
                s.remove_item(HINT_KEY)
            };
        }
        self.logged_in.set(logged_in);
    }

    /// Logs out (`DELETE /session`), then goes to the login page.
    pub async fn logout(self) -> Result<(), Failure> {
        crate::api::delete("/session").await?;
        self.set(false);
        self.route.navigate("/login");
        Ok(())
    }
}

/// Provides the session hint to the app (in the shell).
pub fn provide_session(route: Route) -> Session {
    let hint = local_storage()
        .and_then(|s| s.get_item(HINT_KEY).ok().flatten())
        .is_some();
    let session = Session {
        logged_in: RwSignal::new(hint),
        route,
    };
    provide_context(session);
    session
}

pub fn use_session() -> Session {
    expect_context::<Session>()
}

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

/// Where a login started elsewhere (the unit login's 「健保卡登入」) returns: the page already
/// kept by a login gate, else `default`.
pub fn remember_return(default: &str) {
    if stash_get(RETURN_KEY).is_none() {
        stash_set(RETURN_KEY, default);
    }
}

/// True when a failure means "log in again".
pub fn is_expired(f: &Failure) -> bool {
    f.api_code() == Some(ErrorCode::Unauthenticated)
}

/// The one gate for a 401: while `shown`, a message (role=alert) and a login button that
/// remembers this page, so the login returns here. The online services say "expired, log in
/// again" (the defaults); the insured-unit pages say "log in first". The nav shows the
/// logged-out state from then on.
#[component]
pub fn SessionGate(
    #[prop(into)] shown: Signal<bool>,
    #[prop(optional)] message: Option<T>,
    #[prop(optional)] action: Option<T>,
    /// The login page (the unit pages have their own, `/units/login`).
    #[prop(optional)]
    login: Option<&'static str>,
) -> impl IntoView {
    let i = use_i18n();
    let session = use_session();
    let route = use_route();
    let message = message.unwrap_or(T::SessionExpired);
    let action = action.unwrap_or(T::Relogin);
    Effect::new(move || {
        if shown.get() {
            session.set(false);
        }
    });
    let relogin = move |_| {
        stash_set(RETURN_KEY, &here());
        route.navigate(login.unwrap_or("/login"));
    };
    view! {
        <div role="alert" class=move || if shown.get() { "message message-error" } else { "message-empty" }>
            {move || shown.get().then(|| view! {
                <p id="session-expired">{move || i.t(message)}</p>
                <button type="button" id="relogin" class="button button-primary" on:click=relogin>
                    {move || i.t(action)}
                </button>
            })}
        </div>
    }
}
