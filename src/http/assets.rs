//! The web client: HTML, CSS and ES modules from `assets/`, embedded in the binary (read
//! from disk in debug builds, so edits show on reload). Every file is served with an ETag
//! made from its content and `Cache-Control: no-cache`, so browsers revalidate cheaply and
//! never run a stale script after an upgrade, and compressed (brotli or gzip, as the browser
//! accepts) when it is text. The ETag is weak: the compressed and plain bodies are the same
//! content, not the same bytes.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::compression::CompressionLayer;

use crate::app::AppState;

#[derive(rust_embed::Embed)]
#[folder = "assets/"]
struct Assets;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        // A room's own address: the same page, which opens that room.
        .route("/r/{room}", get(index))
        .route("/assets/{*path}", get(asset))
        .route("/manifest.webmanifest", get(manifest))
        .route("/sw.js", get(service_worker))
        .layer(CompressionLayer::new().br(true).gzip(true))
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

/// The web app manifest, at the root so it names the whole site as the app.
async fn manifest(headers: HeaderMap) -> Response {
    let mut response = serve("manifest.webmanifest", &headers);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/manifest+json"),
    );
    response
}

/// The service worker, at the root so its scope is the whole site.
async fn service_worker(headers: HeaderMap) -> Response {
    serve("sw.js", &headers)
}

/// An entity tag without its weakness mark, for the weak comparison `If-None-Match` uses.
fn weak(tag: &str) -> &str {
    tag.strip_prefix("W/").unwrap_or(tag)
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some(file) = Assets::get(path) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let etag = format!("W/\"{}\"", hex::encode(&file.metadata.sha256_hash()[..12]));
    let cache = [
        (header::ETAG, etag.clone()),
        (header::CACHE_CONTROL, "no-cache".to_owned()),
    ];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| weak(t.trim()) == weak(&etag)));
    if fresh {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    let mime = file.metadata.mimetype().to_owned();
    (cache, [(header::CONTENT_TYPE, mime)], file.data).into_response()
}
