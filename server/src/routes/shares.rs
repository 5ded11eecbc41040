//! Share links: one object, opened by anyone holding the link, without an account.
//!
//! The link is `https://HOST/s/<share_id>#<secret>`. The secret lives only in the
//! fragment: the owner's browser derives from it (and an optional password) a key
//! that seals what the recipient needs (the object's content and header keys, its
//! name), and an `auth` value that proves the link is held; the server keeps only
//! `SHA-256(auth)` (the *verifier*) and the sealed bytes, so neither it nor the
//! bucket learns the secret, the keys or the name (docs/API.md "Sharing").
//!
//! State lives in the bucket, so replicas stay stateless:
//! - `shares/<share_id>`: the record (JSON), written once (`If-None-Match: *`);
//! - `share-index/<owner>/<object_id>/<share_id>`: the owner's list per file;
//! - `share-downloads/<share_id>/<n>`: one empty object per download, `n` = 1 …
//!   the limit, each created with `If-None-Match: *`, so two recipients racing for
//!   the last download cannot both get it (the store lets one create it);
//! - `share-fails/<share_id>/<n>`: wrong passwords, the same way, up to
//!   [`PASSWORD_ATTEMPTS`]; then the link is closed.
//!
//! An expired, used-up, withdrawn, closed or unknown link, or one whose file was
//! deleted, gets one answer (`404 link_unavailable`), the same whichever it is.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::{ApiJson, ApiPath, check_object_id, object_key};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::{Presigned, StoreError};

/// Wrong passwords a link takes before it closes.
pub const PASSWORD_ATTEMPTS: u32 = 10;
/// Most downloads a link may allow (one listing page of download markers).
pub const MAX_DOWNLOADS: u32 = 1000;
/// Default lifetime of a link, when the owner gives none (shortened to the
/// operator's maximum).
pub const DEFAULT_TTL: Duration = Duration::from_secs(7 * 86_400);
/// Largest sealed payload, in bytes (decoded).
pub const MAX_SEALED: usize = 4096;
/// Largest owner copy of the secret, in bytes (decoded).
pub const MAX_OWNER_SEALED: usize = 256;
/// Largest record read back from the bucket.
const MAX_RECORD: usize = 16 * 1024;
/// Argon2id costs a link may ask of a recipient (as FORMAT.md 2.4's caps).
const MAX_ARGON2_M: u32 = 65_536;
const MAX_ARGON2_T: u32 = 4;
const MAX_ARGON2_P: u32 = 4;

fn record_key(share_id: &str) -> String {
    format!("shares/{share_id}")
}

fn index_prefix(owner: &str, object_id: &str) -> String {
    format!("share-index/{owner}/{object_id}/")
}

fn downloads_prefix(share_id: &str) -> String {
    format!("share-downloads/{share_id}/")
}

fn fails_prefix(share_id: &str) -> String {
    format!("share-fails/{share_id}/")
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The one answer for a link that cannot be used, whatever the reason.
fn unavailable() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "link_unavailable",
        "This link cannot be used any more: it has expired, all its downloads were used, \
         or its owner withdrew it or deleted the file. Ask the person who sent it for a new link.",
    )
}

fn share_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such share link of yours",
    )
}

/// Share ids are 32 lowercase hex characters, like object ids.
fn check_share_id(id: &str) -> Result<(), ApiError> {
    if id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_share_id",
            "share ids are 32 lowercase hexadecimal characters",
        ))
    }
}

fn decode_b64(field: &'static str, value: &str, min: usize, max: usize) -> ApiResult<Vec<u8>> {
    let bytes = B64.decode(value).map_err(|_| {
        ApiError::bad_request("invalid_share", format!("`{field}` is not valid base64"))
    })?;
    if bytes.len() < min || bytes.len() > max {
        return Err(ApiError::bad_request(
            "invalid_share",
            if min == max {
                format!("`{field}` must be {min} bytes")
            } else {
                format!("`{field}` must be {min} to {max} bytes")
            },
        ));
    }
    Ok(bytes)
}

