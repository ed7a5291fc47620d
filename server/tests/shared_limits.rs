//! Issue 14, item 2: the per-client rate limit is one budget however many instances serve the
//! client. On PostgreSQL three instances (three routers built in this process, each with its
//! own memory, on one database) give a client exactly the budget one instance gives; distinct
//! clients keep distinct budgets; concurrent requests at the edge pass no more than the
//! budget; a denial is cached locally; an unreachable store fails closed (503). The client is
//! the TCP peer (`127.0.0.x` here) unless the peer is a trusted proxy.

mod common;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use common::{Engine, Harness};
use http_body_util::BodyExt as _;
use nhi_protocol::api::CSRF_HEADER;
use nhi_server::app::{build, Overrides};
use nhi_server::config::Config;
use serde_json::Value;
use tower::ServiceExt as _;

/// The budget of one client and class: `BURST` tokens, one more per minute (none comes back
/// during a test).
const BURST: usize = 6;

fn limited(c: &mut Config) {
    c.rate_limit_per_minute = 1;
    c.rate_limit_burst = BURST as u32;
    c.trusted_proxies = "127.0.0.1".parse().expect("proxies");
}

struct Answer {
    status: StatusCode,
    retry_after: Option<u64>,
    code: String,
}

/// `POST /api/v1/card-proof/nonce` (class `nonce`) from the TCP peer `peer`, with
/// `X-Forwarded-For: xff` when given.
async fn nonce(router: &Router, peer: [u8; 4], xff: Option<&str>) -> Answer {
    let mut b = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/card-proof/nonce")
        .header(CSRF_HEADER, "1")
        .header(header::ORIGIN, common::ORIGIN)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(xff) = xff {
        b = b.header("x-forwarded-for", xff);
    }
    let mut req = b
        .body(Body::from(r#"{"purpose":"login"}"#))
        .expect("request");
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((peer, 40_000))));
    let resp = router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        retry_after,
        code: json["code"].as_str().unwrap_or_default().to_owned(),
    }
}

/// Sends `n` requests from `peer` (with `xff(i)` for the i-th), round-robin over `routers`;
/// every answer is 200 or a 429 `rate_limited` with a `Retry-After` within a minute. Answers
/// the number of 200s.
async fn admitted(
    routers: &[Router],
    peer: [u8; 4],
    n: usize,
    xff: impl Fn(usize) -> Option<String>,
) -> usize {
    let mut ok = 0;
    for i in 0..n {
        let a = nonce(&routers[i % routers.len()], peer, xff(i).as_deref()).await;
        match a.status {
            StatusCode::OK => ok += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert_eq!(a.code, "rate_limited");
                let wait = a.retry_after.expect("Retry-After on 429");
                assert!((1..=60).contains(&wait), "Retry-After {wait}");
            }
            other => panic!("request {i} from {peer:?}: {other} {}", a.code),
        }
    }
    ok
}

fn no_xff(_: usize) -> Option<String> {
    None
}

