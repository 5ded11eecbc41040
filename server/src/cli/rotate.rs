//! `cipherdrop rotate`: re-wraps every stored object (or those under a prefix) to
//! the current key provider — the newest local master key, or the current KMS key
//! (`--kms-key-id`) — plus the configured recovery recipient, dropping every other
//! wrapped key. Only headers change ([`crate::store::rewrite`]): the body is
//! copied inside the store, at most one 5 MiB part is uploaded per object.
//!
//! The target list of an object is `[current key]` or, with
//! `--recovery-recipient`, `[current key, recovery recipient]`. An object already
//! exactly on it is skipped without writing, so a run can be repeated or resumed
//! after a failure. Objects deleted or replaced during the run are never brought
//! back or clobbered (they are reported as skipped).

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use cipherdrop_core::x25519::X25519_HPKE;
use cipherdrop_core::{EncryptionContext, Header, Keyring as _, WrappedKey};
use futures_util::StreamExt as _;
use futures_util::future::BoxFuture;
use tokio::sync::watch;

use crate::config::BackendArgs;
use crate::keys::local::LocalKeyService;
use crate::keys::{CONTEXT_OBJECT, CONTEXT_OWNER, KeyService};
use crate::serve::{BackendOptions, open_backend};
use crate::store::rewrite::{Outcome, RewriteError};
use crate::store::{ObjectStore as _, S3Store};

/// Arguments of `cipherdrop rotate`.
#[derive(Debug, clap::Args)]
#[command(
    about = "Re-wrap stored objects to the current key (and recovery recipient), moving only headers",
    long_about = "Re-wrap stored objects to the current key, moving only headers.\n\n\
        Takes the storage and key flags of `cipherdrop serve` (the same environment \
        variables too). Every object under --prefix is opened with any key this backend \
        holds (every local master key; --kms-key-id and each --kms-previous-key-id) and \
        re-wrapped to exactly: the current key (the newest local master key, or \
        --kms-key-id) plus --recovery-recipient when given. Wrapped keys of other keys \
        are dropped — a recovery entry too, when no --recovery-recipient is given. The \
        body is never downloaded: the new header and at most 5 MiB go up, the rest is \
        copied inside S3.",
    after_help = "Objects already on the target are skipped without writing: run it again \
after a failure and it finishes the rest. An object deleted or replaced during the run is \
left as it is (reported as skipped). The exit status is nonzero when any object failed.\n\n\
Local mode: stop `cipherdrop serve` first (the store lives inside it). To retire the local \
master key: `cipherdrop rotate --new-master-key` (adds master-keys/NNNN.key to the data \
directory, then re-wraps to it), then start `serve` again. KMS: run it with the new \
--kms-key-id while `serve` runs with the same --kms-key-id and --kms-previous-key-id OLD."
)]
pub struct Args {
    #[command(flatten)]
    pub backend: BackendArgs,

    /// Only objects whose key starts with this.
    #[arg(long, default_value = "users/")]
    pub prefix: String,

    /// Say what would change, change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Objects re-wrapped at once.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,

    /// Local keyring only: first add a new master key to the data directory
    /// (master-keys/NNNN.key, mode 0600), which becomes the current key.
    #[arg(long)]
    pub new_master_key: bool,
}

/// Called with an object's key after its header was read and before its new
/// header is written: a test seam for changes racing a rotation.
pub type Hook = Arc<dyn Fn(String) -> BoxFuture<'static, ()> + Send + Sync>;

/// One rotation run.
#[derive(Clone)]
pub struct Rotation<'a> {
    /// Where the objects are.
    pub store: &'a S3Store,
    /// Opens and wraps data keys (its recovery recipient, if any, is added).
    pub keys: &'a dyn KeyService,
    /// Only keys starting with this.
    pub prefix: String,
    /// Change nothing.
    pub dry_run: bool,
    /// Objects at once.
    pub concurrency: usize,
    /// Print a progress line on stderr.
    pub progress: bool,
    /// See [`Hook`].
    pub hook: Option<Hook>,
}

impl std::fmt::Debug for Rotation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rotation")
            .field("prefix", &self.prefix)
            .field("dry_run", &self.dry_run)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Objects looked at.
    pub seen: u64,
    /// Objects re-wrapped (with `dry_run`: that would be).
    pub rewrapped: u64,
    /// Objects already on the target.
    pub current: u64,
    /// Objects left alone, by key, with the reason (deleted or replaced meanwhile).
    pub skipped: BTreeMap<String, String>,
    /// Objects that failed, by key, with the reason.
    pub failed: BTreeMap<String, String>,
    /// Bytes uploaded through the client (new headers and part-1 bodies).
    pub uploaded: u64,
    /// Bytes downloaded through the client (headers and part-1 bodies).
    pub downloaded: u64,
    /// Bytes copied inside the store.
    pub copied: u64,
    /// Changes a dry run found, one line per object (`key: -old +new`).
    pub changes: Vec<String>,
    /// Wall time.
    pub elapsed: Duration,
}

