//! The citizen digital certificate (自然人憑證) login of unit staff (F5, issue 12) through the
//! real router, with a test PKI generated at run time (`nhi-testpki`: a root, the issuing CA
//! the server trusts, a sibling CA under the same root, the cards, the CRL, the ID table):
//! the good login and its unit-only session, the upload's result email, and every refusal the
//! issue lists — wrong origin, replayed nonce, revoked, revocation status unavailable,
//! expired, sibling CA, untrusted issuer, wrong policy, ID mismatch, no unit role, garbage.

mod common;

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::{get_as, raw, request_as, session_pair, Harness, Resp, ORIGIN, UNIT};
use nhi_protocol::api::{ProofPurpose, CSRF_HEADER};
use nhi_protocol::certificate::signed_data;
use nhi_server::config::{Config, IdVerificationKind};
use nhi_testpki::TestPki;
use serde_json::{json, Value};

const LOGIN: &str = "/api/v1/units/certificate-login";
/// 黃淑芬 administers this unit.
const HUANG_UNIT: &str = "23456789";

/// One test PKI for the whole binary (generated once, 0.3–0.6 s).
fn pki() -> &'static TestPki {
    static PKI: OnceLock<(tempfile::TempDir, TestPki)> = OnceLock::new();
    &PKI.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = TestPki::init(dir.path()).expect("test PKI");
        (dir, pki)
    })
    .1
}

/// Another PKI, with its own root and issuing CA: certificates nobody configured.
fn stranger_pki() -> &'static TestPki {
    static PKI: OnceLock<(tempfile::TempDir, TestPki)> = OnceLock::new();
    &PKI.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = TestPki::init(dir.path()).expect("test PKI");
        (dir, pki)
    })
    .1
}

fn configure(c: &mut Config, pki: &TestPki) {
    c.certificate_issuing_cas = Some(pki.issuing_ca_path());
    c.certificate_policy_oids = pki.policy_oid().to_owned();
    c.certificate_crl = Some(pki.crl_path().display().to_string());
    c.certificate_id_verification = IdVerificationKind::Table;
    c.certificate_id_table = Some(pki.id_table_path());
}

fn with_certificates(c: &mut Config) {
    configure(c, pki());
}

/// What the bridge + the card answer: the certificate and a signature over
/// `SHA-256(origin) ‖ SHA-256(nonce)` — the body of the login.
async fn login_body(h: &Harness, label: &str, national_id: &str, origin: &str) -> Value {
    login_body_from(h, pki(), label, national_id, origin).await
}

async fn login_body_from(
    h: &Harness,
    pki: &TestPki,
    label: &str,
    national_id: &str,
    origin: &str,
) -> Value {
    let card = pki.card(label).expect("card");
    let nonce = h.nonce(ProofPurpose::CertificateLogin).await;
    let sig = card.sign(&signed_data(origin, &nonce));
    json!({
        "national_id": national_id,
        "nonce": nonce,
        "certificate": STANDARD.encode(card.der()),
        "signature": STANDARD.encode(sig),
        "algorithm": card.algorithm,
    })
}

async fn login(h: &Harness, label: &str, national_id: &str) -> Resp {
    let body = login_body(h, label, national_id, ORIGIN).await;
    h.post(LOGIN, body).await
}

fn refused(r: &Resp, status: StatusCode, code: &str, message: Option<&str>) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.json["code"], code, "{}", r.text);
    if let Some(m) = message {
        assert_eq!(r.json["message"], m, "{}", r.text);
    }
    assert!(
        r.headers.get(header::SET_COOKIE).is_none(),
        "no session on a refusal"
    );
}

/// A multipart upload (`file` + `result_email`), as the SPA sends it for a certificate login
/// of someone without an NHI account.
fn multipart_upload(cookie: &str, unit: &str, parts: &[Part<'_>]) -> Request<Body> {
    let boundary = "----nhi-test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, file_name, data) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file_name {
            Some(f) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: text/csv\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/units/{unit}/uploads"))
        .header(CSRF_HEADER, "1")
        .header(header::ORIGIN, ORIGIN)
        .header("cookie", cookie)
        .header("x-file-name", "staff.csv")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .expect("request")
}

/// A multipart part: name, file name (a file part), content.
type Part<'a> = (&'a str, Option<&'a str>, &'a [u8]);

