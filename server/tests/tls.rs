//! TLS where data leaves the machine (issue 10, item 7): the HTTP household registry and SMTP
//! over rustls against servers started here, with a test CA and server certificates made at
//! run time (rcgen). Each adapter must work with the CA file configured, and fail — with an
//! error, not a panic, and before any personal data is sent — without it (unknown issuer) and
//! for a certificate naming another host. Plus the configuration rules: no plaintext to a host
//! that is not loopback, no credentials without TLS.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use common::{holder, Engine, Harness};
use nhi_server::adapters::mailer::{
    parse_from, Mail, MailError, Mailer, SmtpMailer, SmtpSettings, SmtpTls,
};
use nhi_server::adapters::registry::{
    HouseholdRegistry, HttpRegistry, RegistryAnswer, RegistryError, RegistryQuery,
};
use nhi_server::adapters::tls::TrustSettings;
use nhi_server::config::{Config, ConfigError, MailerKind, RegistryKind};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncWrite, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

// ---------------------------------------------------------------------------------------
// The test PKI

/// A CA made for this test run; its certificate is written to `ca_file` (PEM).
struct TestCa {
    _dir: tempfile::TempDir,
    ca_file: PathBuf,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // A name of its own: two test CAs must not look like one (same name, other key).
        static SERIAL: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
        let n = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        params.distinguished_name.push(
            DnType::CommonName,
            format!("NHI test CA {n} (tests/tls.rs)"),
        );
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let issuer =
            CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA");
        let dir = tempfile::tempdir().expect("dir");
        let ca_file = dir.path().join("test-ca.pem");
        std::fs::write(&ca_file, issuer.pem()).expect("write CA");
        Self {
            _dir: dir,
            ca_file,
            issuer,
        }
    }

    /// A server configuration with a certificate for `names` (DNS names or IP addresses)
    /// signed by this CA.
    fn server_config(&self, names: &[&str]) -> Arc<rustls::ServerConfig> {
        let key = KeyPair::generate().expect("key");
        let mut params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, names.first().copied().unwrap_or("test"));
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server config");
        Arc::new(config)
    }

    /// The CA file added to the system roots.
    fn trust(&self) -> TrustSettings {
        TrustSettings {
            ca_file: Some(self.ca_file.clone()),
            system_roots: true,
        }
    }
}

const LOCALHOST: &[&str] = &["localhost", "127.0.0.1"];

/// Waits (at most 5 s) for what a server task records after the client has returned.
async fn eventually(done: impl Fn() -> bool) {
    for _ in 0..100 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not record it within 5 s");
}

// ---------------------------------------------------------------------------------------
// A local HTTPS registry (axum over tokio-rustls)

/// Accepts TCP connections and completes the TLS handshake; connections whose handshake
/// fails (the client refused the certificate) are dropped and counted.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    failed_handshakes: Arc<Mutex<usize>>,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            match tokio::time::timeout(Duration::from_secs(5), self.acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => return (tls, addr),
                _ => *self.failed_handshakes.lock().expect("lock") += 1,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// The registry's JSON contract (as in tests/adapters.rs), over TLS; records every query.
struct TlsRegistry {
    port: u16,
    queries: Arc<Mutex<Vec<RegistryQuery>>>,
    failed_handshakes: Arc<Mutex<usize>>,
}

impl TlsRegistry {
    async fn start(config: Arc<rustls::ServerConfig>) -> Self {
        let queries = Arc::new(Mutex::new(Vec::new()));
        let seen = queries.clone();
        let app = Router::new().route(
            "/check",
            post(move |Json(q): Json<RegistryQuery>| async move {
                let matches = q.national_id == "B223456719"
                    && q.household_number == "B0012345"
                    && q.neighbourhood == 12;
                seen.lock().expect("lock").push(q);
                Json(RegistryAnswer { matches })
            }),
        );
        let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = tcp.local_addr().expect("addr").port();
        let failed_handshakes = Arc::new(Mutex::new(0));
        let listener = TlsListener {
            tcp,
            acceptor: TlsAcceptor::from(config),
            failed_handshakes: failed_handshakes.clone(),
        };
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            port,
            queries,
            failed_handshakes,
        }
    }

    fn url(&self, host: &str) -> String {
        format!("https://{host}:{}/check", self.port)
    }

    fn queries(&self) -> usize {
        self.queries.lock().expect("lock").len()
    }

    fn failed_handshakes(&self) -> usize {
        *self.failed_handshakes.lock().expect("lock")
    }
}

