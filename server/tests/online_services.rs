//! F9 online services through the real router, on SQLite and PostgreSQL: the health bank
//! (deterministic per person, date filter, monthly summary, CSV), card replacement and the
//! 投保證明 with their status timelines, the operator API (bearer token, allowed transitions,
//! audit), access control between two people, and session expiry.

mod common;

use std::io::Write as _;

use axum::http::{header, Method, StatusCode};
use common::{get_as, logged_in, post_as, Engine, Harness, Resp};
use serde_json::json;
use sha2::{Digest, Sha256};

const OPERATOR_TOKEN: &str = "operator-test-token-0123456789";

/// Runs a test body on both engines with an operator configured.
macro_rules! online_test {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let h = Harness::new(Engine::Sqlite, configure)
                    .await
                    .expect("sqlite harness");
                ($body)(h).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(h) = Harness::new(Engine::Postgres, configure).await else {
                    return;
                };
                ($body)(h).await;
            }
        }
    };
}

fn configure(c: &mut nhi_server::config::Config) {
    c.operators = format!(
        "alice:{}",
        hex::encode(Sha256::digest(OPERATOR_TOKEN.as_bytes()))
    );
}

async fn operator(h: &Harness, id: i64, status: &str, token: &str) -> Resp {
    let auth = format!("Bearer {token}");
    // No CSRF header and a foreign Origin: the operator API is not a browser API.
    h.request(
        Method::POST,
        &format!("/api/v1/operator/applications/{id}/status"),
        Some(json!({ "status": status, "note": "checked", "visibility": "citizen" })),
        &[
            ("authorization", &auth),
            ("x-nhi-request", "0"),
            ("origin", "https://elsewhere.example"),
        ],
    )
    .await
}

fn pdftotext(pdf: &[u8]) -> String {
    let mut child = std::process::Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8", "-", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("pdftotext (Debian poppler-utils) is installed");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(pdf)
        .expect("write pdf");
    let out = child.wait_with_output().expect("pdftotext runs");
    assert!(out.status.success(), "pdftotext failed");
    String::from_utf8(out.stdout).expect("utf-8 text")
}

online_test!(
    health_bank_is_per_person_filtered_and_exported,
    |h: Harness| async move {
        let r = h.get("/api/v1/health-bank").await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "unauthenticated")
        );

        let a = logged_in(&h, 0).await;
        let b = logged_in(&h, 1).await;
        let q = "/api/v1/health-bank?from=2000-01-01&to=2099-12-31";
        let r = get_as(&h, &a, q).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "bad_request"),
            "ranges over 10 years are refused"
        );

        let all = "/api/v1/health-bank?from=2020-01-01";
        let ra = get_as(&h, &a, all).await;
        assert_eq!(ra.status, StatusCode::OK, "{}", ra.text);
        let visits_a = ra.json["visits"].as_array().expect("visits").clone();
        assert!(
            visits_a.len() >= 18,
            "36 months of sample visits: {}",
            visits_a.len()
        );
        // Deterministic: the same answer again (stored, not regenerated).
        assert_eq!(get_as(&h, &a, all).await.json, ra.json);
        // Two people see different, own records.
        let rb = get_as(&h, &b, all).await;
        assert_eq!(rb.status, StatusCode::OK);
        let ids_a: Vec<i64> = visits_a
            .iter()
            .map(|v| v["id"].as_i64().expect("id"))
            .collect();
        let ids_b: Vec<i64> = rb.json["visits"]
            .as_array()
            .expect("visits")
            .iter()
            .map(|v| v["id"].as_i64().expect("id"))
            .collect();
        assert!(
            ids_a.iter().all(|id| !ids_b.contains(id)),
            "no shared records"
        );

        // Month summary = the visits.
        let months = ra.json["months"].as_array().expect("months");
        let n: i64 = months
            .iter()
            .map(|m| m["visits"].as_i64().expect("n"))
            .sum();
        let cost: i64 = months
            .iter()
            .map(|m| m["cost"].as_i64().expect("cost"))
            .sum();
        assert_eq!(n, visits_a.len() as i64);
        assert_eq!(
            cost,
            visits_a
                .iter()
                .map(|v| v["cost"].as_i64().expect("c"))
                .sum::<i64>()
        );
        assert!(visits_a
            .iter()
            .any(|v| !v["medications"].as_array().expect("meds").is_empty()));

        // The date filter.
        let newest = visits_a[0]["date"].as_str().expect("date").to_owned();
        let r = get_as(
            &h,
            &a,
            &format!("/api/v1/health-bank?from={newest}&to={newest}"),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        let only = r.json["visits"].as_array().expect("visits");
        assert!(!only.is_empty() && only.iter().all(|v| v["date"] == newest.as_str()));
        assert_eq!(r.json["months"].as_array().expect("months").len(), 1);
        let r = get_as(&h, &a, "/api/v1/health-bank?from=%ZZ").await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "bad_request"),
            "{}",
            r.text
        );
        let r = get_as(&h, &a, "/api/v1/health-bank?from=2026-05-01&to=2026-01-01").await;
        assert_eq!(
            (r.status, r.json["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("from"))
        );

        // CSV in both languages.
        let r = get_as(
            &h,
            &a,
            "/api/v1/health-bank/export.csv?from=2020-01-01&lang=zh-TW",
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.headers[header::CONTENT_TYPE]
            .to_str()
            .expect("ct")
            .starts_with("text/csv"));
        assert!(r.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .expect("cd")
            .contains("attachment"));
        assert!(
            r.text
                .starts_with("\u{feff}就醫日期,醫事機構,診斷代碼,診斷"),
            "{}",
            &r.text[..80]
        );
        assert_eq!(r.text.lines().count(), visits_a.len() + 1);
        let r = get_as(
            &h,
            &a,
            "/api/v1/health-bank/export.csv?from=2020-01-01&lang=en",
        )
        .await;
        assert!(r
            .text
            .starts_with("\u{feff}Date,Institution,Diagnosis code"));
        let r = h.get("/api/v1/health-bank/export.csv").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);

        // An expired session is refused.
        h.exec("UPDATE sessions SET expires_at = 0").await;
        let r = get_as(&h, &a, all).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "unauthenticated")
        );
    }
);

