//! A test PKI for the citizen digital certificate (自然人憑證) login, generated at run time
//! (nothing secret is committed): a root CA (plays GRCA, 政府憑證總管理中心), the issuing CA the
//! server trusts for logins (plays MOICA, 內政部憑證管理中心), a sibling CA under the same root
//! (plays e.g. the GCA, whose certificates must not log anyone in), the test cards'
//! certificates and private keys, a CRL of the issuing CA and the ID-verification table.
//!
//! Layout of `<DIR>` (paths in `pki.json` are relative to it):
//!
//! ```text
//! pki.json            manifest
//! root.pem            root CA certificate
//! issuing-ca.pem      issuing CA certificate (signed by root)
//! issuing-ca.key      issuing CA private key (PKCS#8 PEM, 0600; to re-sign the CRL)
//! sibling-ca.pem      sibling CA certificate (signed by root)
//! issuing-ca.crl      CRL (DER) of the issuing CA, lists the revoked card
//! id-table.json       the ID-verification table
//! cards/<label>.pem   each card's certificate
//! cards/<label>.key   each card's private key (PKCS#8 PEM, 0600)
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use rcgen::string::PrintableString;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CustomExtension,
    DistinguishedName, DnType, DnValue, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod,
    KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams, SerialNumber,
    PKCS_ECDSA_P256_SHA256,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// The test citizen-certificate policy OID: under IANA's enterprise number 32473, reserved for
/// documentation and examples (RFC 5612), so no production certificate carries it.
pub const POLICY_OID: &str = "1.3.6.1.4.1.32473.12.1";
const POLICY_OID_ARCS: &[u64] = &[1, 3, 6, 1, 4, 1, 32473, 12, 1];

/// The PIN of every test card (tests only).
pub const PIN: &str = "123456";

/// Manifest format version.
const VERSION: u32 = 1;

/// A generated PKI is reused for this long; then `init` regenerates it (the "not yet valid"
/// card's validity starts one day after generation, and the CRL is good for seven days).
const REUSE_FOR: Duration = Duration::from_secs(20 * 3600);

const DAY: time::Duration = time::Duration::days(1);

/// Errors of the test PKI.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("key: {0}")]
    Key(String),
    #[error("signature: {0}")]
    Sign(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What the card's certificate is made to test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardStatus {
    Good,
    Revoked,
    Expired,
    Sibling,
    NoPolicy,
    NoDigitalSignature,
    SelfSigned,
    NotYetValid,
}

/// The card's key type and signature algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Algorithm {
    /// P-256, ECDSA with SHA-256; the signature is the 64-byte `r‖s`.
    ES256,
    /// RSA-2048, PKCS#1 v1.5 with SHA-256.
    RS256,
}

/// The test cards: label, ID, name, status, algorithm.
pub const CARDS: &[(&str, &str, &str, CardStatus, Algorithm)] = &[
    (
        "wang",
        "A123456789",
        "王小明",
        CardStatus::Good,
        Algorithm::ES256,
    ),
    (
        "huang",
        "S224680133",
        "黃淑芬",
        CardStatus::Good,
        Algorithm::ES256,
    ),
    (
        "chen-revoked",
        "B223456719",
        "陳美麗",
        CardStatus::Revoked,
        Algorithm::ES256,
    ),
    (
        "lin-expired",
        "F135792464",
        "林志豪",
        CardStatus::Expired,
        Algorithm::ES256,
    ),
    (
        "chang-norole",
        "E102030403",
        "張家豪",
        CardStatus::Good,
        Algorithm::ES256,
    ),
    (
        "wang-sibling",
        "A123456789",
        "王小明",
        CardStatus::Sibling,
        Algorithm::ES256,
    ),
    (
        "wang-nopolicy",
        "A123456789",
        "王小明",
        CardStatus::NoPolicy,
        Algorithm::ES256,
    ),
    (
        "wang-nods",
        "A123456789",
        "王小明",
        CardStatus::NoDigitalSignature,
        Algorithm::ES256,
    ),
    (
        "wang-selfsigned",
        "A123456789",
        "王小明",
        CardStatus::SelfSigned,
        Algorithm::ES256,
    ),
    (
        "wang-future",
        "A123456789",
        "王小明",
        CardStatus::NotYetValid,
        Algorithm::ES256,
    ),
    (
        "huang-rsa",
        "S224680133",
        "黃淑芬",
        CardStatus::Good,
        Algorithm::RS256,
    ),
];

