//! Grants: one of the owner's files shared with another user of this server,
//! named by their *handle* (development login: the user name; OIDC: the
//! `--oidc-share-claim` claim). The grantee downloads it and gets its keys through
//! `/api/shared/{owner}/{object_id}/…`; nothing else of the owner's is reachable
//! (every other route works on the caller's own prefix).
//!
//! State lives in the bucket, so replicas stay stateless:
//! - `grants/<owner>/<object_id>/<grantee_id>`: the record (JSON), the authority;
//! - `grants-to/<grantee_id>/<owner>/<object_id>`: the grantee's index (an entry
//!   whose record is missing is ignored).
//!
//! Revoking deletes the record first; so does deleting the file.

use std::sync::Arc;
use std::time::SystemTime;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};

use super::objects::{Download, KeysAnswer, KeysRequest, download_of, keys_of};
use super::{ApiJson, ApiPath, check_object_id, object_key};
use crate::auth::{Caller, valid_handle};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::StoreError;

/// Longest `sealed_meta`, in base64url characters.
pub const MAX_SEALED_META_CHARS: usize = 2048;
/// Shortest `sealed_meta`, in bytes: a 12-byte nonce and a 16-byte GCM tag.
const MIN_SEALED_META_BYTES: usize = 28;
/// Largest record read back from the bucket.
const MAX_RECORD: usize = 16 * 1024;
/// Most listing pages read for one answer (1000 entries each).
const MAX_PAGES: usize = 10;
/// How many records and `HEAD`s `shared-with-me` reads at once.
const READ_CONCURRENCY: usize = 16;

fn record_prefix(owner: &str, object_id: &str) -> String {
    format!("grants/{owner}/{object_id}/")
}

fn record_key(owner: &str, object_id: &str, grantee_id: &str) -> String {
    format!("{}{grantee_id}", record_prefix(owner, object_id))
}

fn index_prefix(grantee_id: &str) -> String {
    format!("grants-to/{grantee_id}/")
}

fn index_key(grantee_id: &str, owner: &str, object_id: &str) -> String {
    format!("{}{owner}/{object_id}", index_prefix(grantee_id))
}

/// Now, in milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The one 404 of these routes, whatever is missing (the file, the grant, the
/// record): a caller learns nothing about what they may not reach.
fn not_found() -> ApiError {
    ApiError::object_not_found()
}

fn grant_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such grant on this file of yours",
    )
}

/// Ids in paths (owner ids, grantee ids) are 32 lowercase hex characters.
fn check_hex_id(id: &str, code: &'static str, what: &str) -> ApiResult<()> {
    if id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            code,
            format!("{what} are 32 lowercase hexadecimal characters"),
        ))
    }
}

/// A grant record as stored in the bucket (handles in plain: docs/SECURITY.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    v: u8,
    /// The grantee's handle as the owner typed it (normalized).
    grantee: String,
    grantee_id: String,
    owner: String,
    /// The owner's handle at grant time, if they had one.
    from: Option<String>,
    object_id: String,
    created_at: u64,
    /// The same time in milliseconds, to list grants of one second in order.
    #[serde(default)]
    created_ms: u64,
    sealed_meta: Option<String>,
}

async fn read_record(state: &AppState, key: &str) -> ApiResult<Option<Record>> {
    let Some(bytes) = state.store.read_blob(key, MAX_RECORD).await? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        ApiError::internal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store_error",
            "a grant record in the bucket could not be read",
            format!("grant record {key}: {e}"),
        )
    })
}

/// The record of the grant of `owner`'s `object_id` to `grantee_id`, when it
/// names exactly these.
async fn find(
    state: &AppState,
    owner: &str,
    object_id: &str,
    grantee_id: &str,
) -> ApiResult<Option<Record>> {
    Ok(read_record(state, &record_key(owner, object_id, grantee_id))
        .await?
        .filter(|r| r.owner == owner && r.object_id == object_id && r.grantee_id == grantee_id))
}

