//! Uploads: start (the header and the object's keys + presigned PUT or multipart
//! part URLs), sign more parts, complete, abort, resume.
//!
//! The server builds each object's header (it holds the data key) and hands the
//! browser only that object's content and header keys: a data key that the key
//! service's cache shares between many objects never leaves the server.
//!
//! The server keeps no state: an upload is its token plus what the store holds.
//! A multipart upload's state is the store's (`ListParts`, and `NoSuchUpload` once
//! it is completed or aborted; the store arbitrates a complete racing an abort).
//! A single PUT has no such state in S3 (the object just lands), so "complete"
//! and "abort" each create an *upload record*, an empty object
//! `uploads/<owner>/<object_id>` with `x-amz-meta-cd-state: completed|aborted`,
//! with `If-None-Match: *`: the store lets exactly one of them create it, so
//! whichever comes first wins and the other answers `upload_not_found`. "abort"
//! deletes the object only after it won; a finished upload is never deleted by a
//! Cancel racing its completion. The presigned PUT itself carries
//! `If-None-Match: *`, so replaying it cannot replace the object. A record
//! matters only while the upload token is valid (`--upload-ttl`); a bucket
//! lifecycle rule on `uploads/` may expire records after that.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use cipherdrop_core::sizes::{Layout, MAX_PART_SIZE, Part};
use cipherdrop_core::{ChunkSize, Keyring as _, Sealer};
use serde::{Deserialize, Serialize};

use super::objects::{ObjectInfo, ObjectKeysJson, context_json, decode_header, open_header};
use super::{ApiJson, ApiPath, check_object_id, new_object_id, object_key};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::keys::object_context;
use crate::state::AppState;
use crate::store::{NAME_METADATA_KEY, PartEtag, Presigned, StoreError, StoredPart};
use crate::upload_token::UploadClaims;

/// Request of `POST /api/uploads`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartUpload {
    /// Plaintext size in bytes.
    pub size: u64,
    /// The object id the browser proposes (32 lowercase hex characters, random):
    /// it seals the name bound to it before asking. The server's own when absent.
    #[serde(default)]
    pub object_id: Option<String>,
    /// The browser-encrypted file name, base64 (opaque to the server).
    #[serde(default)]
    pub name: Option<String>,
    /// Chunk size (a power of two, 4 KiB to 16 MiB); the server's default when absent.
    #[serde(default)]
    pub chunk_size: Option<u64>,
    /// Force multipart (`true`) or a single PUT (`false`); by size when absent.
    #[serde(default)]
    pub multipart: Option<bool>,
}

/// One multipart part as JSON.
#[derive(Debug, Serialize)]
pub struct PartJson {
    /// S3 part number, from 1.
    pub part_number: u32,
    /// Ciphertext offset of the part in the object.
    pub offset: u64,
    /// Ciphertext length of the part (its signed `Content-Length`).
    pub length: u64,
    /// First chunk index in the part.
    pub first_chunk: u64,
    /// Number of chunks in the part.
    pub chunk_count: u64,
    /// Plaintext offset the part encrypts.
    pub plaintext_offset: u64,
    /// Plaintext length the part encrypts.
    pub plaintext_length: u64,
    /// The presigned `PUT` for the part.
    pub request: Presigned,
}

impl PartJson {
    fn new(p: &Part, request: Presigned) -> Self {
        Self {
            part_number: p.number,
            offset: p.ciphertext.start,
            length: p.len(),
            first_chunk: p.chunks.start,
            chunk_count: p.chunks.end - p.chunks.start,
            plaintext_offset: p.plaintext.start,
            plaintext_length: p.plaintext.end - p.plaintext.start,
            request,
        }
    }
}

