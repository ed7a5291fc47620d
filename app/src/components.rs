//! Building blocks shared by the pages: form fields, the card reader, messages.

use leptos::prelude::*;
use nhi_protocol::api::ErrorCode as ApiCode;
use nhi_protocol::bridge::{BridgeError, ErrorCode};
use nhi_protocol::{CardBasicData, Sex};

use crate::i18n::{use_i18n, Msg, T};
use crate::route::Link;

/// The page heading; focus moves here after navigation.
#[component]
pub fn PageTitle(key: T) -> impl IntoView {
    let i = use_i18n();
    // Each page has its own document title (WCAG 2.4.2), in the chosen language.
    Effect::new(move |_| {
        let (page, app) = (i.t(key), i.t(T::AppTitle));
        let title = if page == app {
            app.to_string()
        } else {
            format!("{page} · {app}")
        };
        if let Some(doc) = web_sys::window().and_then(|w| w.document()) {
            doc.set_title(&title);
        }
    });
    view! { <h1 id="page-title" tabindex="-1">{move || i.t(key)}</h1> }
}

/// An error (role=alert, announced at once) or a notice (role=status).
#[component]
pub fn MessageBox(
    #[prop(into)] msg: Signal<Option<Msg>>,
    #[prop(optional)] notice: bool,
) -> impl IntoView {
    let i = use_i18n();
    let (class, role) = if notice {
        ("message message-ok", "status")
    } else {
        ("message message-error", "alert")
    };
    // The live region stays in the DOM; only its text changes, so it is announced.
    let download = move || {
        msg.with(|m| m.as_ref().and_then(download_link)).map(|k| {
            view! { " " <Link href="/download" class="button-link">{move || i.t(k)}</Link> }
        })
    };
    view! {
        <div role=role class=move || if msg.with(Option::is_some) { class } else { "message-empty" }>
            {move || msg.get().map(|m| m.render(i))}
            {download}
        </div>
    }
}

/// The downloads page's link for a message whose remedy is installing or updating a local
/// component (as the self-check's remedies have): an outdated card proof means the card
/// reader component (or the extension) is too old.
fn download_link(msg: &Msg) -> Option<T> {
    match msg {
        Msg::Api(ApiCode::CardProofOutdated, _)
        | Msg::Bridge(ErrorCode::BridgeMissing | ErrorCode::BridgeVersion) => Some(T::GetBridge),
        Msg::Bridge(ErrorCode::ExtensionMissing | ErrorCode::ExtensionVersion) => {
            Some(T::GetExtension)
        }
        _ => None,
    }
}

