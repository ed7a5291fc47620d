//! The operators' desk (F11): the applications API. Operators authenticate with
//! `Authorization: Bearer <token>` (the SHA-256 of each token is in the `operators`
//! setting) and carry no cookie, so these routes are mounted outside the cookie CSRF rule.

use axum::extract::{Path, State};
use axum::Json;
use nhi_protocol::api::ApiError;
use nhi_protocol::online::{
    Application, ApplicationStatus, ApplicationsResponse, OperatorStatusRequest,
};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::AuthOperator;
use super::error::{ApiResult, HttpError};
use super::extract::{ApiJson, ApiQuery};
use super::AppState;
use crate::services::{Caller, ServiceError};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(operator_list))
        .routes(routes!(operator_advance))
}

#[derive(Debug, Deserialize)]
struct OperatorListQuery {
    #[serde(default)]
    status: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/operator/applications", tag = "operators",
    params(("status" = Option<String>, Query, description = "only applications in this status")),
    responses((status = 200, description = "Applications (Authorization: Bearer <operator token>)", body = ApplicationsResponse),
              (status = 401, description = "unauthenticated (operator token)", body = ApiError)))]
async fn operator_list(
    State(s): State<AppState>,
    _op: AuthOperator,
    ApiQuery(q): ApiQuery<OperatorListQuery>,
) -> ApiResult<Json<ApplicationsResponse>> {
    let status = match q.status.as_deref().filter(|x| !x.is_empty()) {
        Some(x) => Some(
            ApplicationStatus::parse(x)
                .ok_or_else(|| ServiceError::bad("status", "unknown status"))?,
        ),
        None => None,
    };
    Ok(Json(ApplicationsResponse {
        applications: s.services.operator_applications(status).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/operator/applications/{id}/status", tag = "operators",
    params(("id" = i64, Path, description = "application number")),
    request_body = OperatorStatusRequest,
    responses((status = 200, description = "Moved on (audited); Authorization: Bearer <operator token>", body = Application),
              (status = 400, description = "bad_request: a transition that is not allowed", body = ApiError),
              (status = 401, description = "unauthenticated (operator token)", body = ApiError),
              (status = 404, description = "not_found", body = ApiError)))]
async fn operator_advance(
    State(s): State<AppState>,
    caller: Caller,
    op: Result<AuthOperator, HttpError>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<OperatorStatusRequest>,
) -> ApiResult<Json<Application>> {
    // A refused write is audited (the read above is not).
    let AuthOperator(op) = match op {
        Ok(op) => op,
        Err(e) => {
            s.services
                .audit(
                    &caller,
                    None,
                    "application_status",
                    "operator_refused",
                    None,
                )
                .await;
            return Err(e);
        }
    };
    let id = id
        .parse::<i64>()
        .map_err(|_| ServiceError::ApplicationNotFound)?;
    Ok(Json(
        s.services
            .advance_application(&caller, &op, id, &req)
            .await?,
    ))
}