/// How to send the ciphertext.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UploadPlan {
    /// One presigned `PUT` of exactly `ciphertext_length` bytes.
    Single {
        /// The presigned request.
        request: Presigned,
    },
    /// Multipart: the part plan in a few numbers (the browser computes every part
    /// from them, see [`PartPlan`]) and the first parts to send, signed.
    Multipart {
        /// How the object is cut into parts.
        #[serde(flatten)]
        plan: PartPlan,
        /// Up to `initial_part_urls` parts to send first (in order), each signed;
        /// the others are signed on demand by `POST …/parts`.
        parts: Vec<PartJson>,
    },
}

/// A multipart plan in a few numbers instead of a list of every part (a 1 TiB
/// file has about 10,000). Every part is a whole number of chunks, part 1 starts
/// with the header, and every part but the last holds `chunks_per_part` chunks,
/// so part *n* (from 1) holds chunks `(n-1)·k .. min(n·k, chunks)`; its offsets
/// and lengths follow from the layout (docs/API.md spells the arithmetic out).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PartPlan {
    /// Number of parts (1 to 10,000).
    pub part_count: u32,
    /// Chunks in every part but the last (the last holds the rest, at least one).
    pub chunks_per_part: u64,
    /// Plaintext bytes in every part but the last: `chunks_per_part × chunk_size`.
    pub part_size: u64,
}

impl PartPlan {
    fn of(parts: &[Part], layout: &Layout) -> Result<Self, ApiError> {
        let first = parts.first().ok_or_else(|| internal("empty part plan"))?;
        let chunks_per_part = first.chunks.end - first.chunks.start;
        Ok(Self {
            part_count: u32::try_from(parts.len()).map_err(|_| internal("part count"))?,
            chunks_per_part,
            part_size: chunks_per_part * layout.chunk_size().bytes(),
        })
    }
}

/// Response of `POST /api/uploads`.
#[derive(Debug, Serialize)]
pub struct UploadStarted {
    /// The new object's id.
    pub object_id: String,
    /// The object's header, base64 (exactly `header_length` bytes; public).
    pub header: String,
    /// The keys of this object alone (secret: keep in memory only).
    pub object_keys: ObjectKeysJson,
    /// The encryption context the header carries.
    pub encryption_context: BTreeMap<String, String>,
    /// Chunk size in bytes.
    pub chunk_size: u32,
    /// Plaintext size in bytes.
    pub plaintext_length: u64,
    /// Exact header length in bytes.
    pub header_length: u64,
    /// Exact object length in bytes.
    pub ciphertext_length: u64,
    /// Pass back to `parts`, `complete` and `abort`.
    pub upload_token: String,
    /// When the presigned requests in this response expire (Unix seconds).
    pub urls_expire_at: u64,
    /// When the upload token expires (Unix seconds).
    pub upload_expires_at: u64,
    /// How to send the bytes.
    pub upload: UploadPlan,
}

fn check_name(name: &str, max: usize) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= max
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_name",
            format!(
                "'name' must be the encrypted name as base64 (1 to {max} characters of A-Z a-z 0-9 + / = - _)"
            ),
        ))
    }
}

