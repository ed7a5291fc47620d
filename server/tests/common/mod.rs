//! Test harness: the real router and services on SQLite (temp file) or PostgreSQL (a fresh
//! database per test under NHI_TEST_POSTGRES_URL), the file mailer in a temp dir, and a
//! software card that answers proofs with the test master key (as the virtual card does).
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt as _;
use nhi_protocol::api::{CardProof, HouseholdInfo, ProofPurpose, CSRF_HEADER};
use nhi_protocol::card_proof::{self, CardRecord, MasterKey, Nonce, TEST_MASTER_KEY_HEX};
use nhi_protocol::CardBasicData;
use nhi_server::app::{build, App, Overrides};
use nhi_server::config::Config;
use nhi_server::workers::bulk_jobs::BulkWorker;
use serde_json::{json, Value};
use sqlx::Connection as _;
use tower::ServiceExt as _;

pub const ORIGIN: &str = "http://localhost:8080";
pub const PASSWORD: &str = "Tea-Pot-42!";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Runs a test body on both engines: `both_engines!(name, |h| async move { ... })`.
#[macro_export]
macro_rules! both_engines {
    ($name:ident, $body:expr) => {
        $crate::both_engines_with!($name, |_| {}, $body);
    };
}

/// The same with a configuration tweak: `both_engines_with!(name, |c| ..., |h| async move {})`.
#[macro_export]
macro_rules! both_engines_with {
    ($(#[$attr:meta])* $name:ident, $tweak:expr, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[$attr])*
            async fn sqlite() {
                let h = common::Harness::new(common::Engine::Sqlite, $tweak)
                    .await
                    .expect("sqlite harness");
                ($body)(h).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[$attr])*
            async fn postgres() {
                let Some(h) = common::Harness::new(common::Engine::Postgres, $tweak).await else {
                    return;
                };
                ($body)(h).await;
            }
        }
    };
}

/// What `NHI_TEST_POSTGRES` asks of the PostgreSQL variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostgresMode {
    /// Unset: use `NHI_TEST_POSTGRES_URL` or start a cluster; if neither works, SKIP (pass
    /// with a loud line).
    Auto,
    /// `skip`: do not look for PostgreSQL; every PostgreSQL variant SKIPs.
    Skip,
    /// `require` (CI, `scripts/test.sh`): a PostgreSQL variant that would SKIP FAILS instead.
    Require,
}

impl PostgresMode {
    /// The mode for a value of `NHI_TEST_POSTGRES`; any other value is an error (a typo must
    /// not quietly turn `require` into a skip).
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        match value {
            None | Some("") => Ok(Self::Auto),
            Some("skip") => Ok(Self::Skip),
            Some("require") => Ok(Self::Require),
            Some(other) => Err(format!(
                "NHI_TEST_POSTGRES={other:?}: expected `require`, `skip` or unset"
            )),
        }
    }

    pub fn from_env() -> Self {
        let value = std::env::var("NHI_TEST_POSTGRES").ok();
        match Self::parse(value.as_deref()) {
            Ok(mode) => mode,
            Err(e) => panic!("{e}"),
        }
    }
}

/// The skip-or-fail decision for a PostgreSQL variant: with a server (`base`) it runs
/// (`Ok(Some(base))`); without one it SKIPs (`Ok(None)`), unless the mode is
/// [`PostgresMode::Require`], where it is an error that fails the test. `why` says why there
/// is no server.
pub fn postgres_decision(
    mode: PostgresMode,
    base: Option<String>,
    why: &str,
) -> Result<Option<String>, String> {
    match (base, mode) {
        (Some(base), _) => Ok(Some(base)),
        (None, PostgresMode::Require) => Err(format!(
            "NHI_TEST_POSTGRES=require, but there is no PostgreSQL: {why}"
        )),
        (None, PostgresMode::Auto | PostgresMode::Skip) => Ok(None),
    }
}

/// The PostgreSQL server for the tests: `NHI_TEST_POSTGRES_URL`, or else the private cluster
/// that `scripts/postgres.sh start` installs/starts (once per test binary). None when that is
/// impossible or `NHI_TEST_POSTGRES=skip`; the error says why.
fn postgres_base_url() -> Result<String, String> {
    static BASE: std::sync::OnceLock<Result<String, String>> = std::sync::OnceLock::new();
    BASE.get_or_init(|| {
        if let Ok(url) = std::env::var("NHI_TEST_POSTGRES_URL") {
            return Ok(url);
        }
        if PostgresMode::from_env() == PostgresMode::Skip {
            return Err("NHI_TEST_POSTGRES=skip".into());
        }
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/postgres.sh");
        let out = std::process::Command::new(&script)
            .arg("start")
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{} failed: {}",
                script.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("export NHI_TEST_POSTGRES_URL="))
            .map(str::to_owned)
            .ok_or_else(|| format!("{} printed no URL", script.display()))
    })
    .clone()
}

