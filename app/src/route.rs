//! A small client-side router: the path as a signal, `history.pushState`, and `<Link>`.

use leptos::prelude::*;

#[derive(Clone, Copy)]
pub struct Route {
    pub path: RwSignal<String>,
    /// Path and query of the page shown: a history step that changes only the fragment (the
    /// skip link's `#main`, a mailed link's `#ticket=…` opened on its own page) keeps the
    /// page and what was typed into it.
    shown: StoredValue<String>,
}

fn current_path() -> String {
    web_sys::window()
        .and_then(|w| w.location().pathname().ok())
        .unwrap_or_else(|| "/".into())
}

fn path_and_query() -> String {
    let Some(location) = web_sys::window().map(|w| w.location()) else {
        return "/".into();
    };
    format!(
        "{}{}",
        location.pathname().unwrap_or_else(|_| "/".into()),
        location.search().unwrap_or_default()
    )
}

impl Route {
    /// Reads the current path and follows the browser's back/forward buttons.
    fn init() -> Self {
        let path = RwSignal::new(current_path());
        let shown = StoredValue::new(path_and_query());
        let _ = leptos::prelude::window_event_listener(leptos::ev::popstate, move |_| {
            let now = path_and_query();
            if shown.with_value(|s| *s == now) {
                return;
            }
            shown.set_value(now);
            path.set(current_path());
        });
        Self { path, shown }
    }

    /// Goes to `to` (a same-site path, optionally with a query): without reloading inside
    /// this SPA area, with a full navigation to another area's bundle
    /// (`nhi_protocol::areas`). The route is `Copy`: a page takes it from the context when
    /// it is built ([`use_route`]) and calls this from its handlers and actions, which run
    /// outside the reactive owner.
    pub fn navigate(&self, to: &str) {
        let path = to.split(['?', '#']).next().unwrap_or(to);
        if nhi_protocol::areas::Area::of_path(path) != crate::AREA {
            if let Some(w) = web_sys::window() {
                let _ = w.location().assign(to);
            }
            return;
        }
        if let Some(w) = web_sys::window() {
            if let Ok(h) = w.history() {
                let _ = h.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(to));
            }
            w.scroll_to_with_x_and_y(0.0, 0.0);
        }
        self.shown.set_value(path_and_query());
        self.path.set(current_path());
        crate::util::focus_id("page-title");
    }
}

impl Route {
    /// A new history entry within the page shown (the F1 wizard's `?step=`): Back and Forward
    /// then move between such entries, and the page, rebuilt, reads its state back from the
    /// address.
    pub fn push_in_page(&self, to: &str) {
        if let Some(h) = web_sys::window().and_then(|w| w.history().ok()) {
            let _ = h.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(to));
        }
        self.shown.set_value(path_and_query());
    }

    /// Corrects the address of the page shown, without a history entry.
    pub fn replace_in_page(&self, to: &str) {
        if let Some(h) = web_sys::window().and_then(|w| w.history().ok()) {
            let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(to));
        }
        self.shown.set_value(path_and_query());
    }
}

/// Provides the app's route as context (once, at the root of the app).
pub fn provide_route() -> Route {
    let route = Route::init();
    provide_context(route);
    route
}

/// The app's route, from the context the root provides.
pub fn use_route() -> Route {
    expect_context::<Route>()
}

/// An in-app link: a real `<a href>` (works with the keyboard, middle-click and without
/// the router), routed client-side on a plain click.
#[component]
pub fn Link(
    href: &'static str,
    children: Children,
    #[prop(optional)] class: &'static str,
) -> impl IntoView {
    let route = use_route();
    let current = move || (route.path.get() == href).then_some("page");
    view! {
        <a
            href=href
            class=class
            aria-current=current
            on:click=move |ev: leptos::ev::MouseEvent| {
                if ev.ctrl_key() || ev.meta_key() || ev.shift_key() || ev.alt_key() || ev.button() != 0 {
                    return;
                }
                ev.prevent_default();
                route.navigate(href);
            }
        >
            {children()}
        </a>
    }
}
