//! The citizen digital certificate (自然人憑證) login of unit staff (F5, issue 12).
//!
//! The server believes only what the proofs prove. The request carries an ID number, a nonce,
//! a certificate and a signature; in this order:
//!
//! 1. the nonce is consumed (whatever the outcome) and must have been issued for
//!    [`ProofPurpose::CertificateLogin`] — a replay or another flow's nonce is refused;
//! 2. the certificate must chain to a configured *issuing* CA and be a citizen certificate
//!    that may sign now ([`TrustConfig::verify`]: issuer, validity, policy, key usage, key
//!    type);
//! 3. its key must have signed `SHA-256(origin) ‖ SHA-256(nonce)` for the origin this server
//!    serves — a page of another origin got a signature over *its* origin, which fails here;
//! 4. only now (the caller has shown they hold the card) the per-certificate rate limit is
//!    counted, and the revocation adapter is asked: revoked → refused, unknown → refused
//!    (fail closed, 503);
//! 5. the typed ID number is a claim: the ID-verification adapter must say it is the
//!    certificate holder's;
//! 6. the person must act for at least one insured unit (F4).
//!
//! Then a session *for the insured units' pages only* opens (`unit_sessions`: no account is
//! behind it, so the citizen pages answer 401 to it). Every attempt is audited with its
//! outcome and the certificate's SHA-256 prefix; the PIN never reaches the server.

use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use nhi_protocol::api::ProofPurpose;
use nhi_protocol::certificate::{signed_data, CertificateLoginRequest, CertificateProblem};
use nhi_protocol::units::{LoginMethod, MyUnitsResponse};
use nhi_protocol::NationalId;

use super::certificate::{TrustConfig, VerifiedCertificate, MAX_CERTIFICATE_BYTES};
use super::units::{id_for_audit, Principal};
use super::{random_token, token_hash, Caller, ServiceError, ServiceResult, Services};
use crate::adapters::id_verification::{IdMatch, IdVerifier};
use crate::adapters::revocation::{RevocationChecker, RevocationStatus};
use crate::storage::unit_sessions::{self, NewUnitSession};
use crate::storage::{self, accounts, nonces, rate_counters, units as unit_store};

/// Longest signature accepted (base64 of RSA-4096 is 684 characters).
const MAX_SIGNATURE_CHARS: usize = 1024;

/// What a certificate login needs: the trusted issuing CAs and policies, the revocation and
/// the ID-verification adapters. None on [`Services`] when `certificate_issuing_cas` is unset.
pub struct CertificateLogin {
    pub trust: Arc<TrustConfig>,
    pub revocation: Arc<dyn RevocationChecker>,
    pub ids: Arc<dyn IdVerifier>,
}

/// A certificate session just opened: the cookie value, its lifetime and the units page's
/// answer.
pub struct CertificateSession {
    pub token: String,
    pub max_age_seconds: u64,
    pub units: MyUnitsResponse,
}

/// The first 16 hex digits of the certificate's SHA-256 (of the bytes sent, verified or
/// not): enough to find it in the audit log, no personal data.
fn fingerprint(der: &[u8]) -> String {
    let mut hex = token_hash(der);
    hex.truncate(16);
    hex
}

