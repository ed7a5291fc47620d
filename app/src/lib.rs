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
pub mod strength;
pub mod util;

use leptos::prelude::*;

use crate::i18n::{use_i18n, I18nProvider, T};
use crate::route::{use_route, Link};

/// The application shell: skip link, header with the language switch, navigation, the page.
#[component]
pub fn App() -> impl IntoView {
    view! { <I18nProvider><Shell /></I18nProvider> }
}

#[component]
fn Shell() -> impl IntoView {
    let i = use_i18n();
    let route = use_route();
    let page = move || match route.path.get().as_str() {
        "/" | "/index.html" => pages::landing::Landing().into_any(),
        "/check" => pages::check::SelfCheck().into_any(),
        "/register" => pages::register::Register().into_any(),
        "/confirm" => pages::confirm::Confirm().into_any(),
        "/resend" => pages::resend::Resend().into_any(),
        "/login" => pages::login::Login().into_any(),
        "/home" => pages::home::Home().into_any(),
        "/health-bank" => pages::health_bank::HealthBank().into_any(),
        "/applications" => pages::applications::Applications().into_any(),
        "/download" => pages::landing::Download().into_any(),
        "/units" => pages::units::Units().into_any(),
        "/units/roles" => pages::unit_roles::UnitRoles().into_any(),
        "/units/upload" => pages::bulk_upload::BulkUpload().into_any(),
        "/units/records" => pages::upload_records::UploadRecords().into_any(),
        "/bulk-activate" => pages::bulk_activate::BulkActivate().into_any(),
        _ => pages::landing::NotFound().into_any(),
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
                    <li><Link href="/login">{move || i.t(T::NavLogin)}</Link></li>
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
