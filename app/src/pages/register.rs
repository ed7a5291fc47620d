//! F1: the registration wizard — terms → read card → household → password and contacts →
//! pending. Everything typed lives in the page's signals, so going back, switching language
//! or a failed submit loses nothing.

use std::str::FromStr;

use leptos::prelude::*;
use nhi_protocol::api::{
    County, HouseholdCheckRequest, HouseholdCheckResponse, HouseholdInfo, PlacesResponse,
    ProofPurpose, RegisterRequest, RegisterResponse,
};
use nhi_protocol::bridge::BridgeError;
use nhi_protocol::password::{PasswordPolicy, PersonalData};
use nhi_protocol::{CardBasicData, Email, HouseholdNumber, MobileNumber, PhoneNumber};

use crate::api::{self, Failure};
use crate::components::{CardReader, Field, MessageBox, PageTitle, SubmitButton};
use crate::i18n::{step_of, use_i18n, Msg, T};
use crate::pages::password::{PasswordMeter, PasswordMeterState};
use crate::route::Link;
use crate::util::focus_id;

const STEPS: [T; 5] = [
    T::StepTerms,
    T::StepCard,
    T::StepHousehold,
    T::StepPassword,
    T::StepDone,
];

type Err = RwSignal<Option<Msg>>;

#[derive(Clone, Copy)]
struct Form {
    step: RwSignal<usize>,
    agreed: RwSignal<bool>,
    card: RwSignal<Option<CardBasicData>>,
    card_error: RwSignal<Option<BridgeError>>,
    household: RwSignal<String>,
    county: RwSignal<String>,
    township: RwSignal<String>,
    village: RwSignal<String>,
    neighbourhood: RwSignal<String>,
    password: RwSignal<String>,
    password2: RwSignal<String>,
    email: RwSignal<String>,
    mobile: RwSignal<String>,
    phone: RwSignal<String>,
    e_terms: Err,
    e_card: Err,
    e_household: Err,
    e_county: Err,
    e_township: Err,
    e_village: Err,
    e_neighbourhood: Err,
    e_password: Err,
    e_password2: Err,
    e_email: Err,
    e_mobile: Err,
    e_phone: Err,
    form_error: Err,
    email_masked: RwSignal<String>,
    meter: PasswordMeterState,
    places: RwSignal<Option<Vec<County>>>,
}

impl Form {
    fn new() -> Self {
        let s = || RwSignal::new(String::new());
        let e = || RwSignal::new(None);
        Self {
            step: RwSignal::new(1),
            agreed: RwSignal::new(false),
            card: RwSignal::new(None),
            card_error: RwSignal::new(None),
            household: s(),
            county: s(),
            township: s(),
            village: s(),
            neighbourhood: s(),
            password: s(),
            password2: s(),
            email: s(),
            mobile: s(),
            phone: s(),
            e_terms: e(),
            e_card: e(),
            e_household: e(),
            e_county: e(),
            e_township: e(),
            e_village: e(),
            e_neighbourhood: e(),
            e_password: e(),
            e_password2: e(),
            e_email: e(),
            e_mobile: e(),
            e_phone: e(),
            form_error: e(),
            email_masked: s(),
            meter: PasswordMeterState::new(),
            places: RwSignal::new(None),
        }
    }

    fn go(&self, step: usize) {
        self.form_error.set(None);
        self.step.set(step);
        focus_id("step-title");
    }

    fn person(&self) -> PersonalData {
        person_of(
            self.card.get_untracked().as_ref(),
            &self.email.get_untracked(),
        )
    }

