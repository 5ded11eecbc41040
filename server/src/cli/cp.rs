//! `cipherdrop cp`: copy a file to S3 encrypting it on the way, or from S3
//! decrypting (and verifying) it on the way. Memory stays flat whatever the size.
//!
//! Up: the same sealing loop as `encrypt` writes into a [`PartSink`] that cuts the
//! ciphertext into S3 multipart parts on chunk boundaries (crypto-core's
//! [`Layout::plan_parts`]) and hands each part to an upload task; at most
//! `--parts-in-flight` parts are in memory and on the wire. A file whose
//! ciphertext fits in one part goes up with a single `PUT`. A failed or
//! interrupted upload aborts its multipart upload.
//!
//! Down: one streaming `GET`; the body is read by the same loop as `decrypt`,
//! which verifies every chunk before writing it to a temporary file that is
//! renamed only after the final chunk verified.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use cipherdrop_core::io::read_header;
use cipherdrop_core::sizes::{MAX_PART_SIZE, MIN_PART_SIZE};
use cipherdrop_core::{ChunkSize, EncryptionContext, Keyring as _, Sealer, X25519Recipient};
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::files::{Input, Output, open_input};
use super::kms::KeySource;
use super::{KeyArgs, default_threads, parse_size};

/// Arguments of `cipherdrop cp`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "One of SOURCE and DEST is s3://BUCKET/KEY, the other a local path (- for \
standard input or output). Up, the file is encrypted as by `encrypt` and sent in multipart parts \
of whole chunks (a single PUT when it fits in one part); a failed upload is aborted. Down, every \
chunk is verified before it is written, and a local DEST appears only after the whole object \
verified. An s3:// DEST ending in / gets the file's name; a local DEST that is a directory gets \
the object's name. S3 objects are replaced; local files only with --force. AWS credentials come \
from the standard chain (AWS_PROFILE, AWS_ACCESS_KEY_ID, ~/.aws, SSO, instance roles)."
)]
pub struct Args {
    #[command(flatten)]
    pub key: KeyArgs,

    /// When uploading, also wrap the data key to this X25519 public key (cdpub1...,
    /// from `cipherdrop keygen --x25519`), as `encrypt --recipient` does; repeat for
    /// several. Its private key alone then opens the object (`cp --identity`).
    #[arg(long, value_name = "PUBKEY", value_parser = super::parse_recipient)]
    pub recipient: Vec<X25519Recipient>,

    /// Plaintext bytes per chunk when uploading: a power of two from 4K to 16M
    /// (K, M, G are binary: KiB, MiB, GiB).
    #[arg(long, value_name = "BYTES", value_parser = parse_size, default_value = "256K")]
    pub chunk_size: u64,

    /// Target S3 part size when uploading (5M to 5G, that is 5 MiB to 5 GiB; rounded
    /// to whole chunks).
    #[arg(long, value_name = "BYTES", value_parser = parse_size, default_value = "8M")]
    pub part_size: u64,

    /// Parts being uploaded at once (each is held in memory).
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parts_in_flight: u16,

    /// Worker threads sealing and opening chunks (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// Use path-style S3 URLs (always on when an endpoint URL is set).
    #[arg(long)]
    pub force_path_style: bool,

    /// Replace a local DEST if it exists.
    #[arg(long)]
    pub force: bool,

    /// s3://BUCKET/KEY or a local path (- for standard input).
    pub source: String,

    /// s3://BUCKET/KEY or a local path (- for standard output).
    pub dest: String,
}

/// An `s3://bucket/key` address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    /// The bucket.
    pub bucket: String,
    /// The object key (may be empty or end in `/` for an upload destination).
    pub key: String,
}

impl S3Url {
    /// `Some` for an `s3://` address (`Err` when it has no bucket), `None` otherwise.
    pub(crate) fn parse(s: &str) -> Option<anyhow::Result<Self>> {
        let rest = s.strip_prefix("s3://")?;
        Some(match rest.split_once('/') {
            Some((bucket, key)) if !bucket.is_empty() => Ok(Self {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
            }),
            _ => Err(anyhow::anyhow!("'{s}' is not s3://BUCKET/KEY")),
        })
    }
}