/// What happened to one object.
enum Done {
    Rewrapped(crate::store::rewrite::Moved),
    WouldRewrap(String),
    Current,
    Skipped(String),
    Failed(String),
}

/// A short description of a wrapped key (never its blob).
fn describe(w: &WrappedKey) -> String {
    let info = if w.provider_id == X25519_HPKE {
        cipherdrop_core::X25519Recipient::from_bytes(
            w.provider_info.as_slice().try_into().unwrap_or([0; 32]),
        )
        .to_string()
    } else {
        String::from_utf8_lossy(&w.provider_info).into_owned()
    };
    format!("{}:{info}", w.provider_id)
}

/// The target of one object: the current key's entry and the recovery recipient.
struct Target {
    provider_id: String,
    current_info: Vec<u8>,
    recovery: Option<cipherdrop_core::X25519Recipient>,
}

impl Target {
    fn is_current(&self, w: &WrappedKey) -> bool {
        w.provider_id == self.provider_id && w.provider_info == self.current_info
    }

    fn is_recovery(&self, w: &WrappedKey) -> bool {
        self.recovery.as_ref().is_some_and(|r| {
            w.provider_id == X25519_HPKE && w.provider_info.as_slice() == r.as_bytes().as_slice()
        })
    }

    /// Whether `list` is exactly the target (in order: current, recovery).
    fn reached(&self, list: &[WrappedKey]) -> bool {
        match (list, &self.recovery) {
            ([c], None) => self.is_current(c),
            ([c, r], Some(_)) => self.is_current(c) && self.is_recovery(r),
            _ => false,
        }
    }
}

/// Checks that an object under `users/<owner>/<id>` carries that owner and id in
/// its header (a header copied onto another object is not re-wrapped).
fn check_context(key: &str, context: &EncryptionContext) -> Result<(), String> {
    let mut parts = key.split('/');
    if let (Some("users"), Some(owner), Some(object), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
        && (context.get(CONTEXT_OWNER) != Some(owner)
            || context.get(CONTEXT_OBJECT) != Some(object))
    {
        return Err("its header names another owner or object than its key".to_owned());
    }
    Ok(())
}

/// Re-wraps one object (or, in a dry run, says what would change).
async fn rotate_one(r: &Rotation<'_>, target: &Target, key: String) -> Done {
    let plan: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
    let result = r
        .store
        .rewrite_header(&key, |header: Header| {
            let plan = &plan;
            let key = key.clone();
            async move {
                if let Some(hook) = &r.hook {
                    hook(key.clone()).await;
                }
                if target.reached(header.wrapped_keys()) {
                    return Ok(None);
                }
                check_context(&key, header.context()).map_err(anyhow::Error::msg)?;
                let old: Vec<String> = header.wrapped_keys().iter().map(describe).collect();
                if r.dry_run {
                    let mut new = vec![format!(
                        "{}:{}",
                        target.provider_id,
                        String::from_utf8_lossy(&target.current_info)
                    )];
                    if let Some(rec) = &target.recovery {
                        new.push(format!("{X25519_HPKE}:{rec}"));
                    }
                    *plan
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(format!(
                        "{key}: [{}] -> [{}]",
                        old.join(", "),
                        new.join(", ")
                    ));
                    return Ok(None);
                }
                let context = header.context();
                let data_key = r
                    .keys
                    .unwrap(header.wrapped_keys(), context)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot open its data key: {e}"))?;
                // An entry already under the current key is kept as it is (no
                // second KMS call).
                let current = match header.wrapped_keys().iter().find(|w| target.is_current(w)) {
                    Some(w) => w.clone(),
                    None => r
                        .keys
                        .wrap(&data_key, context)
                        .await
                        .map_err(|e| anyhow::anyhow!("cannot wrap its data key: {e}"))?,
                };
                let mut list = vec![current];
                if let Some(rec) = &target.recovery {
                    let entry = match header.wrapped_keys().iter().find(|w| target.is_recovery(w)) {
                        Some(w) => w.clone(),
                        None => rec
                            .wrap(&data_key, context)
                            .context("cannot wrap to the recovery recipient")?,
                    };
                    list.push(entry);
                }
                Ok(Some(header.rewrap(&data_key, &list).context(
                    "its header does not verify with its data key (changed or damaged)",
                )?))
            }
        })
        .await;
    match result {
        Ok(Outcome::Rewritten(moved)) => Done::Rewrapped(moved),
        Ok(Outcome::Unchanged) => match plan
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            Some(change) => Done::WouldRewrap(change),
            None => Done::Current,
        },
        Ok(Outcome::Changed) => Done::Skipped("changed while re-wrapping: skipped".to_owned()),
        Err(RewriteError::NotFound) => Done::Skipped("deleted before it was read".to_owned()),
        Err(e) => Done::Failed(e.to_string()),
    }
}

