//! F2: the link from the activation mail (`/confirm#ticket=…`: the ticket is in the fragment,
//! which the server never sees; it is taken out of the address bar once read). Read the card
//! that applied; with no card, say so, 「確定」, read again.

use leptos::prelude::*;
use nhi_protocol::api::{ConfirmRequest, ConfirmResponse, ProofPurpose};
use nhi_protocol::bridge::{BridgeError, ErrorCode};
use nhi_protocol::CardBasicData;

use crate::api;
use crate::components::{CardReader, MessageBox, PageTitle};
use crate::i18n::{use_i18n, Msg, T};
use crate::route::Link;
use crate::util::{focus_id, ticket_in_fragment};

#[component]
pub fn Confirm() -> impl IntoView {
    let i = use_i18n();
    let ticket = RwSignal::new(ticket_in_fragment());
    let card = RwSignal::new(None::<CardBasicData>);
    let card_error = RwSignal::new(None::<BridgeError>);
    let error = RwSignal::new(None::<Msg>);
    let done = RwSignal::new(false);
    // Another mailed link opened in this tab while the page is shown only changes the
    // fragment: start over with its ticket.
    let on_hash = window_event_listener(leptos::ev::hashchange, move |_| {
        if let Some(t) = ticket_in_fragment() {
            ticket.set(Some(t));
            done.set(false);
            card.set(None);
            card_error.set(None);
            error.set(None);
        }
    });
    on_cleanup(move || on_hash.remove());
    let has_ticket = move || ticket.with(Option::is_some);
    // The nonce → card proof → confirm sequence, as an action: `pending` is the 「傳送中」
    // hint; the page follows the outcome.
    let send = move || {
        let ticket = ticket.get_untracked().unwrap_or_default();
        async move {
            match api::with_card_proof::<_, ConfirmResponse>(
                ProofPurpose::Confirm,
                "/registrations/confirm",
                |proof| ConfirmRequest { ticket, proof },
            )
            .await
            {
                Ok(_) => {
                    done.set(true);
                    focus_id("confirm-done");
                }
                Err(api::Failure::Bridge(e)) => card_error.set(Some(e)),
                Err(e) => error.set(Some(Msg::from(&e))),
            }
        }
    };
    let busy = RwSignal::new(false);
    let confirm = Callback::new(move |_card: CardBasicData| {
        if ticket.with_untracked(Option::is_none) {
            return;
        }
        error.set(None);
        crate::util::submit(busy, send());
    });
    let no_card =
        move || card_error.with(|e| e.as_ref().is_some_and(|e| e.code == ErrorCode::NoCard));
    let acknowledge = move |_| {
        card_error.set(None);
        focus_id("read-card");
    };
    view! {
        <PageTitle key=T::ConfirmTitle />
        <Show
            when=has_ticket
            fallback=move || view! { <MessageBox msg=Signal::derive(|| Some(Msg::Key(T::ConfirmNoTicket))) /> }
        >
            <Show
                when=move || done.get()
                fallback=move || view! {
                    <p class="lead">{move || i.t(T::ConfirmIntro)}</p>
                    <div role="alert" class=move || if no_card() { "message message-error" } else { "message-empty" }>
                        <Show when=no_card>
                            <p id="no-card">{move || i.t(T::ConfirmNoCard)}</p>
                            <button type="button" id="no-card-ok" class="button button-primary" on:click=acknowledge>
                                {move || i.t(T::Ok)}
                            </button>
                        </Show>
                    </div>
                    <CardReader card error=card_error on_read=confirm hide_error=ErrorCode::NoCard />
                    <p class="hint" hidden=move || !busy.get()>{move || i.t(T::Sending)}</p>
                    <MessageBox msg=error />
                }
            >
                <div id="confirm-done" tabindex="-1">
                    <MessageBox msg=Signal::derive(|| Some(Msg::Key(T::ConfirmDone))) notice=true />
                    <p><Link href="/login" class="button button-primary">{move || i.t(T::GoLogin)}</Link></p>
                </div>
            </Show>
        </Show>
    }
}
