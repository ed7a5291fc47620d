//! The citizen-facing single-page app: registration, confirmation, login and online services.
//!
//! Built by Trunk from `app/index.html` into `dist/`, which the server serves.

use leptos::prelude::*;

/// The application shell.
#[component]
pub fn App() -> impl IntoView {
    view! {
        <header class="site-header">
            <p class="site-name" lang="zh-Hant-TW">"衛生福利部中央健康保險署"</p>
            <p class="site-name-en" lang="en">"National Health Insurance Administration"</p>
        </header>
        <main id="main" class="page">
            <h1>"健保卡網路服務註冊"</h1>
            <p lang="en">"NHI card online service registration"</p>
        </main>
    }
}
