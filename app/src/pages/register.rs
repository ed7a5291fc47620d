//! F1: the registration wizard — terms → read card → household → password and contacts →
//! pending. Everything typed lives in the page's signals, so going back, switching language
//! or a failed submit loses nothing.
//!
//! Reload, Back and Forward (issue 17): the step is in the address (`/register?step=3`, one
//! history entry per step, so Back and Forward move between steps), and what was typed is
//! kept in `sessionStorage` (`nhi.register`, one a line: the terms agreed, household, address and
//! contacts, the masked address of the pending page, and a fingerprint of the card number)
//! — never the password, a nonce, a card proof or the card's record. The card read stays in
//! memory only: Back and Forward keep it, a reload asks to read it again and goes on to the
//! step in the address; a different card drops what was kept for the other one.

use std::cell::RefCell;
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
use crate::i18n::{step_of, use_i18n, Lang, Msg, T};
use crate::pages::password::{PasswordMeter, PasswordMeterState};
use crate::route::{use_route, Link, Route};
use crate::util::focus_id;

/// The `sessionStorage` key of the wizard's entries.
const SAVED: &str = "nhi.register";

thread_local! {
    /// The card read during this page load, in memory only: Back and Forward rebuild the page
    /// and find it here; a reload does not.
    static CARD: RefCell<Option<CardBasicData>> = const { RefCell::new(None) };
}

/// A non-secret fingerprint of a card: FNV-1a (64 bit) of its number, to tell after a reload
/// whether the card read again is the one the kept entries were typed for. Not the number,
/// not the record.
pub fn card_fingerprint(card_number: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in "nhi.register:".bytes().chain(card_number.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h.to_string()
}

/// Where a (re)built wizard resumes for the step its address asks for (`want`): the step
/// shown, and the step to go on to once the card has been read again.
pub fn resume_at(want: usize, agreed: bool, has_card: bool, done: bool) -> (usize, Option<usize>) {
    let want = want.clamp(1, 5);
    if want == 5 && done {
        return (5, None);
    }
    let want = want.min(4);
    if want >= 2 && !agreed {
        (1, None)
    } else if want >= 3 && !has_card {
        (2, Some(want))
    } else {
        (want, None)
    }
}

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
    /// The fingerprint of the card the kept entries belong to ([`card_fingerprint`]).
    card_fp: RwSignal<Option<String>>,
    /// After a reload: the step to go on to once the card is read again.
    resume: RwSignal<Option<usize>>,
    route: Route,
}

impl Form {
    fn new(route: Route) -> Self {
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
            card_fp: RwSignal::new(None),
            resume: RwSignal::new(None),
            route,
        }
    }

    /// A new step: its own history entry (`?step=`), so Back and Forward move between steps.
    fn go(&self, step: usize) {
        self.form_error.set(None);
        self.step.set(step);
        self.route.push_in_page(&format!("/register?step={step}"));
        focus_id("step-title");
    }

    /// The kept text entries, in their storage order.
    fn kept(&self) -> [RwSignal<String>; 9] {
        [
            self.household,
            self.county,
            self.township,
            self.village,
            self.neighbourhood,
            self.email,
            self.mobile,
            self.phone,
            self.email_masked,
        ]
    }

    /// Writes the entries to `sessionStorage` (tracked: run from an effect), one a line in
    /// a fixed order (a form field's value has no line break): terms agreed, the card's
    /// fingerprint, then [`Form::kept`]. Never the password, a nonce, a proof or the card's
    /// record.
    fn save(&self) {
        let mut lines = vec![
            if self.agreed.get() { "1" } else { "" }.to_owned(),
            self.card_fp.get().unwrap_or_default(),
        ];
        for v in self.kept() {
            lines.push(v.get().replace('\n', " "));
        }
        crate::session::stash_set(SAVED, &lines.join("\n"));
    }

    /// Reads the entries back from `sessionStorage`.
    fn restore(&self) {
        let Some(text) = crate::session::stash_get(SAVED) else {
            return;
        };
        let mut lines = text.split('\n');
        self.agreed.set(lines.next() == Some("1"));
        self.card_fp
            .set(lines.next().filter(|l| !l.is_empty()).map(str::to_owned));
        for v in self.kept() {
            v.set(lines.next().unwrap_or_default().to_owned());
        }
    }

    /// A card was read: a different card than the entries were kept for drops them; after a
    /// reload, the wizard goes on to the step it was on.
    fn card_read(&self, card: &CardBasicData) {
        self.e_card.set(None);
        self.form_error.set(None);
        let fp = card_fingerprint(card.card_number.as_str());
        if self.card_fp.get_untracked().is_some_and(|old| old != fp) {
            for v in self.kept() {
                v.set(String::new());
            }
            self.resume.set(None);
            // (The card step's own message box: one box, for the first page's size budget.)
            self.e_card.set(Some(Msg::Key(T::RegOtherCard)));
        }
        self.card_fp.set(Some(fp));
        if let Some(step) = self.resume.get_untracked() {
            // The address already names this step.
            self.resume.set(None);
            self.step.set(step);
            focus_id("step-title");
        }
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
    let f = Form::new(use_route());
    // What was kept in this tab (reload, Back, Forward), the card read in this page load if
    // it is the one the entries belong to, and the step the address asks for.
    f.restore();
    let card = CARD
        .with(|c| c.borrow().clone())
        .filter(|c| f.card_fp.get_untracked() == Some(card_fingerprint(c.card_number.as_str())));
    let want = crate::util::query_param("step")
        .and_then(|s| s.parse::<u16>().ok())
        .map_or(1, usize::from);
    let (shown, resume) = resume_at(
        want,
        f.agreed.get_untracked(),
        card.is_some(),
        f.email_masked.with_untracked(|m| !m.is_empty()),
    );
    if resume.is_some() {
        f.e_card.set(Some(Msg::Key(T::RegReadAgain)));
    }
    f.card.set(card);
    f.step.set(shown);
    f.resume.set(resume);
    if resume.is_none() && shown != want {
        f.route.replace_in_page(&format!("/register?step={shown}"));
    }
    // One effect (the first page's size budget): the entries to storage, the card to memory.
    Effect::new(move |_| {
        f.save();
        let card = f.card.get();
        CARD.with(|c| *c.borrow_mut() = card);
    });
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
        <CardReader card=f.card error=f.card_error on_read=Callback::new(move |c: CardBasicData| f.card_read(&c)) />
        <form on:submit=submit novalidate>
            <MessageBox msg=f.e_card />
            <div class="actions">
                <button type="button" class="button button-secondary" on:click=move |_| f.go(1)>{move || i.t(T::Back)}</button>
                <button type="submit" id="next" class="button button-primary">{move || i.t(T::Next)}</button>
            </div>
        </form>
    }
}

