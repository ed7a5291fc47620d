//! `/units/login` (F5): unit staff log in with their registered NHI card (the F3 login at
//! `/login`, which returns here to the unit pages) or with their citizen digital certificate
//! (自然人憑證).
//!
//! The certificate path: the ID number (the certificate carries only its last four digits)
//! → the bridge's `certificate` (is a certificate card in the reader?) → a nonce for
//! `certificate_login` → the bridge's `authenticate`, for which the card reader component
//! opens its own PIN window (the PIN is never typed into this page, and no message of the
//! page carries it) → `POST /units/certificate-login` → the unit pages. The page can cancel
//! the PIN window; every bridge and server error has its advice.

use std::str::FromStr;

use leptos::prelude::*;
use nhi_protocol::api::{ErrorCode as ApiCode, NonceRequest, NonceResponse, ProofPurpose};
use nhi_protocol::areas::Area;
use nhi_protocol::bridge::ErrorCode as BridgeCode;
use nhi_protocol::certificate::CertificateLoginRequest;
use nhi_protocol::id::IdError;
use nhi_protocol::units::MyUnitsResponse;
use nhi_protocol::NationalId;

use crate::api::{self, Failure};
use crate::components::{Field, MessageBox, PageTitle, SubmitButton};
use crate::i18n::{bridge_error, use_i18n, I18n, Msg, T};
use crate::route::use_route;
use crate::session::{remember_return, take_return_path, use_session};

/// A wrong PIN's advice, with the tries the card has left when the bridge said.
pub fn pin_wrong_text(i: I18n, tries: Option<u8>) -> String {
    let mut text = bridge_error(i, BridgeCode::PinWrong);
    if let Some(n) = tries {
        text.push(' ');
        text.push_str(&i.t_args(T::UlPinTriesLeft, &[("tries", &n.to_string())]));
    }
    text
}

/// What a failed certificate login shows: the reason of a refused certificate when the
/// server named one, the tries left after a wrong PIN, "not offered" for a 404.
pub fn certificate_failure(f: &Failure) -> Msg {
    match f {
        Failure::Api(e) if e.code == ApiCode::CertificateRejected => {
            match nhi_protocol::certificate::CertificateProblem::parse(&e.message) {
                Some(p) => Msg::Certificate(p),
                None => Msg::Api(e.code, None),
            }
        }
        Failure::Api(e) if e.code == ApiCode::NotFound => Msg::Key(T::UlCertUnavailable),
        Failure::Bridge(e) if e.code == BridgeCode::PinWrong => Msg::PinWrong(e.tries_left),
        other => Msg::from(other),
    }
}

/// The typed ID number, checked as the server will check it.
pub fn parse_id(typed: &str) -> Result<NationalId, Msg> {
    let typed = typed.trim().to_ascii_uppercase();
    if typed.is_empty() {
        return Err(Msg::Key(T::FieldRequired));
    }
    NationalId::from_str(&typed).map_err(|e| {
        Msg::Key(match e {
            IdError::Format => T::UlIdFormat,
            IdError::Checksum => T::UlIdChecksum,
        })
    })
}

/// Where a certificate login goes: the unit page whose login gate sent the person here,
/// else `/units` (a certificate session is for the unit pages only).
fn units_return_path() -> String {
    let to = take_return_path();
    let path = to.split(['?', '#']).next().unwrap_or_default();
    if Area::of_path(path) == Area::Units && !path.starts_with("/units/login") {
        to
    } else {
        "/units".into()
    }
}

/// The certificate login, step by step; `step` shows where it is, `running` holds the
/// `authenticate` request's id while the PIN window is open (for 取消).
async fn certificate_login(
    national_id: NationalId,
    step: RwSignal<Option<T>>,
    running: RwSignal<Option<u32>>,
) -> Result<MyUnitsResponse, Failure> {
    step.set(Some(T::UlStepReading));
    crate::bridge::certificate().await?;
    let nonce: NonceResponse = api::post(
        "/card-proof/nonce",
        &NonceRequest {
            purpose: ProofPurpose::CertificateLogin,
        },
    )
    .await?;
    if nonce.purpose != ProofPurpose::CertificateLogin {
        return Err(Failure::Unreadable);
    }
    step.set(Some(T::UlStepPin));
    let signed = crate::bridge::authenticate(nonce.nonce, |id| running.set(Some(id))).await;
    running.set(None);
    let (certificate, signature, algorithm) = signed?;
    step.set(Some(T::UlStepVerifying));
    api::post(
        "/units/certificate-login",
        &CertificateLoginRequest {
            national_id: national_id.as_str().to_string(),
            nonce: nonce.nonce,
            certificate,
            signature,
            algorithm,
        },
    )
    .await
}

