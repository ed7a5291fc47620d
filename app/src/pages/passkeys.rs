//! `/passkeys` (issue 16): the account's passkeys (name, created, last used, the card
//! that enrolled it), rename and remove; 「新增通行金鑰」 first asks for the step-up (the
//! account's own card read now + the registration password), then the browser makes the
//! passkey. Removing needs nothing special; adding one always needs the card.

use leptos::prelude::*;
use nhi_protocol::api::{ErrorCode as ApiCode, ProofPurpose};
use nhi_protocol::bridge::BridgeError;
use nhi_protocol::date::show_time;
use nhi_protocol::passkeys::{
    normalize_name, PasskeyInfo, PasskeysResponse, RenamePasskey, StepUpRequest,
};
use nhi_protocol::CardBasicData;

use super::webauthn::{enrol, failure_msg, supported, PkFailure};
use crate::api::{self, Failure};
use crate::components::{CardReader, Field, MessageBox, PageTitle, SubmitButton};
use crate::i18n::{use_i18n, Msg, T};
use crate::session::{is_expired, SessionGate};

/// The step-up, then the new passkey; `step` says where it is.
async fn add(
    name: String,
    password: String,
    step: RwSignal<Option<T>>,
) -> Result<PasskeyInfo, PkFailure> {
    step.set(Some(T::PkStepCard));
    let proof = api::prove_card(ProofPurpose::StepUp).await?;
    api::post_no_content("/passkeys/step-up", &StepUpRequest { proof, password }).await?;
    step.set(Some(T::PkStepDevice));
    enrol(name).await
}

fn expired_by(f: &PkFailure) -> bool {
    matches!(f, PkFailure::Api(e) if is_expired(e))
}

