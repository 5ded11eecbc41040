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
    /// What another user types to share a file with them (development login: the
    /// user name; OIDC: the `--oidc-share-claim` claim), if they have one.
    pub handle: Option<String>,
    /// [`grantee_id`] of the handle: where grants to them are indexed.
    pub grantee_id: Option<String>,
    /// The token source ("dev" or the issuer URL): grants this caller makes name
    /// users of the same source.
    pub source: String,
    /// Whether handles of this source are e-mail addresses (compared lowercased).
    pub email_handles: bool,
}

impl Caller {
    /// The caller for `subject` from token source `source` ("dev" or the issuer
    /// URL), without a handle.
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
            handle: None,
            grantee_id: None,
            source: source.to_owned(),
            email_handles: false,
        }
    }

    /// The same caller with `handle` (already normalized), or none.
    #[must_use]
    pub fn with_handle(mut self, handle: Option<String>, email_handles: bool) -> Self {
        self.email_handles = email_handles;
        self.grantee_id = handle.as_deref().map(|h| grantee_id(&self.source, h));
        self.handle = handle;
        self
    }

    /// The caller's key prefix in the bucket (`users/<owner>/`).
    pub fn prefix(&self) -> String {
        format!("users/{}/", self.owner)
    }

    /// A handle typed by this caller, as the server compares it: e-mail handles
    /// lowercased, anything else as typed.
    pub fn normalize_handle(&self, typed: &str) -> String {
        if self.email_handles {
            typed.to_lowercase()
        } else {
            typed.to_owned()
        }
    }

    /// The grantee id of `handle` (normalized) among this caller's source.
    pub fn grantee_id_of(&self, handle: &str) -> String {
        grantee_id(&self.source, handle)
    }
}

/// Longest handle, in characters (an e-mail address's maximum).
pub const MAX_HANDLE_CHARS: usize = 320;

/// Whether `handle` can be a handle: 1 to 320 characters, no control characters.
pub fn valid_handle(handle: &str) -> bool {
    !handle.is_empty()
        && handle.chars().count() <= MAX_HANDLE_CHARS
        && !handle.chars().any(char::is_control)
}

