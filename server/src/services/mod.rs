//! Domain services: registration (F1), confirmation (F2), resend (F8), login (F3).
//! They know nothing about HTTP; the HTTP layer maps [`ServiceError`] to API errors.

pub mod applications;
pub mod bulk_activation;
pub mod bulk_parse;
pub mod bulk_upload;
pub mod certificate;
pub mod certificate_login;
pub mod certificate_pdf;
pub mod health_bank;
pub mod mails;
pub mod online;
pub mod passkeys;
pub mod passwords;
pub mod proof;
pub mod rate_limit;
pub mod registration;
pub mod session;
pub mod units;

use std::sync::Arc;

use nhi_protocol::api::PlacesResponse;
use nhi_protocol::password::PasswordProblem;
use nhi_protocol::units::FileProblem;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use crate::adapters::card_authority::CardAuthority;
use crate::adapters::claims::ClaimsSource;
use crate::adapters::registry::{HouseholdRegistry, RegistryError, SampleData};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::storage::audit::{self, AuditEntry};
use crate::storage::{Db, StorageError};

/// The one error of the service layer (every flow: registration, session, units, online
/// services, operators). `http::error` maps each variant to a status and an [`ErrorCode`]
/// (`nhi_protocol::api::ErrorCode`); the message is what the API answers (never internals:
/// `Storage`, `Internal`, `Font` and `Pdf` are logged and answered as `internal`).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{field}: {message}")]
    BadRequest {
        field: &'static str,
        message: String,
    },
    #[error("the card-proof nonce is unknown, expired or used")]
    NonceInvalid,
    #[error("the card proof does not verify")]
    CardProofInvalid,
    #[error("the card proof is of an old format (v1); update the card reader component")]
    CardProofOutdated,
    #[error("the card authority knows this card as another person's")]
    CardMismatch,
    #[error("the card was reported lost or has been replaced")]
    CardRevoked,
    #[error("too many attempts; retry in {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("the household data do not match the registry")]
    HouseholdMismatch,
    #[error("household registry: {0}")]
    RegistryUnavailable(#[from] RegistryError),
    #[error("this card is already registered")]
    AlreadyRegistered,
    #[error("an application for this card awaits email confirmation")]
    RegistrationPending,
    #[error("the password breaks the policy")]
    PasswordRejected(Vec<PasswordProblem>),
    #[error("the link is invalid or already used")]
    TicketInvalid,
    #[error("the link has expired")]
    TicketExpired,
    #[error("this is not the card that applied")]
    WrongCard,
    #[error("card or password wrong")]
    LoginFailed,
    #[error("the account is not confirmed yet")]
    AccountNotActive,
    #[error("too many wrong passwords; retry in {retry_after} s")]
    AccountLocked { retry_after: u64 },
    #[error("not logged in")]
    Unauthenticated,
    /// No cookie, an unknown or expired session, or an account that is not active (the
    /// online services and the insured units).
    #[error("not logged in or the session expired")]
    SessionExpired,
    /// The operator token is missing or unknown.
    #[error("operator token missing or not valid")]
    OperatorUnauthenticated,
    /// The principal has no (or not this) permission in the unit.
    #[error("no permission for this unit")]
    Forbidden,
    /// An upload (or another unit record) that does not exist for this unit.
    #[error("not found")]
    NotFound,
    /// Unknown, or another person's application (never revealed as such).
    #[error("no such application")]
    ApplicationNotFound,
    /// The certificate is not issued (yet).
    #[error("the certificate is not issued")]
    CertificateNotIssued,
    /// A card replacement of this person is still pending (one at a time).
    #[error("a card replacement is already being processed; wait for it to be mailed or rejected")]
    ApplicationPending,
    /// The whole bulk file was refused; nothing was stored.
    #[error("the file was refused: {}", .0.code())]
    File(FileProblem),
    /// The whole bulk file was refused for a problem at this line (1-based).
    #[error("the file was refused: {} at line {}", .0.code(), .1)]
    FileAtLine(FileProblem, u64),
    /// The CJK font for the certificate cannot be loaded.
    #[error("certificate font: {0}")]
    Font(String),
    #[error("PDF generation failed: {0}")]
    Pdf(String),
    /// The certificate login is not configured on this server.
    #[error("the citizen certificate login is not offered here")]
    CertificateLoginOff,
    /// The citizen certificate (or its signature) was refused.
    #[error("{}", .0.code())]
    CertificateRejected(nhi_protocol::certificate::CertificateProblem),
    /// The certificate's revocation status is unknown (the CRL cannot be read, is stale or
    /// is not the CA's): refused, fail closed.
    #[error("the certificate's revocation status cannot be checked now; try again later")]
    RevocationUnavailable,
    /// The ID-verification service says the typed ID number is not the certificate holder's.
    #[error("the ID number is not the certificate holder's")]
    IdMismatch,
    #[error("the ID verification service is not reachable; try again later")]
    IdVerificationUnavailable,
    /// A verified person who acts for no insured unit.
    #[error("this person holds no role in any insured unit")]
    NoUnitRole,
    /// Adding a passkey needs a fresh step-up (card proof + password) in this session.
    #[error("adding a passkey needs a step-up with the card and password in the last 5 minutes")]
    StepUpRequired,
    /// The passkey (WebAuthn credential) was refused.
    #[error("{}", .0.as_str())]
    PasskeyRejected(nhi_protocol::passkeys::PasskeyProblem),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    /// A `bad_request` naming the field at fault.
    pub fn bad(field: &'static str, message: impl Into<String>) -> Self {
        ServiceError::BadRequest {
            field,
            message: message.into(),
        }
    }
}