/// `pki.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    /// Generation time, seconds since the Unix epoch.
    pub created: u64,
    pub policy_oid: String,
    pub root: String,
    pub issuing_ca: String,
    pub issuing_ca_key: String,
    pub sibling_ca: String,
    pub crl: String,
    pub id_table: String,
    pub cards: Vec<ManifestCard>,
}

/// One card in `pki.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestCard {
    pub label: String,
    pub national_id: String,
    pub name: String,
    pub status: CardStatus,
    pub algorithm: Algorithm,
    pub certificate: String,
    pub key: String,
    pub chain: Vec<String>,
    pub pin: String,
    /// The certificate's serial number, lowercase hex.
    pub serial: String,
}

/// `id-table.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTable {
    pub certificates: Vec<IdTableEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTableEntry {
    /// Lowercase hex SHA-256 of the leaf certificate's DER.
    pub certificate_sha256: String,
    pub national_id: String,
}

enum CardKey {
    Ec(p256::ecdsa::SigningKey),
    Rsa(Box<rsa::RsaPrivateKey>),
}

/// A test card: its holder, certificate, chain and private key.
pub struct Card {
    pub label: String,
    pub national_id: String,
    pub name: String,
    pub status: CardStatus,
    pub algorithm: Algorithm,
    pub pin: String,
    /// Absolute paths of the certificate (PEM) and key (PKCS#8 PEM).
    pub certificate_path: PathBuf,
    pub key_path: PathBuf,
    der: Vec<u8>,
    chain: Vec<Vec<u8>>,
    serial: Vec<u8>,
    key: CardKey,
}

