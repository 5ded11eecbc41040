//! `std::io` adapters over the push streams (feature `std`).

use std::io::{self, Read, Write};
use std::vec::Vec;

use crate::header::{PREFIX_LEN, header_len_from_prefix};
use crate::{Error, Header, Opener, Sealer, StreamOpener, StreamSealer};

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        Self::new(io::ErrorKind::InvalidData, e)
    }
}

/// The format error inside an `io::Error` from these adapters, if there is one.
#[must_use]
pub fn format_error(e: &io::Error) -> Option<&Error> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<Error>())
}

/// Reads exactly the header from `reader` (nothing past it).
///
/// # Errors
/// I/O errors, and the format's header errors as `InvalidData`
/// ([`Error::Truncated`] when the input ends inside the header).
pub fn read_header<R: Read>(reader: &mut R) -> io::Result<Header> {
    let mut buf = vec_of(PREFIX_LEN);
    let got = read_up_to(reader, &mut buf)?;
    // A short input is judged by what it holds: a foreign file, or a cut one.
    let len = header_len_from_prefix(&buf[..got])?;
    buf.resize(len, 0);
    // The magic is there: input that ends now is a cut file, not a foreign one.
    read_full(reader, &mut buf[PREFIX_LEN..], Error::Truncated)?;
    Ok(Header::parse(&buf)?)
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
///
/// # Errors
/// I/O errors other than `Interrupted`.
pub fn read_up_to<R: Read + ?Sized>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn vec_of(n: usize) -> Vec<u8> {
    std::vec![0u8; n]
}

/// Fills `buf`; input that ends before any byte came is `if_empty`, later `Truncated`.
fn read_full<R: Read>(reader: &mut R, mut buf: &mut [u8], if_empty: Error) -> io::Result<()> {
    let mut got_any = false;
    while !buf.is_empty() {
        match reader.read(buf) {
            Ok(0) => return Err(if got_any { Error::Truncated } else { if_empty }.into()),
            Ok(n) => {
                got_any = true;
                buf = &mut buf[n..];
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Encrypts everything written to it into `inner`. Call [`EncryptingWriter::finish`]:
/// dropping the writer without it leaves a file with no final chunk, which every
/// reader refuses as truncated.
#[derive(Debug)]
pub struct EncryptingWriter<W: Write> {
    stream: StreamSealer,
    inner: W,
    buf: Vec<u8>,
}

impl<W: Write> EncryptingWriter<W> {
    /// Wraps `inner`.
    #[must_use]
    pub fn new(sealer: Sealer, inner: W) -> Self {
        Self {
            stream: sealer.into_stream(),
            inner,
            buf: Vec::new(),
        }
    }

    /// Seals the final chunk, flushes and returns the inner writer.
    ///
    /// # Errors
    /// I/O errors; [`Error::LengthMismatch`] when fewer bytes than declared came.
    pub fn finish(mut self) -> io::Result<W> {
        let mut buf = core::mem::take(&mut self.buf);
        buf.clear();
        self.stream.finish(&mut buf)?;
        self.inner.write_all(&buf)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for EncryptingWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.clear();
        self.stream.push(data, &mut self.buf)?;
        self.inner.write_all(&self.buf)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Reads verified plaintext from a CipherDrop file. `read` returns 0 (end of file)
/// only after the final chunk verified; every failure is an `InvalidData` error
/// carrying the format's [`Error`] (see [`format_error`]). A format error is
/// final: every later `read` returns it again (a caller that retries never sees
/// a clean end of a damaged or truncated file). Errors of the inner reader are
/// passed on as they are and may be retried.
#[derive(Debug)]
pub struct DecryptingReader<R: Read> {
    stream: Option<StreamOpener>,
    inner: R,
    input: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    failed: Option<Error>,
}

impl<R: Read> DecryptingReader<R> {
    /// Reads chunks from `inner`, positioned just after the header that `opener`
    /// verified (see [`read_header`]).
    #[must_use]
    pub fn new(opener: Opener, inner: R) -> Self {
        let cs = usize::try_from(opener.header().chunk_size().sealed()).expect("<= 16 MiB + 16");
        Self {
            stream: Some(opener.into_stream()),
            inner,
            input: vec_of(cs),
            out: Vec::new(),
            pos: 0,
            failed: None,
        }
    }
}

impl<R: Read> Read for DecryptingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = &self.failed {
            return Err(e.clone().into());
        }
        while self.pos == self.out.len() {
            self.out.clear();
            self.pos = 0;
            let Some(stream) = self.stream.as_mut() else {
                return Ok(0);
            };
            let n = match self.inner.read(&mut self.input) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let verified = if n == 0 {
                let stream = self.stream.take().expect("checked above");
                stream.finish(&mut self.out)
            } else {
                stream.push(&self.input[..n], &mut self.out)
            };
            if let Err(e) = verified {
                self.stream = None;
                self.out.clear();
                self.failed = Some(e.clone());
                return Err(e.into());
            }
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
