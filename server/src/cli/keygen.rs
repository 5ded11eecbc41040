//! `cipherdrop keygen`: a new 256-bit master key file.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use zeroize::Zeroizing;

/// Arguments of `cipherdrop keygen`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Keep the key file secret and backed up: without it, files encrypted with it \
cannot be decrypted. The file is created with mode 0600 and never overwritten."
)]
pub struct Args {
    /// Where to write the key (32 random bytes).
    #[arg(short, long, value_name = "PATH")]
    pub output: PathBuf,
}

/// Runs `cipherdrop keygen`.
///
/// # Errors
/// When the file exists or cannot be written.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut key = Zeroizing::new([0u8; 32]);
    cipherdrop_core::fill_random(key.as_mut_slice())?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let path = &args.output;
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
    file.write_all(key.as_slice())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("wrote a new 256-bit key to {} (mode 0600)", path.display());
    Ok(())
}
