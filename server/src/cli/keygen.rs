//! `cipherdrop keygen` (stub: replaced by the real command).

/// Arguments of `cipherdrop keygen`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `cipherdrop keygen`.
///
/// # Errors
/// Always, until the command is implemented.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("'cipherdrop keygen' is not implemented yet")
}
