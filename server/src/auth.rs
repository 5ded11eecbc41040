//! Identity: bearer tokens from the development login (HS256, signed by this
//! server) and from an OIDC issuer (asymmetric JWTs verified with its JWKS).
//!
//! The caller's *owner id* names their prefix in the bucket and goes into every
//! encryption context. It is a hash of the token source and subject, so neither the
//! bucket nor file headers reveal user names or e-mail addresses.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

/// `iss` of development-login tokens.
pub const DEV_ISSUER: &str = "cipherdrop-dev-login";
/// `aud` of development-login tokens.
pub const DEV_AUDIENCE: &str = "cipherdrop";
/// Lifetime of a development-login token.
pub const DEV_TOKEN_TTL: Duration = Duration::from_secs(12 * 3600);
/// Longest accepted user name for the development login.
pub const MAX_DEV_USER_LEN: usize = 64;

/// Asymmetric algorithms accepted from an OIDC issuer (never `HS*`, never `none`).
const OIDC_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Owner id: 32 lowercase hex characters, the bucket prefix and context value.
    pub owner: String,
    /// Who they are, for `/api/me` only (never logged).
    pub subject: String,
}

impl Caller {
    /// The caller for `subject` from token source `source` ("dev" or the issuer URL).
    pub fn new(source: &str, subject: &str) -> Self {
        let mut h = Sha256::new();
        h.update(b"cipherdrop-owner-v1\0");
        h.update(source.as_bytes());
        h.update(b"\0");
        h.update(subject.as_bytes());
        let digest = h.finalize();
        Self {
            owner: hex::encode(&digest[..16]),
            subject: subject.to_owned(),
        }
    }

    /// The caller's key prefix in the bucket (`users/<owner>/`).
    pub fn prefix(&self) -> String {
        format!("users/{}/", self.owner)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct DevClaims {
    iss: String,
    aud: String,
    sub: String,
    iat: u64,
    exp: u64,
}

#[derive(Debug, Deserialize)]
struct OidcClaims {
    sub: String,
}

/// OIDC settings.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// Expected `iss`.
    pub issuer: String,
    /// Expected `aud`.
    pub audience: String,
    /// OAuth client id the page signs in with (published by `/auth/config`).
    pub client_id: String,
    /// Where the keys are; `None` means discovery at `<issuer>/.well-known/openid-configuration`.
    pub jwks_url: Option<String>,
}

/// Keys fetched from the issuer. The set is refetched when it is older than
/// [`JWKS_MAX_AGE`], and when a token names a key id it lacks (at most every
/// [`JWKS_MIN_REFRESH`]). Fetches run one at a time and outside the lock that
/// token checks read, so sign-ins with known keys never wait on the issuer; a key
/// id still unknown after a fetch is refused without another fetch for
/// [`UNKNOWN_KID_TTL`] (so tokens with made-up key ids cannot keep the issuer
/// busy or make others wait).
#[derive(Debug, Default)]
struct JwksCache {
    state: std::sync::Mutex<JwksState>,
    /// Held while fetching: one fetch at a time (single flight).
    flight: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct JwksState {
    keys: Option<(Arc<JwkSet>, Instant)>,
    /// When the last fetch was tried, and whether it failed.
    last_fetch: Option<(Instant, bool)>,
    /// Key ids the set lacked, and since when.
    unknown: std::collections::HashMap<String, Instant>,
}

/// Longest time a fetched key set is used: a key removed at the issuer stops
/// being accepted within this time.
pub const JWKS_MAX_AGE: Duration = Duration::from_secs(600);
/// Shortest time between two fetches caused by unknown key ids.
pub const JWKS_MIN_REFRESH: Duration = Duration::from_secs(30);
/// How long a key id the issuer did not list is refused without asking again.
pub const UNKNOWN_KID_TTL: Duration = Duration::from_secs(60);
/// After a failed fetch, requests are answered 503 without fetching for this long.
const JWKS_FAILURE_BACKOFF: Duration = Duration::from_secs(5);
/// Most unknown key ids remembered.
const MAX_UNKNOWN_KIDS: usize = 1024;

impl JwksCache {
    fn state(&self) -> std::sync::MutexGuard<'_, JwksState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl JwksState {
    /// The key `kid` from a set that is not too old.
    fn fresh_key(&self, kid: &str) -> Option<jsonwebtoken::jwk::Jwk> {
        self.keys
            .as_ref()
            .filter(|(_, fetched)| fetched.elapsed() < JWKS_MAX_AGE)
            .and_then(|(set, _)| set.find(kid).cloned())
    }

