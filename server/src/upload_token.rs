//! Upload tokens: what the server needs to remember about an upload between
//! "start" and "complete", signed (HS256) and handed to the browser, so the server
//! stays stateless.
//!
//! A token binds the owner, the object id, the store's multipart upload id and the
//! file's layout. `parts`, `complete` and `abort` accept only a token whose owner is
//! the caller and whose object is the one in the path: object stores do not all tie a
//! multipart upload id to one key (s3s-fs does not), so the server must.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

const AUDIENCE: &str = "cipherdrop-upload";

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What an upload token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadClaims {
    /// Owner id.
    pub sub: String,
    /// Object id.
    pub obj: String,
    /// The store's multipart upload id; `None` for a single PUT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mpu: Option<String>,
    /// The encrypted name signed into a single PUT (so it can be re-signed);
    /// `None` for multipart (the name is set when the upload is created).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nm: Option<String>,
    /// Plaintext length.
    pub pl: u64,
    /// Header length.
    pub hl: u64,
    /// Chunk size.
    pub cs: u32,
    /// Target part size used to plan parts.
    pub ps: u64,
    /// Expiry (Unix seconds).
    pub exp: u64,
    /// Audience (always `cipherdrop-upload`).
    pub aud: String,
}

/// Signs and verifies upload tokens.
pub struct UploadTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: Duration,
}

impl std::fmt::Debug for UploadTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadTokens")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl UploadTokens {
    /// Tokens signed with a key derived from the server secret, valid for `ttl`.
    pub fn new(server_secret: &[u8], ttl: Duration) -> Self {
        let key = crate::auth::derive(server_secret, b"upload-token");
        Self {
            encoding: EncodingKey::from_secret(&key).expect("a 32-byte HMAC key is accepted"),
            decoding: DecodingKey::from_secret(&key).expect("a 32-byte HMAC key is accepted"),
            ttl,
        }
    }

    /// Expiry for a token issued now.
    pub fn expiry(&self) -> u64 {
        now_secs().saturating_add(self.ttl.as_secs())
    }

    /// Signs `claims`.
    ///
    /// # Errors
    /// 500 when signing fails (it does not for HS256).
    pub fn sign(&self, claims: &UploadClaims) -> Result<String, ApiError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding).map_err(|e| {
            ApiError::internal(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
                format!("signing an upload token: {e}"),
            )
        })
    }

    /// Verifies a token for `owner` and `object`.
    ///
    /// # Errors
    /// 404 `upload_not_found` for a token that is invalid, expired, or not this
    /// caller's upload of this object (indistinguishable on purpose).
    pub fn verify(&self, token: &str, owner: &str, object: &str) -> Result<UploadClaims, ApiError> {
        let mut v = Validation::new(Algorithm::HS256);
        v.set_audience(&[AUDIENCE]);
        v.set_required_spec_claims(&["exp", "aud", "sub"]);
        v.leeway = 0;
        let data = jsonwebtoken::decode::<UploadClaims>(token, &self.decoding, &v)
            .map_err(|_| ApiError::upload_not_found())?;
        if data.claims.sub != owner || data.claims.obj != object {
            return Err(ApiError::upload_not_found());
        }
        Ok(data.claims)
    }

    /// Verifies a token for `owner` and `object` as [`UploadTokens::verify`] does,
    /// but also accepts one past its expiry: for `abort` only, so a browser that
    /// comes back after its upload expired can still discard the parts it sent
    /// instead of leaving them to the bucket's lifecycle rule. The second value is
    /// true when the token has expired.
    ///
    /// # Errors
    /// As [`UploadTokens::verify`], except for expiry.
    pub fn verify_even_expired(
        &self,
        token: &str,
        owner: &str,
        object: &str,
    ) -> Result<(UploadClaims, bool), ApiError> {
        let mut v = Validation::new(Algorithm::HS256);
        v.set_audience(&[AUDIENCE]);
        v.set_required_spec_claims(&["exp", "aud", "sub"]);
        v.validate_exp = false;
        let data = jsonwebtoken::decode::<UploadClaims>(token, &self.decoding, &v)
            .map_err(|_| ApiError::upload_not_found())?;
        if data.claims.sub != owner || data.claims.obj != object {
            return Err(ApiError::upload_not_found());
        }
        let expired = data.claims.exp <= now_secs();
        Ok((data.claims, expired))
    }

    /// The audience every token carries.
    pub fn audience() -> String {
        AUDIENCE.to_owned()
    }
}