/// Runs a rotation over every object under `r.prefix`.
///
/// # Errors
/// When the key service cannot name its current key or the listing fails (an
/// object that fails is reported in [`Report::failed`], not here).
pub async fn rotate(r: &Rotation<'_>) -> anyhow::Result<Report> {
    let started = Instant::now();
    let target = Target {
        provider_id: r.keys.provider_id().to_owned(),
        current_info: r
            .keys
            .current_key_info()
            .await
            .map_err(|e| anyhow::anyhow!("cannot learn the current key: {e}"))?,
        recovery: r.keys.recovery_recipient().copied(),
    };
    let report = std::sync::Mutex::new(Report::default());
    let seen = AtomicU64::new(0);
    let (stop_progress, mut stopped) = watch::channel(false);
    let progress = async {
        if !r.progress {
            return;
        }
        let tty = std::io::stderr().is_terminal();
        loop {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(if tty { 1 } else { 10 })) => {}
                _ = stopped.changed() => break,
            }
            let line = {
                let rep = report
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                format!(
                    "rotate: {} seen, {} re-wrapped, {} already current, {} skipped, {} failed",
                    seen.load(Ordering::Relaxed),
                    rep.rewrapped,
                    rep.current,
                    rep.skipped.len(),
                    rep.failed.len()
                )
            };
            if tty {
                eprint!("\r{line}");
            } else {
                eprintln!("{line}");
            }
        }
        if tty {
            eprintln!();
        }
    };
    let work = async {
        let mut continuation = None;
        loop {
            let page = r.store.list(&r.prefix, 1000, continuation.take()).await?;
            let keys: Vec<String> = page.objects.into_iter().map(|o| o.key).collect();
            let mut done = futures_util::stream::iter(keys)
                .map(|key| async {
                    let outcome = rotate_one(r, &target, key.clone()).await;
                    (key, outcome)
                })
                .buffer_unordered(r.concurrency.max(1));
            while let Some((key, outcome)) = done.next().await {
                seen.fetch_add(1, Ordering::Relaxed);
                let mut rep = report
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                rep.seen += 1;
                match outcome {
                    Done::Rewrapped(m) => {
                        rep.rewrapped += 1;
                        rep.uploaded += m.uploaded;
                        rep.downloaded += m.downloaded;
                        rep.copied += m.copied;
                    }
                    Done::WouldRewrap(change) => {
                        rep.rewrapped += 1;
                        rep.changes.push(change);
                    }
                    Done::Current => rep.current += 1,
                    Done::Skipped(why) => {
                        rep.skipped.insert(key, why);
                    }
                    Done::Failed(why) => {
                        rep.failed.insert(key, why);
                    }
                }
            }
            match page.next {
                Some(next) => continuation = Some(next),
                None => break,
            }
        }
        let _ = stop_progress.send(true);
        Ok::<(), crate::store::StoreError>(())
    };
    let (listed, ()) = tokio::join!(work, progress);
    listed.map_err(|e| anyhow::anyhow!("cannot list the objects: {e}"))?;
    let mut report = report
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    report.changes.sort();
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Runs `cipherdrop rotate`.
///
/// # Errors
/// On bad flags, when the store or key service cannot be opened, or when any
/// object failed (after the summary).
pub fn run(args: Args) -> anyhow::Result<()> {
    args.backend.validate()?;
    if args.new_master_key {
        if args.backend.kms_key_id.is_some() {
            bail!("--new-master-key is for the local keyring; with KMS pass the new --kms-key-id");
        }
        if args.dry_run {
            bail!("--new-master-key adds a key: run it without --dry-run");
        }
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run_async(args))
}

