//! The one mapping ServiceError → HTTP answer (status, [`ErrorCode`], an [`ApiError`] body).
//! Internal details are logged, never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use nhi_protocol::api::{ApiError, ErrorCode};
use nhi_protocol::units::FileProblem;

use crate::services::ServiceError;

/// What a handler answers: its body, or an API error.
pub type ApiResult<T> = Result<T, HttpError>;

/// An API error answer.
#[derive(Debug)]
pub struct HttpError {
    pub status: StatusCode,
    pub body: ApiError,
}

impl HttpError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ApiError::new(code, message),
        }
    }

    pub fn bad_request(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message);
        e.body.field = Some(field.into());
        e
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.body.retry_after_seconds = Some(seconds);
        self
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let retry = self.body.retry_after_seconds;
        let mut resp = (self.status, Json(self.body)).into_response();
        if let Some(secs) = retry {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

impl From<ServiceError> for HttpError {
    fn from(e: ServiceError) -> Self {
        use ErrorCode as C;
        use StatusCode as S;
        let msg = e.to_string();
        match e {
            ServiceError::BadRequest { field, message } => HttpError::bad_request(field, message),
            ServiceError::NonceInvalid => HttpError::new(S::BAD_REQUEST, C::NonceInvalid, msg),
            ServiceError::CardProofInvalid => {
                HttpError::new(S::UNAUTHORIZED, C::CardProofInvalid, msg)
            }
            ServiceError::CardProofOutdated => {
                HttpError::new(S::BAD_REQUEST, C::CardProofOutdated, msg)
            }
            ServiceError::CardMismatch => HttpError::new(S::FORBIDDEN, C::CardMismatch, msg),
            ServiceError::CardRevoked => HttpError::new(S::FORBIDDEN, C::CardRevoked, msg),
            ServiceError::RateLimited { retry_after } => {
                HttpError::new(S::TOO_MANY_REQUESTS, C::RateLimited, msg).retry_after(retry_after)
            }
            ServiceError::HouseholdMismatch => {
                HttpError::new(S::UNPROCESSABLE_ENTITY, C::HouseholdMismatch, msg)
            }
            ServiceError::RegistryUnavailable(_) => HttpError::new(
                S::SERVICE_UNAVAILABLE,
                C::RegistryUnavailable,
                "the household registry is not reachable; try again later",
            ),
            ServiceError::AlreadyRegistered => {
                HttpError::new(S::CONFLICT, C::AlreadyRegistered, msg)
            }
            ServiceError::RegistrationPending => {
                HttpError::new(S::CONFLICT, C::RegistrationPending, msg)
            }
            ServiceError::PasswordRejected(problems) => {
                let mut e = HttpError::new(S::UNPROCESSABLE_ENTITY, C::PasswordRejected, msg);
                e.body.password_problems = problems;
                e
            }
            ServiceError::TicketInvalid => HttpError::new(S::BAD_REQUEST, C::TicketInvalid, msg),
            ServiceError::TicketExpired => HttpError::new(S::GONE, C::TicketExpired, msg),
            ServiceError::WrongCard => HttpError::new(S::FORBIDDEN, C::WrongCard, msg),
            ServiceError::LoginFailed => HttpError::new(S::UNAUTHORIZED, C::LoginFailed, msg),
            ServiceError::AccountNotActive => {
                HttpError::new(S::FORBIDDEN, C::AccountNotActive, msg)
            }
            ServiceError::AccountLocked { retry_after } => {
                HttpError::new(S::LOCKED, C::AccountLocked, msg).retry_after(retry_after)
            }
            ServiceError::Unauthenticated => {
                HttpError::new(S::UNAUTHORIZED, C::Unauthenticated, msg)
            }
            ServiceError::SessionExpired | ServiceError::OperatorUnauthenticated => {
                HttpError::new(S::UNAUTHORIZED, C::Unauthenticated, msg)
            }
            ServiceError::Forbidden => HttpError::new(S::FORBIDDEN, C::Forbidden, msg),
            ServiceError::NotFound
            | ServiceError::ApplicationNotFound
            | ServiceError::CertificateNotIssued => HttpError::new(S::NOT_FOUND, C::NotFound, msg),
            ServiceError::CertificateLoginOff => HttpError::new(S::NOT_FOUND, C::NotFound, msg),
            ServiceError::CertificateRejected(problem) => {
                HttpError::new(S::UNAUTHORIZED, C::CertificateRejected, problem.code())
            }
            ServiceError::RevocationUnavailable => {
                HttpError::new(S::SERVICE_UNAVAILABLE, C::RevocationUnavailable, msg)
                    .retry_after(60)
            }
            ServiceError::IdMismatch => HttpError::new(S::UNAUTHORIZED, C::IdMismatch, msg),
            ServiceError::IdVerificationUnavailable => {
                HttpError::new(S::SERVICE_UNAVAILABLE, C::IdVerificationUnavailable, msg)
                    .retry_after(60)
            }
            ServiceError::NoUnitRole => HttpError::new(S::FORBIDDEN, C::NoUnitRole, msg),
            ServiceError::StepUpRequired => HttpError::new(S::FORBIDDEN, C::StepUpRequired, msg),
            ServiceError::PasskeyRejected(problem) => {
                HttpError::new(S::UNAUTHORIZED, C::PasskeyRejected, problem.as_str())
            }
            ServiceError::ApplicationPending => {
                HttpError::new(S::CONFLICT, C::ApplicationPending, msg)
            }
            ServiceError::File(FileProblem::Busy) => {
                let mut e = HttpError::new(
                    S::SERVICE_UNAVAILABLE,
                    C::RateLimited,
                    FileProblem::Busy.code(),
                )
                .retry_after(5);
                e.body.field = Some("file".into());
                e
            }
            ServiceError::File(problem) => {
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
            ServiceError::FileAtLine(problem, line) => {
                let mut e = HttpError::new(S::BAD_REQUEST, C::BadRequest, problem.code());
                e.body.field = Some("file".into());
                e.body.line = Some(line);
                e
            }
            ServiceError::Storage(_)
            | ServiceError::Internal(_)
            | ServiceError::Font(_)
            | ServiceError::Pdf(_) => {
                tracing::error!(error = %msg, "internal error");
                HttpError::new(
                    S::INTERNAL_SERVER_ERROR,
                    C::Internal,
                    "internal error; nothing was changed, please retry",
                )
            }
        }
    }
}
