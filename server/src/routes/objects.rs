//! The caller's objects: list, show, presigned download, unwrap the data key, delete.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};

use super::uploads::WrappedKeyJson;
use super::{ApiJson, ApiPath, ApiQuery, OBJECT_ID_LEN, check_object_id, object_key};
use cipherdrop_core::WrappedKey;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::keys::object_context;
use crate::state::AppState;
use crate::store::{ObjectMeta, Presigned, StoreError};

/// An object as the API shows it.
#[derive(Debug, Serialize)]
pub struct ObjectInfo {
    /// The object id.
    pub object_id: String,
    /// Ciphertext size in bytes.
    pub size: u64,
    /// Last modification, RFC 3339 (UTC), when the store reports it.
    pub last_modified: Option<String>,
    /// The encrypted name as given at upload (base64), if any.
    pub name: Option<String>,
}

impl ObjectInfo {
    /// From store metadata.
    pub fn new(object_id: &str, meta: &ObjectMeta) -> Self {
        Self {
            object_id: object_id.to_owned(),
            size: meta.size,
            last_modified: meta.last_modified.map(rfc3339),
            name: meta.name.clone(),
        }
    }
}

fn rfc3339(t: SystemTime) -> String {
    aws_sdk_s3::primitives::DateTime::from(t)
        .fmt(aws_sdk_s3::primitives::DateTimeFormat::DateTime)
        .unwrap_or_default()
}

/// Query of `GET /api/objects`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Page size, 1 to 1000 (default 100).
    #[serde(default)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// Response of `GET /api/objects`.
#[derive(Debug, Serialize)]
pub struct ObjectList {
    /// Objects in id order.
    pub objects: Vec<ObjectInfo>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// How many `HEAD` requests a listing runs at once (for the names).
const LIST_HEAD_CONCURRENCY: usize = 16;

/// `GET /api/objects`: the caller's objects, one page.
///
/// # Errors
/// 400 for a bad limit or cursor; store errors.
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<ObjectList>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            "limit must be from 1 to 1000",
        ));
    }
    if let Some(c) = &q.cursor
        && (c.is_empty() || c.len() > 1024 || c.bytes().any(|b| !(0x21..0x7f).contains(&b)))
    {
        return Err(ApiError::bad_request(
            "invalid_cursor",
            "cursor is malformed",
        ));
    }
    let prefix = caller.prefix();
    let page = state
        .store
        .list(&prefix, i32::try_from(limit).unwrap_or(100), q.cursor)
        .await?;
    // Only keys shaped like ours (ignore anything else an operator put there).
    let ids: Vec<(String, ObjectMeta)> = page
        .objects
        .into_iter()
        .filter_map(|m| {
            let id = m.key.strip_prefix(&prefix)?.to_owned();
            (id.len() == OBJECT_ID_LEN && check_object_id(&id).is_ok()).then_some((id, m))
        })
        .collect();
    let store = Arc::clone(&state.store);
    let objects = futures_util::stream::iter(ids)
        .map(|(id, listed)| {
            let store = Arc::clone(&store);
            async move {
                // The name lives in metadata, which listings do not return.
                let name = match store.head(&listed.key).await {
                    Ok(m) => m.name,
                    Err(_) => None,
                };
                ObjectInfo::new(&id, &ObjectMeta { name, ..listed })
            }
        })
        .buffered(LIST_HEAD_CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    Ok(Json(ObjectList {
        objects,
        next_cursor: page.next,
    }))
}

async fn head_owned(state: &AppState, caller: &Caller, object_id: &str) -> ApiResult<ObjectMeta> {
    check_object_id(object_id)?;
    Ok(state
        .store
        .head(&object_key(&caller.owner, object_id))
        .await?)
}

/// `GET /api/objects/{object_id}`.
///
/// # Errors
/// 404 when it does not exist or is not the caller's.
pub async fn show(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(object_id): ApiPath<String>,
) -> ApiResult<Json<ObjectInfo>> {
    let meta = head_owned(&state, &caller, &object_id).await?;
    Ok(Json(ObjectInfo::new(&object_id, &meta)))
}

