//! Inputs and outputs of the file commands: `-` for stdin/stdout, and outputs
//! that appear only when complete (a temporary file renamed at the end).

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use tempfile::NamedTempFile;

/// An opened input and, for a regular file, its length.
pub struct Input {
    /// The bytes.
    pub reader: Box<dyn Read + Send>,
    /// Length when the input is a regular file.
    pub len: Option<u64>,
    /// The same file, for reads at offsets, when it is a regular file.
    pub file: Option<File>,
    /// How to name it in messages.
    pub name: String,
}

/// Opens `path`, or stdin for `-`.
///
/// # Errors
/// When the file cannot be opened.
pub fn open_input(path: &Path) -> anyhow::Result<Input> {
    if path == Path::new("-") {
        return Ok(Input {
            reader: Box::new(io::stdin()),
            len: None,
            file: None,
            name: "standard input".into(),
        });
    }
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let meta = file
        .metadata()
        .with_context(|| format!("cannot read {}", path.display()))?;
    if meta.is_dir() {
        bail!("{} is a directory; give a file", path.display());
    }
    let len = meta.is_file().then_some(meta.len());
    let positional = match len {
        Some(_) => Some(
            file.try_clone()
                .with_context(|| format!("cannot read {}", path.display()))?,
        ),
        None => None,
    };
    Ok(Input {
        reader: Box::new(file),
        len,
        file: positional,
        name: path.display().to_string(),
    })
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input")
            .field("name", &self.name)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// Where output goes: stdout, or a temporary file beside the target that is
/// renamed over it only by [`Output::commit`]. Dropping an uncommitted output
/// deletes the temporary file, so a failed run leaves nothing behind.
#[derive(Debug)]
pub enum Output {
    /// Standard output (written as it comes).
    Stdout(BufWriter<io::Stdout>),
    /// A file that is not a regular file (a device such as `/dev/null`, a named
    /// pipe), written in place: renaming a temporary file over it would replace the
    /// device itself.
    Special(BufWriter<File>),
    /// A temporary file and its final name.
    File {
        /// The temporary file, in the target's directory.
        writer: BufWriter<NamedTempFile>,
        /// The final path.
        target: PathBuf,
    },
}

impl Output {
    /// Prepares the output `path` (`-` for stdout). Refuses to replace an existing
    /// file unless `force`.
    ///
    /// # Errors
    /// When the target exists (without `force`) or its directory is not writable.
    pub fn create(path: &Path, force: bool) -> anyhow::Result<Self> {
        if path == Path::new("-") {
            return Ok(Self::Stdout(BufWriter::with_capacity(
                1 << 20,
                io::stdout(),
            )));
        }
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.is_dir() {
                bail!("{} is a directory; name a file to write", path.display());
            }
            if !meta.is_file() {
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .with_context(|| format!("cannot write to {}", path.display()))?;
                return Ok(Self::Special(BufWriter::with_capacity(1 << 20, f)));
            }
        }
        if !force && path.exists() {
            bail!(
                "{} already exists; choose another name or pass --force to replace it",
                path.display()
            );
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".cipherdrop-")
            .suffix(".partial")
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
        Ok(Self::File {
            writer: BufWriter::with_capacity(1 << 20, tmp),
            target: path.to_path_buf(),
        })
    }

    /// The temporary file, to be written at offsets, while nothing has been written
    /// through [`Write`]; `None` for standard output and special files, which take
    /// their bytes in order.
    pub fn positional(&self) -> Option<&File> {
        match self {
            Self::File { writer, .. } if writer.buffer().is_empty() => {
                Some(writer.get_ref().as_file())
            }
            _ => None,
        }
    }

    /// Makes the output final: flushes, syncs and renames the temporary file.
    ///
    /// # Errors
    /// When writing or renaming fails.
    pub fn commit(self) -> anyhow::Result<()> {
        match self {
            Self::Stdout(mut w) => w.flush().context("cannot write to standard output"),
            Self::Special(mut w) => w.flush().context("cannot write the output"),
            Self::File { writer, target } => {
                let tmp = writer
                    .into_inner()
                    .map_err(|e| e.into_error())
                    .context("cannot write the output")?;
                tmp.as_file()
                    .sync_all()
                    .context("cannot write the output")?;
                tmp.persist(&target)
                    .with_context(|| format!("cannot create {}", target.display()))?;
                Ok(())
            }
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Stdout(w) => w.write(buf),
            Self::Special(w) => w.write(buf),
            Self::File { writer, .. } => writer.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Self::Stdout(w) => w.write_all(buf),
            Self::Special(w) => w.write_all(buf),
            Self::File { writer, .. } => writer.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Stdout(w) => w.flush(),
            Self::Special(w) => w.flush(),
            Self::File { writer, .. } => writer.flush(),
        }
    }
}
