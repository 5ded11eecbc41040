//! `cipherdrop decrypt` (stub: replaced by the real command).

/// Arguments of `cipherdrop decrypt`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `cipherdrop decrypt`.
///
/// # Errors
/// Always, until the command is implemented.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("'cipherdrop decrypt' is not implemented yet")
}
