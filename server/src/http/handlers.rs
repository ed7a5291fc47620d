//! Route handlers: extract, call a service, shape the answer.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use nhi_protocol::api::{
    ConfirmRequest, ConfirmResponse, HouseholdCheckRequest, HouseholdCheckResponse, LoginRequest,
    NonceRequest, NonceResponse, PlacesResponse, RegisterRequest, RegisterResponse, ResendRequest,
    ResendResponse, UserInfo,
};

use super::error::HttpError;
use super::extract::{ApiJson, SessionToken};
use super::AppState;
use crate::services::Caller;
use crate::storage::outbox;

type ApiResult<T> = Result<T, HttpError>;

#[utoipa::path(post, path = "/api/v1/card-proof/nonce", tag = "card proof",
    request_body = super::openapi::NonceRequestDoc,
    responses((status = 200, description = "A fresh single-use nonce for one purpose (NonceResponse)", body = super::openapi::NonceResponseDoc)))]
pub async fn nonce(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<NonceRequest>,
) -> ApiResult<Json<NonceResponse>> {
    Ok(Json(s.services.issue_nonce(req.purpose).await?))
}

#[utoipa::path(get, path = "/api/v1/places", tag = "registration",
    responses((status = 200, description = "County → township → village lists", body = super::openapi::PlacesDoc)))]
pub async fn places(State(s): State<AppState>) -> Json<PlacesResponse> {
    Json((*s.services.places).clone())
}

#[utoipa::path(post, path = "/api/v1/registrations/household-check", tag = "registration",
    request_body = super::openapi::HouseholdCheckDoc,
    responses((status = 200, description = "The household data match", body = super::openapi::HouseholdCheckResponseDoc),
              (status = 422, description = "household_mismatch", body = super::openapi::ApiErrorDoc),
              (status = 409, description = "already_registered / registration_pending", body = super::openapi::ApiErrorDoc)))]
pub async fn household_check(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<HouseholdCheckRequest>,
) -> ApiResult<Json<HouseholdCheckResponse>> {
    s.services.household_check(&caller, &req).await?;
    Ok(Json(HouseholdCheckResponse { matches: true }))
}

#[utoipa::path(post, path = "/api/v1/registrations", tag = "registration",
    request_body = super::openapi::RegisterDoc,
    responses((status = 202, description = "Pending; the activation mail is queued", body = super::openapi::RegisterResponseDoc),
              (status = 400, description = "bad_request / nonce_invalid / card_mismatch", body = super::openapi::ApiErrorDoc),
              (status = 401, description = "card_proof_invalid", body = super::openapi::ApiErrorDoc),
              (status = 409, description = "already_registered / registration_pending", body = super::openapi::ApiErrorDoc),
              (status = 422, description = "household_mismatch / password_rejected", body = super::openapi::ApiErrorDoc),
              (status = 503, description = "registry_unavailable", body = super::openapi::ApiErrorDoc)))]
pub async fn register(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<RegisterResponse>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(s.services.register(&caller, req).await?),
    ))
}

#[utoipa::path(post, path = "/api/v1/registrations/confirm", tag = "registration",
    request_body = super::openapi::ConfirmDoc,
    responses((status = 200, description = "The account is active", body = super::openapi::ConfirmResponseDoc),
              (status = 400, description = "ticket_invalid", body = super::openapi::ApiErrorDoc),
              (status = 403, description = "wrong_card", body = super::openapi::ApiErrorDoc),
              (status = 410, description = "ticket_expired", body = super::openapi::ApiErrorDoc)))]
pub async fn confirm(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<ConfirmRequest>,
) -> ApiResult<Json<ConfirmResponse>> {
    Ok(Json(s.services.confirm(&caller, &req).await?))
}

#[utoipa::path(post, path = "/api/v1/registrations/resend", tag = "registration",
    request_body = super::openapi::ResendDoc,
    responses((status = 202, description = "Always the same answer", body = super::openapi::ResendResponseDoc)))]
