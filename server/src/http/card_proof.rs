//! The card-proof nonce every card-authenticated flow starts with (F1, F2, F3, F7, F8, the
//! certificate login, the passkey step-up: that one is issued to the caller's session).

use axum::extract::State;
use axum::Json;
use nhi_protocol::api::{ApiError, NonceRequest, NonceResponse};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiResult;
use super::extract::{ApiJson, SessionToken};
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
    token: SessionToken,
    ApiJson(req): ApiJson<NonceRequest>,
) -> ApiResult<Json<NonceResponse>> {
    // A step-up nonce is issued to the caller's session (issue 16).
    let session = token
        .0
        .as_deref()
        .and_then(crate::services::session::session_hash);
    Ok(Json(
        s.services
            .issue_nonce(req.purpose, session.as_deref())
            .await?,
    ))
}
