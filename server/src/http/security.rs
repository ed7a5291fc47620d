//! Security middleware: headers (CSP & co.), the CSRF rule, per-IP rate limits.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use nhi_protocol::api::{ErrorCode, CSRF_HEADER, CSRF_HEADER_VALUE};

use super::error::HttpError;
use super::extract::{client_ip, peer_of};
use super::AppState;
use crate::services::rate_limit::{self, LimitError};

/// The `Retry-After` of a 503 when the shared rate limit cannot be asked.
const UNAVAILABLE_RETRY_SECONDS: u64 = 2;

pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
                       img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; \
                       base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn static_headers(https: bool) -> Vec<(HeaderName, HeaderValue)> {
    let mut h = vec![
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
        (
            HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("same-origin"),
        ),
        (
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
        ),
    ];
    if https {
        h.push((
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ));
    }
    h
}

/// Adds the security headers to every answer, `no-store` to API answers, and counts requests.
pub async fn headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let is_api = path.starts_with("/api/");
    let mut resp = next.run(req).await;
    let metrics = &state.services.metrics;
    metrics.inc(&metrics.http_requests);
    if resp.status().is_client_error() {
        metrics.inc(&metrics.http_errors_4xx);
    } else if resp.status().is_server_error() {
        metrics.inc(&metrics.http_errors_5xx);
    }
    let h = resp.headers_mut();
    for (k, v) in static_headers(state.services.config.origin().starts_with("https://")) {
        h.insert(k, v);
    }
    if is_api {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    } else if !h.contains_key(header::CACHE_CONTROL) {
        let policy = if super::spa::is_fingerprinted(&path) {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    resp
}

fn is_state_changing(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// State-changing API requests need the custom header and an `Origin` equal to ours.
pub async fn csrf(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if is_state_changing(req.method()) {
        let h = req.headers();
        let header_ok = h
            .get(CSRF_HEADER)
            .is_some_and(|v| v.as_bytes() == CSRF_HEADER_VALUE.as_bytes());
        let origin_ok = h
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|o| o.trim_end_matches('/') == state.services.config.origin());
        if !(header_ok && origin_ok) {
            return HttpError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::CsrfRejected,
                format!(
                    "state-changing requests need the {CSRF_HEADER} header and this site's Origin"
                ),
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// Host (lower-case, IPv6 without brackets) and port of `authority` (`host[:port]`), the
/// port defaulting to `default_port`.
fn host_and_port(authority: &str, default_port: u16) -> Option<(String, u16)> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, rest) = v6.split_once(']')?;
            (host, rest.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => default_port,
    };
    Some((host.to_ascii_lowercase(), port))
}

fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// Whether a request for `host_header` reached us under another loopback name of the
/// loopback `origin` (127.0.0.1 or [::1] for localhost, or the other way round; an explicit
/// default port counts as none). Such a page's requests would all fail the Origin check.
/// A different port is not an alias (a port mapping or another service).
pub fn is_loopback_alias(origin: &str, host_header: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let default_port = if scheme.eq_ignore_ascii_case("https") {
        443
    } else {
        80
    };
    let (Some(ours), Some(theirs)) = (
        host_and_port(authority, default_port),
        host_and_port(host_header.trim(), default_port),
    ) else {
        return false;
    };
    is_loopback_host(&ours.0)
        && is_loopback_host(&theirs.0)
        && ours.1 == theirs.1
        && ours.0 != theirs.0
}

/// The page a non-GET request to a loopback alias gets: which address to open.
fn use_origin_page(origin: &str, host: &str) -> String {
    let esc = crate::services::mails::escape;
    let (origin, host) = (esc(origin), esc(host));
    format!(
        "<!doctype html><html lang=\"zh-TW\"><meta charset=\"utf-8\"><title>請改用 {origin}</title>\
         <h1>請改用 <a href=\"{origin}/\">{origin}</a> 開啟本網站</h1>\
         <p>本網站設定的網址是 {origin}，而不是 {host}；從其他網址送出的資料會被拒絕。</p>\
         <p lang=\"en\">This site is configured as <a href=\"{origin}/\">{origin}</a>, not {host}: \
         open it there (requests from another address are refused).</p></html>"
    )
}

/// A request under a loopback alias of the configured origin (see [`is_loopback_alias`]):
/// a GET/HEAD page or asset is redirected (307) to the same path at the configured origin,
/// an API call answers 421 `wrong_origin` naming the address to use, anything else a page
/// saying which address to open. `/healthz` and `/metrics` answer under any name.
pub async fn loopback_alias(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let origin = state.services.config.origin();
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()));
    let Some(host) = host.filter(|h| is_loopback_alias(origin, h)) else {
        return next.run(req).await;
    };
    let path = req.uri().path();
    if matches!(path, "/healthz" | "/metrics") {
        return next.run(req).await;
    }
    if path.starts_with("/api/") {
        return HttpError::new(
            StatusCode::MISDIRECTED_REQUEST,
            ErrorCode::WrongOrigin,
            format!("this site is configured as {origin}, not http://{host}: open {origin}"),
        )
        .into_response();
    }
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        let target = format!(
            "{origin}{}",
            req.uri().path_and_query().map_or("/", |p| p.as_str())
        );
        if let Ok(location) = HeaderValue::from_str(&target) {
            return (
                StatusCode::TEMPORARY_REDIRECT,
                [(header::LOCATION, location)],
                use_origin_page(origin, &host),
            )
                .into_response();
        }
    }
    (
        StatusCode::MISDIRECTED_REQUEST,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        use_origin_page(origin, &host),
    )
        .into_response()
}

