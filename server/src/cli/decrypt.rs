//! `cipherdrop decrypt`: a CipherDrop file back to plaintext, verified.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use cipherdrop_core::io::read_header;
use cipherdrop_core::sizes::TAG_LEN;
use cipherdrop_core::{Error, Layout, Opener};

use cipherdrop_core::io::read_up_to;

use super::files::{Input, Output, open_input};
use super::parallel::{batch_chunks, open_batch, open_file};
use super::{KeyArgs, default_threads};

/// Arguments of `cipherdrop decrypt`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Every chunk is verified before it is written. To a file, OUTPUT appears only \
after the whole file verified, so a damaged file leaves nothing behind; to standard output (-), \
output stops at the first chunk that fails."
)]
pub struct Args {
    #[command(flatten)]
    pub key: KeyArgs,

    /// Worker threads for regular files (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// Replace OUTPUT if it exists.
    #[arg(long)]
    pub force: bool,

    /// Encrypted file, or - for standard input.
    pub input: PathBuf,

    /// Where to write the plaintext, or - for standard output.
    pub output: PathBuf,
}

/// Runs `cipherdrop decrypt`.
///
/// # Errors
/// Bad arguments, a wrong key or context, a damaged or truncated file.
pub fn run(args: Args) -> anyhow::Result<()> {
    let context = args.key.context()?;
    let mut input = open_input(&args.input)?;
    let threads = args.threads.unwrap_or_else(default_threads).max(1);
    let name = input.name.clone();
    let what = || format!("cannot decrypt {name}");
    let header = read_header(&mut input.reader)
        .map_err(io_to_format)
        .with_context(what)?;
    let opener = args
        .key
        .opener_blocking(header, &context)
        .with_context(what)?;
    let mut output = Output::create(&args.output, args.force)?;
    match (opener.header().layout(), &input.file, output.positional()) {
        (Some(layout), Some(file), Some(out)) => {
            open_file(&opener, &layout, file, out, threads).with_context(what)?;
        }
        _ => decrypt_body(opener, &mut input, &mut output, threads).with_context(what)?,
    }
    output.commit()
}

/// The chunks after a verified header, judged only by what the header says and
/// the bytes as they come (FORMAT.md 5): the file's length on disk (or an HTTP
/// Content-Length) decides nothing, so a file and a pipe give the same error. A
/// recorded length is opened in parallel; an unrecorded one as a stream.
pub(crate) fn decrypt_body(
    opener: Opener,
    input: &mut Input,
    output: &mut dyn Write,
    threads: usize,
) -> anyhow::Result<()> {
    match opener.header().layout() {
        Some(layout) => decrypt_chunks(&opener, &layout, input, output, threads),
        None => decrypt_stream(opener, input, output),
    }
}

/// The format error inside an I/O error from the header reader, as the error itself.
pub(crate) fn io_to_format(e: std::io::Error) -> anyhow::Error {
    match cipherdrop_core::io::format_error(&e) {
        Some(f) => f.clone().into(),
        None => e.into(),
    }
}

/// Known layout: chunks read at their exact offsets and opened in parallel.
pub(crate) fn decrypt_chunks(
    opener: &Opener,
    layout: &Layout,
    input: &mut Input,
    output: &mut dyn Write,
    threads: usize,
) -> anyhow::Result<()> {
    let cs = usize::try_from(layout.chunk_size().get())?;
    let stride = cs + TAG_LEN;
    let per_batch = batch_chunks(stride, threads);
    let mut buf = vec![0u8; per_batch * stride];
    let mut next = 0u64;
    while next < layout.chunk_count() {
        let count = usize::try_from((layout.chunk_count() - next).min(per_batch as u64))?;
        let want: usize = (0..count)
            .map(|i| {
                layout
                    .chunk_plaintext_len(next + i as u64)
                    .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
            })
            .sum::<Result<usize, _>>()?
            + count * TAG_LEN;
        let got = read_up_to(&mut input.reader, &mut buf[..want])?;
        // Open what arrived; a short read is reported after the chunks before it.
        let open_len = if got < want {
            (got / stride) * stride
        } else {
            want
        };
        let (ok, err) = open_batch(opener, layout, &mut buf[..open_len], stride, next, threads);
        for i in 0..ok {
            let len = usize::try_from(layout.chunk_plaintext_len(next + i as u64)?)?;
            output.write_all(&buf[i * stride..i * stride + len])?;
        }
        if let Some(e) = err {
            return Err(e.into());
        }
        if got < want {
            return Err(Error::Truncated.into());
        }
        next += count as u64;
    }
    let mut probe = [0u8; 1];
    if read_up_to(&mut input.reader, &mut probe)? != 0 {
        return Err(Error::TrailingData.into());
    }
    Ok(())
}

/// Unknown length from a pipe: the push stream, chunk by chunk.
pub(crate) fn decrypt_stream(
    opener: Opener,
    input: &mut Input,
    output: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut stream = opener.into_stream();
    let mut buf = vec![0u8; 1 << 20];
    let mut out = Vec::with_capacity(2 << 20);
    loop {
        let n = read_up_to(&mut input.reader, &mut buf)?;
        if n == 0 {
            break;
        }
        out.clear();
        let r = stream.push(&buf[..n], &mut out);
        output.write_all(&out)?;
        r?;
    }
    out.clear();
    let r = stream.finish(&mut out);
    output.write_all(&out)?;
    Ok(r?)
}
