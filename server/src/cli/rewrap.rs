//! `cipherdrop rewrap`: change who can open a file without re-encrypting it.
//!
//! The file is opened with the usual key options (its data key is unwrapped and
//! checked against the key commitment and the header tag), the wrapped-key list is
//! edited (`--remove`, `--add-*`), and a new header is written with crypto-core's
//! [`Header::rewrap`] (FORMAT.md 4): same message id, commitment, context, chunk
//! size and length, a new list and tag. The body after the header is copied byte
//! for byte, streamed, and every chunk is verified on the way, so a damaged file is
//! refused rather than passed on with new keys. The result replaces the file only
//! once it is complete and synced (a temporary file in the same directory, renamed
//! over it); until then, and on any error, the file is untouched.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use aws_sdk_kms::error::ProvideErrorMetadata as _;
use aws_sdk_kms::primitives::Blob;
use cipherdrop_core::header::PASSPHRASE_ARGON2ID;
use cipherdrop_core::io::read_header;
use cipherdrop_core::keyring::{AWS_KMS, RAW_AES};
use cipherdrop_core::x25519::X25519_HPKE;
use cipherdrop_core::{
    Argon2idParams, DataKey, EncryptionContext, Header, Keyring as _, Opener, PassphraseKeyring,
    RawAesKeyring, WrappedKey, X25519Recipient,
};

use super::cp::S3Url;
use super::decrypt::{decrypt_body, io_to_format};
use super::files::{Input, open_input};
use super::inspect::provider_info_text;
use super::{KeyArgs, default_threads};
use crate::store::rewrite::{Bucket, Outcome, RewriteError, rewrite_header};

/// Arguments of `cipherdrop rewrap`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Only the header changes: the data key is unwrapped with the key \
options (--key-file, --passphrase-file, --identity or --kms-key-id, with the file's --context), \
the list of wrapped keys is edited, and every byte after the header is copied as it is (each \
chunk is verified on the way). Removals happen first, then additions; an added key replaces an \
entry for the same key (a raw-aes name, a KMS key ARN, a recipient, the one passphrase entry).\n\n\
--remove NAME matches: `passphrase` the passphrase-argon2id entry; cdpub1... the \
x25519-hpke entry for that public key; a KMS key ARN, or a key id (the part after key/), the \
aws-kms entry for that key (aliases are not resolved: the header records the key ARN); anything \
else the raw-aes entry whose key name is NAME. PROVIDER:INFO (an entry's provider id and info as \
`cipherdrop inspect` prints them, joined by a colon: raw-aes:passphrase) matches that entry \
only. A NAME that matches nothing, or entries of two providers, is refused.\n\nA file left with no wrapped key is refused. Removing the entry \
that opened the file is allowed, with a warning: only the keys left can open it then.\n\nWithout \
-o the file is replaced in place, atomically (a temporary file beside it, synced, renamed over \
it; its permissions kept); a file that does not open, or is damaged, is left untouched.\n\nAn \
s3://BUCKET/KEY object is re-wrapped inside S3 without being downloaded: its header is read, the \
new header and the body up to 5 MiB are uploaded and the rest is copied by S3 (UploadPartCopy), \
every write conditional on the object's ETag, so an object replaced or deleted meanwhile is left \
as it is. Its body is not read there, so not verified (`cp` down verifies it). --endpoint-url, \
--region and --force-path-style as for `cp`."
)]
pub struct Args {
    #[command(flatten)]
    pub key: KeyArgs,

    /// Add a wrapped key for this master key file (32 bytes, from `cipherdrop
    /// keygen`), named --add-key-name.
    #[arg(long, value_name = "PATH")]
    pub add_key_file: Option<PathBuf>,

