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

/// The built page's file for a share link's recipient (`/s/{share_id}`).
const SHARE_PAGE: &str = "share.html";

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
///
/// A share link's page, `/s/{share_id}`, is `share.html`, answered as it is (no
/// redirect: the link's secret after `#` stays in the address bar, and a browser
/// never sends it). The page's URLs are relative (Vite's `base: './'`, so it can be
/// served under a path prefix): from `/s/<id>` they resolve under `/s/`, so every
/// entry is routed there too (`/s/assets/…`, `/s/sw.js`, whose download helper then
/// has the scope `/s/_download/`).
pub fn router(dir: Option<&Path>, store_origins: &[String]) -> Router {
    // Origins come from configuration we parsed; a value a header cannot carry
    // falls back to the page's own origin only.
    let csp = HeaderValue::from_str(&page_csp(store_origins))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; connect-src 'self'; frame-src 'self'; frame-ancestors 'none'"));
    let router = match dir {
        Some(dir) => {
            let index = dir.join("index.html");
            let mut router = Router::new()
                .route_service("/", ServeFile::new(&index))
                .route_service("/s/{share_id}", ServeFile::new(dir.join(SHARE_PAGE)));
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
                for base in ["", "/s"] {
                    if path.is_dir() {
                        router =
                            router.nest_service(&format!("{base}/{name}"), ServeDir::new(&path));
                    } else if path.is_file() {
                        router =
                            router.route_service(&format!("{base}/{name}"), ServeFile::new(&path));
                    }
                }
            }
            router
        }
        None => Router::new()
            .route("/", get(|| async { Html(PLACEHOLDER) }))
            .route("/s/{share_id}", get(|| async { Html(PLACEHOLDER) })),
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
        // A share link's page must not hand its address to anything it loads or links
        // to (the page says so in a <meta> too; this covers every file served here).
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
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

    async fn get(
        router: &Router,
        uri: &str,
    ) -> (axum::http::StatusCode, axum::http::HeaderMap, String) {
        use tower::ServiceExt as _;
        let res = router
            .clone()
            .oneshot(
                axum::http::Request::get(uri)
                    .body(axum::body::Body::empty())
                    .expect("a valid request"),
            )
            .await
            .expect("the router is infallible");
        let (parts, body) = res.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20)
            .await
            .expect("a small body");
        (
            parts.status,
            parts.headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    #[tokio::test]
    async fn a_share_link_gets_its_page_and_its_assets_without_a_redirect() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::write(dir.path().join("index.html"), "the owner's page").expect("write");
        std::fs::write(dir.path().join("share.html"), "the recipient's page").expect("write");
        std::fs::write(dir.path().join("sw.js"), "// helper").expect("write");
        std::fs::create_dir(dir.path().join("assets")).expect("mkdir");
        std::fs::write(dir.path().join("assets/share-1.js"), "// code").expect("write");
        let router = router(Some(dir.path()), &[]);

        let id = "0123456789abcdef0123456789abcdef";
        let (status, headers, body) = get(&router, &format!("/s/{id}")).await;
        assert_eq!(status, 200);
        assert_eq!(body, "the recipient's page");
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
        assert!(
            headers[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .expect("ascii")
                .starts_with("default-src 'none';")
        );
        // The page's relative URLs, resolved from /s/<id>.
        let (status, _, body) = get(&router, "/s/assets/share-1.js").await;
        assert_eq!(
            (status, body.as_str()),
            (axum::http::StatusCode::OK, "// code")
        );
        let (status, _, body) = get(&router, "/s/sw.js").await;
        assert_eq!(
            (status, body.as_str()),
            (axum::http::StatusCode::OK, "// helper")
        );
        let (status, headers, body) = get(&router, "/").await;
        assert_eq!(
            (status, body.as_str()),
            (axum::http::StatusCode::OK, "the owner's page")
        );
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
    }
}
