//! Routes of the insured-unit services (F4–F8). Bodies are `nhi_protocol::units` types.
//! All sit under the API's CSRF and rate-limit layers; the upload reads its raw body with its
//! own limit (`upload_max_bytes`) instead of the API's JSON limit.

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use nhi_protocol::api::{ErrorCode, ResendResponse};
use nhi_protocol::units::{
    BulkActivateRequest, BulkActivateResponse, BulkResendRequest, FileProblem, MyUnitsResponse,
    RolesResponse, SetRoleRequest, UploadAccepted, UploadRecord, UploadRowsResponse,
    UploadsResponse, FILE_NAME_HEADER,
};
use serde::Deserialize;

use super::error::HttpError;
use super::extract::{ApiJson, SessionToken};
use super::AppState;
use crate::services::bulk_upload::record;
use crate::services::units::{Principal, UnitsError};
use crate::services::Caller;

type ApiResult<T> = Result<T, HttpError>;

impl From<UnitsError> for HttpError {
    fn from(e: UnitsError) -> Self {
        use ErrorCode as C;
        use StatusCode as S;
        let msg = e.to_string();
        match e {
            UnitsError::Unauthenticated => HttpError::new(S::UNAUTHORIZED, C::Unauthenticated, msg),
            UnitsError::Forbidden => HttpError::new(S::FORBIDDEN, C::Forbidden, msg),
            UnitsError::NotFound => HttpError::new(S::NOT_FOUND, C::NotFound, msg),
            UnitsError::BadRequest { field, message } => HttpError::bad_request(field, message),
            UnitsError::File(FileProblem::Busy) => {
                let mut e = HttpError::new(
                    S::SERVICE_UNAVAILABLE,
                    C::RateLimited,
                    FileProblem::Busy.code(),
                )
                .retry_after(5);
                e.body.field = Some("file".into());
                e
            }
            UnitsError::File(problem) => {
                let status = match problem {
                    FileProblem::TooLarge | FileProblem::TooLargeDecompressed => {
                        S::PAYLOAD_TOO_LARGE
                    }
                    _ => S::BAD_REQUEST,
                };
                let mut e = HttpError::new(status, C::BadRequest, problem.code());
                e.body.field = Some("file".into());
                e
            }
            UnitsError::Service(s) => s.into(),
            UnitsError::Storage(_) => {
                tracing::error!(error = %msg, "insured units");
                HttpError::new(
                    S::INTERNAL_SERVER_ERROR,
                    C::Internal,
                    "internal error; nothing was changed, please retry",
                )
            }
        }
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/units", get(my_units))
        .route("/api/v1/units/{code}/roles", get(roles).put(set_role))
        .route("/api/v1/units/{code}/uploads", get(uploads).post(upload))
        .route("/api/v1/units/{code}/uploads/{id}", get(upload_record))
        .route("/api/v1/units/{code}/uploads/{id}/rows", get(upload_rows))
        .route(
            "/api/v1/units/{code}/uploads/{id}/result.txt",
            get(result_file),
        )
        .route("/api/v1/bulk-registrations/activate", post(activate))
        .route("/api/v1/bulk-registrations/resend", post(resend))
}

async fn principal(state: &AppState, token: &SessionToken) -> ApiResult<Principal> {
    Ok(state.services.unit_principal(token.0.as_deref()).await?)
}

async fn my_units(
    State(state): State<AppState>,
    token: SessionToken,
) -> ApiResult<Json<MyUnitsResponse>> {
    let p = principal(&state, &token).await?;
    Ok(Json(state.services.my_units(&p).await?))
}

async fn roles(
    State(state): State<AppState>,
    token: SessionToken,
    Path(code): Path<String>,
) -> ApiResult<Json<RolesResponse>> {
    let p = principal(&state, &token).await?;
    Ok(Json(state.services.roles(&p, &code).await?))
}

async fn set_role(
    State(state): State<AppState>,
    caller: Caller,
    token: SessionToken,
    Path(code): Path<String>,
    ApiJson(req): ApiJson<SetRoleRequest>,
) -> ApiResult<Json<RolesResponse>> {
    let p = principal(&state, &token).await?;
    Ok(Json(
        state.services.set_role(&caller, &p, &code, &req).await?,
    ))
}

/// `%XX` decoding of the file-name header (invalid sequences are kept as they are).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    token: SessionToken,
    Path(code): Path<String>,
    req: Request,
) -> ApiResult<(StatusCode, Json<UploadAccepted>)> {
    let p = principal(&state, &token).await?;
    // The permission first: nobody without it gets to send us megabytes.
    state
        .services
        .require(&p, &code, nhi_protocol::units::Permission::Upload)
        .await?;
    let name = req
        .headers()
        .get(FILE_NAME_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(percent_decode)
        .unwrap_or_default();
    let limit = state.services.config.upload_max_bytes;
    let bytes = axum::body::to_bytes(req.into_body(), limit.saturating_add(1))
        .await
        .map_err(|_| HttpError::from(UnitsError::File(FileProblem::TooLarge)))?;
    let accepted = state
        .services
        .upload_file(&caller, &p, &code, &name, &bytes)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

async fn uploads(
    State(state): State<AppState>,
    token: SessionToken,
    Path(code): Path<String>,
) -> ApiResult<Json<UploadsResponse>> {
    let p = principal(&state, &token).await?;
    Ok(Json(state.services.uploads(&p, &code).await?))
}

async fn upload_record(
    State(state): State<AppState>,
    token: SessionToken,
    Path((code, id)): Path<(String, i64)>,
) -> ApiResult<Json<UploadRecord>> {
    let p = principal(&state, &token).await?;
    Ok(Json(record(&state.services.upload(&p, &code, id).await?)))
}

#[derive(Debug, Deserialize)]
struct RowsQuery {
    #[serde(default)]
    offset: i64,
    #[serde(default = "default_limit")]
    limit: i64,
}

fn default_limit() -> i64 {
    100
}

async fn upload_rows(
    State(state): State<AppState>,
    token: SessionToken,
    Path((code, id)): Path<(String, i64)>,
    Query(q): Query<RowsQuery>,
) -> ApiResult<Json<UploadRowsResponse>> {
    let p = principal(&state, &token).await?;
    Ok(Json(
        state
            .services
            .upload_rows(&p, &code, id, q.offset, q.limit)
            .await?,
    ))
}

async fn result_file(
    State(state): State<AppState>,
    token: SessionToken,
    Path((code, id)): Path<(String, i64)>,
) -> ApiResult<Response> {
    let p = principal(&state, &token).await?;
    let upload = state.services.upload(&p, &code, id).await?;
    let (name, bytes) = state.services.result_file(&p, &code, id).await?;
    let charset = if upload.encoding == "big5" {
        "Big5"
    } else {
        "utf-8"
    };
    let mut resp = Response::new(Body::from(bytes));
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("text/plain; charset={charset}")) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp.into_response())
}

async fn activate(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<BulkActivateRequest>,
) -> ApiResult<Json<BulkActivateResponse>> {
    Ok(Json(state.services.bulk_activate(&caller, req).await?))
}

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

#[cfg(test)]
mod tests {
    #[test]
    fn percent_decoding() {
        assert_eq!(super::percent_decode("a%E5%90%8D.csv"), "a名.csv");
        assert_eq!(super::percent_decode("100%"), "100%");
        assert_eq!(super::percent_decode("%zz%4"), "%zz%4");
    }
}