impl std::fmt::Debug for Card {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Card")
            .field("label", &self.label)
            .field("national_id", &self.national_id)
            .field("status", &self.status)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl Card {
    /// The certificate, DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The certificate, PEM.
    pub fn pem(&self) -> String {
        pem_encode("CERTIFICATE", &self.der)
    }

    /// Lowercase hex SHA-256 of the certificate's DER (as in the ID table).
    pub fn sha256_hex(&self) -> String {
        hex::encode(Sha256::digest(&self.der))
    }

    /// The certificate's serial number (big-endian bytes).
    pub fn serial(&self) -> &[u8] {
        &self.serial
    }

    /// The issuing chain, DER, issuer first (`[issuing or sibling CA, root]`; empty for the
    /// self-signed card).
    pub fn chain_der(&self) -> &[Vec<u8>] {
        &self.chain
    }

    /// The private key, PKCS#8 DER (what a virtual card holds).
    pub fn key_pkcs8_der(&self) -> Result<Vec<u8>> {
        use rsa::pkcs8::EncodePrivateKey as _;
        let doc = match &self.key {
            CardKey::Ec(k) => k.to_pkcs8_der(),
            CardKey::Rsa(k) => k.to_pkcs8_der(),
        }
        .map_err(|e| Error::Key(e.to_string()))?;
        Ok(doc.as_bytes().to_vec())
    }

    /// Signs `data`: ES256 → the 64-byte `r‖s` over SHA-256(data); RS256 → PKCS#1 v1.5 with
    /// SHA-256. Loading checked the key signs, so this does not fail in practice; see
    /// [`Card::sign_hash`] for the fallible form.
    pub fn sign(&self, data: &[u8]) -> Vec<u8> {
        let hash: [u8; 32] = Sha256::digest(data).into();
        match self.sign_hash(&hash) {
            Ok(sig) => sig,
            // unreachable with a key that passed `check_key` at load
            Err(e) => panic!("card {} cannot sign: {e}", self.label),
        }
    }

    /// Signs a SHA-256 hash (what the card's PSO COMPUTE DIGITAL SIGNATURE gets): ES256 →
    /// 64-byte `r‖s`; RS256 → PKCS#1 v1.5 (DigestInfo for SHA-256 + hash).
    pub fn sign_hash(&self, hash: &[u8; 32]) -> Result<Vec<u8>> {
        match &self.key {
            CardKey::Ec(k) => {
                use p256::ecdsa::signature::hazmat::PrehashSigner as _;
                let sig: p256::ecdsa::Signature = k
                    .sign_prehash(hash)
                    .map_err(|e| Error::Sign(e.to_string()))?;
                Ok(sig.to_bytes().to_vec())
            }
            CardKey::Rsa(k) => k
                .sign(rsa::Pkcs1v15Sign::new::<Sha256>(), hash)
                .map_err(|e| Error::Sign(e.to_string())),
        }
    }

    /// The public key as the certificate carries it (EC point / RSA modulus).
    fn public_key_bytes(&self) -> Vec<u8> {
        match &self.key {
            CardKey::Ec(k) => k
                .verifying_key()
                .to_encoded_point(false)
                .as_bytes()
                .to_vec(),
            CardKey::Rsa(k) => {
                use rsa::traits::PublicKeyParts as _;
                k.n().to_bytes_be()
            }
        }
    }

    /// Verifies a signature of [`Card::sign`] over `data` with the card's public key.
    pub fn verify(&self, data: &[u8], signature: &[u8]) -> bool {
        let hash = Sha256::digest(data);
        match &self.key {
            CardKey::Ec(k) => {
                use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
                let Ok(sig) = p256::ecdsa::Signature::from_slice(signature) else {
                    return false;
                };
                k.verifying_key().verify_prehash(&hash, &sig).is_ok()
            }
            CardKey::Rsa(k) => k
                .to_public_key()
                .verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &hash, signature)
                .is_ok(),
        }
    }
}

/// What [`TestPki::init_with`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A valid PKI was there and is used as it is.
    Reused,
    /// There was none; generated.
    Created,
    /// There was one that could not be used (the reason); generated anew.
    Regenerated(String),
    /// `--force`: generated anew.
    Forced,
}

/// A generated test PKI, loaded.
pub struct TestPki {
    dir: PathBuf,
    manifest: Manifest,
    root_der: Vec<u8>,
    issuing_der: Vec<u8>,
    sibling_der: Vec<u8>,
    issuing_key: KeyPair,
    cards: Vec<Card>,
}

impl std::fmt::Debug for TestPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPki")
            .field("dir", &self.dir)
            .field("cards", &self.cards)
            .finish_non_exhaustive()
    }
}

impl TestPki {
    /// Loads the PKI in `dir` when it is there and valid, else generates it.
    pub fn init(dir: impl AsRef<Path>) -> Result<TestPki> {
        Ok(Self::init_with(dir, false)?.0)
    }

    /// [`TestPki::init`], or with `force` always generating anew; says what it did.
    pub fn init_with(dir: impl AsRef<Path>, force: bool) -> Result<(TestPki, Outcome)> {
        let dir = dir.as_ref();
        if force {
            return Ok((Self::generate(dir)?, Outcome::Forced));
        }
        if !dir.join("pki.json").exists() {
            return Ok((Self::generate(dir)?, Outcome::Created));
        }
        match Self::load(dir) {
            Ok(pki) => Ok((pki, Outcome::Reused)),
            Err(e) => Ok((Self::generate(dir)?, Outcome::Regenerated(e.to_string()))),
        }
    }