/// Three instances on one fresh PostgreSQL database (None: PostgreSQL is skipped).
async fn three_instances() -> Option<(Harness, Vec<Router>)> {
    let h = Harness::new(Engine::Postgres, limited).await?;
    let mut routers = vec![h.app.router.clone()];
    for _ in 0..2 {
        let config = (*h.app.services.config).clone();
        let app = build(config, Overrides::default())
            .await
            .expect("another instance");
        routers.push(app.router);
    }
    Some((h, routers))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_give_a_client_the_budget_of_one() {
    let Some((_h, routers)) = three_instances().await else {
        return;
    };
    let one = admitted(&routers[..1], [127, 0, 0, 2], 3 * BURST, no_xff).await;
    let three = admitted(&routers, [127, 0, 0, 3], 3 * BURST, no_xff).await;
    assert_eq!(one, BURST, "one instance gives the configured burst");
    assert_eq!(three, one, "three instances give the same total budget");

    // Distinct clients keep their own budgets, on every instance.
    for r in &routers {
        assert_eq!(nonce(r, [127, 0, 0, 4], None).await.status, StatusCode::OK);
        assert_eq!(
            nonce(r, [127, 0, 0, 3], None).await.status,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    assert_eq!(
        admitted(&routers, [127, 0, 0, 4], 3 * BURST, no_xff).await,
        BURST - routers.len()
    );

    // Behind the trusted proxy (127.0.0.1) the client is the X-Forwarded-For hop: one budget
    // over the three instances, and another one for another client behind the same proxy.
    let via = |ip: &'static str| move |_: usize| Some(ip.to_owned());
    assert_eq!(
        admitted(&routers, [127, 0, 0, 1], 3 * BURST, via("198.51.100.7")).await,
        BURST
    );
    assert_eq!(
        admitted(&routers, [127, 0, 0, 1], 3 * BURST, via("198.51.100.8")).await,
        BURST
    );
    // An untrusted peer's X-Forwarded-For is not believed: a fresh forged address per request
    // gains nothing, the peer is the key.
    let forged = |i: usize| Some(format!("203.0.113.{i}"));
    assert_eq!(
        admitted(&routers, [127, 0, 0, 9], 3 * BURST, forged).await,
        BURST
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_at_the_edge_pass_no_more_than_the_budget() {
    let Some((_h, routers)) = three_instances().await else {
        return;
    };
    let peer = [127, 0, 0, 5];
    let left = 2;
    assert_eq!(
        admitted(&routers, peer, BURST - left, no_xff).await,
        BURST - left
    );
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let r = routers[i % routers.len()].clone();
        tasks.spawn(async move { nonce(&r, peer, None).await.status });
    }
    let mut ok = 0;
    while let Some(status) = tasks.join_next().await {
        match status.expect("task") {
            StatusCode::OK => ok += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("{other}"),
        }
    }
    assert_eq!(ok, left, "20 at once with {left} tokens left");
    // Another client at the same moment is untouched.
    assert_eq!(
        admitted(&routers, [127, 0, 0, 6], BURST, no_xff).await,
        BURST
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denials_are_cached_locally_and_an_unreachable_store_fails_closed() {
    let Some((h, routers)) = three_instances().await else {
        return;
    };
    let spent = [127, 0, 0, 7];
    // 3 × BURST round-robin: every instance has seen the bucket empty.
    assert_eq!(admitted(&routers, spent, 3 * BURST, no_xff).await, BURST);
    // From now on every statement on the buckets fails.
    h.exec("ALTER TABLE rate_buckets ADD CONSTRAINT buckets_down CHECK (tat < 0) NOT VALID")
        .await;
    for r in &routers {
        let a = nonce(r, spent, None).await;
        assert_eq!(
            (a.status, a.code.as_str()),
            (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            "the instance's deny cache answers without the database"
        );
    }
    let fresh = [127, 0, 0, 8];
    for r in &routers {
        let a = nonce(r, fresh, None).await;
        assert_eq!(
            a.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "fail closed: {}",
            a.code
        );
        assert!(a.retry_after.is_some_and(|s| s >= 1));
    }
    h.exec("ALTER TABLE rate_buckets DROP CONSTRAINT buckets_down")
        .await;
    assert_eq!(admitted(&routers, fresh, 3 * BURST, no_xff).await, BURST);
}

// One instance, both databases: the in-process limiter (SQLite) and the shared one
// (PostgreSQL) give the same budget with the same keys.
both_engines_with!(one_instance_budget, limited, |h: Harness| async move {
    let r = std::slice::from_ref(&h.app.router);
    assert_eq!(admitted(r, [127, 0, 0, 2], 2 * BURST, no_xff).await, BURST);
    assert_eq!(admitted(r, [127, 0, 0, 3], 2 * BURST, no_xff).await, BURST);
    let forged = |i: usize| Some(format!("203.0.113.{i}"));
    assert_eq!(
        admitted(r, [127, 0, 0, 9], 2 * BURST, forged).await,
        BURST,
        "an untrusted peer's X-Forwarded-For is ignored"
    );
    let via = |_: usize| Some("198.51.100.7".to_owned());
    assert_eq!(admitted(r, [127, 0, 0, 1], 2 * BURST, via).await, BURST);
    // The proxy itself (no header) is another client.
    assert_eq!(admitted(r, [127, 0, 0, 1], 2 * BURST, no_xff).await, BURST);
});
