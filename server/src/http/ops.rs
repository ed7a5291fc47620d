//! Operations: the health probe, the Prometheus metrics and this API's own OpenAPI document.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::MetricsScraper;
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

/// `/metrics` on the site's listener: only for a [`MetricsScraper`] (the bearer token of
/// `metrics_token_sha256`); 404 when no token is configured.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    description = "Served on the metrics listener (`metrics_listen`, default 127.0.0.1:9464), not on the site's. \
                   On the site's listener only when `metrics_token_sha256` is set, and then only with \
                   `Authorization: Bearer <token>`.",
    responses((status = 200, description = "Prometheus text format"),
              (status = 401, description = "Site listener: missing or wrong bearer token"),
              (status = 404, description = "Site listener without metrics_token_sha256")))]
async fn metrics_bearer(State(s): State<AppState>, _scraper: MetricsScraper) -> Response {
    metrics(State(s)).await
}
