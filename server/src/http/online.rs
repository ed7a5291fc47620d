//! Routes of the online services after login (F9): the health bank, the applications, and
//! the operator API. Bodies are `nhi_protocol::online` types.
//!
//! Citizen routes sit behind the session cookie (and, like every API route, the CSRF rule
//! for POST). Operator routes authenticate with `Authorization: Bearer <token>` (the SHA-256
//! of each token is in the `operators` setting) and carry no cookie, so they are mounted
//! outside the cookie CSRF rule.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use nhi_protocol::api::ErrorCode;
use nhi_protocol::online::{
    Application, ApplicationStatus, ApplicationsResponse, CardReplacementRequest,
    CertificateRequest, HealthBankQuery, HealthBankResponse, OperatorStatusRequest,
};
use serde::Deserialize;

use super::error::HttpError;
use super::extract::{ApiJson, SessionToken};
use super::AppState;
use crate::services::health_bank::{to_csv, CsvLang};
use crate::services::online::OnlineError;
use crate::services::Caller;

type ApiResult<T> = Result<T, HttpError>;

impl From<OnlineError> for HttpError {
    fn from(e: OnlineError) -> Self {
        use ErrorCode as C;
        use StatusCode as S;
        let msg = e.to_string();
        match e {
            OnlineError::Unauthenticated => {
                HttpError::new(S::UNAUTHORIZED, C::Unauthenticated, msg)
            }
            OnlineError::OperatorUnauthenticated => {
                HttpError::new(S::UNAUTHORIZED, C::Unauthenticated, msg)
            }
            OnlineError::NotFound => HttpError::new(S::NOT_FOUND, C::NotFound, msg),
            OnlineError::BadRequest { field, message } => HttpError::bad_request(field, message),
            OnlineError::CertificateNotIssued => HttpError::new(S::NOT_FOUND, C::NotFound, msg),
            OnlineError::Font(_) | OnlineError::Pdf(_) | OnlineError::Storage(_) => {
                tracing::error!(error = %msg, "online services");
                HttpError::new(
                    S::INTERNAL_SERVER_ERROR,
                    C::Internal,
                    "internal error; nothing was changed, please retry",
                )
            }
        }
    }
}

/// Citizen routes (mounted with the other API routes, under the CSRF and rate-limit layers).
pub fn citizen_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/health-bank", get(health_bank))
        .route("/api/v1/health-bank/export.csv", get(health_bank_csv))
        .route("/api/v1/applications", get(applications))
        .route(
            "/api/v1/applications/card-replacement",
            post(apply_card_replacement),
        )
        .route(
            "/api/v1/applications/enrolment-certificate",
            post(apply_certificate),
        )
        .route("/api/v1/applications/{id}", get(application))
        .route(
            "/api/v1/applications/{id}/certificate.pdf",
            get(certificate_pdf),
        )
}

/// Operator routes (bearer token; no cookie, so outside the cookie CSRF rule).
pub fn operator_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/operator/applications", get(operator_list))
        .route(
            "/api/v1/operator/applications/{id}/status",
            post(operator_advance),
        )
}

#[utoipa::path(get, path = "/api/v1/health-bank", tag = "online services",
    params(("from" = Option<String>, Query, description = "YYYY-MM-DD (default: a year before `to`)"),
           ("to" = Option<String>, Query, description = "YYYY-MM-DD (default: today)")),
    responses((status = 200, description = "The person's visits and monthly summary", body = HealthBankDoc),
              (status = 400, description = "bad_request (field from/to)", body = super::openapi::ApiErrorDoc),
              (status = 401, description = "unauthenticated", body = super::openapi::ApiErrorDoc)))]
pub async fn health_bank(
    State(s): State<AppState>,
    token: SessionToken,
    q: Result<Query<HealthBankQuery>, QueryRejection>,
) -> ApiResult<Json<HealthBankResponse>> {
    let account = s.services.session_account(token.0.as_deref()).await?;
    let Query(q) = q.map_err(query_error)?;
    Ok(Json(s.services.health_bank(&account, &q).await?))
}

#[derive(Debug, Deserialize)]
pub struct CsvQuery {
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
              (status = 401, description = "unauthenticated", body = super::openapi::ApiErrorDoc)))]