pub async fn resend(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<ResendRequest>,
) -> ApiResult<(StatusCode, Json<ResendResponse>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(s.services.resend(&caller, &req).await?),
    ))
}

/// The session cookie: `__Host-nhi_session` with `Secure` on https (the prefix needs
/// `Secure`, `Path=/` and no `Domain`, all given here), `nhi_session` on plain-http localhost.
fn session_cookie(s: &AppState, value: &str, max_age: u64) -> Option<HeaderValue> {
    let config = &s.services.config;
    let name = super::extract::session_cookie_name(config);
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

#[utoipa::path(post, path = "/api/v1/session", tag = "session",
    request_body = super::openapi::LoginDoc,
    responses((status = 200, description = "Logged in; sets the session cookie", body = super::openapi::UserInfoDoc),
              (status = 401, description = "login_failed / card_proof_invalid", body = super::openapi::ApiErrorDoc),
              (status = 403, description = "account_not_active", body = super::openapi::ApiErrorDoc),
              (status = 423, description = "account_locked (Retry-After)", body = super::openapi::ApiErrorDoc)))]
pub async fn login(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let session = s.services.login(&caller, req).await?;
    let mut resp = Json(session.user).into_response();
    if let Some(c) = session_cookie(&s, &session.token, session.max_age_seconds) {
        resp.headers_mut().insert(header::SET_COOKIE, c);
    }
    Ok(resp)
}

#[utoipa::path(delete, path = "/api/v1/session", tag = "session", responses((status = 204, description = "Logged out")))]
pub async fn logout(
    State(s): State<AppState>,
    caller: Caller,
    token: SessionToken,
) -> ApiResult<Response> {
    s.services.logout(&caller, token.0.as_deref()).await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    if let Some(c) = session_cookie(&s, "", 0) {
        resp.headers_mut().insert(header::SET_COOKIE, c);
    }
    Ok(resp)
}

#[utoipa::path(get, path = "/api/v1/me", tag = "session",
    responses((status = 200, description = "The logged-in person, masked", body = super::openapi::UserInfoDoc),
              (status = 401, description = "unauthenticated", body = super::openapi::ApiErrorDoc)))]
pub async fn me(State(s): State<AppState>, token: SessionToken) -> ApiResult<Json<UserInfo>> {
    Ok(Json(s.services.current_user(token.0.as_deref()).await?))
}

#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Up and the database answers"), (status = 503, description = "The database does not answer")))]
pub async fn healthz(State(s): State<AppState>) -> Response {
    match s.services.db.ping().await {
        Ok(()) => Json(serde_json::json!({"status": "ok"})).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "database unavailable"})),
            )
                .into_response()
        }
    }
}

#[utoipa::path(get, path = "/metrics", tag = "operations",
    description = "Served on the metrics listener (`metrics_listen`, default 127.0.0.1:9464), not on the site's. \
                   On the site's listener only when `metrics_token_sha256` is set, and then only with \
                   `Authorization: Bearer <token>`.",
    responses((status = 200, description = "Prometheus text format"),
              (status = 401, description = "Site listener: missing or wrong bearer token"),
              (status = 404, description = "Site listener without metrics_token_sha256")))]
pub async fn metrics(State(s): State<AppState>) -> Response {
    let counts = async {
        let mut conn = s.services.db.conn().await?;
        outbox::counts(&mut conn).await
    }
    .await
    .ok();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.services.metrics.render(counts),
    )
        .into_response()
}

/// `/metrics` on the site's listener: only with `Authorization: Bearer <token>` whose SHA-256
/// is `metrics_token_sha256` (compared in constant time); 404 when no token is configured.
pub async fn metrics_bearer(State(s): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let Some(expected) = s
        .services
        .config
        .metrics_token_sha256
        .as_deref()
        .and_then(|h| hex::decode(h.trim()).ok())
    else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let ok = presented.is_some_and(|t| {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(t.as_bytes());
        digest.len() == expected.len()
            && digest
                .iter()
                .zip(&expected)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    });
    if !ok {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "unauthorized",
        )
            .into_response();
    }
    metrics(State(s)).await
}
