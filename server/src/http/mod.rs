//! The HTTP layer: routes, extractors, error mapping, security middleware, the SPA.

pub mod error;
pub mod extract;
pub mod handlers;
pub mod online;
pub mod openapi;
pub mod security;
pub mod spa;
pub mod units;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, MakeSpan, TraceLayer};
use tracing::Level;

use crate::services::Services;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest a request may take before it is answered 408.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A handler bug answers 500 `internal` (and is logged) instead of dropping the connection.
fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    tracing::error!("a request handler panicked");
    error::HttpError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        nhi_protocol::api::ErrorCode::Internal,
        "internal error; please retry",
    )
    .into_response()
}

/// The request log's span: an id, the method and the PATH only. Never the query string (the
/// old confirmation links carried their one-time ticket there; today it is in the fragment), never headers
/// (cookies, bearer tokens) and never bodies (passwords). The status and latency are added by
/// the response event inside it.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, req: &axum::http::Request<B>) -> tracing::Span {
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info_span!(
            "request",
            id,
            method = %req.method(),
            path = %req.uri().path(),
        )
    }
}

/// The request log layer of both listeners (see [`RequestSpan`]).
fn request_log() -> TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    RequestSpan,
> {
    TraceLayer::new_for_http().make_span_with(RequestSpan)
}

#[derive(Clone)]
pub struct AppState {
    pub services: Arc<Services>,
    pub limiter: Arc<security::RateLimiter>,
}

pub fn router(services: Arc<Services>) -> Router {
    let cfg = services.config.clone();
    let state = AppState {
        limiter: Arc::new(security::RateLimiter::new(
            cfg.rate_limit_per_minute,
            cfg.rate_limit_burst,
        )),
        services,
    };
    let openapi = Arc::new(openapi::document());
    let api = Router::new()
        .route("/api/v1/card-proof/nonce", post(handlers::nonce))
        .route("/api/v1/places", get(handlers::places))
        .route(
            "/api/v1/registrations/household-check",
            post(handlers::household_check),
        )
        .route("/api/v1/registrations", post(handlers::register))
        .route("/api/v1/registrations/confirm", post(handlers::confirm))
        .route("/api/v1/registrations/resend", post(handlers::resend))
        .route(
            "/api/v1/session",
            post(handlers::login).delete(handlers::logout),
        )
        .route("/api/v1/me", get(handlers::me))
        .merge(online::citizen_routes())
        .merge(units::routes())
        .route(
            "/api/openapi.json",
            get(move || async move { Json((*openapi).clone()) }),
        )
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security::rate_limit,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security::csrf,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    let dist = cfg.dist_dir.clone();
    let spa = ServeDir::new(&cfg.dist_dir)
        // Directories (`/`, `/units`) go to the fallback, which picks the area's index.html: no
        // redirect to `/units/`, which the app would not route.
        .append_index_html_on_directories(false)
        .fallback(tower::service_fn(move |req: axum::extract::Request| {
            let dist = dist.clone();
            async move {
                Ok::<_, std::convert::Infallible>(spa::fallback(dist, req.uri().clone()).await)
            }
        }));
    Router::new()
        .merge(api)
        .merge(online::operator_routes().layer(DefaultBodyLimit::max(MAX_BODY_BYTES)))
        .route("/healthz", get(handlers::healthz))
        // Not the metrics (those are on `metrics_listen`) unless a bearer token is configured;
        // the explicit route keeps `/metrics` from falling through to the SPA.
        .route("/metrics", get(handlers::metrics_bearer))
        .fallback_service(spa)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security::headers,
        ))
        .layer(CompressionLayer::new())
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(request_log().on_response(DefaultOnResponse::new().level(Level::INFO)))
        .with_state(state)
}

/// The metrics listener's router (`metrics_listen`): `GET /metrics`, nothing else.
pub fn metrics_router(services: Arc<Services>) -> Router {
    let state = AppState {
        // Unused here: the metrics router has no rate-limited route.
        limiter: Arc::new(security::RateLimiter::new(0, 1)),
        services,
    };
    Router::new()
        .route("/metrics", get(handlers::metrics))
        // Scrapes are logged at DEBUG only (the default response level).
        .layer(request_log())
        .with_state(state)
}