/// One place of an address `<select>`: its official name (the value) and how it is shown.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaceOption {
    value: String,
    label: String,
}

/// A place shown in the page's language: the registry's romanisation in English (the Chinese
/// name where the registry has none).
pub fn place_option(name: &str, name_en: &str, lang: Lang) -> PlaceOption {
    let english = lang == Lang::En && !name_en.is_empty();
    PlaceOption {
        value: name.to_owned(),
        label: if english { name_en } else { name }.to_owned(),
    }
}

/// A labelled `<select>` of names; the first option asks to choose.
#[component]
fn PlaceSelect(
    id: &'static str,
    label: T,
    value: RwSignal<String>,
    #[prop(into)] options: Signal<Vec<PlaceOption>>,
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
                        .map(|o| {
                            let n2 = o.value.clone();
                            view! { <option value=o.value selected=move || value.with(|v| *v == n2)>{o.label}</option> }
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
    // The options: the official Chinese name as the value (what the check sends), shown in
    // the page's language (the registry's romanisation in English).
    let counties = Signal::derive(move || {
        let lang = i.get();
        f.places
            .with(|p| {
                p.as_ref().map(|p| {
                    p.iter()
                        .map(|c| place_option(&c.name, &c.name_en, lang))
                        .collect()
                })
            })
            .unwrap_or_default()
    });
    let townships = Signal::derive(move || {
        let (county, lang) = (f.county.get(), i.get());
        f.places
            .with(|p| {
                p.as_ref()?.iter().find(|c| c.name == county).map(|c| {
                    c.townships
                        .iter()
                        .map(|t| place_option(&t.name, &t.name_en, lang))
                        .collect()
                })
            })
            .unwrap_or_default()
    });
    let villages = Signal::derive(move || {
        let (county, township, lang) = (f.county.get(), f.township.get(), i.get());
        f.places
            .with(|p| {
                p.as_ref()?
                    .iter()
                    .find(|c| c.name == county)?
                    .townships
                    .iter()
                    .find(|t| t.name == township)
                    .map(|t| {
                        let en = t.villages_en.iter().map(String::as_str);
                        t.villages
                            .iter()
                            .zip(en.chain(std::iter::repeat("")))
                            .map(|(v, e)| place_option(v, e, lang))
                            .collect()
                    })
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
                    // Registered: nothing typed is kept any longer, only what the pending
                    // page shows (a reload shows it again).
                    for v in f.kept() {
                        v.set(String::new());
                    }
                    f.agreed.set(false);
                    f.card_fp.set(None);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reload_resumes_where_it_can() {
        // Terms not agreed: the start, whatever the address says.
        assert_eq!(resume_at(3, false, false, false), (1, None));
        // A reload on steps 3 and 4: the card is read again first, then on to the step.
        assert_eq!(resume_at(3, true, false, false), (2, Some(3)));
        assert_eq!(resume_at(4, true, false, false), (2, Some(4)));
        // Back and Forward keep the card (in memory).
        assert_eq!(resume_at(4, true, true, false), (4, None));
        assert_eq!(resume_at(2, true, false, false), (2, None));
        // The pending page needs no card; without a registration it is step 4.
        assert_eq!(resume_at(5, true, false, true), (5, None));
        assert_eq!(resume_at(5, true, true, false), (4, None));
        assert_eq!(resume_at(0, false, false, false), (1, None));
        assert_eq!(resume_at(99, true, true, false), (4, None));
    }

    /// Issue 17: the English page showed the places in Chinese only.
    #[test]
    fn places_are_shown_in_the_pages_language() {
        let en = place_option("daan-zh", "Da'an District", Lang::En);
        assert_eq!(
            (en.value.as_str(), en.label.as_str()),
            ("daan-zh", "Da'an District")
        );
        let zh = place_option("daan-zh", "Da'an District", Lang::ZhTw);
        assert_eq!(
            (zh.value.as_str(), zh.label.as_str()),
            ("daan-zh", "daan-zh")
        );
        let none = place_option("daan-zh", "", Lang::En);
        assert_eq!(none.label, "daan-zh");
    }

    #[test]
    fn the_card_fingerprint_is_not_the_number() {
        let a = card_fingerprint("000012345678");
        assert_eq!(a, card_fingerprint("000012345678"));
        assert_ne!(a, card_fingerprint("000012345679"));
        assert!(!a.contains("12345678"));
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
