//! Verification of a citizen digital certificate (自然人憑證) login (issue 12): the certificate
//! against the configured *issuing* CAs, and the card's signature over
//! `signed_data(origin, nonce)` ([`nhi_protocol::certificate::signed_data`]).
//!
//! Pure and synchronous: no I/O, no clock (the caller passes `now`). Revocation and the ID
//! check are adapters ([`crate::adapters::revocation`], [`crate::adapters::id_verification`]).
//!
//! # What [`TrustConfig::verify`] checks, in this order
//!
//! 1. At most [`MAX_CERTIFICATE_BYTES`], one DER X.509 **v3** certificate and nothing after
//!    it → else [`CertificateProblem::Unreadable`].
//! 2. The issuer is one of the configured issuing CAs: the CA signature algorithm is one we
//!    support (below), the certificate's issuer DN equals the CA's subject DN (byte for
//!    byte), the CA's key verifies the certificate's signature, the CA is valid at `now`,
//!    and the certificate is not itself a CA (basicConstraints cA) → else
//!    [`CertificateProblem::UntrustedIssuer`]. Only the configured certificates are trust
//!    anchors: a root in the bundle trusts what the *root* signs directly, never what its
//!    other CAs (say the GCA under the GRCA) issue.
//! 3. `not_before <= now` ([`CertificateProblem::NotYetValid`]) and `now <= not_after`
//!    ([`CertificateProblem::Expired`]).
//! 4. certificatePolicies holds one of the configured policy OIDs (anyPolicy does not count)
//!    → else [`CertificateProblem::WrongPolicy`].
//! 5. keyUsage is present and has digitalSignature → else
//!    [`CertificateProblem::WrongKeyUsage`].
//! 6. The key: EC P-256 → ES256; RSA with a modulus of 2048 to 4096 bits → RS256; anything
//!    else (other curves, smaller RSA, Ed25519, DSA…) → [`CertificateProblem::WrongAlgorithm`].
//!
//! CA signature algorithms accepted on a login certificate: ecdsa-with-SHA256/SHA384 and
//! sha256/384/512WithRSAEncryption, plus **sha1WithRSAEncryption** (1.2.840.113549.1.1.5)
//! only because MOICA's CA has signed certificates still in use with it; SHA-1 is not
//! collision resistant, so drop it from the list once every certificate in use is signed
//! with SHA-256 (the card's own signature is always SHA-256). RSA-PSS, Ed25519 and
//! everything else → `UntrustedIssuer`.
//!
//! Not checked (known, to be reviewed against a real MOICA certificate): unknown critical
//! extensions (RFC 5280 says to refuse them; refusing would lock everyone out if MOICA marks
//! one critical that the parser does not know), extendedKeyUsage (not required), name
//! constraints and policy mappings (there is no path beyond the one configured CA).

use nhi_protocol::certificate::{CertificateProblem, SignatureAlgorithm};
use sha2::{Digest, Sha256};
use x509_parser::asn1_rs::{Oid, Tag};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION, OID_PKCS1_SHA1WITHRSA,
    OID_PKCS1_SHA256WITHRSA, OID_PKCS1_SHA384WITHRSA, OID_PKCS1_SHA512WITHRSA,
    OID_SIG_ECDSA_WITH_SHA256, OID_SIG_ECDSA_WITH_SHA384, OID_X509_COMMON_NAME,
    OID_X509_EXT_CERTIFICATE_POLICIES, OID_X509_SERIALNUMBER,
};
use x509_parser::prelude::FromDer as _;
use x509_parser::x509::{AttributeTypeAndValue, SubjectPublicKeyInfo, X509Name, X509Version};

/// The largest login certificate accepted (MOICA's are about 1.5 KiB); anything bigger is
/// [`CertificateProblem::Unreadable`] before it is parsed.
pub const MAX_CERTIFICATE_BYTES: usize = 16 * 1024;

/// The smallest RSA modulus accepted for a card key (bits).
pub const MIN_RSA_BITS: usize = 2048;

/// The largest RSA modulus accepted for a card key (bits; the `rsa` crate's limit).
pub const MAX_RSA_BITS: usize = 4096;

/// Why the trust configuration cannot be used (a start-up error).
#[derive(Debug, thiserror::Error)]
pub enum TrustConfigError {
    /// The bundle is not PEM, or a PEM block is broken.
    #[error("the issuing CA bundle is not readable PEM: {0}")]
    Pem(String),
    /// No `-----BEGIN CERTIFICATE-----` block.
    #[error("the issuing CA bundle holds no certificate (-----BEGIN CERTIFICATE-----)")]
    NoCertificate,
    /// A block is not an X.509 v3 certificate (1-based position in the bundle).
    #[error(
        "certificate {index} of the issuing CA bundle is not an X.509 v3 certificate: {reason}"
    )]
    Unparsable {
        /// 1-based position in the bundle.
        index: usize,
        /// What the parser said.
        reason: String,
    },
    /// A certificate of the bundle is not a CA (basicConstraints cA missing or false).
    #[error("certificate {index} of the issuing CA bundle ({subject}) is not a CA certificate")]
    NotACa {
        /// 1-based position in the bundle.
        index: usize,
        /// Its subject (CN).
        subject: String,
    },
    /// A policy OID is not a dotted OID such as `2.16.886.101.0.3.3`.
    #[error("{0:?} is not a dotted object identifier")]
    InvalidOid(String),
    /// No policy OID is configured: every certificate would be refused.
    #[error("no certificate policy OID is configured")]
    NoPolicy,
}