    /// Name recorded for the master key of --add-key-file (its raw-aes provider
    /// info); an entry of that name is replaced.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "master",
        requires = "add_key_file"
    )]
    pub add_key_name: String,

    /// Add a wrapped key for the passphrase on this file's first line (Argon2id
    /// with 64 MiB, 3 passes, 1 lane, a fresh salt); it replaces the file's
    /// passphrase entry, if any (a header holds at most one). Not `-`.
    #[arg(long, value_name = "PATH", value_parser = super::parse_passphrase_path)]
    pub add_passphrase_file: Option<PathBuf>,

    /// Add a wrapped key made by AWS KMS `Encrypt` under this key (key id, key ARN,
    /// alias/NAME or alias ARN), with every --context entry as the KMS encryption
    /// context (as `encrypt --kms-key-id` does); repeat for several.
    #[arg(long, value_name = "ID")]
    pub add_kms_key_id: Vec<String>,

    /// Add a wrapped key for this X25519 public key (cdpub1..., from `cipherdrop
    /// keygen --x25519`); repeat for several.
    #[arg(long, value_name = "PUBKEY", value_parser = super::parse_recipient)]
    pub add_recipient: Vec<X25519Recipient>,

    /// Remove the wrapped key(s) NAME matches (see below); repeat for several.
    #[arg(long, value_name = "NAME")]
    pub remove: Vec<String>,

    /// Write the re-wrapped file here instead of replacing FILE.
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,

    /// Replace OUTPUT if it exists (with -o).
    #[arg(long, requires = "output")]
    pub force: bool,

    /// Use path-style S3 URLs for an s3:// FILE (always on when an endpoint URL is
    /// set).
    #[arg(long)]
    pub force_path_style: bool,

    /// Worker threads verifying chunks (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// The encrypted file to re-wrap (- for standard input, with -o), or an
    /// s3://BUCKET/KEY object (re-wrapped in place inside S3).
    pub file: PathBuf,
}