/// Who is calling, for rate limits and the audit log.
#[derive(Debug, Clone)]
pub struct Caller {
    pub ip: String,
}

/// Everything the services need, shared by all requests.
pub struct Services {
    pub config: Arc<Config>,
    pub db: Db,
    pub registry: Arc<dyn HouseholdRegistry>,
    pub authority: Arc<dyn CardAuthority>,
    /// Visits and enrolments for the health bank and the 投保證明 (F9).
    pub claims: Arc<dyn ClaimsSource>,
    pub hasher: passwords::Hasher,
    pub sample: Arc<SampleData>,
    pub places: Arc<PlacesResponse>,
    pub metrics: Arc<Metrics>,
    /// Wakes the outbox worker after a mail was enqueued.
    pub outbox_wakeup: Arc<Notify>,
    /// Wakes the bulk job worker after a file was uploaded (insured units, F5).
    pub bulk_wakeup: Arc<Notify>,
    /// The citizen certificate login (F5, issue 12); None when not configured.
    pub certificate_login: Option<Arc<certificate_login::CertificateLogin>>,
}

/// SHA-256 hex: how tokens, tickets and nonces are stored.
pub fn token_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// 32 random bytes.
pub fn random_token() -> [u8; 32] {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

impl Services {
    /// Writes an audit entry outside any transaction; failures are logged, not fatal.
    pub async fn audit(
        &self,
        caller: &Caller,
        actor: Option<&str>,
        action: &str,
        outcome: &str,
        detail: Option<&str>,
    ) {
        let entry = AuditEntry {
            actor,
            action,
            outcome,
            ip: &caller.ip,
            detail,
        };
        audit::record(&self.db, &entry).await;
    }

    /// Audits a refused request of `actor` (outcome `outcome`, no detail) and gives back its
    /// error: `return Err(self.refused(caller, card, "confirmation", "wrong_card", e).await)`.
    pub(crate) async fn refused(
        &self,
        caller: &Caller,
        actor: &str,
        action: &str,
        outcome: &str,
        error: ServiceError,
    ) -> ServiceError {
        self.audit(caller, Some(actor), action, outcome, None).await;
        error
    }
}

/// Masks an email address for display: `wa***@example.com`.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let head: String = local.chars().take(2).collect();
            format!("{head}***@{domain}")
        }
        None => "***".into(),
    }
}
