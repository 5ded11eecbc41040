//! The file commands: `keygen`, `encrypt`, `decrypt`, `inspect`, and `cp` to and
//! from S3.
//!
//! They read and write the CipherDrop format with `cipherdrop-core`, byte-compatible
//! with the browser. Files are processed chunk by chunk, so memory stays flat
//! whatever the file size; regular files are sealed and opened on every core. Data
//! keys are wrapped by a master key file, a passphrase (Argon2id), an X25519
//! identity (HPKE, `x25519-hpke`) or AWS KMS ([`kms`]), and `encrypt` can add
//! wrapped keys for X25519 recipients (`--recipient`, e.g. a recovery key).

pub mod cp;
pub mod decrypt;
pub mod encrypt;
pub mod files;
pub mod inspect;
pub mod keygen;
pub mod kms;
pub mod parallel;
pub mod rewrap;
pub mod rotate;

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use cipherdrop_core::{
    Argon2idParams, EncryptionContext, PassphraseKeyring, RawAesKeyring, X25519Identity,
    X25519Recipient,
};
use zeroize::Zeroizing;

/// How the data key is protected: shared by `encrypt`, `decrypt` and `cp`.
/// Exactly one of `--key-file`, `--passphrase-file`, `--identity` and `--kms-key-id`.
#[derive(Debug, Clone, clap::Args)]
#[command(group(
    clap::ArgGroup::new("key_source")
        .required(true)
        .args(["key_file", "passphrase_file", "identity", "kms_key_id"])
))]
pub struct KeyArgs {
    /// Master key file (32 bytes, made by `cipherdrop keygen`) that wraps the data key.
    #[arg(long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,

    /// File whose first line is a passphrase that wraps the data key (provider
    /// `passphrase-argon2id`, as the browser's passphrase mode: Argon2id with 64 MiB,
    /// 3 passes, 1 lane and a fresh salt per file; decrypting takes the costs from
    /// the file). Not `-`: standard input may be the data.
    #[arg(long, value_name = "PATH", value_parser = parse_passphrase_path)]
    pub passphrase_file: Option<PathBuf>,

    /// X25519 identity file (made by `cipherdrop keygen --x25519`: a CDSECRET1...
    /// line) whose private key opens the file's `x25519-hpke` wrapped key: a
    /// recovery key opens any object the server wrapped to it, with neither the
    /// backend nor KMS. Encrypting with it wraps to its own public key.
    #[arg(long, value_name = "PATH")]
    pub identity: Option<PathBuf>,

    /// AWS KMS key (key id, key ARN, alias/NAME or alias ARN) that makes and unwraps
    /// the data key, with the standard AWS credentials. Every --context entry is
    /// sent to KMS as its encryption context.
    #[arg(long, value_name = "ID")]
    pub kms_key_id: Option<String>,

    /// Name recorded for the master key in the header (provider info of `raw-aes`;
    /// with --key-file).
    #[arg(long, value_name = "NAME", default_value = "master")]
    pub key_name: String,

    /// Encryption context entry bound into the header; repeat for several.
    /// Decrypting needs exactly the same entries.
    #[arg(long = "context", value_name = "KEY=VALUE", value_parser = parse_context_entry)]
    pub context: Vec<(String, String)>,

    #[command(flatten)]
    pub aws: kms::AwsArgs,
}

impl KeyArgs {
    /// Loads the master key of `--key-file`.
    ///
    /// # Errors
    /// When no key file was given, or it cannot be read or is not 32 bytes.
    pub fn keyring(&self) -> anyhow::Result<RawAesKeyring> {
        let path = self.key_file.as_ref().context("this needs --key-file")?;
        let bytes = crate::secret_file::load_exact(path, 32)
            .with_context(|| format!("cannot use the key file {}", path.display()))?;
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .context("a key file holds 32 bytes")?;
        Ok(RawAesKeyring::new(self.key_name.clone(), key))
    }

    /// Loads the passphrase of `--passphrase-file`: its first line, without the line
    /// ending, as bytes. New wraps use the default Argon2id costs.
    ///
    /// # Errors
    /// When no passphrase file was given, or it cannot be read, or its first line is
    /// empty or longer than 64 KiB.
    pub fn passphrase_keyring(&self) -> anyhow::Result<PassphraseKeyring> {
        let path = self
            .passphrase_file
            .as_ref()
            .context("this needs --passphrase-file")?;
        let passphrase = read_first_line(path)
            .with_context(|| format!("cannot use the passphrase file {}", path.display()))?;
        Ok(PassphraseKeyring::new(&passphrase, Argon2idParams::DEFAULT))
    }

    /// Loads the X25519 identity of `--identity`.
    ///
    /// # Errors
    /// When no identity file was given, or it cannot be read or holds no valid key.
    pub fn identity_keyring(&self) -> anyhow::Result<X25519Identity> {
        let path = self.identity.as_ref().context("this needs --identity")?;
        load_identity(path)
            .with_context(|| format!("cannot use the identity file {}", path.display()))
    }

    /// The encryption context from the `--context` entries.
    ///
    /// # Errors
    /// When a key repeats or is over a limit.
    pub fn context(&self) -> anyhow::Result<EncryptionContext> {
        EncryptionContext::from_pairs(self.context.iter().cloned()).context("bad --context")
    }
}

/// Largest identity file read (a few comment lines and one key).
const MAX_IDENTITY_FILE_LEN: u64 = 64 * 1024;

