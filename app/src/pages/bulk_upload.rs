//! F5 健保卡註冊申請整批資料上傳 (`/units/upload?unit=…`): the uploader's name and email
//! pre-filled, the file format and every upload rule (encodings, user-defined characters,
//! spreadsheets, refusals, result files and mail), 「瀏覽檔案」 → 「上傳檔案」, then a live progress bar until
//! the server's job has decided every row, and the result file to download.

use leptos::prelude::*;
use std::str::FromStr;

use nhi_protocol::units::{
    LoginMethod, MyUnitsResponse, UploadAccepted, UploadRecord, UploadStatus,
};
use nhi_protocol::Email;
use wasm_bindgen::JsCast;

use crate::api;
use crate::components::{Field, MessageBox, PageTitle};
use crate::i18n::{use_i18n, Msg, T};
use crate::pages::units::{file_problem, load_failure, status_key, unit_param, BackToUnits};
use crate::session::SessionGate;
use crate::util::set_timeout;

/// Polls the upload's progress every second until it is done or failed, or the page is gone
/// (`try_set` answers the value back once the page's signal is disposed): a timer loop, not a
/// load, so a task rather than a resource.
fn poll(unit: String, id: i64, record: RwSignal<Option<UploadRecord>>) {
    leptos::task::spawn_local(async move {
        let r = api::get::<UploadRecord>(&format!("/units/{unit}/uploads/{id}")).await;
        let again = match r {
            Ok(rec) => {
                let open = matches!(rec.status, UploadStatus::Queued | UploadStatus::Processing);
                record.try_set(Some(rec)).is_none() && open
            }
            Err(_) => true,
        };
        if again {
            set_timeout(1000, move || poll(unit, id, record));
        }
    });
}