pub async fn health_bank_csv(
    State(s): State<AppState>,
    token: SessionToken,
    q: Result<Query<CsvQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let account = s.services.session_account(token.0.as_deref()).await?;
    let Query(q) = q.map_err(query_error)?;
    let lang = match q.lang.as_deref() {
        Some("en") => CsvLang::En,
        _ => CsvLang::ZhTw,
    };
    let r = s
        .services
        .health_bank(
            &account,
            &HealthBankQuery {
                from: q.from,
                to: q.to,
            },
        )
        .await?;
    let name = format!(
        "health-bank-{}-{}.csv",
        r.from.replace('-', ""),
        r.to.replace('-', "")
    );
    let mut resp = to_csv(&r, lang).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

#[utoipa::path(get, path = "/api/v1/applications", tag = "online services",
    responses((status = 200, description = "The person's applications, newest first", body = ApplicationsDoc),
              (status = 401, description = "unauthenticated", body = super::openapi::ApiErrorDoc)))]
pub async fn applications(
    State(s): State<AppState>,
    token: SessionToken,
) -> ApiResult<Json<ApplicationsResponse>> {
    let account = s.services.session_account(token.0.as_deref()).await?;
    Ok(Json(ApplicationsResponse {
        applications: s.services.applications_of(&account).await?,
    }))
}

#[utoipa::path(get, path = "/api/v1/applications/{id}", tag = "online services",
    params(("id" = i64, Path, description = "application number")),
    responses((status = 200, description = "One of the person's applications", body = ApplicationDoc),
              (status = 401, description = "unauthenticated", body = super::openapi::ApiErrorDoc),
              (status = 404, description = "not_found (also another person's)", body = super::openapi::ApiErrorDoc)))]
pub async fn application(
    State(s): State<AppState>,
    token: SessionToken,
    Path(id): Path<String>,
) -> ApiResult<Json<Application>> {
    let account = s.services.session_account(token.0.as_deref()).await?;
    let id = id.parse::<i64>().map_err(|_| OnlineError::NotFound)?;
    Ok(Json(s.services.application_of(&account, id).await?))
}

#[utoipa::path(post, path = "/api/v1/applications/card-replacement", tag = "online services",
    request_body = CardReplacementDoc,
    responses((status = 201, description = "換補發健保卡 received", body = ApplicationDoc),
              (status = 400, description = "bad_request (field reason/postal_code/mailing_address)", body = super::openapi::ApiErrorDoc),
              (status = 401, description = "unauthenticated", body = super::openapi::ApiErrorDoc)))]
pub async fn apply_card_replacement(
    State(s): State<AppState>,
    caller: Caller,
    token: SessionToken,
    ApiJson(req): ApiJson<CardReplacementRequest>,
) -> ApiResult<(StatusCode, Json<Application>)> {
    let account = s.services.session_account(token.0.as_deref()).await?;
    let app = s
        .services
        .apply_card_replacement(&caller, &account, &req)
        .await?;
    Ok((StatusCode::CREATED, Json(app)))
}

#[utoipa::path(post, path = "/api/v1/applications/enrolment-certificate", tag = "online services",
    request_body(content = Object, description = "{}"),
    responses((status = 201, description = "投保證明 received", body = ApplicationDoc),
              (status = 401, description = "unauthenticated", body = super::openapi::ApiErrorDoc)))]
pub async fn apply_certificate(
    State(s): State<AppState>,
    caller: Caller,
    token: SessionToken,
    ApiJson(_): ApiJson<CertificateRequest>,
) -> ApiResult<(StatusCode, Json<Application>)> {
    let account = s.services.session_account(token.0.as_deref()).await?;
    let app = s.services.apply_certificate(&caller, &account).await?;
    Ok((StatusCode::CREATED, Json(app)))
}

#[utoipa::path(get, path = "/api/v1/applications/{id}/certificate.pdf", tag = "online services",
    params(("id" = i64, Path, description = "application number")),
    responses((status = 200, description = "application/pdf"),
              (status = 401, description = "unauthenticated", body = super::openapi::ApiErrorDoc),
              (status = 404, description = "not_found, or not issued yet", body = super::openapi::ApiErrorDoc)))]
