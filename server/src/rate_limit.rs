//! Per-user request rate limits on `/api/*` (`--rate-limit`, `--rate-limit-burst`):
//! a GCRA limiter (`governor`) keyed by owner id. Over the limit the answer is
//! `429 rate_limited` with `Retry-After`, before any S3 or key-service call.
//! Requests without a valid token pass through to be refused (401) by the route.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{FromRequestParts as _, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// Checks between two sweeps of idle users out of the limiter's table.
const SWEEP_EVERY: u64 = 4096;

/// The limiter of one server.
pub struct RateLimits {
    limiter: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
    checks: AtomicU64,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits").finish_non_exhaustive()
    }
}

impl RateLimits {
    /// `per_second` requests per second per user, up to `burst` at once; `None`
    /// when `per_second` is 0 (no limit).
    pub fn new(per_second: u32, burst: u32) -> Option<Self> {
        let per_second = NonZeroU32::new(per_second)?;
        let burst = NonZeroU32::new(burst).unwrap_or(per_second);
        Some(Self {
            limiter: DefaultKeyedRateLimiter::keyed(
                Quota::per_second(per_second).allow_burst(burst),
            ),
            clock: DefaultClock::default(),
            checks: AtomicU64::new(0),
        })
    }

    /// `Ok` when `owner` may make a request now, else how long to wait.
    fn check(&self, owner: &str) -> Result<(), std::time::Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&owner.to_owned())
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

/// Middleware: verifies the caller once (the route reuses it), then applies the
/// caller's rate limit.
pub async fn limit(
    State((state, limits)): State<(Arc<AppState>, Option<Arc<RateLimits>>)>,
    req: Request,
    next: Next,
) -> Response {
    if !req.uri().path().starts_with("/api/") || !req.headers().contains_key(header::AUTHORIZATION)
    {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let caller = Caller::from_request_parts(&mut parts, &state).await;
    if let Ok(caller) = caller {
        if let Some(limits) = &limits
            && let Err(wait) = limits.check(&caller.owner)
        {
            return too_many_requests(wait);
        }
        parts.extensions.insert(caller);
    }
    next.run(Request::from_parts(parts, body)).await
}

fn too_many_requests(wait: std::time::Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let secs = secs.max(1);
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!(
            "too many requests from this account: wait {secs} second{} and try again",
            if secs == 1 { "" } else { "s" }
        ),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    response
}
