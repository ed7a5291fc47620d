//! The citizen digital certificate (自然人憑證) login of unit staff (F5): what the card signs,
//! and the request that carries the signature to the server.
//!
//! The model is Web eID's authentication token: the page gets a single-use nonce from the
//! server (`POST /api/v1/card-proof/nonce` with purpose `certificate_login`), the bridge's
//! `authenticate` command has the card sign
//!
//! ```text
//! signed data = SHA-256(origin) ‖ SHA-256(nonce)        (64 bytes)
//! ```
//!
//! with its authentication key, `origin` being the one the *browser* reported for the page
//! (the extension sets it; the page cannot). The signature algorithm is fixed per key type
//! ([`SignatureAlgorithm`]): the card is handed `SHA-256(signed data)` and returns an ECDSA
//! signature (P-256) or a PKCS#1 v1.5 signature (RSA-2048, as MOICA's cards use). The PIN is
//! typed into the bridge host's own dialog, never into the page.
//!
//! | Method | Path | Body → answer |
//! |---|---|---|
//! | POST | `/api/v1/units/certificate-login` | [`CertificateLoginRequest`] → [`crate::units::MyUnitsResponse`] + session cookie (unit pages only) |
//!
//! This module is I/O-free and builds for `wasm32-unknown-unknown`.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::card_proof::Nonce;

/// Tries a citizen certificate card allows before its PIN is blocked.
pub const PIN_TRIES: u8 = 3;

/// The one signature algorithm allowed for each key type (JOSE names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SignatureAlgorithm {
    /// ECDSA on P-256 with SHA-256; the signature is the 64-byte `r ‖ s` (IEEE P1363, as a
    /// card returns it), not DER.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RSA-2048 and up).
    RS256,
}

impl SignatureAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureAlgorithm::ES256 => "ES256",
            SignatureAlgorithm::RS256 => "RS256",
        }
    }
}

/// The 64 bytes the card's signature covers: `SHA-256(origin) ‖ SHA-256(nonce)`.
pub fn signed_data(origin: &str, nonce: &Nonce) -> [u8; 64] {
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&Sha256::digest(origin.as_bytes()));
    out[32..].copy_from_slice(&Sha256::digest(nonce.0));
    out
}

/// The hash the card is handed to sign: `SHA-256(signed_data(origin, nonce))`.
pub fn signed_digest(origin: &str, nonce: &Nonce) -> [u8; 32] {
    Sha256::digest(signed_data(origin, nonce)).into()
}

/// Body of `POST /api/v1/units/certificate-login`. Everything here but the signature is a
/// claim: the server believes the certificate only after checking its chain to a configured
/// issuing CA, its policy, key usage, validity and revocation, the signature only over the
/// origin it serves and a nonce it issued for this purpose, and the ID number only when the
/// ID-verification service says it is the certificate holder's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CertificateLoginRequest {
    /// The ID number the staff member typed (the certificate carries only its last four
    /// digits).
    pub national_id: String,
    pub nonce: Nonce,
    /// The authentication certificate, DER, standard base64 (as the bridge returns it).
    pub certificate: String,
    /// The card's signature over [`signed_data`], standard base64.
    pub signature: String,
    pub algorithm: SignatureAlgorithm,
}

/// Why a certificate was refused: the `message` of an
/// [`crate::api::ErrorCode::CertificateRejected`] answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertificateProblem {
    /// Not a DER X.509 certificate (or not base64).
    Unreadable,
    /// Not issued by a CA this server accepts for logins (also: a sibling CA under the same
    /// root, a self-signed certificate, a broken issuer signature).
    UntrustedIssuer,
    /// Its validity period has ended.
    Expired,
    /// Its validity period has not begun.
    NotYetValid,
    /// The issuing CA has revoked it.
    Revoked,
    /// It is not a citizen certificate (policy OID missing).
    WrongPolicy,
    /// Its key may not make authentication signatures (no digitalSignature key usage).
    WrongKeyUsage,
    /// A key type or signature algorithm this server does not accept.
    WrongAlgorithm,
    /// The signature does not verify over this site's origin and the nonce.
    BadSignature,
}

impl CertificateProblem {
    pub const ALL: [CertificateProblem; 9] = [
        CertificateProblem::Unreadable,
        CertificateProblem::UntrustedIssuer,
        CertificateProblem::Expired,
        CertificateProblem::NotYetValid,
        CertificateProblem::Revoked,
        CertificateProblem::WrongPolicy,
        CertificateProblem::WrongKeyUsage,
        CertificateProblem::WrongAlgorithm,
        CertificateProblem::BadSignature,
    ];

    /// The wire name, sent as the error's `message`.
    pub fn code(self) -> &'static str {
        match self {
            CertificateProblem::Unreadable => "unreadable",
            CertificateProblem::UntrustedIssuer => "untrusted_issuer",
            CertificateProblem::Expired => "expired",
            CertificateProblem::NotYetValid => "not_yet_valid",
            CertificateProblem::Revoked => "revoked",
            CertificateProblem::WrongPolicy => "wrong_policy",
            CertificateProblem::WrongKeyUsage => "wrong_key_usage",
            CertificateProblem::WrongAlgorithm => "wrong_algorithm",
            CertificateProblem::BadSignature => "bad_signature",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.code() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_data_is_the_two_hashes() {
        let nonce = Nonce([7; 32]);
        let d = signed_data("https://nhi.example", &nonce);
        assert_eq!(&d[..32], Sha256::digest(b"https://nhi.example").as_slice());
        assert_eq!(&d[32..], Sha256::digest([7u8; 32]).as_slice());
        assert_eq!(
            signed_digest("https://nhi.example", &nonce).as_slice(),
            Sha256::digest(d).as_slice()
        );
        assert_ne!(
            signed_digest("https://nhi.example", &nonce),
            signed_digest("https://nhi.example.evil", &nonce)
        );
    }

    #[test]
    fn problems_round_trip() {
        for p in CertificateProblem::ALL {
            assert_eq!(CertificateProblem::parse(p.code()), Some(p));
        }
        assert_eq!(CertificateProblem::parse("nope"), None);
    }

    #[test]
    fn the_request_has_the_documented_shape() {
        let json = serde_json::json!({
            "national_id": "A123456789",
            "nonce": "ab".repeat(32),
            "certificate": "MIIB",
            "signature": "AAAA",
            "algorithm": "ES256",
        });
        let r: CertificateLoginRequest = serde_json::from_value(json.clone()).expect("parses");
        assert_eq!(r.algorithm, SignatureAlgorithm::ES256);
        assert_eq!(serde_json::to_value(&r).expect("ser"), json);
    }
}