impl fmt::Display for S3Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// Runs `cipherdrop cp`.
///
/// # Errors
/// Bad arguments, AWS configuration or credentials missing, S3 or KMS refusing,
/// unreadable input, a damaged object, an unwritable output.
pub fn run(args: Args) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = rt.block_on(run_async(args));
    // After a failure a blocking task may still wait on a pipe: do not wait for it.
    rt.shutdown_background();
    result
}

async fn run_async(args: Args) -> anyhow::Result<()> {
    let up = match (S3Url::parse(&args.source), S3Url::parse(&args.dest)) {
        (None, Some(dest)) => Direction::Up(dest?),
        (Some(source), None) => Direction::Down(source?),
        (Some(_), Some(_)) => {
            bail!("one of SOURCE and DEST must be a local path (S3 to S3 is not supported)")
        }
        (None, None) => bail!(
            "one of SOURCE and DEST must be s3://BUCKET/KEY (for local files use encrypt/decrypt)"
        ),
    };
    let context = args.key.context()?;
    let threads = args.threads.unwrap_or_else(default_threads).max(1);
    let chunk_size = ChunkSize::from_u64(args.chunk_size).map_err(|_| {
        anyhow::anyhow!("--chunk-size must be a power of two from 4K to 16M (4 KiB to 16 MiB)")
    })?;
    if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&args.part_size) {
        bail!("--part-size must be from 5M to 5G (5 MiB to 5 GiB)");
    }
    let sdk = args.key.aws.load().await?;
    let keys = args.key.key_source_in(Some(&sdk)).await?;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(args.force_path_style || sdk.endpoint_url().is_some())
            .build(),
    );
    match up {
        Direction::Up(dest) => {
            let upload = Upload {
                s3,
                keys,
                recipients: args.recipient,
                context,
                chunk_size,
                part_size: args.part_size,
                in_flight: usize::from(args.parts_in_flight),
                threads,
            };
            upload.run(Path::new(&args.source), dest).await
        }
        Direction::Down(_) if !args.recipient.is_empty() => {
            bail!("--recipient is for uploads (it adds a wrapped key when encrypting)")
        }
        Direction::Down(source) => {
            let to = Path::new(&args.dest);
            download(&s3, keys, &context, source, to, args.force, threads).await
        }
    }
}

enum Direction {
    Up(S3Url),
    Down(S3Url),
}

/// One line for an S3 failure: what was being done and what S3 said.
fn s3_error<E>(what: &str, at: &S3Url, err: SdkError<E, HttpResponse>) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().unwrap_or("error");
            let status = service.raw().status().as_u16();
            match code {
                "NoSuchBucket" => {
                    anyhow::anyhow!(
                        "cannot {what} {at}: the bucket {} does not exist",
                        at.bucket
                    )
                }
                "NoSuchKey" | "NotFound" => anyhow::anyhow!("cannot {what} {at}: no such object"),
                "AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch" => {
                    anyhow::anyhow!(
                        "cannot {what} {at}: S3 denied access ({code}); check the AWS credentials \
                         and the bucket policy"
                    )
                }
                _ => anyhow::anyhow!(
                    "cannot {what} {at}: S3 answered {status} {code}: {}",
                    e.message().unwrap_or("")
                ),
            }
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => anyhow::anyhow!(
            "cannot {what} {at}: S3 is unreachable; check --endpoint-url, --region and the network"
        ),
        _ => anyhow::anyhow!("cannot {what} {at}: {}", DisplayErrorContext(&err)),
    }
}

/// The sealing side stopped sending parts before the last one.
#[derive(Debug, thiserror::Error)]
#[error("the encryption stopped before the last part")]
struct EncryptionStopped;

/// A part of ciphertext on its way to S3.
struct PartMsg {
    number: i32,
    body: Vec<u8>,
    last: bool,
}

/// Where parts are cut.
enum Cuts {
    /// Known length: the part lengths planned on chunk boundaries.
    Planned(Vec<u64>),
    /// Unknown length (a pipe): every part this long but the last.
    Every(u64),
}

