//! HTTP API request and response bodies shared by the SPA and the server (issue 4).
//!
//! All endpoints live under [`API_PREFIX`]. State-changing requests (POST/PUT/PATCH/DELETE)
//! must carry the header [`CSRF_HEADER`]` = `[`CSRF_HEADER_VALUE`] and an `Origin` equal to the
//! site's origin. Errors are [`ApiError`] bodies with a machine-readable [`ErrorCode`] the SPA
//! translates (zh-TW / en, in its locale files); `message` is an English
//! fallback for logs and tools.
//!
//! Every [`CardProof`] is single-use and made for one [`ProofPurpose`]: get a fresh nonce for
//! the purpose of each request that carries one (F1 therefore reads the card proof twice:
//! household check, then registration). The server takes the card holder's identity only from
//! the proof's verified record, never from other request fields.
//!
//! | Method | Path | Body → answer | Flow |
//! |---|---|---|---|
//! | POST | `/api/v1/card-proof/nonce` | [`NonceRequest`] → [`NonceResponse`] | all |
//! | GET | `/api/v1/places` | – → [`PlacesResponse`] | F1 |
//! | POST | `/api/v1/registrations/household-check` | [`HouseholdCheckRequest`] → [`HouseholdCheckResponse`] | F1 step 3 |
//! | POST | `/api/v1/registrations` | [`RegisterRequest`] → [`RegisterResponse`] (202) | F1 |
//! | POST | `/api/v1/registrations/confirm` | [`ConfirmRequest`] → [`ConfirmResponse`] | F2 |
//! | POST | `/api/v1/registrations/resend` | [`ResendRequest`] → [`ResendResponse`] (202) | F8 |
//! | POST | `/api/v1/session` | [`LoginRequest`] → [`UserInfo`] + session cookie | F3 |
//! | DELETE | `/api/v1/session` | – → 204 | F3 |
//! | GET | `/api/v1/me` | – → [`UserInfo`] | F3 |

use serde::{Deserialize, Serialize};

use crate::card_proof::{CardMac, CardRecord, Nonce, PROOF_VERSION};
use crate::contact::{Email, MobileNumber, PhoneNumber};
use crate::household::HouseholdNumber;
use crate::password::PasswordProblem;

pub const API_PREFIX: &str = "/api/v1";
/// Header every state-changing request must carry (with [`CSRF_HEADER_VALUE`]).
pub const CSRF_HEADER: &str = "x-nhi-request";
pub const CSRF_HEADER_VALUE: &str = "1";
/// The session cookie on plain-http localhost (HttpOnly, SameSite=Strict, no `Secure`).
pub const SESSION_COOKIE: &str = "nhi_session";
/// The session cookie whenever cookies are `Secure` (https sites): the `__Host-` prefix makes
/// the browser refuse it unless it is `Secure`, `Path=/` and has no `Domain`, so neither a
/// sibling subdomain nor a plain-http response can plant or overwrite it.
pub const SESSION_COOKIE_SECURE: &str = "__Host-nhi_session";
/// Path of the SPA's confirmation page (F2); the mail link is `{origin}{CONFIRM_PATH}#ticket=…`.
pub const CONFIRM_PATH: &str = "/confirm";
/// Key, in the URL *fragment*, of the one-time ticket of a mailed link (F2, F7). A fragment
/// never reaches a server log or a Referer.
pub const CONFIRM_TICKET_PARAM: &str = "ticket";

/// A mailed link: `{origin}{path}#ticket={ticket}`.
pub fn ticket_link(origin: &str, path: &str, ticket: &str) -> String {
    format!("{origin}{path}#{CONFIRM_TICKET_PARAM}={ticket}")
}
/// How long a card-proof nonce is valid.
pub const NONCE_TTL_SECONDS: u32 = 300;
/// How long a mailed confirmation link is valid (5 days).
pub const TICKET_TTL_SECONDS: u32 = 5 * 24 * 3600;

/// What a card-proof nonce is for. A proof made on a nonce for one purpose is refused by
/// every endpoint of another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ProofPurpose {
    /// F1: the household check and the registration.
    Register,
    /// F2: confirming the mailed link.
    Confirm,
    /// F3 (and the insured units' staff): logging in.
    Login,
    /// F7: activating a bulk registration.
    Activate,
    /// F8: resending the confirmation mail (citizen and bulk).
    Resend,
    /// A fresh card proof inside a session (sensitive actions).
    StepUp,
    /// F5: a unit staff member's citizen digital certificate (自然人憑證) login; the nonce
    /// goes to the bridge's `authenticate` command, not to a card proof
    /// ([`crate::certificate`]).
    CertificateLogin,
}

impl ProofPurpose {
    pub const ALL: [ProofPurpose; 7] = [
        ProofPurpose::Register,
        ProofPurpose::Confirm,
        ProofPurpose::Login,
        ProofPurpose::Activate,
        ProofPurpose::Resend,
        ProofPurpose::StepUp,
        ProofPurpose::CertificateLogin,
    ];

