//! Insured units (F4): the units a person acts for, and the unit admin's role management.
//! Bodies are `nhi_protocol::units` types. The routes of a unit (`{code}`) want a
//! [`UnitPrincipal`]: the person, the unit and their permissions there.

use axum::extract::State;
use axum::Json;
use nhi_protocol::api::ApiError;
use nhi_protocol::units::{MyUnitsResponse, RolesResponse, SetRoleRequest};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{UnitActor, UnitPrincipal};
use super::error::ApiResult;
use super::extract::ApiJson;
use super::AppState;
use crate::services::Caller;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_units))
        .routes(routes!(roles, set_role))
}

#[utoipa::path(get, path = "/api/v1/units", tag = "insured units",
    responses((status = 200, description = "The units the logged-in person acts for, with their permissions", body = MyUnitsResponse),
              (status = 401, description = "unauthenticated", body = ApiError)))]
async fn my_units(
    State(state): State<AppState>,
    UnitActor(p): UnitActor,
) -> ApiResult<Json<MyUnitsResponse>> {
    Ok(Json(state.services.my_units(&p).await?))
}

#[utoipa::path(get, path = "/api/v1/units/{code}/roles", tag = "insured units",
    params(("code" = String, Path, description = "投保單位代號")),
    responses((status = 200, description = "The unit's staff and their permissions (unit admin)", body = RolesResponse),
              (status = 401, description = "unauthenticated", body = ApiError),
              (status = 403, description = "forbidden: not this unit's admin", body = ApiError)))]
async fn roles(State(state): State<AppState>, p: UnitPrincipal) -> ApiResult<Json<RolesResponse>> {
    Ok(Json(
        state.services.unit_roles(&p.principal, p.code()).await?,
    ))
}

#[utoipa::path(put, path = "/api/v1/units/{code}/roles", tag = "insured units",
    params(("code" = String, Path, description = "投保單位代號")),
    request_body = SetRoleRequest,
    responses((status = 200, description = "Granted or changed (audited); the staff afterwards", body = RolesResponse),
              (status = 400, description = "bad_request (field national_id)", body = ApiError),
              (status = 401, description = "unauthenticated", body = ApiError),
              (status = 403, description = "forbidden: not this unit's admin", body = ApiError)))]
async fn set_role(
    State(state): State<AppState>,
    caller: Caller,
    p: UnitPrincipal,
    ApiJson(req): ApiJson<SetRoleRequest>,
) -> ApiResult<Json<RolesResponse>> {
    Ok(Json(
        state
            .services
            .set_role(&caller, &p.principal, p.code(), &req)
            .await?,
    ))
}
