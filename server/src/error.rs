//! The API's error type: every failure becomes `{"error": {"code", "message"}}`.
//!
//! 4xx errors carry a precise message for the caller. 5xx errors carry a generic
//! message; the detail goes to the log only (and never contains secrets: callers
//! build `detail` from SDK error codes, not from requests or presigned URLs).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answered to an API caller.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// Extra detail for the log only (5xx).
    detail: Option<String>,
    /// Wrong passwords a share link still takes (`wrong_password`), also in the body
    /// as `attempts_left` so a client need not read it out of the message.
    attempts_left: Option<u32>,
}

impl ApiError {
    /// An error with an explicit status, stable machine-readable code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            detail: None,
            attempts_left: None,
        }
    }

    /// 400: the request is malformed or a value is out of range.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401: no usable credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: authenticated, but not allowed.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    /// 404 for an object the caller does not own or that does not exist (the
    /// two are deliberately indistinguishable).
    pub fn object_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such object (it does not exist or is not yours)",
        )
    }

    /// 404 for an upload that does not exist, is finished, or is not the caller's.
    pub fn upload_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "upload_not_found",
            "no such upload (it does not exist, has already been completed or aborted, or is not yours)",
        )
    }

    /// 404 `upload_not_found` from "resume": the upload cannot be continued.
    pub fn upload_not_resumable() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "upload_not_found",
            "This upload can no longer be resumed: it has expired or ended (it was completed or cancelled), or it is not yours. Start it again.",
        )
    }

    /// 5xx with a generic message; `detail` is logged, not returned.
    pub fn internal(
        status: StatusCode,
        code: &'static str,
        message: &str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            message: message.to_owned(),
            detail: Some(detail.into()),
            attempts_left: None,
        }
    }

    /// Adds `attempts_left` to the answer (a share link's wrong password).
    #[must_use]
    pub fn with_attempts_left(mut self, n: u32) -> Self {
        self.attempts_left = Some(n);
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The message shown to the caller.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    attempts_left: Option<u32>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(
                status = self.status.as_u16(),
                code = self.code,
                detail = self.detail.as_deref().unwrap_or(""),
                "request failed"
            );
        } else {
            tracing::debug!(
                status = self.status.as_u16(),
                code = self.code,
                "request refused"
            );
        }
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                attempts_left: self.attempts_left,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;
