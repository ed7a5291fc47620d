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

pub async fn applications(
    State(s): State<AppState>,
    token: SessionToken,
) -> ApiResult<Json<ApplicationsResponse>> {
    let account = s.services.session_account(token.0.as_deref()).await?;
    Ok(Json(ApplicationsResponse {
        applications: s.services.applications_of(&account).await?,
    }))
}

pub async fn application(
    State(s): State<AppState>,
    token: SessionToken,
    Path(id): Path<String>,
) -> ApiResult<Json<Application>> {
    let account = s.services.session_account(token.0.as_deref()).await?;
    let id = id.parse::<i64>().map_err(|_| OnlineError::NotFound)?;
    Ok(Json(s.services.application_of(&account, id).await?))
}

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
