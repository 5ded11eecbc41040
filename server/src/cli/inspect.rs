//! `cipherdrop inspect` (stub: replaced by the real command).

/// Arguments of `cipherdrop inspect`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `cipherdrop inspect`.
///
/// # Errors
/// Always, until the command is implemented.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("'cipherdrop inspect' is not implemented yet")
}
