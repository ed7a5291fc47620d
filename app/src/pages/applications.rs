//! 線上申辦業務 (online applications, F9): 換補發健保卡 (reason, mailing address) and 投保證明
//! (a PDF once issued), and every application's status timeline.

use leptos::prelude::*;
use nhi_protocol::online::{
    Application, ApplicationFormError, ApplicationKind, ApplicationStatus, ApplicationsResponse,
    CardReplacementRequest, CertificateRequest, ReplacementReason,
};

use nhi_protocol::date::show_time;

use super::online::guarded_download;
use crate::api;
use crate::components::{Field, MessageBox, PageTitle, SubmitButton};
use crate::i18n::{use_i18n, Msg, T};
use crate::session::{is_expired, stash_get, stash_remove, stash_set, SessionGate};

const DRAFT_KEY: &str = "nhi.draft.card_replacement";

pub fn status_key(s: ApplicationStatus) -> T {
    match s {
        ApplicationStatus::Submitted => T::AppStatusSubmitted,
        ApplicationStatus::InReview => T::AppStatusInReview,
        ApplicationStatus::CardProduction => T::AppStatusCardProduction,
        ApplicationStatus::Mailed => T::AppStatusMailed,
        ApplicationStatus::Issued => T::AppStatusIssued,
        ApplicationStatus::Rejected => T::AppStatusRejected,
    }
}

pub fn kind_key(k: ApplicationKind) -> T {
    match k {
        ApplicationKind::CardReplacement => T::KindCardReplacement,
        ApplicationKind::EnrolmentCertificate => T::KindCertificate,
    }
}

pub fn reason_key(r: ReplacementReason) -> T {
    match r {
        ReplacementReason::Lost => T::ReasonLost,
        ReplacementReason::Damaged => T::ReasonDamaged,
        ReplacementReason::PhotoChange => T::ReasonPhotoChange,
        ReplacementReason::DataChange => T::ReasonDataChange,
    }
}