/// Response of `GET /api/objects/{object_id}/download`.
#[derive(Debug, Serialize)]
pub struct Download {
    /// The object.
    pub object: ObjectInfo,
    /// Presigned `GET` (add a `Range` header for part of the object).
    pub request: Presigned,
    /// When the request expires (Unix seconds).
    pub urls_expire_at: u64,
}

/// `GET /api/objects/{object_id}/download`: a presigned `GET`.
///
/// # Errors
/// 404 when it does not exist or is not the caller's.
pub async fn download(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(object_id): ApiPath<String>,
) -> ApiResult<Json<Download>> {
    let meta = head_owned(&state, &caller, &object_id).await?;
    let request = state
        .store
        .presign_get(&meta.key, state.limits.presign_expiry)
        .await?;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok(Json(Download {
        object: ObjectInfo::new(&object_id, &meta),
        request,
        urls_expire_at: now + state.limits.presign_expiry.as_secs(),
    }))
}

/// Request of `POST /api/objects/{object_id}/data-key`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnwrapRequest {
    /// The wrapped keys from the object's header (1 to 16).
    pub wrapped_keys: Vec<WrappedKeyJson>,
}

/// Response of `POST /api/objects/{object_id}/data-key`.
#[derive(Debug, Serialize)]
pub struct UnwrappedKey {
    /// The plaintext data key, base64 (secret: keep in memory only).
    pub data_key: String,
    /// The context the header must carry (the opener checks it).
    pub encryption_context: BTreeMap<String, String>,
}

/// `POST /api/objects/{object_id}/data-key`: unwrap the data key of one of the
/// caller's objects, under the context the server builds (never the request's).
///
/// # Errors
/// 404 when the object is not the caller's; 403 when the key service refuses
/// (wrong owner, disabled or deleted key); 400 for malformed wrapped keys.
pub async fn data_key(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(object_id): ApiPath<String>,
    ApiJson(req): ApiJson<UnwrapRequest>,
) -> ApiResult<Json<UnwrappedKey>> {
    let wrapped = decode_wrapped_keys(&req.wrapped_keys)?;
    head_owned(&state, &caller, &object_id).await?;
    Ok(Json(
        unwrap_data_key(&state, &caller, &object_id, &wrapped).await?,
    ))
}

/// Decodes the wrapped keys of a request (1 to 16, within crypto-core's limits).
///
/// # Errors
/// 400 `invalid_wrapped_key`.
pub(crate) fn decode_wrapped_keys(keys: &[WrappedKeyJson]) -> ApiResult<Vec<WrappedKey>> {
    if keys.is_empty() || keys.len() > cipherdrop_core::keyring::MAX_WRAPPED_KEYS {
        return Err(ApiError::bad_request(
            "invalid_wrapped_key",
            "send 1 to 16 wrapped keys from the file header",
        ));
    }
    keys.iter().map(WrappedKeyJson::decode).collect()
}

/// Unwraps the data key of the caller's object `object_id` under the context the
/// server builds from the caller and the id (never from the request). The caller
/// checks first that the object (or its upload) is the caller's.
///
/// # Errors
/// 403 when the key service refuses; key service errors.
pub(crate) async fn unwrap_data_key(
    state: &AppState,
    caller: &Caller,
    object_id: &str,
    wrapped: &[WrappedKey],
) -> ApiResult<UnwrappedKey> {
    let context = object_context(&caller.owner, object_id)?;
    let key = state.keys.unwrap(wrapped, &context).await?;
    Ok(UnwrappedKey {
        data_key: B64.encode(key.as_bytes()),
        encryption_context: context
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    })
}

/// `DELETE /api/objects/{object_id}`.
///
/// # Errors
/// 404 when it does not exist or is not the caller's.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(object_id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let meta = head_owned(&state, &caller, &object_id).await?;
    // Its links first: a link to a deleted file must never open a later one.
    super::shares::remove_all_for(&state, &caller.owner, &object_id).await?;
    match state.store.delete(&meta.key).await {
        Ok(()) | Err(StoreError::NotFound) => Ok(StatusCode::NO_CONTENT),
        Err(e) => Err(e.into()),
    }
}
