//! Bulk registration files of an insured unit: the upload (F5) and its records (F6). The
//! upload reads its raw body with its own limit (`upload_max_bytes`) instead of the API's
//! JSON limit, and only after the permission check: nobody without it gets to send megabytes.

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use nhi_protocol::api::ApiError;
use nhi_protocol::units::{
    FileProblem, Permission, UploadAccepted, UploadRecord, UploadRowsResponse, UploadsResponse,
    FILE_NAME_HEADER, ROWS_PAGE_DEFAULT,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::UnitPrincipal;
use super::error::{ApiResult, HttpError};
use super::{attachment, AppState};
use crate::services::bulk_upload::record;
use crate::services::{Caller, ServiceError};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(uploads, upload))
        .routes(routes!(upload_record))
        .routes(routes!(upload_rows))
        .routes(routes!(result_file))
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

#[utoipa::path(post, path = "/api/v1/units/{code}/uploads", tag = "insured units",
    params(("code" = String, Path, description = "投保單位代號"),
           ("x-file-name" = Option<String>, Header, description = "the file's name, %XX-encoded UTF-8")),
    request_body(content = String, description = "The raw file (`application/octet-stream`): CSV/TXT (Big5 or UTF-8) or .xlsx, at most `upload_max_bytes`. \
        Or `multipart/form-data` with the parts `file` (the file) and `result_email` (where the result goes): required when the login has no NHI account email \
        (a citizen certificate login of someone not registered, `MyUnitsResponse.email` empty), ignored otherwise.",
                 content_type = "application/octet-stream"),
    responses((status = 202, description = "Stored; the rows are checked in the background", body = UploadAccepted),
              (status = 400, description = "bad_request (field file, or result_email): the whole file was refused", body = ApiError),
              (status = 401, description = "unauthenticated", body = ApiError),
              (status = 403, description = "forbidden: no upload permission in this unit", body = ApiError),
              (status = 413, description = "bad_request (field file): too large", body = ApiError),
              (status = 503, description = "rate_limited (field file, Retry-After): every parser is busy", body = ApiError)))]
async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    p: UnitPrincipal,
    req: Request,
) -> ApiResult<(StatusCode, Json<UploadAccepted>)> {
    p.require(Permission::Upload)?;
    let name = req
        .headers()
        .get(FILE_NAME_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(percent_decode)
        .unwrap_or_default();
    let limit = state.services.config.upload_max_bytes;
    let boundary = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| multer::parse_boundary(ct).ok());
    let (bytes, result_email) = match boundary {
        Some(boundary) => read_multipart(req.into_body(), boundary, limit).await?,
        None => {
            let bytes = axum::body::to_bytes(req.into_body(), limit.saturating_add(1))
                .await
                .map_err(|_| too_large())?;
            (bytes.to_vec(), None)
        }
    };
    let accepted = state
        .services
        .upload_file(
            &caller,
            &p.principal,
            p.code(),
            &name,
            &bytes,
            result_email.as_deref(),
        )
        .await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

fn too_large() -> HttpError {
    HttpError::from(ServiceError::File(FileProblem::TooLarge))
}

/// Longest `result_email` part read (an email address is at most 254 characters).
const RESULT_EMAIL_MAX_BYTES: u64 = 1024;

fn malformed() -> HttpError {
    HttpError::bad_request("file", "malformed multipart body")
}

/// The answer to a multipart error, wherever it is met (between the parts or inside one): a
/// part over its limit is that part's error, the whole stream over its limit `too_large`.
fn multipart_error(e: multer::Error) -> HttpError {
    match e {
        multer::Error::FieldSizeExceeded { field_name, .. }
            if field_name.as_deref() == Some("result_email") =>
        {
            HttpError::bad_request("result_email", "too long")
        }
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            too_large()
        }
        multer::Error::UnknownField { .. } => {
            HttpError::bad_request("file", "only the parts file and result_email are accepted")
        }
        _ => malformed(),
    }
}

