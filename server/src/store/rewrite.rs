//! Replacing the header of one stored object in place (re-wrapping, FORMAT.md 4),
//! moving only ciphertext and never downloading the object whole.
//!
//! 1. A ranged `GET` of the first [`FIRST_READ`] bytes gives the prefix, usually the
//!    whole header, and the object's `ETag`, size, user metadata, content type and
//!    server-side encryption. A header longer than that is read by a second ranged
//!    `GET` (`If-Match` the first `ETag`).
//! 2. The caller sees the parsed header and returns the new one (or `None`: keep it,
//!    nothing is written). The new header must be a re-wrap of the old one (same
//!    message id, commitment, context, chunk size and length), or nothing is written.
//! 3. An object whose new length is at most [`PART_SIZE`] is written whole by one
//!    `PutObject` (its body bytes come from a ranged `GET`). A larger one becomes a
//!    multipart upload: part 1 = the new header + the body bytes up to exactly
//!    [`PART_SIZE`] (a ranged `GET`), the rest `UploadPartCopy` with byte ranges from
//!    the current object (parts of at most 5 GiB, at least 5 MiB but the last), then
//!    `CompleteMultipartUpload`. So at most one part is uploaded whatever the size.
//!
//! **Safety**: every write is conditional on the object being the version read:
//! `PutObject` and `CompleteMultipartUpload` carry `If-Match: <ETag read>`,
//! `UploadPartCopy` carries `x-amz-copy-source-if-match`. An object deleted or
//! replaced meanwhile is never brought back or clobbered: the write is refused (412,
//! or 404 for a deleted one), the multipart upload is aborted and the answer is
//! [`Outcome::Changed`] ("changed while re-wrapping: skipped"), which loses nothing.
//! S3 checks these conditions atomically, and so does the embedded store of the
//! local mode (`embedded::LocalS3` runs writes of one key one at a time). Stores that
//! ignore some of them (moto 5.2 ignores `If-Match` on `CompleteMultipartUpload` and
//! the copy-source condition) are covered by a `HeadObject` comparing the `ETag`
//! just before completing: what remains there is the window between that `HEAD` and
//! the completion (milliseconds), documented in docs/SECURITY.md.

use std::future::Future;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, ServerSideEncryption, StorageClass,
};
use cipherdrop_core::Header;
use cipherdrop_core::header::{PREFIX_LEN, header_len_from_prefix};
use cipherdrop_core::sizes::{MAX_PART_SIZE, MIN_PART_SIZE};

use super::{S3Store, ServerSideEncryptionMode, SseCustomerKey, StoreError, map_s3_error};

/// Bytes read by the first ranged `GET`: the prefix and, for every header the
/// server writes (a few wrapped keys), the whole header.
pub const FIRST_READ: u64 = 4096;

/// The largest object rewritten whole, and the size of part 1 of a larger one:
/// S3's smallest part (5 MiB), so at most this many bytes are uploaded per object.
pub const PART_SIZE: u64 = MIN_PART_SIZE;

/// The largest `UploadPartCopy` range (S3's largest part).
pub const MAX_COPY_PART: u64 = MAX_PART_SIZE;

/// The bucket holding the object, and how to reach it.
#[derive(Debug, Clone, Copy)]
pub struct Bucket<'a> {
    /// An S3 client (path-style for local endpoints).
    pub client: &'a aws_sdk_s3::Client,
    /// The bucket name.
    pub name: &'a str,
    /// The SSE-C key the objects are stored under, if any (sent on every read,
    /// write and copy).
    pub sse_customer_key: Option<&'a SseCustomerKey>,
}

/// What happened to one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The new header is in place.
    Rewritten(Moved),
    /// The caller kept the header (returned `None`): nothing was written.
    Unchanged,
    /// The object was deleted or replaced after it was read, so nothing was
    /// written: "changed while re-wrapping: skipped". Nothing is lost.
    Changed,
}