/// Uploads [`CSV`] to `unit` as multipart with `result_email`: the status and the answer.
async fn upload_with_email(
    h: &Harness,
    cookie: &str,
    unit: &str,
    email: &[u8],
) -> (StatusCode, Value) {
    let parts = [("file", Some("a.csv"), CSV), ("result_email", None, email)];
    let (status, body, _) = raw(h, multipart_upload(cookie, unit, &parts)).await;
    (status, body)
}

/// The address an upload's result mail goes to, as stored.
async fn uploader_email(h: &Harness, body: &Value) -> String {
    let id = body["upload_id"].as_i64().expect("upload id");
    let stored: (String,) = sqlx::query_as("SELECT uploader_email FROM bulk_uploads WHERE id = $1")
        .bind(id)
        .fetch_one(h.app.services.db.pool())
        .await
        .expect("row");
    stored.0
}

const CSV: &[u8] = "B223456719,陳美麗,0850315,chen@example.com\n".as_bytes();

both_engines_with!(
    good_login_opens_a_session_for_the_unit_pages_only,
    with_certificates,
    |h: Harness| async move {
        let r = login(&h, "wang", "A123456789").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json["login_method"], "citizen_certificate");
        assert_eq!(r.json["name"], "王小明");
        assert_eq!(r.json["email"], "", "王小明 has no NHI account here");
        assert_eq!(r.json["units"][0]["unit_code"], UNIT);
        assert_eq!(r.json["units"][0]["is_admin"], true);
        let sc = r.headers[header::SET_COOKIE]
            .to_str()
            .expect("cookie")
            .to_owned();
        assert!(
            sc.contains("HttpOnly") && sc.contains("SameSite=Strict"),
            "{sc}"
        );
        let cookie = session_pair(&r);

        // The unit pages accept it …
        let units = get_as(&h, &cookie, "/api/v1/units").await;
        assert_eq!(units.status, StatusCode::OK, "{}", units.text);
        assert_eq!(units.json["login_method"], "citizen_certificate");
        assert_eq!(
            get_as(&h, &cookie, &format!("/api/v1/units/{UNIT}/roles"))
                .await
                .status,
            StatusCode::OK
        );
        // … the citizen's own pages do not.
        for path in ["/api/v1/me", "/api/v1/health-bank", "/api/v1/applications"] {
            let r = get_as(&h, &cookie, path).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}: {}", r.text);
        }

        // No account email: the upload needs the result email, and checks it.
        let (status, body, _) =
            raw(&h, common::upload_request(&cookie, "a.csv", CSV.to_vec())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["field"], "result_email");
        let (status, body) = upload_with_email(&h, &cookie, UNIT, b"not-an-email").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["field"], "result_email");
        let (status, body) = upload_with_email(&h, &cookie, UNIT, b"clerk@unit.example").await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let id = body["upload_id"].as_i64().expect("id");
        let rec = get_as(&h, &cookie, &format!("/api/v1/units/{UNIT}/uploads/{id}")).await;
        assert_eq!(rec.status, StatusCode::OK, "{}", rec.text);
        assert_eq!(uploader_email(&h, &body).await, "clerk@unit.example");

        // Audited with the certificate's fingerprint, never more.
        let audit = h.audit_actions().await;
        assert!(
            audit.contains(&("certificate_login".into(), "success".into())),
            "{audit:?}"
        );

        // Logout ends it.
        let out = request_as(&h, Method::DELETE, &cookie, "/api/v1/session", None).await;
        assert_eq!(out.status, StatusCode::NO_CONTENT);
        assert_eq!(
            get_as(&h, &cookie, "/api/v1/units").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
);

