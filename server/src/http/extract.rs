//! Extractors: JSON bodies with field-level errors, the client address, the session cookie.

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use nhi_protocol::api::SESSION_COOKIE;
use serde::de::DeserializeOwned;

use super::error::HttpError;
use super::AppState;
use crate::services::Caller;

/// A JSON body; a malformed one answers `bad_request` naming the field at fault.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, HttpError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !is_json {
            return Err(HttpError::bad_request(
                "content-type",
                "send application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| HttpError::bad_request("body", "the body is unreadable or too large"))?;
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(de)
            .map(ApiJson)
            .map_err(|e| {
                let field = e.path().to_string();
                HttpError::bad_request(
                    if field == "." { "body".into() } else { field },
                    e.inner().to_string(),
                )
            })
    }
}

/// The client address: the socket peer, or the last `X-Forwarded-For` hop when configured.
pub fn client_ip(
    parts_headers: &HeaderMap,
    peer: Option<SocketAddr>,
    trust_forwarded: bool,
) -> IpAddr {
    if trust_forwarded {
        let forwarded = parts_headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok());
        if let Some(ip) = forwarded {
            return ip;
        }
    }
    peer.map_or(IpAddr::from([127, 0, 0, 1]), |p| p.ip())
}

pub fn peer_of(extensions: &axum::http::Extensions) -> Option<SocketAddr> {
    extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        let ip = client_ip(
            &parts.headers,
            peer_of(&parts.extensions),
            state.services.config.trust_forwarded_for,
        );
        Ok(Caller { ip: ip.to_string() })
    }
}

/// The session cookie's value, if any.
pub struct SessionToken(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for SessionToken {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, HttpError> {
        Ok(SessionToken(cookie_value(&parts.headers, SESSION_COOKIE)))
    }
}

pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}