#[component]
pub fn UnitsLogin() -> impl IntoView {
    let i = use_i18n();
    let route = use_route();
    let session = use_session();
    let national_id = RwSignal::new(String::new());
    let e_id = RwSignal::new(None::<Msg>);
    let error = RwSignal::new(None::<Msg>);
    let step = RwSignal::new(None::<T>);
    let running = RwSignal::new(None::<u32>);
    let busy = RwSignal::new(false);
    crate::util::mark("nhi-units-login");
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        error.set(None);
        let id = match parse_id(&national_id.get_untracked()) {
            Ok(id) => {
                e_id.set(None);
                id
            }
            Err(m) => {
                e_id.set(Some(m));
                crate::util::focus_id("national-id");
                return;
            }
        };
        busy.set(true);
        crate::util::mark("nhi-cert-login-start");
        leptos::task::spawn_local(async move {
            let result = certificate_login(id, step, running).await;
            step.set(None);
            busy.set(false);
            match result {
                Ok(_) => {
                    session.set(true);
                    crate::util::measure_after_paint("nhi-cert-login", "nhi-cert-login-start");
                    route.navigate(&units_return_path());
                }
                Err(e) => {
                    error.set(Some(certificate_failure(&e)));
                    crate::util::focus_id("cert-error");
                }
            }
        });
    };
    let cancel = move |_| {
        if let Some(id) = running.get_untracked() {
            leptos::task::spawn_local(async move {
                let _ = crate::bridge::cancel(id).await;
            });
        }
    };
    let card_login = move |_| {
        remember_return("/units");
        route.navigate("/login");
    };
    view! {
        <PageTitle key=T::UlTitle />
        <p class="lead">{move || i.t(T::UlIntro)}</p>
        <section class="login-option" aria-labelledby="card-login-title" id="card-login">
            <h2 id="card-login-title">{move || i.t(T::UlCardTitle)}</h2>
            <p>{move || i.t(T::UlCardText)}</p>
            <button type="button" id="card-login-go" class="button" on:click=card_login>
                {move || i.t(T::UlCardGo)}
            </button>
        </section>
        <section class="login-option" aria-labelledby="cert-login-title" id="cert-login">
            <h2 id="cert-login-title">{move || i.t(T::UlCertTitle)}</h2>
            <p id="cert-login-text">{move || i.t(T::UlCertText)}</p>
            <form on:submit=submit novalidate id="cert-form">
                <Field id="national-id" label=T::NationalId value=national_id error=e_id hint=T::UlNationalIdHint
                    required=true maxlength="10" autocomplete="off" />
                <p role="status" id="cert-step" class=move || if step.with(Option::is_some) { "message message-ok" } else { "message-empty" }>
                    {move || step.get().map(|k| i.t(k))}
                </p>
                <div class="actions">
                    <SubmitButton label=T::UlCertSubmit busy id="cert-submit" />
                    <Show when=move || running.with(Option::is_some)>
                        <button type="button" id="cert-cancel" class="button" on:click=cancel>
                            {move || i.t(T::UlCancel)}
                        </button>
                    </Show>
                </div>
            </form>
            <div id="cert-error" tabindex="-1"><MessageBox msg=error /></div>
        </section>
        <section class="login-option" aria-labelledby="passkey-login-title" id="passkey-login-option">
            <h2 id="passkey-login-title">{move || i.t(T::UlPasskeyTitle)}</h2>
            <p>{move || i.t(T::UlPasskeyText)}</p>
            <super::webauthn::PasskeyLoginButton to=units_return_path />
        </section>
    }
}

#[cfg(test)]
mod tests {
    use nhi_protocol::api::ApiError;
    use nhi_protocol::bridge::BridgeError;
    use nhi_protocol::certificate::CertificateProblem;

    use super::*;

    #[test]
    fn the_id_is_checked_before_the_card_is_asked() {
        assert_eq!(
            parse_id(" a123456789 ").map(|id| id.as_str().to_string()),
            Ok("A123456789".into())
        );
        assert_eq!(parse_id(""), Err(Msg::Key(T::FieldRequired)));
        assert_eq!(parse_id("A12345678"), Err(Msg::Key(T::UlIdFormat)));
        assert_eq!(parse_id("A123456788"), Err(Msg::Key(T::UlIdChecksum)));
    }

    #[test]
    fn failures_have_their_own_advice() {
        let mut e = ApiError::new(ApiCode::CertificateRejected, "revoked");
        assert_eq!(
            certificate_failure(&Failure::Api(e.clone())),
            Msg::Certificate(CertificateProblem::Revoked)
        );
        e.message = "something new".into();
        assert_eq!(
            certificate_failure(&Failure::Api(e)),
            Msg::Api(ApiCode::CertificateRejected, None)
        );
        assert_eq!(
            certificate_failure(&Failure::Bridge(BridgeError::pin_wrong(2))),
            Msg::PinWrong(Some(2))
        );
        assert_eq!(
            certificate_failure(&Failure::Api(ApiError::new(ApiCode::NotFound, "off"))),
            Msg::Key(T::UlCertUnavailable)
        );
        assert_eq!(
            certificate_failure(&Failure::Bridge(BridgeError::new(
                BridgeCode::PinBlocked,
                "blocked"
            ))),
            Msg::Bridge(BridgeCode::PinBlocked)
        );
    }
}
