//! Secret files in the data directory (master key, server secret): created once
//! with mode 0600, read back on later starts.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use zeroize::Zeroizing;

/// Reads the secret at `path`, or creates it with `len` random bytes (mode 0600,
/// never overwriting an existing file).
///
/// # Errors
/// When the file cannot be read or created, or its length is not `len`.
pub fn load_or_create(path: &Path, len: usize) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let bytes = Zeroizing::new(bytes);
            if bytes.len() != len {
                bail!(
                    "{} should hold exactly {len} bytes but holds {}; restore the right file or move it away",
                    path.display(),
                    bytes.len()
                );
            }
            Ok(bytes)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = Zeroizing::new(vec![0u8; len]);
            getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options
                .open(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            file.write_all(&bytes)
                .and_then(|()| file.sync_all())
                .with_context(|| format!("cannot write {}", path.display()))?;
            tracing::info!(path = %path.display(), "created a new secret file (mode 0600)");
            Ok(bytes)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Reads a secret file that must exist and hold `len` bytes.
///
/// # Errors
/// When it cannot be read or has the wrong length.
pub fn load_exact(path: &Path, len: usize) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let bytes = Zeroizing::new(
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?,
    );
    if bytes.len() != len {
        bail!(
            "{} should hold exactly {len} bytes but holds {}",
            path.display(),
            bytes.len()
        );
    }
    Ok(bytes)
}