    /// Loads the PKI in `dir`; an error says why it cannot be used.
    pub fn load(dir: impl AsRef<Path>) -> Result<TestPki> {
        let dir = absolute(dir.as_ref())?;
        let manifest_path = dir.join("pki.json");
        let text = read(&manifest_path)?;
        let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| Error::Invalid {
            path: manifest_path.clone(),
            reason: format!("not a test PKI manifest ({e})"),
        })?;
        let invalid = |reason: String| Error::Invalid {
            path: manifest_path.clone(),
            reason,
        };
        if manifest.version != VERSION {
            return Err(invalid(format!(
                "version {} (want {VERSION})",
                manifest.version
            )));
        }
        if manifest.policy_oid != POLICY_OID {
            return Err(invalid(format!("policy OID {}", manifest.policy_oid)));
        }
        let age = unix_now().checked_sub(manifest.created);
        match age {
            Some(age) if Duration::from_secs(age) < REUSE_FOR => {}
            _ => return Err(invalid("generated too long ago (or in the future)".into())),
        }
        let want: Vec<&str> = CARDS.iter().map(|c| c.0).collect();
        let have: Vec<&str> = manifest.cards.iter().map(|c| c.label.as_str()).collect();
        if want != have {
            return Err(invalid(format!("cards {have:?} (want {want:?})")));
        }
        let file = |rel: &str| -> Result<PathBuf> {
            let rel_path = Path::new(rel);
            if rel_path.is_absolute()
                || rel_path
                    .components()
                    .any(|c| !matches!(c, std::path::Component::Normal(_)))
            {
                return Err(invalid(format!(
                    "path {rel:?} is not inside the PKI directory"
                )));
            }
            Ok(dir.join(rel_path))
        };
        let cert = |rel: &str| -> Result<Vec<u8>> {
            let path = file(rel)?;
            pem_decode(&read(&path)?, "CERTIFICATE").ok_or_else(|| Error::Invalid {
                path,
                reason: "not a PEM certificate".into(),
            })
        };
        let root_der = cert(&manifest.root)?;
        let issuing_der = cert(&manifest.issuing_ca)?;
        let sibling_der = cert(&manifest.sibling_ca)?;
        let key_path = file(&manifest.issuing_ca_key)?;
        let key_pem = String::from_utf8(read(&key_path)?).map_err(|_| Error::Invalid {
            path: key_path.clone(),
            reason: "not text".into(),
        })?;
        let issuing_key = KeyPair::from_pem(&key_pem).map_err(|e| Error::Invalid {
            path: key_path.clone(),
            reason: format!("not a key ({e})"),
        })?;
        for rel in [&manifest.crl, &manifest.id_table] {
            let path = file(rel)?;
            if !path.is_file() {
                return Err(Error::Invalid {
                    path,
                    reason: "missing".into(),
                });
            }
        }
        let mut cards = Vec::with_capacity(manifest.cards.len());
        for (mc, spec) in manifest.cards.iter().zip(CARDS) {
            if (mc.national_id.as_str(), mc.status, mc.algorithm) != (spec.1, spec.3, spec.4) {
                return Err(invalid(format!("card {} differs from the table", mc.label)));
            }
            let certificate_path = file(&mc.certificate)?;
            let der = cert(&mc.certificate)?;
            let key_path = file(&mc.key)?;
            let key_der =
                pem_decode(&read(&key_path)?, "PRIVATE KEY").ok_or_else(|| Error::Invalid {
                    path: key_path.clone(),
                    reason: "not a PKCS#8 PEM key".into(),
                })?;
            let key = parse_card_key(mc.algorithm, &key_der).map_err(|reason| Error::Invalid {
                path: key_path.clone(),
                reason,
            })?;
            let chain = mc
                .chain
                .iter()
                .map(|rel| cert(rel))
                .collect::<Result<Vec<_>>>()?;
            let serial = hex::decode(&mc.serial)
                .map_err(|_| invalid(format!("card {}: serial is not hex", mc.label)))?;
            let card = Card {
                label: mc.label.clone(),
                national_id: mc.national_id.clone(),
                name: mc.name.clone(),
                status: mc.status,
                algorithm: mc.algorithm,
                pin: mc.pin.clone(),
                certificate_path,
                key_path: key_path.clone(),
                der,
                chain,
                serial,
                key,
            };
            if !contains(&card.der, &card.public_key_bytes()) {
                return Err(Error::Invalid {
                    path: key_path,
                    reason: "the key is not the certificate's".into(),
                });
            }
            let probe = b"nhi-testpki key check";
            let ok = card
                .sign_hash(&Sha256::digest(probe).into())
                .map(|sig| card.verify(probe, &sig))
                .unwrap_or(false);
            if !ok {
                return Err(Error::Invalid {
                    path: key_path,
                    reason: "the key does not sign".into(),
                });
            }
            cards.push(card);
        }
        // The ID table names every card's certificate with its holder's ID.
        let table_path = file(&manifest.id_table)?;
        let table: IdTable =
            serde_json::from_slice(&read(&table_path)?).map_err(|e| Error::Invalid {
                path: table_path.clone(),
                reason: format!("not an ID table ({e})"),
            })?;
        for card in &cards {
            let sha = card.sha256_hex();
            if !table
                .certificates
                .iter()
                .any(|e| e.certificate_sha256 == sha && e.national_id == card.national_id)
            {
                return Err(Error::Invalid {
                    path: table_path,
                    reason: format!("card {} is not in the table", card.label),
                });
            }
        }
        Ok(TestPki {
            dir,
            manifest,
            root_der,
            issuing_der,
            sibling_der,
            issuing_key,
            cards,
        })
    }

    /// Generates a fresh PKI into `dir` (replacing what is there).
    pub fn generate(dir: impl AsRef<Path>) -> Result<TestPki> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir.join("cards")).map_err(|source| Error::Io {
            path: dir.join("cards"),
            source,
        })?;
        let dir = absolute(dir)?;
        // The manifest goes last: until it is written, the directory is not a valid PKI.
        let manifest_path = dir.join("pki.json");
        match std::fs::remove_file(&manifest_path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(Error::Io {
                    path: manifest_path,
                    source,
                })
            }
        }

        // The RSA key takes longest: generate it beside the rest.
        let rsa_thread = std::thread::spawn(|| {
            rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).map_err(|e| e.to_string())
        });

        let now = now_seconds();
        let created = now.unix_timestamp().max(0) as u64;

        let root_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let root_params = ca_params("NHI Test Root CA (plays GRCA)", None, now);
        let root_cert = root_params.self_signed(&root_key)?;
        let root = Issuer::new(root_params, &root_key);

        let issuing_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let issuing_cert = ca_params("NHI Test Issuing CA (plays MOICA)", Some(0), now)
            .signed_by(&issuing_key, &root)?;
        let sibling_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let sibling_params = ca_params("NHI Test Sibling CA (plays GCA)", Some(0), now);
        let sibling_cert = sibling_params.signed_by(&sibling_key, &root)?;
        let sibling = Issuer::new(sibling_params, &sibling_key);
        let issuing_params = ca_params("NHI Test Issuing CA (plays MOICA)", Some(0), now);
        let issuing = Issuer::new(issuing_params, &issuing_key);

        write(&dir.join("root.pem"), root_cert.pem().as_bytes(), false)?;
        write(
            &dir.join("issuing-ca.pem"),
            issuing_cert.pem().as_bytes(),
            false,
        )?;
        write(
            &dir.join("issuing-ca.key"),
            issuing_key.serialize_pem().as_bytes(),
            true,
        )?;
        write(
            &dir.join("sibling-ca.pem"),
            sibling_cert.pem().as_bytes(),
            false,
        )?;

        let mut rsa_thread = Some(rsa_thread);
        let mut manifest_cards = Vec::new();
        let mut table = Vec::new();
        for &(label, id, name, status, algorithm) in CARDS {
            let (key_der, key) = match algorithm {
                Algorithm::ES256 => {
                    let k = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
                    (k.serialize_der(), k)
                }
                Algorithm::RS256 => {
                    use rsa::pkcs8::EncodePrivateKey as _;
                    let joined = match rsa_thread.take() {
                        Some(t) => t
                            .join()
                            .map_err(|_| Error::Key("RSA key generation panicked".into()))?,
                        None => Err("only one RSA card is supported".into()),
                    };
                    let rsa_key = joined.map_err(Error::Key)?;
                    let der = rsa_key
                        .to_pkcs8_der()
                        .map_err(|e| Error::Key(e.to_string()))?
                        .as_bytes()
                        .to_vec();
                    let k = KeyPair::try_from(der.as_slice())?;
                    (der, k)
                }
            };
            let serial = random_serial();
            let params = leaf_params(name, id, status, &serial, now);
            let (cert, chain) = match status {
                CardStatus::Sibling => (
                    params.signed_by(&key, &sibling)?,
                    vec!["sibling-ca.pem", "root.pem"],
                ),
                CardStatus::SelfSigned => (params.self_signed(&key)?, vec![]),
                _ => (
                    params.signed_by(&key, &issuing)?,
                    vec!["issuing-ca.pem", "root.pem"],
                ),
            };
            let cert_rel = format!("cards/{label}.pem");
            let key_rel = format!("cards/{label}.key");
            write(&dir.join(&cert_rel), cert.pem().as_bytes(), false)?;
            write(
                &dir.join(&key_rel),
                pem_encode("PRIVATE KEY", &key_der).as_bytes(),
                true,
            )?;
            table.push(IdTableEntry {
                certificate_sha256: hex::encode(Sha256::digest(cert.der())),
                national_id: id.to_owned(),
            });
            manifest_cards.push(ManifestCard {
                label: label.to_owned(),
                national_id: id.to_owned(),
                name: name.to_owned(),
                status,
                algorithm,
                certificate: cert_rel,
                key: key_rel,
                chain: chain.into_iter().map(str::to_owned).collect(),
                pin: PIN.to_owned(),
                serial: hex::encode(serial),
            });
        }
        if let Some(t) = rsa_thread {
            let _ = t.join();
        }

        let table = IdTable {
            certificates: table,
        };
        let table_json =
            serde_json::to_vec_pretty(&table).map_err(|e| Error::Key(format!("id table: {e}")))?;
        write(&dir.join("id-table.json"), &table_json, false)?;

        let manifest = Manifest {
            version: VERSION,
            created,
            policy_oid: POLICY_OID.to_owned(),
            root: "root.pem".into(),
            issuing_ca: "issuing-ca.pem".into(),
            issuing_ca_key: "issuing-ca.key".into(),
            sibling_ca: "sibling-ca.pem".into(),
            crl: "issuing-ca.crl".into(),
            id_table: "id-table.json".into(),
            cards: manifest_cards,
        };
        // The CRL is written by the loaded PKI (the same code as `write_crl`).
        let crl_path = dir.join(&manifest.crl);
        write_crl_file(
            &crl_path,
            &issuing_key,
            &manifest,
            now,
            now + time::Duration::days(7),
        )?;
        let json = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| Error::Key(format!("manifest: {e}")))?;
        write(&manifest_path, &json, false)?;
        Self::load(&dir)
    }

    /// The PKI directory (absolute).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn policy_oid(&self) -> &str {
        &self.manifest.policy_oid
    }

    pub fn cards(&self) -> &[Card] {
        &self.cards
    }

    pub fn card(&self, label: &str) -> Option<&Card> {
        self.cards.iter().find(|c| c.label == label)
    }

    pub fn root_der(&self) -> &[u8] {
        &self.root_der
    }

    pub fn issuing_ca_der(&self) -> &[u8] {
        &self.issuing_der
    }

    pub fn sibling_ca_der(&self) -> &[u8] {
        &self.sibling_der
    }

    pub fn root_path(&self) -> PathBuf {
        self.dir.join(&self.manifest.root)
    }

    pub fn issuing_ca_path(&self) -> PathBuf {
        self.dir.join(&self.manifest.issuing_ca)
    }

    pub fn sibling_ca_path(&self) -> PathBuf {
        self.dir.join(&self.manifest.sibling_ca)
    }

    pub fn crl_path(&self) -> PathBuf {
        self.dir.join(&self.manifest.crl)
    }

    pub fn id_table_path(&self) -> PathBuf {
        self.dir.join(&self.manifest.id_table)
    }

    /// Re-signs the CRL (`issuing-ca.crl`) with these times, e.g. a `next_update` in the past
    /// to make it stale in tests. It lists the revoked card.
    pub fn write_crl(&self, this_update: SystemTime, next_update: SystemTime) -> Result<()> {
        write_crl_file(
            &self.crl_path(),
            &self.issuing_key,
            &self.manifest,
            OffsetDateTime::from(this_update),
            OffsetDateTime::from(next_update),
        )
    }

    /// The server's environment for this PKI (`KEY`, value), the five certificate-login keys.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "NHI_CERTIFICATE_ISSUING_CAS",
                self.issuing_ca_path().display().to_string(),
            ),
            ("NHI_CERTIFICATE_POLICY_OIDS", self.policy_oid().to_owned()),
            ("NHI_CERTIFICATE_CRL", self.crl_path().display().to_string()),
            ("NHI_CERTIFICATE_ID_VERIFICATION", "table".to_owned()),
            (
                "NHI_CERTIFICATE_ID_TABLE",
                self.id_table_path().display().to_string(),
            ),
        ]
    }
}

