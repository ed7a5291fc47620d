//! Passkeys in the browser (issue 16): the WebAuthn ceremonies on the browser's own JSON
//! forms, and the 「使用通行金鑰登入」 button the passkey login page and the unit login share.
//!
//! The server sends the WebAuthn Level 3 JSON options (`options.publicKey`, base64url
//! strings); `PublicKeyCredential.parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON`
//! turn them into what `navigator.credentials.create` / `get` take, and `credential.toJSON()`
//! gives what the finish request carries. The static parsers have no web-sys binding: they are
//! called through `Reflect`. Only the unit and online areas link this module (the first page's
//! 「使用通行金鑰登入」 is a link to `/passkey-login`, a page of the online area).

use js_sys::{Function, Object, Promise, Reflect, JSON};
use leptos::prelude::*;
use nhi_protocol::api::{ErrorCode as ApiCode, UserInfo};
use nhi_protocol::passkeys::{
    CeremonyOptions, LoginFinish, PasskeyInfo, PasskeyProblem, RegistrationFinish,
};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::api::{self, Failure};
use crate::components::MessageBox;
use crate::i18n::{use_i18n, Msg, T};
use crate::route::use_route;
use crate::session::use_session;

/// Why a passkey ceremony failed.
#[derive(Debug, Clone, PartialEq)]
pub enum PkFailure {
    /// The server's answer (or no answer).
    Api(Failure),
    /// The person cancelled, the time ran out, or this device has no passkey for this site
    /// (the browser says `NotAllowedError` for all three, on purpose).
    Cancelled,
    /// This browser has no WebAuthn JSON support (or the page is not a secure context).
    Unsupported,
    /// This authenticator already holds a passkey of this account (`InvalidStateError`).
    Exists,
    /// Any other refusal of the browser or the authenticator (`SecurityError`: the address is
    /// not the site's).
    Browser,
}

impl From<Failure> for PkFailure {
    fn from(f: Failure) -> Self {
        PkFailure::Api(f)
    }
}

/// The two ceremonies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ceremony {
    /// `navigator.credentials.create`: a new passkey.
    Create,
    /// `navigator.credentials.get`: a login.
    Get,
}

fn prop(target: &JsValue, key: &str) -> Result<JsValue, PkFailure> {
    match Reflect::get(target, &JsValue::from_str(key)) {
        Ok(v) if !v.is_undefined() && !v.is_null() => Ok(v),
        _ => Err(PkFailure::Unsupported),
    }
}

fn function(target: &JsValue, key: &str) -> Result<Function, PkFailure> {
    prop(target, key)?
        .dyn_into::<Function>()
        .map_err(|_| PkFailure::Unsupported)
}

/// What a thrown `DOMException` means for the person.
pub fn classify(name: &str) -> PkFailure {
    match name {
        "NotAllowedError" | "AbortError" => PkFailure::Cancelled,
        "InvalidStateError" => PkFailure::Exists,
        "NotSupportedError" | "TypeError" => PkFailure::Unsupported,
        _ => PkFailure::Browser,
    }
}

fn thrown(e: JsValue) -> PkFailure {
    let name = Reflect::get(&e, &JsValue::from_str("name"))
        .ok()
        .and_then(|n| n.as_string())
        .unwrap_or_default();
    classify(&name)
}

/// Whether this browser can do the ceremonies on their JSON forms.
pub fn supported() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let Ok(pkc) = prop(&window, "PublicKeyCredential") else {
        return false;
    };
    function(&pkc, "parseRequestOptionsFromJSON").is_ok()
        && function(&pkc, "parseCreationOptionsFromJSON").is_ok()
}

/// Runs one ceremony on the server's `options` (`{"publicKey": …}`); answers
/// `credential.toJSON()`.
pub async fn run(
    kind: Ceremony,
    options: &serde_json::Value,
) -> Result<serde_json::Value, PkFailure> {
    let window = web_sys::window().ok_or(PkFailure::Unsupported)?;
    let pkc = prop(&window, "PublicKeyCredential")?;
    let parser = function(
        &pkc,
        match kind {
            Ceremony::Create => "parseCreationOptionsFromJSON",
            Ceremony::Get => "parseRequestOptionsFromJSON",
        },
    )?;
    let public_key = options
        .get("publicKey")
        .ok_or(PkFailure::Api(Failure::Unreadable))?;
    let text = serde_json::to_string(public_key).map_err(|_| Failure::Unreadable)?;
    let json = JSON::parse(&text).map_err(|_| Failure::Unreadable)?;
    let parsed = parser.call1(&pkc, &json).map_err(thrown)?;
    let arg = Object::new();
    let _ = Reflect::set(&arg, &JsValue::from_str("publicKey"), &parsed);
    if kind == Ceremony::Get {
        let _ = Reflect::set(
            &arg,
            &JsValue::from_str("mediation"),
            &JsValue::from_str("optional"),
        );
    }
    let credentials = prop(&window.navigator(), "credentials")?;
    let call = function(
        &credentials,
        match kind {
            Ceremony::Create => "create",
            Ceremony::Get => "get",
        },
    )?;
    let promise: Promise = call
        .call1(&credentials, &arg)
        .map_err(thrown)?
        .dyn_into()
        .map_err(|_| PkFailure::Browser)?;
    let credential = JsFuture::from(promise).await.map_err(thrown)?;
    if credential.is_null() || credential.is_undefined() {
        return Err(PkFailure::Cancelled);
    }
    let as_json = function(&credential, "toJSON")?
        .call0(&credential)
        .map_err(thrown)?;
    let text = JSON::stringify(&as_json)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or(PkFailure::Browser)?;
    serde_json::from_str(&text).map_err(|_| PkFailure::Browser)
}