#[component]
pub fn Applications() -> impl IntoView {
    let i = use_i18n();
    let error = RwSignal::new(None::<Msg>);
    let notice = RwSignal::new(None::<Msg>);
    let expired = RwSignal::new(false);
    // The person's applications; 「重新整理」 and every submission load them again (the
    // list shown stays until the new one is there: `<Transition>`).
    let apps = LocalResource::new(move || async move {
        let result = api::get::<ApplicationsResponse>("/applications").await;
        match &result {
            Ok(_) => expired.set(false),
            Err(e) if is_expired(e) => expired.set(true),
            Err(e) => error.set(Some(Msg::from(e))),
        }
        result.map(|r| r.applications)
    });
    let reload = move || apps.refetch();

    // The card replacement form, restored from a draft kept when the session expired.
    let draft: Option<CardReplacementRequest> =
        stash_get(DRAFT_KEY).and_then(|s| serde_json::from_str(&s).ok());
    let reason = RwSignal::new(draft.as_ref().map(|d| d.reason));
    let postal = RwSignal::new(
        draft
            .as_ref()
            .map(|d| d.postal_code.clone())
            .unwrap_or_default(),
    );
    let address = RwSignal::new(draft.map(|d| d.mailing_address).unwrap_or_default());
    let e_reason = RwSignal::new(None::<Msg>);
    let e_postal = RwSignal::new(None::<Msg>);
    let e_address = RwSignal::new(None::<Msg>);
    let replace = Action::new_local(move |req: &CardReplacementRequest| {
        let req = req.clone();
        async move {
            match api::post::<_, Application>("/applications/card-replacement", &req).await {
                Ok(_) => {
                    stash_remove(DRAFT_KEY);
                    reason.set(None);
                    postal.set(String::new());
                    address.set(String::new());
                    notice.set(Some(Msg::Key(T::ReplaceDone)));
                    reload();
                }
                Err(e) if is_expired(&e) => {
                    if let Ok(json) = serde_json::to_string(&req) {
                        stash_set(DRAFT_KEY, &json);
                    }
                    expired.set(true);
                }
                Err(e) => error.set(Some(Msg::from(&e))),
            }
        }
    });
    let busy = replace.pending();
    let certificate = Action::new_local(move |_: &()| async move {
        let result = api::post::<_, Application>(
            "/applications/enrolment-certificate",
            &CertificateRequest::default(),
        )
        .await;
        match result {
            Ok(_) => {
                notice.set(Some(Msg::Key(T::CertDone)));
                reload();
            }
            Err(e) if is_expired(&e) => expired.set(true),
            Err(e) => error.set(Some(Msg::from(&e))),
        }
    });
    let cert_busy = certificate.pending();

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        notice.set(None);
        error.set(None);
        e_reason.set(None);
        e_postal.set(None);
        e_address.set(None);
        let Some(r) = reason.get_untracked() else {
            e_reason.set(Some(Msg::Key(T::ReasonRequired)));
            error.set(Some(Msg::Key(T::FixErrors)));
            return;
        };
        let req = CardReplacementRequest {
            reason: r,
            postal_code: postal.get_untracked().trim().to_string(),
            mailing_address: address.get_untracked().trim().to_string(),
        };
        if let Err((_, e)) = req.validate() {
            match e {
                ApplicationFormError::PostalCode => {
                    e_postal.set(Some(Msg::Key(T::PostalCodeInvalid)))
                }
                ApplicationFormError::Address => {
                    e_address.set(Some(Msg::Key(T::MailingAddressInvalid)))
                }
            }
            error.set(Some(Msg::Key(T::FixErrors)));
            return;
        }
        replace.dispatch(req);
    };

    let apply_certificate = move |_| {
        if cert_busy.get_untracked() {
            return;
        }
        notice.set(None);
        error.set(None);
        certificate.dispatch(());
    };

    let reason_described = move || e_reason.with(Option::is_some).then_some("reason-error");
    // One card replacement at a time: while one is pending the form says so.
    let replacement_pending = move || {
        apps.with(|r| {
            r.as_ref()
                .and_then(|r| r.as_ref().ok())
                .is_some_and(|list| {
                    list.iter().any(|a| {
                        a.kind == ApplicationKind::CardReplacement && a.status.is_pending()
                    })
                })
        })
    };
    view! {
        <PageTitle key=T::AppsTitle />
        <p class="lead">{move || i.t(T::AppsIntro)}</p>
        <SessionGate shown=expired />
        <MessageBox msg=notice notice=true />
        <MessageBox msg=error />

        <section aria-labelledby="apps-mine-title">
            <h2 id="apps-mine-title">{move || i.t(T::AppsMine)}</h2>
            <div class="actions">
                <button type="button" id="apps-refresh" class="button button-secondary" on:click=move |_| reload()>
                    {move || i.t(T::AppsRefresh)}
                </button>
            </div>
            <Transition fallback=move || view! { <p>{move || i.t(T::Loading)}</p> }>
            {move || match apps.get() {
                None | Some(Err(_)) => view! { <p>{move || i.t(T::Loading)}</p> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! { <p id="apps-none">{move || i.t(T::AppsNone)}</p> }.into_any(),
                Some(Ok(list)) => view! {
                    <ul class="applications" id="apps-list">
                        {list.into_iter().map(|a| view! { <ApplicationCard a expired error /> }).collect_view()}
                    </ul>
                }.into_any(),
            }}
            </Transition>
        </section>

        <section aria-labelledby="replace-title">
            <h2 id="replace-title">{move || i.t(T::ReplaceTitle)}</h2>
            <p class="notice" id="replace-pending" hidden=move || !replacement_pending()>
                {move || i.t(T::ReplacePending)}
            </p>
            <form id="replace-form" on:submit=submit novalidate>
                <fieldset class="field" aria-describedby=reason_described>
                    <legend>
                        {move || i.t(T::ReplaceReason)}
                        <span class="required" aria-hidden="true">" *"</span>
                    </legend>
                    <p class="field-error" id="reason-error" hidden=move || e_reason.with(Option::is_none)>
                        {move || e_reason.get().map(|m| m.render(i))}
                    </p>
                    {ReplacementReason::ALL.into_iter().map(|r| {
                        let id = format!("reason-{}", r.as_str());
                        view! {
                            <div class="radio">
                                <input type="radio" name="reason" id=id.clone() value=r.as_str()
                                    prop:checked=move || reason.get() == Some(r)
                                    on:change=move |_| reason.set(Some(r)) />
                                <label for=id>{move || i.t(reason_key(r))}</label>
                            </div>
                        }
                    }).collect_view()}
                </fieldset>
                <Field id="postal-code" label=T::PostalCode value=postal error=e_postal hint=T::PostalCodeHint
                    inputmode="numeric" maxlength="6" autocomplete="postal-code" required=true />
                <Field id="mailing-address" label=T::MailingAddress value=address error=e_address hint=T::MailingAddressHint
                    autocomplete="street-address" maxlength="120" required=true />
                <div class="actions">
                    <SubmitButton label=T::ReplaceSubmit busy id="replace-submit" />
                </div>
            </form>
        </section>

        <section aria-labelledby="cert-title">
            <h2 id="cert-title">{move || i.t(T::CertTitle)}</h2>
            <p>{move || i.t(T::CertIntro)}</p>
            <div class="actions">
                <button type="button" id="cert-apply" class="button button-primary"
                    aria-busy=move || cert_busy.get().then_some("true") on:click=apply_certificate>
                    {move || if cert_busy.get() { i.t(T::Sending) } else { i.t(T::CertSubmit) }}
                </button>
            </div>
        </section>
    }
}

