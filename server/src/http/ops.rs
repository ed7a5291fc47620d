//! Operations: the health probe, the Prometheus metrics and this API's own OpenAPI document.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use crate::storage::outbox;

/// `/healthz` and the site listener's `/metrics` (outside the API's CSRF and rate limits).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(metrics_bearer))
}

/// `/api/openapi.json` (under the API layers; it answers the document the router was built
/// with, handed in as an [`Extension`]).
pub fn document_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(openapi_json))
}

#[utoipa::path(get, path = "/api/openapi.json", tag = "operations",
    responses((status = 200, description = "This document (OpenAPI 3.1)")))]
async fn openapi_json(
    Extension(doc): Extension<Arc<utoipa::openapi::OpenApi>>,
) -> Json<utoipa::openapi::OpenApi> {
    Json((*doc).clone())
}

#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Up and the database answers"),
              (status = 503, description = "The database does not answer")))]
async fn healthz(State(s): State<AppState>) -> Response {
    match s.services.db.ping().await {
        Ok(()) => Json(serde_json::json!({"status": "ok"})).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "database unavailable"})),
            )
                .into_response()
        }
    }
}

/// `/metrics` on the metrics listener (`metrics_listen`): no authentication, the listener is
/// not public.
pub async fn metrics(State(s): State<AppState>) -> Response {
    let counts = async {
        let mut conn = s.services.db.conn().await?;
        outbox::counts(&mut conn).await
    }
    .await
    .ok();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.services.metrics.render(counts),
    )
        .into_response()
}

/// `/metrics` on the site's listener: only with `Authorization: Bearer <token>` whose SHA-256
/// is `metrics_token_sha256` (compared in constant time); 404 when no token is configured.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    description = "Served on the metrics listener (`metrics_listen`, default 127.0.0.1:9464), not on the site's. \
                   On the site's listener only when `metrics_token_sha256` is set, and then only with \
                   `Authorization: Bearer <token>`.",
    responses((status = 200, description = "Prometheus text format"),
              (status = 401, description = "Site listener: missing or wrong bearer token"),
              (status = 404, description = "Site listener without metrics_token_sha256")))]
async fn metrics_bearer(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let Some(expected) = s
        .services
        .config
        .metrics_token_sha256
        .as_deref()
        .and_then(|h| hex::decode(h.trim()).ok())
    else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let ok = presented.is_some_and(|t| {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(t.as_bytes());
        digest.len() == expected.len()
            && digest
                .iter()
                .zip(&expected)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    });
    if !ok {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "unauthorized",
        )
            .into_response();
    }
    metrics(State(s)).await
}
