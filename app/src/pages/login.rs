//! F3 login: card + registration password, then the logged-in home.

use leptos::prelude::*;
use nhi_protocol::api::{LoginRequest, ProofPurpose, UserInfo};
use nhi_protocol::bridge::BridgeError;
use nhi_protocol::CardBasicData;

use crate::api;
use crate::components::{CardReader, Field, MessageBox, PageTitle, SubmitButton};
use crate::i18n::{use_i18n, Msg, T};
use crate::route::use_route;
use crate::session::{take_return_path, use_session};

#[component]
pub fn Login() -> impl IntoView {
    let i = use_i18n();
    let session = use_session();
    let route = use_route();
    let card = RwSignal::new(None::<CardBasicData>);
    let card_error = RwSignal::new(None::<BridgeError>);
    let password = RwSignal::new(String::new());
    let e_password = RwSignal::new(None::<Msg>);
    let error = RwSignal::new(None::<Msg>);
    let send = move || {
        let password = password.get_untracked();
        async move {
            match api::with_card_proof::<_, UserInfo>(ProofPurpose::Login, "/session", |proof| {
                LoginRequest { proof, password }
            })
            .await
            {
                Ok(_) => {
                    session.set(true);
                    route.navigate(&take_return_path());
                }
                Err(e) => error.set(Some(Msg::from(&e))),
            }
        }
    };
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let pw = password.get_untracked();
        e_password.set(pw.is_empty().then_some(Msg::Key(T::FieldRequired)));
        crate::util::submit_card_form(card, error, !pw.is_empty(), busy, send());
    };
    view! {
        <PageTitle key=T::LoginTitle />
        <p class="lead">{move || i.t(T::LoginIntro)}</p>
        <CardReader card error=card_error page_error=error />
        <form on:submit=submit novalidate>
            <Field id="password" label=T::Password value=password error=e_password kind="password" autocomplete="current-password" required=true />
            <MessageBox msg=error />
            <div class="actions">
                <SubmitButton label=T::LoginSubmit busy id="submit" />
                <a href="/passkey-login" id="passkey-login" class="button button-secondary">{move || i.t(T::LoginPasskey)}</a>
            </div>
        </form>
    }
}