/// One configured issuing CA: what verifying a login certificate needs, parsed once.
struct IssuingCa {
    /// The whole certificate, DER.
    der: Vec<u8>,
    /// Its subject DN, DER (compared with the login certificate's issuer DN).
    subject_der: Vec<u8>,
    /// Its SubjectPublicKeyInfo, DER (re-parsed per verification: a cheap zero-copy parse).
    spki_der: Vec<u8>,
    /// Subject, for logs and errors (a CA's name is not personal data).
    subject: String,
    not_before: i64,
    not_after: i64,
}

/// The issuing CAs whose certificates may log in, and the policy OIDs a login certificate
/// must carry.
pub struct TrustConfig {
    cas: Vec<IssuingCa>,
    policies: Vec<Oid<'static>>,
}

impl std::fmt::Debug for TrustConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustConfig")
            .field(
                "issuing_cas",
                &self.cas.iter().map(|c| &c.subject).collect::<Vec<_>>(),
            )
            .field(
                "policies",
                &self
                    .policies
                    .iter()
                    .map(|o| o.to_id_string())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// A configured issuing CA as the CRL checker needs it.
#[derive(Debug, Clone, Copy)]
pub struct IssuingCaRef<'a> {
    /// The CA certificate, DER.
    pub der: &'a [u8],
    /// Its subject DN, DER.
    pub subject_der: &'a [u8],
    /// Its SubjectPublicKeyInfo, DER.
    pub spki_der: &'a [u8],
    /// Its subject, readable (for logs).
    pub subject: &'a str,
}

impl TrustConfig {
    /// PEM bundle of the issuing CA certificate(s) (one or more
    /// `-----BEGIN CERTIFICATE-----`), policy OIDs as dotted strings.
    pub fn new(issuing_cas_pem: &[u8], policy_oids: &[String]) -> Result<Self, TrustConfigError> {
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::CertificateDer;

        let mut cas = Vec::new();
        for (i, block) in CertificateDer::pem_slice_iter(issuing_cas_pem).enumerate() {
            let index = i + 1;
            let der = block.map_err(|e| TrustConfigError::Pem(format!("block {index}: {e}")))?;
            cas.push(parse_ca(index, der.as_ref())?);
        }
        if cas.is_empty() {
            return Err(TrustConfigError::NoCertificate);
        }
        let mut policies = Vec::with_capacity(policy_oids.len());
        for text in policy_oids {
            policies.push(parse_oid(text)?);
        }
        if policies.is_empty() {
            return Err(TrustConfigError::NoPolicy);
        }
        Ok(Self { cas, policies })
    }

    /// The issuing CAs, in bundle order (the CRL checker verifies CRL signatures with them;
    /// [`VerifiedCertificate::issuer_index`] indexes this list).
    pub fn issuing_cas(&self) -> Vec<IssuingCaRef<'_>> {
        self.cas
            .iter()
            .map(|c| IssuingCaRef {
                der: &c.der,
                subject_der: &c.subject_der,
                spki_der: &c.spki_der,
                subject: &c.subject,
            })
            .collect()
    }

    /// The issuing CA at `index` (see [`VerifiedCertificate::issuer_index`]).
    pub fn issuing_ca(&self, index: usize) -> Option<IssuingCaRef<'_>> {
        self.cas.get(index).map(|c| IssuingCaRef {
            der: &c.der,
            subject_der: &c.subject_der,
            spki_der: &c.spki_der,
            subject: &c.subject,
        })
    }

    /// Checks a login certificate at `now` (Unix seconds); see the module documentation for
    /// the checks and their order.
    pub fn verify(&self, der: &[u8], now: i64) -> Result<VerifiedCertificate, CertificateProblem> {
        if der.is_empty() || der.len() > MAX_CERTIFICATE_BYTES {
            return Err(CertificateProblem::Unreadable);
        }
        let cert = match X509Certificate::from_der(der) {
            Ok(([], cert)) => cert,
            _ => return Err(CertificateProblem::Unreadable),
        };
        if cert.version() != X509Version::V3 {
            return Err(CertificateProblem::Unreadable);
        }

        // 2. the issuer
        let issuer_index = self.issuer_of(&cert, now)?;
        match cert.basic_constraints() {
            Ok(None) => {}
            Ok(Some(bc)) if !bc.value.ca => {}
            // a CA certificate, or basicConstraints twice / unparsable
            _ => return Err(CertificateProblem::UntrustedIssuer),
        }

        // 3. validity
        let validity = cert.validity();
        if validity.not_before.timestamp() > now {
            return Err(CertificateProblem::NotYetValid);
        }
        if validity.not_after.timestamp() < now {
            return Err(CertificateProblem::Expired);
        }

        // 4. policy
        let has_policy = cert.extensions().iter().any(|ext| {
            ext.oid == OID_X509_EXT_CERTIFICATE_POLICIES
                && match ext.parsed_extension() {
                    ParsedExtension::CertificatePolicies(list) => {
                        list.iter().any(|p| self.policies.contains(&p.policy_id))
                    }
                    _ => false,
                }
        });
        if !has_policy {
            return Err(CertificateProblem::WrongPolicy);
        }

        // 5. key usage
        match cert.key_usage() {
            Ok(Some(ku)) if ku.value.digital_signature() => {}
            _ => return Err(CertificateProblem::WrongKeyUsage),
        }

        // 6. key type
        let key = card_key(cert.public_key())?;

        let holder_name = cert
            .subject()
            .iter_by_oid(&OID_X509_COMMON_NAME)
            .next()
            .and_then(attribute_text);
        let id_last_digits = cert
            .subject()
            .iter_by_oid(&OID_X509_SERIALNUMBER)
            .next()
            .and_then(attribute_text);
        Ok(VerifiedCertificate {
            der: der.to_vec(),
            sha256: Sha256::digest(der).into(),
            serial: cert.raw_serial().to_vec(),
            issuer_index,
            holder_name,
            id_last_digits,
            key,
        })
    }

    /// The index of the configured CA that signed `cert`.
    fn issuer_of(&self, cert: &X509Certificate<'_>, now: i64) -> Result<usize, CertificateProblem> {
        let alg = &cert.signature_algorithm.algorithm;
        let supported = [
            &OID_SIG_ECDSA_WITH_SHA256,
            &OID_SIG_ECDSA_WITH_SHA384,
            &OID_PKCS1_SHA256WITHRSA,
            &OID_PKCS1_SHA384WITHRSA,
            &OID_PKCS1_SHA512WITHRSA,
            // MOICA's own (older) CA signs with SHA-1: see the module documentation
            &OID_PKCS1_SHA1WITHRSA,
        ];
        if !supported.contains(&alg) || cert.signature_algorithm != cert.tbs_certificate.signature {
            return Err(CertificateProblem::UntrustedIssuer);
        }
        let issuer = cert.issuer().as_raw();
        for (index, ca) in self.cas.iter().enumerate() {
            if ca.subject_der != issuer || ca.not_before > now || ca.not_after < now {
                continue;
            }
            let Ok((_, spki)) = SubjectPublicKeyInfo::from_der(&ca.spki_der) else {
                continue;
            };
            if cert.verify_signature(Some(&spki)).is_ok() {
                return Ok(index);
            }
        }
        Err(CertificateProblem::UntrustedIssuer)
    }
}