/// A [`Write`] for the sealing loop that cuts the ciphertext into parts and sends
/// each to the uploader (blocking while the uploader is busy, which bounds memory).
/// A part is sent only once the next byte shows it is not the last; [`PartSink::finish`]
/// sends the last one.
struct PartSink {
    cuts: Cuts,
    buf: Vec<u8>,
    number: i32,
    tx: mpsc::Sender<PartMsg>,
}

impl PartSink {
    fn current_len(&self) -> Option<usize> {
        match &self.cuts {
            Cuts::Planned(lens) => {
                let i = usize::try_from(self.number - 1).ok()?;
                // The last planned part is sent by `finish`.
                (i + 1 < lens.len()).then(|| usize::try_from(lens[i]).ok())?
            }
            Cuts::Every(n) => usize::try_from(*n).ok(),
        }
    }

    fn send(&mut self, body: Vec<u8>, last: bool) -> io::Result<()> {
        let msg = PartMsg {
            number: self.number,
            body,
            last,
        };
        self.number += 1;
        self.tx
            .blocking_send(msg)
            .map_err(|_| io::Error::other("the upload stopped"))
    }

    fn finish(mut self) -> io::Result<()> {
        let body = std::mem::take(&mut self.buf);
        self.send(body, true)
    }
}

impl Write for PartSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        while let Some(len) = self.current_len() {
            // Unknown length: a full part is sent only once more bytes follow it.
            let ready = match self.cuts {
                Cuts::Planned(_) => self.buf.len() >= len,
                Cuts::Every(_) => self.buf.len() > len,
            };
            if !ready {
                break;
            }
            let rest = self.buf.split_off(len);
            let body = std::mem::replace(&mut self.buf, rest);
            self.send(body, false)?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// An upload: encrypt a local file into an S3 object.
struct Upload {
    s3: aws_sdk_s3::Client,
    keys: KeySource,
    recipients: Vec<X25519Recipient>,
    context: EncryptionContext,
    chunk_size: ChunkSize,
    part_size: u64,
    in_flight: usize,
    threads: usize,
}

impl Upload {
    async fn run(self, source: &Path, mut dest: S3Url) -> anyhow::Result<()> {
        let mut input = open_input(source)?;
        if dest.key.is_empty() || dest.key.ends_with('/') {
            let name = source
                .file_name()
                .filter(|_| input.len.is_some())
                .with_context(|| format!("{dest} needs an object name after the /"))?;
            dest.key.push_str(&name.to_string_lossy());
        }
        let (data_key, wrapped) = self.keys.new_data_key(&self.context, input.len).await?;
        let mut all = vec![wrapped];
        for r in &self.recipients {
            all.push(r.wrap(&data_key, &self.context)?);
        }
        let sealer = Sealer::new(&data_key, &self.context, &all, self.chunk_size, input.len)?;
        drop(data_key);
        let cuts = match sealer.layout() {
            Some(layout) => Cuts::Planned(
                layout
                    .plan_parts(self.part_size)?
                    .iter()
                    .map(cipherdrop_core::Part::len)
                    .collect(),
            ),
            None => Cuts::Every(self.part_size),
        };
        let (tx, rx) = mpsc::channel(1);
        let sink = PartSink {
            cuts,
            buf: Vec::new(),
            number: 1,
            tx,
        };
        let threads = self.threads;
        let name = input.name.clone();
        let sealing = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let mut sink = sink;
            match input.len {
                Some(len) => super::encrypt::encrypt_known_length(
                    &sealer, &mut input, len, &mut sink, threads,
                )?,
                None => super::encrypt::encrypt_stream(sealer, &mut input, &mut sink)?,
            }
            Ok(sink.finish()?)
        });