/// Reads an identity file: lines starting with `#` and empty lines are ignored,
/// exactly one `CDSECRET1...` line remains (FORMAT.md 2.5's text form).
///
/// # Errors
/// When it cannot be read, or does not hold exactly one valid private key.
pub fn load_identity(path: &Path) -> anyhow::Result<X25519Identity> {
    let mut text = Zeroizing::new(String::new());
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_IDENTITY_FILE_LEN).read_to_string(&mut text))
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut keys = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let (Some(line), None) = (keys.next(), keys.next()) else {
        bail!(
            "an identity file holds exactly one CDSECRET1... line (made by `cipherdrop keygen --x25519`)"
        );
    };
    X25519Identity::from_text(line).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Parses a recipient's public key (`cdpub1...`) for `--recipient` and
/// `--recovery-recipient`.
///
/// # Errors
/// When it is not a `cdpub1` key with a valid checksum.
pub fn parse_recipient(s: &str) -> Result<X25519Recipient, String> {
    X25519Recipient::from_text(s).map_err(|_| {
        format!(
            "'{s}' is not an X25519 public key (cdpub1..., as `cipherdrop keygen --x25519` prints)"
        )
    })
}

/// Longest passphrase line read from a file.
const MAX_PASSPHRASE_LEN: usize = 64 * 1024;

/// The first line of `path` (up to LF, without a trailing CR), never empty. Reads
/// at most 64 KiB, so pointing at a large file by mistake fails fast.
fn read_first_line(path: &Path) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    // Room for all of it up front: a growing Vec would leave copies behind.
    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_PASSPHRASE_LEN + 1));
    std::fs::File::open(path)
        .and_then(|f| {
            f.take(MAX_PASSPHRASE_LEN as u64 + 1)
                .read_to_end(&mut bytes)
        })
        .with_context(|| format!("cannot read {}", path.display()))?;
    let end = match bytes.iter().position(|&b| b == b'\n') {
        Some(n) => n,
        None if bytes.len() > MAX_PASSPHRASE_LEN => {
            bail!("its first line is longer than 64 KiB (is it the right file?)")
        }
        None => bytes.len(),
    };
    let line = bytes[..end].strip_suffix(b"\r").unwrap_or(&bytes[..end]);
    if line.is_empty() {
        bail!("its first line (the passphrase) is empty");
    }
    Ok(Zeroizing::new(line.to_vec()))
}

fn parse_passphrase_path(s: &str) -> Result<PathBuf, String> {
    if s == "-" {
        return Err(
            "the passphrase cannot come from standard input (it may carry the data); give a file"
                .to_owned(),
        );
    }
    Ok(PathBuf::from(s))
}

fn parse_context_entry(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("'{s}' is not KEY=VALUE")),
    }
}

/// Parses a byte count: `262144`, `256K`, `256KiB`, `1M`, `1MiB`.
///
/// # Errors
/// When it is not a number with an optional K/M/G suffix.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a size (try 262144 or 256K)"))?;
    let mult = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" | "kb" => 1 << 10,
        "m" | "mib" | "mb" => 1 << 20,
        "g" | "gib" | "gb" => 1 << 30,
        _ => return Err(format!("'{s}' has an unknown unit (use K, M or G)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("'{s}' is too large"))
}

/// Number of worker threads to use by default.
#[must_use]
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("262144"), Ok(262_144));
        assert_eq!(parse_size("256K"), Ok(262_144));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert!(parse_size("1X").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn passphrase_is_the_first_line() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let cases: [(&[u8], Option<&[u8]>); 6] = [
            (b"horse battery\nsecond line\n", Some(b"horse battery")),
            (b"crlf\r\n", Some(b"crlf")),
            (b"no newline", Some(b"no newline")),
            (b" spaces kept \n", Some(b" spaces kept ")),
            (b"\nafter an empty line", None),
            (b"", None),
        ];
        for (i, (content, want)) in cases.into_iter().enumerate() {
            let path = dir.path().join(i.to_string());
            std::fs::write(&path, content).expect("writable");
            let got = read_first_line(&path).ok();
            assert_eq!(got.as_deref().map(Vec::as_slice), want, "{content:?}");
        }
        let long = dir.path().join("long");
        std::fs::write(&long, vec![b'a'; MAX_PASSPHRASE_LEN + 1]).expect("writable");
        assert!(read_first_line(&long).is_err());
        assert!(parse_passphrase_path("-").is_err());
    }

    #[test]
    fn identity_files() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let id = X25519Identity::from_bytes([5; 32]);
        let good = format!(
            "# a comment\n# public key: {}\n\n{}\n",
            id.recipient(),
            id.to_text().as_str()
        );
        let path = dir.path().join("id");
        std::fs::write(&path, good).expect("writable");
        let loaded = load_identity(&path).expect("loads");
        assert_eq!(loaded.recipient(), id.recipient());
        for bad in [
            String::new(),
            "# only a comment\n".to_owned(),
            format!("{}\n{}\n", id.to_text().as_str(), id.to_text().as_str()),
            id.recipient().to_string(),
        ] {
            std::fs::write(&path, bad).expect("writable");
            assert!(load_identity(&path).is_err());
        }
        assert!(parse_recipient(&id.recipient().to_string()).is_ok());
        assert!(parse_recipient("cdpub1qqqq").is_err());
    }

    #[test]
    fn context_entries() {
        assert_eq!(parse_context_entry("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert!(parse_context_entry("=x").is_err());
        assert!(parse_context_entry("nothing").is_err());
    }
}
