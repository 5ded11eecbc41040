//! `cipherdrop rotate` and the header-rewrite primitive (`store::rewrite`) against
//! the local mode's embedded store and moto (S3 + KMS): about 200 objects of mixed
//! sizes, one deleted and one replaced during the run (small and multipart), and a
//! key-service outage in the middle; afterwards every object opens with the new
//! key only, its body bytes are the ones it had, and nothing came back.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

#[path = "api/support.rs"]
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use cipherdrop_core::header::encoded_len;
use cipherdrop_core::{
    ChunkSize, DataKey, EncryptionContext, Header, Keyring as _, Opener, RawAesKeyring, Sealer,
    WrappedKey, X25519Identity,
};
use cipherdrop_server::cli::rotate::{Hook, Report, Rotation, rotate};
use cipherdrop_server::config::BackendArgs;
use cipherdrop_server::keys::kms::KmsKeyService;
use cipherdrop_server::keys::local::LocalKeyService;
use cipherdrop_server::keys::recovery::WithRecovery;
use cipherdrop_server::keys::{GeneratedKey, KeyError, KeyService, object_context};
use cipherdrop_server::serve::{BackendOptions, open_backend};
use cipherdrop_server::store::rewrite::PART_SIZE;
use cipherdrop_server::store::{NAME_METADATA_KEY, S3Store, ServerSideEncryptionMode};
use clap::Parser;
use futures_util::future::BoxFuture;
use sha2::{Digest as _, Sha256};
use support::{Moto, test_bytes};
use tokio::sync::watch;

const MIB: usize = 1 << 20;
const CHUNK: u64 = 64 * 1024;

#[derive(Parser)]
struct BackendCli {
    #[command(flatten)]
    args: BackendArgs,
}

/// A key service that fails `unwrap` and `wrap` with `Unavailable` for the calls
/// numbered `from..to` (an outage in the middle of a run).
#[derive(Debug)]
struct Outage {
    inner: Arc<dyn KeyService>,
    calls: AtomicU64,
    from: u64,
    to: u64,
}

impl Outage {
    fn down(&self) -> bool {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        (self.from..self.to).contains(&n)
    }
}

#[async_trait]
impl KeyService for Outage {
    fn provider_id(&self) -> &str {
        self.inner.provider_id()
    }
    async fn generate(
        &self,
        context: &EncryptionContext,
        len: u64,
    ) -> Result<GeneratedKey, KeyError> {
        self.inner.generate(context, len).await
    }
    async fn unwrap(
        &self,
        wrapped: &[WrappedKey],
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError> {
        if self.down() {
            return Err(KeyError::Unavailable("test outage".to_owned()));
        }
        self.inner.unwrap(wrapped, context).await
    }
    async fn wrap(
        &self,
        data_key: &DataKey,
        context: &EncryptionContext,
    ) -> Result<WrappedKey, KeyError> {
        if self.down() {
            return Err(KeyError::Unavailable("test outage".to_owned()));
        }
        self.inner.wrap(data_key, context).await
    }
    async fn current_key_info(&self) -> Result<Vec<u8>, KeyError> {
        self.inner.current_key_info().await
    }
    async fn check(&self) -> Result<(), KeyError> {
        self.inner.check().await
    }
    fn recovery_recipient(&self) -> Option<&cipherdrop_core::X25519Recipient> {
        self.inner.recovery_recipient()
    }
}

/// One stored object as the test made it.
struct Made {
    plaintext_seed: u8,
    plaintext_len: usize,
    /// SHA-256 of the bytes after the header.
    body_sha: [u8; 32],
}

fn sha(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn hex32(n: u64, salt: u8) -> String {
    format!(
        "{:016x}{:014x}{salt:02x}",
        n.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        n
    )
}

/// Seals `len` bytes of pattern `seed` for `key` under `keys` (plus `extra`
/// recipients), as the browser would.
async fn seal(
    keys: &dyn KeyService,
    key: &str,
    len: usize,
    seed: u8,
    extra: &[&cipherdrop_core::X25519Recipient],
) -> (Vec<u8>, usize) {
    let mut parts = key.split('/').skip(1);
    let (owner, object) = (parts.next().unwrap(), parts.next().unwrap());
    let ctx = object_context(owner, object).unwrap();
    let generated = keys.generate(&ctx, len as u64).await.unwrap();
    let mut wrapped = vec![generated.wrapped];
    for r in extra {
        wrapped.push(r.wrap(&generated.data_key, &ctx).unwrap());
    }
    let sealer = Sealer::new(
        &generated.data_key,
        &ctx,
        &wrapped,
        ChunkSize::from_u64(CHUNK).unwrap(),
        Some(len as u64),
    )
    .unwrap();
    let header_len = sealer.header().len();
    let mut stream = sealer.into_stream();
    let mut out = Vec::with_capacity(len + 4096);
    stream.push(&test_bytes(len, seed), &mut out).unwrap();
    stream.finish(&mut out).unwrap();
    (out, header_len)
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, bytes: Vec<u8>) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/octet-stream")
        .metadata(NAME_METADATA_KEY, format!("bmFtZS{}", key.len()))
        .body(ByteStream::from(bytes))
        .send()
        .await
        .unwrap();
}

async fn get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Option<Vec<u8>> {
    match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => Some(out.body.collect().await.unwrap().into_bytes().to_vec()),
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            assert_eq!(status, Some(404), "GET {key}: {e:?}");
            None
        }
    }
}