/// Runs `cipherdrop rewrap`.
///
/// # Errors
/// Bad arguments, a file that does not open with the key given, a damaged file, a
/// `--remove` that matches nothing, a list left empty, I/O and KMS failures.
pub fn run(args: Args) -> anyhow::Result<()> {
    let plan = Plan::from_args(&args)?;
    let context = args.key.context()?;
    if let Some(url) = args.file.to_str().and_then(S3Url::parse) {
        let url = url?;
        if args.output.is_some() {
            bail!("-o is for local files: an s3:// object is re-wrapped in place");
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        return rt.block_on(rewrap_object(&args, &plan, &context, &url));
    }
    let in_place = args.output.is_none();
    if in_place && args.file == Path::new("-") {
        bail!("standard input cannot be re-wrapped in place; give -o OUT");
    }
    let mut input = open_input(&args.file)?;
    let name = input.name.clone();
    let what = || format!("cannot re-wrap {name}");
    let header = read_header(&mut input.reader)
        .map_err(io_to_format)
        .with_context(what)?;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (data_key, opened, list) = rt
        .block_on(async {
            let sdk = if args.key.kms_key_id.is_some() || !args.add_kms_key_id.is_empty() {
                Some(args.key.aws.load().await?)
            } else {
                None
            };
            let keys = args.key.key_source_in(sdk.as_ref()).await?;
            let (data_key, opened) = keys.data_key(&header, &context).await?;
            let additions = plan
                .new_entries(&args, &data_key, &context, sdk.as_ref())
                .await?;
            let list = plan.apply(header.wrapped_keys(), additions)?;
            anyhow::Ok((data_key, opened, list))
        })
        .with_context(what)?;
    let new_header = header.rewrap(&data_key, &list).with_context(what)?;
    let opener = Opener::new(header.clone(), &data_key, &context).with_context(what)?;
    drop(data_key);

    let target = match &args.output {
        Some(out) => out.clone(),
        // A symbolic link stays one: the file it points to is replaced.
        None => std::fs::canonicalize(&args.file)
            .with_context(|| format!("cannot resolve {}", args.file.display()))?,
    };
    // The new file replaces its target by a rename, which would replace a device
    // (`/dev/null`) or a named pipe itself: only regular files are targets.
    if let Ok(meta) = std::fs::metadata(&target)
        && !meta.is_file()
    {
        bail!(
            "{} is not a regular file; re-wrap into a file (-o NEW) and use that",
            target.display()
        );
    }
    if !in_place && !args.force && target.exists() {
        bail!(
            "{} already exists; choose another name or pass --force to replace it",
            target.display()
        );
    }
    let threads = args.threads.unwrap_or_else(default_threads).max(1);
    write_rewrapped(&new_header, opener, input, &target, in_place, threads).with_context(what)?;

    report(&header, &new_header, opened, &name);
    Ok(())
}

/// Re-wraps the object at `url` in place with the store's header rewrite
/// ([`rewrite_header`]): the header is read, the new one written with the body
/// bytes of the first part, the rest copied inside S3, every write conditional on
/// the object being the version read. The body is not downloaded, so it is not
/// verified here (`cp` down verifies it).
async fn rewrap_object(
    args: &Args,
    plan: &Plan,
    context: &EncryptionContext,
    url: &S3Url,
) -> anyhow::Result<()> {
    if url.key.is_empty() || url.key.ends_with('/') {
        bail!("{url} names no object");
    }
    let what = || format!("cannot re-wrap {url}");
    let sdk = args.key.aws.load().await?;
    let keys = args.key.key_source_in(Some(&sdk)).await?;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(args.force_path_style || sdk.endpoint_url().is_some())
            .build(),
    );
    let bucket = Bucket {
        client: &s3,
        name: &url.bucket,
        sse_customer_key: None,
    };
    let seen = std::sync::Mutex::new(None);
    let outcome = rewrite_header(bucket, &url.key, |header| async {
        let (data_key, opened) = keys.data_key(&header, context).await?;
        let additions = plan
            .new_entries(args, &data_key, context, Some(&sdk))
            .await?;
        let list = plan.apply(header.wrapped_keys(), additions)?;
        let new = header.rewrap(&data_key, &list)?;
        *seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((header, new.clone(), opened));
        Ok(Some(new))
    })
    .await;
    match outcome {
        Ok(Outcome::Rewritten(moved)) => {
            let seen = seen
                .into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((old, new, opened)) = seen {
                report(&old, &new, opened, &url.to_string());
            }
            eprintln!(
                "{url}: {} bytes sent, {} copied inside S3",
                moved.uploaded, moved.copied
            );
            Ok(())
        }
        Ok(Outcome::Unchanged) => Ok(()),
        Ok(Outcome::Changed) => Err(anyhow::anyhow!(
            "the object was replaced or deleted while it was re-wrapped, so nothing was \
             written; run the command again"
        ))
        .with_context(what),
        Err(RewriteError::NotFound) => Err(anyhow::anyhow!("no such object")).with_context(what),
        Err(RewriteError::Decide(e)) => Err(e).with_context(what),
        Err(e) => Err(anyhow::Error::new(e)).with_context(what),
    }
}

/// Writes `header` and the body of `input` (copied, and verified by `opener`) to a
/// temporary file beside `target`, then syncs it and renames it over `target`.
fn write_rewrapped(
    header: &Header,
    opener: Opener,
    input: Input,
    target: &Path,
    keep_mode: bool,
    threads: usize,
) -> anyhow::Result<()> {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".cipherdrop-")
        .suffix(".partial")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    if keep_mode {
        let mode = std::fs::metadata(target)
            .with_context(|| format!("cannot read {}", target.display()))?
            .permissions();
        tmp.as_file()
            .set_permissions(mode)
            .context("cannot set the new file's permissions")?;
    }
    let mut copy = tmp
        .as_file()
        .try_clone()
        .context("cannot write the output")?;
    copy.write_all(header.as_bytes())
        .context("cannot write the output")?;
    // The body goes to the temporary file exactly as read; the plaintext the
    // verification produces is dropped.
    let mut tee = Input {
        reader: Box::new(Tee {
            inner: input.reader,
            copy,
        }),
        len: input.len,
        file: None,
        name: input.name,
    };
    decrypt_body(opener, &mut tee, &mut io::sink(), threads)?;
    drop(tee);
    tmp.as_file()
        .sync_all()
        .context("cannot write the output")?;
    tmp.persist(target)
        .with_context(|| format!("cannot replace {}", target.display()))?;
    // The rename itself survives a crash only once the directory is synced.
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// A reader that writes every byte it reads to `copy`.
struct Tee {
    inner: Box<dyn Read + Send>,
    copy: File,
}