fn write_crl_file(
    path: &Path,
    issuing_key: &KeyPair,
    manifest: &Manifest,
    this_update: OffsetDateTime,
    next_update: OffsetDateTime,
) -> Result<()> {
    let created = OffsetDateTime::from_unix_timestamp(manifest.created as i64)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let revocation_time = created.min(this_update);
    let mut revoked_certs = Vec::new();
    for card in manifest
        .cards
        .iter()
        .filter(|c| c.status == CardStatus::Revoked)
    {
        let serial = hex::decode(&card.serial).map_err(|_| Error::Invalid {
            path: PathBuf::from("pki.json"),
            reason: format!("card {}: serial is not hex", card.label),
        })?;
        revoked_certs.push(RevokedCertParams {
            serial_number: SerialNumber::from_slice(&serial),
            revocation_time,
            reason_code: Some(RevocationReason::KeyCompromise),
            invalidity_date: None,
        });
    }
    let crl_number = this_update.unix_timestamp().max(1) as u64;
    let params = CertificateRevocationListParams {
        this_update,
        next_update,
        crl_number: SerialNumber::from_slice(&crl_number.to_be_bytes()),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: KeyIdMethod::Sha256,
    };
    let issuer = Issuer::new(
        ca_params(
            "NHI Test Issuing CA (plays MOICA)",
            Some(0),
            OffsetDateTime::UNIX_EPOCH,
        ),
        issuing_key,
    );
    let crl = params.signed_by(&issuer)?;
    write(path, crl.der(), false)
}