#[component]
pub fn Passkeys() -> impl IntoView {
    let i = use_i18n();
    let error = RwSignal::new(None::<Msg>);
    let notice = RwSignal::new(None::<Msg>);
    let expired = RwSignal::new(false);
    let list = RwSignal::new(None::<Vec<PasskeyInfo>>);
    let reload = move || {
        leptos::task::spawn_local(async move {
            match api::get::<PasskeysResponse>("/passkeys").await {
                Ok(r) => list.set(Some(r.passkeys)),
                Err(e) if is_expired(&e) => expired.set(true),
                Err(e) => error.set(Some(Msg::from(&e))),
            }
        })
    };
    reload();

    // 「新增通行金鑰」: the step-up form.
    let adding = RwSignal::new(false);
    let card = RwSignal::new(None::<CardBasicData>);
    let card_error = RwSignal::new(None::<BridgeError>);
    let password = RwSignal::new(String::new());
    let e_password = RwSignal::new(None::<Msg>);
    let name = RwSignal::new(String::new());
    let e_name = RwSignal::new(None::<Msg>);
    let add_error = RwSignal::new(None::<Msg>);
    let step = RwSignal::new(None::<T>);
    let busy = RwSignal::new(false);
    let open_add = move |_| {
        notice.set(None);
        add_error.set((!supported()).then_some(Msg::Key(T::PkUnsupported)));
        adding.set(true);
        crate::util::focus_id("add-title");
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let typed = name.get_untracked();
        let chosen = if typed.trim().is_empty() {
            Some(i.t(T::PkDefaultName))
        } else {
            normalize_name(&typed)
        };
        e_name.set(chosen.is_none().then_some(Msg::Key(T::PkNameInvalid)));
        let pw = password.get_untracked();
        e_password.set(pw.is_empty().then_some(Msg::Key(T::FieldRequired)));
        let fields_ok = chosen.is_some() && !pw.is_empty();
        let task = async move {
            let result = add(chosen.unwrap_or_default(), pw, step).await;
            step.set(None);
            match result {
                Ok(_) => {
                    password.set(String::new());
                    name.set(String::new());
                    adding.set(false);
                    notice.set(Some(Msg::Key(T::PkAdded)));
                    reload();
                    crate::util::focus_id("passkeys-title");
                }
                Err(e) if expired_by(&e) => expired.set(true),
                Err(PkFailure::Api(Failure::Bridge(e))) => {
                    card_error.set(Some(e));
                }
                Err(e) => {
                    add_error.set(Some(failure_msg(&e)));
                    crate::util::focus_id("add-error");
                }
            }
        };
        crate::util::submit_card_form(card, add_error, fields_ok, busy, task);
    };

    view! {
        <PageTitle key=T::PkTitle />
        <p class="lead">{move || i.t(T::PkIntro)}</p>
        <ul class="pk-facts">
            <li>{move || i.t(T::PkFactDevice)}</li>
            <li>{move || i.t(T::PkFactCard)}</li>
            <li>{move || i.t(T::PkFactLost)}</li>
        </ul>
        <SessionGate shown=expired />
        <MessageBox msg=notice notice=true />
        <MessageBox msg=error />

        <section aria-labelledby="passkeys-title">
            <h2 id="passkeys-title" tabindex="-1">{move || i.t(T::PkMine)}</h2>
            {move || match list.get() {
                None => view! { <p>{move || i.t(T::Loading)}</p> }.into_any(),
                Some(l) if l.is_empty() => view! { <p id="passkeys-none">{move || i.t(T::PkNone)}</p> }.into_any(),
                Some(l) => view! {
                    <ul class="passkeys" id="passkeys-list">
                        {l.into_iter().map(|p| view! { <PasskeyItem p expired error notice reload /> }).collect_view()}
                    </ul>
                }.into_any(),
            }}
        </section>

        <section aria-labelledby="add-title" id="passkey-add">
            <h2 id="add-title" tabindex="-1">{move || i.t(T::PkAddTitle)}</h2>
            <p>{move || i.t(T::PkAddIntro)}</p>
            <Show when=move || !adding.get()>
                <div class="actions">
                    <button type="button" id="passkey-add-open" class="button button-primary" on:click=open_add>
                        {move || i.t(T::PkAdd)}
                    </button>
                </div>
            </Show>
            <Show when=move || adding.get()>
                <CardReader card error=card_error page_error=add_error />
                <form on:submit=submit novalidate id="passkey-add-form">
                    <Field id="password" label=T::Password value=password error=e_password kind="password" autocomplete="current-password" required=true />
                    <Field id="passkey-name" label=T::PkName value=name error=e_name hint=T::PkNameHint maxlength="64" />
                    <p role="status" id="passkey-step" class=move || if step.with(Option::is_some) { "message message-ok" } else { "message-empty" }>
                        {move || step.get().map(|k| i.t(k))}
                    </p>
                    <div id="add-error" tabindex="-1"><MessageBox msg=add_error /></div>
                    <div class="actions">
                        <SubmitButton label=T::PkAddSubmit busy id="passkey-add-submit" />
                        <button type="button" id="passkey-add-cancel" class="button button-secondary" on:click=move |_| adding.set(false)>
                            {move || i.t(T::PkCancel)}
                        </button>
                    </div>
                </form>
            </Show>
        </section>
    }
}

