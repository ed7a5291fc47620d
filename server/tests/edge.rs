//! The hardened HTTP edge (issue 10): the request log without secrets, the metrics listener,
//! trusted proxies and rate-limit keying, the session cookie's name.

mod common;

use nhi_protocol::api::ProofPurpose;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::{free_port, holder, set_cookie, ChildServer, Engine, Harness, Holder, PASSWORD};
use http_body_util::BodyExt as _;
use nhi_protocol::api::{CSRF_HEADER, SESSION_COOKIE, SESSION_COOKIE_SECURE};
use nhi_protocol::card_proof::Nonce;
use serde_json::{json, Value};
use sha2::Digest as _;
use tower::ServiceExt as _;

fn spawn_server(dir: &Path, port: u16, metrics_port: u16, log: &Path) -> ChildServer {
    let db = format!("sqlite://{}?mode=rwc", dir.join("nhi.db").display());
    let child = common::server_command(dir, &db, port)
        .env("NHI_METRICS_LISTEN", format!("127.0.0.1:{metrics_port}"))
        .env("NHI_OUTBOX_WORKER", "false")
        .env("NHI_BULK_WORKER", "false")
        .env("NHI_ARGON2_MEMORY_KIB", "1024")
        .env("NHI_ARGON2_ITERATIONS", "1")
        .env("NHI_RATE_LIMIT_PER_MINUTE", "0")
        // More than the default (`info,sqlx=warn`): also tower-http's per-request DEBUG lines.
        .env(
            "RUST_LOG",
            "info,sqlx=warn,tower_http=debug,nhi_server=debug",
        )
        .env_remove("NHI_TRUSTED_PROXIES")
        .env_remove("NHI_METRICS_TOKEN_SHA256")
        .stdout(Stdio::from(
            std::fs::File::create(log.with_extension("out")).expect("log"),
        ))
        .stderr(Stdio::from(std::fs::File::create(log).expect("log")))
        .spawn()
        .expect("spawn nhi-server");
    ChildServer(child)
}

fn read_log(log: &Path) -> String {
    let mut text = std::fs::read_to_string(log).unwrap_or_default();
    text.push_str(&std::fs::read_to_string(log.with_extension("out")).unwrap_or_default());
    text
}

/// The real binary, its real log: every request is logged with its path, and no query
/// string, ticket, cookie, bearer token or password reaches the log. /metrics is on the
/// metrics listener only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_log_has_paths_but_no_secrets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (port, metrics_port) = (free_port(), free_port());
    let log = dir.path().join("server.log");
    let _server = spawn_server(dir.path(), port, metrics_port, &log);
    let base = format!("http://127.0.0.1:{port}");
    common::wait_healthy(&base).await;
    let client = reqwest::Client::new();

    let r = client
        .get(format!("{base}/confirm?ticket=SECRET123"))
        .send()
        .await
        .expect("confirm page");
    assert_eq!(r.status(), 404, "dist is not built: the fallback's 404");
    let r = client
        .get(format!("{base}/api/v1/places?x=SECRET456"))
        .header(header::COOKIE, format!("{SESSION_COOKIE}=SECRETCOOKIE1"))
        .send()
        .await
        .expect("places");
    assert_eq!(r.status(), 200);
    let r = client
        .post(format!("{base}/api/v1/session?next=SECRET789"))
        .header(CSRF_HEADER, "1")
        .header(header::ORIGIN, common::ORIGIN)
        .header(header::COOKIE, format!("{SESSION_COOKIE}=SECRETCOOKIE2"))
        .header(header::AUTHORIZATION, "Bearer SECRETBEARER")
        .json(&json!({ "password": "SECRETPASSWORD", "proof": "nope" }))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 400);
    let r = client
        .get(format!("{base}/api/v1/me"))
        .header(header::COOKIE, format!("{SESSION_COOKIE}=SECRETCOOKIE3"))
        .send()
        .await
        .expect("me");
    assert_eq!(r.status(), 401);
    let r = client
        .get(format!("{base}/metrics"))
        .header(header::AUTHORIZATION, "Bearer SECRETBEARER2")
        .send()
        .await
        .expect("site /metrics");
    assert_eq!(r.status(), 404, "no /metrics on the site's listener");
    let r = client
        .get(format!(
            "http://127.0.0.1:{metrics_port}/metrics?y=SECRETSCRAPE"
        ))
        .send()
        .await
        .expect("metrics listener");
    assert_eq!(r.status(), 200);
    let text = r.text().await.expect("metrics text");
    assert!(text.contains("nhi_http_requests_total"), "{text}");

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut text = read_log(&log);
    while !text.contains("path=/api/v1/me") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        text = read_log(&log);
    }
    for secret in [
        "SECRET", "ticket=", "?x=", "?next", "?y=", "Bearer", "Cookie", "cookie=",
    ] {
        assert!(!text.contains(secret), "{secret} in the log:\n{text}");
    }
    for path in [
        "path=/confirm",
        "path=/api/v1/places",
        "path=/api/v1/session",
        "path=/api/v1/me",
        "path=/metrics",
        "method=POST",
    ] {
        assert!(text.contains(path), "{path} not logged:\n{text}");
    }
    assert!(text.contains("serving /metrics"), "{text}");
    // The startup line names the address to open, not only the listen address.
    assert!(
        text.contains(&format!("open {} in the browser", common::ORIGIN)),
        "{text}"
    );
}

