//! `cipherdrop encrypt`: a file (or stdin) into a CipherDrop file.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use cipherdrop_core::sizes::TAG_LEN;
use cipherdrop_core::{ChunkSize, Keyring as _, Sealer, X25519Recipient};

use cipherdrop_core::io::read_up_to;

use super::files::{Input, Output, open_input};
use super::parallel::{batch_chunks, seal_batch, seal_file};
use super::{KeyArgs, default_threads, parse_size};

/// Arguments of `cipherdrop encrypt`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "A fresh data key encrypts each file: random and wrapped by the master key \
(--key-file) or by a key stretched from a passphrase with Argon2id (--passphrase-file), or made \
and wrapped by KMS GenerateDataKey (--kms-key-id, with every --context \
entry as the KMS encryption context), or wrapped to an X25519 identity's own public key \
(--identity). Each --recipient adds one more wrapped copy for that public key (x25519-hpke), \
which its private key alone opens: `cipherdrop decrypt --identity`. The output appears only once it is complete. Use - for \
standard input or output."
)]
pub struct Args {
    #[command(flatten)]
    pub key: KeyArgs,

    /// Also wrap the data key to this X25519 public key (cdpub1..., from
    /// `cipherdrop keygen --x25519`), besides the key above; repeat for several.
    #[arg(long, value_name = "PUBKEY", value_parser = super::parse_recipient)]
    pub recipient: Vec<X25519Recipient>,

    /// Plaintext bytes per chunk: a power of two from 4K to 16M (K, M, G are binary:
    /// KiB, MiB, GiB).
    #[arg(long, value_name = "BYTES", value_parser = parse_size, default_value = "256K")]
    pub chunk_size: u64,

    /// Worker threads for regular files (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// Replace OUTPUT if it exists.
    #[arg(long)]
    pub force: bool,

    /// File to encrypt, or - for standard input.
    pub input: PathBuf,

    /// Where to write the encrypted file, or - for standard output.
    pub output: PathBuf,
}

/// Runs `cipherdrop encrypt`.
///
/// # Errors
/// Bad arguments, unreadable input, unwritable output.
pub fn run(args: Args) -> anyhow::Result<()> {
    let chunk_size = ChunkSize::from_u64(args.chunk_size)?;
    let context = args.key.context()?;
    let mut input = open_input(&args.input)?;
    let mut output = Output::create(&args.output, args.force)?;
    let (data_key, wrapped) = args.key.new_data_key_blocking(&context, input.len)?;
    let mut all = vec![wrapped];
    for r in &args.recipient {
        all.push(r.wrap(&data_key, &context)?);
    }
    let sealer = Sealer::new(&data_key, &context, &all, chunk_size, input.len)?;
    drop(data_key);
    let threads = args.threads.unwrap_or_else(default_threads).max(1);
    let name = input.name.clone();
    let what = || format!("cannot encrypt {name}");
    match (input.len, &input.file, output.positional()) {
        (Some(_), Some(file), Some(out)) => {
            let layout = sealer.layout().context("the length was given")?;
            seal_file(&sealer, &layout, file, out, threads).with_context(what)?;
        }
        (Some(len), _, _) => encrypt_known_length(&sealer, &mut input, len, &mut output, threads)
            .with_context(what)?,
        (None, _, _) => encrypt_stream(sealer, &mut input, &mut output).with_context(what)?,
    }
    output.commit()
}

/// A regular file to a stream (standard output, an upload): its length is recorded
/// and chunks are sealed in parallel, a batch at a time.
pub(crate) fn encrypt_known_length(
    sealer: &Sealer,
    input: &mut Input,
    len: u64,
    output: &mut dyn Write,
    threads: usize,
) -> anyhow::Result<()> {
    let layout = sealer.layout().context("the length was given")?;
    output.write_all(sealer.header().as_bytes())?;
    let cs = usize::try_from(layout.chunk_size().get())?;
    let stride = cs + TAG_LEN;
    let per_batch = batch_chunks(stride, threads);
    let mut buf = vec![0u8; per_batch * stride];
    let mut next = 0u64;
    let mut read_total = 0u64;
    while next < layout.chunk_count() {
        let count = usize::try_from((layout.chunk_count() - next).min(per_batch as u64))?;
        let mut used = 0;
        for i in 0..count {
            let want = usize::try_from(layout.chunk_plaintext_len(next + i as u64)?)?;
            let got = read_up_to(&mut input.reader, &mut buf[i * stride..i * stride + want])?;
            read_total += got as u64;
            if got < want {
                bail!(
                    "the file shrank while it was read ({read_total} of {len} bytes); nothing was written"
                );
            }
            used = i * stride + want + TAG_LEN;
        }
        seal_batch(sealer, &mut buf[..used], stride, next, threads)?;
        output.write_all(&buf[..used])?;
        next += count as u64;
    }
    let mut probe = [0u8; 1];
    if read_up_to(&mut input.reader, &mut probe)? != 0 {
        bail!("the file grew while it was read (more than {len} bytes); nothing was written");
    }
    Ok(())
}

/// Standard input: length unknown, sealed as a stream.
pub(crate) fn encrypt_stream(
    sealer: Sealer,
    input: &mut Input,
    output: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut stream = sealer.into_stream();
    let mut buf = vec![0u8; 1 << 20];
    let mut out = Vec::with_capacity(buf.len() + (1 << 20));
    loop {
        let n = read_up_to(&mut input.reader, &mut buf)?;
        if n == 0 {
            break;
        }
        out.clear();
        stream.push(&buf[..n], &mut out)?;
        output.write_all(&out)?;
    }
    out.clear();
    stream.finish(&mut out)?;
    output.write_all(&out)?;
    Ok(())
}