/// The bytes one rewrite moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    /// Object length before.
    pub old_len: u64,
    /// Object length after.
    pub new_len: u64,
    /// Header length before.
    pub old_header_len: u64,
    /// Header length after.
    pub new_header_len: u64,
    /// Bytes read from the object through the client (header and part-1 body).
    pub downloaded: u64,
    /// Bytes sent through the client (the new header and part-1 body).
    pub uploaded: u64,
    /// Bytes copied inside the store (`UploadPartCopy`).
    pub copied: u64,
    /// Whether a multipart upload was used.
    pub multipart: bool,
}

/// Why an object could not be rewritten (nothing was written).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RewriteError {
    /// There is no such object (when first read).
    #[error("no such object")]
    NotFound,
    /// The object does not start with a valid CipherDrop header.
    #[error("not a CipherDrop object: {0}")]
    NotCipherDrop(cipherdrop_core::Error),
    /// The new header is not a re-wrap of the old one (another message id,
    /// commitment, context, chunk size or length): the body would not open.
    #[error("the new header is not a re-wrap of the old one ({0} differs)")]
    NotARewrap(&'static str),
    /// The caller's function failed (its error).
    #[error("{0:#}")]
    Decide(anyhow::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the first read learned about the object.
struct Current {
    etag: String,
    len: u64,
    first: Vec<u8>,
    metadata: std::collections::HashMap<String, String>,
    content_type: Option<String>,
    content_encoding: Option<String>,
    content_disposition: Option<String>,
    content_language: Option<String>,
    cache_control: Option<String>,
    sse: Option<ServerSideEncryption>,
    sse_kms_key_id: Option<String>,
    bucket_key_enabled: Option<bool>,
    storage_class: Option<StorageClass>,
}

/// A failed call: the object changed (412, 404, 409), or the store failed.
enum CallError {
    Changed,
    Store(StoreError),
}

impl From<CallError> for RewriteError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Changed => RewriteError::Store(StoreError::Other(
                "the object changed while it was read".to_owned(),
            )),
            CallError::Store(s) => RewriteError::Store(s),
        }
    }
}

/// Sorts an SDK failure: a refused condition or a vanished object is
/// [`CallError::Changed`], anything else the store's error.
fn classify<E>(err: SdkError<E, HttpResponse>) -> CallError
where
    E: ProvideErrorMetadata + std::fmt::Debug,
{
    if let SdkError::ServiceError(service) = &err {
        let status = service.raw().status().as_u16();
        let code = service.err().code().unwrap_or("");
        if matches!(status, 404 | 409 | 412)
            || matches!(
                code,
                "PreconditionFailed" | "NoSuchKey" | "NotFound" | "ConditionalRequestConflict"
            )
        {
            return CallError::Changed;
        }
    }
    CallError::Store(map_s3_error(err, StoreError::NotFound))
}

/// Adds the SSE-C headers of the object at `$object` (its owner's key) when the
/// bucket uses SSE-C.
macro_rules! with_customer_key {
    ($builder:expr, $key:expr, $object:expr) => {{
        let b = $builder;
        match $key {
            Some(k) => {
                let h = k.for_object_key($object);
                b.sse_customer_algorithm("AES256")
                    .sse_customer_key(h.key_b64)
                    .sse_customer_key_md5(h.md5_b64)
            }
            None => b,
        }
    }};
}

