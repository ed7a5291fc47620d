//! The start page, the downloads page and "not found".

use leptos::prelude::*;
use nhi_protocol::downloads::{DownloadKind, DownloadsResponse};

use crate::api;
use crate::components::PageTitle;
use crate::i18n::{use_i18n, T};
use crate::route::Link;

#[component]
pub fn Landing() -> impl IntoView {
    let i = use_i18n();
    view! {
        <PageTitle key=T::AppTitle />
        <p class="lead">{move || i.t(T::LandingIntro)}</p>
        <h2>{move || i.t(T::LandingSteps)}</h2>
        <ol class="steps-list">
            <li><Link href="/check">{move || i.t(T::NavCheck)}</Link><span class="step-desc">{move || i.t(T::LandingStep1)}</span></li>
            <li><Link href="/register">{move || i.t(T::NavRegister)}</Link><span class="step-desc">{move || i.t(T::LandingStep2)}</span></li>
            <li><span class="step-desc">{move || i.t(T::LandingStep3)}</span></li>
            <li><Link href="/login">{move || i.t(T::NavLogin)}</Link><span class="step-desc">{move || i.t(T::LandingStep4)}</span></li>
        </ol>
        <div class="actions">
            <Link href="/check" class="button button-secondary">{move || i.t(T::NavCheck)}</Link>
            <Link href="/register" class="button button-primary">{move || i.t(T::NavRegister)}</Link>
        </div>
    }
}

/// A size as people read it (KB / MB, one decimal; integer arithmetic only, so the first
/// page's bundle carries no float formatting).
fn human_size(bytes: u64) -> String {
    let (unit, name) = if bytes >= 1024 * 1024 {
        (1024 * 1024, "MB")
    } else {
        (1024, "KB")
    };
    let tenths = (bytes * 10 + unit / 2) / unit;
    format!("{}.{} {name}", tenths / 10, tenths % 10)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The files offered as one HTML string (the table is static once loaded: one string keeps
/// the first page's bundle small, as the health bank's chart does).
fn listing_html(i: crate::i18n::I18n, r: Result<&DownloadsResponse, &api::Failure>) -> String {
    let p = |key: T| format!("<p class=\"downloads-none\">{}</p>", esc(&i.t(key)));
    let files = match r {
        Ok(r) if !r.files.is_empty() => &r.files,
        Ok(_) => return p(T::DownloadNone),
        Err(_) => return p(T::DownloadUnavailable),
    };
    let mut html = format!(
        "<div class=\"table-wrap\"><table class=\"data-table download-files\"><thead><tr>\
         <th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th>\
         <th scope=\"col\">SHA-256</th></tr></thead><tbody>",
        esc(&i.t(T::DownloadColFile)),
        esc(&i.t(T::DownloadColKind)),
        esc(&i.t(T::DownloadColSize)),
    );
    for f in files {
        let (kind, kind_name) = match f.kind {
            DownloadKind::Bridge => (T::DownloadKindBridge, "bridge"),
            DownloadKind::Extension => (T::DownloadKindExtension, "extension"),
            DownloadKind::Other => (T::DownloadKindOther, "other"),
        };
        let name = esc(&f.name);
        html.push_str(&format!(
            "<tr class=\"download-file\" data-kind=\"{kind_name}\"><td><a href=\"{}\" download=\"{name}\">{name}</a></td>\
             <td>{}</td><td>{}</td><td><code class=\"sha256\">{}</code></td></tr>",
            esc(&f.url),
            esc(&i.t(kind)),
            human_size(f.bytes),
            esc(&f.sha256),
        ));
    }
    html.push_str(&format!(
        "</tbody></table></div><p class=\"hint\">{}</p>",
        esc(&i.t(T::DownloadChecksumHint))
    ));
    html
}

#[component]
pub fn Download() -> impl IntoView {
    let i = use_i18n();
    // A task and a signal rather than a resource: the citizen area's other pages use none,
    // and a resource would cost the first page's bundle ~10 kB.
    let files = RwSignal::new(None::<Result<DownloadsResponse, api::Failure>>);
    leptos::task::spawn_local(async move {
        // The page may be gone by then: nothing to show it to.
        let _ = files.try_set(Some(api::get::<DownloadsResponse>("/downloads").await));
    });
    let listing = move || {
        files.with(|r| match r {
            Some(r) => listing_html(i, r.as_ref()),
            None => String::new(),
        })
    };
    view! {
        <PageTitle key=T::DownloadTitle />
        <section aria-labelledby="dl-files">
            <h2 id="files"><span id="dl-files">{move || i.t(T::DownloadFilesTitle)}</span></h2>
            <div id="download-list" inner_html=listing></div>
        </section>
        <section aria-labelledby="dl-ext">
            <h2 id="extension"><span id="dl-ext">{move || i.t(T::DownloadExtTitle)}</span></h2>
            <p>{move || i.t(T::DownloadExtBody)}</p>
        </section>
        <section aria-labelledby="dl-bridge">
            <h2 id="bridge"><span id="dl-bridge">{move || i.t(T::DownloadBridgeTitle)}</span></h2>
            <p>{move || i.t(T::DownloadBridgeBody)}</p>
        </section>
        <p><Link href="/check">{move || i.t(T::NavCheck)}</Link></p>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    let i = use_i18n();
    view! {
        <PageTitle key=T::NotFoundTitle />
        <p>{move || i.t(T::NotFoundBody)}</p>
        <p><Link href="/">{move || i.t(T::NavHome)}</Link></p>
    }
}