/// The passkey login: a challenge, the browser's `get` (a discoverable credential: nothing to
/// type), the server's check; the session cookie is set by the answer.
pub async fn login() -> Result<UserInfo, PkFailure> {
    let c: CeremonyOptions = api::post("/passkeys/login", &serde_json::json!({})).await?;
    let credential = run(Ceremony::Get, &c.options).await?;
    Ok(api::post(
        "/passkeys/login/finish",
        &LoginFinish {
            ceremony_id: c.ceremony_id,
            credential,
        },
    )
    .await?)
}

/// A new passkey (after this session's step-up): the server's creation options, the
/// browser's `create`, the server's check and record.
pub async fn enrol(name: String) -> Result<PasskeyInfo, PkFailure> {
    let c: CeremonyOptions = api::post("/passkeys/registration", &serde_json::json!({})).await?;
    let credential = run(Ceremony::Create, &c.options).await?;
    Ok(api::post(
        "/passkeys/registration/finish",
        &RegistrationFinish {
            ceremony_id: c.ceremony_id,
            name,
            credential,
        },
    )
    .await?)
}

/// The advice for a refused passkey (the `message` of `passkey_rejected`).
pub fn problem_key(p: PasskeyProblem) -> T {
    match p {
        PasskeyProblem::CeremonyInvalid => T::PkProblemCeremony,
        PasskeyProblem::UnknownCredential => T::PkProblemUnknown,
        PasskeyProblem::WrongOrigin | PasskeyProblem::WrongRpId => T::PkProblemOrigin,
        PasskeyProblem::BadSignature => T::PkProblemSignature,
        PasskeyProblem::CounterRegressed => T::PkProblemCounter,
        PasskeyProblem::UserNotVerified => T::PkProblemUv,
        PasskeyProblem::AlreadyRegistered => T::PkExists,
    }
}

/// What a failed ceremony shows.
pub fn failure_msg(f: &PkFailure) -> Msg {
    match f {
        PkFailure::Cancelled => Msg::Key(T::PkCancelled),
        PkFailure::Unsupported => Msg::Key(T::PkUnsupported),
        PkFailure::Exists => Msg::Key(T::PkExists),
        PkFailure::Browser => Msg::Key(T::PkBrowserError),
        PkFailure::Api(Failure::Api(e)) if e.code == ApiCode::PasskeyRejected => {
            match PasskeyProblem::parse(&e.message) {
                Some(p) => Msg::Key(problem_key(p)),
                None => Msg::Api(e.code, None),
            }
        }
        PkFailure::Api(other) => Msg::from(other),
    }
}

/// 「使用通行金鑰登入」 with its status and error; on success the session is on and the page
/// goes to `to()`. `auto`: start at once (the passkey login page, opened by the first page's
/// button).
#[component]
pub fn PasskeyLoginButton(to: fn() -> String, #[prop(optional)] auto: bool) -> impl IntoView {
    let i = use_i18n();
    let route = use_route();
    let session = use_session();
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<Msg>);
    let start = move || {
        if busy.get_untracked() {
            return;
        }
        error.set(None);
        if !supported() {
            error.set(Some(Msg::Key(T::PkUnsupported)));
            return;
        }
        busy.set(true);
        crate::util::mark("nhi-passkey-login-start");
        leptos::task::spawn_local(async move {
            let result = login().await;
            busy.set(false);
            match result {
                Ok(_) => {
                    session.set(true);
                    route.navigate(&to());
                }
                Err(e) => {
                    error.set(Some(failure_msg(&e)));
                    crate::util::focus_id("passkey-error");
                }
            }
        });
    };
    if auto {
        crate::util::set_timeout(0, start);
    }
    view! {
        <div class="actions">
            <button type="button" id="passkey-login" class="button button-primary"
                aria-busy=move || busy.get().then_some("true") on:click=move |_| start()>
                {move || if busy.get() { i.t(T::PkLoginBusy) } else { i.t(T::PkLogin) }}
            </button>
        </div>
        <div id="passkey-error" tabindex="-1"><MessageBox msg=error /></div>
    }
}

#[cfg(test)]
mod tests {
    use nhi_protocol::api::ApiError;

    use super::*;

    #[test]
    fn browser_refusals_have_their_advice() {
        assert_eq!(classify("NotAllowedError"), PkFailure::Cancelled);
        assert_eq!(classify("AbortError"), PkFailure::Cancelled);
        assert_eq!(classify("InvalidStateError"), PkFailure::Exists);
        assert_eq!(classify("NotSupportedError"), PkFailure::Unsupported);
        assert_eq!(classify("SecurityError"), PkFailure::Browser);
        assert_eq!(failure_msg(&PkFailure::Cancelled), Msg::Key(T::PkCancelled));
    }

    #[test]
    fn server_refusals_have_their_advice() {
        let rejected =
            |m: &str| PkFailure::Api(Failure::Api(ApiError::new(ApiCode::PasskeyRejected, m)));
        assert_eq!(
            failure_msg(&rejected("unknown_credential")),
            Msg::Key(T::PkProblemUnknown)
        );
        assert_eq!(
            failure_msg(&rejected("counter_regressed")),
            Msg::Key(T::PkProblemCounter)
        );
        assert_eq!(
            failure_msg(&rejected("something new")),
            Msg::Api(ApiCode::PasskeyRejected, None)
        );
        for p in PasskeyProblem::ALL {
            let _ = problem_key(p);
        }
        let step_up = PkFailure::Api(Failure::Api(ApiError::new(ApiCode::StepUpRequired, "x")));
        assert_eq!(
            failure_msg(&step_up),
            Msg::Api(ApiCode::StepUpRequired, None)
        );
    }
}