    fn recently_unknown(&self, kid: &str) -> bool {
        self.unknown
            .get(kid)
            .is_some_and(|t| t.elapsed() < UNKNOWN_KID_TTL)
    }

    fn remember_unknown(&mut self, kid: &str) {
        if self.unknown.len() >= MAX_UNKNOWN_KIDS {
            self.unknown.retain(|_, t| t.elapsed() < UNKNOWN_KID_TTL);
            if self.unknown.len() >= MAX_UNKNOWN_KIDS {
                self.unknown.clear();
            }
        }
        self.unknown.insert(kid.to_owned(), Instant::now());
    }
}

fn unknown_kid() -> ApiError {
    ApiError::unauthorized("token signed by a key the issuer does not list")
}

fn issuer_unavailable(detail: String) -> ApiError {
    ApiError::internal(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "identity_provider_unavailable",
        "the identity provider's keys cannot be fetched; try again later",
        detail,
    )
}

/// Whether `url` may serve an OIDC issuer or its keys: `https`, or plain `http`
/// only to this machine (a loopback IP literal, 127.0.0.0/8 or ::1, or exactly
/// `localhost`). Parsed, not matched by prefix: `http://127.evil.example` and
/// `http://localhost.evil.example` are refused. No user name or password.
pub fn oidc_url_allowed(url: &str) -> bool {
    let Ok(u) = reqwest::Url::parse(url) else {
        return false;
    };
    if !u.username().is_empty() || u.password().is_some() {
        return false;
    }
    let Some(host) = u.host_str() else {
        return false;
    };
    match u.scheme() {
        "https" => true,
        "http" => {
            host == "localhost"
                || host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        _ => false,
    }
}

/// Verifies bearer tokens and issues development-login tokens.
pub struct Authenticator {
    dev_login: bool,
    dev_login_warning: Option<String>,
    dev_encoding: EncodingKey,
    dev_decoding: DecodingKey,
    oidc: Option<OidcSettings>,
    jwks: JwksCache,
    http: reqwest::Client,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("dev_login", &self.dev_login)
            .field("oidc", &self.oidc)
            .finish_non_exhaustive()
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether `name` is acceptable as a development-login user name: 1..=64 of
/// `A-Z a-z 0-9 . _ @ -`, not starting with `.` (no paths, no control characters).
pub fn valid_dev_user(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_DEV_USER_LEN
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'))
}

impl Authenticator {
    /// `dev_secret` signs development-login tokens (and is required even when the
    /// development login is off, so tokens from another server are never valid).
    pub fn new(dev_login: bool, dev_secret: &[u8], oidc: Option<OidcSettings>) -> Self {
        let key = derive(dev_secret, b"dev-login");
        Self {
            dev_login,
            dev_login_warning: None,
            dev_encoding: EncodingKey::from_secret(&key).expect("a 32-byte HMAC key is accepted"),
            dev_decoding: DecodingKey::from_secret(&key).expect("a 32-byte HMAC key is accepted"),
            oidc,
            jwks: JwksCache::default(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        }
    }

    /// Publishes `warning` on `/auth/config` (the development login is on where
    /// it is not safe: see `ServeArgs::dev_login_warning`).
    #[must_use]
    pub fn with_dev_login_warning(mut self, warning: Option<String>) -> Self {
        self.dev_login_warning = warning;
        self
    }

    /// Whether the development login is on.
    pub fn dev_login_enabled(&self) -> bool {
        self.dev_login
    }

    /// Why the development login is dangerous here, when it is on beyond loopback.
    pub fn dev_login_warning(&self) -> Option<&str> {
        self.dev_login_warning.as_deref()
    }

    /// The OIDC settings, if any.
    pub fn oidc(&self) -> Option<&OidcSettings> {
        self.oidc.as_ref()
    }

    /// Issues a development-login token for `user`.
    ///
    /// # Errors
    /// 404 when the development login is off, 400 for a bad user name.
    pub fn dev_login(&self, user: &str) -> Result<(String, u64), ApiError> {
        if !self.dev_login {
            return Err(ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "dev_login_disabled",
                "the development login is turned off on this server",
            ));
        }
        if !valid_dev_user(user) {
            return Err(ApiError::bad_request(
                "invalid_user",
                format!(
                    "user names are 1 to {MAX_DEV_USER_LEN} characters of A-Z, a-z, 0-9, '.', '_', '@', '-' and do not start with '.'"
                ),
            ));
        }
        let iat = now_secs();
        let claims = DevClaims {
            iss: DEV_ISSUER.to_owned(),
            aud: DEV_AUDIENCE.to_owned(),
            sub: user.to_owned(),
            iat,
            exp: iat + DEV_TOKEN_TTL.as_secs(),
        };
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.dev_encoding)
                .map_err(|e| {
                    ApiError::internal(
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "internal error",
                        format!("signing a token: {e}"),
                    )
                })?;
        Ok((token, DEV_TOKEN_TTL.as_secs()))
    }

    /// Verifies a bearer token.
    ///
    /// # Errors
    /// 401 for any token that is malformed, expired, for another audience or
    /// issuer, or badly signed; 503 when the issuer's keys cannot be fetched.
    pub async fn verify(&self, token: &str) -> Result<Caller, ApiError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| ApiError::unauthorized("malformed bearer token"))?;
        if header.alg == Algorithm::HS256 {
            if !self.dev_login {
                return Err(ApiError::unauthorized(
                    "development-login tokens are not accepted by this server",
                ));
            }
            let mut v = Validation::new(Algorithm::HS256);
            v.set_audience(&[DEV_AUDIENCE]);
            v.set_issuer(&[DEV_ISSUER]);
            v.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
            v.leeway = 30;
            let data = jsonwebtoken::decode::<DevClaims>(token, &self.dev_decoding, &v)
                .map_err(token_error)?;
            if !valid_dev_user(&data.claims.sub) {
                return Err(ApiError::unauthorized("invalid token subject"));
            }
            return Ok(Caller::new("dev", &data.claims.sub));
        }
        let Some(oidc) = &self.oidc else {
            return Err(ApiError::unauthorized(
                "token not accepted: no OIDC issuer is configured",
            ));
        };
        if !OIDC_ALGORITHMS.contains(&header.alg) {
            return Err(ApiError::unauthorized(
                "token signed with an algorithm this server does not accept",
            ));
        }
        let kid = header
            .kid
            .ok_or_else(|| ApiError::unauthorized("token has no key id (kid)"))?;
        let key = self.decoding_key(oidc, &kid).await?;
        let mut v = Validation::new(header.alg);
        v.set_audience(&[&oidc.audience]);
        v.set_issuer(&[&oidc.issuer]);
        v.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
        // `nbf`, when present, with the same leeway as `exp`.
        v.validate_nbf = true;
        v.leeway = 30;
        let data = jsonwebtoken::decode::<OidcClaims>(token, &key, &v).map_err(token_error)?;
        if data.claims.sub.is_empty() || data.claims.sub.len() > 255 {
            return Err(ApiError::unauthorized("invalid token subject"));
        }
        Ok(Caller::new(&oidc.issuer, &data.claims.sub))
    }

