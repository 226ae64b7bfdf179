//! The HTTP surface: the JSON API under `/api/v1` (one module per area, each with its own
//! `router()`), the OpenAPI document, health, the start page, and the layers every response
//! passes through (security headers, body limit, tracing).

mod admin;
mod assets;
mod auth;
mod changes;
mod error;
mod extract;
mod invites;
mod messages;
mod moderation;
pub mod openapi;
mod profile;
mod rooms;
mod search;
mod security;
mod uploads;
mod users;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Uri, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use error::{ApiError, ErrorBody};
pub use extract::{
    ApiJson, ApiPath, ApiQuery, Auth, AuthVia, ClientIp, Https, UserAgent, check_origin,
    optional_json, origin_allowed,
};

use crate::app::AppState;

/// Largest request body the API accepts.
const MAX_BODY: usize = 64 * 1024;

/// No inline script or style, nothing from elsewhere, never framed.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
    connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The whole application router.
pub fn router(state: AppState) -> Router {
    admin::mark_start();
    let api = Router::new()
        .merge(auth::router())
        .merge(profile::router())
        .merge(rooms::router())
        .merge(moderation::router())
        .merge(messages::router())
        .merge(changes::router())
        .merge(search::router())
        .merge(uploads::router())
        .merge(users::router())
        .merge(admin::router())
        .merge(security::router())
        .merge(invites::router())
        .route("/ws", get(crate::ws::upgrade))
        .fallback(api_not_found)
        .method_not_allowed_fallback(method_not_allowed);
    let headers = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    let mut app = Router::new()
        .nest("/api/v1", api)
        .route("/api/openapi.json", get(openapi::document))
        .route("/api/ws.schema.json", get(openapi::ws_schema))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .merge(profile::images())
        .merge(assets::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(TraceLayer::new_for_http());
    for (name, value) in headers {
        app = app.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ));
    }
    if state.tls.is_some() {
        let hsts = HeaderValue::from_static("max-age=31536000; includeSubDomains");
        app = app.layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            hsts,
        ));
    }
    app.with_state(state)
}

/// Prometheus text format.
async fn metrics_text() -> axum::response::Response {
    match crate::metrics::handle() {
        Some(handle) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        )
            .into_response(),
        None => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder unavailable",
        )
            .into_response(),
    }
}

/// Ready to serve: the database answers and (in a cluster) the bus is connected.
async fn readyz(
    axum::extract::State(app): axum::extract::State<AppState>,
) -> axum::response::Response {
    let database = app.chat.store.ping().await;
    let bus = app.chat.bus.is_connected();
    let status = if database && bus {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({ "status": if status.is_success() { "ready" } else { "unavailable" }, "database": database, "bus": bus });
    (status, axum::Json(body)).into_response()
}

async fn api_not_found(uri: Uri) -> ApiError {
    ApiError::not_found(&format!("no API endpoint at {}", uri.path()))
}

async fn not_found(uri: Uri) -> axum::response::Response {
    if uri.path().starts_with("/api/") {
        return api_not_found(uri).await.into_response();
    }
    (axum::http::StatusCode::NOT_FOUND, "not found").into_response()
}

async fn method_not_allowed(method: axum::http::Method, uri: Uri) -> ApiError {
    let message = format!("{method} is not allowed on {}", uri.path());
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        message,
    )
}

/// The plain-HTTP listener beside TLS: every request is sent to the same path and query on
/// `origin`. Never to the request's `Host`, which the client chooses (an open redirect).
pub fn redirect_router(origin: crate::config::PublicUrl) -> Router {
    Router::new().fallback(move |uri: Uri| async move {
        // Only an origin-form target (`/...`) is appended: `OPTIONS *` must not become
        // `https://host*`.
        let path = uri
            .path_and_query()
            .map(|p| p.as_str())
            .filter(|p| p.starts_with('/'))
            .unwrap_or("/");
        axum::response::Redirect::permanent(&format!("{origin}{path}"))
    })
}

/// Process up: answers without touching the database.
async fn healthz() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

pub use openapi::ApiDoc;
