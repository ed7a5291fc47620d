//! The logged-in home (F3) with the person's masked data and 登出.

use leptos::prelude::*;
use nhi_protocol::api::{AccountStatus, UserInfo};

use crate::api;
use crate::components::{MessageBox, PageTitle};
use crate::i18n::{use_i18n, Msg, T};
use crate::route::{use_route, Link};
use crate::session::{is_expired, use_session};

#[component]
pub fn Home() -> impl IntoView {
    let i = use_i18n();
    let session = use_session();
    let route = use_route();
    // The person's masked data; a 401 (the session ended elsewhere) goes to the login page.
    // A task, not a `LocalResource` + `<Suspense>`: those cost the first page 17 KB gzip
    // (app README, "how pages load and submit").
    let me = RwSignal::new(None::<Result<UserInfo, api::Failure>>);
    leptos::task::spawn_local(async move {
        let result = api::get::<UserInfo>("/me").await;
        if result.as_ref().is_err_and(is_expired) {
            session.set(false);
            route.navigate("/login");
        }
        me.set(Some(result));
    });
    let logout_error = RwSignal::new(None::<Msg>);
    let logout = move || async move {
        if let Err(e) = session.logout().await {
            logout_error.set(Some(Msg::from(&e)));
        }
    };
    let error = Signal::derive(move || {
        logout_error.get().or_else(|| {
            me.get()
                .and_then(Result::err)
                .filter(|e| !is_expired(e))
                .map(|e| Msg::from(&e))
        })
    });
    let row = move |k: T, v: String| view! { <div class="card-row"><dt>{move || i.t(k)}</dt><dd>{v}</dd></div> };
    view! {
        <PageTitle key=T::HomeTitle />
        <MessageBox msg=error />
        {move || match me.get() {
            None | Some(Err(_)) => view! { <p>{move || i.t(T::Loading)}</p> }.into_any(),
            Some(Ok(u)) => {
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
            <li id="home-passkeys"><a href="/passkeys">{move || i.t(T::HomePasskeys)}</a></li>
        </ul>
        <div class="actions">
            <button type="button" id="logout" class="button button-secondary" on:click=move |_| leptos::task::spawn_local(logout())>{move || i.t(T::Logout)}</button>
        </div>
    }
}