fn too_large(what: impl Into<String>) -> ApiError {
    ApiError::bad_request("too_large", what)
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn layout_of(claims: &UploadClaims) -> Result<Layout, ApiError> {
    let chunk =
        ChunkSize::from_u64(u64::from(claims.cs)).map_err(|_| ApiError::upload_not_found())?;
    Layout::new(claims.hl, chunk, claims.pl).map_err(|_| ApiError::upload_not_found())
}

fn plan(layout: &Layout, part_size: u64) -> Result<Vec<Part>, ApiError> {
    layout
        .plan_parts(part_size)
        .map_err(|_| too_large("the file cannot be cut into at most 10,000 parts of at most 5 GiB"))
}

fn internal(detail: impl Into<String>) -> ApiError {
    ApiError::internal(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error",
        detail,
    )
}

/// `POST /api/uploads`: the object's header and keys, the exact sizes and where
/// to send the ciphertext.
///
/// # Errors
/// 400 for bad sizes, names or chunk sizes; key service and store errors.
pub async fn start(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(req): ApiJson<StartUpload>,
) -> ApiResult<(StatusCode, Json<UploadStarted>)> {
    let limits = &state.limits;
    if req.size > limits.max_object_size {
        return Err(too_large(format!(
            "files larger than {} bytes are not accepted by this server",
            limits.max_object_size
        )));
    }
    let chunk_size = match req.chunk_size {
        None => limits.default_chunk_size,
        Some(c) => ChunkSize::from_u64(c).map_err(|_| {
            ApiError::bad_request(
                "invalid_chunk_size",
                "chunk_size must be a power of two from 4096 to 16777216",
            )
        })?,
    };
    if let Some(name) = &req.name {
        check_name(name, limits.max_name_len)?;
    }
    crate::quota::check(&state, &caller, req.size).await?;

    let object_id = match req.object_id {
        Some(id) => {
            check_object_id(&id)?;
            check_id_free(&state, &caller.owner, &id).await?;
            id
        }
        None => new_object_id()?,
    };
    let context = object_context(&caller.owner, &object_id)?;
    let generated = state.keys.generate(&context, req.size).await?;
    let mut wrapped = vec![generated.wrapped];
    // The recovery recipient (FORMAT.md 2.5), wrapped under this object's whole
    // context; the data-key and resume endpoints never open this entry.
    if let Some(recipient) = state.keys.recovery_recipient() {
        let entry = recipient
            .wrap(&generated.data_key, &context)
            .map_err(|e| internal(format!("recovery wrap: {e}")))?;
        wrapped.push(entry);
    }
    // The header, built here with the data key (which stays here): a fresh random
    // message id, so this object's own content and header keys.
    let sealer = Sealer::new(
        &generated.data_key,
        &context,
        &wrapped,
        chunk_size,
        Some(req.size),
    )
    .map_err(|e| internal(format!("header: {e}")))?;
    let header_len = u64::try_from(sealer.header().len()).map_err(|_| internal("header length"))?;
    let layout = Layout::new(header_len, chunk_size, req.size)
        .map_err(|_| too_large("the file is too large for this chunk size"))?;
    let ciphertext_len = layout.ciphertext_len();
    let multipart = req
        .multipart
        .unwrap_or(ciphertext_len > limits.multipart_threshold);
    if !multipart && ciphertext_len > MAX_PART_SIZE {
        return Err(too_large("a single PUT is limited to 5 GiB; use multipart"));
    }

    let key = object_key(&caller.owner, &object_id);
    let metadata = name_metadata(req.name.as_deref());
    let urls_expire_at = now_secs() + limits.presign_expiry.as_secs();
    let (upload, mpu) = if multipart {
        let parts = plan(&layout, limits.part_size)?;
        let part_plan = PartPlan::of(&parts, &layout)?;
        let upload_id = state.store.create_multipart(&key, &metadata).await?;
        let mut out = Vec::with_capacity(limits.initial_part_urls.min(parts.len()));
        for p in parts.iter().take(limits.initial_part_urls) {
            out.push(signed_part(&state, &key, &upload_id, p).await?);
        }
        (
            UploadPlan::Multipart {
                plan: part_plan,
                parts: out,
            },
            Some(upload_id),
        )
    } else {
        let request = state
            .store
            .presign_put(&key, ciphertext_len, &metadata, limits.presign_expiry)
            .await?;
        (UploadPlan::Single { request }, None)
    };

    let upload_expires_at = state.uploads.expiry();
    let claims = UploadClaims {
        sub: caller.owner.clone(),
        obj: object_id.clone(),
        nm: if mpu.is_none() {
            req.name.clone()
        } else {
            None
        },
        mpu,
        pl: req.size,
        hl: header_len,
        cs: chunk_size.get(),
        ps: limits.part_size,
        exp: upload_expires_at,
        aud: crate::upload_token::UploadTokens::audience(),
    };
    let upload_token = state.uploads.sign(&claims)?;
    tracing::info!(owner = %caller.owner, object = %object_id, multipart, "upload started");
    Ok((
        StatusCode::CREATED,
        Json(UploadStarted {
            object_id,
            header: B64.encode(sealer.header().as_bytes()),
            object_keys: ObjectKeysJson::new(sealer.object_keys()),
            encryption_context: context_json(&context),
            chunk_size: chunk_size.get(),
            plaintext_length: req.size,
            header_length: header_len,
            ciphertext_length: ciphertext_len,
            upload_token,
            urls_expire_at,
            upload_expires_at,
            upload,
        }),
    ))
}

/// A proposed object id must name nothing of the owner's yet: no object and no
/// upload record (an upload ended under that id).
///
/// # Errors
/// 409 `object_id_taken`; store errors.
async fn check_id_free(state: &AppState, owner: &str, object_id: &str) -> ApiResult<()> {
    let taken = || {
        ApiError::new(
            StatusCode::CONFLICT,
            "object_id_taken",
            "this object id is already in use; choose another random id (and seal the name for it again)",
        )
    };
    match state.store.head(&object_key(owner, object_id)).await {
        Ok(_) => return Err(taken()),
        Err(StoreError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    if state
        .store
        .read_record(&record_key(owner, object_id))
        .await?
        .is_some()
    {
        return Err(taken());
    }
    Ok(())
}

fn name_metadata(name: Option<&str>) -> BTreeMap<String, String> {
    name.map(|n| (NAME_METADATA_KEY.to_owned(), n.to_owned()))
        .into_iter()
        .collect()
}

/// The whole object as the one "part" of a single PUT (for re-signing).
fn single_part(layout: &Layout) -> Part {
    Part {
        number: 1,
        chunks: 0..layout.chunk_count(),
        ciphertext: 0..layout.ciphertext_len(),
        plaintext: 0..layout.plaintext_len(),
    }
}

/// The key of a single PUT's upload record (see the module docs).
fn record_key(owner: &str, object_id: &str) -> String {
    format!("uploads/{owner}/{object_id}")
}

/// Upload record states.
const COMPLETED: &str = "completed";
const ABORTED: &str = "aborted";

/// The record at `key` after losing a race to create it. S3 answers a create
/// racing one still in flight with 409 before the winner's record is readable,
/// so wait for it a little.
async fn settled_record(state: &AppState, key: &str) -> Result<Option<String>, ApiError> {
    for _ in 0..20 {
        if let Some(r) = state.store.read_record(key).await? {
            return Ok(Some(r));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok(None)
}

/// The presigned PUT of a single upload, as "start" signed it.
async fn presign_single(
    state: &AppState,
    key: &str,
    claims: &UploadClaims,
    layout: &Layout,
) -> Result<Presigned, ApiError> {
    Ok(state
        .store
        .presign_put(
            key,
            layout.ciphertext_len(),
            &name_metadata(claims.nm.as_deref()),
            state.limits.presign_expiry,
        )
        .await?)
}

/// "parts 2, 3 and 5" (at most 10 numbers, then how many more).
fn part_list(numbers: &[u32]) -> String {
    let shown: Vec<String> = numbers.iter().take(10).map(u32::to_string).collect();
    let mut out = if numbers.len() == 1 {
        format!("part {}", shown[0])
    } else {
        format!("parts {}", shown.join(", "))
    };
    if numbers.len() > shown.len() {
        out.push_str(&format!(" and {} more", numbers.len() - shown.len()));
    }
    out
}

fn etag_value(etag: &str) -> &str {
    etag.trim().trim_matches('"')
}

/// Checks the browser's part list against what the store holds, before asking
/// the store to complete: a missing part or a wrong ETag is a 400 naming the
/// parts, and the upload stays open (s3s-fs used to destroy it; S3 answers only
/// "InvalidPart").
fn check_parts_stored(
    plan: &[Part],
    given: &[CompletedPartJson],
    stored: &[StoredPart],
) -> Result<(), ApiError> {
    let find = |n: u32| stored.iter().find(|s| s.part_number == n);
    let missing: Vec<u32> = plan
        .iter()
        .filter(|p| find(p.number).is_none_or(|s| s.size != p.len()))
        .map(|p| p.number)
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_parts",
            format!(
                "{} of this upload {} not been uploaded completely; send {} and complete again",
                part_list(&missing),
                if missing.len() == 1 { "has" } else { "have" },
                if missing.len() == 1 { "it" } else { "them" },
            ),
        ));
    }
    let wrong: Vec<u32> = given
        .iter()
        .filter(|g| {
            find(g.part_number)
                .is_some_and(|s| !s.etag.is_empty() && etag_value(&s.etag) != etag_value(&g.etag))
        })
        .map(|g| g.part_number)
        .collect();
    if !wrong.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_parts",
            format!(
                "the ETag given for {} does not match the uploaded part; send the ETag header of each part's PUT",
                part_list(&wrong)
            ),
        ));
    }
    Ok(())
}