/// One application: what, when, where it stands, and its timeline.
#[component]
fn ApplicationCard(
    a: Application,
    expired: RwSignal<bool>,
    error: RwSignal<Option<Msg>>,
) -> impl IntoView {
    let i = use_i18n();
    let heading_id = format!("app-{}-title", a.id);
    // What happened, then the normal path's steps still to come after the current status
    // (a skipped step, e.g. a certificate issued without review, is not shown as to come).
    let path = ApplicationStatus::path(a.kind);
    let mut steps: Vec<(ApplicationStatus, Option<i64>, Option<String>)> = a
        .timeline
        .iter()
        .map(|e| (e.status, Some(e.at), e.note.clone()))
        .collect();
    if let Some(k) = path.iter().position(|s| *s == a.status) {
        steps.extend(path[k + 1..].iter().map(|s| (*s, None, None)));
    }
    let current = a.status;
    let pdf = a.certificate_available.then(|| {
        let href = format!("/api/v1/applications/{}/certificate.pdf", a.id);
        let id = format!("certificate-{}", a.id);
        view! {
            <a class="button button-secondary" id=id href=href.clone() download=""
                on:click=move |ev| guarded_download(ev, href.clone(), expired, error)>
                {move || i.t(T::AppsDownload)}
            </a>
        }
    });
    let kind = a.kind;
    let reason = a.reason;
    let address = a
        .mailing_address
        .clone()
        .map(|addr| format!("{} {}", a.postal_code.clone().unwrap_or_default(), addr));
    view! {
        <li class="application" id=format!("app-{}", a.id) data-status=current.as_str() data-kind=kind.as_str()>
            <h3 id=heading_id.clone()>{move || i.t(kind_key(kind))}</h3>
            <dl class="card-data">
                <div class="card-row"><dt>{move || i.t(T::AppsNumber)}</dt><dd>{a.id}</dd></div>
                <div class="card-row"><dt>{move || i.t(T::AppsSubmittedAt)}</dt><dd>{show_time(a.created_at)}</dd></div>
                <div class="card-row"><dt>{move || i.t(T::AppsStatus)}</dt>
                    <dd class="app-status">{move || i.t(status_key(current))}</dd></div>
                {reason.map(|r| view! {
                    <div class="card-row"><dt>{move || i.t(T::ReplaceReason)}</dt><dd>{move || i.t(reason_key(r))}</dd></div>
                })}
                {address.map(|ad| view! {
                    <div class="card-row"><dt>{move || i.t(T::MailingAddress)}</dt><dd>{ad}</dd></div>
                })}
            </dl>
            <h4>{move || i.t(T::AppsTimeline)}</h4>
            <ol class="timeline" aria-labelledby=heading_id>
                {steps.into_iter().map(|(s, at, note)| {
                    let done = at.is_some();
                    let is_current = done && s == current;
                    let state = if is_current { "current" } else if done { "done" } else { "todo" };
                    let state_key = match state {
                        "current" => T::StepCurrent,
                        "done" => T::StepCompleted,
                        _ => T::StepTodo,
                    };
                    view! {
                        <li class=format!("timeline-step timeline-{state}") data-status=s.as_str()
                            aria-current=is_current.then_some("step")>
                            <span class="timeline-status">{move || i.t(status_key(s))}</span>
                            " "
                            <span class="visually-hidden">{move || i.t(state_key)}</span>
                            {at.map(|t| view! { <span class="timeline-time">{show_time(t)}</span> })}
                            // Only notes the operator marked citizen-visible reach this page
                            // (the citizen API never carries an internal one).
                            {note.map(|n| view! { <span class="timeline-note">{move || i.t(T::AppsNote)}" "{n}</span> })}
                        </li>
                    }
                }).collect_view()}
            </ol>
            {pdf}
        </li>
    }
}
