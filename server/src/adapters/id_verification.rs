//! ID verification for the citizen digital certificate login (issue 12): is the ID number the
//! staff member typed that of the certificate's holder? The certificate carries only the
//! last four digits of the ID (subject serialNumber), so an outside service must say it.
//!
//! Two implementations: [`TableIdVerifier`], the embedded default (a table of certificate
//! SHA-256 → ID, the test PKI's `id-table.json`), and [`HttpIdVerifier`] for MOICA's
//! ID-verification service for agencies. Both first apply [`precheck`]: when the certificate's
//! last digits differ from the typed ID's, the answer is [`IdMatch::NoMatch`] without asking.
//! Both fail closed: anything but a clear answer is [`IdMatch::Unavailable`], which the login
//! refuses (`id_verification_unavailable`).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use nhi_protocol::NationalId;
use serde::{Deserialize, Serialize};

use crate::adapters::tls::{error_chain, TrustRoots, TrustSettings};
use crate::services::certificate::VerifiedCertificate;

/// How long the HTTP service may take to answer (connection included).
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest answer read from the HTTP service.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// What the ID verification says about (certificate, ID number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdMatch {
    /// The ID number is the certificate holder's.
    Match,
    /// It is not.
    NoMatch,
    /// No answer (service down, timeout, an answer we do not understand): refuse the login.
    Unavailable,
}

/// The ID-verification adapter.
#[async_trait::async_trait]
pub trait IdVerifier: Send + Sync {
    /// Whether `national_id` is the ID number of the holder of `cert`.
    async fn check(&self, cert: &VerifiedCertificate, national_id: &NationalId) -> IdMatch;
}

/// Why an ID verifier cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum IdVerificationError {
    /// The table file cannot be read.
    #[error("cannot read the ID table {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        message: String,
    },
    /// The table is not `{"certificates":[{"certificate_sha256":…,"national_id":…}]}` with
    /// valid entries.
    #[error("the ID table is invalid: {0}")]
    InvalidTable(String),
    /// The service URL is not `https://`.
    #[error("the ID-verification URL must be https:// (got {0:?})")]
    InsecureUrl(String),
    /// Not a URL with a host.
    #[error("the ID-verification URL is not valid: {0}")]
    BadUrl(String),
    /// The HTTP client cannot be set up (trust store, TLS).
    #[error("the ID-verification client cannot be set up: {0}")]
    Setup(String),
}

/// The quick check both implementations make first: `Some(NoMatch)` when the certificate
/// carries the holder's last digits (subject serialNumber, 1 to 10 ASCII digits) and the
/// typed ID does not end with them; `None` when the service must decide. A serialNumber of
/// another form (not digits) is left to the service.
pub fn precheck(cert: &VerifiedCertificate, national_id: &NationalId) -> Option<IdMatch> {
    let digits = cert.id_last_digits()?;
    let usable = (1..=10).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    (usable && !national_id.as_str().ends_with(&digits)).then_some(IdMatch::NoMatch)
}

/// `id-table.json`: `{"certificates":[{"certificate_sha256":"<hex>","national_id":"…"}]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableFile {
    certificates: Vec<TableEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableEntry {
    certificate_sha256: String,
    national_id: String,
}

/// The embedded default: a table of certificate SHA-256 → holder's ID, loaded when built. A
/// certificate not in the table is [`IdMatch::NoMatch`].
pub struct TableIdVerifier {
    table: HashMap<[u8; 32], NationalId>,
}

impl std::fmt::Debug for TableIdVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableIdVerifier")
            .field("certificates", &self.table.len())
            .finish()
    }
}

