//! The logged-in home (F3) with the person's masked data and 登出.

use leptos::prelude::*;
use nhi_protocol::api::{AccountStatus, ErrorCode, UserInfo};

use crate::api;
use crate::components::{MessageBox, PageTitle};
use crate::i18n::{use_i18n, Msg, T};
use crate::route::{navigate, Link};
use crate::session::use_session;

#[component]
pub fn Home() -> impl IntoView {
    let i = use_i18n();
    let session = use_session();
    let me = RwSignal::new(None::<UserInfo>);
    let error = RwSignal::new(None::<Msg>);
    leptos::task::spawn_local(async move {
        match api::get::<UserInfo>("/me").await {
            Ok(u) => {
                let _ = me.try_set(Some(u));
            }
            Err(e) if e.api_code() == Some(ErrorCode::Unauthenticated) => {
                session.set(false);
                navigate("/login");
            }
            Err(e) => {
                let _ = error.try_set(Some(Msg::from(&e)));
            }
        }
    });
    let logout = move |_| {
        leptos::task::spawn_local(async move {
            if let Err(e) = session.logout().await {
                let _ = error.try_set(Some(Msg::from(&e)));
            }
        });
    };
    let row = move |k: T, v: String| view! { <div class="card-row"><dt>{move || i.t(k)}</dt><dd>{v}</dd></div> };
    view! {
        <PageTitle key=T::HomeTitle />
        <MessageBox msg=error />
        {move || match me.get() {
            None => view! { <p>{move || i.t(T::Loading)}</p> }.into_any(),
            Some(u) => {
                let status = match u.status {
                    AccountStatus::Active => T::StatusActive,
                    AccountStatus::Pending => T::StatusPending,
                };
                view! {
                    <p class="lead" id="welcome">{move || i.t(T::HomeWelcome)}</p>
                    <dl class="card-data" id="me">
                        {row(T::Name, u.name_masked)}
                        {row(T::CardNumber, u.card_number_masked)}
                        {row(T::NationalId, u.national_id_masked)}
                        {row(T::Email, u.email_masked)}
                        <div class="card-row"><dt>{move || i.t(T::AccountStatus)}</dt><dd>{move || i.t(status)}</dd></div>
                    </dl>
                }
                .into_any()
            }
        }}
        <h2>{move || i.t(T::HomeServices)}</h2>
        <ul class="services">
            <li id="home-health-bank"><Link href="/health-bank">{move || i.t(T::HomeHealthBank)}</Link></li>
            <li id="home-applications"><Link href="/applications">{move || i.t(T::HomeApplications)}</Link></li>
        </ul>
        <div class="actions">
            <button type="button" id="logout" class="button button-secondary" on:click=logout>{move || i.t(T::Logout)}</button>
        </div>
    }
}