/// A nonce and card answer for `origin` (the harness helpers use the http test origin).
async fn proof_for(h: &Harness, p: &Holder, origin: &str, purpose: ProofPurpose) -> Value {
    let r = h
        .request(
            Method::POST,
            "/api/v1/card-proof/nonce",
            Some(json!({ "purpose": purpose })),
            &[("origin", origin)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let nonce: Nonce = serde_json::from_value(r.json["nonce"].clone()).expect("nonce");
    serde_json::to_value(h.answer(&p.card, origin, nonce)).expect("json")
}

async fn post_from(h: &Harness, origin: &str, path: &str, body: Value) -> common::Resp {
    h.request(Method::POST, path, Some(body), &[("origin", origin)])
        .await
}

/// Register, confirm and log in from `origin`; the login answer.
async fn log_in(h: &Harness, origin: &str) -> common::Resp {
    let p = holder(0);
    let body = json!({
        "proof": proof_for(h, &p, origin, ProofPurpose::Register).await,
        "household": p.household,
        "password": PASSWORD,
        "email": "a@example.com",
    });
    let r = post_from(h, origin, "/api/v1/registrations", body).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let ticket = h.ticket_for("a@example.com").await;
    let body =
        json!({ "ticket": ticket, "proof": proof_for(h, &p, origin, ProofPurpose::Confirm).await });
    let r = post_from(h, origin, "/api/v1/registrations/confirm", body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let body = json!({ "proof": proof_for(h, &p, origin, ProofPurpose::Login).await, "password": PASSWORD });
    let r = post_from(h, origin, "/api/v1/session", body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r
}

/// `(name, value)` of a Set-Cookie header.
fn cookie_pair(set_cookie: &str) -> (String, String) {
    let first = set_cookie.split(';').next().unwrap_or_default();
    let (k, v) = first.split_once('=').expect("name=value");
    (k.to_owned(), v.to_owned())
}

async fn me(h: &Harness, cookie: &str) -> StatusCode {
    common::get_as(h, cookie, "/api/v1/me").await.status
}

async fn https_cookie_is_host_prefixed(engine: Engine) {
    const HTTPS: &str = "https://nhi.example";
    let Some(h) = Harness::new(engine, |c| c.public_origin = HTTPS.into()).await else {
        return;
    };
    let r = log_in(&h, HTTPS).await;
    let sc = set_cookie(&r);
    let (name, token) = cookie_pair(&sc);
    assert_eq!(name, SESSION_COOKIE_SECURE);
    assert_eq!(name, "__Host-nhi_session");
    for attr in ["; Secure", "; Path=/", "; HttpOnly", "; SameSite=Strict"] {
        assert!(sc.contains(attr), "{attr} missing: {sc}");
    }
    assert!(!sc.to_ascii_lowercase().contains("domain="), "{sc}");
    assert_eq!(
        me(&h, &format!("{SESSION_COOKIE_SECURE}={token}")).await,
        StatusCode::OK
    );
    assert_eq!(
        me(&h, &format!("{SESSION_COOKIE}={token}")).await,
        StatusCode::UNAUTHORIZED,
        "on https the unprefixed name (which a subdomain could plant) is ignored"
    );
    let r = h
        .request(
            Method::DELETE,
            "/api/v1/session",
            None,
            &[
                ("origin", HTTPS),
                ("cookie", &format!("{SESSION_COOKIE_SECURE}={token}")),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let cleared = set_cookie(&r);
    assert!(
        cleared.starts_with("__Host-nhi_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    assert!(cleared.contains("; Secure") && cleared.contains("; Path=/"));
    assert_eq!(
        me(&h, &format!("{SESSION_COOKIE_SECURE}={token}")).await,
        StatusCode::UNAUTHORIZED
    );
}

async fn http_localhost_cookie_is_plain(engine: Engine) {
    let Some(h) = Harness::new(engine, |_| {}).await else {
        return;
    };
    let r = log_in(&h, common::ORIGIN).await;
    let sc = set_cookie(&r);
    let (name, token) = cookie_pair(&sc);
    assert_eq!(name, SESSION_COOKIE);
    assert_eq!(name, "nhi_session");
    assert!(!sc.contains("Secure"), "{sc}");
    assert!(sc.contains("; Path=/") && sc.contains("; HttpOnly"));
    assert_eq!(
        me(&h, &format!("{SESSION_COOKIE}={token}")).await,
        StatusCode::OK
    );
    assert_eq!(
        me(&h, &format!("{SESSION_COOKIE_SECURE}={token}")).await,
        StatusCode::UNAUTHORIZED
    );
}

mod session_cookie_name {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn https_sqlite() {
        https_cookie_is_host_prefixed(Engine::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn https_postgres() {
        https_cookie_is_host_prefixed(Engine::Postgres).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn http_localhost_sqlite() {
        http_localhost_cookie_is_plain(Engine::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn http_localhost_postgres() {
        http_localhost_cookie_is_plain(Engine::Postgres).await;
    }
}

async fn nonce_from(h: &Harness, xff: &str) -> StatusCode {
    h.request(
        Method::POST,
        "/api/v1/card-proof/nonce",
        Some(json!({ "purpose": "login" })),
        &[("x-forwarded-for", xff)],
    )
    .await
    .status
}

/// The harness's requests have no socket peer, which counts as 127.0.0.1.
#[tokio::test]
async fn forwarded_for_counts_only_from_trusted_proxies() {
    let limited = |c: &mut nhi_server::config::Config| {
        c.rate_limit_per_minute = 1;
        c.rate_limit_burst = 1;
    };
    let h = Harness::new(Engine::Sqlite, limited)
        .await
        .expect("harness");
    assert_eq!(nonce_from(&h, "198.51.100.1").await, StatusCode::OK);
    assert_eq!(
        nonce_from(&h, "198.51.100.2").await,
        StatusCode::TOO_MANY_REQUESTS,
        "no trusted proxies: X-Forwarded-For is ignored, both are the peer"
    );

    let h = Harness::new(Engine::Sqlite, |c| {
        limited(c);
        c.trusted_proxies = "127.0.0.1, 10.0.0.0/8".parse().expect("proxies");
    })
    .await
    .expect("harness");
    assert_eq!(nonce_from(&h, "198.51.100.1").await, StatusCode::OK);
    assert_eq!(
        nonce_from(&h, "198.51.100.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(nonce_from(&h, "198.51.100.2").await, StatusCode::OK);
    assert_eq!(
        nonce_from(&h, "198.51.100.3, 198.51.100.2, 10.9.9.9").await,
        StatusCode::TOO_MANY_REQUESTS,
        "the rightmost untrusted hop is the client; the forged left entry is not believed"
    );
    assert_eq!(nonce_from(&h, "2001:db8:7:7::1").await, StatusCode::OK);
    assert_eq!(
        nonce_from(&h, "2001:db8:7:7:ffff::2").await,
        StatusCode::TOO_MANY_REQUESTS,
        "one IPv6 /64 is one bucket"
    );
    assert_eq!(nonce_from(&h, "2001:db8:7:8::1").await, StatusCode::OK);
    assert_eq!(
        nonce_from(&h, "::ffff:198.51.100.2").await,
        StatusCode::TOO_MANY_REQUESTS,
        "IPv4-mapped is IPv4"
    );

    // The audit log records the same client address.
    let h = Harness::new(Engine::Sqlite, |c| {
        c.trusted_proxies = "127.0.0.1".parse().expect("proxies");
    })
    .await
    .expect("harness");
    let p = holder(0);
    let body = json!({ "proof": h.proof(&p, ProofPurpose::Login).await, "password": PASSWORD });
    let r = h
        .request(
            Method::POST,
            "/api/v1/session",
            Some(body),
            &[("x-forwarded-for", "6.6.6.6, ::ffff:203.0.113.5")],
        )
        .await;
    assert_eq!(r.code(), "login_failed", "{}", r.text);
    let mut conn = h.app.services.db.conn().await.expect("conn");
    let rows = nhi_server::storage::audit::recent(&mut conn, 10)
        .await
        .expect("audit");
    assert_eq!(
        rows.first().and_then(|a| a.ip.as_deref()),
        Some("203.0.113.5")
    );
}

async fn metrics_on(router: &axum::Router, bearer: Option<&str>) -> (StatusCode, String) {
    let mut req = Request::get("/metrics");
    if let Some(t) = bearer {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let resp = router
        .clone()
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = resp.status();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn metrics_are_off_the_site_unless_a_bearer_token_is_configured() {
    let h = Harness::new(Engine::Sqlite, |_| {}).await.expect("harness");
    // Even with the SPA built, /metrics is not a client-side route.
    let dist = h.dir.path().join("dist");
    std::fs::create_dir_all(&dist).expect("dist");
    std::fs::write(dist.join("index.html"), "<!doctype html><title>NHI</title>").expect("index");
    assert_eq!(
        metrics_on(&h.app.router, None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        metrics_on(&h.app.router, Some("anything")).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, text) = metrics_on(&h.app.metrics_router, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("nhi_http_requests_total"), "{text}");

    let token = "metrics-token-1";
    let hash = hex::encode(sha2::Sha256::digest(token.as_bytes()));
    let h = Harness::new(Engine::Sqlite, |c| c.metrics_token_sha256 = Some(hash))
        .await
        .expect("harness");
    let (status, _) = metrics_on(&h.app.router, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        metrics_on(&h.app.router, Some("metrics-token-2")).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, text) = metrics_on(&h.app.router, Some(token)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("nhi_http_requests_total"), "{text}");
    let r = h
        .request(Method::GET, "/metrics", None, &[("authorization", token)])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "Bearer scheme required");
    assert!(r.headers.contains_key(header::WWW_AUTHENTICATE));
}
