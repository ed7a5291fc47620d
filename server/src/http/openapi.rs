//! The OpenAPI document (`/api/openapi.json`). The wire types live in `nhi_protocol::api`
//! (which must not depend on utoipa); the `*Doc` types here describe them for the document
//! only. `tests/openapi.rs` checks that they stay in step with the real types.
#![allow(dead_code)]

use utoipa::{OpenApi, ToSchema};

/// A card proof v2: the card's MAC over the challenge and the record it stores. The server
/// verifies the MAC over `record` and only then reads the holder's identity from it.
#[derive(ToSchema)]
pub struct CardProofDoc {
    /// Proof format: 2.
    #[schema(example = 2)]
    v: u32,
    /// 64 hex digits from /api/v1/card-proof/nonce (issued for the endpoint's purpose).
    nonce: String,
    /// 114 hex digits: the 57-byte basic record exactly as the card stores it.
    record: String,
    /// 32 hex digits: AES-128-CMAC(K_card, "NHI-PROOF/v2" ‖ SHA-256(origin ‖ nonce) ‖
    /// SHA-256(record)).
    mac: String,
}

#[derive(ToSchema)]
pub struct HouseholdInfoDoc {
    #[schema(example = "F1234567")]
    household_number: String,
    #[schema(example = "臺北市")]
    county: String,
    #[schema(example = "大安區")]
    township: String,
    #[schema(example = "龍坡里")]
    village: String,
    #[schema(example = 5)]
    neighbourhood: u16,
}

#[derive(ToSchema)]
pub struct NonceRequestDoc {
    /// register, confirm, login, activate, resend or step_up: a proof on this nonce is
    /// accepted only by endpoints of that purpose.
    #[schema(example = "login")]
    purpose: String,
}

#[derive(ToSchema)]
pub struct NonceResponseDoc {
    nonce: String,
    purpose: String,
    expires_in_seconds: u32,
}

#[derive(ToSchema)]
pub struct HouseholdCheckDoc {
    proof: CardProofDoc,
    household: HouseholdInfoDoc,
}

#[derive(ToSchema)]
pub struct HouseholdCheckResponseDoc {
    matches: bool,
}

#[derive(ToSchema)]
pub struct RegisterDoc {
    proof: CardProofDoc,
    household: HouseholdInfoDoc,
    /// 6–12 characters, not containing the ID, card number or birth date.
    password: String,
    email: String,
    mobile: Option<String>,
    phone: Option<String>,
}

#[derive(ToSchema)]
pub struct RegisterResponseDoc {
    /// "pending"
    status: String,
    email_masked: String,
    link_expires_at: i64,
}

#[derive(ToSchema)]
pub struct ConfirmDoc {
    /// The `ticket` of the mailed link's fragment (`/confirm#ticket=…`).
    ticket: String,
    proof: CardProofDoc,
}

#[derive(ToSchema)]
pub struct ConfirmResponseDoc {
    /// "active"
    status: String,
}

#[derive(ToSchema)]
pub struct ResendDoc {
    proof: CardProofDoc,
    email: String,
}

#[derive(ToSchema)]
pub struct ResendResponseDoc {
    accepted: bool,
}

#[derive(ToSchema)]
pub struct LoginDoc {
    proof: CardProofDoc,
    password: String,
}

#[derive(ToSchema)]
pub struct UserInfoDoc {
    card_number_masked: String,
    name_masked: String,
    national_id_masked: String,
    email_masked: String,
    status: String,
    registered_at: i64,
}

#[derive(ToSchema)]
pub struct TownshipDoc {
    name: String,
    villages: Vec<String>,
}

#[derive(ToSchema)]
pub struct CountyDoc {
    name: String,
    townships: Vec<TownshipDoc>,
}

#[derive(ToSchema)]
pub struct PlacesDoc {
    counties: Vec<CountyDoc>,
}

/// Every error answer. `code` is one of: bad_request, nonce_invalid, card_proof_invalid,
/// card_proof_outdated, card_mismatch, card_revoked, household_mismatch, registry_unavailable, already_registered,
/// registration_pending, password_rejected, ticket_invalid, ticket_expired, wrong_card,
/// login_failed, account_not_active, account_locked, rate_limited, csrf_rejected,
/// unauthenticated, not_found, internal.
#[derive(ToSchema)]
pub struct ApiErrorDoc {
    code: String,
    message: String,
    field: Option<String>,
    retry_after_seconds: Option<u64>,
    /// Present for password_rejected: objects with a `problem` tag.
    password_problems: Option<Vec<serde_json::Value>>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "NHI card web registration API",
        description = "F1 registration, F2 confirmation, F8 resend, F3 login. \
        State-changing requests need the header `x-nhi-request: 1` and this site's Origin."
    ),
    paths(
        super::handlers::nonce,
        super::handlers::places,
        super::handlers::household_check,
        super::handlers::register,
        super::handlers::confirm,
        super::handlers::resend,
        super::handlers::login,
        super::handlers::logout,
        super::handlers::me,
        super::handlers::healthz,
        super::handlers::metrics,
    )
)]
pub struct ApiDoc;

pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    // F9 online services (issue 7): documented next to their handlers.
    doc.merge(super::online::OnlineApiDoc::openapi());
    doc
}
