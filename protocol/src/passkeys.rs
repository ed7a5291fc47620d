//! Passkeys rooted in the card (issue 16): request and answer bodies.
//!
//! A logged-in person adds a passkey only after a *step-up* in this session (a card proof of
//! purpose [`ProofPurpose::StepUp`](crate::api::ProofPurpose::StepUp) from the account's own
//! current card, plus the registration password) within the last
//! [`STEP_UP_TTL_SECONDS`]. The WebAuthn option and credential bodies are the WebAuthn Level 3
//! JSON forms (base64url strings): `options.publicKey` is what
//! `PublicKeyCredential.parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON` take, and
//! `credential` is what `credential.toJSON()` gives. They travel as [`serde_json::Value`] so
//! that the SPA needs no WebAuthn types; the server validates them.
//!
//! All under the cookie API (CSRF header + Origin, JSON):
//!
//! | Method | Path | Body → answer |
//! |---|---|---|
//! | POST | `/api/v1/passkeys/step-up` | [`StepUpRequest`] → 204 |
//! | POST | `/api/v1/passkeys/registration` | `{}` → [`CeremonyOptions`] (403 `step_up_required` without a fresh step-up) |
//! | POST | `/api/v1/passkeys/registration/finish` | [`RegistrationFinish`] → [`PasskeyInfo`] |
//! | GET | `/api/v1/passkeys` | – → [`PasskeysResponse`] |
//! | PATCH | `/api/v1/passkeys/{id}` | [`RenamePasskey`] → [`PasskeyInfo`] |
//! | DELETE | `/api/v1/passkeys/{id}` | – → 204 |
//! | POST | `/api/v1/passkeys/login` | `{}` → [`CeremonyOptions`] (discoverable: no `allowCredentials`; no session needed) |
//! | POST | `/api/v1/passkeys/login/finish` | [`LoginFinish`] → [`crate::api::UserInfo`] + session cookie |
//!
//! Errors: `step_up_required` (403), `passkey_rejected` (401; `message` is one of
//! [`PasskeyProblem`]'s codes), `rate_limited`, `not_found`, and the card-proof codes on
//! step-up.
//!
//! This module is I/O-free and builds for `wasm32-unknown-unknown`.

use serde::{Deserialize, Serialize};

use crate::api::CardProof;

/// How long a step-up lets this session start a registration ceremony.
pub const STEP_UP_TTL_SECONDS: u32 = 300;
/// How long a ceremony (registration or login challenge) is valid.
pub const CEREMONY_TTL_SECONDS: u32 = 300;
/// A passkey's name: 1 to this many characters, after trimming.
pub const NAME_MAX_CHARS: usize = 64;

/// Trims a passkey name and checks its length (1–[`NAME_MAX_CHARS`] characters; no control
/// characters). `None` when it is unacceptable.
pub fn normalize_name(name: &str) -> Option<String> {
    let trimmed = name.trim();
    let chars = trimmed.chars().count();
    if chars == 0 || chars > NAME_MAX_CHARS || trimmed.chars().any(char::is_control) {
        return None;
    }
    Some(trimmed.to_owned())
}

/// Body of `POST /api/v1/passkeys/step-up`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StepUpRequest {
    /// A proof on a nonce of purpose `step_up`, from the account's own current card.
    pub proof: CardProof,
    /// The registration password.
    pub password: String,
}

/// Answer to `POST /api/v1/passkeys/registration` and `POST /api/v1/passkeys/login`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CeremonyOptions {
    /// Names this ceremony in the finish request; single-use.
    pub ceremony_id: String,
    /// `{"publicKey": …}`: hand `options.publicKey` to
    /// `PublicKeyCredential.parseCreationOptionsFromJSON` (registration) or
    /// `parseRequestOptionsFromJSON` (login).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub options: serde_json::Value,
}

/// Body of `POST /api/v1/passkeys/registration/finish`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegistrationFinish {
    pub ceremony_id: String,
    /// The person's name for the passkey (1–64 characters, trimmed).
    pub name: String,
    /// `credential.toJSON()` of the created credential.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub credential: serde_json::Value,
}

