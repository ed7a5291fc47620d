//! Insured units (F4–F6): the start page `/units` (the logged-in person's units and the
//! tasks their permissions allow) and what the unit pages share.

use leptos::prelude::*;
use nhi_protocol::units::{FileProblem, MyUnitsResponse, RowReason, UploadStatus};

use crate::api::{self, Failure};
use crate::components::{MessageBox, PageTitle};
use crate::i18n::{use_i18n, Msg, T};
use crate::route::Link;
use crate::session::{is_expired, SessionGate};

/// The `unit` query parameter of the unit pages.
pub fn unit_param() -> String {
    crate::util::query_param("unit").unwrap_or_default()
}

pub fn reason_key(r: RowReason) -> T {
    match r {
        RowReason::Accepted => T::UnRsAccepted,
        RowReason::MalformedLine => T::UnRsMalformed,
        RowReason::FormulaCell => T::UnRsFormula,
        RowReason::InvalidId => T::UnRsInvalidId,
        RowReason::NotInsured => T::UnRsNotInsured,
        RowReason::NameMismatch => T::UnRsNameMismatch,
        RowReason::InvalidBirthDate => T::UnRsInvalidBirth,
        RowReason::BirthDateMismatch => T::UnRsBirthMismatch,
        RowReason::EmailMissing => T::UnRsEmailMissing,
        RowReason::EmailInvalid => T::UnRsEmailInvalid,
        RowReason::MobileInvalid => T::UnRsMobileInvalid,
        RowReason::AlreadyRegistered => T::UnRsAlreadyRegistered,
        RowReason::AlreadyPending => T::UnRsAlreadyPending,
        RowReason::DuplicateInFile => T::UnRsDuplicate,
    }
}

pub fn status_key(s: UploadStatus) -> T {
    match s {
        UploadStatus::Queued => T::UnStatusQueued,
        UploadStatus::Processing => T::UnStatusProcessing,
        UploadStatus::Done => T::UnStatusDone,
        UploadStatus::Failed => T::UnStatusFailed,
    }
}

/// A refused file's message, from the error's `message` (a [`FileProblem`] code).
pub fn file_problem(f: &Failure) -> Option<Msg> {
    let Failure::Api(e) = f else { return None };
    if e.field.as_deref() != Some("file") {
        return None;
    }
    let key = [
        (FileProblem::TooLarge, T::UnFileTooLarge),
        (FileProblem::Empty, T::UnFileEmpty),
        (FileProblem::Encoding, T::UnFileEncoding),
        (FileProblem::Unreadable, T::UnFileUnreadable),
        (FileProblem::TooManyRows, T::UnFileTooManyRows),
        (FileProblem::UnsupportedType, T::UnFileUnsupported),
        (FileProblem::TooManyColumns, T::UnFileTooManyColumns),
        (FileProblem::FieldTooLong, T::UnFileFieldTooLong),
        (
            FileProblem::TooLargeDecompressed,
            T::UnFileTooLargeDecompressed,
        ),
        (FileProblem::Busy, T::UnFileBusy),
        (FileProblem::NotText, T::UnFileNotText),
    ]
    .into_iter()
    .find(|(p, _)| p.code() == e.message)
    .map(|(_, k)| k)?;
    Some(match (key, e.line) {
        (T::UnFileEncoding, Some(line)) => Msg::AtLine(T::UnFileEncodingAt, line),
        _ => Msg::Key(key),
    })
}

/// What a page load's failure shows: the login gate for a 401 (`true`), else the message.
pub fn load_failure<T: Clone + 'static>(
    load: LocalResource<Result<T, Failure>>,
) -> (Signal<bool>, Signal<Option<Msg>>) {
    failure_shown(move || load.get().and_then(Result::err))
}

/// The same for a failure from anywhere (a load, or a later request of the page).
pub fn failure_shown(
    failure: impl Fn() -> Option<Failure> + Copy + Send + Sync + 'static,
) -> (Signal<bool>, Signal<Option<Msg>>) {
    (
        Signal::derive(move || failure().is_some_and(|f| is_expired(&f))),
        Signal::derive(move || failure().filter(|f| !is_expired(f)).map(|f| Msg::from(&f))),
    )
}