impl Services {
    /// F5: a citizen certificate login; see the module documentation for the checks.
    pub async fn certificate_login(
        &self,
        caller: &Caller,
        req: CertificateLoginRequest,
    ) -> ServiceResult<CertificateSession> {
        let Some(login) = self.certificate_login.as_ref() else {
            return Err(ServiceError::CertificateLoginOff);
        };
        // 1. The nonce, first and whatever follows: a signature is tried once.
        let consumed = {
            let mut conn = self.db.conn().await?;
            nonces::consume(&mut conn, &token_hash(&req.nonce.0), storage::now()).await?
        };
        if consumed.map(|c| c.purpose).as_deref() != Some(ProofPurpose::CertificateLogin.as_str()) {
            return Err(self
                .certificate_refused(caller, None, "nonce_invalid", ServiceError::NonceInvalid)
                .await);
        }
        // 2. The certificate.
        let der = (req.certificate.len() <= MAX_CERTIFICATE_BYTES.div_ceil(3) * 4)
            .then(|| STANDARD.decode(req.certificate.trim()).ok())
            .flatten();
        let fp = der.as_deref().map(fingerprint);
        let fp = fp.as_deref();
        let verified = match der.map(|d| login.trust.verify(&d, storage::now())) {
            Some(Ok(v)) => v,
            Some(Err(problem)) => return Err(self.rejected(caller, fp, problem).await),
            None => {
                return Err(self
                    .rejected(caller, None, CertificateProblem::Unreadable)
                    .await)
            }
        };
        // 3. The signature over this server's origin and the nonce.
        let signature = (req.signature.len() <= MAX_SIGNATURE_CHARS)
            .then(|| STANDARD.decode(req.signature.trim()).ok())
            .flatten();
        let data = signed_data(self.config.origin(), &req.nonce);
        let signed = match signature {
            Some(sig) => verified.verify_signature(req.algorithm, &data, &sig),
            None => Err(CertificateProblem::BadSignature),
        };
        if let Err(problem) = signed {
            return Err(self.rejected(caller, fp, problem).await);
        }
        // 4. The holder of this card: their budget, then the CA's word on the certificate.
        self.limit_certificate_logins(caller, &verified, fp).await?;
        match login.revocation.status(&verified).await {
            RevocationStatus::Good => {}
            RevocationStatus::Revoked => {
                return Err(self.rejected(caller, fp, CertificateProblem::Revoked).await)
            }
            RevocationStatus::Unknown => {
                return Err(self
                    .certificate_refused(
                        caller,
                        fp,
                        "revocation_unavailable",
                        ServiceError::RevocationUnavailable,
                    )
                    .await)
            }
        }
        // 5. The typed ID number is a claim until the verification service confirms it.
        let Ok(national_id) = req.national_id.trim().parse::<NationalId>() else {
            return Err(self
                .certificate_refused(
                    caller,
                    fp,
                    "bad_national_id",
                    ServiceError::BadRequest {
                        field: "national_id",
                        message: "not a valid ID number".into(),
                    },
                )
                .await);
        };
        match login.ids.check(&verified, &national_id).await {
            IdMatch::Match => {}
            IdMatch::NoMatch => {
                return Err(self
                    .certificate_refused(caller, fp, "id_mismatch", ServiceError::IdMismatch)
                    .await)
            }
            IdMatch::Unavailable => {
                return Err(self
                    .certificate_refused(
                        caller,
                        fp,
                        "id_verification_unavailable",
                        ServiceError::IdVerificationUnavailable,
                    )
                    .await)
            }
        }
        // 6. Someone who acts for an insured unit.
        let (memberships, account) = {
            let mut conn = self.db.conn().await?;
            let m = unit_store::memberships(&mut conn, national_id.as_str()).await?;
            let a = accounts::active_by_national_id(&mut conn, national_id.as_str()).await?;
            (m, a)
        };
        if memberships.is_empty() {
            return Err(self
                .certificate_refused(caller, fp, "no_unit_role", ServiceError::NoUnitRole)
                .await);
        }
        // The name: the registered account's, else the certificate's (the CA vouches for it),
        // else the unit's record of the person.
        let name = match (&account, verified.holder_name()) {
            (Some(a), _) => a.name.clone(),
            (None, Some(cn)) => cn,
            (None, None) => {
                let mut conn = self.db.conn().await?;
                unit_store::insured_person(
                    &mut conn,
                    &memberships[0].unit_code,
                    national_id.as_str(),
                )
                .await?
                .map(|p| p.name)
                .unwrap_or_default()
            }
        };
        let principal = Principal {
            national_id: national_id.as_str().to_owned(),
            name,
            email: account.map(|a| a.email).unwrap_or_default(),
            method: LoginMethod::CitizenCertificate,
        };
        self.open_unit_session(caller, &verified, fp.unwrap_or_default(), principal)
            .await
    }

