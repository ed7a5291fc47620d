//! Extractors of the request itself: JSON bodies and query strings with field-level errors,
//! the client address, the session cookie. Who is calling is in [`super::auth`].

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use nhi_protocol::api::{SESSION_COOKIE, SESSION_COOKIE_SECURE};
use serde::de::DeserializeOwned;

use super::error::HttpError;
use super::AppState;
use crate::config::{Config, TrustedProxies};
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

/// A query string; a malformed one answers `bad_request` (field `query`) like a malformed body.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, HttpError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| ApiQuery(q))
            .map_err(|e| HttpError::bad_request("query", e.body_text()))
    }
}

/// One `X-Forwarded-For` entry: an address, or (as some proxies write it) an address with a
/// port (`1.2.3.4:5678`, `[2001:db8::1]:5678`).
fn forwarded_hop(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The client address, in canonical form (`::ffff:a.b.c.d` is `a.b.c.d`).
///
/// It is the TCP peer, unless the peer is one of `trusted` proxies: then `X-Forwarded-For`
/// (all its header lines, in order) is walked from the right, skipping trusted hops, and the
/// first untrusted hop is the client. Hops left of it were written by the client and are never
/// believed. When every hop is trusted the leftmost one is the client; a malformed hop stops
/// the walk at the trusted hop to its right (which then stands for the client).
pub fn client_ip(
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    trusted: &TrustedProxies,
) -> IpAddr {
    let peer = peer.map_or(IpAddr::from([127, 0, 0, 1]), |p| p.ip().to_canonical());
    if trusted.is_empty() || !trusted.contains(peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut client = peer;
    for entry in hops.iter().rev() {
        match forwarded_hop(entry) {
            Some(ip) => {
                client = ip;
                if !trusted.contains(ip) {
                    break;
                }
            }
            None => break,
        }
    }
    client
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
            &state.services.config.trusted_proxies,
        );
        Ok(Caller { ip: ip.to_string() })
    }
}

/// The session cookie's name: [`SESSION_COOKIE_SECURE`] (`__Host-nhi_session`) whenever
/// cookies are `Secure` (every https site), [`SESSION_COOKIE`] on plain-http localhost.
pub fn session_cookie_name(config: &Config) -> &'static str {
    if config.secure_cookies() {
        SESSION_COOKIE_SECURE
    } else {
        SESSION_COOKIE
    }
}

/// The `Set-Cookie` value of the session cookie: `__Host-nhi_session` with `Secure` on
/// https (the prefix needs `Secure`, `Path=/` and no `Domain`, all given here), `nhi_session`
/// on plain-http localhost; `HttpOnly`, `SameSite=Strict`. Both logins (card + password, F3;
/// citizen certificate, F5) set it; an empty value with `max_age` 0 clears it.
pub fn session_cookie(config: &Config, value: &str, max_age: u64) -> Option<HeaderValue> {
    let name = session_cookie_name(config);
    let secure = if config.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .ok()
}

/// The session cookie's value, if any. Only the configured name counts: on https a plain
/// `nhi_session` (which a sibling subdomain or an http response could have planted) is ignored.
pub struct SessionToken(pub Option<String>);

impl FromRequestParts<AppState> for SessionToken {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        let name = session_cookie_name(&state.services.config);
        Ok(SessionToken(cookie_value(&parts.headers, name)))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn peer(s: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(ip(s), 40000))
    }

    fn xff(lines: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for l in lines {
            h.append("x-forwarded-for", l.parse().expect("header value"));
        }
        h
    }

    fn trusted(s: &str) -> TrustedProxies {
        s.parse().expect("proxies")
    }

    #[test]
    fn forwarded_for_is_ignored_without_trusted_proxies() {
        let h = xff(&["6.6.6.6"]);
        let none = TrustedProxies::default();
        assert_eq!(client_ip(&h, peer("203.0.113.9"), &none), ip("203.0.113.9"));
        assert_eq!(client_ip(&h, None, &none), ip("127.0.0.1"));
        assert_eq!(
            client_ip(&h, peer("::ffff:203.0.113.9"), &none),
            ip("203.0.113.9"),
            "IPv4-mapped peers are IPv4"
        );
    }

    #[test]
    fn forwarded_for_is_ignored_from_an_untrusted_peer() {
        let t = trusted("127.0.0.1, 10.0.0.0/8");
        let h = xff(&["6.6.6.6"]);
        assert_eq!(client_ip(&h, peer("203.0.113.9"), &t), ip("203.0.113.9"));
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let t = trusted("127.0.0.1, 10.0.0.0/8");
        // The client forged the first entry; our proxies appended the rest.
        let h = xff(&["6.6.6.6, 198.51.100.7", "10.1.1.1"]);
        assert_eq!(client_ip(&h, peer("127.0.0.1"), &t), ip("198.51.100.7"));
        let h = xff(&["6.6.6.6, 198.51.100.7, 10.2.2.2, 10.1.1.1"]);
        assert_eq!(
            client_ip(&h, peer("::ffff:127.0.0.1"), &t),
            ip("198.51.100.7")
        );
        // Ports and IPv6 hops.
        let h = xff(&["[2001:db8::5]:1234, 10.0.0.9:80"]);
        assert_eq!(client_ip(&h, peer("10.0.0.1"), &t), ip("2001:db8::5"));
        let h = xff(&["::ffff:198.51.100.8"]);
        assert_eq!(client_ip(&h, peer("10.0.0.1"), &t), ip("198.51.100.8"));
    }

    #[test]
    fn degenerate_forwarded_for_falls_back_safely() {
        let t = trusted("127.0.0.1, 10.0.0.0/8");
        assert_eq!(
            client_ip(&HeaderMap::new(), peer("10.0.0.1"), &t),
            ip("10.0.0.1"),
            "no header: the peer"
        );
        assert_eq!(
            client_ip(&xff(&["10.3.3.3, 10.2.2.2"]), peer("10.0.0.1"), &t),
            ip("10.3.3.3"),
            "all trusted: the leftmost"
        );
        assert_eq!(
            client_ip(&xff(&["6.6.6.6, garbage, 10.2.2.2"]), peer("10.0.0.1"), &t),
            ip("10.2.2.2"),
            "a malformed hop stops the walk; nothing left of it is believed"
        );
        assert_eq!(
            client_ip(&xff(&[""]), peer("10.0.0.1"), &t),
            ip("10.0.0.1"),
            "an empty header: the peer"
        );
    }
}