fn dn(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    if let Ok(tw) = PrintableString::try_from("TW") {
        dn.push(DnType::CountryName, DnValue::PrintableString(tw));
    }
    dn.push(DnType::OrganizationName, "NHI registration test PKI");
    dn.push(DnType::CommonName, common_name);
    dn
}

fn ca_params(name: &str, path_len: Option<u8>, now: OffsetDateTime) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(name);
    p.is_ca = match path_len {
        None => IsCa::Ca(BasicConstraints::Unconstrained),
        Some(n) => IsCa::Ca(BasicConstraints::Constrained(n)),
    };
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.not_before = now - DAY;
    p.not_after = now + DAY * 3650;
    p.serial_number = Some(SerialNumber::from_slice(&random_serial()));
    p.use_authority_key_identifier_extension = path_len.is_some();
    p
}

fn leaf_params(
    name: &str,
    national_id: &str,
    status: CardStatus,
    serial: &[u8],
    now: OffsetDateTime,
) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    if let Ok(tw) = PrintableString::try_from("TW") {
        dn.push(DnType::CountryName, DnValue::PrintableString(tw));
    }
    dn.push(DnType::CommonName, name);
    // MOICA's certificates carry only the last four digits of the ID.
    let last4 = &national_id[national_id.len().saturating_sub(4)..];
    if let Ok(s) = PrintableString::try_from(last4) {
        dn.push(
            DnType::CustomDnType(vec![2, 5, 4, 5]),
            DnValue::PrintableString(s),
        );
    }
    p.distinguished_name = dn;
    p.is_ca = IsCa::ExplicitNoCa;
    p.serial_number = Some(SerialNumber::from_slice(serial));
    p.key_usages = if status == CardStatus::NoDigitalSignature {
        vec![KeyUsagePurpose::KeyEncipherment]
    } else {
        vec![KeyUsagePurpose::DigitalSignature]
    };
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    if status != CardStatus::NoPolicy {
        p.custom_extensions
            .push(certificate_policies(POLICY_OID_ARCS));
    }
    p.use_authority_key_identifier_extension = status != CardStatus::SelfSigned;
    (p.not_before, p.not_after) = match status {
        CardStatus::Expired => (now - DAY * 365, now - DAY),
        CardStatus::NotYetValid => (now + DAY, now + DAY * 730),
        _ => (now - DAY, now + DAY * 730),
    };
    p
}

