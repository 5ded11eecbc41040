//! The caller's objects: list, show, presigned download, the keys of one object
//! (from its header), delete.

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

use super::{ApiJson, ApiPath, ApiQuery, OBJECT_ID_LEN, check_object_id, object_key};
use cipherdrop_core::{EncryptionContext, Header, ObjectKeys, Opener};

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
    check_object_id(&object_id)?;
    Ok(Json(download_of(&state, &caller.owner, &object_id).await?))
}

/// A presigned `GET` of `owner`'s object `object_id` (with that owner's SSE-C
/// headers when SSE-C is on). The caller has checked who may have it.
///
/// # Errors
/// 404 `not_found` when the object does not exist; store errors.
pub(crate) async fn download_of(
    state: &AppState,
    owner: &str,
    object_id: &str,
) -> ApiResult<Download> {
    let meta = state.store.head(&object_key(owner, object_id)).await?;
    let request = state
        .store
        .presign_get(&meta.key, state.limits.presign_expiry)
        .await?;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok(Download {
        object: ObjectInfo::new(object_id, &meta),
        request,
        urls_expire_at: now + state.limits.presign_expiry.as_secs(),
    })
}

/// Largest `header` a request may carry, in bytes before base64 (FORMAT.md's
/// header limit).
pub const MAX_HEADER_BYTES: usize = cipherdrop_core::header::MAX_HEADER_LEN;

/// One object's content key and header key as JSON (base64, 32 bytes each): what
/// the browser seals or opens that object with. They open this object only, never
/// a sibling sharing its data key (FORMAT.md 3).
#[derive(Serialize)]
pub struct ObjectKeysJson {
    /// AES-256-GCM key of the chunks, base64 (secret: keep in memory only).
    pub content_key: String,
    /// HMAC-SHA-256 key of the header tag, base64 (secret: keep in memory only).
    pub header_key: String,
}

impl ObjectKeysJson {
    pub(crate) fn new(keys: &ObjectKeys) -> Self {
        Self {
            content_key: B64.encode(keys.content_key()),
            header_key: B64.encode(keys.header_key()),
        }
    }
}

impl std::fmt::Debug for ObjectKeysJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectKeysJson").finish_non_exhaustive()
    }
}

/// Request of `POST /api/objects/{object_id}/keys`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysRequest {
    /// The object's header, base64 (exactly the header: at most 64 KiB).
    pub header: String,
}

/// Response of `POST /api/objects/{object_id}/keys`.
#[derive(Debug, Serialize)]
pub struct KeysAnswer {
    /// The keys of this one object (secret: keep in memory only).
    pub object_keys: ObjectKeysJson,
    /// The context the header must carry (the browser checks it again).
    pub encryption_context: BTreeMap<String, String>,
}

/// `POST /api/objects/{object_id}/keys`: the content and header keys of one of
/// the caller's objects, from its header. The server builds the context from the
/// caller and the id (never from the request), unwraps the data key and checks it
/// against the header's commitment and tag before deriving anything, so a forged
/// or foreign header gets nothing.
///
/// # Errors
/// 404 when the object is not the caller's; 400 `invalid_header`,
/// `header_mismatch` or `header_auth_failed`; 403 when the key service refuses.
pub async fn keys(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(object_id): ApiPath<String>,
    ApiJson(req): ApiJson<KeysRequest>,
) -> ApiResult<Json<KeysAnswer>> {
    check_object_id(&object_id)?;
    Ok(Json(keys_of(&state, &caller.owner, &object_id, &req).await?))
}

/// The keys of `owner`'s object `object_id` from the header in `req`: the
/// context is built from `owner` and `object_id`, never from the request. The
/// caller has checked who may have them.
///
/// # Errors
/// As `keys`.
pub(crate) async fn keys_of(
    state: &AppState,
    owner: &str,
    object_id: &str,
    req: &KeysRequest,
) -> ApiResult<KeysAnswer> {
    // An object that is not there is a 404 whatever the body says.
    state.store.head(&object_key(owner, object_id)).await?;
    let header = decode_header(&req.header)?;
    let (context, keys) = open_header(state, owner, object_id, header).await?;
    Ok(KeysAnswer {
        object_keys: ObjectKeysJson::new(&keys),
        encryption_context: context_json(&context),
    })
}

/// `POST /api/objects/{object_id}/data-key`: removed (it handed out the data key,
/// which a key-service cache shares between many objects).
///
/// # Errors
/// Always 410 `endpoint_removed`, naming its replacement.
pub async fn data_key_removed() -> ApiError {
    ApiError::new(
        StatusCode::GONE,
        "endpoint_removed",
        "this server no longer hands out data keys: send the object's header to POST /api/objects/{object_id}/keys for the keys of that one object",
    )
}

pub(crate) fn context_json(ctx: &EncryptionContext) -> BTreeMap<String, String> {
    ctx.iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Decodes a header sent by the browser: base64 of exactly one header.
///
/// # Errors
/// 400 `invalid_header`.
pub(crate) fn decode_header(b64: &str) -> ApiResult<Header> {
    let bad = |why: &str| {
        ApiError::bad_request(
            "invalid_header",
            format!("'header' must be the file's header as base64 ({why})"),
        )
    };
    if b64.len() > MAX_HEADER_BYTES.div_ceil(3) * 4 {
        return Err(bad("at most 64 KiB"));
    }
    let bytes = B64.decode(b64).map_err(|_| bad("not base64"))?;
    let header = Header::parse(&bytes).map_err(|e| bad(&format!("not a header: {e}")))?;
    if header.len() != bytes.len() {
        return Err(bad("bytes after the header's end"));
    }
    Ok(header)
}

/// Opens `header` for `owner`'s object `object_id`: the context is built from
/// the owner and the id (never from the header or the request), the key service
/// unwraps the data key under it, and crypto-core checks the header's context,
/// the key commitment and the tag ([`Opener::new`]). Only then are the object's
/// keys derived; the data key never leaves this function. The caller checks first
/// that the object (or its upload) is the caller's, or granted to the caller.
///
/// # Errors
/// 400 `header_mismatch` (another object's header), `header_auth_failed`; 403 when
/// the key service refuses; key service errors.
pub(crate) async fn open_header(
    state: &AppState,
    owner: &str,
    object_id: &str,
    header: Header,
) -> ApiResult<(EncryptionContext, ObjectKeys)> {
    let context = object_context(owner, object_id)?;
    if header.context() != &context {
        return Err(header_mismatch());
    }
    let data_key = state.keys.unwrap(header.wrapped_keys(), &context).await?;
    let opener = Opener::new(header, &data_key, &context).map_err(|e| match e {
        cipherdrop_core::Error::ContextMismatch => header_mismatch(),
        _ => ApiError::bad_request(
            "header_auth_failed",
            "the header does not verify with its key (it was changed or forged)",
        ),
    })?;
    Ok((context, opener.object_keys().clone()))
}

fn header_mismatch() -> ApiError {
    ApiError::bad_request(
        "header_mismatch",
        "this header belongs to another object (its encryption context names another object or owner)",
    )
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
    // Its links and grants first: a link or grant to a deleted file must never
    // open a later one.
    super::shares::remove_all_for(&state, &caller.owner, &object_id).await?;
    super::grants::remove_all_for(&state, &caller.owner, &object_id).await?;
    match state.store.delete(&meta.key).await {
        Ok(()) | Err(StoreError::NotFound) => Ok(StatusCode::NO_CONTENT),
        Err(e) => Err(e.into()),
    }
}