#[component]
pub fn BackToUnits() -> impl IntoView {
    let i = use_i18n();
    view! { <p><Link href="/units">{move || i.t(T::UnBack)}</Link></p> }
}

/// `/units`: the person's units and the tasks they may do.
#[component]
pub fn Units() -> impl IntoView {
    let i = use_i18n();
    let units = LocalResource::new(|| api::get::<MyUnitsResponse>("/units"));
    let (login, error) = load_failure(units);
    view! {
        <PageTitle key=T::UnTitle />
        <p class="lead">{move || i.t(T::UnIntro)}</p>
        <SessionGate shown=login message=T::UnLoginNeeded action=T::NavLogin login="/units/login" />
        <MessageBox msg=error />
        <Transition fallback=|| ()>
        {move || units.get().and_then(Result::ok).map(|d| {
            if d.units.is_empty() {
                return view! { <p id="no-units">{move || i.t(T::UnNone)}</p> }.into_any();
            }
            view! {
                <ul class="unit-list" id="unit-list">
                    {d.units.into_iter().map(|u| {
                        let code = u.unit_code.clone();
                        let roles = format!("/units/roles?unit={code}");
                        let upload = format!("/units/upload?unit={code}");
                        let records = format!("/units/records?unit={code}");
                        view! {
                            <li class="unit-card">
                                <h2>{u.name.clone()}" ("{u.unit_code.clone()}")"</h2>
                                <p>
                                    {move || i.t(T::UnYourPermissions)}": "
                                    {if u.is_admin { view! { <span>{move || i.t(T::UnAdmin)}</span> }.into_any() } else {
                                        view! { <span>
                                            {u.can_upload.then(|| view! { <span class="tag">{move || i.t(T::UnPermUpload)}</span>" " })}
                                            {u.can_query.then(|| view! { <span class="tag">{move || i.t(T::UnPermQuery)}</span> })}
                                        </span> }.into_any()
                                    }}
                                </p>
                                <ul class="unit-actions" aria-label=move || i.t(T::UnActions)>
                                    {u.is_admin.then(|| view! { <li><a href=roles.clone()>{move || i.t(T::UnRoles)}</a></li> })}
                                    {u.can_upload.then(|| view! { <li><a href=upload.clone()>{move || i.t(T::UnUpload)}</a></li> })}
                                    {u.can_query.then(|| view! { <li><a href=records.clone()>{move || i.t(T::UnRecords)}</a></li> })}
                                </ul>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            }.into_any()
        })}
        </Transition>
    }
}

#[cfg(test)]
mod tests {
    use nhi_protocol::api::{ApiError, ErrorCode};

    use super::*;

    fn refused(problem: FileProblem, line: Option<u64>) -> Failure {
        let mut e = ApiError::new(ErrorCode::BadRequest, problem.code());
        e.field = Some("file".into());
        e.line = line;
        Failure::Api(e)
    }

    #[test]
    fn a_refused_file_names_its_line_and_binary_files_have_their_own_message() {
        assert_eq!(
            file_problem(&refused(FileProblem::Encoding, Some(7))),
            Some(Msg::AtLine(T::UnFileEncodingAt, 7))
        );
        assert_eq!(
            file_problem(&refused(FileProblem::NotText, None)),
            Some(Msg::Key(T::UnFileNotText))
        );
        // Every problem has its own message.
        for p in [
            FileProblem::TooLarge,
            FileProblem::Empty,
            FileProblem::Unreadable,
            FileProblem::TooManyRows,
            FileProblem::UnsupportedType,
            FileProblem::TooManyColumns,
            FileProblem::FieldTooLong,
            FileProblem::TooLargeDecompressed,
            FileProblem::Busy,
        ] {
            assert!(file_problem(&refused(p, None)).is_some(), "{p:?}");
        }
    }
}
