//! F7 健保卡註冊認證作業 (`/bulk-activate#ticket=…`, the link in a bulk registrant's mail; the
//! ticket is in the fragment, which the server never sees, and is taken out of the address bar
//! once read): read the card (it must be the person the unit registered), set the registration
//! password (same rules and strength meter as F1), 「確定」.

use leptos::prelude::*;
use nhi_protocol::api::ProofPurpose;
use nhi_protocol::bridge::BridgeError;
use nhi_protocol::password::PersonalData;
use nhi_protocol::units::{BulkActivateRequest, BulkActivateResponse};
use nhi_protocol::CardBasicData;

use crate::api::{self, Failure};
use crate::components::{CardReader, Field, MessageBox, PageTitle, SubmitButton};
use crate::i18n::{use_i18n, Msg, T};
use crate::pages::password::{PasswordMeter, PasswordMeterState};
use crate::route::Link;
use crate::util::{focus_id, ticket_in_fragment};

#[component]
pub fn BulkActivate() -> impl IntoView {
    let i = use_i18n();
    let ticket = RwSignal::new(ticket_in_fragment());
    let has_ticket = move || ticket.with(Option::is_some);
    let card = RwSignal::new(None::<CardBasicData>);
    let card_error = RwSignal::new(None::<BridgeError>);
    let password = RwSignal::new(String::new());
    let password2 = RwSignal::new(String::new());
    let e_password = RwSignal::new(None::<Msg>);
    let e_password2 = RwSignal::new(None::<Msg>);
    let error = RwSignal::new(None::<Msg>);
    let done = RwSignal::new(false);
    let meter = PasswordMeterState::new();
    // Another mailed link opened in this tab while the page is shown only changes the
    // fragment: start over with its ticket.
    let on_hash = window_event_listener(leptos::ev::hashchange, move |_| {
        if let Some(t) = ticket_in_fragment() {
            ticket.set(Some(t));
            done.set(false);
            error.set(None);
        }
    });
    on_cleanup(move || on_hash.remove());
    let person = Signal::derive(move || {
        card.with(|c| match c {
            Some(c) => PersonalData {
                national_id: Some(c.national_id.clone()),
                card_number: Some(c.card_number.clone()),
                birth_date: Some(c.birth_date),
                other_inputs: vec![c.name.clone()],
            },
            None => PersonalData::default(),
        })
    });
    let send = Action::new_local(move |(ticket, password): &(String, String)| {
        let (ticket, password) = (ticket.clone(), password.clone());
        async move {
            match api::with_card_proof::<_, BulkActivateResponse>(
                ProofPurpose::Activate,
                "/bulk-registrations/activate",
                |proof| BulkActivateRequest {
                    ticket,
                    proof,
                    password,
                },
            )
            .await
            {
                Ok(_) => {
                    done.set(true);
                    focus_id("activate-done");
                }
                Err(Failure::Bridge(e)) => card_error.set(Some(e)),
                Err(e) => {
                    error.set(Some(Msg::from(&e)));
                    focus_id("activate-error");
                }
            }
        }
    });
    let busy = send.pending();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let Some(ticket) = ticket.get_untracked() else {
            return;
        };
        // The card read shows whose it is and feeds the password rules; the server takes the
        // person from the proof's verified record.
        if card.with_untracked(Option::is_none) {
            error.set(Some(Msg::Key(T::CardNeeded)));
            return;
        }
        let pw = password.get_untracked();
        let problems = nhi_protocol::password::PasswordPolicy::default()
            .check_rules(&pw, &person.get_untracked());
        e_password.set(if pw.is_empty() {
            Some(Msg::Key(T::FieldRequired))
        } else {
            problems.first().map(|p| Msg::Problem(*p))
        });
        e_password2.set((pw != password2.get_untracked()).then_some(Msg::Key(T::PasswordMismatch)));
        if e_password.with_untracked(Option::is_some) || e_password2.with_untracked(Option::is_some)
        {
            error.set(Some(Msg::Key(T::FixErrors)));
            return;
        }
        error.set(None);
        send.dispatch((ticket, pw));
    };
    view! {
        <PageTitle key=T::BaTitle />
        <Show
            when=has_ticket
            fallback=move || view! {
                <MessageBox msg=Signal::derive(|| Some(Msg::Key(T::BaNoTicket))) />
                <p><Link href="/resend">{move || i.t(T::NavResend)}</Link></p>
            }
        >
            <Show
                when=move || done.get()
                fallback=move || view! {
                    <p class="lead">{move || i.t(T::BaIntro)}</p>
                    <CardReader card error=card_error />
                    <form on:submit=submit novalidate id="activate-form">
                        <Field id="password" label=T::Password hint=T::PasswordHint value=password error=e_password
                            kind="password" autocomplete="new-password" required=true maxlength="64" />
                        <PasswordMeter password person state=meter />
                        <Field id="password2" label=T::PasswordRepeat value=password2 error=e_password2
                            kind="password" autocomplete="new-password" required=true maxlength="64" />
                        <SubmitButton busy label=T::BaSubmit id="activate-submit" />
                    </form>
                    <div id="activate-error" tabindex="-1"><MessageBox msg=error /></div>
                }
            >
                <div id="activate-done" tabindex="-1">
                    <MessageBox msg=Signal::derive(|| Some(Msg::Key(T::BaDone))) notice=true />
                    <p><Link href="/login" class="button button-primary">{move || i.t(T::GoLogin)}</Link></p>
                </div>
            </Show>
        </Show>
    }
}