/// A fresh PostgreSQL database URL, or None (with a loud SKIPPED line). Panics instead of
/// skipping under `NHI_TEST_POSTGRES=require`.
pub async fn postgres_url() -> Option<String> {
    let mode = PostgresMode::from_env();
    let found = tokio::task::spawn_blocking(postgres_base_url)
        .await
        .unwrap_or_else(|e| Err(format!("looking for PostgreSQL panicked: {e}")));
    let why = found.as_ref().err().cloned().unwrap_or_default();
    let base = match postgres_decision(mode, found.ok(), &why) {
        Ok(Some(base)) => base,
        Ok(None) => {
            eprintln!(
                "SKIPPED: PostgreSQL variant: no PostgreSQL ({why}; set NHI_TEST_POSTGRES_URL or let scripts/postgres.sh start one)"
            );
            return None;
        }
        Err(e) => panic!("{e}"),
    };
    let name = format!("nhi_t_{}", hex::encode(rand::random::<[u8; 6]>()));
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .expect("connect to the test PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let (prefix, _) = base.rsplit_once('/').expect("URL with a database name");
    Some(format!("{prefix}/{name}"))
}

pub struct Harness {
    pub app: App,
    pub engine: Engine,
    pub dir: tempfile::TempDir,
    pub mail_dir: PathBuf,
    master: MasterKey,
}

/// A person the virtual card can play, with their household data.
#[derive(Debug, Clone)]
pub struct Holder {
    pub card: CardBasicData,
    pub household: HouseholdInfo,
}

pub fn holders() -> Vec<Holder> {
    let v: Value =
        serde_json::from_str(include_str!("../../../data/sample/card-holders.json")).expect("json");
    v["holders"]
        .as_array()
        .expect("holders")
        .iter()
        .map(|h| Holder {
            card: serde_json::from_value(h.clone()).expect("card data"),
            household: serde_json::from_value(h.clone()).expect("household"),
        })
        .collect()
}

pub fn holder(i: usize) -> Holder {
    holders().swap_remove(i)
}

pub fn test_config(dir: &std::path::Path) -> Config {
    Config {
        public_origin: ORIGIN.into(),
        database_url: format!("sqlite://{}?mode=rwc", dir.join("nhi.db").display()),
        mail_dir: dir.join("mail"),
        dist_dir: dir.join("dist"),
        // Fast hashes in tests; the benchmark and one test use the production parameters.
        argon2_memory_kib: 1024,
        argon2_iterations: 1,
        rate_limit_per_minute: 0,
        ..Config::default()
    }
}

impl Harness {
    pub async fn new(engine: Engine, tweak: impl FnOnce(&mut Config)) -> Option<Self> {
        Self::with_overrides(engine, tweak, Overrides::default()).await
    }

    pub async fn with_overrides(
        engine: Engine,
        tweak: impl FnOnce(&mut Config),
        o: Overrides,
    ) -> Option<Self> {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = test_config(dir.path());
        if engine == Engine::Postgres {
            config.database_url = postgres_url().await?;
        }
        tweak(&mut config);
        let mail_dir = config.mail_dir.clone();
        let app = build(config, o).await.expect("app builds");
        let master = MasterKey::from_hex(TEST_MASTER_KEY_HEX).expect("key");
        Some(Self {
            app,
            engine,
            dir,
            mail_dir,
            master,
        })
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut b = Request::builder().method(method.clone()).uri(path);
        let has = |name: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
        if method != Method::GET {
            if !has(CSRF_HEADER) {
                b = b.header(CSRF_HEADER, "1");
            }
            if !has("origin") {
                b = b.header(header::ORIGIN, ORIGIN);
            }
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = match body {
            Some(v) => b
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(v.to_string())),
            None => b.body(Body::empty()),
        }
        .expect("request");
        let resp = self
            .app
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            json,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.request(Method::POST, path, Some(body), &[]).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.request(Method::GET, path, None, &[]).await
    }

    /// A fresh nonce for `purpose`.
    pub async fn nonce(&self, purpose: ProofPurpose) -> Nonce {
        let body = json!({ "purpose": purpose });
        let r = self
            .request(Method::POST, "/api/v1/card-proof/nonce", Some(body), &[])
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        serde_json::from_value(r.json["nonce"].clone()).expect("nonce")
    }

    /// What the bridge + a card holding `card`'s record answer for `origin` (proof v2).
    pub fn answer(&self, card: &CardBasicData, origin: &str, nonce: Nonce) -> CardProof {
        let record = CardRecord::encode(card).expect("record encodes");
        self.answer_record(&record, origin, nonce)
    }

    /// What a card storing `record` answers for `origin`.
    pub fn answer_record(&self, record: &CardRecord, origin: &str, nonce: Nonce) -> CardProof {
        let key = card_proof::derive_card_key(&self.master, record);
        let mac = card_proof::card_mac(&key, &card_proof::challenge(origin, &nonce), record);
        CardProof::new(nonce, *record, mac)
    }

    /// A proof of `h`'s card on a fresh nonce for `purpose`, as JSON.
    pub async fn proof(&self, h: &Holder, purpose: ProofPurpose) -> Value {
        let n = self.nonce(purpose).await;
        serde_json::to_value(self.answer(&h.card, ORIGIN, n)).expect("json")
    }

    pub async fn register_body(&self, h: &Holder, email: &str, password: &str) -> Value {
        json!({
            "proof": self.proof(h, ProofPurpose::Register).await,
            "household": h.household,
            "password": password,
            "email": email,
            "mobile": "0912345678",
            "phone": "02-23456789",
        })
    }

    pub async fn register(&self, h: &Holder, email: &str) -> Resp {
        let body = self.register_body(h, email, PASSWORD).await;
        self.post("/api/v1/registrations", body).await
    }

    /// Runs the outbox worker until nothing is due.
    pub async fn drain_outbox(&self) {
        while self.app.worker.tick().await.expect("outbox tick") > 0 {}
    }

    /// Every outbox mail: (kind, recipient, text, sent?).
    pub async fn outbox(&self) -> Vec<(String, String, String, bool)> {
        let mut conn = self.app.services.db.conn().await.expect("conn");
        nhi_server::storage::outbox::all(&mut conn)
            .await
            .expect("outbox")
            .into_iter()
            .map(|(m, sent)| (m.kind, m.recipient, m.text_body, sent.is_some()))
            .collect()
    }

    /// The ticket of the newest activation mail to `email`.
    pub async fn ticket_for(&self, email: &str) -> String {
        let mails = self.outbox().await;
        let (_, _, text, _) = mails
            .iter()
            .rev()
            .find(|(k, to, _, _)| k == "activation" && to == email)
            .expect("activation mail");
        ticket_in(text)
    }

    pub fn mail_files(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&self.mail_dir)
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    pub async fn confirm(&self, h: &Holder, ticket: &str) -> Resp {
        let body = json!({ "ticket": ticket, "proof": self.proof(h, ProofPurpose::Confirm).await });
        self.post("/api/v1/registrations/confirm", body).await
    }

    pub async fn login(&self, h: &Holder, password: &str) -> Resp {
        let body =
            json!({ "proof": self.proof(h, ProofPurpose::Login).await, "password": password });
        self.post("/api/v1/session", body).await
    }

    /// Registers and confirms.
    pub async fn active_account(&self, h: &Holder, email: &str) {
        let r = self.register(h, email).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
        let ticket = self.ticket_for(email).await;
        let r = self.confirm(h, &ticket).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }

    pub async fn exec(&self, sql: &str) {
        sqlx::query(sql)
            .execute(self.app.services.db.pool())
            .await
            .expect("sql");
    }

    pub async fn audit_actions(&self) -> Vec<(String, String)> {
        let mut conn = self.app.services.db.conn().await.expect("conn");
        let mut v: Vec<_> = nhi_server::storage::audit::recent(&mut conn, 1000)
            .await
            .expect("audit")
            .into_iter()
            .map(|a| (a.action, a.outcome))
            .collect();
        v.reverse();
        v
    }
}

// ---- Insured units (F4–F7) ------------------------------------------------------------

/// The sample unit that holder 0 (王小明) administers.
pub const UNIT: &str = "12345678";

/// Registers, confirms and logs in holder `i`; returns the cookie pair.
pub async fn logged_in(h: &Harness, i: usize) -> String {
    let p = holder(i);
    let email = format!("person{i}@example.com");
    h.active_account(&p, &email).await;
    let r = h.login(&p, PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    session_pair(&r)
}

/// The whole `Set-Cookie` header of an answer (a login's).
pub fn set_cookie(r: &Resp) -> String {
    r.headers[header::SET_COOKIE]
        .to_str()
        .expect("set-cookie")
        .to_owned()
}

/// The `name=value` pair of a login answer's `Set-Cookie`, as the browser sends it back.
pub fn session_pair(r: &Resp) -> String {
    let sc = set_cookie(r);
    sc.split(';').next().unwrap_or_default().to_owned()
}

/// A request with the session cookie `cookie` (a [`logged_in`] pair).
pub async fn request_as(
    h: &Harness,
    method: Method,
    cookie: &str,
    path: &str,
    body: Option<Value>,
) -> Resp {
    h.request(method, path, body, &[("cookie", cookie)]).await
}

pub async fn get_as(h: &Harness, cookie: &str, path: &str) -> Resp {
    request_as(h, Method::GET, cookie, path, None).await
}

pub async fn post_as(h: &Harness, cookie: &str, path: &str, body: Value) -> Resp {
    request_as(h, Method::POST, cookie, path, Some(body)).await
}

/// A bulk-upload CSV of `people` (no header line), the n-th with `{prefix}{n}@example.com`.
pub fn people_csv(people: &[nhi_server::storage::units::InsuredRow], prefix: &str) -> String {
    let mut csv = String::new();
    for (i, p) in people.iter().enumerate() {
        csv.push_str(&format!(
            "{},{},{},{prefix}{i}@example.com\n",
            p.national_id, p.name, p.birth_date
        ));
    }
    csv
}

// ---- The real binary ------------------------------------------------------------------

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The `nhi-server` binary listening on `port` with database `db`, its mail and dist folders
/// in `dir`, and no configuration file; the caller adds the rest and spawns it.
pub fn server_command(dir: &std::path::Path, db: &str, port: u16) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_nhi-server"));
    cmd.env("NHI_LISTEN", format!("127.0.0.1:{port}"))
        .env("NHI_PUBLIC_ORIGIN", ORIGIN)
        .env("NHI_DATABASE_URL", db)
        .env("NHI_MAIL_DIR", dir.join("mail"))
        .env("NHI_DIST_DIR", dir.join("dist"))
        .env_remove("NHI_CONFIG");
    cmd
}

/// Waits (up to 30 s) until the server at `base` answers `/healthz`.
pub async fn wait_healthy(base: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if reqwest::get(format!("{base}/healthz"))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("nhi-server did not become healthy");
}

/// A spawned server process; killed (SIGKILL) and reaped on drop.
pub struct ChildServer(pub std::process::Child);

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Uploads raw bytes as a file (the SPA sends the file itself as the body).
pub async fn upload(
    h: &Harness,
    cookie: &str,
    name: &str,
    bytes: Vec<u8>,
) -> (StatusCode, Value, Vec<u8>) {
    raw(h, upload_request(cookie, name, bytes)).await
}

/// The request the SPA sends to upload `bytes` as file `name` to [`UNIT`].
pub fn upload_request(cookie: &str, name: &str, bytes: Vec<u8>) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/units/{UNIT}/uploads"))
        .header(CSRF_HEADER, "1")
        .header(header::ORIGIN, ORIGIN)
        .header("cookie", cookie)
        .header("x-file-name", name)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(Body::from(bytes))
        .expect("request")
}

