//! The WebSocket endpoint `GET /api/v1/ws`: authentication and origin check before the
//! upgrade, explicit small buffer sizes, then one [`conn`] per socket.

mod conn;
mod reader;
mod track;
mod writer;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;

use crate::app::AppState;
use crate::http::{ApiError, Auth, AuthVia, origin_allowed};

/// Largest frame (and message) a client may send; larger ones close the socket with 1009.
pub const MAX_FRAME: usize = 64 * 1024;
/// tungstenite's default read buffer is 128 KiB per connection, allocated up front; chat
/// frames from clients are small (a bigger one just grows the buffer while it is read).
const READ_BUFFER: usize = 256;
/// Bytes gathered before a write goes to the socket (the writer flushes once per wakeup).
const WRITE_BUFFER: usize = 16 * 1024;

/// Opens the real-time connection (see `docs/protocol.md`).
#[utoipa::path(get, path = "/api/v1/ws", tag = "realtime",
    responses((status = 101, description = "Switching to the WebSocket protocol"),
              (status = 400, description = "Not a WebSocket upgrade request", body = crate::http::ErrorBody),
              (status = 401, description = "Not signed in", body = crate::http::ErrorBody),
              (status = 403, description = "Cookie auth from a disallowed Origin", body = crate::http::ErrorBody),
              (status = 426, description = "The connection cannot be upgraded", body = crate::http::ErrorBody)))]
pub async fn upgrade(
    State(app): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ws = ws.map_err(|r| ApiError::new(r.status(), "invalid_input", r.body_text()))?;
    if auth.via == AuthVia::Cookie && !origin_allowed(&app, &headers) {
        return Err(ApiError::forbidden(
            "this Origin may not open a WebSocket with a session cookie",
        ));
    }
    let tasks = app.tasks.clone();
    Ok(ws
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(app.config.outbound_queue.max(64) * 1024)
        .max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .on_upgrade(move |socket| tasks.track_future(conn::run(socket, app, auth))))
}