    async fn open_unit_session(
        &self,
        caller: &Caller,
        cert: &VerifiedCertificate,
        fp: &str,
        principal: Principal,
    ) -> ServiceResult<CertificateSession> {
        let raw = random_token();
        let now = storage::now();
        let ttl = self.config.session_ttl_minutes.saturating_mul(60);
        {
            let mut conn = self.db.conn().await?;
            unit_sessions::insert(
                &mut conn,
                &NewUnitSession {
                    token_hash: &token_hash(&raw),
                    national_id: &principal.national_id,
                    holder_name: &principal.name,
                    certificate_sha256: &cert.sha256_hex(),
                    now,
                    expires_at: now.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX)),
                    ip: &caller.ip,
                },
            )
            .await?;
        }
        self.metrics.inc(&self.metrics.logins);
        let actor = format!("id:{}", id_for_audit(&principal.national_id));
        let detail = format!("certificate={fp}");
        self.audit(
            caller,
            Some(&actor),
            "certificate_login",
            "success",
            Some(&detail),
        )
        .await;
        let units = self.my_units(&principal).await?;
        Ok(CertificateSession {
            token: URL_SAFE_NO_PAD.encode(raw),
            max_age_seconds: ttl,
            units,
        })
    }

    /// The principal of a certificate session (none: `SessionExpired`).
    pub(crate) async fn certificate_principal(
        &self,
        token: Option<&str>,
    ) -> ServiceResult<Principal> {
        let hash = token
            .and_then(super::session::session_hash)
            .ok_or(ServiceError::SessionExpired)?;
        let mut conn = self.db.conn().await?;
        let (national_id, name) = unit_sessions::holder_of(&mut conn, &hash, storage::now())
            .await?
            .ok_or(ServiceError::SessionExpired)?;
        // The account's email is looked up on each request: an account activated (or its
        // email changed) during the session is what the result mail uses.
        let email = accounts::active_by_national_id(&mut conn, &national_id)
            .await?
            .map(|a| a.email)
            .unwrap_or_default();
        Ok(Principal {
            national_id,
            name,
            email,
            method: LoginMethod::CitizenCertificate,
        })
    }

    /// Logins per certificate and hour (`certificate_login_per_hour`), in the database so
    /// every instance shares it; counted only after the signature verified, so nobody can use
    /// up a holder's budget with their (public) certificate alone.
    async fn limit_certificate_logins(
        &self,
        caller: &Caller,
        cert: &VerifiedCertificate,
        fp: Option<&str>,
    ) -> ServiceResult<()> {
        const WINDOW: i64 = 3600;
        let now = storage::now();
        let window = now - now.rem_euclid(WINDOW);
        let hits = {
            let mut conn = self.db.conn().await?;
            let key = format!("certificate-login:{}", cert.sha256_hex());
            rate_counters::hit(&mut conn, &key, window).await?
        };
        if hits > i64::from(self.config.certificate_login_per_hour) {
            let e = ServiceError::RateLimited {
                retry_after: (window + WINDOW - now).unsigned_abs(),
            };
            return Err(self
                .certificate_refused(caller, fp, "rate_limited", e)
                .await);
        }
        Ok(())
    }

    async fn rejected(
        &self,
        caller: &Caller,
        fp: Option<&str>,
        problem: CertificateProblem,
    ) -> ServiceError {
        self.certificate_refused(
            caller,
            fp,
            problem.code(),
            ServiceError::CertificateRejected(problem),
        )
        .await
    }

    /// Audits a refused certificate login (outcome, the certificate's fingerprint when it was
    /// readable) and gives back the error.
    async fn certificate_refused(
        &self,
        caller: &Caller,
        fp: Option<&str>,
        outcome: &str,
        e: ServiceError,
    ) -> ServiceError {
        self.metrics.inc(&self.metrics.logins_failed);
        tracing::info!(outcome, "certificate login refused");
        let detail = fp.map(|f| format!("certificate={f}"));
        self.audit(
            caller,
            None,
            "certificate_login",
            outcome,
            detail.as_deref(),
        )
        .await;
        e
    }
}
