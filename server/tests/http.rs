//! The HTTP edge: CSRF rule, security headers, rate limits, body errors, SPA, operations.

mod common;

use axum::http::{header, Method, StatusCode};
use common::{holder, Engine, Harness, ORIGIN, PASSWORD};
use http_body_util::BodyExt as _;
use nhi_protocol::api::ProofPurpose;
use serde_json::json;
use tower::ServiceExt as _;

/// `POST /api/v1/card-proof/nonce` for a login, with `headers`.
async fn login_nonce(h: &Harness, headers: &[(&str, &str)]) -> common::Resp {
    h.request(
        Method::POST,
        "/api/v1/card-proof/nonce",
        Some(json!({ "purpose": "login" })),
        headers,
    )
    .await
}

/// `POST /api/v1/session` without a body, declared as `content_type`.
async fn bodiless_login(h: &Harness, content_type: &str) -> common::Resp {
    h.request(
        Method::POST,
        "/api/v1/session",
        None,
        &[("content-type", content_type)],
    )
    .await
}

both_engines!(
    state_changing_requests_need_the_header_and_our_origin,
    |h: Harness| async move {
        let no_header = login_nonce(&h, &[("x-nhi-request", "0")]).await;
        assert_eq!(
            (no_header.status, no_header.code()),
            (StatusCode::FORBIDDEN, "csrf_rejected")
        );
        let foreign = login_nonce(&h, &[("origin", "https://evil.example")]).await;
        assert_eq!(foreign.code(), "csrf_rejected");
        let ok = login_nonce(&h, &[]).await;
        assert_eq!(ok.status, StatusCode::OK);
        assert_eq!(ok.json["nonce"].as_str().map(str::len), Some(64));
        assert_eq!(ok.json["expires_in_seconds"], 300);
    }
);

both_engines!(
    every_answer_carries_the_security_headers,
    |h: Harness| async move {
        for path in ["/healthz", "/api/v1/places", "/register", "/missing.js"] {
            let r = h.get(path).await;
            let csp = r.headers[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .expect("csp");
            assert!(
                csp.contains("script-src 'self' 'wasm-unsafe-eval'"),
                "{path}: {csp}"
            );
            assert!(csp.contains("frame-ancestors 'none'"));
            assert_eq!(r.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert_eq!(r.headers[header::X_FRAME_OPTIONS], "DENY");
            assert_eq!(r.headers[header::REFERRER_POLICY], "no-referrer");
        }
        assert_eq!(
            h.get("/api/v1/places").await.headers[header::CACHE_CONTROL],
            "no-store"
        );
    }
);

both_engines!(malformed_bodies_name_the_field, |h: Harness| async move {
    let p = holder(0);
    let mut body = h.register_body(&p, "a@example.com", PASSWORD).await;
    body["proof"]["record"] = json!("zz");
    let r = h.post("/api/v1/registrations", body).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "bad_request")
    );
    assert_eq!(r.json["field"], "proof.record");
    let mut body = h.register_body(&p, "a@example.com", PASSWORD).await;
    body["email"] = json!("not an email");
    assert_eq!(
        h.post("/api/v1/registrations", body).await.json["field"],
        "email"
    );
    let r = bodiless_login(&h, "application/json").await;
    assert_eq!(r.code(), "bad_request");
    let r = bodiless_login(&h, "text/plain").await;
    assert_eq!(r.json["field"], "content-type");
    let huge =
        json!({ "ticket": "x".repeat(100_000), "proof": h.proof(&p, ProofPurpose::Confirm).await });
    let r = h.post("/api/v1/registrations/confirm", huge).await;
    assert_eq!(r.code(), "bad_request");
});

both_engines!(
    places_list_counties_townships_villages,
    |h: Harness| async move {
        let r = h.get("/api/v1/places").await;
        assert_eq!(r.status, StatusCode::OK);
        let counties = r.json["counties"].as_array().expect("counties");
        assert!(counties.len() >= 5);
        let taipei = counties
            .iter()
            .find(|c| c["name"] == "臺北市")
            .expect("臺北市");
        let daan = taipei["townships"]
            .as_array()
            .expect("t")
            .iter()
            .find(|t| t["name"] == "大安區")
            .expect("大安區");
        // Issue 17: each place also carries its official romanisation.
        assert_eq!(taipei["name_en"], "Taipei City");
        assert_eq!(daan["name_en"], "Da'an District");
        assert!(daan["villages"]
            .as_array()
            .expect("v")
            .contains(&json!("龍坡里")));
        let k = daan["villages"]
            .as_array()
            .and_then(|v| v.iter().position(|v| v == "龍坡里"));
        assert_eq!(
            k.and_then(|k| daan["villages_en"].get(k)),
            Some(&json!("Longpo Village"))
        );
    }
);

#[tokio::test]
async fn per_ip_rate_limit_answers_429_with_retry_after() {
    let h = Harness::new(Engine::Sqlite, |c| {
        c.rate_limit_per_minute = 6;
        c.rate_limit_burst = 3;
    })
    .await
    .expect("harness");
    for _ in 0..3 {
        assert_eq!(login_nonce(&h, &[]).await.status, StatusCode::OK);
    }
    let r = login_nonce(&h, &[]).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    assert!(r.headers.contains_key(header::RETRY_AFTER));
    // GETs are not limited.
    assert_eq!(h.get("/api/v1/places").await.status, StatusCode::OK);
}

