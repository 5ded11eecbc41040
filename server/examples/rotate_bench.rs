//! Benchmark of `cipherdrop rotate` (docs/BENCHMARKS.md, "Rotation"): fills a
//! store with small and large objects under one key, then re-wraps each group to a
//! new key and prints objects per second and the bytes moved per object.
//!
//! ```sh
//! bench/rotate.sh                      # local mode (embedded store), defaults
//! cargo run --release -p cipherdrop-server --example rotate_bench -- \
//!     [--moto http://127.0.0.1:PORT] [--small N] [--small-size BYTES] \
//!     [--large N] [--large-size BYTES] [--concurrency N]
//! ```
//!
//! With `--moto ENDPOINT` it runs against a moto server already listening there
//! (S3 + KMS: two KMS keys are created), else in the local mode (a temporary data
//! directory, the embedded store, a second local master key). "Uploaded" is what
//! went through the client (new header + part-1 body); "copied" stayed inside the
//! store (`UploadPartCopy`).

#![allow(clippy::unwrap_used, clippy::cast_precision_loss, clippy::print_stdout)]

use std::sync::Arc;
use std::time::Instant;

use aws_sdk_s3::primitives::ByteStream;
use cipherdrop_core::{ChunkSize, Sealer};
use cipherdrop_server::cli::rotate::{Rotation, rotate};
use cipherdrop_server::keys::KeyService;
use cipherdrop_server::keys::kms::KmsKeyService;
use cipherdrop_server::keys::local::LocalKeyService;
use cipherdrop_server::keys::object_context;
use cipherdrop_server::serve::{BackendOptions, local_s3_client, open_backend};
use cipherdrop_server::store::S3Store;
use cipherdrop_server::store::ServerSideEncryptionMode;
use clap::Parser;

#[derive(Parser)]
struct Opts {
    /// moto endpoint (S3 + KMS); default: the local mode.
    #[arg(long)]
    moto: Option<String>,
    #[arg(long, default_value_t = 300)]
    small: u64,
    #[arg(long, default_value_t = 10_000)]
    small_size: usize,
    #[arg(long, default_value_t = 6)]
    large: u64,
    #[arg(long, default_value_t = 64 << 20)]
    large_size: usize,
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
}

async fn fill(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    keys: &dyn KeyService,
    prefix: &str,
    count: u64,
    size: usize,
) {
    let plaintext = vec![7u8; size];
    for n in 0..count {
        let owner = format!("{prefix:0>32}");
        let object = format!("{n:032x}");
        let ctx = object_context(&owner, &object).unwrap();
        let generated = keys.generate(&ctx, size as u64).await.unwrap();
        let sealer = Sealer::new(
            &generated.data_key,
            &ctx,
            &[generated.wrapped],
            ChunkSize::DEFAULT,
            Some(size as u64),
        )
        .unwrap();
        let mut stream = sealer.into_stream();
        let mut out = Vec::with_capacity(size + 65_536);
        stream.push(&plaintext, &mut out).unwrap();
        stream.finish(&mut out).unwrap();
        s3.put_object()
            .bucket(bucket)
            .key(format!("users/{owner}/{object}"))
            .metadata("cd-name", "bmFtZQ==")
            .body(ByteStream::from(out))
            .send()
            .await
            .unwrap();
    }
}

#[tokio::main]
async fn main() {
    let opts = Opts::parse();
    let dir = tempfile::tempdir().unwrap();
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let (store, s3, old, new): (
        S3Store,
        aws_sdk_s3::Client,
        Arc<dyn KeyService>,
        Arc<dyn KeyService>,
    ) = if let Some(endpoint) = &opts.moto {
        let conf = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
                aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "moto"),
            ))
            .endpoint_url(endpoint)
            .build();
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&conf)
                .force_path_style(true)
                .build(),
        );
        let kms = aws_sdk_kms::Client::new(&conf);
        let bucket = format!("rotate-bench-{}", std::process::id());
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        let mut ids = Vec::new();
        for _ in 0..2 {
            let k = kms.create_key().send().await.unwrap();
            ids.push(k.key_metadata().unwrap().key_id().to_owned());
        }
        let old = Arc::new(KmsKeyService::new(kms.clone(), ids[0].clone()));
        let new = Arc::new(
            KmsKeyService::new(kms, ids[1].clone()).with_previous_keys(vec![ids[0].clone()]),
        );
        let store = S3Store::new(s3.clone(), bucket, ServerSideEncryptionMode::None);
        (store, s3, old, new)
    } else {
        let args = cipherdrop_server::config::BackendArgs {
            data_dir: Some(dir.path().to_owned()),
            bucket: None,
            kms_key_id: None,
            kms_previous_key_id: Vec::new(),
            endpoint_url: None,
            region: None,
            force_path_style: false,
            sse: cipherdrop_server::config::SseArg::None,
            sse_kms_key_id: None,
            sse_c_key_file: None,
            recovery_recipient: None,
        };
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
        let e = backend.embedded.as_ref().unwrap();
        let s3 = local_s3_client(
            &e.endpoint_url(),
            &e.credentials.access_key,
            &e.credentials.secret_key,
        );
        LocalKeyService::add_master_key(dir.path()).unwrap();
        let new = Arc::new(LocalKeyService::load_dir(dir.path()).unwrap());
        // The embedded store runs until `_stop` is dropped at the end of main.
        (backend.s3, s3, backend.keys, new)
    };
    let mode = if opts.moto.is_some() { "moto" } else { "local" };
    println!(
        "rotate benchmark ({mode}): {} small objects of {} B, {} large of {} B, concurrency {}",
        opts.small, opts.small_size, opts.large, opts.large_size, opts.concurrency
    );
    println!(
        "| group | objects | object size (B) | s | objects/s | uploaded B/object | downloaded B/object | copied B/object |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (prefix, count, size) in [
        ("a", opts.small, opts.small_size),
        ("b", opts.large, opts.large_size),
    ] {
        fill(&s3, store.bucket(), old.as_ref(), prefix, count, size).await;
        let started = Instant::now();
        let report = rotate(&Rotation {
            store: &store,
            keys: new.as_ref(),
            prefix: format!("users/{prefix:0>32}/"),
            dry_run: false,
            concurrency: opts.concurrency,
            progress: false,
            hook: None,
        })
        .await
        .unwrap();
        let secs = started.elapsed().as_secs_f64();
        assert!(report.failed.is_empty(), "{:?}", report.failed);
        assert_eq!(report.rewrapped, count);
        let per = |b: u64| b / count.max(1);
        println!(
            "| {} | {count} | {size} | {secs:.2} | {:.1} | {} | {} | {} |",
            if prefix == "a" { "small" } else { "large" },
            count as f64 / secs,
            per(report.uploaded),
            per(report.downloaded),
            per(report.copied),
        );
    }
}
