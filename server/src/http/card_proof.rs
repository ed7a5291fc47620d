//! The card-proof nonce every card-authenticated flow starts with (F1, F2, F3, F7, F8).

use axum::extract::State;
use axum::Json;
use nhi_protocol::api::{ApiError, NonceRequest, NonceResponse};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiResult;
use super::extract::ApiJson;
use super::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(nonce))
}

#[utoipa::path(post, path = "/api/v1/card-proof/nonce", tag = "card proof",
    request_body = NonceRequest,
    responses((status = 200, description = "A fresh single-use nonce for one purpose", body = NonceResponse),
              (status = 400, description = "bad_request", body = ApiError)))]
async fn nonce(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<NonceRequest>,
) -> ApiResult<Json<NonceResponse>> {
    Ok(Json(s.services.issue_nonce(req.purpose).await?))
}