#[tokio::test]
async fn secure_cookies_on_https_origins() {
    let h = Harness::new(Engine::Sqlite, |c| {
        c.public_origin = "https://nhi.example".into()
    })
    .await
    .expect("harness");
    assert!(h.app.services.config.secure_cookies());
    let r = h.get("/healthz").await;
    assert!(r.headers.contains_key(header::STRICT_TRANSPORT_SECURITY));
    // Our test ORIGIN is now foreign.
    let r = login_nonce(&h, &[]).await;
    assert_eq!(r.code(), "csrf_rejected");
    let _ = ORIGIN;
}

#[tokio::test]
async fn spa_fallback_serves_index_but_not_for_assets() {
    let h = Harness::new(Engine::Sqlite, |_| {}).await.expect("harness");
    let dist = h.dir.path().join("dist");
    std::fs::create_dir_all(dist.join("assets")).expect("dist");
    std::fs::write(dist.join("index.html"), "<!doctype html><title>NHI</title>").expect("index");
    std::fs::write(dist.join("app.js"), "console.log(1)").expect("js");
    let r = h.get("/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("<title>NHI"));
    let r = h.get("/confirm?ticket=abc").await;
    assert_eq!(r.status, StatusCode::OK, "client-side route");
    assert!(r.text.contains("<title>NHI"));
    let r = h.get("/app.js").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers[header::CONTENT_TYPE]
        .to_str()
        .expect("ct")
        .contains("javascript"));
    for missing in ["/app-typo.js", "/assets/x.css", "/pkg/app_bg.wasm"] {
        assert_eq!(
            h.get(missing).await.status,
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }
    let r = h.get("/api/v1/nope").await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_found"));
}

#[tokio::test]
async fn operations_endpoints() {
    let h = Harness::new(Engine::Sqlite, |_| {}).await.expect("harness");
    assert_eq!(h.get("/healthz").await.json["status"], "ok");
    h.register(&holder(0), "a@example.com").await;
    // The site has no /metrics: it is on the metrics listener (tests/edge.rs).
    assert_eq!(h.get("/metrics").await.status, StatusCode::NOT_FOUND);
    let resp = h
        .app
        .metrics_router
        .clone()
        .oneshot(
            axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let m = String::from_utf8_lossy(&bytes);
    assert!(m.contains("nhi_registrations_total 1"), "{m}");
    assert!(m.contains("nhi_outbox_mails{state=\"pending\"} 1"));
    let doc = h.get("/api/openapi.json").await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.json["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.")));
    for path in [
        "/api/v1/registrations",
        "/api/v1/registrations/confirm",
        "/api/v1/registrations/resend",
        "/api/v1/session",
        "/api/v1/card-proof/nonce",
    ] {
        assert!(doc.json["paths"][path].is_object(), "{path} documented");
    }
    assert!(doc.json["components"]["schemas"]["RegisterRequest"].is_object());
}

both_engines!(
    a_loopback_alias_of_the_origin_is_sent_to_the_configured_address,
    |h: Harness| async move {
        // The test origin is http://localhost:8080.
        for host in ["127.0.0.1:8080", "[::1]:8080"] {
            let r = h
                .request(Method::GET, "/register?step=2", None, &[("host", host)])
                .await;
            assert_eq!(
                r.status,
                StatusCode::TEMPORARY_REDIRECT,
                "{host}: {}",
                r.text
            );
            assert_eq!(
                r.headers[header::LOCATION],
                format!("{ORIGIN}/register?step=2"),
                "{host}"
            );
            // API calls: a code the SPA explains, naming the address to use.
            let r = h
                .request(
                    Method::POST,
                    "/api/v1/card-proof/nonce",
                    Some(json!({ "purpose": "login" })),
                    &[("host", host), ("origin", &format!("http://{host}"))],
                )
                .await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::MISDIRECTED_REQUEST, "wrong_origin"),
                "{host}: {}",
                r.text
            );
            assert!(r.json["message"]
                .as_str()
                .is_some_and(|m| m.contains(ORIGIN)));
            let r = h
                .request(Method::GET, "/api/v1/places", None, &[("host", host)])
                .await;
            assert_eq!(r.code(), "wrong_origin");
            // A form post elsewhere: a page that says which address to use.
            let r = h
                .request(Method::POST, "/register", None, &[("host", host)])
                .await;
            assert_eq!(r.status, StatusCode::MISDIRECTED_REQUEST);
            assert!(r.text.contains(ORIGIN), "{}", r.text);
            // Health checks answer under any name.
            let r = h
                .request(Method::GET, "/healthz", None, &[("host", host)])
                .await;
            assert_eq!(r.status, StatusCode::OK, "{host}");
        }
        // The configured name, and another port (a port mapping), are served as before.
        for host in ["localhost:8080", "127.0.0.1:9999"] {
            let r = h
                .request(
                    Method::POST,
                    "/api/v1/card-proof/nonce",
                    Some(json!({ "purpose": "login" })),
                    &[("host", host)],
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{host}: {}", r.text);
        }
    }
);

#[tokio::test]
async fn a_default_port_origin_redirects_every_port_form() {
    let h = Harness::new(Engine::Sqlite, |c| {
        c.public_origin = "http://localhost".into()
    })
    .await
    .expect("harness");
    for host in ["127.0.0.1", "127.0.0.1:80", "[::1]"] {
        let r = h
            .request(Method::GET, "/login", None, &[("host", host)])
            .await;
        assert_eq!(r.status, StatusCode::TEMPORARY_REDIRECT, "{host}");
        assert_eq!(r.headers[header::LOCATION], "http://localhost/login");
    }
    let r = h
        .request(
            Method::GET,
            "/api/v1/places",
            None,
            &[("host", "localhost:80")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}