    /// The wire (and storage) name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProofPurpose::Register => "register",
            ProofPurpose::Confirm => "confirm",
            ProofPurpose::Login => "login",
            ProofPurpose::Activate => "activate",
            ProofPurpose::Resend => "resend",
            ProofPurpose::StepUp => "step_up",
            ProofPurpose::CertificateLogin => "certificate_login",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// Body of `POST /api/v1/card-proof/nonce`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NonceRequest {
    pub purpose: ProofPurpose,
}

/// Answer to `POST /api/v1/card-proof/nonce`: feed `nonce` to the bridge's card-proof command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NonceResponse {
    pub nonce: Nonce,
    pub purpose: ProofPurpose,
    pub expires_in_seconds: u32,
}

/// The card's answer to a server nonce (proof v2): the card's MAC over the challenge
/// `SHA-256(origin ‖ nonce)` and the record it stores. The server verifies the MAC over
/// `record` and only then believes what the record says. Single-use.
///
/// A v1 proof (`card_number`, `nonce`, `mac`, no record) still parses, so that the server can
/// answer [`ErrorCode::CardProofOutdated`] ("update the card reader component") instead of a
/// bare format error; it never verifies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CardProof {
    /// The proof format: [`PROOF_VERSION`]. Absent (0) in a v1 proof.
    #[serde(default)]
    pub v: u32,
    pub nonce: Nonce,
    /// The 57-byte basic record as the card stores it. Absent in a v1 proof.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<CardRecord>,
    pub mac: CardMac,
}

impl CardProof {
    /// A v2 proof as the bridge answers it.
    pub fn new(nonce: Nonce, record: CardRecord, mac: CardMac) -> Self {
        Self {
            v: PROOF_VERSION,
            nonce,
            record: Some(record),
            mac,
        }
    }

    /// The record, when this is a proof of the version this build accepts.
    pub fn current_record(&self) -> Option<&CardRecord> {
        self.record.as_ref().filter(|_| self.v == PROOF_VERSION)
    }
}

/// 戶號 and 戶籍鄉鎮里鄰 as the user typed them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HouseholdInfo {
    pub household_number: HouseholdNumber,
    /// 縣市, e.g. "臺北市" (one of [`PlacesResponse`]).
    pub county: String,
    /// 鄉鎮市區, e.g. "大安區".
    pub township: String,
    /// 村里, e.g. "龍坡里".
    pub village: String,
    /// 鄰 (1–99).
    pub neighbourhood: u16,
}

/// F1 step 3 (「下一步」): the real-time household check, before the password step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HouseholdCheckRequest {
    pub proof: CardProof,
    pub household: HouseholdInfo,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HouseholdCheckResponse {
    /// Always true in a 200 answer; a mismatch is [`ErrorCode::HouseholdMismatch`].
    pub matches: bool,
}

/// F1 「確認申請」.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterRequest {
    pub proof: CardProof,
    pub household: HouseholdInfo,
    pub password: String,
    pub email: Email,
    #[serde(default)]
    pub mobile: Option<MobileNumber>,
    #[serde(default)]
    pub phone: Option<PhoneNumber>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// Applied; waiting for the email confirmation (F2).
    Pending,
    Active,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterResponse {
    pub status: AccountStatus,
    /// Where the confirmation mail went, masked (e.g. "wa***@example.com").
    pub email_masked: String,
    /// Unix seconds after which the mailed link no longer works.
    pub link_expires_at: i64,
}

/// F2: the ticket from the mail link plus a proof of the card that applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConfirmRequest {
    pub ticket: String,
    pub proof: CardProof,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConfirmResponse {
    pub status: AccountStatus,
}

/// F8 重寄認證信: a card proof and the (new or same) email address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResendRequest {
    pub proof: CardProof,
    pub email: Email,
}

/// The same answer whether or not a pending application exists for the card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResendResponse {
    pub accepted: bool,
}

/// F3 login: card + registration password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    pub proof: CardProof,
    pub password: String,
}

/// The logged-in person, masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserInfo {
    pub card_number_masked: String,
    pub name_masked: String,
    pub national_id_masked: String,
    pub email_masked: String,
    pub status: AccountStatus,
    /// Unix seconds.
    pub registered_at: i64,
}

/// County → township → village lists for the F1 address step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlacesResponse {
    pub counties: Vec<County>,
}

/// A place is named as the registry names it: `name` is the official Chinese name (what a
/// household check sends), `name_en` the official romanisation (e.g. 臺北市 "Taipei City",
/// 大安區 "Da'an District"), which the English pages show; a village's romanisation is
/// `villages_en` at the same index (龍坡里 "Longpo Village"; parallel lists keep the answer
/// small for the first page's size budget and `villages` as it was).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct County {
    pub name: String,
    pub name_en: String,
    pub townships: Vec<Township>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Township {
    pub name: String,
    pub name_en: String,
    pub villages: Vec<String>,
    /// `villages_en[i]` is the official romanisation of `villages[i]`.
    pub villages_en: Vec<String>,
}

