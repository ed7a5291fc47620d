//! The HTTP layer: one route module per flow, extractors, the one error mapping, security
//! middleware, the SPA.
//!
//! Each flow's module (`card_proof`, `registration`, `session`, `units`,
//! `certificate_login`, `uploads`,
//! `bulk_registration`, `online`, `operators`, `ops`, `downloads`) owns a `routes()` that answers a
//! utoipa-axum [`OpenApiRouter`]: a route is registered from its handler's
//! `#[utoipa::path]`, so the route and its OpenAPI operation are one declaration. [`router`]
//! merges them (the OpenAPI document is what the merged routers carry); the route modules
//! import only [`error`], [`extract`], [`auth`] and this module's [`AppState`] and
//! [`attachment`], never each other.

pub mod auth;
pub mod bulk_registration;
pub mod card_proof;
pub mod certificate_login;
pub mod downloads;
pub mod error;
pub mod extract;
pub mod online;
pub mod operators;
pub mod ops;
pub mod passkeys;
pub mod registration;
pub mod security;
pub mod session;
pub mod spa;
pub mod units;
pub mod uploads;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Extension, Router};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, MakeSpan, TraceLayer};
use tracing::Level;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;

use crate::services::rate_limit::Limiter;
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
    /// The per-client rate limit: in memory on SQLite, in the database on PostgreSQL.
    pub limiter: Arc<Limiter>,
}

/// The document's title and description; the paths and schemas come from the route modules.
#[derive(utoipa::OpenApi)]
#[openapi(info(
    title = "NHI card web registration API",
    description = "F1 registration, F2 confirmation, F3 login, F4–F8 insured units and bulk \
    registration, F9 online services, F11 the operators' desk. State-changing requests with \
    the session cookie need the header `x-nhi-request: 1` and this site's Origin."
))]
struct ApiInfo;

/// A download: the body with its content type and `Content-Disposition: attachment`.
pub fn attachment(
    body: impl IntoResponse,
    content_type: &'static str,
    file_name: &str,
) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// Every documented route, in the three groups that get different layers: the cookie API
/// (CSRF, rate limit, JSON body limit), the operators' API (bearer token: no cookie CSRF rule)
/// and the operations routes (no API layer).
pub struct Routes {
    pub api: OpenApiRouter<AppState>,
    pub operators: OpenApiRouter<AppState>,
    pub ops: OpenApiRouter<AppState>,
}

pub fn routes() -> Routes {
    Routes {
        api: OpenApiRouter::new()
            .merge(card_proof::routes())
            .merge(registration::routes())
            .merge(session::routes())
            .merge(units::routes())
            .merge(certificate_login::routes())
            .merge(passkeys::routes())
            .merge(uploads::routes())
            .merge(bulk_registration::routes())
            .merge(online::routes())
            .merge(downloads::routes())
            .merge(ops::document_routes()),
        operators: operators::routes(),
        ops: ops::routes(),
    }
}

/// The OpenAPI document (`/api/openapi.json`): every route of [`routes`].
pub fn document() -> utoipa::openapi::OpenApi {
    let r = routes();
    let mut doc = ApiInfo::openapi();
    for group in [r.api, r.operators, r.ops] {
        doc.merge(group.into_openapi());
    }
    doc
}

pub fn router(services: Arc<Services>) -> Router {
    let cfg = services.config.clone();
    let state = AppState {
        limiter: Arc::new(Limiter::for_database(
            &services.db,
            cfg.rate_limit_per_minute,
            cfg.rate_limit_burst,
        )),
        services,
    };
    let Routes {
        api,
        operators,
        ops,
    } = routes();
    let api = api
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security::rate_limit,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security::csrf,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    let (routes, doc) = OpenApiRouter::with_openapi(ApiInfo::openapi())
        .merge(api)
        .merge(operators.layer(DefaultBodyLimit::max(MAX_BODY_BYTES)))
        .merge(ops)
        .split_for_parts();
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
    routes
        .layer(Extension(Arc::new(doc)))
        .fallback_service(spa)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security::loopback_alias,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security::headers,
        ))
        // Downloads (packages, zips, PDFs) are compressed already: sent as they are, with
        // their Content-Length.
        .layer(
            CompressionLayer::new().compress_when(
                DefaultPredicate::new()
                    .and(NotForContentType::const_new("application/zip"))
                    .and(NotForContentType::const_new("application/octet-stream"))
                    .and(NotForContentType::const_new("application/pdf")),
            ),
        )
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
        limiter: Arc::new(Limiter::off()),
        services,
    };
    Router::new()
        .route("/metrics", get(ops::metrics))
        // Scrapes are logged at DEBUG only (the default response level).
        .layer(request_log())
        .with_state(state)
}