/// The parts `file` and `result_email` of a multipart upload. The whole stream is capped at
/// the file limit plus a little for the headers and the email, each part at its own limit; a
/// part of another name, a second `file` or a missing one is refused.
async fn read_multipart(
    body: Body,
    boundary: String,
    limit: usize,
) -> Result<(Vec<u8>, Option<String>), HttpError> {
    let file_limit = u64::try_from(limit).unwrap_or(u64::MAX);
    let constraints = multer::Constraints::new()
        .allowed_fields(vec!["file", "result_email"])
        .size_limit(
            multer::SizeLimit::new()
                .whole_stream(file_limit.saturating_add(64 * 1024))
                .for_field("file", file_limit)
                .for_field("result_email", RESULT_EMAIL_MAX_BYTES),
        );
    let mut parts =
        multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
    let (mut file, mut email) = (None, None);
    loop {
        let field = match parts.next_field().await.map_err(multipart_error)? {
            Some(field) => field,
            None => break,
        };
        let is_file = field.name() == Some("file");
        let data = field.bytes().await.map_err(multipart_error)?;
        let slot = if is_file { &mut file } else { &mut email };
        if slot.is_some() {
            return Err(malformed());
        }
        *slot = Some(data);
    }
    let file = file.ok_or_else(|| HttpError::bad_request("file", "the part file is missing"))?;
    let email = match email {
        Some(raw) => Some(
            String::from_utf8(raw.to_vec())
                .map_err(|_| HttpError::bad_request("result_email", "not UTF-8"))?,
        ),
        None => None,
    };
    Ok((file.to_vec(), email))
}

#[utoipa::path(get, path = "/api/v1/units/{code}/uploads", tag = "insured units",
    params(("code" = String, Path, description = "投保單位代號")),
    responses((status = 200, description = "The unit's uploads, newest first", body = UploadsResponse),
              (status = 401, description = "unauthenticated", body = ApiError),
              (status = 403, description = "forbidden", body = ApiError)))]
async fn uploads(
    State(state): State<AppState>,
    p: UnitPrincipal,
) -> ApiResult<Json<UploadsResponse>> {
    Ok(Json(
        state
            .services
            .upload_records(&p.principal, p.code())
            .await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/units/{code}/uploads/{id}", tag = "insured units",
    params(("code" = String, Path, description = "投保單位代號"), ("id" = i64, Path, description = "upload number")),
    responses((status = 200, description = "One upload and its progress", body = UploadRecord),
              (status = 401, description = "unauthenticated", body = ApiError),
              (status = 403, description = "forbidden", body = ApiError),
              (status = 404, description = "not_found", body = ApiError)))]
async fn upload_record(
    State(state): State<AppState>,
    Path((_, id)): Path<(String, i64)>,
    p: UnitPrincipal,
) -> ApiResult<Json<UploadRecord>> {
    let upload = state
        .services
        .upload_record(&p.principal, p.code(), id)
        .await?;
    Ok(Json(record(&upload)))
}

/// The records page's claims about the page it wants (`offset`, `limit`, `failed_only`),
/// read only after the permission check. A value that is not a number (or a boolean), or a
/// claim made twice, is refused naming it; numbers in range are then clamped by the service
/// ([`nhi_protocol::units::RowsPage::clamp`]).
#[derive(Debug, PartialEq, Eq)]
struct RowsQuery {
    failed_only: bool,
    offset: i64,
    limit: i64,
}

impl RowsQuery {
    fn parse(pairs: &[(String, String)]) -> Result<Self, ServiceError> {
        let one = |key: &'static str| -> Result<Option<&str>, ServiceError> {
            let mut found = pairs.iter().filter(|(k, _)| k == key).map(|(_, v)| v);
            match (found.next(), found.next()) {
                (Some(_), Some(_)) => Err(ServiceError::bad(key, "given more than once")),
                (v, _) => Ok(v.map(String::as_str)),
            }
        };
        let number = |key: &'static str, default: i64| -> Result<i64, ServiceError> {
            one(key)?.map_or(Ok(default), |v| {
                v.parse()
                    .map_err(|_| ServiceError::bad(key, "not a whole number"))
            })
        };
        let failed_only = match one("failed_only")? {
            None | Some("false" | "0") => false,
            Some("true" | "1") => true,
            Some(_) => return Err(ServiceError::bad("failed_only", "not true or false")),
        };
        Ok(RowsQuery {
            failed_only,
            offset: number("offset", 0)?,
            limit: number("limit", ROWS_PAGE_DEFAULT)?,
        })
    }
}

