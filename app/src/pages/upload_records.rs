//! F6 健保卡註冊申請上傳紀錄查詢 (`/units/records?unit=…`): the uploads the server lets
//! this person see (the unit admin: all of the unit; staff: their own), each with its counts,
//! the per-row results and the result file.

use leptos::prelude::*;
use nhi_protocol::units::{UploadRowsResponse, UploadsResponse};

use crate::api::{self, Failure};
use crate::components::{MessageBox, PageTitle};
use crate::i18n::{use_i18n, T};
use crate::pages::units::{failure_shown, reason_key, status_key, unit_param, when, BackToUnits};
use crate::session::SessionGate;

#[component]
pub fn UploadRecords() -> impl IntoView {
    let i = use_i18n();
    let unit = unit_param();
    let uploads = {
        let unit = unit.clone();
        LocalResource::new(move || {
            let path = format!("/units/{unit}/uploads");
            async move { api::get::<UploadsResponse>(&path).await }
        })
    };
    // The per-row results of one upload, on demand; their failure (the list's is the
    // resource's).
    let failure = RwSignal::new(None::<Failure>);
    let rows = RwSignal::new(None::<(i64, UploadRowsResponse)>);
    let show_rows = {
        let unit = unit.clone();
        Action::new_local(move |id: &i64| {
            let id = *id;
            let path = format!("/units/{unit}/uploads/{id}/rows?limit=1000");
            async move {
                match api::get::<UploadRowsResponse>(&path).await {
                    Ok(r) => {
                        rows.set(Some((id, r)));
                        crate::util::focus_id("rows-title");
                    }
                    Err(e) => failure.set(Some(e)),
                }
            }
        })
    };
    let (login, error) = failure_shown(move || {
        failure
            .get()
            .or_else(|| uploads.get().and_then(Result::err))
    });
    let unit_for_links = unit.clone();
    view! {
        <PageTitle key=T::UnRecords />
        <BackToUnits />
        <SessionGate shown=login message=T::UnLoginNeeded action=T::NavLogin />
        <MessageBox msg=error />
        <Transition fallback=|| ()>
        {move || uploads.get().and_then(Result::ok).map(|d| {
            if d.uploads.is_empty() {
                return view! { <p id="no-records">{move || i.t(T::UnNoRecords)}</p> }.into_any();
            }
            let unit = unit_for_links.clone();
            view! {
                <table class="data-table" id="records-table">
                    <caption>{move || i.t(T::UnRecordsCaption)}</caption>
                    <thead><tr>
                        <th scope="col">{move || i.t(T::UnColTime)}</th>
                        <th scope="col">{move || i.t(T::UnColUploader)}</th>
                        <th scope="col">{move || i.t(T::UnColFile)}</th>
                        <th scope="col">{move || i.t(T::UnColStatus)}</th>
                        <th scope="col">{move || i.t(T::UnAccepted)}</th>
                        <th scope="col">{move || i.t(T::UnRejected)}</th>
                        <th scope="col">{move || i.t(T::UnColDetails)}</th>
                    </tr></thead>
                    <tbody>
                        {d.uploads.into_iter().map(|u| {
                            let id = u.id;
                            let href = format!("/api/v1/units/{unit}/uploads/{id}/result.txt");
                            let done = u.status == nhi_protocol::units::UploadStatus::Done;
                            let file = u.file_name.clone();
                            let created = u.created_at;
                            view! {
                                <tr class="record">
                                    <td>{move || when(i, created)}</td>
                                    <td>{u.uploader_name.clone()}</td>
                                    <th scope="row" class="record-file">{u.file_name.clone()}</th>
                                    <td>{move || i.t(status_key(u.status))}</td>
                                    <td>{u.accepted_rows}</td>
                                    <td>{u.rejected_rows}</td>
                                    <td>
                                        <button type="button" class="button button-secondary show-rows"
                                            aria-label=move || format!("{} {}", i.t(T::UnShowRows), file)
                                            on:click=move |_| { show_rows.dispatch(id); }>{move || i.t(T::UnShowRows)}</button>
                                        {done.then(|| view! { " " <a class="result-download" href=href.clone() download="">{move || i.t(T::UnDownload)}</a> })}
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        })}
        </Transition>
        {move || rows.get().map(|(_, r)| view! {
            <h2 id="rows-title" tabindex="-1">{move || i.t(T::UnRowsCaption)}</h2>
            <table class="data-table" id="rows-table">
                <caption>{move || i.t(T::UnRowsCaption)}</caption>
                <thead><tr>
                    <th scope="col">{move || i.t(T::UnRowNumber)}</th>
                    <th scope="col">{move || i.t(T::NationalId)}</th>
                    <th scope="col">{move || i.t(T::Name)}</th>
                    <th scope="col">{move || i.t(T::UnRowResult)}</th>
                </tr></thead>
                <tbody>
                    {r.rows.into_iter().map(|x| view! {
                        <tr data-reason=x.reason.code()>
                            <th scope="row">{x.row_number}</th>
                            <td>{x.national_id_masked.clone()}</td>
                            <td>{x.name.clone()}</td>
                            <td>{move || i.t(reason_key(x.reason))}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        })}
    }
}
