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

/// One request; answers the status and the body text.
async fn fetch(method: &str, path: &str, body: Option<String>) -> Result<(u16, String), Failure> {
    let window = web_sys::window().ok_or(Failure::Network)?;
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    let headers = web_sys::Headers::new().map_err(|_| Failure::Network)?;
    let _ = headers.set("accept", "application/json");
    if method != "GET" {
        let _ = headers.set(CSRF_HEADER, CSRF_HEADER_VALUE);
    }
    if let Some(b) = &body {
        let _ = headers.set("content-type", "application/json");
        init.set_body(&JsValue::from_str(b));
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
    let (status, text) = fetch("GET", path, None).await?;
    answer(status, &text)
}

pub async fn post<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, Failure> {
    let body = serde_json::to_string(body).map_err(|_| Failure::Unreadable)?;
    let (status, text) = fetch("POST", path, Some(body)).await?;
    answer(status, &text)
}

pub async fn put<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, Failure> {
    let body = serde_json::to_string(body).map_err(|_| Failure::Unreadable)?;
    let (status, text) = fetch("PUT", path, Some(body)).await?;
    answer(status, &text)
}

/// `POST` of a file as the raw body (insured units, F5), its name in `x-file-name`.
pub async fn post_file<T: DeserializeOwned>(
    path: &str,
    file: &web_sys::File,
) -> Result<T, Failure> {
    let window = web_sys::window().ok_or(Failure::Network)?;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    let headers = web_sys::Headers::new().map_err(|_| Failure::Network)?;
    let _ = headers.set("accept", "application/json");
    let _ = headers.set(CSRF_HEADER, CSRF_HEADER_VALUE);
    let _ = headers.set("content-type", "application/octet-stream");
    let name = String::from(js_sys::encode_uri_component(&file.name()));
    let _ = headers.set(nhi_protocol::units::FILE_NAME_HEADER, &name);
    init.set_headers(&headers);
    init.set_body(file);
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
    answer(resp.status(), &text)
}

/// `DELETE` with no answer body.
pub async fn delete(path: &str) -> Result<(), Failure> {
    let (status, text) = fetch("DELETE", path, None).await?;
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
