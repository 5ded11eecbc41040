//! `cipherdrop keygen`: a new 256-bit master key file, or (`--x25519`) an X25519
//! identity whose public key a server or `encrypt --recipient` wraps data keys to.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use cipherdrop_core::X25519Identity;
use zeroize::Zeroizing;

/// Arguments of `cipherdrop keygen`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Keep the key file secret and backed up: without it, files encrypted with it \
cannot be decrypted. The file is created with mode 0600 and never overwritten.\n\n\
With --x25519 the file holds a private key (a CDSECRET1... line, with the public key in a \
comment) and the public key (cdpub1...) is printed on standard output: give it to \
`cipherdrop serve --recovery-recipient` or `cipherdrop encrypt --recipient`, and keep the \
private key offline. `cipherdrop decrypt --identity FILE` opens what was wrapped to it."
)]
pub struct Args {
    /// Where to write the key (32 random bytes; with --x25519 the identity file).
    #[arg(short, long, value_name = "PATH")]
    pub output: PathBuf,

    /// Make an X25519 key pair (provider x25519-hpke, e.g. a recovery key) instead
    /// of a master key.
    #[arg(long)]
    pub x25519: bool,
}

/// Runs `cipherdrop keygen`.
///
/// # Errors
/// When the file exists or cannot be written.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.x25519 {
        let identity = X25519Identity::generate()?;
        let public = identity.recipient().to_string();
        let text = Zeroizing::new(format!(
            "# CipherDrop X25519 identity (x25519-hpke): keep this file secret and offline.\n\
             # public key: {public}\n{}\n",
            identity.to_text().as_str()
        ));
        write_new(&args.output, text.as_bytes())?;
        eprintln!(
            "wrote a new X25519 identity to {} (mode 0600); its public key:",
            args.output.display()
        );
        println!("{public}");
        return Ok(());
    }
    let mut key = Zeroizing::new([0u8; 32]);
    cipherdrop_core::fill_random(key.as_mut_slice())?;
    write_new(&args.output, key.as_slice())?;
    eprintln!(
        "wrote a new 256-bit key to {} (mode 0600)",
        args.output.display()
    );
    Ok(())
}

/// Creates `path` with mode 0600 and writes `bytes`; never overwrites.
fn write_new(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "{} already exists; keygen never overwrites a key (choose another path)",
                path.display()
            )
        } else {
            anyhow::Error::new(e).context(format!("cannot create {}", path.display()))
        }
    })?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}
