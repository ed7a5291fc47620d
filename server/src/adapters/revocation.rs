//! Revocation of citizen digital certificates (issue 12): is a login certificate revoked?
//!
//! The embedded implementation, [`CrlChecker`], reads the issuing CA's CRL from a file or an
//! `https://` URL (production: MOICA's CRL, mirrored or fetched from its distribution point).
//! It **fails closed**: whenever it cannot say "not revoked" with a CRL that is signed by the
//! certificate's issuing CA and current, the answer is [`RevocationStatus::Unknown`], which the
//! login turns into `revocation_unavailable` — never into a login.
//!
//! # Rules
//!
//! * The CRL (DER, or PEM `-----BEGIN X509 CRL-----`) must parse with nothing after it, name
//!   one of the configured issuing CAs ([`TrustConfig::issuing_cas`]) as its issuer (DN byte
//!   for byte), verify with that CA's key, and the CA may sign CRLs (keyUsage cRLSign when it
//!   has keyUsage). It must be a complete CRL: a delta CRL, an indirect or partitioned one
//!   (issuingDistributionPoint with onlyContains… / onlySomeReasons / indirectCRL) or one with
//!   an unknown critical extension (CRL or entry) is refused.
//! * It covers a certificate only when its issuer is the certificate's issuer; otherwise the
//!   status is `Unknown` (one `CrlChecker` per issuing CA when several are configured).
//! * It is current when `thisUpdate <= now <= nextUpdate` (`nextUpdate` must be present).
//! * The certificate's serial listed (any reason, certificateHold too) → `Revoked`, else
//!   `Good`.
//!
//! # Caching
//!
//! The parsed CRL is kept in memory. The source is consulted again after `max_age`
//! ([`DEFAULT_FILE_MAX_AGE`] for a file — a file that did not change is not parsed again —
//! and [`DEFAULT_URL_MAX_AGE`] for a URL; [`CrlChecker::with_max_age`] changes it,
//! [`CrlChecker::refresh`] reloads now). When the cached CRL is no longer current, or there is
//! none, the source is tried again at most every [`RETRY_AFTER_FAILURE`] (or `max_age` when
//! shorter). A failed read with a still-current cached CRL keeps using that CRL; without one
//! the status is `Unknown`. A URL answer older (`thisUpdate`) than the cached CRL is ignored
//! (a stale cache or mirror must not bring back a revoked certificate).
//!
//! Plain `http://` is refused when the checker is built, although CRLs are signed: the
//! fetch would disclose to the network when staff log in, and the project's rule is TLS for
//! every connection that leaves the machine. CRL distribution points (MOICA's among them)
//! are conventionally plain http: mirror the CRL to a file (a timer running `curl`; the
//! file is re-read within [`DEFAULT_FILE_MAX_AGE`]) or to an https location.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::oid_registry::{
    OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER, OID_X509_EXT_CRL_NUMBER,
    OID_X509_EXT_DELTA_CRL_INDICATOR, OID_X509_EXT_INVALIDITY_DATE,
    OID_X509_EXT_ISSUER_DISTRIBUTION_POINT, OID_X509_EXT_REASON_CODE,
};
use x509_parser::prelude::FromDer as _;
use x509_parser::revocation_list::CertificateRevocationList;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::adapters::tls::{error_chain, TrustRoots, TrustSettings};
use crate::services::certificate::{TrustConfig, VerifiedCertificate};

/// The largest CRL read from a file or downloaded.
pub const MAX_CRL_BYTES: usize = 16 * 1024 * 1024;

/// How long a CRL download may take, connection included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a CRL file is looked at again (re-parsed only when its content changed).
pub const DEFAULT_FILE_MAX_AGE: Duration = Duration::from_secs(60);

/// How often a CRL URL is fetched again while its CRL is current.
pub const DEFAULT_URL_MAX_AGE: Duration = Duration::from_secs(3600);

/// How often the source is tried again while there is no current CRL.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);

/// What the revocation adapter says about a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevocationStatus {
    /// A current CRL of its issuer does not list it.
    Good,
    /// Its issuer revoked it.
    Revoked,
    /// No current, trusted CRL covers it: the login must be refused (fail closed).
    Unknown,
}

/// The revocation adapter.
#[async_trait::async_trait]
pub trait RevocationChecker: Send + Sync {
    /// The status of `cert` now.
    async fn status(&self, cert: &VerifiedCertificate) -> RevocationStatus;
}

/// Why a CRL cannot be used, or the checker cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum RevocationError {
    /// `http://` or another scheme than `https://` (refused when the checker is built).
    #[error("the CRL URL must be https:// (got {0}://)")]
    InsecureUrl(String),
    /// Not a URL with a host.
    #[error("the CRL URL is not valid: {0}")]
    BadUrl(String),
    /// The HTTP client cannot be set up (trust store, TLS).
    #[error("the CRL client cannot be set up: {0}")]
    Setup(String),
    /// The file cannot be read.
    #[error("cannot read the CRL file: {0}")]
    Read(String),
    /// The download failed (connection, TLS, timeout, status).
    #[error("cannot fetch the CRL: {0}")]
    Fetch(String),
    /// Bigger than [`MAX_CRL_BYTES`].
    #[error("the CRL is larger than {MAX_CRL_BYTES} bytes")]
    TooLarge,
    /// Not a DER/PEM CRL.
    #[error("not a CRL: {0}")]
    Unparsable(String),
    /// No configured issuing CA has signed it.
    #[error("the CRL is not signed by a configured issuing CA")]
    UntrustedSigner,
    /// A kind of CRL this checker does not evaluate (delta, partitioned, critical extension).
    #[error("unsupported CRL: {0}")]
    Unsupported(String),
}

