//! Login with card and password (F3), logout, and who is logged in.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use nhi_protocol::api::{ApiError, LoginRequest, UserInfo};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::CurrentUser;
use super::error::ApiResult;
use super::extract::{session_cookie_name, ApiJson, SessionToken};
use super::AppState;
use crate::services::Caller;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login, logout))
        .routes(routes!(me))
}

/// The session cookie: `__Host-nhi_session` with `Secure` on https (the prefix needs
/// `Secure`, `Path=/` and no `Domain`, all given here), `nhi_session` on plain-http localhost.
fn session_cookie(s: &AppState, value: &str, max_age: u64) -> Option<HeaderValue> {
    let config = &s.services.config;
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

#[utoipa::path(post, path = "/api/v1/session", tag = "session",
    request_body = LoginRequest,
    responses((status = 200, description = "Logged in; sets the session cookie", body = UserInfo),
              (status = 401, description = "login_failed / card_proof_invalid", body = ApiError),
              (status = 403, description = "account_not_active", body = ApiError),
              (status = 423, description = "account_locked (Retry-After)", body = ApiError)))]
async fn login(
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

#[utoipa::path(delete, path = "/api/v1/session", tag = "session",
    responses((status = 204, description = "Logged out; clears the session cookie")))]
async fn logout(
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
    responses((status = 200, description = "The logged-in person, masked", body = UserInfo),
              (status = 401, description = "unauthenticated", body = ApiError)))]
async fn me(CurrentUser(user): CurrentUser) -> Json<UserInfo> {
    Json(user)
}