fn parse_ca(index: usize, der: &[u8]) -> Result<IssuingCa, TrustConfigError> {
    let unparsable = |reason: String| TrustConfigError::Unparsable { index, reason };
    let cert = match X509Certificate::from_der(der) {
        Ok(([], cert)) => cert,
        Ok(_) => return Err(unparsable("bytes after the certificate".into())),
        Err(e) => return Err(unparsable(e.to_string())),
    };
    if cert.version() != X509Version::V3 {
        return Err(unparsable(format!("version {}", cert.version().0 + 1)));
    }
    let subject = name_text(cert.subject());
    let is_ca = matches!(cert.basic_constraints(), Ok(Some(bc)) if bc.value.ca);
    // a CA whose keyUsage exists must allow certificate signing
    let may_sign = match cert.key_usage() {
        Ok(None) => true,
        Ok(Some(ku)) => ku.value.key_cert_sign(),
        Err(_) => false,
    };
    if !is_ca || !may_sign {
        return Err(TrustConfigError::NotACa { index, subject });
    }
    Ok(IssuingCa {
        der: der.to_vec(),
        subject_der: cert.subject().as_raw().to_vec(),
        spki_der: cert.public_key().raw.to_vec(),
        subject,
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
    })
}

/// A dotted OID: at least two arcs, all decimal, the first 0–2 (and the second below 40
/// under 0 and 1).
fn parse_oid(text: &str) -> Result<Oid<'static>, TrustConfigError> {
    let invalid = || TrustConfigError::InvalidOid(text.to_owned());
    let trimmed = text.trim();
    let arcs: Vec<u64> = trimmed
        .split('.')
        .map(|a| {
            if a.is_empty()
                || !a.bytes().all(|b| b.is_ascii_digit())
                || (a.len() > 1 && a.starts_with('0'))
            {
                None
            } else {
                a.parse::<u64>().ok()
            }
        })
        .collect::<Option<_>>()
        .ok_or_else(invalid)?;
    match arcs.as_slice() {
        [0 | 1, second, ..] if *second < 40 => {}
        [2, _, ..] => {}
        _ => return Err(invalid()),
    }
    Oid::from(&arcs).map_err(|_| invalid())
}

/// The text of a name attribute: the string types as they are, BMPString (UTF-16BE) decoded.
fn attribute_text(attr: &AttributeTypeAndValue<'_>) -> Option<String> {
    if let Ok(s) = attr.as_str() {
        return Some(s.to_owned());
    }
    let value = attr.attr_value();
    if value.tag() == Tag::BmpString && value.data.len() % 2 == 0 {
        let units: Vec<u16> = value
            .data
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        return String::from_utf16(&units).ok();
    }
    None
}

/// A readable DN (CA names, for logs and errors).
fn name_text(name: &X509Name<'_>) -> String {
    let cn: Vec<String> = name
        .iter_by_oid(&OID_X509_COMMON_NAME)
        .filter_map(attribute_text)
        .collect();
    if cn.is_empty() {
        name.to_string()
    } else {
        cn.join(", ")
    }
}