/// Percent-encodes a key for `x-amz-copy-source` (`/` kept).
fn encode_copy_source(bucket: &str, key: &str) -> String {
    let mut out = String::with_capacity(bucket.len() + key.len() + 1);
    for (i, part) in [bucket, key].into_iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        for b in part.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// `bytes=first-last` (inclusive) for `[start, end)`.
fn range(start: u64, end: u64) -> String {
    format!("bytes={start}-{}", end - 1)
}

/// Replaces the header of the object at `key` in place (see the module docs).
/// `decide` gets the current header and returns the new one, or `None` to keep it.
///
/// # Errors
/// [`RewriteError`] when the object is absent or not CipherDrop, `decide` fails,
/// its header is not a re-wrap, or the store fails; nothing was written then
/// (a multipart upload begun is aborted).
pub async fn rewrite_header<F, Fut>(
    bucket: Bucket<'_>,
    key: &str,
    decide: F,
) -> Result<Outcome, RewriteError>
where
    F: FnOnce(Header) -> Fut + Send,
    Fut: Future<Output = anyhow::Result<Option<Header>>> + Send,
{
    let current = match first_read(bucket, key).await {
        Ok(c) => c,
        Err(CallError::Changed) => return Err(RewriteError::NotFound),
        Err(CallError::Store(e)) => return Err(e.into()),
    };
    let header_len = header_len_from_prefix(&current.first[..current.first.len().min(PREFIX_LEN)])
        .map_err(RewriteError::NotCipherDrop)?;
    let old_header_len = header_len as u64;
    if old_header_len > current.len {
        return Err(RewriteError::NotCipherDrop(
            cipherdrop_core::Error::Truncated,
        ));
    }
    let mut downloaded = current.first.len() as u64;
    let header_bytes = if header_len <= current.first.len() {
        current.first[..header_len].to_vec()
    } else {
        let rest = match ranged_get(bucket, key, &current.etag, downloaded, old_header_len).await {
            Ok(r) => r,
            Err(CallError::Changed) => return Ok(Outcome::Changed),
            Err(CallError::Store(e)) => return Err(e.into()),
        };
        downloaded += rest.len() as u64;
        let mut all = current.first.clone();
        all.extend_from_slice(&rest);
        all
    };
    let old = Header::parse(&header_bytes).map_err(RewriteError::NotCipherDrop)?;
    let Some(new) = decide(old.clone()).await.map_err(RewriteError::Decide)? else {
        return Ok(Outcome::Unchanged);
    };
    check_rewrap(&old, &new)?;

    let body_len = current.len - old_header_len;
    let new_header_len = new.len() as u64;
    let new_len = new_header_len + body_len;
    let mut moved = Moved {
        old_len: current.len,
        new_len,
        old_header_len,
        new_header_len,
        downloaded,
        uploaded: 0,
        copied: 0,
        multipart: new_len > PART_SIZE,
    };
    // Body bytes that go up with the new header: all of them, or up to PART_SIZE.
    let first_body = if moved.multipart {
        PART_SIZE - new_header_len
    } else {
        body_len
    };
    let mut part1 = new.as_bytes().to_vec();
    // Body bytes the first read already holds.
    let tail = body_bytes_read(&current.first, old_header_len);
    let already = (tail.len() as u64).min(first_body);
    part1.extend_from_slice(&tail[..usize::try_from(already).unwrap_or(0)]);
    if already < first_body {
        let from = old_header_len + already;
        match ranged_get(
            bucket,
            key,
            &current.etag,
            from,
            old_header_len + first_body,
        )
        .await
        {
            Ok(bytes) => {
                moved.downloaded += bytes.len() as u64;
                part1.extend_from_slice(&bytes);
            }
            Err(CallError::Changed) => return Ok(Outcome::Changed),
            Err(CallError::Store(e)) => return Err(e.into()),
        }
    }
    moved.uploaded = part1.len() as u64;

    let result = if moved.multipart {
        let copy_from = old_header_len + first_body;
        moved.copied = current.len - copy_from;
        write_multipart(bucket, key, &current, part1, copy_from).await
    } else {
        put_whole(bucket, key, &current, part1).await
    };
    match result {
        Ok(()) => Ok(Outcome::Rewritten(moved)),
        Err(CallError::Changed) => Ok(Outcome::Changed),
        Err(CallError::Store(e)) => Err(e.into()),
    }
}

/// The bytes of the first read after the old header (the start of the body).
fn body_bytes_read(first: &[u8], header_len: u64) -> &[u8] {
    let at = usize::try_from(header_len).unwrap_or(usize::MAX);
    first.get(at..).unwrap_or_default()
}

/// Refuses a new header the old body would not open under.
fn check_rewrap(old: &Header, new: &Header) -> Result<(), RewriteError> {
    let differs = if old.message_id() != new.message_id() {
        Some("message id")
    } else if old.commitment() != new.commitment() {
        Some("key commitment")
    } else if old.context() != new.context() {
        Some("encryption context")
    } else if old.chunk_size() != new.chunk_size() {
        Some("chunk size")
    } else if old.plaintext_len() != new.plaintext_len() {
        Some("plaintext length")
    } else {
        None
    };
    differs.map_or(Ok(()), |d| Err(RewriteError::NotARewrap(d)))
}

/// The first ranged `GET`: up to [`FIRST_READ`] bytes, the `ETag`, the length and
/// everything a rewrite keeps.
async fn first_read(bucket: Bucket<'_>, key: &str) -> Result<Current, CallError> {
    let req = bucket
        .client
        .get_object()
        .bucket(bucket.name)
        .key(key)
        .range(range(0, FIRST_READ));
    let out = match with_customer_key!(req, bucket.sse_customer_key, key)
        .send()
        .await
    {
        Ok(out) => out,
        // An empty object has no byte 0: not CipherDrop, but there.
        Err(SdkError::ServiceError(e)) if e.raw().status().as_u16() == 416 => {
            return Err(CallError::Store(StoreError::Other(
                "the object is empty (not a CipherDrop object)".to_owned(),
            )));
        }
        Err(e) => return Err(classify(e)),
    };
    let etag = out
        .e_tag()
        .map(str::to_owned)
        .ok_or_else(|| CallError::Store(StoreError::Other("GET returned no ETag".to_owned())))?;
    // `bytes 0-4095/123456`: the total after the slash; a store answering the
    // whole (short) object may omit Content-Range.
    let len = out
        .content_range()
        .and_then(|r| r.rsplit_once('/'))
        .and_then(|(_, total)| total.parse::<u64>().ok())
        .or_else(|| out.content_length().and_then(|l| u64::try_from(l).ok()))
        .ok_or_else(|| CallError::Store(StoreError::Other("GET returned no length".to_owned())))?;
    let current = Current {
        etag,
        len,
        first: Vec::new(),
        metadata: out.metadata().cloned().unwrap_or_default(),
        content_type: out.content_type().map(str::to_owned),
        content_encoding: out.content_encoding().map(str::to_owned),
        content_disposition: out.content_disposition().map(str::to_owned),
        content_language: out.content_language().map(str::to_owned),
        cache_control: out.cache_control().map(str::to_owned),
        sse: out.server_side_encryption().cloned(),
        sse_kms_key_id: out.ssekms_key_id().map(str::to_owned),
        bucket_key_enabled: out.bucket_key_enabled(),
        storage_class: out.storage_class().cloned(),
    };
    let first = out
        .body
        .collect()
        .await
        .map_err(|_| CallError::Store(StoreError::Unavailable("GET body broke off".to_owned())))?
        .into_bytes()
        .to_vec();
    Ok(Current { first, ..current })
}

/// Bytes `[start, end)` of the version with `etag`.
async fn ranged_get(
    bucket: Bucket<'_>,
    key: &str,
    etag: &str,
    start: u64,
    end: u64,
) -> Result<Vec<u8>, CallError> {
    let req = bucket
        .client
        .get_object()
        .bucket(bucket.name)
        .key(key)
        .if_match(etag)
        .range(range(start, end));
    let out = with_customer_key!(req, bucket.sse_customer_key, key)
        .send()
        .await
        .map_err(classify)?;
    // A store that ignores If-Match on GET: the ETag still tells.
    if out.e_tag().is_some_and(|e| e != etag) {
        return Err(CallError::Changed);
    }
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|_| CallError::Store(StoreError::Unavailable("GET body broke off".to_owned())))?
        .into_bytes();
    if bytes.len() as u64 != end - start {
        return Err(CallError::Store(StoreError::Other(format!(
            "GET returned {} bytes where {} were asked for",
            bytes.len(),
            end - start
        ))));
    }
    Ok(bytes.to_vec())
}

