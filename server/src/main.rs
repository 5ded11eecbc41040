//! `cipherdrop`: the backend (`serve`) and the offline file commands.

use cipherdrop_server::cli;
use cipherdrop_server::config::{LogFormat, ServeArgs};
use clap::{Parser, Subcommand};

/// CipherDrop: files encrypted in the browser, stored on S3.
#[derive(Debug, Parser)]
#[command(name = "cipherdrop", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Serve(Box<ServeArgs>),
    /// Create a local master key file.
    Keygen(cli::keygen::Args),
    /// Encrypt a file.
    Encrypt(cli::encrypt::Args),
    /// Decrypt a file.
    Decrypt(cli::decrypt::Args),
    /// Show a file's header without decrypting it.
    Inspect(cli::inspect::Args),
    /// Copy a file to S3 encrypting it, or from S3 decrypting it.
    Cp(cli::cp::Args),
    /// Change who can open a file (its wrapped keys) without re-encrypting it.
    Rewrap(cli::rewrap::Args),
    Rotate(Box<cli::rotate::Args>),
}

fn init_tracing(format: LogFormat) {
    use std::io::IsTerminal as _;
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::filter::FilterExt as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
        // Crates that log requests (presigned URLs, SSE-C keys, signatures) below
        // INFO are capped whatever RUST_LOG says (logging.rs).
        .and(cipherdrop_server::logging::secret_guard());
    let layer = tracing_subscriber::fmt::layer()
        // Colours only for a person at a terminal, not in a file or a pipe.
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let layer = match format {
        LogFormat::Text => layer.with_filter(filter).boxed(),
        LogFormat::Json => layer.json().with_filter(filter).boxed(),
    };
    tracing_subscriber::registry().with(layer).init();
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse().command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line a person can act on: the error and its causes, no backtrace.
            eprintln!("cipherdrop: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => {
            init_tracing(args.log_format);
            let args = *args;
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(cipherdrop_server::serve::serve(args))
        }
        Command::Keygen(args) => cli::keygen::run(args),
        Command::Encrypt(args) => cli::encrypt::run(args),
        Command::Decrypt(args) => cli::decrypt::run(args),
        Command::Inspect(args) => cli::inspect::run(args),
        Command::Cp(args) => cli::cp::run(args),
        Command::Rewrap(args) => cli::rewrap::run(args),
        Command::Rotate(args) => cli::rotate::run(*args),
    }
}
