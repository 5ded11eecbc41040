//! The web page: files from the web directory, or a built-in placeholder.

use std::path::Path;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Html;
use axum::routing::get;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

/// Content-Security-Policy of the page: scripts only from this origin (no inline
/// scripts) plus `'wasm-unsafe-eval'` to compile the package's WebAssembly; frames
/// only from this origin (the hidden iframe through which the download helper, the
/// page's service worker `sw.js`, hands the browser a download) and the page itself
/// never framed; connections only to this origin and to the object store's origins
/// (`store_origins`, CSP source expressions such as `http://127.0.0.1:9000`).
#[must_use]
pub fn page_csp(store_origins: &[String]) -> String {
    let connect: String = store_origins.iter().map(|o| format!(" {o}")).collect();
    format!(
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self'; font-src 'self'; manifest-src 'self'; connect-src 'self'{connect}; \
         worker-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

const PLACEHOLDER: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CipherDrop</title></head>
<body><h1>CipherDrop</h1>
<p>The backend is running. The web page is not installed here: start
<code>cipherdrop serve --web-dir DIR</code> with the built page, or see <code>docs/API.md</code>.</p>
</body></html>
"#;

/// Routes for the page: `dir` when given (with `index.html`), else the placeholder.
///
/// The API router owns the fallback (a JSON `no_route`), and axum cannot merge two
/// routers that both have one, so the page is routed explicitly: `/` is
/// `index.html`, and each entry at the top of `dir` (read once, at start) gets a
/// route: a file its own, a directory (Vite's `assets/`) everything beneath it.
pub fn router(dir: Option<&Path>, store_origins: &[String]) -> Router {
    // Origins come from configuration we parsed; a value a header cannot carry
    // falls back to the page's own origin only.
    let csp = HeaderValue::from_str(&page_csp(store_origins))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; connect-src 'self'; frame-src 'self'; frame-ancestors 'none'"));
    let router = match dir {
        Some(dir) => {
            let index = dir.join("index.html");
            let mut router = Router::new().route_service("/", ServeFile::new(&index));
            let entries = std::fs::read_dir(dir).into_iter().flatten().flatten();
            for entry in entries {
                let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                // Names a route pattern would misread, and hidden files, are not served.
                if name.starts_with('.') || name.contains(['{', '}', '*', ':']) {
                    continue;
                }
                let path = entry.path();
                if path.is_dir() {
                    router = router.nest_service(&format!("/{name}"), ServeDir::new(path));
                } else if path.is_file() {
                    router = router.route_service(&format!("/{name}"), ServeFile::new(path));
                }
            }
            router
        }
        None => Router::new().route("/", get(|| async { Html(PLACEHOLDER) })),
    };
    router
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            csp,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_may_connect_only_to_itself_and_the_store() {
        let csp = page_csp(&["http://127.0.0.1:9000".to_owned()]);
        assert!(
            csp.contains("connect-src 'self' http://127.0.0.1:9000;"),
            "{csp}"
        );
        assert!(!csp.contains("https:"), "{csp}");
        assert!(
            csp.contains("script-src 'self' 'wasm-unsafe-eval';"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{csp}");
    }

    #[test]
    fn the_page_may_frame_only_itself_and_is_framed_by_nobody() {
        let csp = page_csp(&[]);
        assert!(csp.contains("frame-src 'self';"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("worker-src 'self';"), "{csp}");
        assert!(csp.starts_with("default-src 'none';"), "{csp}");
    }
}