/// certificatePolicies (2.5.29.32): `SEQUENCE { SEQUENCE { policyIdentifier } }`.
fn certificate_policies(arcs: &[u64]) -> CustomExtension {
    let oid = der_tlv(0x06, &oid_content(arcs));
    let info = der_tlv(0x30, &oid);
    CustomExtension::from_oid_content(&[2, 5, 29, 32], der_tlv(0x30, &info))
}

fn oid_content(arcs: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut push = |mut v: u64| {
        let mut bytes = vec![(v & 0x7f) as u8];
        v >>= 7;
        while v > 0 {
            bytes.push(0x80 | (v & 0x7f) as u8);
            v >>= 7;
        }
        out.extend(bytes.iter().rev());
    };
    if let [a, b, rest @ ..] = arcs {
        push(a * 40 + b);
        for &v in rest {
            push(v);
        }
    }
    out
}

fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// 16 random bytes, positive and with a non-zero first byte (so DER keeps all 16).
fn random_serial() -> Vec<u8> {
    use rand::RngCore as _;
    let mut s = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut s);
    s[0] = (s[0] & 0x7f) | 0x10;
    s.to_vec()
}

fn parse_card_key(algorithm: Algorithm, der: &[u8]) -> Result<CardKey, String> {
    use rsa::pkcs8::DecodePrivateKey as _;
    match algorithm {
        Algorithm::ES256 => p256::ecdsa::SigningKey::from_pkcs8_der(der)
            .map(CardKey::Ec)
            .map_err(|e| format!("not a P-256 PKCS#8 key ({e})")),
        Algorithm::RS256 => {
            let k = rsa::RsaPrivateKey::from_pkcs8_der(der)
                .map_err(|e| format!("not an RSA PKCS#8 key ({e})"))?;
            Ok(CardKey::Rsa(Box::new(k)))
        }
    }
}

fn now_seconds() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn absolute(dir: &Path) -> Result<PathBuf> {
    std::path::absolute(dir).map_err(|source| Error::Io {
        path: dir.to_owned(),
        source,
    })
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

/// Writes through a temporary file and a rename, so no reader sees half a file; `secret`
/// files get mode 0600 from their creation.
fn write(path: &Path, bytes: &[u8], secret: bool) -> Result<()> {
    use std::io::Write as _;
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut f = options.open(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The first PEM block with this label, decoded.
fn pem_decode(text: &[u8], label: &str) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(text).ok()?;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    let b64: String = text[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}