fn part_number(p: &Part) -> Result<i32, ApiError> {
    i32::try_from(p.number).map_err(|_| internal("part number out of range"))
}

/// Part `p` of multipart upload `upload_id` of `key`, with its presigned PUT.
async fn signed_part(
    state: &AppState,
    key: &str,
    upload_id: &str,
    p: &Part,
) -> Result<PartJson, ApiError> {
    let request = state
        .store
        .presign_part(
            key,
            upload_id,
            part_number(p)?,
            p.len(),
            state.limits.presign_expiry,
        )
        .await?;
    Ok(PartJson::new(p, request))
}

/// Request of `POST /api/uploads/{object_id}/parts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignParts {
    /// The token from "start upload".
    pub upload_token: String,
    /// Part numbers to sign (1-based, at most 100).
    pub part_numbers: Vec<u32>,
}

/// Response of `POST /api/uploads/{object_id}/parts`.
#[derive(Debug, Serialize)]
pub struct PartsSigned {
    /// The requested parts with fresh presigned requests.
    pub parts: Vec<PartJson>,
    /// When these requests expire (Unix seconds).
    pub urls_expire_at: u64,
}

/// `POST /api/uploads/{object_id}/parts`: (re-)sign part URLs. A single PUT is
/// part 1 of 1: asking for `[1]` re-signs its request.
///
/// # Errors
/// 404 for someone else's or an unknown upload, 400 for bad part numbers.
pub async fn sign_parts(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(object_id): ApiPath<String>,
    ApiJson(req): ApiJson<SignParts>,
) -> ApiResult<Json<PartsSigned>> {
    check_object_id(&object_id)?;
    let claims = state
        .uploads
        .verify(&req.upload_token, &caller.owner, &object_id)?;
    let Some(upload_id) = &claims.mpu else {
        if req.part_numbers != [1] {
            return Err(ApiError::bad_request(
                "invalid_part_numbers",
                "this upload is a single PUT: its one part is number 1 (ask for [1])",
            ));
        }
        let layout = layout_of(&claims)?;
        let key = object_key(&caller.owner, &object_id);
        let request = presign_single(&state, &key, &claims, &layout).await?;
        return Ok(Json(PartsSigned {
            parts: vec![PartJson::new(&single_part(&layout), request)],
            urls_expire_at: now_secs() + state.limits.presign_expiry.as_secs(),
        }));
    };
    let max = state.limits.max_part_urls_per_request;
    if req.part_numbers.is_empty() || req.part_numbers.len() > max {
        return Err(ApiError::bad_request(
            "invalid_part_numbers",
            format!("ask for 1 to {max} part numbers at a time"),
        ));
    }
    let parts = plan(&layout_of(&claims)?, claims.ps)?;
    let key = object_key(&caller.owner, &object_id);
    let mut out = Vec::with_capacity(req.part_numbers.len());
    for n in &req.part_numbers {
        let p = usize::try_from(*n)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| parts.get(i))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_part_numbers",
                    format!("part numbers of this upload are 1 to {}", parts.len()),
                )
            })?;
        out.push(signed_part(&state, &key, upload_id, p).await?);
    }
    Ok(Json(PartsSigned {
        parts: out,
        urls_expire_at: now_secs() + state.limits.presign_expiry.as_secs(),
    }))
}