/// Plaintext lengths whose ciphertext under a header of `header_len` bytes is
/// `PART_SIZE - 1`, `PART_SIZE` and `PART_SIZE + 1` (around the whole/multipart
/// boundary), when such lengths exist.
fn boundary_lengths(header_len: u64) -> Vec<usize> {
    let ct = |p: u64| {
        cipherdrop_core::Layout::new(header_len, ChunkSize::from_u64(CHUNK).unwrap(), p)
            .unwrap()
            .ciphertext_len()
    };
    let mut out = Vec::new();
    for want in [PART_SIZE - 1, PART_SIZE, PART_SIZE + 1] {
        let mut p = want - header_len - 2000;
        while ct(p) < want {
            p += 1;
        }
        if ct(p) == want {
            out.push(usize::try_from(p).unwrap());
        }
    }
    out
}

/// Everything one scenario needs.
struct Scenario {
    store: S3Store,
    s3: aws_sdk_s3::Client,
    bucket: String,
    /// Makes the objects (the old key).
    old: Arc<dyn KeyService>,
    /// The rotation's key service (new key; opens old too).
    new: Arc<dyn KeyService>,
    /// Opens only what is under the new key.
    new_only: Arc<dyn KeyService>,
    /// Whether old objects carry a recovery entry (to be removed) and the new
    /// target has one (to be added).
    old_recovery: Option<cipherdrop_core::X25519Recipient>,
    /// Length of a raw header under the target (for boundary sizes).
    target_header_len: u64,
    large: usize,
}

