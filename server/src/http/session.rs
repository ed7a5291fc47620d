//! Login with card and password (F3), logout, and who is logged in.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use nhi_protocol::api::{ApiError, LoginRequest, UserInfo};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::CurrentUser;
use super::error::ApiResult;
use super::extract::{session_cookie, ApiJson, SessionToken};
use super::AppState;
use crate::services::Caller;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login, logout))
        .routes(routes!(me))
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
    if let Some(c) = session_cookie(&s.services.config, &session.token, session.max_age_seconds) {
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
    if let Some(c) = session_cookie(&s.services.config, "", 0) {
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