enum Source {
    File(PathBuf),
    Url {
        url: reqwest::Url,
        client: reqwest::Client,
    },
}

impl Source {
    /// For logs: the path, or the URL's scheme, host and path (no query, no credentials).
    fn describe(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Url { url, .. } => format!(
                "{}://{}{}",
                url.scheme(),
                url.host_str().unwrap_or_default(),
                url.path()
            ),
        }
    }
}

/// A parsed, verified CRL.
struct Crl {
    issuer_index: usize,
    this_update: i64,
    next_update: i64,
    /// Serials (leading zero bytes stripped).
    revoked: HashSet<Vec<u8>>,
}

impl Crl {
    fn current_at(&self, now: i64) -> bool {
        self.this_update <= now && now <= self.next_update
    }
}

#[derive(Default)]
struct State {
    crl: Option<Crl>,
    /// SHA-256 of the bytes `crl` came from (a file that did not change is not re-parsed).
    crl_sha256: Option<[u8; 32]>,
    /// When the source was last consulted.
    last_attempt: Option<Instant>,
}

/// The embedded revocation checker: the issuing CA's CRL from a file or an https URL (see
/// the module documentation).
pub struct CrlChecker {
    source: Source,
    trust: Arc<TrustConfig>,
    max_age: Duration,
    state: std::sync::RwLock<State>,
    /// Held while the source is read: one reload at a time.
    refreshing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for CrlChecker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrlChecker")
            .field("source", &self.source.describe())
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl CrlChecker {
    /// `source`: a file path, or an `https://` URL (fetched with `http` when given —
    /// configured by the caller from [`crate::adapters::tls`] — else with a client trusting the
    /// system store; plain http refused here). DER or PEM CRL. `trust`: the issuing CAs the
    /// CRL must be signed by. A missing file is not an error here: until it is readable the
    /// status is `Unknown`.
    pub fn new(
        source: &str,
        trust: Arc<TrustConfig>,
        http: Option<reqwest::Client>,
    ) -> Result<Self, RevocationError> {
        let source = if let Some((scheme, _)) = source.split_once("://") {
            if !scheme.eq_ignore_ascii_case("https") {
                return Err(RevocationError::InsecureUrl(scheme.to_owned()));
            }
            let url =
                reqwest::Url::parse(source).map_err(|e| RevocationError::BadUrl(e.to_string()))?;
            if url.host_str().unwrap_or_default().is_empty() {
                return Err(RevocationError::BadUrl("no host".into()));
            }
            let client = match http {
                Some(c) => c,
                None => https_client(&TrustSettings::default())?,
            };
            Source::Url { url, client }
        } else if source.trim().is_empty() {
            return Err(RevocationError::Read("no CRL file configured".into()));
        } else {
            Source::File(PathBuf::from(source))
        };
        let max_age = match source {
            Source::File(_) => DEFAULT_FILE_MAX_AGE,
            Source::Url { .. } => DEFAULT_URL_MAX_AGE,
        };
        Ok(Self {
            source,
            trust,
            max_age,
            state: std::sync::RwLock::new(State::default()),
            refreshing: tokio::sync::Mutex::new(()),
        })
    }

    /// How long a CRL is used before the source is consulted again (zero: at every check).
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// Reads the source now (ignoring `max_age`). Error: the CRL could not be used (a
    /// still-current cached one is kept).
    pub async fn refresh(&self) -> Result<(), RevocationError> {
        let _refreshing = self.refreshing.lock().await;
        self.reload(unix_now()).await
    }

    /// The status of `cert` at `now` (Unix seconds): [`RevocationChecker::status`] with a
    /// given clock (tests, benchmarks).
    ///
    /// One reload at a time: while a current CRL is cached, a due reload is made by one
    /// caller and the others answer from the cache meanwhile; without a current CRL every
    /// caller waits for the reload in progress.
    pub async fn status_at(&self, cert: &VerifiedCertificate, now: i64) -> RevocationStatus {
        let (current, due) = self.due(now);
        if current {
            if due {
                if let Ok(_refreshing) = self.refreshing.try_lock() {
                    // failures are logged there; the cached CRL stays
                    let _ = self.reload(now).await;
                }
            }
        } else {
            // wait for a reload in progress (uncontended otherwise), then decide: another
            // caller may have reloaded meanwhile
            let _refreshing = self.refreshing.lock().await;
            if self.due(now).1 {
                let _ = self.reload(now).await;
            }
        }
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        let Some(crl) = &state.crl else {
            tracing::warn!(source = %self.source.describe(), "no usable CRL: revocation status unknown");
            return RevocationStatus::Unknown;
        };
        if crl.issuer_index != cert.issuer_index() {
            tracing::warn!(
                source = %self.source.describe(),
                crl_issuer = crl.issuer_index,
                certificate_issuer = cert.issuer_index(),
                "the CRL is not of the certificate's issuing CA: revocation status unknown"
            );
            return RevocationStatus::Unknown;
        }
        if !crl.current_at(now) {
            tracing::warn!(
                source = %self.source.describe(),
                this_update = crl.this_update,
                next_update = crl.next_update,
                now,
                "the CRL is not current: revocation status unknown"
            );
            return RevocationStatus::Unknown;
        }
        if crl.revoked.contains(strip_zeros(cert.serial())) {
            RevocationStatus::Revoked
        } else {
            RevocationStatus::Good
        }
    }

    /// (a current CRL is cached, the source is due to be consulted)
    fn due(&self, now: i64) -> (bool, bool) {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        let current = state.crl.as_ref().is_some_and(|c| c.current_at(now));
        let due = match state.last_attempt {
            None => true,
            Some(t) if current => t.elapsed() >= self.max_age,
            Some(t) => t.elapsed() >= self.max_age.min(RETRY_AFTER_FAILURE),
        };
        (current, due)
    }

    /// Reads and applies the source (the caller holds `refreshing`).
    async fn reload(&self, now: i64) -> Result<(), RevocationError> {
        let previous_sha = {
            let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
            state.last_attempt = Some(Instant::now());
            state.crl.as_ref().and(state.crl_sha256)
        };
        let result = self.read_source().await.and_then(|bytes| {
            let sha: [u8; 32] = Sha256::digest(&bytes).into();
            if previous_sha == Some(sha) {
                return Ok(None);
            }
            parse_crl(&bytes, &self.trust).map(|crl| Some((crl, sha)))
        });
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(None) => Ok(()),
            Ok(Some((crl, sha))) => {
                let is_url = matches!(self.source, Source::Url { .. });
                if let Some(old) = &state.crl {
                    if is_url && crl.this_update < old.this_update && old.current_at(now) {
                        tracing::warn!(
                            source = %self.source.describe(),
                            "the fetched CRL is older than the cached one: ignored"
                        );
                        return Ok(());
                    }
                }
                if !crl.current_at(now) {
                    tracing::warn!(
                        source = %self.source.describe(),
                        this_update = crl.this_update,
                        next_update = crl.next_update,
                        now,
                        "the CRL read is not current"
                    );
                }
                tracing::info!(
                    source = %self.source.describe(),
                    revoked = crl.revoked.len(),
                    next_update = crl.next_update,
                    "CRL loaded"
                );
                state.crl = Some(crl);
                state.crl_sha256 = Some(sha);
                Ok(())
            }
            Err(e) => {
                let kept = state.crl.as_ref().is_some_and(|c| c.current_at(now));
                tracing::warn!(
                    source = %self.source.describe(),
                    error = %e,
                    keeping_cached = kept,
                    "the CRL could not be used"
                );
                Err(e)
            }
        }
    }