/// Applies the original's server-side encryption (or the SSE-C key) to a write.
macro_rules! keep_sse {
    ($builder:expr, $current:expr, $bucket:expr, $key:expr) => {{
        let b = $builder
            .set_server_side_encryption($current.sse.clone())
            .set_ssekms_key_id($current.sse_kms_key_id.clone())
            .set_bucket_key_enabled($current.bucket_key_enabled);
        with_customer_key!(b, $bucket.sse_customer_key, $key)
    }};
}

/// Applies the original's metadata and content headers to a write.
macro_rules! keep_metadata {
    ($builder:expr, $current:expr) => {{
        $builder
            .set_metadata(Some($current.metadata.clone()))
            .set_content_type($current.content_type.clone())
            .set_content_encoding($current.content_encoding.clone())
            .set_content_disposition($current.content_disposition.clone())
            .set_content_language($current.content_language.clone())
            .set_cache_control($current.cache_control.clone())
            .set_storage_class($current.storage_class.clone())
    }};
}

async fn put_whole(
    bucket: Bucket<'_>,
    key: &str,
    current: &Current,
    bytes: Vec<u8>,
) -> Result<(), CallError> {
    let req = bucket
        .client
        .put_object()
        .bucket(bucket.name)
        .key(key)
        .if_match(&current.etag)
        .body(ByteStream::from(bytes));
    let req = keep_metadata!(req, current);
    keep_sse!(req, current, bucket, key)
        .send()
        .await
        .map_err(classify)?;
    Ok(())
}