/// Body of `POST /api/v1/passkeys/login/finish`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoginFinish {
    pub ceremony_id: String,
    /// `credential.toJSON()` of the assertion.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub credential: serde_json::Value,
}

/// One passkey of the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasskeyInfo {
    pub id: i64,
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; absent if never used to log in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<i64>,
    /// The card that enrolled it, masked (`0000****5678`).
    pub card_number_masked: String,
}

/// Answer to `GET /api/v1/passkeys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasskeysResponse {
    pub passkeys: Vec<PasskeyInfo>,
}

/// Body of `PATCH /api/v1/passkeys/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RenamePasskey {
    pub name: String,
}

/// Why a passkey was refused: the `message` of a `passkey_rejected` error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PasskeyProblem {
    /// The ceremony is unknown, expired, already used or of another session.
    CeremonyInvalid,
    /// No (active) passkey has this credential id.
    UnknownCredential,
    /// The credential was made for another origin.
    WrongOrigin,
    /// The credential was made for another relying party id.
    WrongRpId,
    /// The signature or the attestation does not verify (or the answer is malformed).
    BadSignature,
    /// The authenticator's signature counter went backwards: a cloned authenticator.
    CounterRegressed,
    /// The authenticator did not verify the user (PIN / biometrics).
    UserNotVerified,
    /// This authenticator is already registered.
    AlreadyRegistered,
}

impl PasskeyProblem {
    pub const ALL: [PasskeyProblem; 8] = [
        PasskeyProblem::CeremonyInvalid,
        PasskeyProblem::UnknownCredential,
        PasskeyProblem::WrongOrigin,
        PasskeyProblem::WrongRpId,
        PasskeyProblem::BadSignature,
        PasskeyProblem::CounterRegressed,
        PasskeyProblem::UserNotVerified,
        PasskeyProblem::AlreadyRegistered,
    ];

    /// The wire code (the `message` of the error).
    pub fn as_str(self) -> &'static str {
        match self {
            PasskeyProblem::CeremonyInvalid => "ceremony_invalid",
            PasskeyProblem::UnknownCredential => "unknown_credential",
            PasskeyProblem::WrongOrigin => "wrong_origin",
            PasskeyProblem::WrongRpId => "wrong_rp_id",
            PasskeyProblem::BadSignature => "bad_signature",
            PasskeyProblem::CounterRegressed => "counter_regressed",
            PasskeyProblem::UserNotVerified => "user_not_verified",
            PasskeyProblem::AlreadyRegistered => "already_registered",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(normalize_name("  Phone "), Some("Phone".to_owned()));
        assert_eq!(normalize_name("   "), None);
        assert_eq!(normalize_name(""), None);
        assert_eq!(normalize_name(&"手".repeat(64)), Some("手".repeat(64)));
        assert_eq!(normalize_name(&"手".repeat(65)), None);
        assert_eq!(normalize_name("a\u{0}b"), None);
    }

    #[test]
    fn problems_round_trip() {
        for p in PasskeyProblem::ALL {
            assert_eq!(PasskeyProblem::parse(p.as_str()), Some(p));
            let wire = serde_json::to_value(p).expect("json");
            assert_eq!(wire.as_str(), Some(p.as_str()));
        }
    }

    #[test]
    fn requests_refuse_unknown_fields() {
        let ok = serde_json::json!({"ceremony_id": "c", "credential": {"id": "x"}});
        assert!(serde_json::from_value::<LoginFinish>(ok.clone()).is_ok());
        let mut bad = ok;
        bad["user_id"] = serde_json::json!("A123456789");
        assert!(serde_json::from_value::<LoginFinish>(bad).is_err());
        assert!(
            serde_json::from_value::<RenamePasskey>(serde_json::json!({"name": "a", "id": 3}))
                .is_err()
        );
    }

    #[test]
    fn last_used_is_omitted_when_never_used() {
        let info = PasskeyInfo {
            id: 1,
            name: "Phone".into(),
            created_at: 10,
            last_used_at: None,
            card_number_masked: "0000****5678".into(),
        };
        let json = serde_json::to_value(&info).expect("json");
        assert!(json.get("last_used_at").is_none());
        assert_eq!(
            serde_json::from_value::<PasskeyInfo>(json).expect("parse"),
            info
        );
    }
}