    async fn read_source(&self) -> Result<Vec<u8>, RevocationError> {
        match &self.source {
            Source::File(path) => read_file(path).await,
            Source::Url { url, client } => fetch(client, url).await,
        }
    }
}

#[async_trait::async_trait]
impl RevocationChecker for CrlChecker {
    async fn status(&self, cert: &VerifiedCertificate) -> RevocationStatus {
        self.status_at(cert, unix_now()).await
    }
}

/// The CRLs of several issuing CAs (MOICA has had more than one issuing CA generation), one
/// [`CrlChecker`] each: a certificate is revoked if any of them lists it, good only if a
/// current CRL of its own issuing CA does not (a CRL of another CA says `Unknown` for it), and
/// unknown otherwise — still failing closed.
pub struct CrlSet(Vec<CrlChecker>);

impl CrlSet {
    pub fn new(checkers: Vec<CrlChecker>) -> Self {
        Self(checkers)
    }
}

#[async_trait::async_trait]
impl RevocationChecker for CrlSet {
    async fn status(&self, cert: &VerifiedCertificate) -> RevocationStatus {
        let mut good = false;
        for checker in &self.0 {
            match checker.status(cert).await {
                RevocationStatus::Revoked => return RevocationStatus::Revoked,
                RevocationStatus::Good => good = true,
                RevocationStatus::Unknown => {}
            }
        }
        if good {
            RevocationStatus::Good
        } else {
            RevocationStatus::Unknown
        }
    }
}

/// A client for an https CRL source trusting `trust` (rustls, https only, [`FETCH_TIMEOUT`]):
/// what [`CrlChecker::new`] uses with the system store when given no client.
pub fn https_client(trust: &TrustSettings) -> Result<reqwest::Client, RevocationError> {
    let roots = TrustRoots::load(trust).map_err(|e| RevocationError::Setup(e.to_string()))?;
    let tls = roots
        .client_config()
        .map_err(|e| RevocationError::Setup(e.to_string()))?;
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .https_only(true)
        .timeout(FETCH_TIMEOUT)
        .connect_timeout(FETCH_TIMEOUT)
        .build()
        .map_err(|e| RevocationError::Setup(error_chain(&e)))
}