/// One passkey: what it is, rename, remove (with a second click to confirm).
#[component]
fn PasskeyItem(
    p: PasskeyInfo,
    expired: RwSignal<bool>,
    error: RwSignal<Option<Msg>>,
    notice: RwSignal<Option<Msg>>,
    reload: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let i = use_i18n();
    let id = p.id;
    let shown_name = RwSignal::new(p.name.clone());
    let renaming = RwSignal::new(false);
    let new_name = RwSignal::new(p.name.clone());
    let rename_error = RwSignal::new(None::<Msg>);
    let confirming = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let failed = move |e: Failure| {
        if is_expired(&e) {
            expired.set(true);
        } else if e.api_code() == Some(ApiCode::NotFound) {
            reload();
        } else {
            error.set(Some(Msg::from(&e)));
        }
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(n) = normalize_name(&new_name.get_untracked()) else {
            rename_error.set(Some(Msg::Key(T::PkNameInvalid)));
            return;
        };
        rename_error.set(None);
        busy.set(true);
        leptos::task::spawn_local(async move {
            let result = api::patch::<_, PasskeyInfo>(
                &format!("/passkeys/{id}"),
                &RenamePasskey { name: n },
            )
            .await;
            busy.set(false);
            match result {
                Ok(info) => {
                    shown_name.set(info.name);
                    renaming.set(false);
                    notice.set(Some(Msg::Key(T::PkRenamed)));
                }
                Err(e) => failed(e),
            }
        });
    };
    let remove = move |_| {
        busy.set(true);
        leptos::task::spawn_local(async move {
            let result = api::delete(&format!("/passkeys/{id}")).await;
            busy.set(false);
            match result {
                Ok(()) => {
                    notice.set(Some(Msg::Key(T::PkRemoved)));
                    reload();
                }
                Err(e) => failed(e),
            }
        });
    };
    let input_id = format!("passkey-rename-{id}");
    let label_for = input_id.clone();
    let last_used = p.last_used_at.map(show_time);
    let row = move |k: T, v: String| view! { <div class="card-row"><dt>{move || i.t(k)}</dt><dd>{v}</dd></div> };
    view! {
        <li class="passkey" id=format!("passkey-{id}")>
            <h3 class="passkey-name">{move || shown_name.get()}</h3>
            <dl class="card-data">
                {row(T::PkCreated, show_time(p.created_at))}
                <div class="card-row"><dt>{move || i.t(T::PkLastUsed)}</dt>
                    <dd>{move || last_used.clone().unwrap_or_else(|| i.t(T::PkNeverUsed))}</dd></div>
                {row(T::PkCard, p.card_number_masked.clone())}
            </dl>
            <Show when=move || renaming.get()>
                <form class="passkey-rename" on:submit=save novalidate>
                    <div class="field">
                        <label for=label_for.clone()>{move || i.t(T::PkName)}</label>
                        <input id=input_id.clone() type="text" maxlength="64" autocomplete="off"
                            aria-invalid=move || rename_error.with(Option::is_some).then_some("true")
                            prop:value=move || new_name.get()
                            on:input=move |ev| new_name.set(event_target_value(&ev)) />
                        <p class="field-error" hidden=move || rename_error.with(Option::is_none)>
                            {move || rename_error.get().map(|m| m.render(i))}
                        </p>
                    </div>
                    <div class="actions">
                        <button type="submit" class="button button-primary passkey-rename-save" aria-busy=move || busy.get().then_some("true")>
                            {move || i.t(T::PkSave)}
                        </button>
                        <button type="button" class="button button-secondary" on:click=move |_| renaming.set(false)>
                            {move || i.t(T::PkCancel)}
                        </button>
                    </div>
                </form>
            </Show>
            <Show when=move || !renaming.get()>
                <div class="actions">
                    <button type="button" class="button button-secondary passkey-rename"
                        on:click=move |_| { new_name.set(shown_name.get_untracked()); renaming.set(true); }>
                        {move || i.t(T::PkRename)}
                    </button>
                    <Show when=move || !confirming.get()>
                        <button type="button" class="button button-secondary passkey-remove" on:click=move |_| confirming.set(true)>
                            {move || i.t(T::PkRemove)}
                        </button>
                    </Show>
                    <Show when=move || confirming.get()>
                        <button type="button" class="button button-danger passkey-remove-confirm"
                            aria-busy=move || busy.get().then_some("true") on:click=remove>
                            {move || i.t(T::PkRemoveConfirm)}
                        </button>
                        <button type="button" class="button button-secondary" on:click=move |_| confirming.set(false)>
                            {move || i.t(T::PkCancel)}
                        </button>
                    </Show>
                </div>
            </Show>
        </li>
    }
}