/// Chen (holder 1) as the registry knows her.
fn chen_query() -> RegistryQuery {
    RegistryQuery {
        national_id: "B223456719".into(),
        name: "陳美麗".into(),
        birth_date: "0851225".into(),
        card_number: "000023456789".into(),
        household_number: "B0012345".into(),
        county: "臺中市".into(),
        township: "西屯區".into(),
        village: "福安里".into(),
        neighbourhood: 12,
    }
}

fn registry(url: &str, trust: &TrustSettings) -> HttpRegistry {
    HttpRegistry::new(url, Duration::from_secs(5), trust).expect("adapter builds")
}

/// The registry at `url`, trusting `trust`, refuses the query with a TLS error: its message.
async fn registry_tls_error(url: &str, trust: &TrustSettings) -> String {
    match registry(url, trust)
        .check(&chen_query())
        .await
        .expect_err("refused")
    {
        RegistryError::Tls(m) => m,
        other => panic!("not a TLS error: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_registry_with_the_ca_file_follows_the_contract() {
    let ca = TestCa::new();
    let server = TlsRegistry::start(ca.server_config(LOCALHOST)).await;
    // By name and by IP address (the certificate has both SANs); the CA file added to the
    // system roots, and replacing them.
    for (host, system_roots) in [
        ("localhost", true),
        ("127.0.0.1", true),
        ("localhost", false),
    ] {
        let trust = TrustSettings {
            ca_file: Some(ca.ca_file.clone()),
            system_roots,
        };
        let r = registry(&server.url(host), &trust);
        assert!(r.check(&chen_query()).await.expect("answer"), "{host}");
        let mut other = chen_query();
        other.neighbourhood = 13;
        assert!(!r.check(&other).await.expect("answer"), "{host}");
    }
    assert_eq!(server.queries(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_registry_without_the_ca_file_is_an_unknown_issuer() {
    let ca = TestCa::new();
    let server = TlsRegistry::start(ca.server_config(LOCALHOST)).await;
    // The system roots only: the test CA is not among them.
    let err = registry_tls_error(&server.url("localhost"), &TrustSettings::default()).await;
    assert!(err.contains("UnknownIssuer"), "{err}");
    // A CA file of another CA, replacing the system roots: the same.
    let other = TestCa::new();
    let trust = TrustSettings {
        ca_file: Some(other.ca_file.clone()),
        system_roots: false,
    };
    let err = registry_tls_error(&server.url("localhost"), &trust).await;
    assert!(err.contains("UnknownIssuer"), "{err}");
    assert_eq!(server.queries(), 0, "no query reached the server");
    // The server saw both handshakes fail (the client aborted them).
    eventually(|| server.failed_handshakes() == 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_registry_with_a_certificate_for_another_name_is_refused() {
    let ca = TestCa::new();
    let server = TlsRegistry::start(ca.server_config(&["registry.elsewhere.example"])).await;
    for host in ["localhost", "127.0.0.1"] {
        let err = registry_tls_error(&server.url(host), &ca.trust()).await;
        assert!(err.contains("not valid for name"), "{host}: {err}");
    }
    assert_eq!(server.queries(), 0, "no query reached the server");
}

#[test]
fn the_registry_adapter_refuses_plain_http_off_loopback() {
    for url in [
        "http://registry.example/check",
        "http://10.0.0.1/check",
        "ftp://registry.example/check",
        "registry.example/check",
    ] {
        let err = HttpRegistry::new(url, Duration::from_secs(1), &TrustSettings::default())
            .err()
            .unwrap_or_else(|| panic!("{url} refused"));
        assert!(matches!(err, RegistryError::Setup(_)), "{url}: {err}");
    }
    for url in [
        "http://127.0.0.1:9/check",
        "http://localhost:9/check",
        "http://[::1]:9/check",
    ] {
        assert!(
            HttpRegistry::new(url, Duration::from_secs(1), &TrustSettings::default()).is_ok(),
            "{url}"
        );
    }
}

/// The whole app: `registry_ca_file` reaches the adapter that app.rs builds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_checks_households_over_https_with_the_configured_ca() {
    let ca = TestCa::new();
    let server = TlsRegistry::start(ca.server_config(LOCALHOST)).await;
    let chen = holder(1);
    for (ca_file, expected) in [
        (Some(ca.ca_file.clone()), StatusCode::OK),
        (None, StatusCode::SERVICE_UNAVAILABLE),
    ] {
        let url = server.url("localhost");
        let h = Harness::new(Engine::Sqlite, move |c| {
            c.registry = RegistryKind::Http;
            c.registry_url = Some(url);
            c.registry_ca_file = ca_file;
        })
        .await
        .expect("harness");
        let body = serde_json::json!({ "proof": h.proof(&chen, nhi_protocol::api::ProofPurpose::Register).await, "household": chen.household });
        let r = h.post("/api/v1/registrations/household-check", body).await;
        assert_eq!(r.status, expected, "{}", r.text);
        if expected != StatusCode::OK {
            assert_eq!(r.code(), "registry_unavailable");
        }
    }
    assert_eq!(server.queries(), 1);
}

// ---------------------------------------------------------------------------------------
// A local SMTP server over tokio-rustls

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SmtpMode {
    /// TLS from the first byte.
    Implicit,
    /// Plaintext greeting, STARTTLS offered, then TLS.
    StartTls,
    /// Plaintext, no STARTTLS offered.
    Plain,
}

/// One message the server accepted.
#[derive(Debug, Clone)]
struct Received {
    from: String,
    to: Vec<String>,
    data: String,
    /// The decoded AUTH PLAIN response, if the client authenticated.
    auth: Option<String>,
    /// Whether the connection was TLS when the message (and any AUTH) came.
    encrypted: bool,
}

#[derive(Default)]
struct SmtpLog {
    messages: Vec<Received>,
    /// AUTH commands seen on a plaintext connection (must stay 0).
    plaintext_auth: usize,
    failed_handshakes: usize,
}

struct TestSmtp {
    port: u16,
    log: Arc<Mutex<SmtpLog>>,
}

impl TestSmtp {
    async fn start(mode: SmtpMode, config: Arc<rustls::ServerConfig>) -> Self {
        let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = tcp.local_addr().expect("addr").port();
        let log = Arc::new(Mutex::new(SmtpLog::default()));
        let acceptor = TlsAcceptor::from(config);
        let shared = log.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = tcp.accept().await {
                let acceptor = acceptor.clone();
                let log = shared.clone();
                tokio::spawn(async move {
                    let _ = smtp_connection(stream, mode, acceptor, &log).await;
                });
            }
        });
        Self { port, log }
    }

    fn messages(&self) -> Vec<Received> {
        self.log.lock().expect("lock").messages.clone()
    }

    fn failed_handshakes(&self) -> usize {
        self.log.lock().expect("lock").failed_handshakes
    }

    fn plaintext_auth(&self) -> usize {
        self.log.lock().expect("lock").plaintext_auth
    }
}

async fn smtp_connection(
    tcp: TcpStream,
    mode: SmtpMode,
    acceptor: TlsAcceptor,
    log: &Mutex<SmtpLog>,
) -> std::io::Result<()> {
    let handshake = |acceptor: TlsAcceptor, tcp: TcpStream| async move {
        let r = tokio::time::timeout(Duration::from_secs(5), acceptor.accept(tcp)).await;
        match r {
            Ok(Ok(tls)) => Ok(tls),
            _ => {
                log.lock().expect("lock").failed_handshakes += 1;
                Err(std::io::Error::other("handshake failed"))
            }
        }
    };
    if mode == SmtpMode::Implicit {
        let mut io = BufReader::new(handshake(acceptor, tcp).await?);
        reply(&mut io, "220 localhost ESMTP test\r\n").await?;
        smtp_dialogue(&mut io, true, false, log).await?;
        return Ok(());
    }
    let mut io = BufReader::new(tcp);
    reply(&mut io, "220 localhost ESMTP test\r\n").await?;
    let offer = mode == SmtpMode::StartTls;
    if smtp_dialogue(&mut io, false, offer, log).await? {
        let mut io = BufReader::new(handshake(acceptor, io.into_inner()).await?);
        smtp_dialogue(&mut io, true, false, log).await?;
    }
    Ok(())
}

async fn reply<S: AsyncWrite + Unpin>(io: &mut S, text: &str) -> std::io::Result<()> {
    io.write_all(text.as_bytes()).await?;
    io.flush().await
}

/// Speaks SMTP until QUIT or end of stream; true when the client asked for STARTTLS (220 was
/// sent and the caller must now run the TLS handshake).
async fn smtp_dialogue<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut BufReader<S>,
    encrypted: bool,
    offer_starttls: bool,
    log: &Mutex<SmtpLog>,
) -> std::io::Result<bool> {
    let mut from = String::new();
    let mut to = Vec::new();
    let mut auth = None;
    loop {
        let mut line = String::new();
        if io.read_line(&mut line).await? == 0 {
            return Ok(false);
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            let mut answer = String::from("250-localhost\r\n");
            if offer_starttls {
                answer.push_str("250-STARTTLS\r\n");
            }
            // Like real servers, AUTH is offered only once the connection is encrypted.
            if encrypted {
                answer.push_str("250-AUTH PLAIN\r\n");
            }
            answer.push_str("250 HELP\r\n");
            reply(io, &answer).await?;
        } else if upper.starts_with("HELO") || upper == "NOOP" || upper == "RSET" {
            reply(io, "250 ok\r\n").await?;
        } else if upper == "STARTTLS" && offer_starttls {
            reply(io, "220 go ahead\r\n").await?;
            return Ok(true);
        } else if upper.starts_with("AUTH PLAIN") {
            if !encrypted {
                log.lock().expect("lock").plaintext_auth += 1;
            }
            let mut response = command["AUTH PLAIN".len()..].trim().to_owned();
            if response.is_empty() {
                reply(io, "334 \r\n").await?;
                io.read_line(&mut response).await?;
            }
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(response.trim())
                .unwrap_or_default();
            auth = Some(String::from_utf8_lossy(&decoded).replace('\0', "|"));
            reply(io, "235 authenticated\r\n").await?;
        } else if upper.starts_with("MAIL FROM:") {
            from = command["MAIL FROM:".len()..].to_owned();
            reply(io, "250 ok\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            to.push(command["RCPT TO:".len()..].to_owned());
            reply(io, "250 ok\r\n").await?;
        } else if upper == "DATA" {
            reply(io, "354 end with <CRLF>.<CRLF>\r\n").await?;
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if io.read_line(&mut l).await? == 0 {
                    return Ok(false);
                }
                if l == ".\r\n" {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
            }
            log.lock().expect("lock").messages.push(Received {
                from: std::mem::take(&mut from),
                to: std::mem::take(&mut to),
                data,
                auth: auth.clone(),
                encrypted,
            });
            reply(io, "250 queued\r\n").await?;
        } else if upper == "QUIT" {
            reply(io, "221 bye\r\n").await?;
            return Ok(false);
        } else {
            reply(io, "502 not implemented\r\n").await?;
        }
    }
}

fn mail() -> Mail {
    Mail {
        outbox_id: 1,
        message_id: "<tls-test.activation@nhi-registration>".into(),
        kind: "activation".into(),
        to: "wang@example.com".into(),
        subject: "健保卡網路服務註冊".into(),
        text: "王○明 您好：身分證 A123456789".into(),
        html: String::new(),
        attachments: Vec::new(),
    }
}

fn smtp(
    host: &str,
    port: u16,
    tls: SmtpTls,
    trust: TrustSettings,
    credentials: Option<(&str, &str)>,
) -> Result<SmtpMailer, MailError> {
    SmtpMailer::new(SmtpSettings {
        host: host.into(),
        port,
        tls,
        trust,
        credentials: credentials.map(|(u, p)| (u.to_owned(), p.to_owned())),
        from: parse_from("NHI <no-reply@nhi.localhost>").expect("from"),
        timeout: Duration::from_secs(5),
    })
}

/// The credentials the SMTP tests log in with.
const LOGIN: Option<(&str, &str)> = Some(("nhi-mailer", "s3cret"));

/// Builds the mailer (`smtp`) and sends [`mail`] with it.
async fn send_mail(
    host: &str,
    port: u16,
    tls: SmtpTls,
    trust: TrustSettings,
    credentials: Option<(&str, &str)>,
) -> Result<(), MailError> {
    let mailer = smtp(host, port, tls, trust, credentials).expect("mailer");
    mailer.send(&mail()).await
}

fn assert_delivered(m: &Received) {
    assert!(m.encrypted, "over TLS");
    assert_eq!(m.from, "<no-reply@nhi.localhost>");
    assert_eq!(m.to, ["<wang@example.com>"]);
    assert!(m.data.contains("To: wang@example.com"), "{}", m.data);
    assert!(m
        .data
        .contains("Message-ID: <tls-test.activation@nhi-registration>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_implicit_tls_delivers_with_the_ca_file() {
    let ca = TestCa::new();
    let server = TestSmtp::start(SmtpMode::Implicit, ca.server_config(LOCALHOST)).await;
    for host in ["localhost", "127.0.0.1"] {
        send_mail(host, server.port, SmtpTls::Implicit, ca.trust(), None)
            .await
            .expect("delivered");
    }
    let msgs = server.messages();
    assert_eq!(msgs.len(), 2);
    msgs.iter().for_each(assert_delivered);
    assert!(msgs.iter().all(|m| m.auth.is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_starttls_delivers_with_the_ca_file_and_authenticates_only_after_tls() {
    let ca = TestCa::new();
    let server = TestSmtp::start(SmtpMode::StartTls, ca.server_config(LOCALHOST)).await;
    send_mail(
        "localhost",
        server.port,
        SmtpTls::Starttls,
        ca.trust(),
        LOGIN,
    )
    .await
    .expect("delivered");
    let msgs = server.messages();
    assert_eq!(msgs.len(), 1);
    assert_delivered(&msgs[0]);
    assert_eq!(msgs[0].auth.as_deref(), Some("|nhi-mailer|s3cret"));
    assert_eq!(server.plaintext_auth(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_without_the_ca_file_is_refused() {
    let ca = TestCa::new();
    for (mode, tls) in [
        (SmtpMode::Implicit, SmtpTls::Implicit),
        (SmtpMode::StartTls, SmtpTls::Starttls),
    ] {
        let server = TestSmtp::start(mode, ca.server_config(LOCALHOST)).await;
        let err = send_mail(
            "localhost",
            server.port,
            tls,
            TrustSettings::default(),
            LOGIN,
        )
        .await
        .expect_err("refused");
        assert!(
            matches!(&err, MailError::Tls(m) if m.contains("UnknownIssuer")),
            "{mode:?}: {err}"
        );
        assert!(server.messages().is_empty(), "{mode:?}: nothing delivered");
        assert_eq!(server.plaintext_auth(), 0);
        eventually(|| server.failed_handshakes() == 1).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_with_a_certificate_for_another_name_is_refused() {
    let ca = TestCa::new();
    let server = TestSmtp::start(
        SmtpMode::Implicit,
        ca.server_config(&["mail.elsewhere.example"]),
    )
    .await;
    let err = send_mail(
        "localhost",
        server.port,
        SmtpTls::Implicit,
        ca.trust(),
        None,
    )
    .await
    .expect_err("refused");
    assert!(
        matches!(&err, MailError::Tls(m) if m.contains("not valid for name")),
        "{err}"
    );
    assert!(server.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_starttls_never_falls_back_to_plaintext() {
    let ca = TestCa::new();
    let server = TestSmtp::start(SmtpMode::Plain, ca.server_config(LOCALHOST)).await;
    let err = send_mail(
        "localhost",
        server.port,
        SmtpTls::Starttls,
        ca.trust(),
        LOGIN,
    )
    .await
    .expect_err("refused");
    assert!(matches!(err, MailError::Smtp(_)), "{err}");
    assert!(server.messages().is_empty());
    assert_eq!(server.plaintext_auth(), 0);
    // Plaintext on purpose, to loopback and without credentials: delivered (a local MTA).
    send_mail("127.0.0.1", server.port, SmtpTls::None, ca.trust(), None)
        .await
        .expect("delivered");
    assert!(!server.messages()[0].encrypted);
}

#[test]
fn the_smtp_adapter_refuses_plaintext_off_loopback_and_credentials_without_tls() {
    let err = smtp(
        "mail.example",
        25,
        SmtpTls::None,
        TrustSettings::default(),
        None,
    )
    .err()
    .expect("refused");
    assert!(matches!(err, MailError::Setup(_)), "{err}");
    let err = smtp(
        "127.0.0.1",
        25,
        SmtpTls::None,
        TrustSettings::default(),
        Some(("u", "p")),
    )
    .err()
    .expect("refused");
    assert!(matches!(err, MailError::Setup(_)), "{err}");
}

/// The whole app: a registration mail goes out over implicit TLS to the configured CA.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_sends_mail_over_tls_with_the_configured_ca() {
    let ca = TestCa::new();
    let server = TestSmtp::start(SmtpMode::Implicit, ca.server_config(LOCALHOST)).await;
    let (port, ca_file) = (server.port, ca.ca_file.clone());
    let h = Harness::new(Engine::Sqlite, move |c| {
        c.mailer = MailerKind::Smtp;
        c.smtp_host = "localhost".into();
        c.smtp_port = port;
        c.smtp_tls = Some(SmtpTls::Implicit);
        c.smtp_ca_file = Some(ca_file);
        c.smtp_timeout_ms = 5000;
    })
    .await
    .expect("harness");
    assert_eq!(
        h.register(&holder(0), "wang@example.com").await.status,
        StatusCode::ACCEPTED
    );
    h.drain_outbox().await;
    let msgs = server.messages();
    assert_eq!(msgs.len(), 1);
    assert!(msgs[0].encrypted && msgs[0].data.contains("To: wang@example.com"));
    assert!(h.outbox().await.iter().all(|m| m.3), "marked sent");
}

// ---------------------------------------------------------------------------------------
// Configuration

fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::load(None, |k| {
        vars.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| (*v).to_owned())
    })
}

fn invalid_key(r: Result<Config, ConfigError>) -> &'static str {
    match r {
        Err(ConfigError::Invalid { key, message }) => {
            assert!(!message.is_empty());
            key
        }
        Err(e) => panic!("not a validation error: {e}"),
        Ok(_) => panic!("accepted"),
    }
}

#[test]
fn config_refuses_an_http_registry_off_loopback() {
    for url in [
        "http://registry.example/check",
        "http://192.168.1.10/check",
        "http://localhost.example/check",
        "ftp://registry.example/check",
        "not a url",
    ] {
        let r = load(&[("NHI_REGISTRY", "http"), ("NHI_REGISTRY_URL", url)]);
        assert_eq!(invalid_key(r), "registry_url", "{url}");
    }
    let err = load(&[
        ("NHI_REGISTRY", "http"),
        ("NHI_REGISTRY_URL", "http://registry.example/check"),
    ])
    .expect_err("refused")
    .to_string();
    assert!(
        err.contains("registry_url") && err.contains("https"),
        "{err}"
    );
    for url in [
        "https://registry.example/check",
        "http://127.0.0.1:9000/check",
        "http://127.8.9.10/check",
        "http://localhost:9000/check",
        "http://[::1]:9000/check",
    ] {
        let r = load(&[("NHI_REGISTRY", "http"), ("NHI_REGISTRY_URL", url)]);
        assert!(r.is_ok(), "{url}: {:?}", r.err());
    }
    // Not used with the sample registry, so not checked.
    assert!(load(&[("NHI_REGISTRY_URL", "http://registry.example/check")]).is_ok());
}

#[test]
fn config_refuses_plaintext_smtp_off_loopback() {
    let smtp = |host: &'static str, tls: Option<&'static str>| {
        let mut vars = vec![("NHI_MAILER", "smtp"), ("NHI_SMTP_HOST", host)];
        vars.extend(tls.map(|t| ("NHI_SMTP_TLS", t)));
        load(&vars)
    };
    assert_eq!(invalid_key(smtp("mail.example", Some("none"))), "smtp_tls");
    assert_eq!(invalid_key(smtp("10.1.2.3", Some("none"))), "smtp_tls");
    let err = smtp("mail.example", Some("none"))
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("loopback") && err.contains("starttls"),
        "{err}"
    );
    // The defaults: plaintext to the local MTA, STARTTLS to any other host.
    assert_eq!(
        smtp("127.0.0.1", None).expect("ok").smtp_tls(),
        SmtpTls::None
    );
    assert_eq!(
        smtp("localhost", Some("none")).expect("ok").smtp_tls(),
        SmtpTls::None
    );
    assert_eq!(
        smtp("mail.example", None).expect("ok").smtp_tls(),
        SmtpTls::Starttls
    );
    assert_eq!(
        smtp("mail.example", Some("implicit"))
            .expect("ok")
            .smtp_tls(),
        SmtpTls::Implicit
    );
    // An unknown mode is a parse error naming the accepted values.
    let err = smtp("mail.example", Some("tls")).expect_err("refused");
    assert!(
        matches!(&err, ConfigError::Env { message, .. } if message.contains("starttls")),
        "{err}"
    );
}

#[test]
fn config_refuses_smtp_credentials_without_tls() {
    let with_credentials = |host: &'static str, tls: Option<&'static str>| {
        let mut vars = vec![
            ("NHI_MAILER", "smtp"),
            ("NHI_SMTP_HOST", host),
            ("NHI_SMTP_USERNAME", "nhi-mailer"),
            ("NHI_SMTP_PASSWORD", "s3cret"),
        ];
        vars.extend(tls.map(|t| ("NHI_SMTP_TLS", t)));
        load(&vars)
    };
    // Even on loopback: any local user can listen on a free port and collect the password.
    assert_eq!(
        invalid_key(with_credentials("127.0.0.1", Some("none"))),
        "smtp_tls"
    );
    assert_eq!(invalid_key(with_credentials("127.0.0.1", None)), "smtp_tls");
    assert_eq!(
        invalid_key(with_credentials("mail.example", Some("none"))),
        "smtp_tls"
    );
    let err = with_credentials("127.0.0.1", None)
        .expect_err("refused")
        .to_string();
    assert!(err.contains("plaintext"), "{err}");
    assert!(with_credentials("127.0.0.1", Some("starttls")).is_ok());
    assert!(with_credentials("mail.example", None).is_ok());
    assert!(with_credentials("mail.example", Some("implicit")).is_ok());
    // A user name without a password (or the reverse) is a mistake.
    let r = load(&[
        ("NHI_MAILER", "smtp"),
        ("NHI_SMTP_HOST", "mail.example"),
        ("NHI_SMTP_USERNAME", "nhi-mailer"),
    ]);
    assert_eq!(invalid_key(r), "smtp_username");
}

#[test]
fn config_tls_keys_from_the_environment_and_the_file() {
    let cfg = load(&[
        ("NHI_REGISTRY", "http"),
        ("NHI_REGISTRY_URL", "https://registry.example/check"),
        ("NHI_REGISTRY_CA_FILE", "/etc/nhi/grca.pem"),
        ("NHI_REGISTRY_SYSTEM_ROOTS", "false"),
        ("NHI_MAILER", "smtp"),
        ("NHI_SMTP_HOST", "mail.example"),
        ("NHI_SMTP_PORT", "465"),
        ("NHI_SMTP_TLS", "implicit"),
        ("NHI_SMTP_CA_FILE", "/etc/nhi/mail-ca.pem"),
        ("NHI_SMTP_SYSTEM_ROOTS", "false"),
    ])
    .expect("loads");
    assert_eq!(
        cfg.registry_trust(),
        TrustSettings {
            ca_file: Some("/etc/nhi/grca.pem".into()),
            system_roots: false
        }
    );
    assert_eq!(cfg.smtp_tls(), SmtpTls::Implicit);
    assert_eq!(
        cfg.smtp_trust(),
        TrustSettings {
            ca_file: Some("/etc/nhi/mail-ca.pem".into()),
            system_roots: false
        }
    );
    // The defaults: the system roots, no CA file.
    let cfg = load(&[]).expect("defaults");
    assert_eq!(cfg.registry_trust(), TrustSettings::default());
    assert_eq!(cfg.smtp_trust(), TrustSettings::default());
    // Without the system roots a CA file is needed.
    let r = load(&[
        ("NHI_REGISTRY", "http"),
        ("NHI_REGISTRY_URL", "https://registry.example/check"),
        ("NHI_REGISTRY_SYSTEM_ROOTS", "false"),
    ]);
    assert_eq!(invalid_key(r), "registry_system_roots");
    let r = load(&[
        ("NHI_MAILER", "smtp"),
        ("NHI_SMTP_HOST", "mail.example"),
        ("NHI_SMTP_SYSTEM_ROOTS", "false"),
    ]);
    assert_eq!(invalid_key(r), "smtp_system_roots");
    // The same keys in a file.
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        "mailer = \"smtp\"\nsmtp_host = \"mail.example\"\nsmtp_port = 587\nsmtp_tls = \"starttls\"\n\
         smtp_ca_file = \"/etc/nhi/mail-ca.pem\"\nregistry = \"http\"\n\
         registry_url = \"https://registry.example/check\"\nregistry_ca_file = \"/etc/nhi/grca.pem\"\n",
    )
    .expect("write");
    let cfg = Config::load(Some(&path), |_| None).expect("file loads");
    assert_eq!(cfg.smtp_tls(), SmtpTls::Starttls);
    assert!(cfg.smtp_trust().system_roots && cfg.registry_trust().ca_file.is_some());
}