pub async fn raw(h: &Harness, req: Request<Body>) -> (StatusCode, Value, Vec<u8>) {
    let resp = h.app.router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        bytes.to_vec(),
    )
}

/// Runs the bulk worker until no job is left.
pub async fn run_jobs(h: &Harness) {
    let w = BulkWorker::new(h.app.services.clone());
    while w.tick().await.expect("bulk tick") {}
}

/// People insured in unit 12345678 besides the card holders (from the sample file).
pub fn sample_people() -> Vec<(String, String, String)> {
    let v: Value = serde_json::from_str(nhi_server::services::units::BUNDLED_UNITS).expect("json");
    v["units"][0]["insured"]
        .as_array()
        .expect("insured")
        .iter()
        .skip(4)
        .map(|p| {
            (
                p["national_id"].as_str().expect("id").to_owned(),
                p["name"].as_str().expect("name").to_owned(),
                p["birth_date"].as_str().expect("birth").to_owned(),
            )
        })
        .collect()
}

pub async fn count(h: &Harness, sql: &str) -> i64 {
    let row: (i64,) = sqlx::query_as(sql)
        .fetch_one(h.app.services.db.pool())
        .await
        .expect("count");
    row.0
}

pub fn bulk_ticket(mails: &[(String, String, String, bool)], to: &str) -> String {
    let (_, _, text, _) = mails
        .iter()
        .rev()
        .find(|m| m.0 == "bulk_activation" && m.1 == to)
        .expect("bulk activation mail");
    ticket_in(text)
}

pub fn ticket_in(text: &str) -> String {
    let start = text.find("ticket=").expect("link in mail") + "ticket=".len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
    pub text: String,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.json["code"].as_str().unwrap_or("")
    }
}

pub type Shared<T> = Arc<T>;
