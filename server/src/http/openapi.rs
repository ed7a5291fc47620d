//! The OpenAPI document (`/api/openapi.json`). The wire types live in `nhi_protocol::api`
//! (which must not depend on utoipa); the `*Doc` types here describe them for the document
//! only. `tests/openapi.rs` checks that they stay in step with the real types.
#![allow(dead_code)]

use utoipa::{OpenApi, ToSchema};

/// 12-digit NHI card number, e.g. "000012345678".
#[derive(ToSchema)]
pub struct CardProofDoc {
    #[schema(example = "000012345678")]
    card_number: String,
    /// 64 hex digits from /api/v1/card-proof/nonce.
    nonce: String,
    /// 32 hex digits: AES-128-CMAC of SHA-256(origin ‖ nonce) under the card key.
    mac: String,
}

#[derive(ToSchema)]
pub struct CardBasicDataDoc {
    card_number: String,
    name: String,
    #[schema(example = "A123456789")]
    national_id: String,
    /// ROC yyyMMdd
    #[schema(example = "0790101")]
    birth_date: String,
    #[schema(example = "M")]
    sex: String,
    issue_date: String,
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
pub struct NonceResponseDoc {
    nonce: String,
    expires_in_seconds: u32,
}

#[derive(ToSchema)]
pub struct HouseholdCheckDoc {
    proof: CardProofDoc,
    card: CardBasicDataDoc,
    household: HouseholdInfoDoc,
}

#[derive(ToSchema)]
pub struct HouseholdCheckResponseDoc {
    matches: bool,
}

#[derive(ToSchema)]
pub struct RegisterDoc {
    proof: CardProofDoc,
    card: CardBasicDataDoc,
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
    /// The `ticket` query parameter of the mailed link.
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
/// card_mismatch, household_mismatch, registry_unavailable, already_registered,
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
