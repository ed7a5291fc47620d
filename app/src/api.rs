//! The HTTP client for the server's JSON API (`nhi_protocol::api`), on the browser's `fetch`
//! directly (no HTTP crate in the bundle).

use nhi_protocol::api::{
    ApiError, CardProof, ErrorCode, NonceRequest, NonceResponse, ProofPurpose, API_PREFIX,
    CSRF_HEADER, CSRF_HEADER_VALUE,
};
use nhi_protocol::bridge::BridgeError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Why a call failed: the server's coded error, no connection, an answer we cannot read, or
/// (for calls that need the card) the bridge's coded error.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    Api(ApiError),
    Network,
    Unreadable,
    Bridge(BridgeError),
}

impl From<BridgeError> for Failure {
    fn from(e: BridgeError) -> Self {
        Failure::Bridge(e)
    }
}

impl Failure {
    pub fn api_code(&self) -> Option<ErrorCode> {
        match self {
            Failure::Api(e) => Some(e.code),
            _ => None,
        }
    }
}

/// One request; answers the status and the body text. `content_type` and `body` go together
/// (a JSON text or a file); `extra` is one more header (the file's name).
async fn fetch(
    method: &str,
    path: &str,
    body: Option<(&str, &JsValue)>,
    extra: Option<(&str, &str)>,
) -> Result<(u16, String), Failure> {
    let window = web_sys::window().ok_or(Failure::Network)?;
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    let headers = web_sys::Headers::new().map_err(|_| Failure::Network)?;
    let _ = headers.set("accept", "application/json");
    if method != "GET" {
        let _ = headers.set(CSRF_HEADER, CSRF_HEADER_VALUE);
    }
    if let Some((content_type, b)) = body {
        // A form's content type (with its boundary) is the browser's to set.
        if !content_type.is_empty() {
            let _ = headers.set("content-type", content_type);
        }
        init.set_body(b);
    }
    if let Some((name, value)) = extra {
        let _ = headers.set(name, value);
    }
    init.set_headers(&headers);
    let url = format!("{API_PREFIX}{path}");
    let resp: web_sys::Response = JsFuture::from(window.fetch_with_str_and_init(&url, &init))
        .await
        .map_err(|_| Failure::Network)?
        .dyn_into()
        .map_err(|_| Failure::Network)?;
    let text = match resp.text() {
        Ok(p) => JsFuture::from(p)
            .await
            .ok()
            .and_then(|t| t.as_string())
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    Ok((resp.status(), text))
}

/// A request with a JSON body.
async fn fetch_json<B: Serialize>(
    method: &str,
    path: &str,
    body: &B,
) -> Result<(u16, String), Failure> {
    let body = serde_json::to_string(body).map_err(|_| Failure::Unreadable)?;
    fetch(
        method,
        path,
        Some(("application/json", &JsValue::from_str(&body))),
        None,
    )
    .await
}

fn answer<T: DeserializeOwned>(status: u16, text: &str) -> Result<T, Failure> {
    if (200..300).contains(&status) {
        return serde_json::from_str(text).map_err(|_| Failure::Unreadable);
    }
    match serde_json::from_str::<ApiError>(text) {
        Ok(e) => Err(Failure::Api(e)),
        Err(_) if status >= 500 => Err(Failure::Api(ApiError::new(
            ErrorCode::Internal,
            "server error",
        ))),
        Err(_) => Err(Failure::Unreadable),
    }
}

pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, Failure> {
    let (status, text) = fetch("GET", path, None, None).await?;
    answer(status, &text)
}

pub async fn post<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, Failure> {
    let (status, text) = fetch_json("POST", path, body).await?;
    answer(status, &text)
}

pub async fn put<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, Failure> {
    let (status, text) = fetch_json("PUT", path, body).await?;
    answer(status, &text)
}

/// `POST` of a file as the raw body (insured units, F5), its name in `x-file-name`.
pub async fn post_file<T: DeserializeOwned>(
    path: &str,
    file: &web_sys::File,
) -> Result<T, Failure> {
    let name = String::from(js_sys::encode_uri_component(&file.name()));
    let (status, text) = fetch(
        "POST",
        path,
        Some(("application/octet-stream", file.as_ref())),
        Some((nhi_protocol::units::FILE_NAME_HEADER, &name)),
    )
    .await?;
    answer(status, &text)
}

/// `POST` of a file with the result email (F5, a certificate login without an NHI account):
/// `multipart/form-data` with the parts `file` and `result_email`, the name also in
/// `x-file-name`.
pub async fn post_file_with_email<T: DeserializeOwned>(
    path: &str,
    file: &web_sys::File,
    result_email: &str,
) -> Result<T, Failure> {
    let form = web_sys::FormData::new().map_err(|_| Failure::Network)?;
    form.append_with_blob_and_filename("file", file, &file.name())
        .map_err(|_| Failure::Network)?;
    form.append_with_str("result_email", result_email)
        .map_err(|_| Failure::Network)?;
    let name = String::from(js_sys::encode_uri_component(&file.name()));
    let (status, text) = fetch(
        "POST",
        path,
        Some(("", form.as_ref())),
        Some((nhi_protocol::units::FILE_NAME_HEADER, &name)),
    )
    .await?;
    answer(status, &text)
}

/// `POST` whose success answer has no body (204).
pub async fn post_no_content<B: Serialize>(path: &str, body: &B) -> Result<(), Failure> {
    let (status, text) = fetch_json("POST", path, body).await?;
    if (200..300).contains(&status) {
        return Ok(());
    }
    answer::<serde::de::IgnoredAny>(status, &text).map(|_| ())
}

/// `PATCH` with a JSON body.
pub async fn patch<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, Failure> {
    let (status, text) = fetch_json("PATCH", path, body).await?;
    answer(status, &text)
}

/// `DELETE` with no answer body.
pub async fn delete(path: &str) -> Result<(), Failure> {
    let (status, text) = fetch("DELETE", path, None, None).await?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(serde_json::from_str::<ApiError>(&text)
            .map(Failure::Api)
            .unwrap_or(Failure::Unreadable))
    }
}

/// A fresh server nonce for `purpose`, answered by the card in the reader (proof v2: the
/// card's MAC over the challenge and its own record): what every card-bound call needs. The
/// server refuses a proof made on a nonce of another purpose (`nonce_invalid`), so each call
/// asks for the purpose of the request it is for.
pub async fn prove_card(purpose: ProofPurpose) -> Result<CardProof, Failure> {
    let nonce: NonceResponse = post("/card-proof/nonce", &NonceRequest { purpose }).await?;
    if nonce.purpose != purpose {
        return Err(Failure::Unreadable);
    }
    Ok(crate::bridge::card_proof(nonce.nonce).await?)
}

/// The card-bound request every card flow makes (F1 household check and registration, F2
/// confirmation, F3 login, F7 activation, F8 resend): a fresh nonce for `purpose`, the card's
/// proof of it ([`prove_card`]), then `POST path` with the body `body` builds around the proof.
/// A bridge failure is `Failure::Bridge`, for the page to show next to the card reader.
pub async fn with_card_proof<B: Serialize, T: DeserializeOwned>(
    purpose: ProofPurpose,
    path: &str,
    body: impl FnOnce(CardProof) -> B,
) -> Result<T, Failure> {
    let proof = prove_card(purpose).await?;
    post(path, &body(proof)).await
}
