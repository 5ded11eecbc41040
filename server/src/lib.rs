//! The CipherDrop backend: hands signed-in users data keys (from AWS KMS or a local
//! keyring) and presigned S3 URLs, and never sees file contents.
//!
//! The library exposes [`app`] (the whole HTTP service as an axum [`Router`]) and
//! [`run`] (serve it on a listener until a shutdown signal), so tests bind port 0
//! and drive the real server. [`serve::prepare`] builds the state from
//! [`config::ServeArgs`] the way `cipherdrop serve` does. `docs/API.md` is the
//! contract of the routes.

pub mod auth;
pub mod cli;
pub mod config;
pub mod embedded;
pub mod error;
pub mod keys;
pub mod logging;
pub mod quota;
pub mod rate_limit;
pub mod routes;
pub mod secret_file;
pub mod serve;
pub mod state;
pub mod store;
pub mod upload_token;
pub mod web;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::MatchedPath;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use state::AppState;

/// Longest time one API request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest time "complete upload" may take: S3 may take minutes to assemble a large
/// multipart object (and the local mode copies every part into one file).
pub const COMPLETE_TIMEOUT: Duration = Duration::from_secs(600);

/// The route whose requests get [`COMPLETE_TIMEOUT`].
pub(crate) const COMPLETE_ROUTE: &str = "/api/uploads/{object_id}/complete";

/// The whole service: API routes, health checks and the web page.
pub fn app(state: Arc<AppState>) -> Router {
    let web = web::router(state.web_dir.as_deref(), &state.store_origins);
    let api = routes::api_routes(state)
        // Responses carry data keys and presigned URLs: never cache them.
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    api.merge(web)
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        // Presigned URLs must not leak to other sites through Referer.
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(axum::middleware::from_fn(request_deadline))
        .layer(
            // The span names the route pattern, never the raw URI (which could carry
            // query values); headers (Authorization) are not recorded.
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let route = req
                    .extensions()
                    .get::<MatchedPath>()
                    .map_or("unmatched", MatchedPath::as_str);
                tracing::info_span!("request", method = %req.method(), route)
            }),
        )
}

/// Answers a request that takes longer than [`REQUEST_TIMEOUT`] ([`COMPLETE_TIMEOUT`]
/// for "complete upload") with a JSON 503 the client can retry (S3 and KMS calls
/// have shorter deadlines of their own, so this is the last resort).
async fn request_deadline(req: axum::extract::Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let deadline = if route == COMPLETE_ROUTE {
        COMPLETE_TIMEOUT
    } else {
        REQUEST_TIMEOUT
    };
    match tokio::time::timeout(deadline, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(%route, "request timed out after {} s", deadline.as_secs());
            error::ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "the request took too long (the storage or key service did not answer in time); try again",
            )
            .into_response()
        }
    }
}

/// Serves [`app`]`(state)` on `listener` until `shutdown` resolves, then finishes
/// the requests in flight.
///
/// # Errors
/// When accepting connections fails.
pub async fn run(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The peer address is the per-address rate limit's key (rate_limit.rs).
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
