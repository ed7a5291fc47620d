//! Who is calling, as extractors (in the manner of realworld-axum-sqlx's `AuthUser`): a
//! handler names the principal it needs in its arguments and never looks up a session or a
//! token itself.
//!
//! - [`AuthAccount`]: the active account behind the session cookie (the online services, F9).
//! - [`AuthSession`]: that account and its session (the passkey enrolment, issue 16).
//! - [`CurrentUser`]: the logged-in person as `/api/v1/me` shows them (F3).
//! - [`UnitActor`]: the person acting for insured units (F4–F6), from the session.
//! - [`UnitPrincipal`]: that person in the unit of the route's `{code}`, with the
//!   permissions they hold there (`forbidden` when none).
//! - [`AuthOperator`]: an operator of the applications desk (F11), from the bearer token.
//! - [`MetricsScraper`]: whoever holds the metrics bearer token (`/metrics` on the site).
//!
//! Each rejects with the service's own error through the one mapping of [`super::error`]
//! (the metrics scraper with the plain-text answers a Prometheus scraper expects).

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use nhi_protocol::api::UserInfo;

use super::error::HttpError;
use super::extract::SessionToken;
use super::AppState;
use crate::services::online::Operator;
use crate::services::units::{Membership, Principal};
use crate::services::ServiceError;
use crate::storage::accounts::AccountRow;

async fn session_token(parts: &mut Parts, state: &AppState) -> Option<String> {
    // SessionToken never rejects.
    SessionToken::from_request_parts(parts, state)
        .await
        .ok()
        .and_then(|t| t.0)
}

/// The active account of a live session (`unauthenticated` otherwise).
pub struct AuthAccount(pub AccountRow);

impl FromRequestParts<AppState> for AuthAccount {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        let token = session_token(parts, state).await;
        Ok(AuthAccount(
            state.services.account_by_session(token.as_deref()).await?,
        ))
    }
}

/// The active account of a live session and that session (its token's hash): what the
/// passkey enrolment needs, since its step-up belongs to the session (issue 16).
pub struct AuthSession {
    pub account: AccountRow,
    pub session_hash: String,
}

impl FromRequestParts<AppState> for AuthSession {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        let token = session_token(parts, state).await;
        let account = state.services.account_by_session(token.as_deref()).await?;
        let session_hash = token
            .as_deref()
            .and_then(crate::services::session::session_hash)
            .ok_or(ServiceError::SessionExpired)?;
        Ok(AuthSession {
            account,
            session_hash,
        })
    }
}

/// The logged-in person, masked, as `GET /api/v1/me` answers.
pub struct CurrentUser(pub UserInfo);

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        let token = session_token(parts, state).await;
        Ok(CurrentUser(
            state.services.current_user(token.as_deref()).await?,
        ))
    }
}

/// The person acting for insured units (today: an NHI card login).
pub struct UnitActor(pub Principal);

impl FromRequestParts<AppState> for UnitActor {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        let token = session_token(parts, state).await;
        Ok(UnitActor(
            state
                .services
                .principal_by_session(token.as_deref())
                .await?,
        ))
    }
}

/// The acting person in the unit named by the route's `{code}`, with their permissions there.
pub struct UnitPrincipal {
    pub principal: Principal,
    pub unit: Membership,
}

impl UnitPrincipal {
    /// The unit's code (the route's `{code}`).
    pub fn code(&self) -> &str {
        &self.unit.unit_code
    }

    /// `forbidden` unless the principal holds `permission` in this unit.
    pub fn require(&self, permission: nhi_protocol::units::Permission) -> Result<(), HttpError> {
        Ok(self.unit.require(permission)?)
    }
}

impl FromRequestParts<AppState> for UnitPrincipal {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        let UnitActor(principal) = UnitActor::from_request_parts(parts, state).await?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ServiceError::Internal("a unit route without {code}".into()))?;
        let code = params
            .iter()
            .find(|(k, _)| *k == "code")
            .map(|(_, v)| v.to_owned())
            .ok_or_else(|| ServiceError::Internal("a unit route without {code}".into()))?;
        let unit = state.services.membership(&principal, &code).await?;
        Ok(UnitPrincipal { principal, unit })
    }
}

/// The operator whose `Authorization: Bearer <token>` this is (`unauthenticated` otherwise).
pub struct AuthOperator(pub Operator);

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

impl FromRequestParts<AppState> for AuthOperator {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        Ok(AuthOperator(
            state.services.operator_by_token(bearer(&parts.headers))?,
        ))
    }
}

/// The holder of the metrics bearer token: `Authorization: Bearer <token>` whose SHA-256 is
/// `metrics_token_sha256` (compared in constant time). Rejected with 404 when no token is
/// configured (the site then has no `/metrics`), else 401 with `WWW-Authenticate: Bearer`.
pub struct MetricsScraper;

impl FromRequestParts<AppState> for MetricsScraper {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(expected) = state
            .services
            .config
            .metrics_token_sha256
            .as_deref()
            .and_then(|h| hex::decode(h.trim()).ok())
        else {
            return Err((StatusCode::NOT_FOUND, "not found").into_response());
        };
        let presented = bearer(&parts.headers)
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let ok = presented.is_some_and(|t| {
            use sha2::Digest as _;
            let digest = sha2::Sha256::digest(t.as_bytes());
            digest.len() == expected.len()
                && digest
                    .iter()
                    .zip(&expected)
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        });
        if ok {
            Ok(MetricsScraper)
        } else {
            Err((
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "unauthorized",
            )
                .into_response())
        }
    }
}