/// Every key under `prefix`, at most [`MAX_PAGES`] pages.
async fn list_keys(state: &AppState, prefix: &str) -> ApiResult<Vec<String>> {
    let mut keys = Vec::new();
    let mut cursor = None;
    for _ in 0..MAX_PAGES {
        let page = state.store.list(prefix, 1000, cursor).await?;
        keys.extend(page.objects.into_iter().map(|o| o.key));
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    Ok(keys)
}

async fn delete_key(state: &AppState, key: &str) -> ApiResult<()> {
    match state.store.delete(key).await {
        Ok(()) | Err(StoreError::NotFound) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Removes a grant: the record first (from then on the grantee is refused), then
/// the grantee's index entry.
async fn remove(state: &AppState, owner: &str, object_id: &str, grantee_id: &str) -> ApiResult<()> {
    delete_key(state, &record_key(owner, object_id, grantee_id)).await?;
    delete_key(state, &index_key(grantee_id, owner, object_id)).await
}

/// Removes every grant of a file (when the file is deleted).
///
/// # Errors
/// Store errors.
pub async fn remove_all_for(state: &AppState, owner: &str, object_id: &str) -> ApiResult<()> {
    let prefix = record_prefix(owner, object_id);
    for key in list_keys(state, &prefix).await? {
        let grantee_id = key.trim_start_matches(&prefix);
        if check_hex_id(grantee_id, "invalid_grantee_id", "grantee ids").is_ok() {
            remove(state, owner, object_id, grantee_id).await?;
        } else {
            delete_key(state, &key).await?;
        }
    }
    Ok(())
}

/// Oldest first: by time (milliseconds when the record has them), then by id.
fn order(r: &Record) -> (u64, u64, &str, &str, &str) {
    (
        r.created_at,
        r.created_ms,
        &r.owner,
        &r.object_id,
        &r.grantee_id,
    )
}

/// A grant as its owner sees it.
#[derive(Debug, Serialize)]
pub struct GrantInfo {
    /// The grantee's handle.
    pub grantee: String,
    /// Its grantee id (to revoke with).
    pub grantee_id: String,
    /// The file.
    pub object_id: String,
    /// Unix seconds.
    pub created_at: u64,
}

impl From<&Record> for GrantInfo {
    fn from(r: &Record) -> Self {
        Self {
            grantee: r.grantee.clone(),
            grantee_id: r.grantee_id.clone(),
            object_id: r.object_id.clone(),
            created_at: r.created_at,
        }
    }
}

/// Request of `POST /api/objects/{object_id}/grants`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateGrant {
    /// The grantee's handle.
    pub grantee: String,
    /// The file's name and size sealed under its header key (docs/API.md), base64url.
    #[serde(default)]
    pub sealed_meta: Option<String>,
}

fn check_sealed_meta(meta: &str) -> ApiResult<()> {
    let bad = || {
        ApiError::bad_request(
            "invalid_grant",
            format!(
                "`sealed_meta` must be base64url without padding, at most \
                 {MAX_SEALED_META_CHARS} characters, of at least {MIN_SEALED_META_BYTES} bytes \
                 (a nonce and an AES-GCM tag), or left out"
            ),
        )
    };
    if meta.len() > MAX_SEALED_META_CHARS {
        return Err(bad());
    }
    let bytes = B64URL.decode(meta).map_err(|_| bad())?;
    if bytes.len() < MIN_SEALED_META_BYTES {
        return Err(bad());
    }
    Ok(())
}

/// `POST /api/objects/{object_id}/grants`: share one of the caller's files with
/// another user by handle. Granting again replaces `sealed_meta`.
///
/// # Errors
/// 404 when the file is not the caller's; 400 `invalid_grantee` (empty, too
/// long, control characters, the caller's own handle), `invalid_grant` (bad
/// `sealed_meta`).
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(object_id): ApiPath<String>,
    ApiJson(req): ApiJson<CreateGrant>,
) -> ApiResult<(StatusCode, Json<GrantInfo>)> {
    check_object_id(&object_id)?;
    let grantee = caller.normalize_handle(&req.grantee);
    if !valid_handle(&grantee) {
        return Err(ApiError::bad_request(
            "invalid_grantee",
            format!(
                "`grantee` must be the other person's handle (their user name or e-mail \
                 address): 1 to {} characters, no control characters",
                crate::auth::MAX_HANDLE_CHARS
            ),
        ));
    }
    let grantee_id = caller.grantee_id_of(&grantee);
    if caller.grantee_id.as_deref() == Some(grantee_id.as_str()) {
        return Err(ApiError::bad_request(
            "invalid_grantee",
            "that is you: name another person to share this file with",
        ));
    }
    if let Some(meta) = &req.sealed_meta {
        check_sealed_meta(meta)?;
    }
    match state
        .store
        .head(&object_key(&caller.owner, &object_id))
        .await
    {
        Ok(_) => {}
        Err(StoreError::NotFound) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    }
    // Granting again keeps the first grant's time.
    let (created_at, created_ms) = find(&state, &caller.owner, &object_id, &grantee_id)
        .await?
        .map_or_else(
            || {
                let ms = now_ms();
                (ms / 1000, ms)
            },
            |r| (r.created_at, r.created_ms),
        );
    let record = Record {
        v: 1,
        grantee,
        grantee_id: grantee_id.clone(),
        owner: caller.owner.clone(),
        from: caller.handle.clone(),
        object_id: object_id.clone(),
        created_at,
        created_ms,
        sealed_meta: req.sealed_meta,
    };
    let body = serde_json::to_vec(&record).map_err(|e| {
        ApiError::internal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the grant could not be saved",
            e.to_string(),
        )
    })?;
    state
        .store
        .put_blob(&record_key(&caller.owner, &object_id, &grantee_id), body)
        .await?;
    match state
        .store
        .create_record(&index_key(&grantee_id, &caller.owner, &object_id), "grant")
        .await
    {
        Ok(()) | Err(StoreError::AlreadyExists) => {}
        Err(e) => return Err(e.into()),
    }
    Ok((StatusCode::CREATED, Json(GrantInfo::from(&record))))
}