impl TableIdVerifier {
    /// Reads the table file (the test PKI's `id-table.json`).
    pub fn from_file(path: &Path) -> Result<Self, IdVerificationError> {
        let bytes = std::fs::read(path).map_err(|e| IdVerificationError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::from_json(&bytes)
    }

    /// Parses a table. Every entry needs a 64-hex-digit SHA-256 and a valid ID number; one
    /// certificate listed with two IDs is an error.
    pub fn from_json(bytes: &[u8]) -> Result<Self, IdVerificationError> {
        let file: TableFile = serde_json::from_slice(bytes)
            .map_err(|e| IdVerificationError::InvalidTable(e.to_string()))?;
        let mut table = HashMap::with_capacity(file.certificates.len());
        for (i, entry) in file.certificates.into_iter().enumerate() {
            let n = i + 1;
            let mut sha = [0u8; 32];
            hex::decode_to_slice(entry.certificate_sha256.trim(), &mut sha).map_err(|_| {
                IdVerificationError::InvalidTable(format!(
                    "entry {n}: certificate_sha256 is not 64 hex digits"
                ))
            })?;
            // the ID itself stays out of the error: it is personal data
            let id: NationalId = entry.national_id.trim().parse().map_err(|_| {
                IdVerificationError::InvalidTable(format!("entry {n}: national_id is not valid"))
            })?;
            match table.get(&sha) {
                Some(existing) if *existing != id => {
                    return Err(IdVerificationError::InvalidTable(format!(
                        "entry {n}: the certificate is listed with two ID numbers"
                    )))
                }
                _ => {
                    table.insert(sha, id);
                }
            }
        }
        Ok(Self { table })
    }

    /// How many certificates the table lists.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the table lists none.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

#[async_trait::async_trait]
impl IdVerifier for TableIdVerifier {
    async fn check(&self, cert: &VerifiedCertificate, national_id: &NationalId) -> IdMatch {
        if let Some(answer) = precheck(cert, national_id) {
            return answer;
        }
        match self.table.get(&cert.sha256()) {
            Some(id) if id == national_id => IdMatch::Match,
            _ => IdMatch::NoMatch,
        }
    }
}

/// The body [`HttpIdVerifier`] POSTs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdQuery {
    /// The login certificate, DER, standard base64.
    pub certificate: String,
    /// The typed ID number.
    pub national_id: String,
}

/// The answer [`HttpIdVerifier`] expects (status 200).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdAnswer {
    /// `match` or `no_match`.
    pub result: IdAnswerResult,
}

/// `result` of an [`IdAnswer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdAnswerResult {
    /// The ID number is the holder's.
    Match,
    /// It is not.
    NoMatch,
}

/// Production: MOICA's ID-verification service for agencies (身分驗證服務).
///
/// `POST {url}` with an [`IdQuery`] JSON body (and `Authorization: Bearer <token>` when a
/// token is configured); status 200 with [`IdAnswer`] `{"result":"match"|"no_match"}` is
/// the answer. Anything else — another status, another body, a redirect (not followed), a
/// TLS failure, no answer within [`HTTP_TIMEOUT`] — is [`IdMatch::Unavailable`].
///
/// **This wire format is ours**, a placeholder: the real MOICA service's request and answer
/// (and its authentication) must be mapped here when the agency contract gives them.
///
/// The query carries a full ID number, so the URL must be `https://` (rustls, certificates
/// verified against [`TrustSettings`]); any other URL — plain `http://` even to loopback — is
/// an error when the verifier is built, so a misconfiguration stops the start rather than
/// failing every login.
pub struct HttpIdVerifier {
    client: reqwest::Client,
    url: reqwest::Url,
    token: Option<String>,
    timeout: Duration,
}