    async fn decoding_key(&self, oidc: &OidcSettings, kid: &str) -> Result<DecodingKey, ApiError> {
        let usable = |jwk: jsonwebtoken::jwk::Jwk| {
            DecodingKey::from_jwk(&jwk)
                .map_err(|_| ApiError::unauthorized("the issuer's key is unusable"))
        };
        {
            let state = self.jwks.state();
            if let Some(jwk) = state.fresh_key(kid) {
                return usable(jwk);
            }
            if state.recently_unknown(kid) {
                return Err(unknown_kid());
            }
        }
        // One fetch at a time; whoever waited here sees what it fetched.
        let _flight = self.jwks.flight.lock().await;
        {
            let mut state = self.jwks.state();
            if let Some(jwk) = state.fresh_key(kid) {
                return usable(jwk);
            }
            let stale = state
                .keys
                .as_ref()
                .is_none_or(|(_, t)| t.elapsed() >= JWKS_MAX_AGE);
            match state.last_fetch {
                Some((t, true)) if t.elapsed() < JWKS_FAILURE_BACKOFF => {
                    return Err(issuer_unavailable(
                        "JWKS: the last fetch failed moments ago".to_owned(),
                    ));
                }
                Some((t, false)) if !stale && t.elapsed() < JWKS_MIN_REFRESH => {
                    state.remember_unknown(kid);
                    return Err(unknown_kid());
                }
                _ => {}
            }
            state.last_fetch = Some((Instant::now(), true));
        }
        let set = self.fetch_jwks(oidc).await?;
        let mut state = self.jwks.state();
        state.last_fetch = Some((Instant::now(), false));
        state.keys = Some((Arc::new(set), Instant::now()));
        state.unknown.clear();
        if let Some(jwk) = state.fresh_key(kid) {
            return usable(jwk);
        }
        state.remember_unknown(kid);
        Err(unknown_kid())
    }