async fn run_async(args: Args) -> anyhow::Result<()> {
    if args.new_master_key {
        let data_dir = args.backend.data_dir()?;
        let name = LocalKeyService::add_master_key(&data_dir)?;
        eprintln!(
            "added the master key {name} to {} (back it up with the other keys in the data directory)",
            data_dir.display()
        );
    }
    let (_stop, shutdown) = watch::channel(false);
    let backend = open_backend(
        &args.backend,
        &BackendOptions {
            local_s3_listen: "127.0.0.1:0".parse().expect("a valid address"),
            origins: Vec::new(),
            cache: None,
            announce_recovery: false,
        },
        shutdown,
    )
    .await?;
    let rotation = Rotation {
        store: &backend.s3,
        keys: backend.keys.as_ref(),
        prefix: args.prefix.clone(),
        dry_run: args.dry_run,
        concurrency: usize::from(args.concurrency),
        progress: true,
        hook: None,
    };
    let report = rotate(&rotation).await?;
    for change in &report.changes {
        println!("would re-wrap {change}");
    }
    for (key, why) in &report.skipped {
        eprintln!("skipped {key}: {why}");
    }
    for (key, why) in &report.failed {
        eprintln!("failed {key}: {why}");
    }
    let verb = if args.dry_run {
        "would re-wrap"
    } else {
        "re-wrapped"
    };
    let secs = report.elapsed.as_secs_f64().max(1e-9);
    eprintln!(
        "rotate: {} objects: {} {verb}, {} already current, {} skipped, {} failed; \
         {} bytes uploaded, {} copied inside the store; {:.1} s ({:.1} objects/s)",
        report.seen,
        report.rewrapped,
        report.current,
        report.skipped.len(),
        report.failed.len(),
        report.uploaded,
        report.copied,
        report.elapsed.as_secs_f64(),
        report.seen as f64 / secs,
    );
    if !report.failed.is_empty() {
        bail!(
            "{} objects could not be re-wrapped (listed above); fix the cause and run rotate again: \
             objects already done are skipped",
            report.failed.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    fn entry(provider: &str, info: &[u8]) -> WrappedKey {
        WrappedKey {
            provider_id: provider.to_owned(),
            provider_info: info.to_vec(),
            blob: vec![1; 60],
        }
    }

    #[test]
    fn the_target_is_exactly_current_then_recovery() {
        let rec = cipherdrop_core::X25519Identity::from_bytes([3; 32]);
        let rec = *rec.recipient();
        let cur = entry("raw-aes", b"new");
        let old = entry("raw-aes", b"old");
        let r = entry(X25519_HPKE, rec.as_bytes());
        let plain = Target {
            provider_id: "raw-aes".to_owned(),
            current_info: b"new".to_vec(),
            recovery: None,
        };
        assert!(plain.reached(std::slice::from_ref(&cur)));
        assert!(
            !plain.reached(&[cur.clone(), r.clone()]),
            "a recovery entry is removed"
        );
        assert!(!plain.reached(std::slice::from_ref(&old)));
        assert!(!plain.reached(&[cur.clone(), old.clone()]));
        let with = Target {
            recovery: Some(rec),
            ..plain
        };
        assert!(with.reached(&[cur.clone(), r.clone()]));
        assert!(
            !with.reached(std::slice::from_ref(&cur)),
            "the recovery entry is added"
        );
        assert!(!with.reached(&[r, cur]), "order: current, recovery");
    }

    #[test]
    fn a_header_of_another_object_is_not_rewrapped() {
        let ctx = |o: &str, x: &str| {
            EncryptionContext::from_pairs([(CONTEXT_OBJECT, x), (CONTEXT_OWNER, o)]).expect("valid")
        };
        assert!(check_context("users/a/b", &ctx("a", "b")).is_ok());
        assert!(check_context("users/a/b", &ctx("a", "c")).is_err());
        assert!(check_context("users/a/b", &ctx("z", "b")).is_err());
        // Outside users/<owner>/<id>, the key service's binding decides.
        assert!(check_context("other/x", &ctx("a", "b")).is_ok());
    }

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn flags_are_checked() {
        let parse = |argv: &[&str]| {
            let mut all = vec!["rotate"];
            all.extend_from_slice(argv);
            Cli::try_parse_from(all).map(|c| c.args)
        };
        let a = parse(&["--kms-previous-key-id", "k1"]).expect("parses");
        assert!(a.backend.validate().is_err(), "needs --kms-key-id");
        let a = parse(&[
            "--kms-key-id",
            "k2",
            "--kms-previous-key-id",
            "alias/aws/s3",
        ])
        .expect("parses");
        assert!(
            a.backend.validate().is_err(),
            "AWS managed keys are refused"
        );
        let a = parse(&["--kms-key-id", "k2", "--kms-previous-key-id", "k0,k1"]).expect("parses");
        assert_eq!(a.backend.kms_previous_key_id, ["k0", "k1"]);
        assert!(a.backend.validate().is_ok());
        assert!(parse(&["--concurrency", "0"]).is_err());
        assert!(run(parse(&["--new-master-key", "--dry-run"]).expect("parses")).is_err());
        assert!(run(parse(&["--new-master-key", "--kms-key-id", "k"]).expect("parses")).is_err());
    }
}
