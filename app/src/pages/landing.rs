//! The start page and "not found".

use leptos::prelude::*;

use crate::components::PageTitle;
use crate::i18n::{use_i18n, T};
use crate::route::Link;

#[component]
pub fn Landing() -> impl IntoView {
    let i = use_i18n();
    view! {
        <PageTitle key=T::AppTitle />
        <p class="lead">{move || i.t(T::LandingIntro)}</p>
        <h2>{move || i.t(T::LandingSteps)}</h2>
        <ol class="steps-list">
            <li><Link href="/check">{move || i.t(T::NavCheck)}</Link><span class="step-desc">{move || i.t(T::LandingStep1)}</span></li>
            <li><Link href="/register">{move || i.t(T::NavRegister)}</Link><span class="step-desc">{move || i.t(T::LandingStep2)}</span></li>
            <li><span class="step-desc">{move || i.t(T::LandingStep3)}</span></li>
            <li><Link href="/login">{move || i.t(T::NavLogin)}</Link><span class="step-desc">{move || i.t(T::LandingStep4)}</span></li>
        </ol>
        <div class="actions">
            <Link href="/check" class="button button-secondary">{move || i.t(T::NavCheck)}</Link>
            <Link href="/register" class="button button-primary">{move || i.t(T::NavRegister)}</Link>
        </div>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    let i = use_i18n();
    view! {
        <PageTitle key=T::NotFoundTitle />
        <p>{move || i.t(T::NotFoundBody)}</p>
        <p><Link href="/">{move || i.t(T::NavHome)}</Link></p>
    }
}