/// Argon2id costs and salt of a password-protected link (public: the recipient's
/// browser needs them before it can derive anything).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PasswordParams {
    /// 16 random bytes, base64.
    pub salt: String,
    /// Memory in KiB.
    pub m: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl PasswordParams {
    fn check(&self) -> ApiResult<()> {
        decode_b64("password.salt", &self.salt, 16, 16)?;
        if self.m > MAX_ARGON2_M || self.t > MAX_ARGON2_T || self.p > MAX_ARGON2_P {
            return Err(ApiError::bad_request(
                "invalid_share",
                "the password's Argon2id costs are above what a recipient's phone can pay \
                 (at most m=65536, t=4, p=4)",
            ));
        }
        if self.t < 1 || self.p < 1 || self.m < 8 * self.p {
            return Err(ApiError::bad_request(
                "invalid_share",
                "the password's Argon2id costs are below Argon2id's minimums",
            ));
        }
        Ok(())
    }
}

/// A share record as stored in the bucket.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    v: u8,
    share_id: String,
    owner: String,
    object_id: String,
    created_at: u64,
    expires_at: u64,
    max_downloads: Option<u32>,
    /// `SHA-256(auth)`, base64.
    verifier: String,
    /// What the recipient opens with the key from the secret, base64.
    sealed: String,
    /// The secret sealed for the owner (to copy the link again), base64.
    owner_sealed: String,
    password: Option<PasswordParams>,
}

impl Record {
    fn matches(&self, auth: &[u8]) -> bool {
        let Ok(verifier) = B64.decode(&self.verifier) else {
            return false;
        };
        let given = Sha256::digest(auth);
        verifier.len() == given.len() && bool::from(given.as_slice().ct_eq(&verifier))
    }
}

async fn read_record(state: &AppState, share_id: &str) -> ApiResult<Option<Record>> {
    let Some(bytes) = state
        .store
        .read_blob(&record_key(share_id), MAX_RECORD)
        .await?
    else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        ApiError::internal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store_error",
            "a share record in the bucket could not be read",
            format!("share record {share_id}: {e}"),
        )
    })
}

/// How many markers are under `prefix` (at most one listing page of 1000).
async fn count(state: &AppState, prefix: &str) -> ApiResult<u32> {
    let page = state.store.list(prefix, 1000, None).await?;
    Ok(u32::try_from(page.objects.len()).unwrap_or(u32::MAX))
}

