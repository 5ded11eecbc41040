//! `cipherdrop encrypt` (stub: replaced by the real command).

/// Arguments of `cipherdrop encrypt`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `cipherdrop encrypt`.
///
/// # Errors
/// Always, until the command is implemented.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("'cipherdrop encrypt' is not implemented yet")
}
