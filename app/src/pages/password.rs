//! The password meter: the policy's rules right away (same code as the server), the zxcvbn
//! score and advice from the strength worker, announced politely to screen readers.

use leptos::prelude::*;
use nhi_protocol::password::{PasswordPolicy, PasswordProblem, PersonalData, Rating, Strength};

use crate::i18n::{
    password_problem, score_text, strength_suggestion, strength_warning, use_i18n, T,
};
use crate::strength::StrengthState;

#[derive(Clone, Copy)]
pub struct PasswordMeterState {
    pub state: RwSignal<StrengthState>,
}

impl PasswordMeterState {
    pub fn new() -> Self {
        Self {
            state: RwSignal::new(StrengthState::Loading),
        }
    }

    /// The estimate of the current password, if the worker has answered.
    pub fn strength(&self) -> Option<Strength> {
        match self.state.get_untracked() {
            StrengthState::Ready(s) => Some(s),
            _ => None,
        }
    }
}

impl Default for PasswordMeterState {
    fn default() -> Self {
        Self::new()
    }
}

#[component]
pub fn PasswordMeter(
    password: RwSignal<String>,
    #[prop(into)] person: Signal<PersonalData>,
    state: PasswordMeterState,
) -> impl IntoView {
    let i = use_i18n();
    let policy = PasswordPolicy::default();
    Effect::new(move |_| {
        let pw = password.get();
        let p = person.get();
        crate::strength::estimate(&pw, &p, state.state);
    });
    // One judgement for meter and submit (`PasswordPolicy::assess`): a password that breaks
    // a rule is rated "refused", whatever zxcvbn thinks of it (issue 17).
    // (A closure, not a `Memo`: the first page's size budget; the rules are cheap.)
    let assessment = move || {
        let strength = match state.state.get() {
            StrengthState::Ready(s) | StrengthState::Stale(s) => Some(s),
            _ => None,
        };
        password.with(|pw| policy.assess(pw, &person.get(), strength))
    };
    let rating = move || assessment().rating;
    let score = move || match rating() {
        Rating::Score(s) if !password.with(String::is_empty) => s,
        _ => 0,
    };
    let summary = move || {
        if password.with(String::is_empty) {
            return i.t(T::StrengthEmpty);
        }
        match (rating(), state.state.get()) {
            (Rating::Refused, _) => i.t(T::StrengthRefused),
            (Rating::Score(s), _) => score_text(i, s),
            (_, StrengthState::Unavailable) => i.t(T::StrengthUnavailable),
            _ => i.t(T::StrengthLoading),
        }
    };
    let advice = move || {
        if password.with(String::is_empty) {
            return Vec::new();
        }
        let mut lines: Vec<String> = assessment()
            .verdict
            .problems
            .into_iter()
            .filter(|p| !matches!(p, PasswordProblem::TooWeak { .. }))
            .map(|p| password_problem(i, p))
            .collect();
        if let StrengthState::Ready(s) | StrengthState::Stale(s) = state.state.get() {
            lines.extend(s.warning.map(|w| strength_warning(i, w)));
            lines.extend(s.suggestions.iter().map(|x| strength_suggestion(i, *x)));
        }
        lines
    };
    view! {
        <div class="strength" id="strength">
            <meter
                id="strength-meter"
                class=move || format!("score-{}", score())
                min="0"
                max="4"
                low="2"
                high="3"
                optimum="4"
                aria-label=move || i.t(T::Strength)
                prop:value=move || f64::from(score())
            ></meter>
            <div id="strength-text" aria-live="polite" aria-atomic="true">
                <p
                    class="strength-summary"
                    data-score=move || score().to_string()
                    data-state=move || match state.state.get() {
                        StrengthState::Loading => "loading",
                        StrengthState::Ready(_) => "ready",
                        StrengthState::Stale(_) => "stale",
                        StrengthState::Unavailable => "unavailable",
                    }
                >{summary}</p>
                <ul class="strength-advice">
                    {move || advice().into_iter().map(|a| view! { <li>{a}</li> }).collect_view()}
                </ul>
            </div>
        </div>
    }
}