/// Without the token, and the URL without its query.
impl std::fmt::Debug for HttpIdVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpIdVerifier")
            .field(
                "url",
                &format!(
                    "{}://{}{}",
                    self.url.scheme(),
                    self.url.host_str().unwrap_or_default(),
                    self.url.path()
                ),
            )
            .field("token", &self.token.as_ref().map(|_| "…"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl HttpIdVerifier {
    /// `url` must be `https://host…`; `bearer_token` is sent as `Authorization: Bearer`.
    pub fn new(
        url: &str,
        bearer_token: Option<String>,
        trust: &TrustSettings,
    ) -> Result<Self, IdVerificationError> {
        let parsed =
            reqwest::Url::parse(url).map_err(|e| IdVerificationError::BadUrl(e.to_string()))?;
        if parsed.scheme() != "https" {
            return Err(IdVerificationError::InsecureUrl(parsed.scheme().to_owned()));
        }
        if parsed.host_str().unwrap_or_default().is_empty() {
            return Err(IdVerificationError::BadUrl("no host".into()));
        }
        let roots =
            TrustRoots::load(trust).map_err(|e| IdVerificationError::Setup(e.to_string()))?;
        let tls = roots
            .client_config()
            .map_err(|e| IdVerificationError::Setup(e.to_string()))?;
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(HTTP_TIMEOUT)
            .build()
            .map_err(|e| IdVerificationError::Setup(error_chain(&e)))?;
        Ok(Self {
            client,
            url: parsed,
            token: bearer_token.filter(|t| !t.is_empty()),
            timeout: HTTP_TIMEOUT,
        })
    }

    /// Another answer timeout than [`HTTP_TIMEOUT`] (tests).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn ask(
        &self,
        cert: &VerifiedCertificate,
        national_id: &NationalId,
    ) -> Result<IdMatch, String> {
        let query = IdQuery {
            certificate: base64::engine::general_purpose::STANDARD.encode(cert.der()),
            national_id: national_id.as_str().to_owned(),
        };
        let mut request = self
            .client
            .post(self.url.clone())
            .timeout(self.timeout)
            .json(&query);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let resp = request
            .send()
            .await
            .map_err(|e| error_chain(&e.without_url()))?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(format!("status {}", resp.status()));
        }
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
        {
            return Err("answer too large".into());
        }
        let mut resp = resp;
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| error_chain(&e.without_url()))?
        {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err("answer too large".into());
            }
            body.extend_from_slice(&chunk);
        }
        let answer: IdAnswer =
            serde_json::from_slice(&body).map_err(|e| format!("bad answer: {e}"))?;
        Ok(match answer.result {
            IdAnswerResult::Match => IdMatch::Match,
            IdAnswerResult::NoMatch => IdMatch::NoMatch,
        })
    }
}

