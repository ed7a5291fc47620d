//! Self-registration (F1), its email confirmation (F2) and the resent confirmation mail (F8).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use nhi_protocol::api::{
    ApiError, ConfirmRequest, ConfirmResponse, HouseholdCheckRequest, HouseholdCheckResponse,
    PlacesResponse, RegisterRequest, RegisterResponse, ResendRequest, ResendResponse,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiResult;
use super::extract::ApiJson;
use super::AppState;
use crate::services::Caller;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(places))
        .routes(routes!(household_check))
        .routes(routes!(register))
        .routes(routes!(confirm))
        .routes(routes!(resend))
}

#[utoipa::path(get, path = "/api/v1/places", tag = "registration",
    responses((status = 200, description = "County → township → village lists", body = PlacesResponse)))]
async fn places(State(s): State<AppState>) -> Json<PlacesResponse> {
    Json((*s.services.places).clone())
}

#[utoipa::path(post, path = "/api/v1/registrations/household-check", tag = "registration",
    request_body = HouseholdCheckRequest,
    responses((status = 200, description = "The household data match", body = HouseholdCheckResponse),
              (status = 422, description = "household_mismatch", body = ApiError),
              (status = 409, description = "already_registered / registration_pending", body = ApiError)))]
async fn household_check(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<HouseholdCheckRequest>,
) -> ApiResult<Json<HouseholdCheckResponse>> {
    s.services.household_check(&caller, &req).await?;
    Ok(Json(HouseholdCheckResponse { matches: true }))
}

#[utoipa::path(post, path = "/api/v1/registrations", tag = "registration",
    request_body = RegisterRequest,
    responses((status = 202, description = "Pending; the activation mail is queued", body = RegisterResponse),
              (status = 400, description = "bad_request / nonce_invalid / card_mismatch", body = ApiError),
              (status = 401, description = "card_proof_invalid", body = ApiError),
              (status = 409, description = "already_registered / registration_pending", body = ApiError),
              (status = 422, description = "household_mismatch / password_rejected", body = ApiError),
              (status = 503, description = "registry_unavailable", body = ApiError)))]
async fn register(
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
    request_body = ConfirmRequest,
    responses((status = 200, description = "The account is active", body = ConfirmResponse),
              (status = 400, description = "ticket_invalid", body = ApiError),
              (status = 403, description = "wrong_card", body = ApiError),
              (status = 410, description = "ticket_expired", body = ApiError)))]
async fn confirm(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<ConfirmRequest>,
) -> ApiResult<Json<ConfirmResponse>> {
    Ok(Json(s.services.confirm_registration(&caller, &req).await?))
}

#[utoipa::path(post, path = "/api/v1/registrations/resend", tag = "registration",
    request_body = ResendRequest,
    responses((status = 202, description = "Always the same answer", body = ResendResponse)))]
async fn resend(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<ResendRequest>,
) -> ApiResult<(StatusCode, Json<ResendResponse>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(s.services.resend_confirmation(&caller, &req).await?),
    ))
}