#[component]
pub fn BulkUpload() -> impl IntoView {
    let i = use_i18n();
    let unit = unit_param();
    let units = LocalResource::new(|| api::get::<MyUnitsResponse>("/units"));
    let me = move || units.get().and_then(Result::ok);
    let error = RwSignal::new(None::<Msg>);
    let chosen = RwSignal::new(None::<String>);
    let record = RwSignal::new(None::<UploadRecord>);
    let file_input = NodeRef::<leptos::html::Input>::new();
    // A certificate login without an NHI account has no email: the person types where the
    // result goes (`result_email`).
    let result_email = RwSignal::new(String::new());
    let e_result_email = RwSignal::new(None::<Msg>);
    let asks_email = move || me().is_some_and(|m| m.email.is_empty());
    let unit_for_upload = unit.clone();
    let upload = Action::new_local(move |(file, to): &(web_sys::File, Option<String>)| {
        let (unit, file, to) = (unit_for_upload.clone(), file.clone(), to.clone());
        async move {
            let path = format!("/units/{unit}/uploads");
            let sent = match &to {
                Some(to) => api::post_file_with_email::<UploadAccepted>(&path, &file, to).await,
                None => api::post_file::<UploadAccepted>(&path, &file).await,
            };
            match sent {
                Ok(a) => poll(unit, a.upload_id, record),
                Err(e) => {
                    let msg = file_problem(&e).unwrap_or_else(|| Msg::from(&e));
                    error.set(Some(msg));
                    crate::util::focus_id("upload-error");
                }
            }
        }
    });
    let busy = upload.pending();
    let send = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let file = file_input
            .get_untracked()
            .and_then(|el| el.files())
            .and_then(|list| list.get(0));
        let to = if asks_email() {
            let typed = result_email.get_untracked();
            match Email::from_str(typed.trim()) {
                Ok(e) => {
                    e_result_email.set(None);
                    Some(e.as_str().to_string())
                }
                Err(_) => {
                    e_result_email.set(Some(Msg::Key(if typed.trim().is_empty() {
                        T::FieldRequired
                    } else {
                        T::EmailInvalid
                    })));
                    crate::util::focus_id("result-email");
                    return;
                }
            }
        } else {
            None
        };
        let Some(file) = file else {
            error.set(Some(Msg::Key(T::UnNoFile)));
            crate::util::focus_id("file");
            return;
        };
        error.set(None);
        record.set(None);
        upload.dispatch((file, to));
    };
    let on_pick = move |ev: leptos::ev::Event| {
        let name = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
            .and_then(|el| el.files())
            .and_then(|l| l.get(0))
            .map(|f| f.name());
        chosen.set(name);
    };
    let (login, load_error) = load_failure(units);
    let name = move || me().map(|m| m.name).unwrap_or_default();
    let email = move || me().map(|m| m.email).unwrap_or_default();
    let method = move || {
        me().map(|m| match m.login_method {
            LoginMethod::NhiCard => T::UlMethodCard,
            LoginMethod::CitizenCertificate => T::UlMethodCert,
        })
    };
    let unit_for_link = unit.clone();
    view! {
        <PageTitle key=T::UnUpload />
        <BackToUnits />
        <SessionGate shown=login message=T::UnLoginNeeded action=T::NavLogin login="/units/login" />
        <MessageBox msg=load_error />
        <section aria-labelledby="format-title" class="format-help" id="format-help">
            <h2 id="format-title">{move || i.t(T::UnFormatTitle)}</h2>
            <ul>
                <li>{move || i.t(T::UnFormatColumns)}</li>
                <li>{move || i.t(T::UnFormatTypes)}</li>
                <li>{move || i.t(T::UnFormatEncoding)}</li>
                <li>{move || i.t(T::UnFormatPua)}</li>
                <li>{move || i.t(T::UnFormatXlsx)}</li>
                <li>{move || i.t(T::UnFormatRules)}</li>
                <li>{move || i.t(T::UnFormatRefused)}</li>
                <li>{move || i.t(T::UnFormatResult)}</li>
                <li>
                    {move || i.t(T::UnMaxSize)}": "
                    {move || me().map(|m| format!("{:.1} MB", m.upload_max_bytes as f64 / 1_048_576.0))}
                </li>
                <li>{move || i.t(T::UnFormatLimit)}</li>
            </ul>
        </section>
        <form on:submit=send novalidate id="upload-form">
            <div class="field">
                <label for="uploader">{move || i.t(T::UnUploader)}</label>
                <input id="uploader" type="text" readonly prop:value=name />
            </div>
            <div class="field">
                <label for="login-method">{move || i.t(T::UlMethod)}</label>
                <input id="login-method" type="text" readonly prop:value=move || method().map(|k| i.t(k)).unwrap_or_default() />
            </div>
            {move || if asks_email() {
                view! {
                    <Field id="result-email" label=T::UnUploaderEmail value=result_email error=e_result_email
                        hint=T::UlResultEmailHint kind="email" autocomplete="email" required=true />
                }.into_any()
            } else {
                view! {
                    <div class="field">
                        <label for="uploader-email">{move || i.t(T::UnUploaderEmail)}</label>
                        <input id="uploader-email" type="email" readonly prop:value=email />
                    </div>
                }.into_any()
            }}
            <div class="field">
                <label for="file">{move || i.t(T::UnBrowse)}</label>
                <input id="file" type="file" node_ref=file_input
                    accept=".csv,.txt,.xlsx,text/csv,text/plain,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                    on:change=on_pick />
                <p id="chosen-file" aria-live="polite">
                    {move || chosen.get().map(|n| format!("{}: {n}", i.t(T::UnChosen)))}
                </p>
            </div>
            <button type="submit" id="send-file" class="button button-primary"
                aria-busy=move || busy.get().then_some("true")>
                {move || if busy.get() { i.t(T::Sending) } else { i.t(T::UnSend) }}
            </button>
        </form>
        <div id="upload-error" tabindex="-1"><MessageBox msg=error /></div>
        {move || record.get().map(|r| {
            let total = r.total_rows.max(1);
            let done = r.status == UploadStatus::Done;
            let href = format!("/api/v1/units/{}/uploads/{}/result.txt", unit_for_link, r.id);
            view! {
                <section id="upload-progress" aria-labelledby="progress-title">
                    <h2 id="progress-title">{move || i.t(T::UnProgress)}</h2>
                    <progress id="progress-bar" max=total.to_string() value=r.processed_rows.to_string()
                        aria-labelledby="progress-title"></progress>
                    <p aria-live="polite" id="progress-status">
                        {move || i.t(status_key(r.status))}" — "{move || i.t(T::UnProcessed)}": "
                        {r.processed_rows}" / "{r.total_rows}
                    </p>
                    <Show when=move || !done><p>{move || i.t(T::UnQueued)}</p></Show>
                    <Show when=move || done>
                        <dl class="counts">
                            <dt>{move || i.t(T::UnAccepted)}</dt><dd id="accepted-count">{r.accepted_rows}</dd>
                            <dt>{move || i.t(T::UnRejected)}</dt><dd id="rejected-count">{r.rejected_rows}</dd>
                        </dl>
                        <p><a id="result-download" href=href.clone() download="">{move || i.t(T::UnDownload)}</a></p>
                    </Show>
                </section>
            }
        })}
    }
}
