//! `/api/openapi.json` documents every route the router serves, and only those.
//!
//! Two directions: (1) every documented operation is routed — its path answers 405 to a
//! method it does not document (the path is matched; an unrouted path would fall through to
//! the SPA) and never 405 to the methods it documents; (2) nothing is routed that is not
//! documented — route modules register routes only through utoipa-axum's `routes!` (from the
//! handler's `#[utoipa::path]`), and every plain `.route(…)`, `.route_service(…)` or
//! `.nest(…)` in `src/` is checked against the document.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use axum::http::{Method, StatusCode};
use common::Harness;
use serde_json::Value;

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

fn documented(doc: &Value) -> BTreeMap<String, BTreeSet<String>> {
    doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .map(|(path, item)| {
            let methods = METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(|m| (*m).to_owned())
                .collect();
            (path.clone(), methods)
        })
        .collect()
}

/// A documented path with its parameters filled in.
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push('1');
            }
            '}' => in_param = false,
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

both_engines!(every_documented_route_is_routed, |h: Harness| async move {
    let served = h.get("/api/openapi.json").await;
    assert_eq!(served.status, StatusCode::OK);
    let doc = serde_json::to_value(nhi_server::http::document()).expect("json");
    assert_eq!(served.json, doc, "the served document is http::document()");
    let paths = documented(&doc);
    assert!(paths.len() >= 28, "{} paths", paths.len());
    for (path, methods) in &paths {
        assert!(!methods.is_empty(), "{path}: no operation");
        let uri = concrete(path);
        let unused = METHODS
            .iter()
            .find(|m| !methods.contains(**m))
            .expect("a method the path does not document");
        let method = Method::from_bytes(unused.to_uppercase().as_bytes()).expect("method");
        let r = h.request(method, &uri, None, &[]).await;
        assert_eq!(
            r.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{unused} {uri}: the documented path {path} is not routed ({})",
            r.text
        );
        for m in methods {
            let method = Method::from_bytes(m.to_uppercase().as_bytes()).expect("method");
            let r = h.request(method, &uri, None, &[]).await;
            assert_ne!(
                r.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{m} {path} is documented but not routed"
            );
        }
    }
});

/// Every `.route(…)`-like call's path literal in `src/` (route modules use `routes!`).
fn plain_routes() -> Vec<(String, String)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).expect("src dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut found = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("source");
        // Test code (cfg(test) items close a file: local stand-ins of outside services)
        // serves nothing of ours.
        let text = text
            .split_once("#[cfg(test)]\n")
            .map_or(text.as_str(), |(code, _)| code);
        for call in [".route(", ".route_service(", ".nest(", ".nest_service("] {
            for (i, _) in text.match_indices(call) {
                let rest = text[i + call.len()..].trim_start();
                let literal = rest
                    .strip_prefix('"')
                    .and_then(|r| r.split_once('"'))
                    .map(|(p, _)| p.to_owned());
                found.push((
                    format!("{}: {call}", f.display()),
                    literal.unwrap_or_else(|| {
                        format!("<not a literal: {}>", &rest[..rest.len().min(30)])
                    }),
                ));
            }
        }
    }
    found
}

#[test]
fn nothing_is_routed_undocumented() {
    let doc = serde_json::to_value(nhi_server::http::document()).expect("json");
    let paths = documented(&doc);
    let plain = plain_routes();
    for (site, path) in &plain {
        assert!(
            paths.contains_key(path),
            "{site} routes {path}, which /api/openapi.json does not document \
             (register it with utoipa-axum's routes! from a #[utoipa::path] handler)"
        );
    }
    // Today: only the metrics listener's /metrics (documented with the site's).
    assert_eq!(plain.len(), 1, "{plain:?}");
}

/// The flows' paths, the units routes included, and the protocol's types as schemas.
#[test]
fn the_document_describes_the_protocol_types() {
    let doc = serde_json::to_value(nhi_server::http::document()).expect("json");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let paths = documented(&doc);
    for (path, method) in [
        ("/api/v1/card-proof/nonce", "post"),
        ("/api/v1/registrations", "post"),
        ("/api/v1/registrations/confirm", "post"),
        ("/api/v1/registrations/resend", "post"),
        ("/api/v1/session", "post"),
        ("/api/v1/session", "delete"),
        ("/api/v1/me", "get"),
        ("/api/v1/units", "get"),
        ("/api/v1/units/{code}/roles", "put"),
        ("/api/v1/units/{code}/uploads", "post"),
        ("/api/v1/units/{code}/uploads/{id}/result.txt", "get"),
        ("/api/v1/bulk-registrations/activate", "post"),
        ("/api/v1/health-bank", "get"),
        ("/api/v1/applications/{id}/certificate.pdf", "get"),
        ("/api/v1/operator/applications/{id}/status", "post"),
        ("/healthz", "get"),
        ("/metrics", "get"),
        ("/api/openapi.json", "get"),
    ] {
        assert!(
            paths.get(path).is_some_and(|m| m.contains(method)),
            "{method} {path} documented"
        );
    }
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for name in [
        "RegisterRequest",
        "CardProof",
        "HouseholdInfo",
        "ApiError",
        "ErrorCode",
        "PasswordProblem",
        "UserInfo",
        "HealthBankResponse",
        "Application",
        "MyUnitsResponse",
        "UploadRecord",
        "BulkActivateRequest",
    ] {
        assert!(schemas.contains_key(name), "schema {name}");
    }
    // Every reference resolves: nested types are in the document too.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected $ref {r}"));
        assert!(schemas.contains_key(name), "$ref {r} resolves");
    }
    assert!(
        !schemas.keys().any(|k| k.ends_with("Doc")),
        "no hand-written *Doc mirrors"
    );
}