fn class_of(path: &str) -> &'static str {
    match path.trim_start_matches("/api/v1/") {
        "card-proof/nonce" => "nonce",
        "registrations/household-check" => "household",
        "registrations" => "register",
        "registrations/confirm" => "confirm",
        "registrations/resend" => "resend",
        "session" | "units/certificate-login" => "login",
        _ => "other",
    }
}

/// Per-client limits on state-changing API requests (see [`crate::services::rate_limit`]):
/// 429 with `Retry-After` when the client's bucket is empty; 503 with `Retry-After` when the
/// shared buckets cannot be asked (fail closed: every limited request needs the database
/// anyway). GETs (pages, assets, reads) are never limited.
pub async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if is_state_changing(req.method()) {
        let cfg = &state.services.config;
        let ip = client_ip(
            req.headers(),
            peer_of(req.extensions()),
            &cfg.trusted_proxies,
        );
        match state.limiter.check(ip, class_of(req.uri().path())).await {
            Ok(()) => {}
            Err(LimitError::Exceeded { retry_after }) => {
                state
                    .services
                    .metrics
                    .inc(&state.services.metrics.rate_limited);
                return HttpError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::RateLimited,
                    "too many requests",
                )
                .retry_after(rate_limit::seconds(retry_after))
                .into_response();
            }
            Err(e @ LimitError::Unavailable(_)) => {
                tracing::error!(error = %e, "rate limit unavailable; refusing the request");
                return HttpError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::Internal,
                    "the service is briefly unavailable; nothing was done, please retry",
                )
                .retry_after(UNAVAILABLE_RETRY_SECONDS)
                .into_response();
            }
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_aliases_are_recognised_in_every_port_form() {
        let o = "http://localhost:8080";
        for alias in ["127.0.0.1:8080", "[::1]:8080", "127.0.0.2:8080"] {
            assert!(is_loopback_alias(o, alias), "{alias}");
        }
        for same in [
            "localhost:8080",
            "LOCALHOST:8080",
            "127.0.0.1:9090",
            "nhi.example:8080",
            "",
        ] {
            assert!(!is_loopback_alias(o, same), "{same}");
        }
        assert!(is_loopback_alias("http://127.0.0.1:8080", "localhost:8080"));
        assert!(is_loopback_alias("http://localhost", "127.0.0.1"));
        assert!(is_loopback_alias("http://localhost", "127.0.0.1:80"));
        assert!(is_loopback_alias("http://localhost:80", "[::1]"));
        assert!(!is_loopback_alias("http://localhost", "localhost:80"));
        assert!(is_loopback_alias("https://localhost", "127.0.0.1:443"));
        assert!(!is_loopback_alias("https://localhost", "127.0.0.1:80"));
        // A public origin is never redirected (a health check on the host itself).
        assert!(!is_loopback_alias("https://nhi.example", "127.0.0.1:443"));
        assert!(!is_loopback_alias("https://nhi.example", "localhost"));
    }
}