    fn household_info(&self) -> Option<HouseholdInfo> {
        let mut ok = true;
        let mut need = |v: RwSignal<String>, e: Err| {
            let empty = v.with_untracked(|s| s.trim().is_empty());
            e.set(empty.then_some(Msg::Key(T::FieldRequired)));
            ok &= !empty;
        };
        need(self.county, self.e_county);
        need(self.township, self.e_township);
        need(self.village, self.e_village);
        let number = HouseholdNumber::from_str(self.household.get_untracked().trim());
        self.e_household.set(
            match (
                &number,
                self.household.with_untracked(|s| s.trim().is_empty()),
            ) {
                (_, true) => Some(Msg::Key(T::FieldRequired)),
                (Err(_), false) => Some(Msg::Key(T::HouseholdInvalid)),
                (Ok(_), false) => None,
            },
        );
        let neighbourhood = self
            .neighbourhood
            .get_untracked()
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|n| (1..=99).contains(n));
        self.e_neighbourhood.set(
            neighbourhood
                .is_none()
                .then_some(Msg::Key(T::NeighbourhoodInvalid)),
        );
        match (ok, number, neighbourhood) {
            (true, Ok(household_number), Some(neighbourhood)) => Some(HouseholdInfo {
                household_number,
                county: self.county.get_untracked(),
                township: self.township.get_untracked(),
                village: self.village.get_untracked(),
                neighbourhood,
            }),
            _ => None,
        }
    }
}

pub fn person_of(card: Option<&CardBasicData>, email: &str) -> PersonalData {
    PersonalData {
        national_id: card.map(|c| c.national_id.clone()),
        card_number: card.map(|c| c.card_number.clone()),
        birth_date: card.map(|c| c.birth_date),
        other_inputs: card
            .map(|c| c.name.clone())
            .into_iter()
            .chain((!email.is_empty()).then(|| email.to_string()))
            .collect(),
    }
}