/// `grantee_id = hex(SHA-256("cipherdrop-grantee-v1\0" ‖ source ‖ "\0" ‖ handle))[..32]`:
/// 32 lowercase hex characters naming a handle of one token source in the bucket.
pub fn grantee_id(source: &str, handle: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"cipherdrop-grantee-v1\0");
    h.update(source.as_bytes());
    h.update(b"\0");
    h.update(handle.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// The default `--oidc-share-claim`.
pub const DEFAULT_SHARE_CLAIM: &str = "email";

/// The handle an OIDC token gives its holder: the string claim `claim`, or none
/// when it is absent, empty, not a string or not a valid handle. With `email`, a
/// token whose `email_verified` is `false` (or the string "false") has none, and
/// the address is lowercased.
pub fn oidc_handle(claims: &serde_json::Map<String, serde_json::Value>, claim: &str) -> Option<String> {
    let value = claims.get(claim)?.as_str()?;
    let handle = if claim == "email" {
        match claims.get("email_verified") {
            Some(serde_json::Value::Bool(false)) => return None,
            Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("false") => return None,
            _ => {}
        }
        value.to_lowercase()
    } else {
        value.to_owned()
    };
    valid_handle(&handle).then_some(handle)
}

#[derive(Debug, Serialize, Deserialize)]
struct DevClaims {
    iss: String,
    aud: String,
    sub: String,
    iat: u64,
    exp: u64,
}

/// An OIDC token's claims (all of them: the share claim is configurable).
type OidcClaims = serde_json::Map<String, serde_json::Value>;

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
    /// The claim whose value is a user's handle (`--oidc-share-claim`, default `email`).
    pub share_claim: String,
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
            let sub = data.claims.sub;
            return Ok(Caller::new("dev", &sub).with_handle(Some(sub.clone()), false));
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
        let sub = match data.claims.get("sub") {
            Some(serde_json::Value::String(s)) if !s.is_empty() && s.len() <= 255 => s,
            _ => return Err(ApiError::unauthorized("invalid token subject")),
        };
        let handle = oidc_handle(&data.claims, &oidc.share_claim);
        Ok(Caller::new(&oidc.issuer, sub).with_handle(handle, oidc.share_claim == "email"))
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
        assert_eq!(c.handle.as_deref(), Some("alice"));
        assert_eq!(c.grantee_id, Some(grantee_id("dev", "alice")));
        let b = Authenticator::new(true, b"secret-two", None);
        assert_eq!(b.verify(&t).await.expect_err("foreign").status(), 401);
        let off = Authenticator::new(false, b"secret-one", None);
        assert_eq!(off.verify(&t).await.expect_err("off").status(), 401);
    }

    #[test]
    fn grantee_ids_follow_the_contract() {
        // hex(SHA-256("cipherdrop-grantee-v1\0" ‖ source ‖ "\0" ‖ handle))[..32]
        let mut h = Sha256::new();
        h.update(b"cipherdrop-grantee-v1\0dev\0bob");
        let want = hex::encode(h.finalize())[..32].to_owned();
        assert_eq!(grantee_id("dev", "bob"), want);
        assert_eq!(want.len(), 32);
        assert_ne!(grantee_id("dev", "bob"), grantee_id("https://issuer", "bob"));
        assert_ne!(grantee_id("dev", "bob"), grantee_id("dev", "Bob"));
        // Not the owner id of the same name.
        assert_ne!(grantee_id("dev", "bob"), Caller::new("dev", "bob").owner);
        let dev = Caller::new("dev", "bob").with_handle(Some("bob".into()), false);
        assert_eq!(dev.grantee_id.as_deref(), Some(want.as_str()));
        assert_eq!(dev.normalize_handle("Bob"), "Bob");
        let oidc = Caller::new("https://issuer", "x").with_handle(None, true);
        assert_eq!(oidc.grantee_id, None);
        assert_eq!(oidc.normalize_handle("Bob@Example.COM"), "bob@example.com");
        assert_eq!(
            oidc.grantee_id_of("bob@example.com"),
            grantee_id("https://issuer", "bob@example.com")
        );
    }

    #[test]
    fn oidc_handles_come_from_the_share_claim() {
        let claims = |v: serde_json::Value| v.as_object().cloned().expect("an object");
        let c = claims(serde_json::json!({
            "sub": "u-1", "email": "Bob@Example.com", "email_verified": true,
            "preferred_username": "Bob", "groups": ["a"], "empty": ""
        }));
        assert_eq!(oidc_handle(&c, "email").as_deref(), Some("bob@example.com"));
        // Other claims are taken as they are (no lowercasing).
        assert_eq!(oidc_handle(&c, "preferred_username").as_deref(), Some("Bob"));
        assert_eq!(oidc_handle(&c, "sub").as_deref(), Some("u-1"));
        // Absent, empty, or not a string: no handle.
        assert_eq!(oidc_handle(&c, "nickname"), None);
        assert_eq!(oidc_handle(&c, "empty"), None);
        assert_eq!(oidc_handle(&c, "groups"), None);
        // An address the issuer has not verified is no handle.
        for unverified in [serde_json::json!(false), serde_json::json!("false")] {
            let c = claims(serde_json::json!({
                "sub": "u-1", "email": "bob@example.com", "email_verified": unverified
            }));
            assert_eq!(oidc_handle(&c, "email"), None, "{unverified}");
            assert_eq!(
                oidc_handle(&c, "sub").as_deref(),
                Some("u-1"),
                "email_verified concerns the email claim only"
            );
        }
        // No email_verified claim at all: the address counts.
        let c = claims(serde_json::json!({ "sub": "u-1", "email": "bob@example.com" }));
        assert_eq!(oidc_handle(&c, "email").as_deref(), Some("bob@example.com"));
        // Control characters or an over-long value: no handle.
        let c = claims(serde_json::json!({
            "sub": "u-1", "email": "bob@example.com\n", "name": "x".repeat(321)
        }));
        assert_eq!(oidc_handle(&c, "email"), None);
        assert_eq!(oidc_handle(&c, "name"), None);
    }
}
