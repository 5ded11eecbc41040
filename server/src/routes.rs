//! The HTTP surface: [`router`] wires every route; one file per resource.

pub mod grants;
pub mod health;
pub mod objects;
pub mod session;
pub mod shares;
pub mod uploads;

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::{delete, get, post};
use axum::{Extension, Router};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// Largest JSON body of most routes.
pub const MAX_BODY: usize = 16 * 1024;
/// Largest JSON body of "complete upload" (up to 10,000 part ETags).
pub const MAX_COMPLETE_BODY: usize = 1024 * 1024;
/// Largest JSON body of "resume" and "keys" (a 64 KiB header as base64, and a token).
pub const MAX_HEADER_BODY: usize = 96 * 1024;

/// The `/api` and `/auth` routes (no web page, no middleware).
pub fn api_routes(state: Arc<AppState>) -> Router {
    let limits = crate::rate_limit::RateLimits::new(
        state.limits.rate_limit_per_second,
        state.limits.rate_limit_burst,
        &state.limits.trusted_proxies,
    )
    .map(Arc::new);
    let limiter = axum::middleware::from_fn_with_state(
        (Arc::clone(&state), limits),
        crate::rate_limit::limit,
    );
    let complete = Router::new()
        .route(crate::COMPLETE_ROUTE, post(uploads::complete))
        .layer(DefaultBodyLimit::max(MAX_COMPLETE_BODY));
    // These carry a file header (up to 64 KiB, as base64).
    let with_header = Router::new()
        .route("/api/uploads/{object_id}/resume", post(uploads::resume))
        .route("/api/objects/{object_id}/keys", post(objects::keys))
        .route("/api/shared/{owner}/{object_id}/keys", post(grants::keys))
        .layer(DefaultBodyLimit::max(MAX_HEADER_BODY));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route(
            "/readyz",
            get(health::readyz).layer(Extension(Arc::new(health::ReadyCache::default()))),
        )
        .route("/auth/config", get(session::config))
        .route("/auth/dev-login", post(session::dev_login))
        .route("/api/me", get(session::me))
        .route("/api/uploads", post(uploads::start))
        .route("/api/uploads/{object_id}/parts", post(uploads::sign_parts))
        .route("/api/uploads/{object_id}/abort", post(uploads::abort))
        .route("/api/objects", get(objects::list))
        .route(
            "/api/objects/{object_id}",
            get(objects::show).delete(objects::delete),
        )
        .route("/api/objects/{object_id}/download", get(objects::download))
        .route(
            "/api/objects/{object_id}/data-key",
            post(objects::data_key_removed),
        )
        .route(
            "/api/objects/{object_id}/shares",
            get(shares::list).post(shares::create),
        )
        .route(
            "/api/shares/{share_id}",
            get(shares::start).delete(shares::revoke),
        )
        .route("/api/shares/{share_id}/open", post(shares::open))
        .route("/api/shares/{share_id}/download", post(shares::download))
        .route(
            "/api/objects/{object_id}/grants",
            get(grants::list).post(grants::create),
        )
        .route(
            "/api/objects/{object_id}/grants/{grantee_id}",
            delete(grants::revoke),
        )
        .route("/api/shared-with-me", get(grants::shared_with_me))
        .route(
            "/api/shared/{owner}/{object_id}/download",
            get(grants::download),
        )
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .merge(complete)
        .merge(with_header)
        .layer(limiter)
        .with_state(state)
}

/// `/metrics` alone, for the `--metrics-listen` listener (off by default: the
/// API's own listener does not serve it).
pub fn metrics_routes(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(health::metrics))
        .fallback(not_found)
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no_route", "no such route")
}

/// `Json` whose rejections are API errors.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => ApiError::bad_request(
            "invalid_request",
            format!("invalid request: {}", e.body_text()),
        ),
        JsonRejection::JsonSyntaxError(_) => {
            ApiError::bad_request("invalid_json", "the body is not valid JSON")
        }
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with 'Content-Type: application/json'",
        ),
        JsonRejection::BytesRejection(_) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "the request body is too large",
            )
        }
        _ => ApiError::bad_request("invalid_body", "the request body could not be read"),
    }
}

/// `Path` whose rejections are API errors.
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Self(v)),
            Err(e) => Err(path_rejection(&e)),
        }
    }
}

fn path_rejection(_e: &PathRejection) -> ApiError {
    ApiError::bad_request("invalid_path", "invalid path parameter")
}

/// `Query` whose rejections are API errors.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Self(v)),
            Err(e) => Err(query_rejection(&e)),
        }
    }
}

fn query_rejection(e: &QueryRejection) -> ApiError {
    ApiError::bad_request(
        "invalid_query",
        format!("invalid query string: {}", e.body_text()),
    )
}

/// Length of an object id in characters (128 random bits, lowercase hex).
pub const OBJECT_ID_LEN: usize = 32;

/// A fresh random object id.
///
/// # Errors
/// 500 when the system has no randomness.
pub fn new_object_id() -> Result<String, ApiError> {
    let mut bytes = [0u8; OBJECT_ID_LEN / 2];
    getrandom::fill(&mut bytes).map_err(|e| {
        ApiError::internal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
            format!("randomness: {e}"),
        )
    })?;
    Ok(hex::encode(bytes))
}

/// Checks an object id from a request: exactly 32 lowercase hex characters.
///
/// # Errors
/// 400 `invalid_object_id` otherwise (so no path-like value ever reaches S3).
pub fn check_object_id(id: &str) -> Result<(), ApiError> {
    if id.len() == OBJECT_ID_LEN && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_object_id",
            "object ids are 32 lowercase hexadecimal characters",
        ))
    }
}

/// The object key of `object_id` under `owner`.
pub fn object_key(owner: &str, object_id: &str) -> String {
    format!("users/{owner}/{object_id}")
}