#[component]
pub fn Register() -> impl IntoView {
    let i = use_i18n();
    let f = Form::new();
    // The strength worker downloads while the user reads the terms.
    crate::strength::start();
    // The places for the address (none: the step says they are still loading). A task, not
    // a `LocalResource`, for the first page's size budget (app README).
    leptos::task::spawn_local(async move {
        if let Ok(p) = api::get::<PlacesResponse>("/places").await {
            f.places.set(Some(p.counties));
        }
    });
    let step = move || f.step.get();
    view! {
        <PageTitle key=T::RegTitle />
        <nav aria-label=move || i.t(T::StepsLabel)>
            <ol class="wizard-steps">
                {STEPS
                    .into_iter()
                    .enumerate()
                    .map(|(n, key)| {
                        let n = n + 1;
                        let st = f.step;
                        view! {
                            <li
                                class:done=move || { st.get() > n }
                                class:current=move || st.get() == n
                                aria-current=move || (st.get() == n).then_some("step")
                            >
                                <span class="step-number" aria-hidden="true">{n}</span>
                                <span class="step-name">{move || i.t(key)}</span>
                            </li>
                        }
                    })
                    .collect_view()}
            </ol>
        </nav>
        <section class="wizard-panel" aria-labelledby="step-title">
            <h2 id="step-title" tabindex="-1">
                <span class="step-of">{move || step_of(i, step(), STEPS.len())}</span>
                {move || i.t(STEPS[step().clamp(1, STEPS.len()) - 1])}
            </h2>
            {move || match step() {
                1 => view! { <TermsStep f /> }.into_any(),
                2 => view! { <CardStep f /> }.into_any(),
                3 => view! { <HouseholdStep f /> }.into_any(),
                4 => view! { <PasswordStep f /> }.into_any(),
                _ => view! { <PendingStep f /> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn TermsStep(f: Form) -> impl IntoView {
    let i = use_i18n();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if f.agreed.get_untracked() {
            f.e_terms.set(None);
            f.go(2);
        } else {
            f.e_terms.set(Some(Msg::Key(T::TermsMustAgree)));
            focus_id("agree");
        }
    };
    view! {
        <form on:submit=submit novalidate>
            <h3>{move || i.t(T::TermsTitle)}</h3>
            <div class="terms" tabindex="0" role="region" aria-label=move || i.t(T::TermsTitle)>
                <p>{move || i.t(T::Terms1)}</p>
                <p>{move || i.t(T::Terms2)}</p>
                <p>{move || i.t(T::Terms3)}</p>
                <p>{move || i.t(T::Terms4)}</p>
            </div>
            <div class="field field-check" class:field-invalid=move || f.e_terms.with(Option::is_some)>
                <p class="field-error" id="agree-error" hidden=move || f.e_terms.with(Option::is_none)>
                    {move || f.e_terms.get().map(|m| m.render(i))}
                </p>
                <input
                    type="checkbox"
                    id="agree"
                    aria-describedby=move || f.e_terms.with(Option::is_some).then_some("agree-error")
                    aria-invalid=move || f.e_terms.with(Option::is_some).then_some("true")
                    prop:checked=move || f.agreed.get()
                    on:change=move |ev| f.agreed.set(event_target_checked(&ev))
                />
                <label for="agree">{move || i.t(T::TermsAgree)}</label>
            </div>
            <div class="actions">
                <button type="submit" id="next" class="button button-primary">{move || i.t(T::Next)}</button>
            </div>
        </form>
    }
}

#[component]
fn CardStep(f: Form) -> impl IntoView {
    let i = use_i18n();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if f.card.with_untracked(Option::is_some) {
            f.e_card.set(None);
            f.go(3);
        } else {
            f.e_card.set(Some(Msg::Key(T::CardNeeded)));
        }
    };
    view! {
        <CardReader card=f.card error=f.card_error />
        <form on:submit=submit novalidate>
            <MessageBox msg=f.e_card />
            <div class="actions">
                <button type="button" class="button button-secondary" on:click=move |_| f.go(1)>{move || i.t(T::Back)}</button>
                <button type="submit" id="next" class="button button-primary">{move || i.t(T::Next)}</button>
            </div>
        </form>
    }
}

/// A labelled `<select>` of names; the first option asks to choose.
#[component]
fn PlaceSelect(
    id: &'static str,
    label: T,
    value: RwSignal<String>,
    #[prop(into)] options: Signal<Vec<String>>,
    error: Err,
    #[prop(optional)] on_change: Option<Callback<()>>,
) -> impl IntoView {
    let i = use_i18n();
    let err_id = format!("{id}-error");
    let err_id2 = err_id.clone();
    view! {
        <div class="field" class:field-invalid=move || error.with(Option::is_some)>
            <label for=id>{move || i.t(label)}<span class="required" aria-hidden="true">" *"</span></label>
            <p class="field-error" id=err_id hidden=move || error.with(Option::is_none)>
                {move || error.get().map(|m| m.render(i))}
            </p>
            <select
                id=id
                name=id
                required=true
                aria-invalid=move || error.with(Option::is_some).then_some("true")
                aria-describedby=move || error.with(Option::is_some).then(|| err_id2.clone())
                on:change=move |ev| {
                    value.set(event_target_value(&ev));
                    error.set(None);
                    if let Some(cb) = on_change {
                        cb.run(());
                    }
                }
                prop:value=move || value.get()
            >
                <option value="" selected=move || value.with(String::is_empty)>{move || i.t(T::ChooseOne)}</option>
                {move || {
                    options
                        .get()
                        .into_iter()
                        .map(|name| {
                            let n2 = name.clone();
                            let n3 = name.clone();
                            view! { <option value=name selected=move || value.with(|v| *v == n2)>{n3}</option> }
                        })
                        .collect_view()
                }}
            </select>
        </div>
    }
}

#[component]
fn HouseholdStep(f: Form) -> impl IntoView {
    let i = use_i18n();
    let counties = Signal::derive(move || {
        f.places
            .with(|p| {
                p.as_ref()
                    .map(|p| p.iter().map(|c| c.name.clone()).collect())
            })
            .unwrap_or_default()
    });
    let townships = Signal::derive(move || {
        let county = f.county.get();
        f.places
            .with(|p| {
                p.as_ref()?
                    .iter()
                    .find(|c| c.name == county)
                    .map(|c| c.townships.iter().map(|t| t.name.clone()).collect())
            })
            .unwrap_or_default()
    });
    let villages = Signal::derive(move || {
        let (county, township) = (f.county.get(), f.township.get());
        f.places
            .with(|p| {
                p.as_ref()?
                    .iter()
                    .find(|c| c.name == county)?
                    .townships
                    .iter()
                    .find(|t| t.name == township)
                    .map(|t| t.villages.clone())
            })
            .unwrap_or_default()
    });
    // The card proves the household check (F1 step 3), as an action.
    let check = move |household: &HouseholdInfo| {
        let household = household.clone();
        async move {
            match api::with_card_proof::<_, HouseholdCheckResponse>(
                ProofPurpose::Register,
                "/registrations/household-check",
                |proof| HouseholdCheckRequest { proof, household },
            )
            .await
            {
                Ok(_) => f.go(4),
                Err(e) => show_refusal(f, &e),
            }
        }
    };
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let Some(household) = f.household_info() else {
            f.form_error.set(Some(Msg::Key(T::FixErrors)));
            return;
        };
        // The card must have been read (step 2); the server takes the holder from the
        // proof's verified record, not from what the page read.
        if f.card.with_untracked(Option::is_none) {
            f.go(2);
            return;
        }
        f.form_error.set(None);
        crate::util::submit(busy, check(&household));
    };
    view! {
        <form on:submit=submit novalidate>
            <Field id="household" label=T::HouseholdNumber hint=T::HouseholdHint value=f.household error=f.e_household required=true maxlength="8" />
            <fieldset>
                <legend>{move || i.t(T::Address)}</legend>
                <p class="hint" hidden=move || f.places.with(Option::is_some)>{move || i.t(T::PlacesLoading)}</p>
                <PlaceSelect id="county" label=T::County value=f.county options=counties error=f.e_county
                    on_change=Callback::new(move |_| { f.township.set(String::new()); f.village.set(String::new()); }) />
                <PlaceSelect id="township" label=T::Township value=f.township options=townships error=f.e_township
                    on_change=Callback::new(move |_| f.village.set(String::new())) />
                <PlaceSelect id="village" label=T::Village value=f.village options=villages error=f.e_village />
                <Field id="neighbourhood" label=T::Neighbourhood value=f.neighbourhood error=f.e_neighbourhood required=true inputmode="numeric" maxlength="2" />
            </fieldset>
            <MessageBox msg=f.form_error />
            <div class="actions">
                <button type="button" class="button button-secondary" on:click=move |_| f.go(2)>{move || i.t(T::Back)}</button>
                <SubmitButton label=T::Next busy id="next" />
            </div>
        </form>
    }
}

/// A refused household check or registration: the password rule the server names, the field
/// it names, and the message.
fn show_refusal(f: Form, e: &Failure) {
    if let Failure::Api(a) = e {
        if let Some(p) = a.password_problems.first() {
            f.e_password.set(Some(Msg::Problem(*p)));
        }
        mark_bad_field(f, a.field.as_deref());
    }
    f.form_error.set(Some(Msg::from(e)));
}

fn mark_bad_field(f: Form, field: Option<&str>) {
    let target = match field.unwrap_or_default() {
        "household.household_number" | "household_number" => f.e_household,
        "household.neighbourhood" | "neighbourhood" => f.e_neighbourhood,
        "email" => f.e_email,
        "mobile" => f.e_mobile,
        "phone" => f.e_phone,
        "password" => f.e_password,
        _ => return,
    };
    let key = match field.unwrap_or_default() {
        "email" => T::EmailInvalid,
        "mobile" => T::MobileInvalid,
        "phone" => T::PhoneInvalid,
        "household.neighbourhood" | "neighbourhood" => T::NeighbourhoodInvalid,
        "password" => T::FixErrors,
        _ => T::HouseholdInvalid,
    };
    target.set(Some(Msg::Key(key)));
}

/// Parses an optional contact field, setting its error.
fn optional<V: FromStr>(value: RwSignal<String>, error: Err, bad: T) -> Result<Option<V>, ()> {
    let text = value.get_untracked();
    let text = text.trim();
    if text.is_empty() {
        error.set(None);
        return Ok(None);
    }
    match V::from_str(text) {
        Ok(v) => {
            error.set(None);
            Ok(Some(v))
        }
        Err(_) => {
            error.set(Some(Msg::Key(bad)));
            Err(())
        }
    }
}

/// What step 4 sends, besides the card proof (made when it is sent).
#[derive(Clone)]
struct RegisterInput {
    household: HouseholdInfo,
    password: String,
    email: Email,
    mobile: Option<MobileNumber>,
    phone: Option<PhoneNumber>,
}

#[component]
fn PasswordStep(f: Form) -> impl IntoView {
    let i = use_i18n();
    let policy = PasswordPolicy::default();
    // The card proves the registration itself (F1 step 4; a second nonce), as an action.
    let send = move |input: &RegisterInput| {
        let input = input.clone();
        async move {
            match api::with_card_proof::<_, RegisterResponse>(
                ProofPurpose::Register,
                "/registrations",
                |proof| RegisterRequest {
                    proof,
                    household: input.household,
                    password: input.password,
                    email: input.email,
                    mobile: input.mobile,
                    phone: input.phone,
                },
            )
            .await
            {
                Ok(r) => {
                    f.email_masked.set(r.email_masked);
                    f.go(5);
                }
                Err(e) => show_refusal(f, &e),
            }
        }
    };
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let password = f.password.get_untracked();
        let person = f.person();
        // The meter's judgement (`PasswordPolicy::assess`), so the two cannot disagree.
        let problems = policy
            .assess(&password, &person, f.meter.strength())
            .verdict
            .problems;
        f.e_password.set(problems.first().map(|p| Msg::Problem(*p)));
        let same = password == f.password2.get_untracked();
        f.e_password2
            .set((!same).then_some(Msg::Key(T::PasswordMismatch)));
        let email_text = f.email.get_untracked();
        let email = Email::from_str(email_text.trim());
        f.e_email.set(match (&email, email_text.trim().is_empty()) {
            (_, true) => Some(Msg::Key(T::FieldRequired)),
            (Err(_), false) => Some(Msg::Key(T::EmailInvalid)),
            _ => None,
        });
        let mobile = optional::<MobileNumber>(f.mobile, f.e_mobile, T::MobileInvalid);
        let phone = optional::<PhoneNumber>(f.phone, f.e_phone, T::PhoneInvalid);
        let (Ok(email), Ok(mobile), Ok(phone), true, true) =
            (email, mobile, phone, problems.is_empty(), same)
        else {
            f.form_error.set(Some(Msg::Key(T::FixErrors)));
            return;
        };
        let (true, Some(household)) = (f.card.with_untracked(Option::is_some), f.household_info())
        else {
            f.go(2);
            return;
        };
        f.form_error.set(None);
        crate::util::submit(
            busy,
            send(&RegisterInput {
                household,
                password,
                email,
                mobile,
                phone,
            }),
        );
    };
    let person = Signal::derive(move || person_of(f.card.get().as_ref(), &f.email.get()));
    view! {
        <form on:submit=submit novalidate>
            <Field id="password" label=T::Password hint=T::PasswordHint value=f.password error=f.e_password
                kind="password" autocomplete="new-password" required=true maxlength="64" />
            <PasswordMeter password=f.password person state=f.meter />
            <Field id="password2" label=T::PasswordRepeat value=f.password2 error=f.e_password2
                kind="password" autocomplete="new-password" required=true maxlength="64" />
            <Field id="email" label=T::Email hint=T::EmailHint value=f.email error=f.e_email
                kind="email" autocomplete="email" required=true />
            <Field id="mobile" label=T::Mobile hint=T::MobileHint value=f.mobile error=f.e_mobile
                kind="tel" autocomplete="tel" inputmode="tel" />
            <Field id="phone" label=T::Phone hint=T::PhoneHint value=f.phone error=f.e_phone
                kind="tel" autocomplete="tel" inputmode="tel" />
            <MessageBox msg=f.form_error />
            <div class="actions">
                <button type="button" class="button button-secondary" on:click=move |_| f.go(3)>{move || i.t(T::Back)}</button>
                <SubmitButton label=T::Submit busy id="submit" />
            </div>
        </form>
    }
}

#[component]
fn PendingStep(f: Form) -> impl IntoView {
    let i = use_i18n();
    let sent = Signal::derive(move || Some(Msg::Pending(f.email_masked.get())));
    view! {
        <div id="pending">
            <h3>{move || i.t(T::PendingTitle)}</h3>
            <MessageBox msg=sent notice=true />
            <p>{move || i.t(T::PendingNext)}</p>
            <p><Link href="/resend">{move || i.t(T::NavResend)}</Link></p>
        </div>
    }
}