both_engines_with!(
    a_registered_person_gets_their_account_email_and_rsa_cards_work,
    with_certificates,
    |h: Harness| async move {
        // 黃淑芬 (RSA-2048 card, RS256) has an NHI account: its email is the result address,
        // and a result_email sent beside it is ignored.
        let huang = common::holders()
            .into_iter()
            .find(|p| p.card.national_id.as_str() == "S224680133");
        let huang = huang.expect("黃淑芬 is a sample card holder");
        h.active_account(&huang, "huang@example.com").await;
        let r = login(&h, "huang-rsa", "S224680133").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json["email"], "huang@example.com");
        assert_eq!(r.json["units"][0]["unit_code"], HUANG_UNIT);
        let cookie = session_pair(&r);
        let (status, body) =
            upload_with_email(&h, &cookie, HUANG_UNIT, b"other@evil.example").await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(uploader_email(&h, &body).await, "huang@example.com");
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_has_its_own_answer() {
    let h = Harness::new(common::Engine::Sqlite, with_certificates)
        .await
        .expect("harness");
    let unauthorized = StatusCode::UNAUTHORIZED;

    // A page of another origin got the card to sign over *its* origin.
    let body = login_body(&h, "wang", "A123456789", "https://nhi.example.evil").await;
    refused(
        &h.post(LOGIN, body).await,
        unauthorized,
        "certificate_rejected",
        Some("bad_signature"),
    );

    // A replayed nonce (the first use succeeded).
    let body = login_body(&h, "wang", "A123456789", ORIGIN).await;
    assert_eq!(h.post(LOGIN, body.clone()).await.status, StatusCode::OK);
    refused(
        &h.post(LOGIN, body).await,
        StatusCode::BAD_REQUEST,
        "nonce_invalid",
        None,
    );

    // A nonce issued for another flow, and one never issued.
    let mut body = login_body(&h, "wang", "A123456789", ORIGIN).await;
    let other = h.nonce(ProofPurpose::Login).await;
    let card = pki().card("wang").expect("card");
    body["nonce"] = json!(other);
    body["signature"] = json!(STANDARD.encode(card.sign(&signed_data(ORIGIN, &other))));
    refused(
        &h.post(LOGIN, body.clone()).await,
        StatusCode::BAD_REQUEST,
        "nonce_invalid",
        None,
    );
    body["nonce"] = json!("ab".repeat(32));
    refused(
        &h.post(LOGIN, body).await,
        StatusCode::BAD_REQUEST,
        "nonce_invalid",
        None,
    );

    // The certificates.
    for (label, id, problem) in [
        ("chen-revoked", "B223456719", "revoked"),
        ("lin-expired", "F135792464", "expired"),
        ("wang-future", "A123456789", "not_yet_valid"),
        ("wang-sibling", "A123456789", "untrusted_issuer"),
        ("wang-selfsigned", "A123456789", "untrusted_issuer"),
        ("wang-nopolicy", "A123456789", "wrong_policy"),
        ("wang-nods", "A123456789", "wrong_key_usage"),
    ] {
        let r = login(&h, label, id).await;
        assert_eq!(r.json["message"], problem, "{label}: {}", r.text);
        refused(&r, unauthorized, "certificate_rejected", Some(problem));
    }
    // An issuer nobody configured (another root and issuing CA altogether).
    let body = login_body_from(&h, stranger_pki(), "wang", "A123456789", ORIGIN).await;
    refused(
        &h.post(LOGIN, body).await,
        unauthorized,
        "certificate_rejected",
        Some("untrusted_issuer"),
    );

    // The ID number is a claim: 王小明's certificate with 黃淑芬's ID (she administers a unit).
    refused(
        &login(&h, "wang", "S224680133").await,
        unauthorized,
        "id_mismatch",
        None,
    );
    // Not an ID number at all.
    let r = login(&h, "wang", "A12345678X").await;
    refused(&r, StatusCode::BAD_REQUEST, "bad_request", None);
    assert_eq!(r.json["field"], "national_id");

    // A good certificate of someone who acts for no unit.
    refused(
        &login(&h, "chang-norole", "E102030403").await,
        StatusCode::FORBIDDEN,
        "no_unit_role",
        None,
    );

    // Garbage: not base64, base64 of garbage, a truncated certificate, a huge body.
    let good = login_body(&h, "wang", "A123456789", ORIGIN).await;
    let der = pki().card("wang").expect("card").der().to_vec();
    for garbage in [
        "%%%not base64%%%".to_owned(),
        STANDARD.encode(b"garbage certificate bytes"),
        STANDARD.encode(&der[..der.len() / 2]),
        STANDARD.encode(vec![0x30u8; 40_000]),
        String::new(),
    ] {
        let mut body = login_body(&h, "wang", "A123456789", ORIGIN).await;
        body["certificate"] = json!(garbage);
        refused(
            &h.post(LOGIN, body).await,
            unauthorized,
            "certificate_rejected",
            Some("unreadable"),
        );
    }
    // A signature that is not one, a flipped bit, the wrong algorithm for the key.
    let mut body = good.clone();
    body["signature"] = json!("%%%");
    refused(
        &h.post(LOGIN, body).await,
        unauthorized,
        "certificate_rejected",
        Some("bad_signature"),
    );
    let mut body = login_body(&h, "wang", "A123456789", ORIGIN).await;
    let mut sig = STANDARD
        .decode(body["signature"].as_str().expect("sig"))
        .expect("b64");
    sig[10] ^= 1;
    body["signature"] = json!(STANDARD.encode(sig));
    refused(
        &h.post(LOGIN, body).await,
        unauthorized,
        "certificate_rejected",
        Some("bad_signature"),
    );
    let mut body = login_body(&h, "huang-rsa", "S224680133", ORIGIN).await;
    body["algorithm"] = json!("ES256");
    refused(
        &h.post(LOGIN, body).await,
        unauthorized,
        "certificate_rejected",
        Some("wrong_algorithm"),
    );
    // Unknown fields are refused (the body is a contract, not a bag).
    let mut body = login_body(&h, "wang", "A123456789", ORIGIN).await;
    body["name"] = json!("someone else");
    assert_eq!(h.post(LOGIN, body).await.status, StatusCode::BAD_REQUEST);

    // Every attempt is in the audit log.
    let audit = h.audit_actions().await;
    let refusals = audit
        .iter()
        .filter(|(a, o)| a == "certificate_login" && o != "success")
        .count();
    assert!(refusals >= 20, "{refusals} refusals audited: {audit:?}");
    for outcome in [
        "bad_signature",
        "nonce_invalid",
        "revoked",
        "expired",
        "untrusted_issuer",
        "id_mismatch",
        "no_unit_role",
        "unreadable",
    ] {
        assert!(
            audit.contains(&("certificate_login".into(), outcome.into())),
            "{outcome} not audited: {audit:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_revocation_status_refuses_the_login() {
    // A CRL past its nextUpdate (the CA's, well signed): the status is unknown → refused.
    let dir = tempfile::tempdir().expect("tempdir");
    let stale = TestPki::init(dir.path()).expect("pki");
    let day = std::time::Duration::from_secs(86_400);
    let now = std::time::SystemTime::now();
    stale
        .write_crl(now - 3 * day, now - day)
        .expect("stale CRL");
    let h = Harness::new(common::Engine::Sqlite, |c| configure(c, &stale))
        .await
        .expect("harness");
    let body = login_body_from(&h, &stale, "wang", "A123456789", ORIGIN).await;
    let r = h.post(LOGIN, body).await;
    refused(
        &r,
        StatusCode::SERVICE_UNAVAILABLE,
        "revocation_unavailable",
        None,
    );
    assert!(r.headers.get(header::RETRY_AFTER).is_some());

    // The CRL file gone: the same.
    let h = Harness::new(common::Engine::Sqlite, |c| {
        with_certificates(c);
        c.certificate_crl = Some(dir.path().join("missing.crl").display().to_string());
    })
    .await
    .expect("harness");
    refused(
        &login(&h, "wang", "A123456789").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "revocation_unavailable",
        None,
    );

    // Two issuing CAs' CRLs, one unreadable: the certificate's own CA's CRL decides.
    let h = Harness::new(common::Engine::Sqlite, |c| {
        with_certificates(c);
        c.certificate_crl = Some(format!(
            "{}, {}",
            dir.path().join("missing.crl").display(),
            pki().crl_path().display()
        ));
    })
    .await
    .expect("harness");
    assert_eq!(login(&h, "wang", "A123456789").await.status, StatusCode::OK);
    let r = login(&h, "chen-revoked", "B223456719").await;
    refused(
        &r,
        StatusCode::UNAUTHORIZED,
        "certificate_rejected",
        Some("revoked"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_id_service_refuses_the_login() {
    let h = Harness::new(common::Engine::Sqlite, |c| {
        with_certificates(c);
        c.certificate_id_verification = IdVerificationKind::Http;
        c.certificate_id_url = Some("https://127.0.0.1:1/verify".into());
    })
    .await
    .expect("harness");
    refused(
        &login(&h, "wang", "A123456789").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "id_verification_unavailable",
        None,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_is_off_unless_configured() {
    let h = Harness::new(common::Engine::Sqlite, |_| {})
        .await
        .expect("harness");
    let body = login_body(&h, "wang", "A123456789", ORIGIN).await;
    refused(
        &h.post(LOGIN, body).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_signature_opens_one_session_even_sent_twenty_times_at_once() {
    let h = std::sync::Arc::new(
        Harness::new(common::Engine::Sqlite, with_certificates)
            .await
            .expect("harness"),
    );
    let body = login_body(&h, "wang", "A123456789", ORIGIN).await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (h, body) = (h.clone(), body.clone());
            tokio::spawn(async move { h.post(LOGIN, body).await.status })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        let status = t.await.expect("task");
        if status == StatusCode::OK {
            ok += 1;
        } else {
            assert_eq!(status, StatusCode::BAD_REQUEST, "the others: nonce_invalid");
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_per_certificate_are_limited_after_the_signature_only() {
    let h = Harness::new(common::Engine::Sqlite, |c| {
        with_certificates(c);
        c.certificate_login_per_hour = 2;
    })
    .await
    .expect("harness");
    // Someone with only the (public) certificate cannot use up the holder's budget.
    for _ in 0..5 {
        let body = login_body(&h, "wang", "A123456789", "https://evil.example").await;
        assert_eq!(h.post(LOGIN, body).await.json["message"], "bad_signature");
    }
    for _ in 0..2 {
        assert_eq!(login(&h, "wang", "A123456789").await.status, StatusCode::OK);
    }
    let r = login(&h, "wang", "A123456789").await;
    refused(&r, StatusCode::TOO_MANY_REQUESTS, "rate_limited", None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_uploads_are_bounded() {
    let h = Harness::new(common::Engine::Sqlite, |c| {
        with_certificates(c);
        c.upload_max_bytes = 4096;
    })
    .await
    .expect("harness");
    let r = login(&h, "wang", "A123456789").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let cookie = session_pair(&r);
    let email = b"clerk@unit.example".as_slice();
    // Too large a file, too long an email, an unknown part, two files, no file.
    let big = vec![b'A'; 10_000];
    let long = vec![b'a'; 5000];
    let cases: Vec<(Vec<Part<'_>>, StatusCode, &str)> = vec![
        (
            vec![("file", Some("a.csv"), &big), ("result_email", None, email)],
            StatusCode::PAYLOAD_TOO_LARGE,
            "file",
        ),
        (
            vec![("file", Some("a.csv"), CSV), ("result_email", None, &long)],
            StatusCode::BAD_REQUEST,
            "result_email",
        ),
        (
            vec![("file", Some("a.csv"), CSV), ("other", None, email)],
            StatusCode::BAD_REQUEST,
            "file",
        ),
        (
            vec![
                ("file", Some("a.csv"), CSV),
                ("file", Some("b.csv"), CSV),
                ("result_email", None, email),
            ],
            StatusCode::BAD_REQUEST,
            "file",
        ),
        (
            vec![("result_email", None, email)],
            StatusCode::BAD_REQUEST,
            "file",
        ),
    ];
    for (parts, status, field) in cases {
        let (got, body, _) = raw(&h, multipart_upload(&cookie, UNIT, &parts)).await;
        assert_eq!(got, status, "{body}");
        assert_eq!(body["field"], field, "{body}");
    }
    // Without a session nothing is read at all.
    let (got, _, _) = raw(
        &h,
        multipart_upload("nhi_session=nope", UNIT, &[("file", Some("a.csv"), CSV)]),
    )
    .await;
    assert_eq!(got, StatusCode::UNAUTHORIZED);
}
