//! `/download`: the files this server offers (the bridge host and the extension it was built
//! with, each with its SHA-256) and how to install them. F0's remedies link here. It is a page
//! of the online area's bundle, not the first page's: a citizen opens it once, from a remedy
//! (see `nhi_protocol::areas`).

use leptos::prelude::*;
use nhi_protocol::downloads::{DownloadKind, DownloadsResponse};

use crate::api;
use crate::components::PageTitle;
use crate::i18n::{use_i18n, T};
use crate::route::Link;

use super::online::escape as esc;

/// A size as people read it (KB / MB, one decimal).
fn human_size(bytes: u64) -> String {
    let (unit, name) = if bytes >= 1024 * 1024 {
        (1024 * 1024, "MB")
    } else {
        (1024, "KB")
    };
    let tenths = (bytes * 10 + unit / 2) / unit;
    format!("{}.{} {name}", tenths / 10, tenths % 10)
}

/// The files offered as one HTML string (the table is static once loaded, as the health
/// bank's chart is).
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
