//! The start page, the downloads page and "not found".

use leptos::prelude::*;
use nhi_protocol::downloads::{DownloadFile, DownloadKind, DownloadsResponse};

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

/// A size as people read it (KB / MB, one decimal).
fn human_size(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 {
        format!("{:.1} MB", b / (1024.0 * 1024.0))
    } else {
        format!("{:.1} KB", b / 1024.0)
    }
}

/// One row of the files offered: the link, what it is, its size and SHA-256.
fn file_row(f: DownloadFile) -> impl IntoView {
    let i = use_i18n();
    let kind = match f.kind {
        DownloadKind::Bridge => T::DownloadKindBridge,
        DownloadKind::Extension => T::DownloadKindExtension,
        DownloadKind::Other => T::DownloadKindOther,
    };
    view! {
        <tr class="download-file" data-kind=format!("{:?}", f.kind).to_lowercase()>
            <td><a href=f.url download=f.name.clone()>{f.name.clone()}</a></td>
            <td>{move || i.t(kind)}</td>
            <td>{human_size(f.bytes)}</td>
            <td><code class="sha256">{f.sha256}</code></td>
        </tr>
    }
}

#[component]
pub fn Download() -> impl IntoView {
    let i = use_i18n();
    let files = LocalResource::new(|| api::get::<DownloadsResponse>("/downloads"));
    let listing = move || {
        files.get().map(|r| match r {
            Ok(r) if !r.files.is_empty() => view! {
                <div class="table-wrap"><table class="data-table download-files">
                    <thead><tr>
                        <th scope="col">{move || i.t(T::DownloadColFile)}</th>
                        <th scope="col">{move || i.t(T::DownloadColKind)}</th>
                        <th scope="col">{move || i.t(T::DownloadColSize)}</th>
                        <th scope="col">"SHA-256"</th>
                    </tr></thead>
                    <tbody>{r.files.into_iter().map(file_row).collect_view()}</tbody>
                </table></div>
                <p class="hint">{move || i.t(T::DownloadChecksumHint)}</p>
            }
            .into_any(),
            Ok(_) => {
                view! { <p class="downloads-none">{move || i.t(T::DownloadNone)}</p> }.into_any()
            }
            Err(_) => view! { <p class="downloads-none">{move || i.t(T::DownloadUnavailable)}</p> }
                .into_any(),
        })
    };
    view! {
        <PageTitle key=T::DownloadTitle />
        <section aria-labelledby="dl-files">
            <h2 id="files"><span id="dl-files">{move || i.t(T::DownloadFilesTitle)}</span></h2>
            {listing}
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
