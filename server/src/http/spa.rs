//! Serves the SPA's dist folder. Unknown routes get the index.html of the SPA area that renders
//! them (client-side routing; `dist/index.html`, `dist/units/index.html`, …, see
//! [`nhi_protocol::areas`]), but asset-like paths (an extension in the last segment,
//! /assets/…) and /api/… answer 404 so a typo never turns into a MIME error.

use std::path::PathBuf;

use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use nhi_protocol::api::ErrorCode;
use nhi_protocol::areas::Area;

use super::error::HttpError;

pub fn looks_like_asset(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or_default();
    path.starts_with("/assets/") || last.contains('.')
}

/// Trunk's content-hashed file names (`name-<16 hex>.ext`, `name-<16 hex>_bg.wasm`) never
/// change content, so they may be cached for a year.
pub fn is_fingerprinted(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or_default();
    let stem = last
        .split('.')
        .next()
        .unwrap_or_default()
        .trim_end_matches("_bg");
    stem.rsplit_once('-')
        .is_some_and(|(_, h)| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The index.html that boots the area rendering `path`; the citizen area's when that area
/// was not built (its app then shows "page not found").
fn index_for(dist: &std::path::Path, path: &str) -> PathBuf {
    let area = dist.join(Area::of_path(path).dir()).join("index.html");
    if area.is_file() {
        area
    } else {
        dist.join("index.html")
    }
}

/// The fallback after the static files: the area's index.html, or 404.
pub async fn fallback(dist: PathBuf, uri: Uri) -> Response {
    let path = uri.path();
    if path.starts_with("/api/") {
        return HttpError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "no such API endpoint",
        )
        .into_response();
    }
    if looks_like_asset(path) {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    match tokio::fs::read(index_for(&dist, path)).await {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            body,
        )
            .into_response(),
        Err(_) => (
            StatusCode::NOT_FOUND,
            "The web app is not built: run `trunk build --release` (see README) or set dist_dir.",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn asset_paths_are_recognised() {
        assert!(super::looks_like_asset("/assets/app.css"));
        assert!(super::looks_like_asset("/app-123.wasm"));
        assert!(!super::looks_like_asset("/register"));
        assert!(!super::looks_like_asset("/confirm"));
    }

    #[test]
    fn each_area_gets_its_own_index() {
        let dist = std::env::temp_dir().join(format!("nhi-spa-areas-{}", std::process::id()));
        std::fs::create_dir_all(dist.join("units")).expect("dist");
        std::fs::write(dist.join("index.html"), "citizen").expect("index");
        std::fs::write(dist.join("units/index.html"), "units").expect("units index");
        assert_eq!(
            super::index_for(&dist, "/units/upload"),
            dist.join("units/index.html")
        );
        assert_eq!(
            super::index_for(&dist, "/register"),
            dist.join("index.html")
        );
        // online/ was not built: the citizen app answers (its not-found page)
        assert_eq!(
            super::index_for(&dist, "/health-bank"),
            dist.join("index.html")
        );
        let _ = std::fs::remove_dir_all(&dist);
    }

    #[test]
    fn fingerprinted_names_are_recognised() {
        assert!(super::is_fingerprinted("/nhi-app-86125c6eb673b161_bg.wasm"));
        assert!(super::is_fingerprinted("/main-7c3e55873242d7b8.css"));
        assert!(!super::is_fingerprinted("/boot.js"));
        assert!(!super::is_fingerprinted("/"));
        assert!(!super::is_fingerprinted("/nhi-strength.js"));
    }
}
