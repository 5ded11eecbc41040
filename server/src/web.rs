//! The web page: files from the web directory, or a built-in placeholder.

use std::path::Path;

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use tower_http::services::{ServeDir, ServeFile};

const PLACEHOLDER: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CipherDrop</title></head>
<body><h1>CipherDrop</h1>
<p>The backend is running. The web page is not installed here: start
<code>cipherdrop serve --web-dir DIR</code> with the built page, or see <code>docs/API.md</code>.</p>
</body></html>
"#;

/// Routes for the page: `dir` when given (with `index.html`), else the placeholder.
pub fn router(dir: Option<&Path>) -> Router {
    match dir {
        Some(dir) => {
            let index = dir.join("index.html");
            Router::new()
                .fallback_service(ServeDir::new(dir).not_found_service(ServeFile::new(index)))
        }
        None => Router::new().route("/", get(|| async { Html(PLACEHOLDER) })),
    }
}
