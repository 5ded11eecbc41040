//! What may reach the log. `RUST_LOG` chooses the level, but some crates log
//! secrets below INFO: the embedded store (s3s) logs whole requests, presigned URLs
//! with their signatures and SSE-C key headers included; the AWS SDK and its signer
//! log requests and canonical requests (SSE-C keys, session tokens) at DEBUG and
//! TRACE; the HTTP stacks under them log headers at TRACE. [`secret_guard`] caps
//! those crates whatever `RUST_LOG` says, so no level prints a secret.

use tracing_subscriber::filter::{LevelFilter, Targets};

/// Crates whose events stay off entirely: s3s logs every refused request as
/// ERROR (the server logs what the store answers itself, in `embedded.rs`).
const SILENCED: &[&str] = &["s3s", "s3s_fs"];

/// Crates capped at INFO: below it they log requests, headers or signing input.
/// Targets match by prefix: `aws_` is every AWS SDK and smithy crate (and the
/// signer, `aws_sigv4`), `hyper` also `hyper_util`.
const CAPPED_AT_INFO: &[&str] = &["aws_", "h2", "hyper", "reqwest"];

/// A filter to combine with the `RUST_LOG` filter (both must let an event through):
/// the crates above never log below INFO (s3s not at all), at any `RUST_LOG`.
pub fn secret_guard() -> Targets {
    let mut t = Targets::new().with_default(LevelFilter::TRACE);
    for target in SILENCED {
        t = t.with_target(*target, LevelFilter::OFF);
    }
    for target in CAPPED_AT_INFO {
        t = t.with_target(*target, LevelFilter::INFO);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::secret_guard;
    use tracing::Level;

    #[test]
    fn secret_prone_crates_are_capped() {
        let g = secret_guard();
        assert!(!g.would_enable("s3s::service", &Level::ERROR));
        assert!(!g.would_enable("s3s_fs", &Level::WARN));
        assert!(!g.would_enable("aws_sigv4::http_request::sign", &Level::DEBUG));
        assert!(!g.would_enable("aws_smithy_runtime::client::orchestrator", &Level::TRACE));
        assert!(g.would_enable("aws_smithy_runtime::client::orchestrator", &Level::INFO));
        assert!(!g.would_enable("hyper::proto::h1::io", &Level::TRACE));
        assert!(g.would_enable("cipherdrop_server::embedded", &Level::DEBUG));
        assert!(g.would_enable("tower_http::trace", &Level::DEBUG));
    }
}