online_test!(
    card_replacement_timeline_operator_and_access_control,
    |h: Harness| async move {
        let a = logged_in(&h, 0).await;
        let b = logged_in(&h, 1).await;
        let path = "/api/v1/applications/card-replacement";
        let r = post_as(&h, &a, path, json!({"reason": "lost", "postal_code": "1", "mailing_address": "臺北市大安區信義路三段140號"})).await;
        assert_eq!(
            (r.status, r.json["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("postal_code"))
        );
        let r = post_as(&h, &a, path, json!({"reason": "stolen", "postal_code": "106", "mailing_address": "臺北市大安區信義路三段140號"})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "unknown reason");
        // Without the CSRF header the browser rule refuses it.
        let r = h
            .request(
                Method::POST,
                path,
                Some(json!({})),
                &[("cookie", &a), ("x-nhi-request", "0")],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = h.post(path, json!({"reason": "lost", "postal_code": "106", "mailing_address": "臺北市大安區信義路三段140號"})).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "needs a session");

        let r = post_as(&h, &a, path, json!({"reason": "damaged", "postal_code": "106", "mailing_address": "臺北市大安區信義路三段140號"})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.json["status"], "submitted");
        assert_eq!(r.json["reason"], "damaged");
        assert_eq!(r.json["timeline"].as_array().expect("timeline").len(), 1);
        let id = r.json["id"].as_i64().expect("id");

        // Person B sees none of it.
        let r = get_as(&h, &b, "/api/v1/applications").await;
        assert_eq!(r.json["applications"], json!([]));
        let r = get_as(&h, &b, &format!("/api/v1/applications/{id}")).await;
        assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_found"));
        let r = get_as(&h, &a, "/api/v1/applications").await;
        assert_eq!(r.json["applications"].as_array().expect("apps").len(), 1);

        // The operator API: token required, only allowed transitions.
        assert_eq!(
            operator(&h, id, "in_review", "wrong").await.status,
            StatusCode::UNAUTHORIZED
        );
        let r = h.get("/api/v1/operator/applications").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let r = operator(&h, id, "mailed", OPERATOR_TOKEN).await;
        assert_eq!(
            (r.status, r.json["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("status"))
        );
        let r = operator(&h, id, "issued", OPERATOR_TOKEN).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "certificates only");
        for s in ["in_review", "card_production", "mailed"] {
            let r = operator(&h, id, s, OPERATOR_TOKEN).await;
            assert_eq!(r.status, StatusCode::OK, "{s}: {}", r.text);
            assert_eq!(r.json["status"], s);
        }
        let r = operator(&h, id, "rejected", OPERATOR_TOKEN).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "final");
        assert_eq!(
            operator(&h, 999_999, "in_review", OPERATOR_TOKEN)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        let r = h
            .request(
                Method::GET,
                "/api/v1/operator/applications?status=mailed",
                None,
                &[("authorization", &format!("Bearer {OPERATOR_TOKEN}"))],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json["applications"].as_array().expect("apps").len(), 1);

        // The person follows the timeline.
        let r = get_as(&h, &a, &format!("/api/v1/applications/{id}")).await;
        let statuses: Vec<&str> = r.json["timeline"]
            .as_array()
            .expect("timeline")
            .iter()
            .map(|e| e["status"].as_str().expect("status"))
            .collect();
        assert_eq!(
            statuses,
            ["submitted", "in_review", "card_production", "mailed"]
        );
        assert_eq!(r.json["timeline"][1]["note"], "checked");

        // Audited: the submission, three changes, and the refusals.
        let audit = h.audit_actions().await;
        let count = |a: &str, o: &str| audit.iter().filter(|(x, y)| x == a && y == o).count();
        assert_eq!(count("application_submit", "ok"), 1);
        assert_eq!(count("application_status", "ok"), 3);
        assert!(count("application_status", "refused") >= 3);
        assert_eq!(count("application_status", "operator_refused"), 1);
        assert_eq!(count("application_status", "not_found"), 1);
    }
);

online_test!(
    enrolment_certificate_pdf_has_the_zh_tw_text,
    |h: Harness| async move {
        let a = logged_in(&h, 0).await;
        let b = logged_in(&h, 1).await;
        let r = post_as(
            &h,
            &a,
            "/api/v1/applications/enrolment-certificate",
            json!({}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.json["certificate_available"], false);
        let id = r.json["id"].as_i64().expect("id");
        let pdf_path = format!("/api/v1/applications/{id}/certificate.pdf");
        let r = get_as(&h, &a, &pdf_path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "not issued yet");

        let r = operator(&h, id, "issued", OPERATOR_TOKEN).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json["certificate_available"], true);
        assert_eq!(
            get_as(&h, &b, &pdf_path).await.status,
            StatusCode::NOT_FOUND,
            "B cannot fetch A's certificate"
        );
        assert_eq!(h.get(&pdf_path).await.status, StatusCode::UNAUTHORIZED);

        let r = get_as(&h, &a, &pdf_path).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.headers[header::CONTENT_TYPE], "application/pdf");
        // `text` is lossy; fetch the bytes again through the router for the PDF itself.
        let bytes = pdf_bytes(&h, &pdf_path, &a).await;
        assert!(bytes.starts_with(b"%PDF-"));
        assert!(
            bytes.len() < 300_000,
            "the font is subset: {} bytes",
            bytes.len()
        );
        let keep = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("certificate-{:?}.pdf", h.engine));
        let _ = std::fs::write(&keep, &bytes);
        let text = pdftotext(&bytes);
        for needle in [
            "全民健康保險投保證明",
            "王小明",
            "A12****789",
            "投保單位名稱",
            "第1類被保險人",
            "中華民國",
            "衛生福利部中央健康保險署",
            "迄今",
            // The current unit is the person's unit in the sample units data (王小明 is
            // insured by 好健康股份有限公司, 12345678).
            "好健康股份有限公司",
            "12345678",
        ] {
            assert!(text.contains(needle), "{needle:?} missing in:\n{text}");
        }
        let audit = h.audit_actions().await;
        assert!(audit
            .iter()
            .any(|(a, o)| a == "certificate_download" && o == "ok"));
    }
);

async fn pdf_bytes(h: &Harness, path: &str, cookie: &str) -> Vec<u8> {
    let req = axum::http::Request::builder()
        .uri(path)
        .header("cookie", cookie)
        .body(axum::body::Body::empty())
        .expect("request");
    common::raw(h, req).await.2
}

/// An operator's status change with a note of `visibility` (None: the field left out).
async fn operator_note(
    h: &Harness,
    id: i64,
    status: &str,
    note: &str,
    visibility: Option<&str>,
) -> Resp {
    let mut body = json!({ "status": status, "note": note });
    if let Some(v) = visibility {
        body["visibility"] = json!(v);
    }
    h.request(
        Method::POST,
        &format!("/api/v1/operator/applications/{id}/status"),
        Some(body),
        &[("authorization", &format!("Bearer {OPERATOR_TOKEN}"))],
    )
    .await
}

const ADDRESS: &str = "臺北市大安區信義路三段140號";

online_test!(
    one_pending_card_replacement_at_a_time,
    |h: Harness| async move {
        let a = logged_in(&h, 0).await;
        let path = "/api/v1/applications/card-replacement";
        let form = json!({"reason": "lost", "postal_code": "106", "mailing_address": ADDRESS});
        let r = post_as(&h, &a, path, form.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let first = r.json["id"].as_i64().expect("id");
        let r = post_as(&h, &a, path, form.clone()).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::CONFLICT, "application_pending"),
            "{}",
            r.text
        );
        // A certificate is another kind: allowed meanwhile.
        let r = post_as(
            &h,
            &a,
            "/api/v1/applications/enrolment-certificate",
            json!({}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        // Still pending while in review and in production; free again once mailed.
        for s in ["in_review", "card_production"] {
            assert_eq!(
                operator(&h, first, s, OPERATOR_TOKEN).await.status,
                StatusCode::OK
            );
            let r = post_as(&h, &a, path, form.clone()).await;
            assert_eq!(r.code(), "application_pending", "{s}");
        }
        assert_eq!(
            operator(&h, first, "mailed", OPERATOR_TOKEN).await.status,
            StatusCode::OK
        );
        let r = post_as(&h, &a, path, form.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "after mailing: {}", r.text);
        let second = r.json["id"].as_i64().expect("id");
        assert_eq!(
            operator(&h, second, "rejected", OPERATOR_TOKEN)
                .await
                .status,
            StatusCode::OK
        );

        // 20 concurrent submissions of another person: exactly one is accepted.
        let b = logged_in(&h, 1).await;
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let router = h.app.router.clone();
            let req = axum::http::Request::builder()
                .method(Method::POST)
                .uri(path)
                .header("cookie", &b)
                .header("x-nhi-request", "1")
                .header("origin", common::ORIGIN)
                .header(header::CONTENT_TYPE, "application/json")
                .body(axum::body::Body::from(form.to_string()))
                .expect("request");
            set.spawn(async move {
                use tower::ServiceExt as _;
                router.oneshot(req).await.expect("infallible").status()
            });
        }
        let mut statuses = Vec::new();
        while let Some(s) = set.join_next().await {
            statuses.push(s.expect("task"));
        }
        let created = statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count();
        let conflicts = statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count();
        assert_eq!((created, conflicts), (1, 19), "{statuses:?}");
        let r = get_as(&h, &b, "/api/v1/applications").await;
        assert_eq!(r.json["applications"].as_array().expect("apps").len(), 1);

        // The database itself refuses a second pending replacement (not only the service).
        let account: i64 = common::count(
            &h,
            "SELECT account_id FROM applications WHERE kind = 'card_replacement' AND status = 'submitted'",
        )
        .await;
        let insert = format!(
            "INSERT INTO applications (account_id, kind, status, created_at, updated_at) \
             VALUES ({account}, 'card_replacement', 'in_review', 1, 1)"
        );
        let refused = sqlx::query(&insert).execute(h.app.services.db.pool()).await;
        assert!(refused.is_err(), "the partial unique index refuses it");
        h.exec(&format!(
            "INSERT INTO applications (account_id, kind, status, created_at, updated_at) \
             VALUES ({account}, 'card_replacement', 'mailed', 1, 1)"
        ))
        .await;
    }
);

online_test!(
    internal_operator_notes_never_reach_the_citizen,
    |h: Harness| async move {
        let a = logged_in(&h, 0).await;
        let r = post_as(
            &h,
            &a,
            "/api/v1/applications/card-replacement",
            json!({"reason": "damaged", "postal_code": "106", "mailing_address": ADDRESS}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let id = r.json["id"].as_i64().expect("id");
        let secret = "STAFF-ONLY photo looks odd, call the township office";
        let r = operator_note(&h, id, "in_review", secret, Some("everyone")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "unknown visibility");
        let r = operator_note(&h, id, "in_review", secret, Some("internal")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(
            r.json["timeline"][1]["internal_note"], secret,
            "operators see it"
        );
        assert!(r.json["timeline"][1].get("note").is_none());
        let default_secret = "STAFF-ONLY default visibility";
        let r = operator_note(&h, id, "card_production", default_secret, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json["timeline"][2]["internal_note"], default_secret);
        let shown = "Your new card is on its way";
        let r = operator_note(&h, id, "mailed", shown, Some("citizen")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json["timeline"][3]["note"], shown);

        // The operator listing has every note.
        let r = h
            .request(
                Method::GET,
                "/api/v1/operator/applications",
                None,
                &[("authorization", &format!("Bearer {OPERATOR_TOKEN}"))],
            )
            .await;
        assert!(r.text.contains(secret) && r.text.contains(default_secret));

        // The citizen's JSON: the visible note, never an internal one, in both answers.
        for path in [
            "/api/v1/applications".to_owned(),
            format!("/api/v1/applications/{id}"),
        ] {
            let r = get_as(&h, &a, &path).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            assert!(r.text.contains(shown), "{path}: {}", r.text);
            assert!(!r.text.contains("STAFF-ONLY"), "{path} leaks: {}", r.text);
            assert!(!r.text.contains("internal_note"), "{path}: {}", r.text);
        }
    }
);