async fn run(s: &Scenario) {
    // Objects: edge sizes, the whole/multipart boundary after re-wrapping, a few
    // large ones, and small ones up to about 200.
    let mut sizes = vec![0, 1, 5 * MIB - 1, 5 * MIB, 5 * MIB + 1, s.large];
    sizes.extend(boundary_lengths(s.target_header_len));
    let victims_small = (1000, 1001);
    let victims_large = (1002, 1003);
    let mut made: BTreeMap<String, Made> = BTreeMap::new();
    let mut keys_of = BTreeMap::new();
    let extra: Vec<&cipherdrop_core::X25519Recipient> = s.old_recovery.iter().collect();
    let mut specs: Vec<(u64, usize)> = sizes
        .iter()
        .enumerate()
        .map(|(i, &l)| (i as u64, l))
        .collect();
    for i in 0..(200 - specs.len() as u64 - 4) {
        specs.push((100 + i, usize::try_from((i * 7919) % 20_000).unwrap() + 2));
    }
    specs.extend([
        (victims_small.0, 3000),
        (victims_small.1, 3001),
        (victims_large.0, 5 * MIB + 100),
        (victims_large.1, 5 * MIB + 200),
    ]);
    for (n, len) in &specs {
        let key = format!("users/{}/{}", hex32(n % 7, 0xa0), hex32(*n, 0x0b));
        let seed = u8::try_from(n % 251).unwrap();
        let (bytes, header_len) = seal(s.old.as_ref(), &key, *len, seed, &extra).await;
        made.insert(
            key.clone(),
            Made {
                plaintext_seed: seed,
                plaintext_len: *len,
                body_sha: sha(&bytes[header_len..]),
            },
        );
        put(&s.s3, &s.bucket, &key, bytes).await;
        keys_of.insert(*n, key);
    }
    let total = made.len() as u64;
    assert_eq!(total, 200);

    // Before: the rotation's key service opens old objects (a previous KMS key, an
    // older master key); the new key alone does not.
    let first_key = made.keys().next().unwrap();
    let bytes = get(&s.s3, &s.bucket, first_key).await.unwrap();
    let header = Header::parse(&bytes).unwrap();
    assert!(
        s.new
            .unwrap(header.wrapped_keys(), header.context())
            .await
            .is_ok()
    );
    assert!(
        s.new_only
            .unwrap(header.wrapped_keys(), header.context())
            .await
            .is_err()
    );

    // A dry run changes nothing and names every object.
    let dry = rotate(&Rotation {
        store: &s.store,
        keys: s.new.as_ref(),
        prefix: "users/".to_owned(),
        dry_run: true,
        concurrency: 4,
        progress: false,
        hook: None,
    })
    .await
    .unwrap();
    assert_eq!((dry.seen, dry.rewrapped, dry.uploaded), (total, total, 0));
    assert_eq!(dry.changes.len(), 200);
    assert!(dry.failed.is_empty(), "{:?}", dry.failed);

    // Run 1: victims deleted / replaced after their header was read, and the key
    // service down for a stretch of calls.
    let replaced: Arc<std::sync::Mutex<BTreeMap<String, (u8, usize)>>> = Arc::default();
    let hook: Hook = {
        let s3 = s.s3.clone();
        let bucket = s.bucket.clone();
        let old = Arc::clone(&s.old);
        let delete = [
            keys_of[&victims_small.0].clone(),
            keys_of[&victims_large.0].clone(),
        ];
        let replace = [
            keys_of[&victims_small.1].clone(),
            keys_of[&victims_large.1].clone(),
        ];
        let replaced = Arc::clone(&replaced);
        let extra: Vec<cipherdrop_core::X25519Recipient> = s.old_recovery.iter().copied().collect();
        Arc::new(move |key: String| {
            let (s3, bucket, old, replaced, extra) = (
                s3.clone(),
                bucket.clone(),
                Arc::clone(&old),
                Arc::clone(&replaced),
                extra.clone(),
            );
            let delete = delete.contains(&key);
            // The small one is replaced by a small object, the large one by a large.
            let replace_len = if key == replace[0] {
                Some(77)
            } else if key == replace[1] {
                Some(6 * MIB)
            } else {
                None
            };
            let f: BoxFuture<'static, ()> = Box::pin(async move {
                if delete {
                    s3.delete_object()
                        .bucket(&bucket)
                        .key(&key)
                        .send()
                        .await
                        .unwrap();
                } else if let Some(len) = replace_len {
                    if replaced.lock().unwrap().contains_key(&key) {
                        return;
                    }
                    let extra: Vec<&_> = extra.iter().collect();
                    let (bytes, _) = seal(old.as_ref(), &key, len, 99, &extra).await;
                    put(&s3, &bucket, &key, bytes).await;
                    replaced.lock().unwrap().insert(key, (99, len));
                }
            });
            f
        })
    };
    let outage = Outage {
        inner: Arc::clone(&s.new),
        calls: AtomicU64::new(0),
        from: 60,
        to: 100,
    };
    let first = rotate(&Rotation {
        store: &s.store,
        keys: &outage,
        prefix: "users/".to_owned(),
        dry_run: false,
        concurrency: 4,
        progress: false,
        hook: Some(hook),
    })
    .await
    .unwrap();
    assert_eq!(first.seen, total);
    assert!(!first.failed.is_empty(), "the outage failed some objects");
    for why in first.failed.values() {
        assert!(why.contains("unavailable"), "{why}");
    }
    let victims: Vec<&String> = [victims_small, victims_large]
        .iter()
        .flat_map(|(a, b)| [&keys_of[a], &keys_of[b]])
        .collect();
    // A victim is skipped as changed, or failed in the outage (nothing written
    // either way); nothing else is skipped.
    for v in &victims {
        assert!(
            first
                .skipped
                .get(*v)
                .is_some_and(|w| w.contains("changed while re-wrapping"))
                || first.failed.contains_key(*v),
            "{v}: {:?}",
            first.skipped.get(*v)
        );
    }
    assert!(!first.skipped.is_empty());
    assert!(
        first.skipped.keys().all(|k| victims.contains(&k)),
        "{:?}",
        first.skipped
    );
    assert_eq!(
        first.rewrapped + first.current + (first.failed.len() + first.skipped.len()) as u64,
        total
    );
    assert_eq!(first.current, 0);

    // Run 2 (the key service is back): finishes the rest, the replaced ones
    // included; the deleted ones are gone and not listed.
    let second = rotate(&Rotation {
        store: &s.store,
        keys: s.new.as_ref(),
        prefix: "users/".to_owned(),
        dry_run: false,
        concurrency: 4,
        progress: false,
        hook: None,
    })
    .await
    .unwrap();
    assert!(second.failed.is_empty(), "{:?}", second.failed);
    assert!(second.skipped.is_empty(), "{:?}", second.skipped);
    assert_eq!(second.seen, total - 2);
    assert_eq!(first.rewrapped + second.rewrapped, total - 2);

    // Run 3: nothing left to do, nothing written.
    let third = rotate(&Rotation {
        store: &s.store,
        keys: s.new.as_ref(),
        prefix: "users/".to_owned(),
        dry_run: false,
        concurrency: 4,
        progress: false,
        hook: None,
    })
    .await
    .unwrap();
    assert_eq!(
        (third.seen, third.rewrapped, third.current, third.uploaded),
        (total - 2, 0, total - 2, 0)
    );
    check_bytes_moved(&first, &second);

    // Every object: opens with the new key only, plaintext and body unchanged,
    // metadata kept; the deleted stay deleted, the replaced keep their new content.
    let target = s.new.current_key_info().await.unwrap();
    let replaced = replaced.lock().unwrap().clone();
    for (key, m) in &made {
        let Some(bytes) = get(&s.s3, &s.bucket, key).await else {
            assert!(
                key == &keys_of[&victims_small.0] || key == &keys_of[&victims_large.0],
                "{key} was lost"
            );
            continue;
        };
        assert!(
            key != &keys_of[&victims_small.0] && key != &keys_of[&victims_large.0],
            "{key} was deleted during the run and came back"
        );
        let header = Header::parse(&bytes).unwrap();
        let list = header.wrapped_keys().to_vec();
        let list = list.as_slice();
        assert_eq!(list[0].provider_id, s.new.provider_id(), "{key}");
        assert_eq!(list[0].provider_info, target, "{key}");
        match s.new.recovery_recipient() {
            Some(r) => {
                assert_eq!(list.len(), 2, "{key}");
                assert_eq!(list[1].provider_info, r.as_bytes().to_vec());
            }
            None => assert_eq!(list.len(), 1, "{key}"),
        }
        let (seed, len) = replaced
            .get(key)
            .copied()
            .unwrap_or((m.plaintext_seed, m.plaintext_len));
        if !replaced.contains_key(key) {
            assert_eq!(
                sha(&bytes[header.len()..]),
                m.body_sha,
                "{key}: body changed"
            );
        }
        let data_key = s
            .new_only
            .unwrap(list, header.context())
            .await
            .unwrap_or_else(|e| panic!("{key}: the new key alone does not open it: {e}"));
        let ctx = header.context().clone();
        let body = &bytes[header.len()..];
        let mut stream = Opener::new(header, &data_key, &ctx).unwrap().into_stream();
        let mut out = Vec::new();
        stream.push(body, &mut out).unwrap();
        stream.finish(&mut out).unwrap();
        assert!(out == test_bytes(len, seed), "{key}: plaintext differs");
        let head =
            s.s3.head_object()
                .bucket(&s.bucket)
                .key(key)
                .send()
                .await
                .unwrap();
        assert_eq!(
            head.metadata().and_then(|m| m.get(NAME_METADATA_KEY)),
            Some(&format!("bmFtZS{}", key.len())),
            "{key}: name metadata"
        );
        assert_eq!(head.content_type(), Some("application/octet-stream"));
        // The old key alone no longer opens it.
        assert!(s.old.unwrap(list, &ctx).await.is_err(), "{key}");
    }
}

