//! F6 健保卡註冊申請上傳紀錄查詢 (`/units/records?unit=…`): the uploads the server lets
//! this person see (the unit admin: all of the unit; staff: their own), each with its counts,
//! the per-row results and the result file. The row results come a page at a time from the
//! server (`…/rows?offset=&limit=&failed_only=`, at most [`ROWS_PAGE_DEFAULT`] rows a page,
//! the page arithmetic is [`RowsPage`]'s), with a notice of the total and which rows are
//! shown, first/previous/next/last buttons and a failures-only filter: a 134k-row upload is
//! paged, never loaded whole.

use leptos::prelude::*;
use nhi_protocol::date::show_time;
use nhi_protocol::units::{RowsPage, UploadRowsResponse, UploadsResponse, ROWS_PAGE_DEFAULT};

use crate::api::{self, Failure};
use crate::components::{MessageBox, PageTitle};
use crate::i18n::{use_i18n, I18n, T};
use crate::pages::units::{failure_shown, reason_key, status_key, unit_param, BackToUnits};
use crate::session::SessionGate;

/// Which page of which upload's rows to load.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RowsWanted {
    id: i64,
    file: String,
    failed_only: bool,
    offset: i64,
}

/// A count in the language's digit grouping (134,000).
fn number(i: I18n, n: i64) -> String {
    String::from(js_sys::Number::from(n as f64).to_locale_string(i.get().tag()))
}

/// The notice above the rows: the total, and which of the matching rows are shown.
fn rows_notice(i: I18n, r: &UploadRowsResponse) -> String {
    let total = number(i, r.total);
    match (r.page().shown(r.matching), r.failed_only) {
        (None, false) => i.t(T::UnRowsNone),
        (None, true) => i.t_args(T::UnRowsNoneFailed, &[("total", &total)]),
        (Some((from, to)), failed) => {
            let (from, to) = (number(i, from), number(i, to));
            let mut args = vec![("total", total.as_str()), ("from", &from), ("to", &to)];
            let matching = number(i, r.matching);
            if failed {
                args.push(("matching", &matching));
                i.t_args(T::UnRowsShownFailed, &args)
            } else {
                i.t_args(T::UnRowsShown, &args)
            }
        }
    }
}

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
    // The per-row results of one upload, a page at a time, on demand; their failure (the
    // list's is the resource's).
    let failure = RwSignal::new(None::<Failure>);
    let rows = RwSignal::new(None::<(RowsWanted, UploadRowsResponse)>);
    let load_rows = {
        let unit = unit.clone();
        Action::new_local(move |w: &RowsWanted| {
            let w = w.clone();
            let path = format!(
                "/units/{unit}/uploads/{}/rows?offset={}&limit={ROWS_PAGE_DEFAULT}&failed_only={}",
                w.id, w.offset, w.failed_only
            );
            async move {
                match api::get::<UploadRowsResponse>(&path).await {
                    Ok(r) => {
                        failure.set(None);
                        rows.set(Some((w, r)));
                        crate::util::focus_id("rows-title");
                    }
                    Err(e) => failure.set(Some(e)),
                }
            }
        })
    };
    let busy = load_rows.pending();
    // Another page (or filter) of the rows shown now.
    let go = move |offset: i64, failed_only: bool| {
        if let Some((w, _)) = rows.get_untracked() {
            load_rows.dispatch(RowsWanted {
                offset,
                failed_only,
                ..w
            });
        }
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
        <SessionGate shown=login message=T::UnLoginNeeded action=T::NavLogin login="/units/login" />
        <MessageBox msg=error />
        <Transition fallback=|| ()>
        {move || uploads.get().and_then(Result::ok).map(|d| {
            if d.uploads.is_empty() {
                return view! { <p id="no-records">{move || i.t(T::UnNoRecords)}</p> }.into_any();
            }
            let unit = unit_for_links.clone();
            view! {
                <div class="table-wrap">
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
                            let label = file.clone();
                            let created = u.created_at;
                            view! {
                                <tr class="record">
                                    <td>{show_time(created)}</td>
                                    <td>{u.uploader_name.clone()}</td>
                                    <th scope="row" class="record-file">{u.file_name.clone()}</th>
                                    <td>{move || i.t(status_key(u.status))}</td>
                                    <td class="num">{move || number(i, u.accepted_rows)}</td>
                                    <td class="num">{move || number(i, u.rejected_rows)}</td>
                                    <td class="record-actions">
                                        <button type="button" class="button button-secondary show-rows"
                                            aria-label=move || format!("{} {}", i.t(T::UnShowRows), label)
                                            on:click=move |_| {
                                                load_rows.dispatch(RowsWanted { id, file: file.clone(), failed_only: false, offset: 0 });
                                            }>{move || i.t(T::UnShowRows)}</button>
                                        {done.then(|| view! { " " <a class="result-download" href=href.clone() download="">{move || i.t(T::UnDownload)}</a> })}
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
                </div>
            }.into_any()
        })}
        </Transition>
        {move || rows.get().map(|(w, r)| {
            let page: RowsPage = r.page();
            let matching = r.matching;
            let failed_only = r.failed_only;
            let file = w.file.clone();
            let nav = move |id: &'static str, key: T, to: Option<i64>| view! {
                <button type="button" id=id class="button button-secondary"
                    disabled=move || to.is_none() || busy.get()
                    on:click=move |_| { if let Some(o) = to { go(o, failed_only); } }>
                    {move || i.t(key)}
                </button>
            };
            let notice = r.clone();
            view! {
                <section id="rows" aria-labelledby="rows-title">
                <h2 id="rows-title" tabindex="-1">{move || i.t_args(T::UnRowsTitle, &[("file", &file)])}</h2>
                <div class="field field-check">
                    <input type="checkbox" id="failed-only" prop:checked=failed_only
                        disabled=move || busy.get()
                        on:change=move |_| go(0, !failed_only) />
                    <label for="failed-only">{move || i.t(T::UnFailedOnly)}</label>
                </div>
                <p id="rows-notice" aria-live="polite">{move || rows_notice(i, &notice)}</p>
                <nav class="pager" aria-label=move || i.t(T::UnRowsPages)>
                    {nav("rows-first", T::UnPageFirst, page.previous().map(|_| 0))}
                    {nav("rows-prev", T::UnPagePrev, page.previous())}
                    {nav("rows-next", T::UnPageNext, page.next(matching))}
                    {nav("rows-last", T::UnPageLast, page.next(matching).map(|_| page.last(matching)))}
                </nav>
                <div class="table-wrap">
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
                </div>
                </section>
            }
        })}
    }
}
