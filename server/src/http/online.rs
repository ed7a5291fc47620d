//! The online services after login (F9): the health bank and the citizen's applications.
//! Bodies are `nhi_protocol::online` types; every route wants an [`AuthAccount`] (the
//! session cookie) and sits, like every API route, under the CSRF rule for POST.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use nhi_protocol::api::ApiError;
use nhi_protocol::online::{
    Application, ApplicationsResponse, CardReplacementRequest, CertificateRequest, HealthBankQuery,
    HealthBankResponse,
};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::AuthAccount;
use super::error::ApiResult;
use super::extract::{ApiJson, ApiQuery};
use super::{attachment, AppState};
use crate::services::health_bank::{to_csv, CsvLang};
use crate::services::{Caller, ServiceError};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health_bank))
        .routes(routes!(health_bank_csv))
        .routes(routes!(applications))
        .routes(routes!(apply_card_replacement))
        .routes(routes!(apply_certificate))
        .routes(routes!(application))
        .routes(routes!(certificate_pdf))
}

/// An application number from the path; anything else is not found.
fn application_id(id: &str) -> Result<i64, ServiceError> {
    id.parse::<i64>()
        .map_err(|_| ServiceError::ApplicationNotFound)
}

#[utoipa::path(get, path = "/api/v1/health-bank", tag = "online services",
    params(("from" = Option<String>, Query, description = "YYYY-MM-DD (default: a year before `to`)"),
           ("to" = Option<String>, Query, description = "YYYY-MM-DD (default: today)")),
    responses((status = 200, description = "The person's visits and monthly summary", body = HealthBankResponse),
              (status = 400, description = "bad_request (field from/to)", body = ApiError),
              (status = 401, description = "unauthenticated", body = ApiError)))]
async fn health_bank(
    State(s): State<AppState>,
    AuthAccount(account): AuthAccount,
    ApiQuery(q): ApiQuery<HealthBankQuery>,
) -> ApiResult<Json<HealthBankResponse>> {
    Ok(Json(s.services.health_bank_visits(&account, &q).await?))
}

#[derive(Debug, Deserialize)]
struct CsvQuery {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    lang: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/health-bank/export.csv", tag = "online services",
    params(("from" = Option<String>, Query, description = "YYYY-MM-DD"), ("to" = Option<String>, Query, description = "YYYY-MM-DD"),
           ("lang" = Option<String>, Query, description = "zh-TW (default) or en")),
    responses((status = 200, description = "text/csv, UTF-8 with BOM"),
              (status = 401, description = "unauthenticated", body = ApiError)))]
async fn health_bank_csv(
    State(s): State<AppState>,
    AuthAccount(account): AuthAccount,
    ApiQuery(q): ApiQuery<CsvQuery>,
) -> ApiResult<Response> {
    let lang = match q.lang.as_deref() {
        Some("en") => CsvLang::En,
        _ => CsvLang::ZhTw,
    };
    let query = HealthBankQuery {
        from: q.from,
        to: q.to,
    };
    let r = s.services.health_bank_visits(&account, &query).await?;
    let name = format!(
        "health-bank-{}-{}.csv",
        r.from.replace('-', ""),
        r.to.replace('-', "")
    );
    Ok(attachment(
        to_csv(&r, lang),
        "text/csv; charset=utf-8",
        &name,
    ))
}

#[utoipa::path(get, path = "/api/v1/applications", tag = "online services",
    responses((status = 200, description = "The person's applications, newest first", body = ApplicationsResponse),
              (status = 401, description = "unauthenticated", body = ApiError)))]
async fn applications(
    State(s): State<AppState>,
    AuthAccount(account): AuthAccount,
) -> ApiResult<Json<ApplicationsResponse>> {
    Ok(Json(ApplicationsResponse {
        applications: s.services.applications_of(&account).await?,
    }))
}

#[utoipa::path(get, path = "/api/v1/applications/{id}", tag = "online services",
    params(("id" = i64, Path, description = "application number")),
    responses((status = 200, description = "One of the person's applications", body = Application),
              (status = 401, description = "unauthenticated", body = ApiError),
              (status = 404, description = "not_found (also another person's)", body = ApiError)))]
async fn application(
    State(s): State<AppState>,
    AuthAccount(account): AuthAccount,
    Path(id): Path<String>,
) -> ApiResult<Json<Application>> {
    let id = application_id(&id)?;
    Ok(Json(s.services.application_of(&account, id).await?))
}

#[utoipa::path(post, path = "/api/v1/applications/card-replacement", tag = "online services",
    request_body = CardReplacementRequest,
    responses((status = 201, description = "換補發健保卡 received", body = Application),
              (status = 400, description = "bad_request (field reason/postal_code/mailing_address)", body = ApiError),
              (status = 401, description = "unauthenticated", body = ApiError)))]
async fn apply_card_replacement(
    State(s): State<AppState>,
    caller: Caller,
    AuthAccount(account): AuthAccount,
    ApiJson(req): ApiJson<CardReplacementRequest>,
) -> ApiResult<(StatusCode, Json<Application>)> {
    let app = s
        .services
        .apply_card_replacement(&caller, &account, &req)
        .await?;
    Ok((StatusCode::CREATED, Json(app)))
}

#[utoipa::path(post, path = "/api/v1/applications/enrolment-certificate", tag = "online services",
    request_body = CertificateRequest,
    responses((status = 201, description = "投保證明 received", body = Application),
              (status = 401, description = "unauthenticated", body = ApiError)))]
async fn apply_certificate(
    State(s): State<AppState>,
    caller: Caller,
    AuthAccount(account): AuthAccount,
    ApiJson(_): ApiJson<CertificateRequest>,
) -> ApiResult<(StatusCode, Json<Application>)> {
    let app = s.services.apply_certificate(&caller, &account).await?;
    Ok((StatusCode::CREATED, Json(app)))
}

#[utoipa::path(get, path = "/api/v1/applications/{id}/certificate.pdf", tag = "online services",
    params(("id" = i64, Path, description = "application number")),
    responses((status = 200, description = "application/pdf"),
              (status = 401, description = "unauthenticated", body = ApiError),
              (status = 404, description = "not_found, or not issued yet", body = ApiError)))]
async fn certificate_pdf(
    State(s): State<AppState>,
    caller: Caller,
    AuthAccount(account): AuthAccount,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = application_id(&id)?;
    let pdf = s.services.certificate_pdf(&caller, &account, id).await?;
    Ok(attachment(
        pdf,
        "application/pdf",
        &format!("nhi-enrolment-certificate-{id}.pdf"),
    ))
}