/// Machine-readable error codes. The SPA maps each to zh-TW / English text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body is not valid JSON or a field is malformed (see `field`).
    BadRequest,
    /// The nonce is unknown, expired or already used: get a new one and read the card again.
    NonceInvalid,
    /// The card's answer does not verify (other origin, other card, tampered).
    CardProofInvalid,
    /// The proof is of an old format (v1): the card reader component must be updated.
    CardProofOutdated,
    /// The card authority knows this card as another person's.
    CardMismatch,
    /// The card was reported lost or has been replaced: use the current card.
    CardRevoked,
    /// 戶號 / address do not match the household registry (nothing else is revealed).
    HouseholdMismatch,
    /// The household registry did not answer in time; try again later.
    RegistryUnavailable,
    /// This card already has an active registration: log in instead.
    AlreadyRegistered,
    /// An application for this card is waiting for email confirmation: use resend (F8).
    RegistrationPending,
    /// The password breaks the policy (see `password_problems`).
    PasswordRejected,
    /// The link's ticket is unknown or already used.
    TicketInvalid,
    /// The link is older than 5 days: use resend (F8).
    TicketExpired,
    /// The card read is not the card that applied.
    WrongCard,
    /// Wrong password (or no account for the card).
    LoginFailed,
    /// The application is not confirmed yet (F2).
    AccountNotActive,
    /// Too many wrong passwords: wait `retry_after_seconds`.
    AccountLocked,
    /// Too many requests from this address: wait `retry_after_seconds`.
    RateLimited,
    /// Missing anti-CSRF header or foreign Origin.
    CsrfRejected,
    /// Not logged in (or the session expired).
    Unauthenticated,
    NotFound,
    /// Logged in, but without the permission this needs (insured units, F4–F6).
    Forbidden,
    /// Something failed on the server; nothing was half-done. Try again.
    Internal,
    /// A card replacement of this person is still being processed: only one may be pending.
    ApplicationPending,
    /// The page was opened under another address of this computer (127.0.0.1 for localhost,
    /// say) than the site's configured one: open the configured address (`message` names it).
    WrongOrigin,
    /// The citizen digital certificate (or its signature) is refused; `message` is a
    /// [`crate::certificate::CertificateProblem`] code saying why.
    CertificateRejected,
    /// The certificate's revocation status cannot be established right now (CRL/OCSP
    /// unreachable or stale): refused, fail closed. Try again later (503).
    RevocationUnavailable,
    /// The ID number typed is not the certificate holder's.
    IdMismatch,
    /// The ID-verification service did not answer: try again later (503).
    IdVerificationUnavailable,
    /// The certificate is valid and the ID matches, but the person acts for no insured unit
    /// (F4): nothing to log in to.
    NoUnitRole,
    /// Adding a passkey needs a step-up (card proof + password) in this session within the
    /// last 5 minutes (issue 16).
    StepUpRequired,
    /// The passkey (WebAuthn credential) is refused; `message` is a
    /// [`crate::passkeys::PasskeyProblem`] code saying why.
    PasskeyRejected,
}

/// The body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiError {
    pub code: ErrorCode,
    /// English fallback text (the SPA shows its own translation of `code`).
    pub message: String,
    /// The request field at fault, for `bad_request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub password_problems: Vec<PasswordProblem>,
    /// The line of the file at fault (1-based), for a refused upload's `encoding` problem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
            retry_after_seconds: None,
            password_problems: Vec::new(),
            line: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_snake_case_and_optional_fields_are_omitted() {
        let e = ApiError::new(ErrorCode::HouseholdMismatch, "no");
        let json = serde_json::to_value(&e).expect("serialises");
        assert_eq!(
            json,
            serde_json::json!({"code": "household_mismatch", "message": "no"})
        );
        let back: ApiError = serde_json::from_value(json).expect("parses");
        assert_eq!(back, e);
    }

    #[test]
    fn a_proof_round_trips() {
        let json = serde_json::json!({
            "v": 2,
            "nonce": "ab".repeat(32),
            "record": "30".repeat(57),
            "mac": "cd".repeat(16),
        });
        let p: CardProof = serde_json::from_value(json.clone()).expect("parses");
        assert!(p.current_record().is_some());
        assert_eq!(serde_json::to_value(&p).expect("serialises"), json);
    }

    #[test]
    fn a_v1_proof_parses_but_has_no_current_record() {
        let json = serde_json::json!({
            "card_number": "000012345678",
            "nonce": "ab".repeat(32),
            "mac": "cd".repeat(16),
        });
        let p: CardProof = serde_json::from_value(json).expect("parses");
        assert_eq!(p.current_record(), None);
        let relabelled = CardProof {
            v: 1,
            ..CardProof::new(p.nonce, CardRecord([0x30; 57]), p.mac)
        };
        assert_eq!(relabelled.current_record(), None);
    }

    #[test]
    fn purposes_round_trip() {
        for p in ProofPurpose::ALL {
            assert_eq!(ProofPurpose::parse(p.as_str()), Some(p));
            let wire = serde_json::to_value(p).expect("json");
            assert_eq!(wire.as_str(), Some(p.as_str()));
        }
    }
}