/// The card key, when its type is one we accept.
fn card_key(spki: &SubjectPublicKeyInfo<'_>) -> Result<CardKey, CertificateProblem> {
    let alg = &spki.algorithm;
    if alg.algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = alg.parameters.as_ref().and_then(|p| p.as_oid().ok());
        if curve.as_ref() != Some(&OID_EC_P256) {
            return Err(CertificateProblem::WrongAlgorithm);
        }
        p256::ecdsa::VerifyingKey::from_sec1_bytes(&spki.subject_public_key.data)
            .map(CardKey::Es256)
            .map_err(|_| CertificateProblem::WrongAlgorithm)
    } else if alg.algorithm == OID_PKCS1_RSAENCRYPTION {
        use rsa::pkcs1::DecodeRsaPublicKey as _;
        use rsa::traits::PublicKeyParts as _;
        let key = rsa::RsaPublicKey::from_pkcs1_der(&spki.subject_public_key.data)
            .map_err(|_| CertificateProblem::WrongAlgorithm)?;
        let bits = key.n().bits();
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
            return Err(CertificateProblem::WrongAlgorithm);
        }
        Ok(CardKey::Rs256(Box::new(key)))
    } else {
        Err(CertificateProblem::WrongAlgorithm)
    }
}

#[derive(Clone)]
enum CardKey {
    Es256(p256::ecdsa::VerifyingKey),
    Rs256(Box<rsa::RsaPublicKey>),
}

/// A login certificate that passed [`TrustConfig::verify`] (not yet checked for revocation,
/// nor its holder's ID).
#[derive(Clone)]
pub struct VerifiedCertificate {
    der: Vec<u8>,
    sha256: [u8; 32],
    serial: Vec<u8>,
    issuer_index: usize,
    holder_name: Option<String>,
    id_last_digits: Option<String>,
    key: CardKey,
}

/// No personal data: the SHA-256 prefix, the issuer and the algorithm only.
impl std::fmt::Debug for VerifiedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedCertificate")
            .field("sha256", &hex::encode(&self.sha256[..8]))
            .field("issuer_index", &self.issuer_index)
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

impl VerifiedCertificate {
    /// The certificate, DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// SHA-256 of the DER.
    pub fn sha256(&self) -> [u8; 32] {
        self.sha256
    }

    /// Lowercase hex SHA-256 of the DER (as in the ID table and the audit log).
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }

    /// The serial number's raw bytes (the DER INTEGER's content).
    pub fn serial(&self) -> &[u8] {
        &self.serial
    }

    /// Which configured issuing CA signed it (index into [`TrustConfig::issuing_cas`]).
    pub fn issuer_index(&self) -> usize {
        self.issuer_index
    }

    /// The holder's name: the subject CN (personal data: not for logs).
    pub fn holder_name(&self) -> Option<String> {
        self.holder_name.clone()
    }

    /// The subject serialNumber attribute: in MOICA's certificates the last four digits of
    /// the holder's ID number (personal data: not for logs).
    pub fn id_last_digits(&self) -> Option<String> {
        self.id_last_digits.clone()
    }

    /// The one signature algorithm allowed for its key type.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        match self.key {
            CardKey::Es256(_) => SignatureAlgorithm::ES256,
            CardKey::Rs256(_) => SignatureAlgorithm::RS256,
        }
    }

    /// Checks `signature` (as the card returns it) over `signed_data(origin, nonce)`.
    ///
    /// The card is handed `SHA-256(signed_data)` and signs that hash: ES256 is ECDSA P-256 of
    /// `SHA-256(signed_data)` as the 64-byte `r ‖ s` (DER is refused), RS256 is PKCS#1 v1.5
    /// with the SHA-256 DigestInfo of the same hash. `algorithm` must be the certificate's
    /// ([`CertificateProblem::WrongAlgorithm`]); any other failure is
    /// [`CertificateProblem::BadSignature`].
    pub fn verify_signature(
        &self,
        algorithm: SignatureAlgorithm,
        signed_data: &[u8; 64],
        signature: &[u8],
    ) -> Result<(), CertificateProblem> {
        if algorithm != self.algorithm() {
            return Err(CertificateProblem::WrongAlgorithm);
        }
        let hash = Sha256::digest(signed_data);
        match &self.key {
            CardKey::Es256(key) => {
                use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
                if signature.len() != 64 {
                    return Err(CertificateProblem::BadSignature);
                }
                let sig = p256::ecdsa::Signature::from_slice(signature)
                    .map_err(|_| CertificateProblem::BadSignature)?;
                key.verify_prehash(&hash, &sig)
                    .map_err(|_| CertificateProblem::BadSignature)
            }
            CardKey::Rs256(key) => key
                .verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &hash, signature)
                .map_err(|_| CertificateProblem::BadSignature),
        }
    }
}

/// The test PKI shared by this crate's unit tests (generated once per test binary).
#[cfg(test)]
pub(crate) fn test_pki() -> &'static nhi_testpki::TestPki {
    use std::sync::OnceLock;
    static PKI: OnceLock<(tempfile::TempDir, nhi_testpki::TestPki)> = OnceLock::new();
    let (_, pki) = PKI.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let pki = nhi_testpki::TestPki::init(dir.path()).unwrap_or_else(|e| panic!("pki: {e}"));
        (dir, pki)
    });
    pki
}

/// A [`TrustConfig`] of the shared test PKI: its issuing CA and policy.
#[cfg(test)]
pub(crate) fn test_trust() -> TrustConfig {
    let pki = test_pki();
    let pem = std::fs::read(pki.issuing_ca_path()).unwrap_or_else(|e| panic!("CA: {e}"));
    TrustConfig::new(&pem, &[nhi_testpki::POLICY_OID.to_owned()])
        .unwrap_or_else(|e| panic!("trust: {e}"))
}