/// Claims the next free marker under `prefix` numbered up to `max`; `None` when
/// all are taken. Each marker is created with `If-None-Match: *`, so of two
/// callers racing for the same number the store lets exactly one have it.
async fn claim(state: &AppState, prefix: &str, max: u32) -> ApiResult<Option<u32>> {
    let mut n = count(state, prefix).await? + 1;
    while n <= max {
        match state
            .store
            .create_record(&format!("{prefix}{n:05}"), "used")
            .await
        {
            Ok(()) => return Ok(Some(n)),
            Err(StoreError::AlreadyExists) => n += 1,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(None)
}

/// Deletes every object under `prefix` (bounded: at most a few pages).
async fn delete_all(state: &AppState, prefix: &str) -> ApiResult<()> {
    for _ in 0..4 {
        let page = state.store.list(prefix, 1000, None).await?;
        if page.objects.is_empty() {
            return Ok(());
        }
        for o in &page.objects {
            match state.store.delete(&o.key).await {
                Ok(()) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// The record of a usable link (not expired, not closed by wrong passwords, its
/// file still there), or the one `link_unavailable` answer.
async fn usable(state: &AppState, share_id: &str) -> ApiResult<(Record, u64)> {
    check_share_id(share_id).map_err(|_| unavailable())?;
    let record = read_record(state, share_id)
        .await?
        .ok_or_else(unavailable)?;
    if record.expires_at <= now_secs() {
        return Err(unavailable());
    }
    if record.password.is_some()
        && count(state, &fails_prefix(share_id)).await? >= PASSWORD_ATTEMPTS
    {
        return Err(unavailable());
    }
    let meta = match state
        .store
        .head(&object_key(&record.owner, &record.object_id))
        .await
    {
        Ok(meta) => meta,
        Err(StoreError::NotFound) => return Err(unavailable()),
        Err(e) => return Err(e.into()),
    };
    Ok((record, meta.size))
}

/// Checks `auth` against the record; a wrong one on a password link counts
/// towards [`PASSWORD_ATTEMPTS`].
async fn authenticate(state: &AppState, record: &Record, auth: &str) -> ApiResult<()> {
    let auth = B64
        .decode(auth)
        .ok()
        .filter(|a| a.len() == 32)
        .ok_or_else(|| ApiError::bad_request("invalid_auth", "`auth` must be 32 bytes, base64"))?;
    if record.matches(&auth) {
        return Ok(());
    }
    if record.password.is_none() {
        return Err(ApiError::forbidden(
            "link_changed",
            "This link is incomplete or was changed: the part after # is not the one its owner \
             shared. Copy the whole link again from the message you received.",
        ));
    }
    let prefix = fails_prefix(&record.share_id);
    match claim(state, &prefix, PASSWORD_ATTEMPTS).await? {
        Some(n) if n < PASSWORD_ATTEMPTS => {
            let left = PASSWORD_ATTEMPTS - n;
            let attempts = if left == 1 { "attempt" } else { "attempts" };
            Err(ApiError::forbidden(
                "wrong_password",
                format!(
                    "The password is not right. {left} {attempts} left before the link closes."
                ),
            )
            .with_attempts_left(left))
        }
        _ => Err(ApiError::forbidden(
            "wrong_password",
            "The password is not right, and this link is now closed after too many wrong \
             passwords. Ask the person who sent it for a new link.",
        )
        .with_attempts_left(0)),
    }
}

/// Request of `POST /api/objects/{object_id}/shares`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateShare {
    /// 32 lowercase hex characters chosen by the owner's browser (it is bound into
    /// the sealed bytes, so it is known before they are made).
    pub share_id: String,
    /// `SHA-256(auth)`, base64 (32 bytes).
    pub verifier: String,
    /// What the recipient opens, base64 (at most [`MAX_SEALED`] bytes).
    pub sealed: String,
    /// The secret sealed for the owner, base64 (at most [`MAX_OWNER_SEALED`] bytes).
    pub owner_sealed: String,
    /// Argon2id costs and salt when the link has a password.
    #[serde(default)]
    pub password: Option<PasswordParams>,
    /// Lifetime in seconds (default 7 days; at most `--share-max-days`).
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// How many downloads the link allows (1 to 1000; none: no limit).
    #[serde(default)]
    pub max_downloads: Option<u32>,
}

/// A link as its owner sees it.
#[derive(Debug, Serialize)]
pub struct ShareInfo {
    /// The link's id (the link is `/s/<share_id>#<secret>`).
    pub share_id: String,
    /// The file.
    pub object_id: String,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds.
    pub expires_at: u64,
    /// Whether it has expired.
    pub expired: bool,
    /// The limit, if any.
    pub max_downloads: Option<u32>,
    /// Downloads so far.
    pub downloads: u32,
    /// Downloads left (`null`: no limit).
    pub downloads_left: Option<u32>,
    /// Whether a password protects it.
    pub password: bool,
    /// The secret sealed for the owner, base64 (to copy the link again).
    pub owner_sealed: String,
}

async fn info(state: &AppState, r: &Record) -> ApiResult<ShareInfo> {
    let downloads = count(state, &downloads_prefix(&r.share_id)).await?;
    Ok(ShareInfo {
        share_id: r.share_id.clone(),
        object_id: r.object_id.clone(),
        created_at: r.created_at,
        expires_at: r.expires_at,
        expired: r.expires_at <= now_secs(),
        max_downloads: r.max_downloads,
        downloads,
        downloads_left: r.max_downloads.map(|m| m.saturating_sub(downloads)),
        password: r.password.is_some(),
        owner_sealed: r.owner_sealed.clone(),
    })
}

/// `POST /api/objects/{object_id}/shares`: create a link to one of the caller's files.
///
/// # Errors
/// 404 when the file is not the caller's; 400 for a malformed request; 409
/// `share_id_taken` when the id exists (choose another).
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(object_id): ApiPath<String>,
    ApiJson(req): ApiJson<CreateShare>,
) -> ApiResult<(StatusCode, Json<ShareInfo>)> {
    check_object_id(&object_id)?;
    check_share_id(&req.share_id)?;
    decode_b64("verifier", &req.verifier, 32, 32)?;
    decode_b64("sealed", &req.sealed, 1, MAX_SEALED)?;
    decode_b64("owner_sealed", &req.owner_sealed, 1, MAX_OWNER_SEALED)?;
    if let Some(p) = &req.password {
        p.check()?;
    }
    if req
        .max_downloads
        .is_some_and(|m| m == 0 || m > MAX_DOWNLOADS)
    {
        return Err(ApiError::bad_request(
            "invalid_share",
            format!("`max_downloads` must be 1 to {MAX_DOWNLOADS}, or left out for no limit"),
        ));
    }
    let max_ttl = state.limits.share_max_ttl;
    let ttl = match req.expires_in {
        None => DEFAULT_TTL.min(max_ttl),
        Some(0) => {
            return Err(ApiError::bad_request(
                "invalid_share",
                "`expires_in` must be at least 1 second",
            ));
        }
        Some(s) if Duration::from_secs(s) > max_ttl => {
            return Err(ApiError::bad_request(
                "invalid_share",
                format!(
                    "a link may live at most {} on this server (`expires_in` ≤ {})",
                    match max_ttl.as_secs() / 86_400 {
                        1 => "1 day".to_owned(),
                        d => format!("{d} days"),
                    },
                    max_ttl.as_secs()
                ),
            ));
        }
        Some(s) => Duration::from_secs(s),
    };
    match state
        .store
        .head(&object_key(&caller.owner, &object_id))
        .await
    {
        Ok(_) => {}
        Err(StoreError::NotFound) => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such file",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    let now = now_secs();
    let record = Record {
        v: 1,
        share_id: req.share_id.clone(),
        owner: caller.owner.clone(),
        object_id: object_id.clone(),
        created_at: now,
        expires_at: now + ttl.as_secs(),
        max_downloads: req.max_downloads,
        verifier: req.verifier,
        sealed: req.sealed,
        owner_sealed: req.owner_sealed,
        password: req.password,
    };
    let body = serde_json::to_vec(&record).map_err(|e| {
        ApiError::internal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the share could not be saved",
            e.to_string(),
        )
    })?;
    match state
        .store
        .create_blob(&record_key(&record.share_id), body)
        .await
    {
        Ok(()) => {}
        Err(StoreError::AlreadyExists) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "share_id_taken",
                "this share id is taken: choose another random one",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    state
        .store
        .create_record(
            &format!(
                "{}{}",
                index_prefix(&caller.owner, &object_id),
                record.share_id
            ),
            "share",
        )
        .await?;
    Ok((StatusCode::CREATED, Json(info(&state, &record).await?)))
}

/// Response of `GET /api/objects/{object_id}/shares`.
#[derive(Debug, Serialize)]
pub struct ShareList {
    /// The file's links, oldest first.
    pub shares: Vec<ShareInfo>,
}

/// `GET /api/objects/{object_id}/shares`: the caller's links to one file.
///
/// # Errors
/// 400 for a malformed id; store errors.
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(object_id): ApiPath<String>,
) -> ApiResult<Json<ShareList>> {
    check_object_id(&object_id)?;
    let prefix = index_prefix(&caller.owner, &object_id);
    let page = state.store.list(&prefix, 1000, None).await?;
    let mut shares = Vec::new();
    for o in &page.objects {
        let share_id = o.key.trim_start_matches(&prefix);
        if let Some(r) = read_record(&state, share_id).await?
            && r.owner == caller.owner
            && r.object_id == object_id
        {
            shares.push(info(&state, &r).await?);
        }
    }
    shares.sort_by_key(|s| s.created_at);
    Ok(Json(ShareList { shares }))
}

/// Removes a link and its markers (the record first: from then on it answers
/// `link_unavailable`).
async fn remove(state: &AppState, r: &Record) -> ApiResult<()> {
    for key in [
        record_key(&r.share_id),
        format!("{}{}", index_prefix(&r.owner, &r.object_id), r.share_id),
    ] {
        match state.store.delete(&key).await {
            Ok(()) | Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    delete_all(state, &downloads_prefix(&r.share_id)).await?;
    delete_all(state, &fails_prefix(&r.share_id)).await
}

/// Withdraws every link to a file (when the file is deleted).
///
/// # Errors
/// Store errors.
pub async fn remove_all_for(state: &AppState, owner: &str, object_id: &str) -> ApiResult<()> {
    let prefix = index_prefix(owner, object_id);
    let page = state.store.list(&prefix, 1000, None).await?;
    for o in &page.objects {
        let share_id = o.key.trim_start_matches(&prefix);
        if check_share_id(share_id).is_err() {
            continue;
        }
        match read_record(state, share_id).await? {
            Some(r) if r.owner == owner => remove(state, &r).await?,
            _ => match state.store.delete(&o.key).await {
                Ok(()) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            },
        }
    }
    Ok(())
}

/// `DELETE /api/shares/{share_id}`: the owner withdraws a link.
///
/// # Errors
/// 404 when it is not the caller's (or does not exist).
pub async fn revoke(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(share_id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    check_share_id(&share_id)?;
    let record = read_record(&state, &share_id)
        .await?
        .filter(|r| r.owner == caller.owner)
        .ok_or_else(share_not_found)?;
    remove(&state, &record).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Response of `GET /api/shares/{share_id}` (no token).
#[derive(Debug, Serialize)]
pub struct ShareStart {
    /// The link's id.
    pub share_id: String,
    /// The password's Argon2id costs and salt, or `null` when there is none.
    pub password: Option<PasswordParams>,
}

/// `GET /api/shares/{share_id}`: what a recipient's browser needs before it can
/// derive `auth` (whether there is a password, and its costs). No token.
///
/// # Errors
/// 404 `link_unavailable`.
pub async fn start(
    State(state): State<Arc<AppState>>,
    ApiPath(share_id): ApiPath<String>,
) -> ApiResult<Json<ShareStart>> {
    let (record, _) = usable(&state, &share_id).await?;
    Ok(Json(ShareStart {
        share_id: record.share_id,
        password: record.password,
    }))
}

/// Request of `open` and `download` (no token).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareAuth {
    /// 32 bytes derived from the link's secret (and password), base64.
    pub auth: String,
}

/// Response of `POST /api/shares/{share_id}/open`.
#[derive(Debug, Serialize)]
pub struct ShareOpen {
    /// What the recipient's browser opens with the key from the secret, base64.
    pub sealed: String,
    /// The file's owner and id (bound into the sealed bytes' AAD).
    pub owner: String,
    /// The file's id.
    pub object_id: String,
    /// Ciphertext length of the file.
    pub size: u64,
    /// Unix seconds.
    pub expires_at: u64,
    /// Downloads left (`null`: no limit).
    pub downloads_left: Option<u32>,
}

/// `POST /api/shares/{share_id}/open`: the sealed keys and name, for a browser
/// that proves it holds the link (and password). Does not count a download.
///
/// # Errors
/// 404 `link_unavailable`; 403 `link_changed` or `wrong_password`; 400 `invalid_auth`.
pub async fn open(
    State(state): State<Arc<AppState>>,
    ApiPath(share_id): ApiPath<String>,
    ApiJson(req): ApiJson<ShareAuth>,
) -> ApiResult<Json<ShareOpen>> {
    let (record, size) = usable(&state, &share_id).await?;
    authenticate(&state, &record, &req.auth).await?;
    let downloads_left = match record.max_downloads {
        None => None,
        Some(max) => {
            let left = max.saturating_sub(count(&state, &downloads_prefix(&share_id)).await?);
            if left == 0 {
                return Err(unavailable());
            }
            Some(left)
        }
    };
    Ok(Json(ShareOpen {
        sealed: record.sealed,
        owner: record.owner,
        object_id: record.object_id,
        size,
        expires_at: record.expires_at,
        downloads_left,
    }))
}

/// Response of `POST /api/shares/{share_id}/download`.
#[derive(Debug, Serialize)]
pub struct ShareDownload {
    /// Presigned `GET` of the file (a `Range` header may be added).
    pub request: Presigned,
    /// When the request expires (Unix seconds).
    pub urls_expire_at: u64,
    /// Downloads left after this one (`null`: no limit).
    pub downloads_left: Option<u32>,
}

/// `POST /api/shares/{share_id}/download`: counts one download (when the link has
/// a limit) and answers a presigned `GET` of the file.
///
/// # Errors
/// As `open`; `link_unavailable` when the last download was taken.
pub async fn download(
    State(state): State<Arc<AppState>>,
    ApiPath(share_id): ApiPath<String>,
    ApiJson(req): ApiJson<ShareAuth>,
) -> ApiResult<Json<ShareDownload>> {
    let (record, _) = usable(&state, &share_id).await?;
    authenticate(&state, &record, &req.auth).await?;
    let downloads_left = match record.max_downloads {
        None => None,
        Some(max) => {
            let n = claim(&state, &downloads_prefix(&share_id), max)
                .await?
                .ok_or_else(unavailable)?;
            Some(max - n)
        }
    };
    let request = state
        .store
        .presign_get(
            &object_key(&record.owner, &record.object_id),
            state.limits.presign_expiry,
        )
        .await?;
    Ok(Json(ShareDownload {
        request,
        urls_expire_at: now_secs() + state.limits.presign_expiry.as_secs(),
        downloads_left,
    }))
}