/// Response of `GET /api/objects/{object_id}/grants`.
#[derive(Debug, Serialize)]
pub struct GrantList {
    /// The file's grants, oldest first.
    pub grants: Vec<GrantInfo>,
}

/// `GET /api/objects/{object_id}/grants`: who one of the caller's files is
/// shared with.
///
/// # Errors
/// 404 when the file is not the caller's; store errors.
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(object_id): ApiPath<String>,
) -> ApiResult<Json<GrantList>> {
    check_object_id(&object_id)?;
    match state
        .store
        .head(&object_key(&caller.owner, &object_id))
        .await
    {
        Ok(_) => {}
        Err(StoreError::NotFound) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    }
    let prefix = record_prefix(&caller.owner, &object_id);
    let mut records = Vec::new();
    for key in list_keys(&state, &prefix).await? {
        let grantee_id = key.trim_start_matches(&prefix);
        if check_hex_id(grantee_id, "invalid_grantee_id", "grantee ids").is_err() {
            continue;
        }
        if let Some(r) = find(&state, &caller.owner, &object_id, grantee_id).await? {
            records.push(r);
        }
    }
    records.sort_by(|a, b| order(a).cmp(&order(b)));
    Ok(Json(GrantList {
        grants: records.iter().map(GrantInfo::from).collect(),
    }))
}