/// Part 1 uploaded, the rest copied from `copy_from` on, then completed; aborted
/// on any failure.
async fn write_multipart(
    bucket: Bucket<'_>,
    key: &str,
    current: &Current,
    part1: Vec<u8>,
    copy_from: u64,
) -> Result<(), CallError> {
    let req = bucket
        .client
        .create_multipart_upload()
        .bucket(bucket.name)
        .key(key);
    let req = keep_metadata!(req, current);
    let out = keep_sse!(req, current, bucket, key)
        .send()
        .await
        .map_err(|e| CallError::Store(map_s3_error(e, StoreError::NotFound)))?;
    let upload_id = out.upload_id().map(str::to_owned).ok_or_else(|| {
        CallError::Store(StoreError::Other(
            "CreateMultipartUpload returned no upload id".to_owned(),
        ))
    })?;
    let result = upload_parts(bucket, key, current, &upload_id, part1, copy_from).await;
    if result.is_err() {
        // Best effort: an upload left behind is removed by the bucket's lifecycle
        // rule for incomplete uploads (README), and is never an object.
        let abort = bucket
            .client
            .abort_multipart_upload()
            .bucket(bucket.name)
            .key(key)
            .upload_id(&upload_id)
            .send()
            .await;
        if abort.is_err() {
            tracing::warn!(%key, "could not abort the multipart upload of a skipped re-wrap");
        }
    }
    result
}

