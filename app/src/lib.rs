//! The citizen-facing single-page app: self-check (F0), registration (F1), email
//! confirmation (F2), login (F3) and resend (F8).
//!
//! Built by Trunk from `app/index.html` into `dist/`, which the server serves. The zxcvbn
//! strength check is a separate worker (`src/bin/nhi-strength.rs`) started on demand.

pub mod api;
pub mod bridge;
pub mod components;
pub mod i18n;
pub mod pages;
pub mod route;
pub mod session;
pub mod strength;
pub mod util;

use leptos::prelude::*;

use crate::i18n::{use_i18n, I18nProvider, T};
use crate::route::{provide_route, Link};

/// The SPA area this bundle is (cargo features `units` / `online`; none = citizen).
#[cfg(all(feature = "units", feature = "online"))]
compile_error!("build one SPA area at a time: features `units` and `online` exclude each other");
#[cfg(all(feature = "citizen", any(feature = "units", feature = "online")))]
compile_error!("feature `citizen` is the citizen area's build: not with `units` or `online`");
#[cfg(feature = "units")]
pub const AREA: nhi_protocol::areas::Area = nhi_protocol::areas::Area::Units;
#[cfg(all(feature = "online", not(feature = "units")))]
pub const AREA: nhi_protocol::areas::Area = nhi_protocol::areas::Area::Online;
#[cfg(not(any(feature = "units", feature = "online")))]
pub const AREA: nhi_protocol::areas::Area = nhi_protocol::areas::Area::Citizen;

/// The page for `path` in this area; another area's page is never linked into this bundle
/// (the router loads it with a full navigation, see [`route::Route::navigate`]).
fn render(path: &str) -> AnyView {
    #[cfg(not(any(feature = "units", feature = "online")))]
    if let Some(view) = render_citizen(path) {
        return view;
    }
    #[cfg(feature = "units")]
    if let Some(view) = render_units(path) {
        return view;
    }
    #[cfg(feature = "online")]
    if let Some(view) = render_online(path) {
        return view;
    }
    pages::landing::NotFound().into_any()
}

/// The citizen area's pages (the other areas' header links to them load this bundle).
#[cfg(not(any(feature = "units", feature = "online")))]
fn render_citizen(path: &str) -> Option<AnyView> {
    Some(match path {
        "/" | "/index.html" => pages::landing::Landing().into_any(),
        "/check" => pages::check::SelfCheck().into_any(),
        "/register" => pages::register::Register().into_any(),
        "/confirm" => pages::confirm::Confirm().into_any(),
        "/resend" => pages::resend::Resend().into_any(),
        "/login" => pages::login::Login().into_any(),
        "/home" => pages::home::Home().into_any(),
        _ => return None,
    })
}

#[cfg(feature = "units")]
fn render_units(path: &str) -> Option<AnyView> {
    Some(match path {
        "/units" => pages::units::Units().into_any(),
        "/units/login" => pages::units_login::UnitsLogin().into_any(),
        "/units/roles" => pages::unit_roles::UnitRoles().into_any(),
        "/units/upload" => pages::bulk_upload::BulkUpload().into_any(),
        "/units/records" => pages::upload_records::UploadRecords().into_any(),
        "/bulk-activate" => pages::bulk_activate::BulkActivate().into_any(),
        _ => return None,
    })
}

#[cfg(feature = "online")]
fn render_online(path: &str) -> Option<AnyView> {
    Some(match path {
        "/health-bank" => pages::health_bank::HealthBank().into_any(),
        "/applications" => pages::applications::Applications().into_any(),
        "/download" => pages::download::Download().into_any(),
        "/passkeys" => pages::passkeys::Passkeys().into_any(),
        "/passkey-login" => pages::passkey_login::PasskeyLogin().into_any(),
        _ => return None,
    })
}

/// The application shell: skip link, header with the language switch, navigation, the page.
#[component]
pub fn App() -> impl IntoView {
    view! { <I18nProvider><Shell /></I18nProvider> }
}

#[component]
fn Shell() -> impl IntoView {
    let i = use_i18n();
    let route = provide_route();
    let session = crate::session::provide_session(route);
    let page = move || render(&route.path.get());
    // The nav's 登出: on failure the person stays where they are, still logged in.
    let logout = move || async move {
        let _ = session.logout().await;
    };
    crate::util::set_timeout(0, || crate::util::mark("nhi-interactive"));
    view! {
        <a class="skip-link" href="#main">{move || i.t(T::SkipToMain)}</a>
        <header class="site-header">
            <div class="header-inner">
                <Link href="/" class="brand">
                    <span class="brand-agency">{move || i.t(T::Agency)}</span>
                    <span class="brand-title">{move || i.t(T::AppTitle)}</span>
                </Link>
                <LangSwitch />
            </div>
            <nav class="site-nav" aria-label=move || i.t(T::NavLabel)>
                <ul>
                    <li><Link href="/check">{move || i.t(T::NavCheck)}</Link></li>
                    <li><Link href="/register">{move || i.t(T::NavRegister)}</Link></li>
                    <li><Link href="/resend">{move || i.t(T::NavResend)}</Link></li>
                    {move || if session.logged_in() {
                        view! {
                            <li><Link href="/home">{move || i.t(T::NavAccount)}</Link></li>
                            <li><button type="button" id="nav-logout" class="nav-button" on:click=move |_| leptos::task::spawn_local(logout())>{move || i.t(T::Logout)}</button></li>
                        }
                        .into_any()
                    } else {
                        view! { <li><Link href="/login">{move || i.t(T::NavLogin)}</Link></li> }.into_any()
                    }}
                    <li><Link href="/units">{move || i.t(T::UnNav)}</Link></li>
                </ul>
            </nav>
        </header>
        <main id="main" class="page" tabindex="-1">{page}</main>
        <footer class="site-footer">
            <p>{move || i.t(T::Footer)}</p>
        </footer>
    }
}

/// The zh-TW / English switch; the choice persists (localStorage).
#[component]
fn LangSwitch() -> impl IntoView {
    let i = use_i18n();
    view! {
        <button
            type="button"
            id="lang-switch"
            class="button button-quiet lang-switch"
            lang=move || i.get().other().tag()
            aria-label=move || i.t(T::LangSwitchLabel)
            on:click=move |_| i.set(i.get().other())
        >
            {move || i.t(T::LangSwitch)}
        </button>
    }
}