        let mut upload_id = None;
        let sent = tokio::select! {
            r = self.send_parts(rx, &dest, &mut upload_id) => r,
            () = interrupted() => Err(anyhow::anyhow!("interrupted")),
        };
        let sealed = async {
            sealing
                .await
                .context("the encryption task failed")?
                .with_context(|| format!("cannot encrypt {name}"))
        };
        let result = match sent {
            // The last part was taken: the sealing task has finished.
            Ok(()) => sealed.await,
            // The encryption failing (unreadable input, a file that changed size)
            // is why the parts stopped: report that.
            Err(e) if e.is::<EncryptionStopped>() => sealed.await.and(Err(e)),
            // S3 failed or Ctrl-C: do not wait for the input (a pipe may never end).
            Err(e) => Err(e),
        };
        if result.is_err()
            && let Some(id) = upload_id
        {
            self.abort(&dest, &id).await;
        }
        result
    }

    /// Receives the parts: a single `PUT` when the first is also the last, else a
    /// multipart upload (its id stored in `upload_id` as soon as it exists).
    async fn send_parts(
        &self,
        mut rx: mpsc::Receiver<PartMsg>,
        dest: &S3Url,
        upload_id: &mut Option<String>,
    ) -> anyhow::Result<()> {
        let stopped = || anyhow::Error::new(EncryptionStopped);
        let first = rx.recv().await.ok_or_else(stopped)?;
        if first.last {
            let len = i64::try_from(first.body.len())?;
            self.s3
                .put_object()
                .bucket(&dest.bucket)
                .key(&dest.key)
                .content_type("application/octet-stream")
                .content_length(len)
                .body(ByteStream::from(first.body))
                .send()
                .await
                .map_err(|e| s3_error("upload to", dest, e))?;
            return Ok(());
        }
        let created = self
            .s3
            .create_multipart_upload()
            .bucket(&dest.bucket)
            .key(&dest.key)
            .content_type("application/octet-stream")
            .send()
            .await
            .map_err(|e| s3_error("start a multipart upload to", dest, e))?;
        let id = created
            .upload_id()
            .context("S3 returned no multipart upload id")?
            .to_owned();
        *upload_id = Some(id.clone());

        let mut tasks = JoinSet::new();
        let mut done = Vec::new();
        let mut sent_bytes = 0u64;
        let mut next = Some(first);
        while let Some(part) = next {
            while tasks.len() >= self.in_flight {
                done.push(join_part(&mut tasks).await?);
            }
            let last = part.last;
            sent_bytes += part.body.len() as u64;
            let req = self
                .s3
                .upload_part()
                .bucket(&dest.bucket)
                .key(&dest.key)
                .upload_id(&id)
                .part_number(part.number)
                .content_length(i64::try_from(part.body.len())?)
                .body(ByteStream::from(part.body));
            let (number, at) = (part.number, dest.clone());
            tasks.spawn(async move {
                let out = req
                    .send()
                    .await
                    .map_err(|e| s3_error(&format!("upload part {number} of"), &at, e))?;
                Ok(CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(out.e_tag().map(str::to_owned))
                    .build())
            });
            next = if last {
                None
            } else {
                Some(rx.recv().await.ok_or_else(stopped)?)
            };
        }
        while !tasks.is_empty() {
            done.push(join_part(&mut tasks).await?);
        }
        done.sort_by_key(|p| p.part_number());
        let completed = self
            .s3
            .complete_multipart_upload()
            .bucket(&dest.bucket)
            .key(&dest.key)
            .upload_id(&id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(done))
                    .build(),
            )
            .send()
            .await;
        match completed {
            Ok(_) => Ok(()),
            // moto answers `<CompleteMultipartUploadResponse>` where the SDK expects
            // `…Result`: a 200 without an error code (see store.rs). Check the object
            // instead. (An S3 error inside a 200 carries a code and is not matched.)
            Err(SdkError::ServiceError(e))
                if e.raw().status().as_u16() == 200 && e.err().code().is_none() =>
            {
                self.check_size(dest, sent_bytes).await
            }
            Err(e) => Err(s3_error("complete the upload to", dest, e)),
        }
    }

    /// Checks that `dest` exists with exactly `expected` bytes.
    async fn check_size(&self, dest: &S3Url, expected: u64) -> anyhow::Result<()> {
        let head = self
            .s3
            .head_object()
            .bucket(&dest.bucket)
            .key(&dest.key)
            .send()
            .await
            .map_err(|e| s3_error("check the uploaded object", dest, e))?;
        let size = head.content_length().and_then(|n| u64::try_from(n).ok());
        if size != Some(expected) {
            bail!(
                "the upload to {dest} did not complete: the object has {} bytes, {expected} were sent",
                size.map_or_else(|| "an unknown number of".to_owned(), |n| n.to_string())
            );
        }
        Ok(())
    }

    /// Aborts a multipart upload after a failure (reporting, not failing, if that fails too).
    async fn abort(&self, dest: &S3Url, id: &str) {
        let r = self
            .s3
            .abort_multipart_upload()
            .bucket(&dest.bucket)
            .key(&dest.key)
            .upload_id(id)
            .send()
            .await;
        if let Err(e) = r {
            eprintln!(
                "cipherdrop: {:#}; its parts stay in the bucket until a lifecycle rule removes them",
                s3_error("abort the multipart upload to", dest, e)
            );
        }
    }
}

