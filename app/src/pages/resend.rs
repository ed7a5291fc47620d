//! F8 重寄認證信: card read + the (new or same) email address; the old link stops working.

use std::str::FromStr;

use leptos::prelude::*;
use nhi_protocol::api::{ProofPurpose, ResendRequest, ResendResponse};
use nhi_protocol::bridge::BridgeError;
use nhi_protocol::{CardBasicData, Email};

use crate::api;
use crate::components::{CardReader, Field, MessageBox, PageTitle, SubmitButton};
use crate::i18n::{use_i18n, Msg, T};
use crate::util::focus_id;

#[component]
pub fn Resend() -> impl IntoView {
    let i = use_i18n();
    let card = RwSignal::new(None::<CardBasicData>);
    let card_error = RwSignal::new(None::<BridgeError>);
    let email = RwSignal::new(String::new());
    let e_email = RwSignal::new(None::<Msg>);
    let error = RwSignal::new(None::<Msg>);
    let done = RwSignal::new(false);
    let send = move || {
        let address = Email::from_str(email.get_untracked().trim());
        async move {
            let result = async {
                let email = address.map_err(|_| api::Failure::Unreadable)?;
                let answer = api::with_card_proof::<_, ResendResponse>(
                    ProofPurpose::Resend,
                    "/registrations/resend",
                    |proof| ResendRequest {
                        proof,
                        email: email.clone(),
                    },
                )
                .await?;
                // A person registered in bulk by their unit (F7) has no account yet: the same
                // card and address renew that link too (same anonymous answer). Each request
                // needs its own proof (single-use nonces).
                api::with_card_proof::<_, ResendResponse>(
                    ProofPurpose::Resend,
                    "/bulk-registrations/resend",
                    |proof| nhi_protocol::units::BulkResendRequest { proof, email },
                )
                .await?;
                Ok::<_, api::Failure>(answer)
            }
            .await;
            match result {
                Ok(_) => {
                    done.set(true);
                    focus_id("resend-done");
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
        let text = email.get_untracked();
        let parsed = Email::from_str(text.trim());
        e_email.set(match (&parsed, text.trim().is_empty()) {
            (_, true) => Some(Msg::Key(T::FieldRequired)),
            (Err(_), false) => Some(Msg::Key(T::EmailInvalid)),
            _ => None,
        });
        crate::util::submit_card_form(card, error, parsed.is_ok(), busy, send());
    };
    view! {
        <PageTitle key=T::ResendTitle />
        <Show
            when=move || done.get()
            fallback=move || view! {
                <p class="lead">{move || i.t(T::ResendIntro)}</p>
                <CardReader card error=card_error page_error=error />
                <form on:submit=submit novalidate>
                    <Field id="email" label=T::Email hint=T::EmailHint value=email error=e_email kind="email" autocomplete="email" required=true />
                    <MessageBox msg=error />
                    <div class="actions">
                        <SubmitButton label=T::ResendSubmit busy id="submit" />
                    </div>
                </form>
            }
        >
            <div id="resend-done" tabindex="-1">
                <MessageBox msg=Signal::derive(|| Some(Msg::Key(T::ResendDone))) notice=true />
            </div>
        </Show>
    }
}