async fn upload_parts(
    bucket: Bucket<'_>,
    key: &str,
    current: &Current,
    upload_id: &str,
    part1: Vec<u8>,
    copy_from: u64,
) -> Result<(), CallError> {
    let store = |e| CallError::Store(map_s3_error(e, StoreError::NoSuchUpload));
    let req = bucket
        .client
        .upload_part()
        .bucket(bucket.name)
        .key(key)
        .upload_id(upload_id)
        .part_number(1)
        .body(ByteStream::from(part1));
    let out = with_customer_key!(req, bucket.sse_customer_key, key)
        .send()
        .await
        .map_err(store)?;
    let mut parts = vec![
        CompletedPart::builder()
            .part_number(1)
            .set_e_tag(out.e_tag().map(str::to_owned))
            .build(),
    ];
    let source = encode_copy_source(bucket.name, key);
    for (i, (start, end)) in copy_ranges(copy_from, current.len).into_iter().enumerate() {
        let number = i32::try_from(i + 2).map_err(|_| {
            CallError::Store(StoreError::Other("more than 10,000 parts".to_owned()))
        })?;
        let req = bucket
            .client
            .upload_part_copy()
            .bucket(bucket.name)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .copy_source(&source)
            .copy_source_if_match(&current.etag)
            .copy_source_range(range(start, end));
        let req = match bucket.sse_customer_key {
            Some(k) => {
                // The source is the same object: its owner's key.
                let h = k.for_object_key(key);
                req.copy_source_sse_customer_algorithm("AES256")
                    .copy_source_sse_customer_key(h.key_b64)
                    .copy_source_sse_customer_key_md5(h.md5_b64)
            }
            None => req,
        };
        let out = with_customer_key!(req, bucket.sse_customer_key, key)
            .send()
            .await
            .map_err(classify)?;
        parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(
                    out.copy_part_result()
                        .and_then(|r| r.e_tag())
                        .map(str::to_owned),
                )
                .build(),
        );
    }
    // For stores that ignore the copy-source condition and If-Match on completion
    // (moto): the object must still be the version read. S3 and the local store
    // check both themselves; this only narrows the window elsewhere.
    let req = bucket.client.head_object().bucket(bucket.name).key(key);
    let head = with_customer_key!(req, bucket.sse_customer_key, key)
        .send()
        .await
        .map_err(classify)?;
    if head.e_tag() != Some(current.etag.as_str()) {
        return Err(CallError::Changed);
    }
    let req = bucket
        .client
        .complete_multipart_upload()
        .bucket(bucket.name)
        .key(key)
        .upload_id(upload_id)
        .if_match(&current.etag)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        );
    match with_customer_key!(req, bucket.sse_customer_key, key)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        // moto's `<CompleteMultipartUploadResponse>` (see `S3Store::complete_multipart`).
        Err(SdkError::ServiceError(e))
            if e.raw().status().as_u16() == 200 && e.err().code().is_none() =>
        {
            Ok(())
        }
        Err(e) => Err(classify(e)),
    }
}

/// The `UploadPartCopy` ranges covering `[from, to)`: as few as possible, each at
/// most [`MAX_COPY_PART`] and of near-equal size (so each is at least 5 MiB
/// whenever there are several).
fn copy_ranges(from: u64, to: u64) -> Vec<(u64, u64)> {
    let total = to - from;
    let count = total.div_ceil(MAX_COPY_PART).max(1);
    let size = total.div_ceil(count);
    let mut out = Vec::new();
    let mut at = from;
    while at < to {
        let end = (at + size).min(to);
        out.push((at, end));
        at = end;
    }
    out
}

impl S3Store {
    /// [`rewrite_header`] on this store's bucket (with its SSE-C key, if any).
    ///
    /// # Errors
    /// As [`rewrite_header`].
    pub async fn rewrite_header<F, Fut>(
        &self,
        key: &str,
        decide: F,
    ) -> Result<Outcome, RewriteError>
    where
        F: FnOnce(Header) -> Fut + Send,
        Fut: Future<Output = anyhow::Result<Option<Header>>> + Send,
    {
        let sse_customer_key = match &self.sse {
            ServerSideEncryptionMode::CustomerKey(k) => Some(k),
            _ => None,
        };
        let bucket = Bucket {
            client: &self.client,
            name: &self.bucket,
            sse_customer_key,
        };
        rewrite_header(bucket, key, decide).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_ranges_are_whole_bounded_and_large_enough() {
        assert_eq!(copy_ranges(10, 11), [(10, 11)]);
        assert_eq!(copy_ranges(0, 40 << 20), [(0, 40 << 20)]);
        let big = 12 * (1 << 30) + 7;
        let ranges = copy_ranges(100, 100 + big);
        assert_eq!(ranges.len(), 3);
        assert_eq!(ranges.first().map(|r| r.0), Some(100));
        assert_eq!(ranges.last().map(|r| r.1), Some(100 + big));
        for w in ranges.windows(2) {
            assert_eq!(w[0].1, w[1].0);
        }
        for (s, e) in &ranges {
            assert!(e - s <= MAX_COPY_PART && e - s >= MIN_PART_SIZE);
        }
    }

    #[test]
    fn copy_sources_are_encoded() {
        assert_eq!(encode_copy_source("b", "users/a/b"), "b/users/a/b");
        assert_eq!(encode_copy_source("b", "a b+c"), "b/a%20b%2Bc");
    }
}