async fn join_part(
    tasks: &mut JoinSet<anyhow::Result<CompletedPart>>,
) -> anyhow::Result<CompletedPart> {
    match tasks.join_next().await {
        Some(r) => r.context("an upload task failed")?,
        None => bail!("no upload in flight"),
    }
}

/// Resolves on Ctrl-C (never, if signals cannot be watched).
async fn interrupted() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// A streaming S3 body as a blocking [`Read`] (used from a blocking task).
struct BlockingBody {
    handle: Handle,
    stream: ByteStream,
    pending: Vec<u8>,
    at: usize,
}

impl Read for BlockingBody {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.pending.len() {
            match self.handle.block_on(self.stream.next()) {
                None => return Ok(0),
                Some(Ok(bytes)) => {
                    self.pending.clear();
                    self.pending.extend_from_slice(&bytes);
                    self.at = 0;
                }
                Some(Err(e)) => {
                    return Err(io::Error::other(format!(
                        "reading from S3 failed: {}",
                        DisplayErrorContext(&e)
                    )));
                }
            }
        }
        let n = buf.len().min(self.pending.len() - self.at);
        buf[..n].copy_from_slice(&self.pending[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Downloads `source` into `dest`, decrypting and verifying it.
async fn download(
    s3: &aws_sdk_s3::Client,
    keys: KeySource,
    context: &EncryptionContext,
    source: S3Url,
    dest: &Path,
    force: bool,
    threads: usize,
) -> anyhow::Result<()> {
    if source.key.is_empty() || source.key.ends_with('/') {
        bail!("{source} names no object");
    }
    let dest: PathBuf = if dest.is_dir() {
        let name = source.key.rsplit('/').next().unwrap_or(&source.key);
        dest.join(name)
    } else {
        dest.to_path_buf()
    };
    let output = Output::create(&dest, force)?;
    let resp = s3
        .get_object()
        .bucket(&source.bucket)
        .key(&source.key)
        .send()
        .await
        .map_err(|e| s3_error("download", &source, e))?;
    let total = resp
        .content_length()
        .and_then(|n| u64::try_from(n).ok())
        .with_context(|| format!("S3 did not say how long {source} is"))?;
    let input = Input {
        reader: Box::new(BlockingBody {
            handle: Handle::current(),
            stream: resp.body,
            pending: Vec::new(),
            at: 0,
        }),
        len: Some(total),
        file: None,
        name: source.to_string(),
    };
    let context = context.clone();
    let handle = Handle::current();
    tokio::task::spawn_blocking(move || {
        let (mut input, mut output) = (input, output);
        let what = || format!("cannot decrypt {source}");
        let header = read_header(&mut input.reader)
            .map_err(super::decrypt::io_to_format)
            .with_context(what)?;
        let opener = handle
            .block_on(keys.opener(header, &context))
            .with_context(what)?;
        super::decrypt::decrypt_body(opener, &mut input, &mut output, threads)
            .with_context(what)?;
        output.commit()
    })
    .await
    .context("the decryption task failed")?
}