async fn read_file(path: &std::path::Path) -> Result<Vec<u8>, RevocationError> {
    use tokio::io::AsyncReadExt as _;
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| RevocationError::Read(format!("{}: {e}", path.display())))?;
    let mut bytes = Vec::new();
    file.take(MAX_CRL_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| RevocationError::Read(format!("{}: {e}", path.display())))?;
    if bytes.len() > MAX_CRL_BYTES {
        return Err(RevocationError::TooLarge);
    }
    Ok(bytes)
}

async fn fetch(client: &reqwest::Client, url: &reqwest::Url) -> Result<Vec<u8>, RevocationError> {
    let fetch_error = |e: reqwest::Error| RevocationError::Fetch(error_chain(&e.without_url()));
    let download = async {
        let mut resp = client
            .get(url.clone())
            .timeout(FETCH_TIMEOUT)
            .send()
            .await
            .map_err(fetch_error)?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(RevocationError::Fetch(format!("status {}", resp.status())));
        }
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_CRL_BYTES as u64)
        {
            return Err(RevocationError::TooLarge);
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(fetch_error)? {
            if bytes.len() + chunk.len() > MAX_CRL_BYTES {
                return Err(RevocationError::TooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    };
    // the client's own timeout may be longer (a caller-supplied client)
    tokio::time::timeout(FETCH_TIMEOUT, download)
        .await
        .map_err(|_| RevocationError::Fetch("timed out".into()))?
}

/// Parses and verifies a CRL against the configured issuing CAs.
fn parse_crl(bytes: &[u8], trust: &TrustConfig) -> Result<Crl, RevocationError> {
    let der = crl_der(bytes)?;
    let crl = match CertificateRevocationList::from_der(&der) {
        Ok(([], crl)) => crl,
        Ok(_) => return Err(RevocationError::Unparsable("bytes after the CRL".into())),
        Err(e) => return Err(RevocationError::Unparsable(e.to_string())),
    };
    let issuer = crl.issuer().as_raw();
    let mut issuer_index = None;
    for (index, ca) in trust.issuing_cas().iter().enumerate() {
        if ca.subject_der != issuer {
            continue;
        }
        let Ok((_, spki)) = SubjectPublicKeyInfo::from_der(ca.spki_der) else {
            continue;
        };
        let may_sign_crls = match X509Certificate::from_der(ca.der) {
            Ok((_, cert)) => match cert.key_usage() {
                Ok(None) => true,
                Ok(Some(ku)) => ku.value.crl_sign(),
                Err(_) => false,
            },
            Err(_) => false,
        };
        if may_sign_crls && crl.verify_signature(&spki).is_ok() {
            issuer_index = Some(index);
            break;
        }
    }
    let issuer_index = issuer_index.ok_or(RevocationError::UntrustedSigner)?;

    for ext in crl.extensions() {
        if ext.oid == OID_X509_EXT_ISSUER_DISTRIBUTION_POINT {
            match ext.parsed_extension() {
                ParsedExtension::IssuingDistributionPoint(idp) => {
                    // onlyContainsUserCerts is fine: login certificates are user certificates
                    if idp.only_contains_ca_certs
                        || idp.only_contains_attribute_certs
                        || idp.only_some_reasons.is_some()
                        || idp.indirect_crl
                    {
                        return Err(RevocationError::Unsupported(
                            "a partitioned or indirect CRL (issuingDistributionPoint)".into(),
                        ));
                    }
                }
                _ => {
                    return Err(RevocationError::Unsupported(
                        "an unreadable issuingDistributionPoint".into(),
                    ))
                }
            }
        } else if ext.oid == OID_X509_EXT_DELTA_CRL_INDICATOR {
            return Err(RevocationError::Unsupported("a delta CRL".into()));
        } else if ext.critical
            && ext.oid != OID_X509_EXT_CRL_NUMBER
            && ext.oid != OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER
        {
            return Err(RevocationError::Unsupported(format!(
                "critical extension {}",
                ext.oid.to_id_string()
            )));
        }
    }

    let this_update = crl.last_update().timestamp();
    let next_update = crl
        .next_update()
        .ok_or_else(|| RevocationError::Unsupported("no nextUpdate".into()))?
        .timestamp();
    let mut revoked = HashSet::new();
    for entry in crl.iter_revoked_certificates() {
        for ext in entry.extensions() {
            if ext.critical
                && ext.oid != OID_X509_EXT_REASON_CODE
                && ext.oid != OID_X509_EXT_INVALIDITY_DATE
            {
                // the certificateIssuer of indirect CRLs among others
                return Err(RevocationError::Unsupported(format!(
                    "critical entry extension {}",
                    ext.oid.to_id_string()
                )));
            }
        }
        revoked.insert(strip_zeros(entry.raw_serial()).to_vec());
    }
    Ok(Crl {
        issuer_index,
        this_update,
        next_update,
        revoked,
    })
}

/// DER as it is, or the first `X509 CRL` PEM block decoded.
fn crl_der(bytes: &[u8]) -> Result<Vec<u8>, RevocationError> {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    if !bytes[start..].starts_with(b"-----BEGIN") {
        return Ok(bytes.to_vec());
    }
    let (_, pem) = x509_parser::pem::parse_x509_pem(&bytes[start..])
        .map_err(|e| RevocationError::Unparsable(format!("PEM: {e}")))?;
    if pem.label != "X509 CRL" {
        return Err(RevocationError::Unparsable(format!(
            "PEM block {:?}, not X509 CRL",
            pem.label
        )));
    }
    Ok(pem.contents)
}

/// A serial's bytes without leading zero bytes (DER puts one before a high bit).
fn strip_zeros(serial: &[u8]) -> &[u8] {
    let start = serial.iter().position(|&b| b != 0).unwrap_or(serial.len());
    &serial[start..]
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A local HTTPS server for adapter tests: a test CA made at run time (rcgen), a server
/// certificate for `127.0.0.1` and `localhost`, an axum router over tokio-rustls.
#[cfg(test)]
pub(crate) mod test_https {
    use std::net::SocketAddr;
    use std::path::PathBuf;
    use std::sync::Arc;

    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio::net::{TcpListener, TcpStream};

    use crate::adapters::tls::TrustSettings;

    type E = Box<dyn std::error::Error>;

    /// A running server; it stops with the test's runtime.
    pub(crate) struct TestHttps {
        _dir: tempfile::TempDir,
        /// The test CA (PEM file).
        pub(crate) ca_file: PathBuf,
        /// `https://127.0.0.1:<port>`.
        pub(crate) base: String,
    }

    struct TlsListener {
        tcp: TcpListener,
        acceptor: tokio_rustls::TlsAcceptor,
    }

    impl axum::serve::Listener for TlsListener {
        type Io = tokio_rustls::server::TlsStream<TcpStream>;
        type Addr = SocketAddr;

        async fn accept(&mut self) -> (Self::Io, Self::Addr) {
            loop {
                let Ok((tcp, addr)) = self.tcp.accept().await else {
                    continue;
                };
                if let Ok(tls) = self.acceptor.accept(tcp).await {
                    return (tls, addr);
                }
            }
        }

        fn local_addr(&self) -> std::io::Result<Self::Addr> {
            self.tcp.local_addr()
        }
    }

    impl TestHttps {
        /// Serves `app` over TLS on a free loopback port.
        pub(crate) async fn start(app: axum::Router) -> Result<Self, E> {
            let mut ca = CertificateParams::new(Vec::<String>::new())?;
            ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            ca.distinguished_name
                .push(rcgen::DnType::CommonName, "nhi-server adapter test CA");
            let issuer = CertifiedIssuer::self_signed(ca, KeyPair::generate()?)?;
            let dir = tempfile::tempdir()?;
            let ca_file = dir.path().join("ca.pem");
            std::fs::write(&ca_file, issuer.pem())?;
            let key = KeyPair::generate()?;
            let params = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])?;
            let cert = params.signed_by(&key, &issuer)?;
            let config = rustls::ServerConfig::builder_with_provider(
                crate::adapters::tls::crypto_provider(),
            )
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )?;
            let tcp = TcpListener::bind("127.0.0.1:0").await?;
            let port = tcp.local_addr()?.port();
            let listener = TlsListener {
                tcp,
                acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            };
            tokio::spawn(async move { axum::serve(listener, app).await });
            Ok(Self {
                _dir: dir,
                ca_file,
                base: format!("https://127.0.0.1:{port}"),
            })
        }

        /// Only the test CA trusted.
        pub(crate) fn trust(&self) -> TrustSettings {
            TrustSettings {
                ca_file: Some(self.ca_file.clone()),
                system_roots: false,
            }
        }

        /// A reqwest client trusting only the test CA.
        pub(crate) fn client(&self) -> Result<reqwest::Client, E> {
            let roots = crate::adapters::tls::TrustRoots::load(&self.trust())?;
            Ok(reqwest::Client::builder()
                .use_preconfigured_tls(roots.client_config()?)
                .https_only(true)
                .build()?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::certificate::{test_pki, test_trust};
    use nhi_testpki::TestPki;
    use std::time::SystemTime;

    type R = Result<(), Box<dyn std::error::Error>>;

    const DAY: Duration = Duration::from_secs(86_400);

    fn verified(pki: &TestPki, label: &str) -> Result<VerifiedCertificate, String> {
        let card = pki.card(label).ok_or_else(|| format!("no card {label}"))?;
        test_trust()
            .verify(card.der(), unix_now())
            .map_err(|p| format!("{label}: {}", p.code()))
    }

    /// A copy of the shared PKI whose CRL a test may rewrite.
    fn pki_copy() -> Result<(tempfile::TempDir, TestPki), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        copy_dir(test_pki().dir(), dir.path())?;
        let pki = TestPki::load(dir.path())?;
        Ok((dir, pki))
    }

    fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            let target = to.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                copy_dir(&entry.path(), &target)?;
            } else {
                std::fs::copy(entry.path(), target)?;
            }
        }
        Ok(())
    }

    fn checker(path: &std::path::Path) -> Result<CrlChecker, RevocationError> {
        CrlChecker::new(&path.display().to_string(), Arc::new(test_trust()), None)
    }

    fn pem(label: &str, der: &[u8]) -> String {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let mut out = format!("-----BEGIN {label}-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(chunk));
            out.push('\n');
        }
        out.push_str(&format!("-----END {label}-----\n"));
        out
    }

    /// A CRL signed by `key` under the DN `C=TW, O=NHI registration test PKI, CN=<cn>`
    /// (testpki's CA names), listing `serials`.
    fn crl_signed_by(
        cn: &str,
        key: &rcgen::KeyPair,
        serials: &[&[u8]],
        this_update: SystemTime,
        next_update: SystemTime,
    ) -> Result<Vec<u8>, rcgen::Error> {
        use rcgen::string::PrintableString;
        use rcgen::{
            CertificateParams, CertificateRevocationListParams, DnType, DnValue, Issuer,
            KeyIdMethod, KeyUsagePurpose, RevokedCertParams, SerialNumber,
        };
        let mut ca = CertificateParams::default();
        // the default holds a CN first; testpki's order is C, O, CN
        ca.distinguished_name = rcgen::DistinguishedName::new();
        ca.distinguished_name.push(
            DnType::CountryName,
            DnValue::PrintableString(PrintableString::try_from("TW")?),
        );
        ca.distinguished_name
            .push(DnType::OrganizationName, "NHI registration test PKI");
        ca.distinguished_name.push(DnType::CommonName, cn);
        ca.key_usages = vec![KeyUsagePurpose::CrlSign];
        let issuer = Issuer::new(ca, key);
        let params = CertificateRevocationListParams {
            this_update: this_update.into(),
            next_update: next_update.into(),
            crl_number: SerialNumber::from_slice(&[1]),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|s| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(s),
                    revocation_time: this_update.into(),
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&issuer)?.der().to_vec())
    }

    #[tokio::test]
    async fn good_and_revoked_cards() -> R {
        let pki = test_pki();
        let c = checker(&pki.crl_path())?;
        assert_eq!(
            c.status(&verified(pki, "wang")?).await,
            RevocationStatus::Good
        );
        assert_eq!(
            c.status(&verified(pki, "huang-rsa")?).await,
            RevocationStatus::Good
        );
        assert_eq!(
            c.status(&verified(pki, "chen-revoked")?).await,
            RevocationStatus::Revoked
        );
        // a PEM CRL reads the same
        let dir = tempfile::tempdir()?;
        let pem_path = dir.path().join("crl.pem");
        std::fs::write(&pem_path, pem("X509 CRL", &std::fs::read(pki.crl_path())?))?;
        let c = checker(&pem_path)?;
        assert_eq!(
            c.status(&verified(pki, "chen-revoked")?).await,
            RevocationStatus::Revoked
        );
        assert_eq!(
            c.status(&verified(pki, "wang")?).await,
            RevocationStatus::Good
        );
        // a PEM block of another kind is not a CRL
        let cert_pem = dir.path().join("cert.pem");
        std::fs::write(&cert_pem, pem("CERTIFICATE", pki.issuing_ca_der()))?;
        let c = checker(&cert_pem)?;
        assert!(matches!(
            c.refresh().await,
            Err(RevocationError::Unparsable(_))
        ));
        assert_eq!(
            c.status(&verified(pki, "wang")?).await,
            RevocationStatus::Unknown
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_crl_outside_its_validity_is_unknown() -> R {
        let pki = test_pki();
        let c = checker(&pki.crl_path())?;
        let wang = verified(pki, "wang")?;
        let chen = verified(pki, "chen-revoked")?;
        let now = unix_now();
        assert_eq!(c.status_at(&wang, now).await, RevocationStatus::Good);
        // nextUpdate is now + 7 days; thisUpdate about now
        for t in [now + 8 * 86_400, now - 3600] {
            assert_eq!(c.status_at(&wang, t).await, RevocationStatus::Unknown);
            assert_eq!(c.status_at(&chen, t).await, RevocationStatus::Unknown);
        }
        assert_eq!(
            c.status_at(&wang, now + 6 * 86_400).await,
            RevocationStatus::Good
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_stale_crl_is_unknown_and_a_new_one_is_read() -> R {
        let (_dir, pki) = pki_copy()?;
        let t = SystemTime::now();
        pki.write_crl(t - 10 * DAY, t - 3 * DAY)?;
        let wang = verified(&pki, "wang")?;
        let chen = verified(&pki, "chen-revoked")?;
        let c = checker(&pki.crl_path())?.with_max_age(Duration::ZERO);
        assert_eq!(c.status(&wang).await, RevocationStatus::Unknown);
        assert_eq!(c.status(&chen).await, RevocationStatus::Unknown);
        // a fresh CRL is seen at the next check (max age zero)
        pki.write_crl(t - Duration::from_secs(60), t + DAY)?;
        assert_eq!(c.status(&wang).await, RevocationStatus::Good);
        assert_eq!(c.status(&chen).await, RevocationStatus::Revoked);
        // and stale again
        pki.write_crl(t - 10 * DAY, t - 3 * DAY)?;
        assert_eq!(c.status(&wang).await, RevocationStatus::Unknown);
        Ok(())
    }

    #[tokio::test]
    async fn the_crl_is_cached_until_max_age_or_refresh() -> R {
        let (_dir, pki) = pki_copy()?;
        let t = SystemTime::now();
        let wang = verified(&pki, "wang")?;
        let c = checker(&pki.crl_path())?; // default: 60 s
        assert_eq!(c.status(&wang).await, RevocationStatus::Good);
        pki.write_crl(t - 10 * DAY, t - 3 * DAY)?;
        // within the minute: the cached CRL
        assert_eq!(c.status(&wang).await, RevocationStatus::Good);
        c.refresh().await?;
        assert_eq!(c.status(&wang).await, RevocationStatus::Unknown);
        // a file that went missing with a current CRL cached keeps it
        pki.write_crl(t - Duration::from_secs(60), t + DAY)?;
        c.refresh().await?;
        std::fs::remove_file(pki.crl_path())?;
        assert!(matches!(c.refresh().await, Err(RevocationError::Read(_))));
        assert_eq!(c.status(&wang).await, RevocationStatus::Good);
        // garbage in place of the file: the cached one too
        std::fs::write(pki.crl_path(), b"garbage")?;
        assert!(matches!(
            c.refresh().await,
            Err(RevocationError::Unparsable(_))
        ));
        assert_eq!(c.status(&wang).await, RevocationStatus::Good);
        Ok(())
    }

    #[tokio::test]
    async fn missing_garbage_and_oversized_files_are_unknown() -> R {
        let pki = test_pki();
        let wang = verified(pki, "wang")?;
        let dir = tempfile::tempdir()?;
        let missing = checker(&dir.path().join("missing.crl"))?;
        assert_eq!(missing.status(&wang).await, RevocationStatus::Unknown);
        let garbage = dir.path().join("garbage.crl");
        std::fs::write(&garbage, b"\x30\x82\x01\x00 not a CRL")?;
        assert_eq!(
            checker(&garbage)?.status(&wang).await,
            RevocationStatus::Unknown
        );
        // the genuine CRL with a byte after it
        let trailing = dir.path().join("trailing.crl");
        let mut der = std::fs::read(pki.crl_path())?;
        der.push(0);
        std::fs::write(&trailing, &der)?;
        assert_eq!(
            checker(&trailing)?.status(&wang).await,
            RevocationStatus::Unknown
        );
        let empty = dir.path().join("empty.crl");
        std::fs::write(&empty, b"")?;
        assert_eq!(
            checker(&empty)?.status(&wang).await,
            RevocationStatus::Unknown
        );
        let big = dir.path().join("big.crl");
        std::fs::write(&big, vec![0u8; MAX_CRL_BYTES + 1])?;
        let c = checker(&big)?;
        assert!(matches!(c.refresh().await, Err(RevocationError::TooLarge)));
        assert_eq!(c.status(&wang).await, RevocationStatus::Unknown);
        Ok(())
    }

    #[tokio::test]
    async fn a_crl_not_signed_by_the_issuing_ca_is_unknown() -> R {
        let pki = test_pki();
        let wang = verified(pki, "wang")?;
        let chen = pki.card("chen-revoked").ok_or("chen")?;
        let dir = tempfile::tempdir()?;
        let t = SystemTime::now();
        let other_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;

        // the issuing CA's name, another key (the forged CRL does not list chen)
        let forged = crl_signed_by(
            "NHI Test Issuing CA (plays MOICA)",
            &other_key,
            &[],
            t - Duration::from_secs(60),
            t + DAY,
        )?;
        // the names really are equal: only the signature tells them apart
        let (_, parsed) = CertificateRevocationList::from_der(&forged)?;
        assert_eq!(
            parsed.issuer().as_raw(),
            test_trust().issuing_cas()[0].subject_der
        );
        let path = dir.path().join("forged.crl");
        std::fs::write(&path, &forged)?;
        let c = checker(&path)?;
        assert!(matches!(
            c.refresh().await,
            Err(RevocationError::UntrustedSigner)
        ));
        assert_eq!(c.status(&wang).await, RevocationStatus::Unknown);
        let chen_v = verified(pki, "chen-revoked")?;
        assert_eq!(c.status(&chen_v).await, RevocationStatus::Unknown);

        // a sibling CA's CRL (its name, its own key)
        let sibling = crl_signed_by(
            "NHI Test Sibling CA (plays GCA)",
            &other_key,
            &[chen.serial()],
            t - Duration::from_secs(60),
            t + DAY,
        )?;
        let path = dir.path().join("sibling.crl");
        std::fs::write(&path, &sibling)?;
        assert_eq!(
            checker(&path)?.status(&wang).await,
            RevocationStatus::Unknown
        );

        // the genuine CRL with its signature broken
        let mut broken = std::fs::read(pki.crl_path())?;
        if let Some(last) = broken.last_mut() {
            *last ^= 0x01;
        }
        let path = dir.path().join("broken.crl");
        std::fs::write(&path, &broken)?;
        assert_eq!(
            checker(&path)?.status(&wang).await,
            RevocationStatus::Unknown
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_crl_of_another_configured_ca_does_not_cover_the_certificate() -> R {
        // Two issuing CAs configured: the test PKI's and one made here; the CRL is the
        // second's (correctly signed), the certificate the first's.
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, KeyUsagePurpose};
        let pki = test_pki();
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut ca = CertificateParams::default();
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "second issuing CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca.self_signed(&key)?;
        let issuer = rcgen::Issuer::new(ca, &key);
        let t = SystemTime::now();
        let crl = rcgen::CertificateRevocationListParams {
            this_update: (t - Duration::from_secs(60)).into(),
            next_update: (t + DAY).into(),
            crl_number: rcgen::SerialNumber::from_slice(&[7]),
            issuing_distribution_point: None,
            revoked_certs: vec![],
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        }
        .signed_by(&issuer)?;
        let bundle = format!(
            "{}{}",
            pem("CERTIFICATE", pki.issuing_ca_der()),
            ca_cert.pem()
        );
        let trust = Arc::new(TrustConfig::new(
            bundle.as_bytes(),
            &[nhi_testpki::POLICY_OID.to_owned()],
        )?);
        let wang_der = pki.card("wang").ok_or("wang")?.der();
        let wang = trust.verify(wang_der, unix_now()).map_err(|p| p.code())?;
        assert_eq!(wang.issuer_index(), 0);
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("second.crl");
        std::fs::write(&path, crl.der())?;
        let c = CrlChecker::new(&path.display().to_string(), trust.clone(), None)?;
        c.refresh().await?; // it is a good CRL…
        assert_eq!(c.status(&wang).await, RevocationStatus::Unknown); // …of another CA
                                                                      // the test PKI's own CRL with the same trust: Good
        let c = CrlChecker::new(&pki.crl_path().display().to_string(), trust, None)?;
        assert_eq!(c.status(&wang).await, RevocationStatus::Good);
        Ok(())
    }

    #[test]
    fn sources_are_checked_at_construction() -> R {
        let trust = Arc::new(test_trust());
        for bad in [
            "http://crl.example/moica.crl",
            "HTTP://crl.example/moica.crl",
            "ftp://crl.example/moica.crl",
        ] {
            assert!(
                matches!(
                    CrlChecker::new(bad, trust.clone(), None),
                    Err(RevocationError::InsecureUrl(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            CrlChecker::new("https://", trust.clone(), None),
            Err(RevocationError::BadUrl(_))
        ));
        assert!(CrlChecker::new("", trust.clone(), None).is_err());
        let c = CrlChecker::new("https://crl.example/moica.crl?token=secret", trust, None)?;
        // the log form of the source has no query
        let shown = format!("{c:?}");
        assert!(shown.contains("https://crl.example/moica.crl"), "{shown}");
        assert!(!shown.contains("secret"), "{shown}");
        Ok(())
    }

    #[tokio::test]
    async fn an_unreachable_url_is_unknown() -> R {
        let pki = test_pki();
        let c = CrlChecker::new(
            "https://127.0.0.1:1/moica.crl",
            Arc::new(test_trust()),
            None,
        )?;
        assert!(matches!(c.refresh().await, Err(RevocationError::Fetch(_))));
        assert_eq!(
            c.status(&verified(pki, "wang")?).await,
            RevocationStatus::Unknown
        );
        Ok(())
    }

    #[tokio::test]
    async fn an_https_url_is_fetched_cached_and_fails_closed() -> R {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let pki = test_pki();
        let crl = std::fs::read(pki.crl_path())?;
        let hits = Arc::new(AtomicUsize::new(0));
        let seen = hits.clone();
        let app = axum::Router::new()
            .route(
                "/moica.crl",
                axum::routing::get(move || {
                    let crl = crl.clone();
                    seen.fetch_add(1, Ordering::SeqCst);
                    async move { crl }
                }),
            )
            .route(
                "/down.crl",
                axum::routing::get(|| async { axum::http::StatusCode::SERVICE_UNAVAILABLE }),
            )
            .route(
                "/big.crl",
                axum::routing::get(|| async { vec![0u8; MAX_CRL_BYTES + 10] }),
            );
        let server = test_https::TestHttps::start(app).await?;
        let wang = verified(pki, "wang")?;
        let chen = verified(pki, "chen-revoked")?;
        let trust = Arc::new(test_trust());

        let url = format!("{}/moica.crl", server.base);
        let c = CrlChecker::new(&url, trust.clone(), Some(server.client()?))?;
        assert_eq!(c.status(&wang).await, RevocationStatus::Good);
        assert_eq!(c.status(&chen).await, RevocationStatus::Revoked);
        assert_eq!(hits.load(Ordering::SeqCst), 1, "cached: one fetch");

        // concurrent first checks: one fetch, every answer from it
        let c = Arc::new(CrlChecker::new(
            &url,
            trust.clone(),
            Some(https_client(&server.trust())?),
        )?);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..10 {
            let (c, chen) = (c.clone(), chen.clone());
            tasks.spawn(async move { c.status(&chen).await });
        }
        while let Some(status) = tasks.join_next().await {
            assert_eq!(status?, RevocationStatus::Revoked);
        }
        assert_eq!(hits.load(Ordering::SeqCst), 2, "one more fetch");

        // without the test CA trusted: the TLS handshake fails → unknown
        let c = CrlChecker::new(&url, trust.clone(), None)?;
        assert!(matches!(c.refresh().await, Err(RevocationError::Fetch(_))));
        assert_eq!(c.status(&wang).await, RevocationStatus::Unknown);

        for (path, what) in [
            ("/down.crl", "503"),
            ("/big.crl", "too large"),
            ("/none", "404"),
        ] {
            let c = CrlChecker::new(
                &format!("{}{path}", server.base),
                trust.clone(),
                Some(server.client()?),
            )?;
            assert_eq!(c.status(&wang).await, RevocationStatus::Unknown, "{what}");
        }
        Ok(())
    }
}
