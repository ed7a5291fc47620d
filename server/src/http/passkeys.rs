//! Passkeys rooted in the card (issue 16): the step-up, the registration and login
//! ceremonies, and the account's passkeys. The WebAuthn bodies are the Level 3 JSON forms.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use nhi_protocol::api::{ApiError, UserInfo};
use nhi_protocol::passkeys::{
    CeremonyOptions, LoginFinish, PasskeyInfo, PasskeysResponse, RegistrationFinish, RenamePasskey,
    StepUpRequest,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{AuthAccount, AuthSession};
use super::error::ApiResult;
use super::extract::{session_cookie, ApiJson};
use super::AppState;
use crate::services::{Caller, ServiceError};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(step_up))
        .routes(routes!(registration_start))
        .routes(routes!(registration_finish))
        .routes(routes!(list))
        .routes(routes!(rename, remove))
        .routes(routes!(login_start))
        .routes(routes!(login_finish))
}

fn passkey_id(raw: &str) -> Result<i64, ServiceError> {
    raw.parse().map_err(|_| ServiceError::NotFound)
}

#[utoipa::path(post, path = "/api/v1/passkeys/step-up", tag = "passkeys",
    request_body = StepUpRequest,
    responses((status = 204, description = "This session may start a passkey registration for 5 minutes"),
              (status = 400, description = "nonce_invalid / bad_request", body = ApiError),
              (status = 401, description = "unauthenticated / login_failed (wrong password) / card_proof_invalid", body = ApiError),
              (status = 403, description = "wrong_card: the proof is not of this account's person / card_revoked", body = ApiError),
              (status = 429, description = "rate_limited (Retry-After)", body = ApiError)))]
async fn step_up(
    State(s): State<AppState>,
    caller: Caller,
    session: AuthSession,
    ApiJson(req): ApiJson<StepUpRequest>,
) -> ApiResult<StatusCode> {
    s.services
        .passkey_step_up(&caller, &session.account, &session.session_hash, req)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/passkeys/registration", tag = "passkeys",
    responses((status = 200, description = "`options.publicKey` is for PublicKeyCredential.parseCreationOptionsFromJSON", body = CeremonyOptions),
              (status = 401, description = "unauthenticated", body = ApiError),
              (status = 403, description = "step_up_required", body = ApiError)))]
async fn registration_start(
    State(s): State<AppState>,
    caller: Caller,
    session: AuthSession,
) -> ApiResult<Json<CeremonyOptions>> {
    Ok(Json(
        s.services
            .passkey_registration_start(&caller, &session.account, &session.session_hash)
            .await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/passkeys/registration/finish", tag = "passkeys",
    request_body = RegistrationFinish,
    responses((status = 200, description = "The new passkey; a mail tells the person", body = PasskeyInfo),
              (status = 400, description = "bad_request (name, credential)", body = ApiError),
              (status = 401, description = "unauthenticated / passkey_rejected (message: the PasskeyProblem code)", body = ApiError)))]
async fn registration_finish(
    State(s): State<AppState>,
    caller: Caller,
    session: AuthSession,
    ApiJson(req): ApiJson<RegistrationFinish>,
) -> ApiResult<Json<PasskeyInfo>> {
    Ok(Json(
        s.services
            .passkey_registration_finish(&caller, &session.account, &session.session_hash, req)
            .await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/passkeys", tag = "passkeys",
    responses((status = 200, description = "The account's passkeys", body = PasskeysResponse),
              (status = 401, description = "unauthenticated", body = ApiError)))]
async fn list(
    State(s): State<AppState>,
    AuthAccount(account): AuthAccount,
) -> ApiResult<Json<PasskeysResponse>> {
    Ok(Json(s.services.passkeys_of(&account).await?))
}

#[utoipa::path(patch, path = "/api/v1/passkeys/{id}", tag = "passkeys",
    params(("id" = i64, Path, description = "The passkey's id")),
    request_body = RenamePasskey,
    responses((status = 200, description = "Renamed", body = PasskeyInfo),
              (status = 400, description = "bad_request (name: 1 to 64 characters)", body = ApiError),
              (status = 401, description = "unauthenticated", body = ApiError),
              (status = 404, description = "not_found (also another account's passkey)", body = ApiError)))]
async fn rename(
    State(s): State<AppState>,
    caller: Caller,
    AuthAccount(account): AuthAccount,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<RenamePasskey>,
) -> ApiResult<Json<PasskeyInfo>> {
    let id = passkey_id(&id)?;
    Ok(Json(
        s.services
            .rename_passkey(&caller, &account, id, &req.name)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/passkeys/{id}", tag = "passkeys",
    params(("id" = i64, Path, description = "The passkey's id")),
    responses((status = 204, description = "Removed"),
              (status = 401, description = "unauthenticated", body = ApiError),
              (status = 404, description = "not_found (also another account's passkey)", body = ApiError)))]
async fn remove(
    State(s): State<AppState>,
    caller: Caller,
    AuthAccount(account): AuthAccount,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = passkey_id(&id)?;
    s.services.delete_passkey(&caller, &account, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/passkeys/login", tag = "passkeys",
    responses((status = 200, description = "`options.publicKey` is for PublicKeyCredential.parseRequestOptionsFromJSON (discoverable: no allowCredentials)", body = CeremonyOptions)))]
async fn login_start(State(s): State<AppState>) -> ApiResult<Json<CeremonyOptions>> {
    Ok(Json(s.services.passkey_login_start().await?))
}

#[utoipa::path(post, path = "/api/v1/passkeys/login/finish", tag = "passkeys",
    request_body = LoginFinish,
    responses((status = 200, description = "Logged in (as an F3 login); sets the session cookie", body = UserInfo),
              (status = 400, description = "bad_request (credential)", body = ApiError),
              (status = 401, description = "passkey_rejected (message: the PasskeyProblem code)", body = ApiError),
              (status = 403, description = "account_not_active", body = ApiError),
              (status = 429, description = "rate_limited (Retry-After): too many refused passkey logins of this account", body = ApiError)))]
async fn login_finish(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<LoginFinish>,
) -> ApiResult<Response> {
    let session = s.services.passkey_login_finish(&caller, req).await?;
    let mut resp = Json(session.user).into_response();
    if let Some(c) = session_cookie(&s.services.config, &session.token, session.max_age_seconds) {
        resp.headers_mut().insert(header::SET_COOKIE, c);
    }
    Ok(resp)
}
