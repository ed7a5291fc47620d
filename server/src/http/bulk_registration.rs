//! The registrants of a unit's bulk file: activation with card and password (F7) and the
//! resent activation mail (F8). Card-authenticated, no session.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use nhi_protocol::api::{ApiError, ResendResponse};
use nhi_protocol::units::{BulkActivateRequest, BulkActivateResponse, BulkResendRequest};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiResult;
use super::extract::ApiJson;
use super::AppState;
use crate::services::Caller;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(activate))
        .routes(routes!(resend))
}

#[utoipa::path(post, path = "/api/v1/bulk-registrations/activate", tag = "bulk registration",
    request_body = BulkActivateRequest,
    responses((status = 200, description = "The account is active", body = BulkActivateResponse),
              (status = 400, description = "bad_request / nonce_invalid / ticket_invalid", body = ApiError),
              (status = 401, description = "card_proof_invalid", body = ApiError),
              (status = 403, description = "wrong_card", body = ApiError),
              (status = 410, description = "ticket_expired", body = ApiError),
              (status = 422, description = "password_rejected", body = ApiError)))]
async fn activate(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<BulkActivateRequest>,
) -> ApiResult<Json<BulkActivateResponse>> {
    Ok(Json(state.services.bulk_activate(&caller, req).await?))
}

#[utoipa::path(post, path = "/api/v1/bulk-registrations/resend", tag = "bulk registration",
    request_body = BulkResendRequest,
    responses((status = 202, description = "Always the same answer", body = ResendResponse),
              (status = 401, description = "card_proof_invalid", body = ApiError)))]
async fn resend(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<BulkResendRequest>,
) -> ApiResult<(StatusCode, Json<ResendResponse>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(state.services.bulk_resend(&caller, &req).await?),
    ))
}