/// A finished part as reported by the browser.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompletedPartJson {
    /// Part number.
    pub part_number: u32,
    /// The `ETag` response header of the part's `PUT`.
    pub etag: String,
}

/// Request of `POST /api/uploads/{object_id}/complete`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Complete {
    /// The token from "start upload".
    pub upload_token: String,
    /// Every part, in order (multipart only).
    #[serde(default)]
    pub parts: Vec<CompletedPartJson>,
}

/// `POST /api/uploads/{object_id}/complete`: finish the upload and check its size.
///
/// # Errors
/// 404 for someone else's or an unknown upload, 400 for a wrong part list, 409 when
/// the object is missing or has the wrong size.
pub async fn complete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(object_id): ApiPath<String>,
    ApiJson(req): ApiJson<Complete>,
) -> ApiResult<Json<ObjectInfo>> {
    check_object_id(&object_id)?;
    let claims = state
        .uploads
        .verify(&req.upload_token, &caller.owner, &object_id)?;
    let layout = layout_of(&claims)?;
    let key = object_key(&caller.owner, &object_id);
    if let Some(upload_id) = &claims.mpu {
        let parts = plan(&layout, claims.ps)?;
        if req.parts.len() != parts.len()
            || req
                .parts
                .iter()
                .zip(&parts)
                .any(|(got, want)| got.part_number != want.number)
        {
            return Err(ApiError::bad_request(
                "invalid_parts",
                format!("list all {} parts in order, numbered from 1", parts.len()),
            ));
        }
        let mut etags = Vec::with_capacity(parts.len());
        for p in &req.parts {
            if p.etag.is_empty()
                || p.etag.len() > 128
                || p.etag.bytes().any(|b| !(0x20..0x7f).contains(&b))
            {
                return Err(ApiError::bad_request(
                    "invalid_parts",
                    "an ETag is malformed",
                ));
            }
            etags.push(PartEtag {
                part_number: i32::try_from(p.part_number).map_err(|_| internal("part number"))?,
                etag: p.etag.clone(),
            });
        }
        let outcome = match state.store.list_parts(&key, upload_id).await {
            Ok(stored) => {
                check_parts_stored(&parts, &req.parts, &stored)?;
                state
                    .store
                    .complete_multipart(&key, upload_id, &etags)
                    .await
            }
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => {}
            // A retry of a "complete" that went through (its answer was lost, or it
            // timed out while S3 finished): the upload is gone and the object is
            // there. The HEAD below tells which, and checks the size.
            Err(StoreError::NoSuchUpload) => {
                if !matches!(state.store.head(&key).await, Ok(m) if m.size == layout.ciphertext_len())
                {
                    return Err(StoreError::NoSuchUpload.into());
                }
                tracing::info!(object = %object_id, "complete repeated after the upload was completed");
            }
            Err(e) => return Err(e.into()),
        }
    } else if !req.parts.is_empty() {
        return Err(ApiError::bad_request(
            "not_multipart",
            "this upload is a single PUT; send no parts",
        ));
    }
    let meta = match state.store.head(&key).await {
        Ok(m) => m,
        Err(StoreError::NotFound) => {
            if claims.mpu.is_none()
                && state
                    .store
                    .read_record(&record_key(&caller.owner, &object_id))
                    .await?
                    .is_some()
            {
                // Aborted (its object deleted).
                return Err(ApiError::upload_not_found());
            }
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "not_uploaded",
                "the object has not been uploaded yet",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    if meta.size != layout.ciphertext_len() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "size_mismatch",
            format!(
                "the stored object has {} bytes but {} were expected",
                meta.size,
                layout.ciphertext_len()
            ),
        ));
    }
    if claims.mpu.is_none() {
        // Win the race against "abort" (module docs), or find it already won.
        let record = record_key(&caller.owner, &object_id);
        match state.store.create_record(&record, COMPLETED).await {
            Ok(()) => {}
            Err(StoreError::AlreadyExists) => {
                if settled_record(&state, &record).await?.as_deref() != Some(COMPLETED) {
                    return Err(ApiError::upload_not_found());
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    tracing::info!(owner = %caller.owner, object = %object_id, "upload completed");
    Ok(Json(ObjectInfo::new(&object_id, &meta)))
}

/// Request of `POST /api/uploads/{object_id}/abort`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Abort {
    /// The token from "start upload".
    pub upload_token: String,
}

/// `POST /api/uploads/{object_id}/abort`: give up; uploaded parts (or the
/// uploaded object of a single PUT) are discarded. Never deletes a completed
/// upload (module docs).
///
/// # Errors
/// 404 for someone else's or an unknown (or already finished) upload.
pub async fn abort(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(object_id): ApiPath<String>,
    ApiJson(req): ApiJson<Abort>,
) -> ApiResult<StatusCode> {
    check_object_id(&object_id)?;
    let (claims, expired) =
        state
            .uploads
            .verify_even_expired(&req.upload_token, &caller.owner, &object_id)?;
    let key = object_key(&caller.owner, &object_id);
    match &claims.mpu {
        // An expired multipart upload may still be discarded: aborting an upload id
        // the store no longer has (completed, aborted) changes nothing.
        Some(upload_id) => state.store.abort_multipart(&key, upload_id).await?,
        // An expired single PUT is not: its completion record may be gone by then
        // (lifecycle rule), and deleting would remove a finished file.
        None if expired => return Err(ApiError::upload_not_found()),
        None => {
            match state
                .store
                .create_record(&record_key(&caller.owner, &object_id), ABORTED)
                .await
            {
                Ok(()) => {}
                // Completed (or aborted) first: leave it alone.
                Err(StoreError::AlreadyExists) => return Err(ApiError::upload_not_found()),
                Err(e) => return Err(e.into()),
            }
            // The PUT may have landed: remove it.
            match state.store.delete(&key).await {
                Ok(()) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Request of `POST /api/uploads/{object_id}/resume`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resume {
    /// The token from "start upload".
    pub upload_token: String,
    /// The header "start" returned, base64: when given, the object's keys are
    /// derived again from it (the browser keeps no key across a reload).
    #[serde(default)]
    pub header: Option<String>,
}

/// Response of `POST /api/uploads/{object_id}/resume`.
#[derive(Debug, Serialize)]
pub struct UploadResumed {
    /// The object id.
    pub object_id: String,
    /// `single` or `multipart`.
    pub kind: &'static str,
    /// The object's keys, when `header` was sent (secret: memory only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_keys: Option<ObjectKeysJson>,
    /// The encryption context of the header.
    pub encryption_context: BTreeMap<String, String>,
    /// Chunk size in bytes.
    pub chunk_size: u32,
    /// Plaintext size in bytes.
    pub plaintext_length: u64,
    /// Exact header length in bytes.
    pub header_length: u64,
    /// Exact object length in bytes.
    pub ciphertext_length: u64,
    /// When the upload token expires (Unix seconds).
    pub upload_expires_at: u64,
    /// When the presigned requests in this response expire (Unix seconds).
    pub urls_expire_at: u64,
    /// Multipart: the parts the store holds, complete and of the planned size,
    /// as part number → ETag (only those; a JSON object keyed by the number).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parts_done: Option<BTreeMap<u32, String>>,
    /// Single: whether the object is stored with the right length.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uploaded: Option<bool>,
    /// How to send what is missing.
    pub upload: UploadPlan,
}

/// `POST /api/uploads/{object_id}/resume`: what an interrupted upload still
/// needs, with fresh presigned requests (and, on request, the object's keys again).
///
/// # Errors
/// 404 `upload_not_found` when the token is expired or not the caller's, or the
/// upload was completed, aborted or forgotten by the store; key service errors.
pub async fn resume(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(object_id): ApiPath<String>,
    ApiJson(req): ApiJson<Resume>,
) -> ApiResult<Json<UploadResumed>> {
    check_object_id(&object_id)?;
    let claims = state
        .uploads
        .verify(&req.upload_token, &caller.owner, &object_id)
        .map_err(|_| ApiError::upload_not_resumable())?;
    let header = req.header.as_deref().map(decode_header).transpose()?;
    let layout = layout_of(&claims)?;
    if let Some(h) = &header
        && (h.len() as u64 != claims.hl
            || h.chunk_size().get() != claims.cs
            || h.layout().map(|l| l.plaintext_len()) != Some(claims.pl))
    {
        return Err(ApiError::bad_request(
            "header_mismatch",
            "this header is not the one this upload started with (its length, chunk size or plaintext length differ)",
        ));
    }
    let key = object_key(&caller.owner, &object_id);
    let gone = |e: StoreError| match e {
        StoreError::NoSuchUpload => ApiError::upload_not_resumable(),
        e => e.into(),
    };
    let urls_expire_at = now_secs() + state.limits.presign_expiry.as_secs();
    let (kind, parts_done, uploaded, upload) = if let Some(upload_id) = &claims.mpu {
        let plan = plan(&layout, claims.ps)?;
        let stored = state
            .store
            .list_parts(&key, upload_id)
            .await
            .map_err(gone)?;
        let done: BTreeMap<u32, String> = stored
            .into_iter()
            .filter(|s| {
                usize::try_from(s.part_number)
                    .ok()
                    .and_then(|n| n.checked_sub(1))
                    .and_then(|i| plan.get(i))
                    .is_some_and(|p| p.len() == s.size)
            })
            .map(|s| (s.part_number, s.etag))
            .collect();
        let mut parts = Vec::with_capacity(state.limits.initial_part_urls);
        for p in plan
            .iter()
            .filter(|p| !done.contains_key(&p.number))
            .take(state.limits.initial_part_urls)
        {
            parts.push(signed_part(&state, &key, upload_id, p).await?);
        }
        (
            "multipart",
            Some(done),
            None,
            UploadPlan::Multipart {
                plan: PartPlan::of(&plan, &layout)?,
                parts,
            },
        )
    } else {
        if state
            .store
            .read_record(&record_key(&caller.owner, &object_id))
            .await?
            .is_some()
        {
            return Err(ApiError::upload_not_resumable());
        }
        let uploaded = match state.store.head(&key).await {
            Ok(m) => m.size == layout.ciphertext_len(),
            Err(StoreError::NotFound) => false,
            Err(e) => return Err(e.into()),
        };
        let request = presign_single(&state, &key, &claims, &layout).await?;
        (
            "single",
            None,
            Some(uploaded),
            UploadPlan::Single { request },
        )
    };
    let (object_keys, context) = match header {
        Some(h) => {
            let (context, keys) = open_header(&state, &caller.owner, &object_id, h).await?;
            (Some(ObjectKeysJson::new(&keys)), context)
        }
        None => (None, object_context(&caller.owner, &object_id)?),
    };
    let encryption_context = context_json(&context);
    Ok(Json(UploadResumed {
        object_id,
        kind,
        object_keys,
        encryption_context,
        chunk_size: claims.cs,
        plaintext_length: claims.pl,
        header_length: claims.hl,
        ciphertext_length: layout.ciphertext_len(),
        upload_expires_at: claims.exp,
        urls_expire_at,
        parts_done,
        uploaded,
        upload,
    }))
}
