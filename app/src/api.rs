//! The HTTP client for the server's JSON API (`nhi_protocol::api`).

use gloo_net::http::{Request, Response};
use nhi_protocol::api::{
    ApiError, CardProof, ErrorCode, NonceResponse, API_PREFIX, CSRF_HEADER, CSRF_HEADER_VALUE,
};
use nhi_protocol::bridge::BridgeError;
use serde::de::DeserializeOwned;
use serde::Serialize;

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

fn url(path: &str) -> String {
    format!("{API_PREFIX}{path}")
}

async fn answer<T: DeserializeOwned>(
    resp: Result<Response, gloo_net::Error>,
) -> Result<T, Failure> {
    let resp = resp.map_err(|_| Failure::Network)?;
    if resp.ok() {
        resp.json::<T>().await.map_err(|_| Failure::Unreadable)
    } else {
        match resp.json::<ApiError>().await {
            Ok(e) => Err(Failure::Api(e)),
            Err(_) if resp.status() >= 500 => Err(Failure::Api(ApiError::new(
                ErrorCode::Internal,
                "server error",
            ))),
            Err(_) => Err(Failure::Unreadable),
        }
    }
}

pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, Failure> {
    answer(Request::get(&url(path)).send().await).await
}

pub async fn post<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, Failure> {
    let req = Request::post(&url(path))
        .header(CSRF_HEADER, CSRF_HEADER_VALUE)
        .json(body)
        .map_err(|_| Failure::Unreadable)?;
    answer(req.send().await).await
}

/// `DELETE` with no answer body.
pub async fn delete(path: &str) -> Result<(), Failure> {
    let resp = Request::delete(&url(path))
        .header(CSRF_HEADER, CSRF_HEADER_VALUE)
        .send()
        .await
        .map_err(|_| Failure::Network)?;
    if resp.ok() {
        Ok(())
    } else {
        Err(resp
            .json::<ApiError>()
            .await
            .map(Failure::Api)
            .unwrap_or(Failure::Unreadable))
    }
}

/// A fresh server nonce answered by the card in the reader: what every card-bound call needs.
pub async fn prove_card() -> Result<CardProof, Failure> {
    let nonce: NonceResponse = post("/card-proof/nonce", &serde_json::json!({})).await?;
    Ok(crate::bridge::card_proof(nonce.nonce).await?)
}
