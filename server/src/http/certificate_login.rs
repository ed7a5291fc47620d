//! The citizen digital certificate (自然人憑證) login of unit staff (F5, issue 12). The
//! session it opens acts for the insured units' pages only; logout is `DELETE
//! /api/v1/session` as for every session.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use nhi_protocol::api::ApiError;
use nhi_protocol::certificate::CertificateLoginRequest;
use nhi_protocol::units::MyUnitsResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiResult;
use super::extract::{session_cookie, ApiJson};
use super::AppState;
use crate::services::Caller;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(certificate_login))
}

#[utoipa::path(post, path = "/api/v1/units/certificate-login", tag = "insured units",
    request_body = CertificateLoginRequest,
    responses((status = 200, description = "Logged in for the insured units' pages (login_method citizen_certificate); sets the session cookie", body = MyUnitsResponse),
              (status = 400, description = "nonce_invalid (unknown, used, expired or another purpose's nonce) / bad_request (field national_id)", body = ApiError),
              (status = 401, description = "certificate_rejected (message: the CertificateProblem code) / id_mismatch", body = ApiError),
              (status = 403, description = "no_unit_role", body = ApiError),
              (status = 404, description = "not_found: the certificate login is not offered on this server", body = ApiError),
              (status = 429, description = "rate_limited (Retry-After): too many logins with this certificate", body = ApiError),
              (status = 503, description = "revocation_unavailable / id_verification_unavailable (Retry-After): refused, fail closed", body = ApiError)))]
async fn certificate_login(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CertificateLoginRequest>,
) -> ApiResult<Response> {
    let session = s.services.certificate_login(&caller, req).await?;
    let mut resp = Json(session.units).into_response();
    if let Some(c) = session_cookie(&s.services.config, &session.token, session.max_age_seconds) {
        resp.headers_mut().insert(header::SET_COOKIE, c);
    }
    Ok(resp)
}