#[utoipa::path(get, path = "/api/v1/units/{code}/uploads/{id}/rows", tag = "insured units",
    params(("code" = String, Path, description = "投保單位代號"), ("id" = i64, Path, description = "upload number"),
           ("offset" = Option<i64>, Query, description = "matching rows to skip (default 0; below 0 is 0; at or past the end gives the last page)"),
           ("limit" = Option<i64>, Query, description = "rows to answer (default 100, clamped to 1..=500)"),
           ("failed_only" = Option<bool>, Query, description = "only the refused rows (default false)")),
    responses((status = 200, description = "One page of the rows and their decisions, with the total, the matching count and the page actually answered", body = UploadRowsResponse),
              (status = 400, description = "bad_request (field offset, limit or failed_only): not a number / boolean, or given twice", body = ApiError),
              (status = 401, description = "unauthenticated", body = ApiError),
              (status = 403, description = "forbidden", body = ApiError),
              (status = 404, description = "not_found", body = ApiError)))]
async fn upload_rows(
    State(state): State<AppState>,
    Path((_, id)): Path<(String, i64)>,
    p: UnitPrincipal,
    Query(pairs): Query<Vec<(String, String)>>,
) -> ApiResult<Json<UploadRowsResponse>> {
    let q = RowsQuery::parse(&pairs)?;
    Ok(Json(
        state
            .services
            .upload_rows(&p.principal, p.code(), id, q.failed_only, q.offset, q.limit)
            .await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/units/{code}/uploads/{id}/result.txt", tag = "insured units",
    params(("code" = String, Path, description = "投保單位代號"), ("id" = i64, Path, description = "upload number")),
    responses((status = 200, description = "text/plain in the upload's encoding (Big5 or UTF-8): one line per row"),
              (status = 401, description = "unauthenticated", body = ApiError),
              (status = 403, description = "forbidden", body = ApiError),
              (status = 404, description = "not_found, or not done yet", body = ApiError)))]
async fn result_file(
    State(state): State<AppState>,
    Path((_, id)): Path<(String, i64)>,
    p: UnitPrincipal,
) -> ApiResult<Response> {
    let upload = state
        .services
        .upload_record(&p.principal, p.code(), id)
        .await?;
    let (name, bytes) = state
        .services
        .upload_result_file(&p.principal, p.code(), id)
        .await?;
    let content_type = if upload.encoding == "big5" {
        "text/plain; charset=Big5"
    } else {
        "text/plain; charset=utf-8"
    };
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
    Ok(attachment(Body::from(bytes), content_type, &ascii))
}

#[cfg(test)]
mod tests {
    use super::RowsQuery;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
    }

    #[test]
    fn rows_query_claims() {
        let q = |p: &[(&str, &str)]| RowsQuery::parse(&pairs(p));
        assert_eq!(
            q(&[]).ok(),
            Some(RowsQuery {
                failed_only: false,
                offset: 0,
                limit: 100
            })
        );
        assert_eq!(
            q(&[
                ("failed_only", "1"),
                ("offset", "-3"),
                ("limit", "9999"),
                ("x", "y")
            ])
            .ok(),
            Some(RowsQuery {
                failed_only: true,
                offset: -3,
                limit: 9999
            })
        );
        for (bad, field) in [
            (&[("limit", "ten")][..], "limit"),
            (&[("offset", "")][..], "offset"),
            (&[("offset", "1"), ("offset", "2")][..], "offset"),
            (&[("failed_only", "yes")][..], "failed_only"),
        ] {
            match q(bad) {
                Err(crate::services::ServiceError::BadRequest { field: f, .. }) => {
                    assert_eq!(f, field)
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(super::percent_decode("a%E5%90%8D.csv"), "a名.csv");
        assert_eq!(super::percent_decode("100%"), "100%");
        assert_eq!(super::percent_decode("%zz%4"), "%zz%4");
    }
}