pub async fn certificate_pdf(
    State(s): State<AppState>,
    caller: Caller,
    token: SessionToken,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let account = s.services.session_account(token.0.as_deref()).await?;
    let id = id.parse::<i64>().map_err(|_| OnlineError::NotFound)?;
    let pdf = s.services.certificate_pdf(&caller, &account, id).await?;
    let mut resp = pdf.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"nhi-enrolment-certificate-{id}.pdf\""
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// A malformed query string answers `bad_request` like a malformed body.
fn query_error(e: QueryRejection) -> HttpError {
    HttpError::bad_request("query", e.body_text())
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

#[derive(Debug, Deserialize)]
pub struct OperatorListQuery {
    #[serde(default)]
    status: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/operator/applications", tag = "operators",
    params(("status" = Option<String>, Query, description = "only applications in this status")),
    responses((status = 200, description = "Applications (Authorization: Bearer <operator token>)", body = ApplicationsDoc),
              (status = 401, description = "unauthenticated (operator token)", body = super::openapi::ApiErrorDoc)))]
pub async fn operator_list(
    State(s): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<OperatorListQuery>, QueryRejection>,
) -> ApiResult<Json<ApplicationsResponse>> {
    s.services.operator(bearer(&headers))?;
    let Query(q) = q.map_err(query_error)?;
    let status = match q.status.as_deref().filter(|x| !x.is_empty()) {
        Some(x) => Some(
            ApplicationStatus::parse(x)
                .ok_or_else(|| OnlineError::bad("status", "unknown status"))?,
        ),
        None => None,
    };
    Ok(Json(ApplicationsResponse {
        applications: s.services.operator_applications(status).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/operator/applications/{id}/status", tag = "operators",
    params(("id" = i64, Path, description = "application number")),
    request_body = OperatorStatusDoc,
    responses((status = 200, description = "Moved on (audited); Authorization: Bearer <operator token>", body = ApplicationDoc),
              (status = 400, description = "bad_request: a transition that is not allowed", body = super::openapi::ApiErrorDoc),
              (status = 401, description = "unauthenticated (operator token)", body = super::openapi::ApiErrorDoc),
              (status = 404, description = "not_found", body = super::openapi::ApiErrorDoc)))]
pub async fn operator_advance(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<OperatorStatusRequest>,
) -> ApiResult<Json<Application>> {
    let op = match s.services.operator(bearer(&headers)) {
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
            return Err(e.into());
        }
    };
    let id = id.parse::<i64>().map_err(|_| OnlineError::NotFound)?;
    Ok(Json(
        s.services
            .advance_application(&caller, &op, id, &req)
            .await?,
    ))
}

// ── OpenAPI (merged into /api/openapi.json; tests/online_services.rs checks the schemas
//    against the nhi_protocol::online types) ─────────────────────────────────────────────

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct MedicationDoc {
    #[schema(example = "Acetaminophen 500 mg")]
    name: String,
    quantity: u32,
    days: u32,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct VisitDoc {
    id: i64,
    #[schema(example = "2026-09-12")]
    date: String,
    institution: String,
    #[schema(example = "J06.9")]
    diagnosis_code: String,
    diagnosis_zh: String,
    diagnosis_en: String,
    /// 申報點數
    cost: i64,
    /// 部分負擔 (NT$)
    copayment: i64,
    medications: Vec<MedicationDoc>,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct MonthSummaryDoc {
    #[schema(example = "2026-09")]
    month: String,
    visits: u32,
    cost: i64,
    copayment: i64,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct HealthBankDoc {
    from: String,
    to: String,
    visits: Vec<VisitDoc>,
    months: Vec<MonthSummaryDoc>,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct StatusEventDoc {
    /// submitted | in_review | card_production | mailed | issued | rejected
    status: String,
    at: i64,
    note: Option<String>,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ApplicationDoc {
    id: i64,
    /// card_replacement | enrolment_certificate
    kind: String,
    status: String,
    created_at: i64,
    updated_at: i64,
    /// lost | damaged | photo_change | data_change
    reason: Option<String>,
    postal_code: Option<String>,
    mailing_address: Option<String>,
    timeline: Vec<StatusEventDoc>,
    certificate_available: bool,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ApplicationsDoc {
    applications: Vec<ApplicationDoc>,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct CardReplacementDoc {
    reason: String,
    #[schema(example = "106")]
    postal_code: String,
    mailing_address: String,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct OperatorStatusDoc {
    status: String,
    note: Option<String>,
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        health_bank,
        health_bank_csv,
        applications,
        application,
        apply_card_replacement,
        apply_certificate,
        certificate_pdf,
        operator_list,
        operator_advance
    ),
    components(schemas(
        MedicationDoc,
        VisitDoc,
        MonthSummaryDoc,
        HealthBankDoc,
        StatusEventDoc,
        ApplicationDoc,
        ApplicationsDoc,
        CardReplacementDoc,
        OperatorStatusDoc
    ))
)]
pub struct OnlineApiDoc;