#[async_trait::async_trait]
impl IdVerifier for HttpIdVerifier {
    async fn check(&self, cert: &VerifiedCertificate, national_id: &NationalId) -> IdMatch {
        if let Some(answer) = precheck(cert, national_id) {
            return answer;
        }
        // the whole exchange, body included, within the timeout
        match tokio::time::timeout(self.timeout, self.ask(cert, national_id)).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(reason)) => {
                tracing::warn!(%reason, "the ID-verification service gave no answer");
                IdMatch::Unavailable
            }
            Err(_) => {
                tracing::warn!("the ID-verification service did not answer in time");
                IdMatch::Unavailable
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::revocation::test_https::TestHttps;
    use crate::services::certificate::{test_pki, test_trust, unix_now};
    use std::sync::{Arc, Mutex};

    type R = Result<(), Box<dyn std::error::Error>>;

    fn verified(label: &str) -> Result<VerifiedCertificate, String> {
        let card = test_pki()
            .card(label)
            .ok_or_else(|| format!("no card {label}"))?;
        test_trust()
            .verify(card.der(), unix_now())
            .map_err(|p| format!("{label}: {}", p.code()))
    }

    fn id(s: &str) -> Result<NationalId, String> {
        s.parse().map_err(|e| format!("{s}: {e}"))
    }

    /// Valid ID numbers other than `except` that end in `suffix` (4 digits).
    fn ids_ending_in(suffix: &str, except: &str) -> Vec<NationalId> {
        let mut out = Vec::new();
        for letter in b'A'..=b'Z' {
            for sex in ['1', '2'] {
                for middle in 0..10_000 {
                    let s = format!("{}{sex}{middle:04}{suffix}", letter as char);
                    if s.len() != 10 || s == except {
                        continue;
                    }
                    if let Ok(id) = s.parse::<NationalId>() {
                        out.push(id);
                        if out.len() >= 3 {
                            return out;
                        }
                    }
                }
            }
        }
        out
    }

    #[tokio::test]
    async fn the_table_matches_certificate_and_id_together() -> R {
        let pki = test_pki();
        let table = TableIdVerifier::from_file(&pki.id_table_path())?;
        assert_eq!(table.len(), pki.cards().len());
        assert!(!table.is_empty());
        let wang = verified("wang")?;
        let rsa = verified("huang-rsa")?;
        assert_eq!(table.check(&wang, &id("A123456789")?).await, IdMatch::Match);
        assert_eq!(table.check(&rsa, &id("S224680133")?).await, IdMatch::Match);
        // the same certificate, another valid ID (other last digits: the precheck)
        assert_eq!(
            table.check(&wang, &id("S224680133")?).await,
            IdMatch::NoMatch
        );
        assert_eq!(precheck(&wang, &id("S224680133")?), Some(IdMatch::NoMatch));
        // … and one with the same last four digits (the table decides)
        let same_tail = ids_ending_in("6789", "A123456789");
        assert!(!same_tail.is_empty(), "no ID ending in 6789 found");
        for other in &same_tail {
            assert_eq!(precheck(&wang, other), None, "{}", other.as_str());
            assert_eq!(table.check(&wang, other).await, IdMatch::NoMatch);
        }
        // the right ID with another card's certificate
        let chang = verified("chang-norole")?;
        assert_eq!(
            table.check(&chang, &id("A123456789")?).await,
            IdMatch::NoMatch
        );
        let huang = verified("huang")?;
        assert_eq!(
            table.check(&huang, &id("S224680133")?).await,
            IdMatch::Match
        );
        assert_eq!(
            table.check(&rsa, &id("A123456789")?).await,
            IdMatch::NoMatch
        );
        Ok(())
    }

    #[tokio::test]
    async fn the_answer_depends_on_the_certificate_hash() -> R {
        let pki = test_pki();
        let wang = verified("wang")?;
        let huang = pki.card("huang").ok_or("huang")?;
        let other = ids_ending_in("6789", "A123456789");
        let other = other.first().ok_or("no ID")?;
        // wang's certificate listed with another ID of the same last digits: A123456789 no
        let json = format!(
            r#"{{"certificates":[{{"certificate_sha256":"{}","national_id":"{}"}},
                {{"certificate_sha256":"{}","national_id":"S224680133"}}]}}"#,
            wang.sha256_hex(),
            other.as_str(),
            huang.sha256_hex()
        );
        let table = TableIdVerifier::from_json(json.as_bytes())?;
        assert_eq!(
            table.check(&wang, &id("A123456789")?).await,
            IdMatch::NoMatch
        );
        assert_eq!(table.check(&wang, other).await, IdMatch::Match);
        // a table without wang's certificate: no match for anyone
        let json = format!(
            r#"{{"certificates":[{{"certificate_sha256":"{}","national_id":"A123456789"}}]}}"#,
            huang.sha256_hex()
        );
        let table = TableIdVerifier::from_json(json.as_bytes())?;
        assert_eq!(
            table.check(&wang, &id("A123456789")?).await,
            IdMatch::NoMatch
        );
        // the precheck wins over the table: wang's certificate says …6789
        let json = format!(
            r#"{{"certificates":[{{"certificate_sha256":"{}","national_id":"S224680133"}}]}}"#,
            wang.sha256_hex()
        );
        let table = TableIdVerifier::from_json(json.as_bytes())?;
        assert_eq!(
            table.check(&wang, &id("S224680133")?).await,
            IdMatch::NoMatch
        );
        // upper-case hex is the same hash
        let json = format!(
            r#"{{"certificates":[{{"certificate_sha256":"{}","national_id":"A123456789"}}]}}"#,
            wang.sha256_hex().to_uppercase()
        );
        let table = TableIdVerifier::from_json(json.as_bytes())?;
        assert_eq!(table.check(&wang, &id("A123456789")?).await, IdMatch::Match);
        Ok(())
    }

    #[test]
    fn bad_tables_are_refused() -> R {
        let dir = tempfile::tempdir()?;
        assert!(matches!(
            TableIdVerifier::from_file(&dir.path().join("missing.json")),
            Err(IdVerificationError::Read { .. })
        ));
        let sha = "ab".repeat(32);
        for (what, json) in [
            ("not JSON", "nope".to_owned()),
            ("no list", "{}".to_owned()),
            ("unknown field", r#"{"certificates":[],"x":1}"#.to_owned()),
            (
                "short hash",
                r#"{"certificates":[{"certificate_sha256":"abcd","national_id":"A123456789"}]}"#
                    .to_owned(),
            ),
            (
                "bad ID",
                format!(
                    r#"{{"certificates":[{{"certificate_sha256":"{sha}","national_id":"A123456788"}}]}}"#
                ),
            ),
            (
                "two IDs",
                format!(
                    r#"{{"certificates":[{{"certificate_sha256":"{sha}","national_id":"A123456789"}},{{"certificate_sha256":"{sha}","national_id":"S224680133"}}]}}"#
                ),
            ),
        ] {
            match TableIdVerifier::from_json(json.as_bytes()) {
                Err(IdVerificationError::InvalidTable(msg)) => {
                    // personal data stays out of the message
                    assert!(!msg.contains("A12345678"), "{what}: {msg}");
                }
                other => panic!("{what}: {other:?}"),
            }
        }
        Ok(())
    }

    #[test]
    fn the_http_verifier_wants_https() -> R {
        let trust = TrustSettings::default();
        for bad in [
            "http://127.0.0.1:8080/verify",
            "http://moica.example/verify",
            "ftp://x/y",
        ] {
            assert!(
                matches!(
                    HttpIdVerifier::new(bad, None, &trust),
                    Err(IdVerificationError::InsecureUrl(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            HttpIdVerifier::new("not a url", None, &trust),
            Err(IdVerificationError::BadUrl(_))
        ));
        let v = HttpIdVerifier::new(
            "https://moica.example/verify?key=q",
            Some("sekrit-token".into()),
            &trust,
        )?;
        let shown = format!("{v:?}");
        assert!(
            !shown.contains("sekrit") && !shown.contains("key=q"),
            "{shown}"
        );
        Ok(())
    }

    #[tokio::test]
    async fn an_unreachable_service_is_unavailable() -> R {
        let v = HttpIdVerifier::new(
            "https://127.0.0.1:1/verify",
            None,
            &TrustSettings::default(),
        )?;
        let wang = verified("wang")?;
        assert_eq!(
            v.check(&wang, &id("A123456789")?).await,
            IdMatch::Unavailable
        );
        // the precheck needs no service
        assert_eq!(v.check(&wang, &id("S224680133")?).await, IdMatch::NoMatch);
        Ok(())
    }

    #[tokio::test]
    async fn the_http_service_contract() -> R {
        use axum::http::{HeaderMap, StatusCode};
        use axum::response::IntoResponse;
        use axum::routing::post;

        // (Authorization header, body) of every request
        type Seen = Arc<Mutex<Vec<(Option<String>, IdQuery)>>>;
        let seen: Seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let table = Arc::new(TableIdVerifier::from_file(&test_pki().id_table_path())?);
        let app = axum::Router::new()
            .route(
                "/verify",
                post(
                    move |headers: HeaderMap, axum::Json(q): axum::Json<IdQuery>| {
                        let record = record.clone();
                        let table = table.clone();
                        async move {
                            let auth = headers
                                .get("authorization")
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned);
                            record.lock().map(|mut r| r.push((auth, q.clone()))).ok();
                            // the service's own lookup: the test table by the certificate's hash
                            use sha2::Digest as _;
                            let der = base64::engine::general_purpose::STANDARD
                                .decode(&q.certificate)
                                .unwrap_or_default();
                            let sha: [u8; 32] = sha2::Sha256::digest(&der).into();
                            let hit = table
                                .table
                                .get(&sha)
                                .is_some_and(|id| id.as_str() == q.national_id);
                            let result = if hit {
                                IdAnswerResult::Match
                            } else {
                                IdAnswerResult::NoMatch
                            };
                            axum::Json(IdAnswer { result })
                        }
                    },
                ),
            )
            .route(
                "/down",
                post(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
            )
            .route(
                "/garbage",
                post(|| async { (StatusCode::OK, "{\"result\":\"maybe\"}").into_response() }),
            )
            .route("/html", post(|| async { "<html>ok</html>" }))
            .route(
                "/huge",
                post(|| async {
                    let mut body = b"{\"result\":\"match\",\"pad\":\"".to_vec();
                    body.resize(MAX_ANSWER_BYTES + 1, b'x');
                    body.extend_from_slice(b"\"}");
                    (StatusCode::OK, body).into_response()
                }),
            )
            .route(
                "/redirect",
                post(|| async { (StatusCode::FOUND, [("location", "/verify")]).into_response() }),
            )
            .route(
                "/slow",
                post(|| async {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    axum::Json(IdAnswer {
                        result: IdAnswerResult::Match,
                    })
                }),
            );
        let server = TestHttps::start(app).await?;
        let wang = verified("wang")?;
        let a = id("A123456789")?;

        let v = HttpIdVerifier::new(
            &format!("{}/verify", server.base),
            Some("the-token".into()),
            &server.trust(),
        )?;
        assert_eq!(v.check(&wang, &a).await, IdMatch::Match);
        let same_tail = ids_ending_in("6789", "A123456789");
        let other = same_tail.first().ok_or("no ID")?;
        assert_eq!(v.check(&wang, other).await, IdMatch::NoMatch);
        {
            let seen = seen.lock().map_err(|_| "lock")?;
            assert_eq!(seen.len(), 2);
            assert_eq!(seen[0].0.as_deref(), Some("Bearer the-token"));
            assert_eq!(seen[0].1.national_id, "A123456789");
            let der = base64::engine::general_purpose::STANDARD.decode(&seen[0].1.certificate)?;
            assert_eq!(der, wang.der());
        }
        // the precheck answers without a request
        assert_eq!(v.check(&wang, &id("S224680133")?).await, IdMatch::NoMatch);
        assert_eq!(seen.lock().map_err(|_| "lock")?.len(), 2);

        // no token configured: no Authorization header
        let v = HttpIdVerifier::new(&format!("{}/verify", server.base), None, &server.trust())?;
        assert_eq!(v.check(&wang, &a).await, IdMatch::Match);
        assert_eq!(seen.lock().map_err(|_| "lock")?[2].0, None);

        for path in [
            "/down",
            "/garbage",
            "/html",
            "/huge",
            "/redirect",
            "/missing",
        ] {
            let v = HttpIdVerifier::new(&format!("{}{path}", server.base), None, &server.trust())?;
            assert_eq!(v.check(&wang, &a).await, IdMatch::Unavailable, "{path}");
        }
        let v = HttpIdVerifier::new(&format!("{}/slow", server.base), None, &server.trust())?
            .with_timeout(Duration::from_millis(300));
        let started = std::time::Instant::now();
        assert_eq!(v.check(&wang, &a).await, IdMatch::Unavailable);
        assert!(started.elapsed() < Duration::from_secs(2));
        // the service's certificate is not trusted by the system store alone
        let v = HttpIdVerifier::new(
            &format!("{}/verify", server.base),
            None,
            &TrustSettings::default(),
        )?;
        assert_eq!(v.check(&wang, &a).await, IdMatch::Unavailable);
        Ok(())
    }
}