/// `DELETE /api/objects/{object_id}/grants/{grantee_id}`: revoke a grant.
///
/// # Errors
/// 404 when there is no such grant on a file of the caller's.
pub async fn revoke(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath((object_id, grantee_id)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    check_object_id(&object_id)?;
    check_hex_id(&grantee_id, "invalid_grantee_id", "grantee ids")?;
    if find(&state, &caller.owner, &object_id, &grantee_id)
        .await?
        .is_none()
    {
        return Err(grant_not_found());
    }
    remove(&state, &caller.owner, &object_id, &grantee_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A file shared with the caller.
#[derive(Debug, Serialize)]
pub struct SharedItem {
    /// The owner's id (the `{owner}` of `/api/shared/{owner}/{object_id}/…`).
    pub owner: String,
    /// The owner's handle at grant time, if they had one.
    pub from: Option<String>,
    /// The file.
    pub object_id: String,
    /// Ciphertext bytes.
    pub size: u64,
    /// Last modification, RFC 3339 (UTC), when the store reports it.
    pub last_modified: Option<String>,
    /// When it was shared (Unix seconds).
    pub granted_at: u64,
    /// The name and size sealed by the owner (base64url), if any.
    pub sealed_meta: Option<String>,
}

/// Response of `GET /api/shared-with-me`.
#[derive(Debug, Serialize)]
pub struct SharedList {
    /// Oldest grant first.
    pub grants: Vec<SharedItem>,
}

/// `GET /api/shared-with-me`: the files other users shared with the caller
/// (grants whose file is gone are left out; a caller without a handle has none).
///
/// # Errors
/// Store errors.
pub async fn shared_with_me(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Json<SharedList>> {
    let Some(grantee_id) = caller.grantee_id.clone() else {
        return Ok(Json(SharedList { grants: Vec::new() }));
    };
    let prefix = index_prefix(&grantee_id);
    let entries: Vec<(String, String)> = list_keys(&state, &prefix)
        .await?
        .iter()
        .filter_map(|key| {
            let (owner, object_id) = key.strip_prefix(&prefix)?.split_once('/')?;
            (check_hex_id(owner, "invalid_owner", "owner ids").is_ok()
                && check_object_id(object_id).is_ok())
            .then(|| (owner.to_owned(), object_id.to_owned()))
        })
        .collect();
    let results = futures_util::stream::iter(entries)
        .map(|(owner, object_id)| {
            let state = &state;
            let grantee_id = &grantee_id;
            async move {
                let Some(r) = find(state, &owner, &object_id, grantee_id).await? else {
                    return Ok(None);
                };
                match state.store.head(&object_key(&owner, &object_id)).await {
                    Ok(meta) => {
                        let info = super::objects::ObjectInfo::new(&object_id, &meta);
                        let item = SharedItem {
                            owner: owner.clone(),
                            from: r.from.clone(),
                            object_id: object_id.clone(),
                            size: info.size,
                            last_modified: info.last_modified,
                            granted_at: r.created_at,
                            sealed_meta: r.sealed_meta.clone(),
                        };
                        Ok(Some((r, item)))
                    }
                    Err(StoreError::NotFound) => Ok(None),
                    Err(e) => Err(ApiError::from(e)),
                }
            }
        })
        .buffered(READ_CONCURRENCY)
        .collect::<Vec<ApiResult<Option<(Record, SharedItem)>>>>()
        .await;
    let mut found = Vec::new();
    for r in results {
        if let Some(pair) = r? {
            found.push(pair);
        }
    }
    found.sort_by(|(a, _), (b, _)| order(a).cmp(&order(b)));
    Ok(Json(SharedList {
        grants: found.into_iter().map(|(_, item)| item).collect(),
    }))
}

/// Checks the caller holds a grant of `owner`'s `object_id`: 404 otherwise.
async fn granted(state: &AppState, caller: &Caller, owner: &str, object_id: &str) -> ApiResult<()> {
    check_hex_id(owner, "invalid_owner", "owner ids")?;
    check_object_id(object_id)?;
    let Some(grantee_id) = &caller.grantee_id else {
        return Err(not_found());
    };
    find(state, owner, object_id, grantee_id)
        .await?
        .map(|_| ())
        .ok_or_else(not_found)
}

/// `GET /api/shared/{owner}/{object_id}/download`: a presigned `GET` of a file
/// shared with the caller (as the owner's download).
///
/// # Errors
/// 404 unless the caller holds a grant for it and the file exists.
pub async fn download(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath((owner, object_id)): ApiPath<(String, String)>,
) -> ApiResult<Json<Download>> {
    granted(&state, &caller, &owner, &object_id).await?;
    Ok(Json(download_of(&state, &owner, &object_id).await?))
}

/// `POST /api/shared/{owner}/{object_id}/keys`: the keys of a file shared with
/// the caller, from its header (as the owner's `keys`: the context is built from
/// `owner` and `object_id`, never from the request).
///
/// # Errors
/// 404 unless the caller holds a grant for it and the file exists; as the
/// owner's `keys` otherwise.
pub async fn keys(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath((owner, object_id)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<KeysRequest>,
) -> ApiResult<Json<KeysAnswer>> {
    granted(&state, &caller, &owner, &object_id).await?;
    Ok(Json(keys_of(&state, &owner, &object_id, &req).await?))
}