/// A labelled text input with its hint and its own error message.
#[component]
pub fn Field(
    id: &'static str,
    label: T,
    value: RwSignal<String>,
    #[prop(into)] error: Signal<Option<Msg>>,
    #[prop(optional)] hint: Option<T>,
    #[prop(default = "text")] kind: &'static str,
    #[prop(default = "off")] autocomplete: &'static str,
    #[prop(optional)] required: bool,
    #[prop(optional)] inputmode: Option<&'static str>,
    #[prop(optional)] maxlength: Option<&'static str>,
) -> impl IntoView {
    let i = use_i18n();
    let hint_id = format!("{id}-hint");
    let err_id = format!("{id}-error");
    let described = {
        let (h, e) = (hint_id.clone(), err_id.clone());
        move || {
            let mut ids = Vec::new();
            if hint.is_some() {
                ids.push(h.clone());
            }
            if error.with(Option::is_some) {
                ids.push(e.clone());
            }
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    view! {
        <div class="field" class:field-invalid=move || error.with(Option::is_some)>
            <label for=id>
                {move || i.t(label)}
                {required.then(|| view! { <span class="required" aria-hidden="true">" *"</span> })}
            </label>
            {hint.map(|h| view! { <p class="hint" id=hint_id.clone()>{move || i.t(h)}</p> })}
            <p class="field-error" id=err_id.clone() hidden=move || error.with(Option::is_none)>
                {move || error.get().map(|m| m.render(i))}
            </p>
            <input
                id=id
                name=id
                type=kind
                autocomplete=autocomplete
                inputmode=inputmode
                maxlength=maxlength
                required=required
                aria-required=required.then_some("true")
                aria-invalid=move || error.with(Option::is_some).then_some("true")
                aria-describedby=described
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
            />
        </div>
    }
}

/// The masked card data, as a description list.
#[component]
pub fn MaskedCard(card: CardBasicData) -> impl IntoView {
    let i = use_i18n();
    let m = card.masked();
    let sex = m.sex;
    let row = move |k: T, v: String| {
        view! {
            <div class="card-row">
                <dt>{move || i.t(k)}</dt>
                <dd>{v}</dd>
            </div>
        }
    };
    view! {
        <section class="card-data" aria-labelledby="card-data-title">
            <h2 id="card-data-title">{move || i.t(T::CardDataTitle)}</h2>
            <dl id="card-data">
                {row(T::CardNumber, m.card_number)}
                {row(T::Name, m.name)}
                {row(T::NationalId, m.national_id)}
                {row(T::BirthDate, m.birth_date)}
                <div class="card-row">
                    <dt>{move || i.t(T::Sex)}</dt>
                    <dd>{move || i.t(match sex { Sex::Male => T::Male, Sex::Female => T::Female })}</dd>
                </div>
            </dl>
        </section>
    }
}

/// 「讀取」: reads the card through the bridge and shows the masked data. `on_read` runs
/// after a successful read (e.g. F2 confirms right away).
#[component]
pub fn CardReader(
    card: RwSignal<Option<CardBasicData>>,
    error: RwSignal<Option<BridgeError>>,
    #[prop(optional)] on_read: Option<Callback<CardBasicData>>,
    #[prop(optional)] hide_error: Option<ErrorCode>,
    /// The page's own message, cleared by a successful read when it is about the card
    /// (「請先讀取健保卡」, a card or bridge error from a submit's card proof).
    #[prop(optional)]
    page_error: Option<RwSignal<Option<Msg>>>,
) -> impl IntoView {
    let i = use_i18n();
    let busy = RwSignal::new(false);
    let read = move |_| {
        if busy.get_untracked() {
            return;
        }
        crate::util::mark("nhi-read-start");
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            let result = crate::bridge::read_basic_data().await;
            busy.set(false);
            match result {
                Ok(data) => {
                    if let Some(e) = page_error {
                        if e.with_untracked(|m| m.as_ref().is_some_and(is_about_the_card)) {
                            e.set(None);
                        }
                    }
                    card.set(Some(data.clone()));
                    crate::util::measure_after_paint("nhi-read", "nhi-read-start");
                    if let Some(cb) = on_read {
                        cb.run(data);
                    }
                }
                Err(e) => {
                    card.set(None);
                    error.set(Some(e));
                }
            }
        });
    };
    let shown_error = Signal::derive(move || {
        error
            .get()
            .filter(|e| Some(e.code) != hide_error)
            .map(|e| Msg::Bridge(e.code))
    });
    view! {
        <div class="card-reader">
            <p class="hint">{move || i.t(T::InsertCardPrompt)}</p>
            <button
                type="button"
                id="read-card"
                class="button button-primary"
                aria-busy=move || busy.get().then_some("true")
                on:click=read
            >
                {move || if busy.get() { i.t(T::Reading) } else { i.t(T::ReadCard) }}
            </button>
            <MessageBox msg=shown_error />
            {move || card.get().map(|c| view! { <MaskedCard card=c /> })}
        </div>
    }
}

/// A message a successful card read makes obsolete.
pub fn is_about_the_card(m: &Msg) -> bool {
    matches!(m, Msg::Key(T::CardNeeded) | Msg::Bridge(_))
}

/// A primary submit button that shows when it is working.
#[component]
pub fn SubmitButton(
    label: T,
    #[prop(into)] busy: Signal<bool>,
    #[prop(optional)] id: &'static str,
) -> impl IntoView {
    let i = use_i18n();
    view! {
        <button
            type="submit"
            id=id
            class="button button-primary"
            aria-busy=move || busy.get().then_some("true")
        >
            {move || if busy.get() { i.t(T::Sending) } else { i.t(label) }}
        </button>
    }
}