/// Now, Unix seconds.
#[cfg(test)]
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nhi_protocol::card_proof::Nonce;
    use nhi_protocol::certificate::{signed_data, signed_digest};
    use nhi_testpki::{Card, POLICY_OID};

    type R = Result<(), Box<dyn std::error::Error>>;

    /// `?` for a [`CertificateProblem`] (not an `Error` type).
    fn ok<T>(r: Result<T, CertificateProblem>) -> Result<T, &'static str> {
        r.map_err(CertificateProblem::code)
    }

    const ORIGIN: &str = "https://nhi.example";

    fn card(label: &str) -> Result<&'static Card, String> {
        test_pki()
            .card(label)
            .ok_or_else(|| format!("no card {label}"))
    }

    fn pem(der: &[u8]) -> String {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(chunk));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
        out
    }

    fn policy() -> Vec<String> {
        vec![POLICY_OID.to_owned()]
    }

    #[test]
    fn good_cards_pass_and_their_signatures_verify() -> R {
        let trust = test_trust();
        let now = unix_now();
        let nonce = Nonce([0x5a; 32]);
        let data = signed_data(ORIGIN, &nonce);
        for (label, alg) in [
            ("wang", SignatureAlgorithm::ES256),
            ("huang", SignatureAlgorithm::ES256),
            ("chang-norole", SignatureAlgorithm::ES256),
            ("huang-rsa", SignatureAlgorithm::RS256),
        ] {
            let c = card(label)?;
            let v = ok(trust.verify(c.der(), now))?;
            assert_eq!(v.algorithm(), alg, "{label}");
            assert_eq!(v.der(), c.der());
            assert_eq!(v.sha256_hex(), c.sha256_hex());
            assert_eq!(hex::encode(v.sha256()), c.sha256_hex());
            assert_eq!(v.serial(), c.serial(), "{label}");
            assert_eq!(v.issuer_index(), 0);
            assert_eq!(v.holder_name().as_deref(), Some(c.name.as_str()));
            let last4 = &c.national_id[c.national_id.len() - 4..];
            assert_eq!(v.id_last_digits().as_deref(), Some(last4));
            let sig = c.sign(&data);
            ok(v.verify_signature(alg, &data, &sig))?;
            // the card's PSO is handed signed_digest: the same signature scheme
            let sig2 = c.sign_hash(&signed_digest(ORIGIN, &nonce))?;
            ok(v.verify_signature(alg, &data, &sig2))?;
            // Debug shows no name
            assert!(!format!("{v:?}").contains(&c.name));
        }
        Ok(())
    }

    #[test]
    fn es256_is_ecdsa_of_one_sha256_of_the_signed_data() -> R {
        // Not "SHA-256 twice": a signature made over the digest as the *message* (so
        // ECDSA(SHA-256(SHA-256(data)))) must fail, one over the data must pass.
        let trust = test_trust();
        let c = card("wang")?;
        let v = ok(trust.verify(c.der(), unix_now()))?;
        let data = signed_data(ORIGIN, &Nonce([1; 32]));
        ok(v.verify_signature(SignatureAlgorithm::ES256, &data, &c.sign(&data)))?;
        let double = c.sign(&Sha256::digest(data));
        assert_eq!(
            v.verify_signature(SignatureAlgorithm::ES256, &data, &double),
            Err(CertificateProblem::BadSignature)
        );
        // and the raw 64 bytes as a prehash (no hashing at all) fails too
        let mut raw = [0u8; 32];
        raw.copy_from_slice(&data[..32]);
        let unhashed = c.sign_hash(&raw)?;
        assert_eq!(
            v.verify_signature(SignatureAlgorithm::ES256, &data, &unhashed),
            Err(CertificateProblem::BadSignature)
        );
        Ok(())
    }

    #[test]
    fn bad_signatures_are_refused() -> R {
        let trust = test_trust();
        let now = unix_now();
        let nonce = Nonce([9; 32]);
        let data = signed_data(ORIGIN, &nonce);
        let wang = ok(trust.verify(card("wang")?.der(), now))?;
        let rsa = ok(trust.verify(card("huang-rsa")?.der(), now))?;
        let sig = card("wang")?.sign(&data);
        let rsa_sig = card("huang-rsa")?.sign(&data);
        let es = SignatureAlgorithm::ES256;
        let rs = SignatureAlgorithm::RS256;
        let bad = Err(CertificateProblem::BadSignature);

        // another origin, another nonce
        let evil = signed_data("https://nhi.example.evil", &nonce);
        assert_eq!(wang.verify_signature(es, &evil, &sig), bad);
        assert_eq!(rsa.verify_signature(rs, &evil, &rsa_sig), bad);
        let other_nonce = signed_data(ORIGIN, &Nonce([10; 32]));
        assert_eq!(wang.verify_signature(es, &other_nonce, &sig), bad);
        assert_eq!(rsa.verify_signature(rs, &other_nonce, &rsa_sig), bad);
        // every flipped bit
        for i in 0..sig.len() * 8 {
            let mut s = sig.clone();
            s[i / 8] ^= 1 << (i % 8);
            assert_eq!(wang.verify_signature(es, &data, &s), bad, "bit {i}");
        }
        let mut s = rsa_sig.clone();
        s[100] ^= 0x10;
        assert_eq!(rsa.verify_signature(rs, &data, &s), bad);
        // DER-encoded ECDSA, truncated, padded, empty
        let der = p256::ecdsa::Signature::from_slice(&sig)
            .map_err(|e| e.to_string())?
            .to_der();
        assert_eq!(wang.verify_signature(es, &data, der.as_bytes()), bad);
        assert_eq!(wang.verify_signature(es, &data, &sig[..63]), bad);
        let mut long = sig.clone();
        long.push(0);
        assert_eq!(wang.verify_signature(es, &data, &long), bad);
        assert_eq!(wang.verify_signature(es, &data, &[]), bad);
        assert_eq!(wang.verify_signature(es, &data, &[0u8; 64]), bad);
        assert_eq!(rsa.verify_signature(rs, &data, &rsa_sig[1..]), bad);
        // another card's signature
        let huang_sig = card("huang")?.sign(&data);
        assert_eq!(wang.verify_signature(es, &data, &huang_sig), bad);
        // the algorithm is the certificate's
        let wrong = Err(CertificateProblem::WrongAlgorithm);
        assert_eq!(wang.verify_signature(rs, &data, &rsa_sig), wrong);
        assert_eq!(rsa.verify_signature(es, &data, &sig), wrong);
        // an RS256 signature claimed as ES256 for the EC card
        assert_eq!(wang.verify_signature(es, &data, &rsa_sig), bad);
        Ok(())
    }

    #[test]
    fn each_bad_card_has_its_own_problem() -> R {
        let trust = test_trust();
        let now = unix_now();
        for (label, problem) in [
            ("lin-expired", CertificateProblem::Expired),
            ("wang-future", CertificateProblem::NotYetValid),
            ("wang-sibling", CertificateProblem::UntrustedIssuer),
            ("wang-selfsigned", CertificateProblem::UntrustedIssuer),
            ("wang-nopolicy", CertificateProblem::WrongPolicy),
            ("wang-nods", CertificateProblem::WrongKeyUsage),
        ] {
            let got = trust
                .verify(card(label)?.der(), now)
                .map(|v| v.sha256_hex());
            assert_eq!(got, Err(problem), "{label}");
        }
        // revocation is the CRL's business: the revoked card's certificate itself is fine
        assert!(trust.verify(card("chen-revoked")?.der(), now).is_ok());
        Ok(())
    }

    #[test]
    fn validity_bounds_follow_now() -> R {
        let trust = test_trust();
        let wang = card("wang")?;
        let now = unix_now();
        // wang: now - 1 day .. now + 730 days
        assert!(trust.verify(wang.der(), now).is_ok());
        // (the test CA's validity starts when wang's does: before it, the CA is not valid)
        assert_eq!(
            trust.verify(wang.der(), now - 3 * 86_400).map(|_| ()),
            Err(CertificateProblem::UntrustedIssuer)
        );
        // wang-future: from now + 1 day
        let future = card("wang-future")?;
        assert_eq!(
            trust.verify(future.der(), now + 3600).map(|_| ()),
            Err(CertificateProblem::NotYetValid)
        );
        assert!(trust.verify(future.der(), now + 86_400 + 60).is_ok());
        assert_eq!(
            trust.verify(wang.der(), now + 800 * 86_400).map(|_| ()),
            Err(CertificateProblem::Expired)
        );
        // the bounds themselves are inside (wang and the CA start at the same second)
        let manifest_created = test_pki().manifest().created as i64;
        assert!(trust.verify(wang.der(), manifest_created - 86_400).is_ok());
        assert!(trust
            .verify(wang.der(), manifest_created + 730 * 86_400)
            .is_ok());
        assert_eq!(
            trust
                .verify(wang.der(), manifest_created + 730 * 86_400 + 1)
                .map(|_| ()),
            Err(CertificateProblem::Expired)
        );
        Ok(())
    }

    #[test]
    fn only_the_configured_cas_are_trusted() -> R {
        let pki = test_pki();
        let now = unix_now();
        let wang = card("wang")?;
        // the root alone: it did not sign wang
        let root = TrustConfig::new(pem(pki.root_der()).as_bytes(), &policy())?;
        assert_eq!(
            root.verify(wang.der(), now).map(|_| ()),
            Err(CertificateProblem::UntrustedIssuer)
        );
        // the sibling CA alone: wang-sibling passes, wang does not
        let sibling = TrustConfig::new(pem(pki.sibling_ca_der()).as_bytes(), &policy())?;
        assert!(sibling.verify(card("wang-sibling")?.der(), now).is_ok());
        assert_eq!(
            sibling.verify(wang.der(), now).map(|_| ()),
            Err(CertificateProblem::UntrustedIssuer)
        );
        // both: each certificate names its issuer's index
        let both = format!("{}{}", pem(pki.root_der()), pem(pki.issuing_ca_der()));
        let both = TrustConfig::new(both.as_bytes(), &policy())?;
        assert_eq!(ok(both.verify(wang.der(), now))?.issuer_index(), 1);
        assert_eq!(both.issuing_cas().len(), 2);
        assert_eq!(both.issuing_cas()[1].der, pki.issuing_ca_der());
        assert!(both.issuing_ca(2).is_none());
        // an issuing CA outside its own validity trusts nothing
        let trust = test_trust();
        assert_eq!(
            trust.verify(wang.der(), now + 3651 * 86_400).map(|_| ()),
            Err(CertificateProblem::UntrustedIssuer)
        );
        // a CA certificate presented as a login certificate
        assert_eq!(
            both.verify(pki.issuing_ca_der(), now).map(|_| ()),
            Err(CertificateProblem::UntrustedIssuer)
        );
        Ok(())
    }

    #[test]
    fn a_matching_dn_with_a_broken_signature_is_untrusted() -> R {
        let trust = test_trust();
        let der = card("wang")?.der().to_vec();
        // flip a bit in the last byte (inside the signature value)
        let mut broken = der.clone();
        if let Some(last) = broken.last_mut() {
            *last ^= 0x01;
        }
        let got = trust.verify(&broken, unix_now()).map(|_| ());
        // ECDSA DER signatures: a flipped byte breaks either the DER or the value
        assert_eq!(got, Err(CertificateProblem::UntrustedIssuer));
        // a change in the signed part (the subject's name) breaks the signature too
        let name = card("wang")?.name.as_bytes().to_vec();
        let pos = der
            .windows(name.len())
            .position(|w| w == name.as_slice())
            .ok_or("name not in the DER")?;
        let mut renamed = der.clone();
        // the last byte of the name: a UTF-8 continuation byte stays one
        renamed[pos + name.len() - 1] ^= 0x01;
        assert_eq!(
            trust.verify(&renamed, unix_now()).map(|_| ()),
            Err(CertificateProblem::UntrustedIssuer)
        );
        Ok(())
    }

    #[test]
    fn garbage_is_unreadable() -> R {
        let trust = test_trust();
        let now = unix_now();
        let der = card("wang")?.der().to_vec();
        let unreadable = Err(CertificateProblem::Unreadable);
        let mut trailing = der.clone();
        trailing.push(0);
        let big = {
            let mut b = der.clone();
            b.resize(17 * 1024, 0);
            b
        };
        for (what, bytes) in [
            ("empty", Vec::new()),
            ("garbage", b"not a certificate at all".to_vec()),
            ("truncated", der[..der.len() / 2].to_vec()),
            ("one byte short", der[..der.len() - 1].to_vec()),
            ("trailing byte", trailing),
            ("17 KiB", big),
            ("PEM instead of DER", card("wang")?.pem().into_bytes()),
            ("zeros", vec![0u8; 1000]),
        ] {
            assert_eq!(trust.verify(&bytes, now).map(|_| ()), unreadable, "{what}");
        }
        Ok(())
    }

    #[test]
    fn the_trust_configuration_is_checked() -> R {
        let pki = test_pki();
        let ca = pem(pki.issuing_ca_der());
        assert!(matches!(
            TrustConfig::new(b"", &policy()),
            Err(TrustConfigError::NoCertificate)
        ));
        assert!(matches!(
            TrustConfig::new(b"hello", &policy()),
            Err(TrustConfigError::NoCertificate)
        ));
        let broken = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            TrustConfig::new(broken.as_bytes(), &policy()),
            Err(TrustConfigError::Pem(_))
        ));
        let not_x509 = pem(b"not a certificate");
        assert!(matches!(
            TrustConfig::new(not_x509.as_bytes(), &policy()),
            Err(TrustConfigError::Unparsable { index: 1, .. })
        ));
        // a leaf in the bundle
        let leaf = format!("{ca}{}", card("wang")?.pem());
        match TrustConfig::new(leaf.as_bytes(), &policy()) {
            Err(TrustConfigError::NotACa { index: 2, .. }) => {}
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            TrustConfig::new(ca.as_bytes(), &[]),
            Err(TrustConfigError::NoPolicy)
        ));
        for bad in [
            "", "1", "x.y", "1.2.", ".1.2", "3.1", "1.40", "1.2.-3", "1.02", "1..2",
        ] {
            match TrustConfig::new(ca.as_bytes(), &[POLICY_OID.to_owned(), bad.to_owned()]) {
                Err(TrustConfigError::InvalidOid(s)) => assert_eq!(s, bad),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        let t = TrustConfig::new(
            ca.as_bytes(),
            &["2.16.886.101.0.3.3".to_owned(), format!(" {POLICY_OID} ")],
        )?;
        assert!(format!("{t:?}").contains(POLICY_OID));
        assert!(t.verify(card("wang")?.der(), unix_now()).is_ok());
        Ok(())
    }

    #[test]
    fn another_policy_is_a_wrong_policy() -> R {
        let pki = test_pki();
        let t = TrustConfig::new(
            pem(pki.issuing_ca_der()).as_bytes(),
            &["2.16.886.101.0.3.3".to_owned()],
        )?;
        assert_eq!(
            t.verify(card("wang")?.der(), unix_now()).map(|_| ()),
            Err(CertificateProblem::WrongPolicy)
        );
        Ok(())
    }

    /// An RSA public key for rcgen (ring cannot sign with an RSA key below 2048 bits, but a
    /// certificate only needs the public half).
    struct RsaPublic(Vec<u8>);

    impl rcgen::PublicKeyData for RsaPublic {
        fn der_bytes(&self) -> &[u8] {
            &self.0
        }
        fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
            &rcgen::PKCS_RSA_SHA256
        }
    }

    /// A leaf with `key`, the test policy and digitalSignature, signed by `issuer`.
    fn leaf_with(
        key: &impl rcgen::PublicKeyData,
        issuer: &rcgen::Issuer<'_, impl rcgen::SigningKey>,
    ) -> Result<Vec<u8>, rcgen::Error> {
        use rcgen::{CertificateParams, CustomExtension, DnType, IsCa, KeyUsagePurpose};
        // certificatePolicies with the test OID (1.3.6.1.4.1.32473.12.1)
        let policy = CustomExtension::from_oid_content(
            &[2, 5, 29, 32],
            vec![
                0x30, 0x0e, 0x30, 0x0c, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x81, 0xfd, 0x59,
                0x0c, 0x01,
            ],
        );
        let mut p = CertificateParams::default();
        p.distinguished_name.push(DnType::CommonName, "leaf");
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.custom_extensions.push(policy);
        Ok(p.signed_by(key, issuer)?.der().to_vec())
    }

    /// A CA made here with `key` (its own name), and its PEM.
    fn own_ca<'k>(
        key: &'k rcgen::KeyPair,
        name: &str,
    ) -> Result<(rcgen::Issuer<'static, &'k rcgen::KeyPair>, String), rcgen::Error> {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyUsagePurpose};
        let mut ca = CertificateParams::default();
        ca.distinguished_name.push(DnType::CommonName, name);
        ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let pem = ca.self_signed(key)?.pem();
        Ok((Issuer::new(ca, key), pem))
    }

    #[test]
    fn unusual_keys_and_ca_algorithms() -> R {
        use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_ED25519};
        let now = unix_now();
        let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let (issuer, pem) = own_ca(&ca_key, "P-256 test CA")?;
        let t = TrustConfig::new(pem.as_bytes(), &policy())?;
        // the control: a P-256 leaf of the same CA passes
        let p256 = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        assert_eq!(
            ok(t.verify(&leaf_with(&p256, &issuer)?, now))?.algorithm(),
            SignatureAlgorithm::ES256
        );
        // other curves, Ed25519
        for alg in [&PKCS_ECDSA_P384_SHA384, &PKCS_ED25519] {
            let key = KeyPair::generate_for(alg)?;
            assert_eq!(
                t.verify(&leaf_with(&key, &issuer)?, now).map(|_| ()),
                Err(CertificateProblem::WrongAlgorithm)
            );
        }
        // RSA-1024
        {
            use rsa::pkcs1::EncodeRsaPublicKey as _;
            let small = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 1024)?;
            let der = small.to_public_key().to_pkcs1_der()?.as_bytes().to_vec();
            assert_eq!(
                t.verify(&leaf_with(&RsaPublic(der), &issuer)?, now)
                    .map(|_| ()),
                Err(CertificateProblem::WrongAlgorithm)
            );
        }

        // a CA signing with RSA (sha256WithRSAEncryption): huang-rsa's RSA-2048 key as the
        // CA key, an EC leaf
        let rsa_ca_key = KeyPair::try_from(card("huang-rsa")?.key_pkcs8_der()?.as_slice())?;
        let (rsa_issuer, rsa_pem) = own_ca(&rsa_ca_key, "RSA test CA")?;
        let t = TrustConfig::new(rsa_pem.as_bytes(), &policy())?;
        assert!(t.verify(&leaf_with(&p256, &rsa_issuer)?, now).is_ok());

        // a CA signing with Ed25519: not an algorithm we accept on a login certificate
        let ed_key = KeyPair::generate_for(&PKCS_ED25519)?;
        let (ed_issuer, ed_pem) = own_ca(&ed_key, "Ed25519 test CA")?;
        let t = TrustConfig::new(ed_pem.as_bytes(), &policy())?;
        let leaf = leaf_with(&p256, &ed_issuer)?;
        assert_eq!(
            t.verify(&leaf, now).map(|_| ()),
            Err(CertificateProblem::UntrustedIssuer)
        );
        // (its signature itself is fine: x509-parser verifies it)
        {
            use x509_parser::prelude::FromDer as _;
            let ca_der = pem_der(&ed_pem)?;
            let (_, ca) = X509Certificate::from_der(&ca_der)?;
            let (_, cert) = X509Certificate::from_der(&leaf)?;
            assert!(cert.verify_signature(Some(ca.public_key())).is_ok());
        }
        Ok(())
    }

    fn pem_der(pem: &str) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        use rustls::pki_types::pem::PemObject as _;
        Ok(
            rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
                .map_err(|e| e.to_string())?
                .to_vec(),
        )
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        #[test]
        fn verify_never_panics_on_random_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3000)) {
            let trust = test_trust();
            let _ = trust.verify(&bytes, unix_now());
        }

        #[test]
        fn verify_never_panics_on_mutated_certificates(
            edits in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>()), 1..8),
            cut in proptest::prelude::any::<usize>(),
            rsa in proptest::prelude::any::<bool>(),
        ) {
            let trust = test_trust();
            let label = if rsa { "huang-rsa" } else { "wang" };
            let Some(c) = test_pki().card(label) else {
                return Err(proptest::test_runner::TestCaseError::fail("no card"));
            };
            let mut der = c.der().to_vec();
            for (pos, byte) in &edits {
                let i = pos % der.len();
                der[i] = *byte;
            }
            if cut % 4 == 0 {
                der.truncate(cut % (der.len() + 1));
            }
            if let Ok(v) = trust.verify(&der, unix_now()) {
                // whatever passed still refuses a signature over other data
                let data = signed_data(ORIGIN, &Nonce([3; 32]));
                let _ = v.verify_signature(v.algorithm(), &data, &[0u8; 64]);
            }
        }
    }
}
