//! `/auth/config`, `/auth/dev-login` and `/api/me`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::ApiJson;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::state::AppState;

/// Response of `GET /auth/config`.
#[derive(Debug, Serialize)]
pub struct AuthConfig {
    /// Whether `POST /auth/dev-login` works.
    pub dev_login: bool,
    /// Set when the development login is on where anyone who reaches the server
    /// can use it (a listener beyond loopback, or beside OIDC): show it loudly.
    pub dev_login_warning: Option<String>,
    /// The OIDC issuer and audience, when configured.
    pub oidc: Option<OidcInfo>,
}

/// Public OIDC settings.
#[derive(Debug, Serialize)]
pub struct OidcInfo {
    /// Issuer URL.
    pub issuer: String,
    /// Audience tokens must carry.
    pub audience: String,
    /// OAuth client id for the page's authorization-code + PKCE sign-in.
    pub client_id: String,
}

/// `GET /auth/config`: how to sign in.
pub async fn config(State(state): State<Arc<AppState>>) -> Json<AuthConfig> {
    Json(AuthConfig {
        dev_login: state.auth.dev_login_enabled(),
        dev_login_warning: state.auth.dev_login_warning().map(str::to_owned),
        oidc: state.auth.oidc().map(|o| OidcInfo {
            issuer: o.issuer.clone(),
            audience: o.audience.clone(),
            client_id: o.client_id.clone(),
        }),
    })
}

/// Request of `POST /auth/dev-login`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevLogin {
    /// The user name to sign in as.
    pub user: String,
}

/// Response of `POST /auth/dev-login`.
#[derive(Debug, Serialize)]
pub struct Token {
    /// The bearer token.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// The user it is for.
    pub user: String,
}

/// `POST /auth/dev-login`: a session token for any user name (development only).
///
/// # Errors
/// 404 when the development login is off, 400 for a bad name.
pub async fn dev_login(
    State(state): State<Arc<AppState>>,
    ApiJson(req): ApiJson<DevLogin>,
) -> ApiResult<Json<Token>> {
    let (token, expires_in) = state.auth.dev_login(&req.user)?;
    Ok(Json(Token {
        token,
        token_type: "Bearer",
        expires_in,
        user: req.user,
    }))
}

/// Response of `GET /api/me`.
#[derive(Debug, Serialize)]
pub struct Me {
    /// The token's subject (user name or OIDC `sub`).
    pub user: String,
    /// The owner id used in object keys and encryption contexts.
    pub owner: String,
    /// What others type to share a file with the caller (development login: the
    /// user name; OIDC: the `--oidc-share-claim` claim), `null` when they have none.
    pub handle: Option<String>,
}

/// `GET /api/me`: who the token says the caller is.
pub async fn me(caller: Caller) -> Json<Me> {
    Json(Me {
        user: caller.subject,
        owner: caller.owner,
        handle: caller.handle,
    })
}