/// At most one part plus a header went up per object, whatever its size.
fn check_bytes_moved(first: &Report, second: &Report) {
    let rewrapped = first.rewrapped + second.rewrapped;
    let uploaded = first.uploaded + second.uploaded;
    assert!(rewrapped > 0);
    assert!(
        uploaded <= rewrapped * PART_SIZE,
        "uploaded {uploaded} for {rewrapped} objects"
    );
    assert!(
        first.copied + second.copied > 40_000_000 - PART_SIZE,
        "large bodies are copied, not sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotate_local_mode_to_a_new_master_key_adding_a_recovery_recipient() {
    let dir = tempfile::tempdir().unwrap();
    let args = BackendCli::try_parse_from(["x", "--data-dir", dir.path().to_str().unwrap()])
        .unwrap()
        .args;
    let (_stop, shutdown) = watch::channel(false);
    let backend = open_backend(
        &args,
        &BackendOptions {
            local_s3_listen: "127.0.0.1:0".parse().unwrap(),
            origins: Vec::new(),
            cache: None,
            announce_recovery: false,
        },
        shutdown,
    )
    .await
    .unwrap();
    let embedded = backend.embedded.as_ref().unwrap();
    let s3 = cipherdrop_server::serve::local_s3_client(
        &embedded.endpoint_url(),
        &embedded.credentials.access_key,
        &embedded.credentials.secret_key,
    );
    let old = Arc::clone(&backend.keys);
    let name = LocalKeyService::add_master_key(dir.path()).unwrap();
    assert_eq!(name, "cipherdrop-local-master-2");
    let recovery = X25519Identity::generate().unwrap();
    let new: Arc<dyn KeyService> = Arc::new(WithRecovery::new(
        Arc::new(LocalKeyService::load_dir(dir.path()).unwrap()),
        *recovery.recipient(),
    ));
    let new_key: [u8; 32] = std::fs::read(dir.path().join("master-keys/0002.key"))
        .unwrap()
        .try_into()
        .unwrap();
    let new_only: Arc<dyn KeyService> = Arc::new(
        LocalKeyService::from_keyrings(vec![RawAesKeyring::new(name.clone(), new_key)]).unwrap(),
    );
    let target_header_len = header_len_for(&[("raw-aes", name.len(), 60), ("x25519-hpke", 32, 80)]);
    let scenario = Scenario {
        store: backend.s3.clone(),
        s3,
        bucket: backend.s3.bucket().to_owned(),
        old,
        new,
        new_only,
        old_recovery: None,
        target_header_len,
        large: 40_000_000,
    };
    run(&scenario).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotate_on_moto_to_a_new_kms_key_removing_the_recovery_entry() {
    let Some(moto) = Moto::start() else { return };
    let old_key = moto.setup().await;
    let new_key = moto.setup().await;
    let old: Arc<dyn KeyService> = Arc::new(KmsKeyService::new(moto.kms_client(), old_key.clone()));
    let new: Arc<dyn KeyService> = Arc::new(
        KmsKeyService::new(moto.kms_client(), new_key.clone()).with_previous_keys(vec![old_key]),
    );
    let new_only: Arc<dyn KeyService> = Arc::new(KmsKeyService::new(moto.kms_client(), new_key));
    let arn = new.current_key_info().await.unwrap();
    let blob = {
        let ctx = object_context("o", "x").unwrap();
        new.generate(&ctx, 1).await.unwrap().wrapped.blob.len()
    };
    let recovery = X25519Identity::generate().unwrap();
    let scenario = Scenario {
        store: S3Store::new(
            moto.s3_client(),
            moto.bucket.clone(),
            ServerSideEncryptionMode::None,
        ),
        s3: moto.s3_client(),
        bucket: moto.bucket.clone(),
        old,
        new,
        new_only,
        old_recovery: Some(*recovery.recipient()),
        target_header_len: header_len_for(&[("aws-kms", arn.len(), blob)]),
        large: 40_000_000,
    };
    run(&scenario).await;
}

/// The header length of a server object with wrapped keys of these
/// (provider, info length, blob length).
fn header_len_for(entries: &[(&str, usize, usize)]) -> u64 {
    let ctx = object_context(&hex32(0, 0xa0), &hex32(0, 0x0b)).unwrap();
    let wrapped: Vec<WrappedKey> = entries
        .iter()
        .map(|(p, info, blob)| WrappedKey {
            provider_id: (*p).to_owned(),
            provider_info: vec![b'a'; *info],
            blob: vec![1; *blob],
        })
        .collect();
    encoded_len(&ctx, &wrapped).unwrap() as u64
}

/// The primitive refuses a header that is not a re-wrap, and writes nothing.
#[tokio::test]
async fn a_new_header_that_is_not_a_rewrap_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let args = BackendCli::try_parse_from(["x", "--data-dir", dir.path().to_str().unwrap()])
        .unwrap()
        .args;
    let (_stop, shutdown) = watch::channel(false);
    let backend = open_backend(
        &args,
        &BackendOptions {
            local_s3_listen: "127.0.0.1:0".parse().unwrap(),
            origins: Vec::new(),
            cache: None,
            announce_recovery: false,
        },
        shutdown,
    )
    .await
    .unwrap();
    let embedded = backend.embedded.as_ref().unwrap();
    let s3 = cipherdrop_server::serve::local_s3_client(
        &embedded.endpoint_url(),
        &embedded.credentials.access_key,
        &embedded.credentials.secret_key,
    );
    let key = format!("users/{}/{}", hex32(1, 1), hex32(2, 2));
    let other = format!("users/{}/{}", hex32(1, 1), hex32(3, 3));
    let (a, _) = seal(backend.keys.as_ref(), &key, 10, 1, &[]).await;
    let (b, _) = seal(backend.keys.as_ref(), &other, 10, 1, &[]).await;
    put(&s3, backend.s3.bucket(), &key, a.clone()).await;
    let foreign = Header::parse(&b).unwrap();
    let err = backend
        .s3
        .rewrite_header(&key, move |_| async move { Ok(Some(foreign)) })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a re-wrap"), "{err}");
    assert_eq!(get(&s3, backend.s3.bucket(), &key).await.unwrap(), a);
    let missing = backend
        .s3
        .rewrite_header(&other, |h| async move { Ok(Some(h)) })
        .await
        .unwrap_err();
    assert!(missing.to_string().contains("no such object"), "{missing}");
    tokio::time::sleep(Duration::from_millis(1)).await;
}

fn cipherdrop(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cipherdrop"))
        .args(args)
        .env_remove("CIPHERDROP_BUCKET")
        .env_remove("CIPHERDROP_KMS_KEY_ID")
        .env_remove("CIPHERDROP_RECOVERY_RECIPIENT")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The command itself, in the local mode: refuses to share the store with a
/// running server, adds a master key, re-wraps, then finds nothing to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_command_in_the_local_mode() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap().to_owned();
    let args = BackendCli::try_parse_from(["x", "--data-dir", &data_dir])
        .unwrap()
        .args;
    let (stop, shutdown) = watch::channel(false);
    let backend = open_backend(
        &args,
        &BackendOptions {
            local_s3_listen: "127.0.0.1:0".parse().unwrap(),
            origins: Vec::new(),
            cache: None,
            announce_recovery: false,
        },
        shutdown,
    )
    .await
    .unwrap();
    let embedded = backend.embedded.as_ref().unwrap();
    let s3 = cipherdrop_server::serve::local_s3_client(
        &embedded.endpoint_url(),
        &embedded.credentials.access_key,
        &embedded.credentials.secret_key,
    );
    for (n, len) in [(1, 0), (2, 1000), (3, 6 * MIB)] {
        let key = format!("users/{}/{}", hex32(9, 9), hex32(n, 1));
        let (bytes, _) = seal(backend.keys.as_ref(), &key, len, 5, &[]).await;
        put(&s3, backend.s3.bucket(), &key, bytes).await;
    }

    let (ok, _, err) = cipherdrop(&["rotate", "--data-dir", &data_dir]);
    assert!(!ok && err.contains("another cipherdrop process"), "{err}");

    stop.send(true).unwrap();
    let lock = dir.path().join("objects/.cipherdrop.lock");
    let mut free = false;
    for _ in 0..100 {
        if std::fs::File::open(&lock).unwrap().try_lock().is_ok() {
            free = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(free, "the store did not stop");

    let (ok, _, err) = cipherdrop(&[
        "rotate",
        "--data-dir",
        &data_dir,
        "--new-master-key",
        "--dry-run",
    ]);
    assert!(!ok && err.contains("without --dry-run"), "{err}");
    let (ok, out, err) = cipherdrop(&["rotate", "--data-dir", &data_dir, "--dry-run"]);
    assert!(ok, "{err}");
    assert!(
        out.is_empty() && err.contains("3 objects: 0 would re-wrap, 3 already current"),
        "{out}{err}"
    );

    let (ok, _, err) = cipherdrop(&["rotate", "--data-dir", &data_dir, "--new-master-key"]);
    assert!(ok, "{err}");
    assert!(
        err.contains("added the master key cipherdrop-local-master-2"),
        "{err}"
    );
    assert!(
        err.contains("3 objects: 3 re-wrapped, 0 already current, 0 skipped, 0 failed"),
        "{err}"
    );
    assert!(
        !err.contains("X-Amz-Signature") && !err.contains("http://"),
        "{err}"
    );

    let (ok, _, err) = cipherdrop(&["rotate", "--data-dir", &data_dir]);
    assert!(ok, "{err}");
    assert!(
        err.contains("3 objects: 0 re-wrapped, 3 already current"),
        "{err}"
    );

    let recovery = X25519Identity::generate().unwrap().recipient().to_string();
    let (ok, out, err) = cipherdrop(&[
        "rotate",
        "--data-dir",
        &data_dir,
        "--recovery-recipient",
        &recovery,
        "--dry-run",
    ]);
    assert!(ok, "{err}");
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("would re-wrap users/"))
            .count(),
        3,
        "{out}"
    );
    assert!(out.contains(&format!("[raw-aes:cipherdrop-local-master-2] -> [raw-aes:cipherdrop-local-master-2, x25519-hpke:{recovery}]")), "{out}");
}