impl Read for Tee {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.copy.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// What was removed and added, on standard error, and a warning when the entry
/// that opened the file is gone.
fn report(old: &Header, new: &Header, opened: usize, name: &str) {
    let line = |w: &WrappedKey| format!("{} {}", w.provider_id, provider_info_text(w));
    for w in old.wrapped_keys() {
        if !new.wrapped_keys().contains(w) {
            eprintln!("removed: {}", line(w));
        }
    }
    for w in new.wrapped_keys() {
        if !old.wrapped_keys().contains(w) {
            eprintln!("added:   {}", line(w));
        }
    }
    let opener = &old.wrapped_keys()[opened];
    if !new.wrapped_keys().contains(opener) {
        eprintln!(
            "warning: the entry that opened {name} ({}) was removed or replaced: the key you \
             gave may no longer open it; these do: {}",
            line(opener),
            new.wrapped_keys()
                .iter()
                .map(line)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

/// The list edits asked for, checked before the file is opened.
#[derive(Debug)]
struct Plan {
    removals: Vec<String>,
}

impl Plan {
    fn from_args(args: &Args) -> anyhow::Result<Self> {
        if args.remove.is_empty()
            && args.add_key_file.is_none()
            && args.add_passphrase_file.is_none()
            && args.add_kms_key_id.is_empty()
            && args.add_recipient.is_empty()
        {
            bail!(
                "nothing to change: give --add-key-file, --add-passphrase-file, \
                 --add-kms-key-id, --add-recipient or --remove"
            );
        }
        for id in &args.add_kms_key_id {
            crate::keys::kms::refuse_aws_managed_key(id)?;
        }
        Ok(Self {
            removals: args.remove.clone(),
        })
    }

    /// Wraps `data_key` for every key to add.
    async fn new_entries(
        &self,
        args: &Args,
        data_key: &DataKey,
        context: &EncryptionContext,
        sdk: Option<&aws_config::SdkConfig>,
    ) -> anyhow::Result<Vec<WrappedKey>> {
        let mut out = Vec::new();
        if let Some(path) = &args.add_key_file {
            let bytes = crate::secret_file::load_exact(path, 32)
                .with_context(|| format!("cannot use the key file {}", path.display()))?;
            let key: [u8; 32] = bytes
                .as_slice()
                .try_into()
                .context("a key file holds 32 bytes")?;
            out.push(RawAesKeyring::new(args.add_key_name.clone(), key).wrap(data_key, context)?);
        }
        if let Some(path) = &args.add_passphrase_file {
            let passphrase = super::read_first_line(path)
                .with_context(|| format!("cannot use the passphrase file {}", path.display()))?;
            let keyring = PassphraseKeyring::new(&passphrase, Argon2idParams::DEFAULT);
            out.push(keyring.wrap(data_key, context)?);
        }
        for r in &args.add_recipient {
            out.push(r.wrap(data_key, context)?);
        }
        if !args.add_kms_key_id.is_empty() {
            let sdk = sdk.context("the AWS configuration was not loaded")?;
            let client = aws_sdk_kms::Client::new(sdk);
            for id in &args.add_kms_key_id {
                out.push(kms_wrap(&client, id, data_key, context).await?);
            }
        }
        Ok(out)
    }

    /// The new list: `old` without what the removals match, then `added` (each
    /// replacing an entry for the same key).
    fn apply(&self, old: &[WrappedKey], added: Vec<WrappedKey>) -> anyhow::Result<Vec<WrappedKey>> {
        let mut gone = Vec::new();
        for name in &self.removals {
            gone.extend(matching(name, old)?);
        }
        let mut list: Vec<WrappedKey> = old
            .iter()
            .enumerate()
            .filter(|(i, _)| !gone.contains(i))
            .map(|(_, w)| w.clone())
            .collect();
        for w in added {
            list.retain(|e| !same_key(e, &w));
            list.push(w);
        }
        if list.is_empty() {
            bail!(
                "this would remove every wrapped key, and nobody could open the file again; \
                 add one (--add-key-file, --add-passphrase-file, --add-kms-key-id, \
                 --add-recipient) or remove fewer"
            );
        }
        Ok(list)
    }
}

/// Two entries for the same key: the same provider and key (the one passphrase
/// entry of a header counts as one key).
fn same_key(a: &WrappedKey, b: &WrappedKey) -> bool {
    a.provider_id == b.provider_id
        && (a.provider_id == PASSPHRASE_ARGON2ID || a.provider_info == b.provider_info)
}

/// The indexes in `list` that `--remove NAME` selects (see the command's help).
///
/// # Errors
/// When it matches nothing, or entries of more than one provider.
fn matching(name: &str, list: &[WrappedKey]) -> anyhow::Result<Vec<usize>> {
    let hits: Vec<usize> = list
        .iter()
        .enumerate()
        .filter(|(_, w)| selects(name, w))
        .map(|(i, _)| i)
        .collect();
    let entries = || {
        list.iter()
            .map(|w| format!("{}:{}", w.provider_id, provider_info_text(w)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some(&first) = hits.first() else {
        bail!(
            "--remove {name} matches no wrapped key of this file (it has: {})",
            entries()
        );
    };
    if hits
        .iter()
        .any(|&i| list[i].provider_id != list[first].provider_id)
    {
        bail!(
            "--remove {name} matches wrapped keys of more than one provider; name one as \
             PROVIDER:INFO (the file has: {})",
            entries()
        );
    }
    Ok(hits)
}

/// Whether `--remove NAME` selects `w`.
fn selects(name: &str, w: &WrappedKey) -> bool {
    let info = provider_info_text(w);
    if let Some(rest) = name
        .strip_prefix(w.provider_id.as_str())
        .and_then(|r| r.strip_prefix(':'))
    {
        return rest == info;
    }
    match w.provider_id.as_str() {
        PASSPHRASE_ARGON2ID => name == "passphrase",
        X25519_HPKE => X25519Recipient::from_text(name)
            .is_ok_and(|r| r.as_bytes().as_slice() == w.provider_info.as_slice()),
        AWS_KMS => {
            info == name
                || info
                    .strip_suffix(name)
                    .is_some_and(|head| head.ends_with(":key/"))
        }
        RAW_AES => info == name,
        _ => false,
    }
}

/// A wrapped key made by KMS `Encrypt` of `data_key` under `key_id`, the whole
/// context as its encryption context (what `decrypt --kms-key-id` sends back).
async fn kms_wrap(
    client: &aws_sdk_kms::Client,
    key_id: &str,
    data_key: &DataKey,
    context: &EncryptionContext,
) -> anyhow::Result<WrappedKey> {
    let kms_context = context
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let out = client
        .encrypt()
        .key_id(key_id)
        .plaintext(Blob::new(data_key.as_bytes().to_vec()))
        .set_encryption_context(Some(kms_context))
        .send()
        .await
        .map_err(|e| {
            let (code, message) = e
                .as_service_error()
                .map_or(("unreachable or failing", ""), |s| {
                    (s.code().unwrap_or("error"), s.message().unwrap_or(""))
                });
            anyhow::anyhow!(
                "KMS could not wrap the data key under {key_id} ({code} {message}); check \
                 --add-kms-key-id, --region and your access to the key"
            )
        })?;
    let blob = out
        .ciphertext_blob()
        .context("KMS Encrypt returned no ciphertext")?;
    let arn = out.key_id().unwrap_or(key_id);
    let wrapped = WrappedKey {
        provider_id: AWS_KMS.to_owned(),
        provider_info: arn.as_bytes().to_vec(),
        blob: blob.as_ref().to_vec(),
    };
    wrapped.validate()?;
    Ok(wrapped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(provider: &str, info: &[u8]) -> WrappedKey {
        WrappedKey {
            provider_id: provider.to_owned(),
            provider_info: info.to_vec(),
            blob: vec![1; 60],
        }
    }

    const ARN: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn list() -> (Vec<WrappedKey>, X25519Recipient) {
        let r = *cipherdrop_core::X25519Identity::from_bytes([7; 32]).recipient();
        (
            vec![
                entry(RAW_AES, b"master"),
                entry(PASSPHRASE_ARGON2ID, b"\x00\x01"),
                entry(AWS_KMS, ARN.as_bytes()),
                entry(X25519_HPKE, r.as_bytes()),
                entry(RAW_AES, b"passphrase"),
            ],
            r,
        )
    }

    #[test]
    fn remove_names_select_as_documented() {
        let (l, r) = list();
        assert_eq!(matching("master", &l).expect("accepted"), [0]);
        assert_eq!(matching(ARN, &l).expect("accepted"), [2]);
        assert_eq!(
            matching("1234abcd-12ab-34cd-56ef-1234567890ab", &l).expect("accepted"),
            [2]
        );
        assert_eq!(matching(&r.to_string(), &l).expect("accepted"), [3]);
        assert_eq!(matching("raw-aes:passphrase", &l).expect("accepted"), [4]);
        assert_eq!(matching("raw-aes:master", &l).expect("accepted"), [0]);
        // `passphrase` is both the passphrase entry and a raw-aes key's name here.
        let e = matching("passphrase", &l).expect_err("refused").to_string();
        assert!(e.contains("more than one provider"), "{e}");
        assert_eq!(matching("passphrase", &l[..4]).expect("accepted"), [1]);
        // Partial names, aliases and other recipients match nothing.
        for miss in [
            "mast",
            "abcd",
            "alias/x",
            "key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ] {
            let e = matching(miss, &l).expect_err("refused").to_string();
            assert!(e.contains("matches no wrapped key"), "{miss}: {e}");
            assert!(e.contains("raw-aes:master"), "{e}");
        }
        let other = *cipherdrop_core::X25519Identity::from_bytes([8; 32]).recipient();
        assert!(matching(&other.to_string(), &l).is_err());
    }

    #[test]
    fn additions_replace_the_same_key_and_an_empty_list_is_refused() {
        let (l, _) = list();
        let plan = Plan {
            removals: vec!["master".into(), "raw-aes:passphrase".into()],
        };
        let mut new_pass = entry(PASSPHRASE_ARGON2ID, b"\x09");
        new_pass.blob = vec![2; 60];
        let mut new_kms = entry(AWS_KMS, ARN.as_bytes());
        new_kms.blob = vec![3; 60];
        let out = plan
            .apply(&l, vec![new_pass.clone(), new_kms.clone()])
            .expect("accepted");
        assert_eq!(out, vec![l[3].clone(), new_pass, new_kms]);

        let all = Plan {
            removals: vec![
                "master".into(),
                "raw-aes:passphrase".into(),
                "passphrase-argon2id:\u{0}\u{1}".into(),
                ARN.into(),
                l[3].provider_id.clone() + ":" + &provider_info_text(&l[3]),
            ],
        };
        let e = all.apply(&l, Vec::new()).expect_err("refused").to_string();
        assert!(e.contains("remove every wrapped key"), "{e}");
    }
}