    async fn fetch_jwks(&self, oidc: &OidcSettings) -> Result<JwkSet, ApiError> {
        let jwks_url = match &oidc.jwks_url {
            Some(u) => u.clone(),
            None => {
                #[derive(Deserialize)]
                struct Discovery {
                    jwks_uri: String,
                }
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    oidc.issuer.trim_end_matches('/')
                );
                let d: Discovery = self
                    .http
                    .get(&url)
                    .send()
                    .await
                    .and_then(reqwest::Response::error_for_status)
                    .map_err(|e| issuer_unavailable(format!("OIDC discovery: {e}")))?
                    .json()
                    .await
                    .map_err(|e| issuer_unavailable(format!("OIDC discovery document: {e}")))?;
                if !oidc_url_allowed(&d.jwks_uri) {
                    return Err(issuer_unavailable(format!(
                        "OIDC discovery: jwks_uri {:?} is not https (nor http to loopback)",
                        d.jwks_uri
                    )));
                }
                d.jwks_uri
            }
        };
        self.http
            .get(&jwks_url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| issuer_unavailable(format!("JWKS fetch: {e}")))?
            .json::<JwkSet>()
            .await
            .map_err(|e| issuer_unavailable(format!("JWKS document: {e}")))
    }
}

fn token_error(e: jsonwebtoken::errors::Error) -> ApiError {
    use jsonwebtoken::errors::ErrorKind;
    let msg = match e.kind() {
        ErrorKind::ExpiredSignature => "token expired",
        ErrorKind::InvalidAudience => "token is for another audience",
        ErrorKind::InvalidIssuer => "token is from another issuer",
        ErrorKind::InvalidSignature => "token signature is invalid",
        ErrorKind::MissingRequiredClaim(_) => "token lacks a required claim",
        ErrorKind::ImmatureSignature => "token not valid yet",
        _ => "invalid bearer token",
    };
    ApiError::unauthorized(msg)
}

/// A 32-byte key for `label` from the server secret.
pub fn derive(secret: &[u8], label: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"cipherdrop-server-secret-v1\0");
    h.update(label);
    h.update(b"\0");
    h.update(secret);
    h.finalize().into()
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        // Verified already by the rate limiter (`rate_limit::limit`).
        if let Some(caller) = parts.extensions.get::<Self>() {
            return Ok(caller.clone());
        }
        let value = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthorized("missing bearer token (Authorization: Bearer …)")
        })?;
        let value = value
            .to_str()
            .map_err(|_| ApiError::unauthorized("malformed Authorization header"))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 8192)
            .ok_or_else(|| ApiError::unauthorized("expected 'Authorization: Bearer <token>'"))?;
        state.auth.verify(token).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_ids_differ_by_source_and_subject() {
        let a = Caller::new("dev", "alice");
        assert_eq!(a.owner.len(), 32);
        assert_ne!(a.owner, Caller::new("https://issuer", "alice").owner);
        assert_ne!(a.owner, Caller::new("dev", "bob").owner);
        assert_eq!(a.owner, Caller::new("dev", "alice").owner);
    }

    #[test]
    fn oidc_urls_are_parsed_not_prefix_matched() {
        for ok in [
            "https://issuer.example",
            "https://issuer.example/realms/x",
            "http://127.0.0.1:8080",
            "http://127.5.6.7/x",
            "http://[::1]:9000/",
            "http://localhost:3000/realms/x",
            "http://LOCALHOST",
        ] {
            assert!(oidc_url_allowed(ok), "{ok}");
        }
        for bad in [
            "http://127.evil.example",
            "http://localhost.evil.example",
            "http://localhost.",
            "http://issuer.example",
            "http://10.0.0.1",
            "http://[::ffff:10.0.0.1]",
            "http://127.0.0.1@evil.example",
            "https://user:pass@issuer.example",
            "ftp://127.0.0.1",
            "127.0.0.1:8080",
            "",
        ] {
            assert!(!oidc_url_allowed(bad), "{bad}");
        }
    }

    #[test]
    fn dev_user_names() {
        assert!(valid_dev_user("alice"));
        assert!(valid_dev_user("a.b-c_d@e"));
        for bad in [
            "",
            "../x",
            "a/b",
            ".hidden",
            "a\nb",
            "a b",
            "ä",
            &"x".repeat(65),
        ] {
            assert!(!valid_dev_user(bad), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn dev_tokens_round_trip_and_other_secrets_fail() {
        let a = Authenticator::new(true, b"secret-one", None);
        let (t, _) = a.dev_login("alice").expect("login");
        let c = a.verify(&t).await.expect("valid");
        assert_eq!(c.owner, Caller::new("dev", "alice").owner);
        let b = Authenticator::new(true, b"secret-two", None);
        assert_eq!(b.verify(&t).await.expect_err("foreign").status(), 401);
        let off = Authenticator::new(false, b"secret-one", None);
        assert_eq!(off.verify(&t).await.expect_err("off").status(), 401);
    }
}
