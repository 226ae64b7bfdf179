//! One WebSocket connection: a [`Reader`] (this task) and a [`Writer`] (spawned); when one
//! ends, the other is told to end. The connection is registered with the hub and subscribed
//! to its rooms *before* the rooms are read for `ready`, so everything committed afterwards
//! arrives live.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use super::reader::Reader;
use super::track::Track;
use super::writer::{DeliveryMetrics, Writer};
use crate::app::AppState;
use crate::chat::Error;
use crate::domain::{Room, RoomId, Sender, Seq};
use crate::http::Auth;
use crate::hub::{Conn, ConnHandle};
use crate::protocol::{ServerEvent, close};

/// Replies (acks, errors) and sync requests waiting for the writer.
const CONTROL_QUEUE: usize = 256;

/// From the reader to the writer.
pub(super) enum Control {
    Reply(String),
    /// Boxed: it is rare, and keeps every slot of the channel small (a `HashMap` is 48 bytes).
    #[allow(clippy::box_collection)]
    Sync(Box<HashMap<RoomId, Seq>>),
}

/// Serves one socket. The returned future is what every open connection holds while idle,
/// so it is kept small: the socket is split here, the rooms are loaded in a boxed future, and
/// the writer is built and spawned by a plain function (a named local in an `async fn` keeps
/// its space in the future even after it has been moved away).
pub fn run(socket: WebSocket, app: AppState, auth: Auth) -> impl Future<Output = ()> {
    let (sink, stream) = socket.split();
    serve(sink, stream, app, auth)
}

type Sink = futures_util::stream::SplitSink<WebSocket, WsMessage>;
type Stream = futures_util::stream::SplitStream<WebSocket>;

async fn serve(mut sink: Sink, stream: Stream, app: AppState, auth: Auth) {
    let handle = app
        .hub
        .connect(Sender::from(&auth.user), auth.session.id.clone());
    let conn = handle.conn.clone();
    let rooms = match Box::pin(subscribe(&app, &conn, &auth)).await {
        Ok(rooms) => rooms,
        Err(e) => {
            tracing::error!(error = %e, "loading rooms for a new connection");
            let _ = Box::pin(sink.send(close_frame(close::INTERNAL))).await;
            app.hub.disconnect(&conn);
            return;
        }
    };
    // Presence is recorded before `ready` goes out (the writer sends it first): once a client
    // has `ready`, others (on any node) see it connected.
    if let Err(e) = Box::pin(app.chat.user_connected(&auth.user)).await {
        tracing::warn!(error = %e, "announcing presence");
    }
    let closing = handle.closing.clone();
    let (control_tx, control_rx) = mpsc::channel(CONTROL_QUEUE);
    let write_task = start_writer(&app, &auth, rooms, sink, handle, control_rx);
    let reader = Reader {
        app: app.clone(),
        conn: conn.clone(),
        control: control_tx,
    };
    reader.run(stream, closing).await;
    // The reader is done: make sure the writer ends too, then forget the connection.
    conn.close(close::GOING_AWAY);
    let _ = write_task.await;
    app.hub.disconnect(&conn);
    if let Err(e) = Box::pin(app.chat.user_disconnected(&auth.user.id)).await {
        tracing::warn!(error = %e, "announcing presence");
    }
}

/// Subscribes the connection to the user's rooms, then reads them: whatever is committed
/// after the read arrives live.
async fn subscribe(app: &AppState, conn: &Arc<Conn>, auth: &Auth) -> Result<Vec<Room>, Error> {
    let ids = app.chat.store.room_ids_of(&auth.user.id).await?;
    app.hub.subscribe(conn, ids.clone());
    let rooms = app.chat.my_rooms(&auth.user.id).await?;
    // A ban or leave that landed between the two reads found no subscription to end.
    let kept: std::collections::HashSet<&RoomId> = rooms.iter().map(|r| &r.id).collect();
    app.hub
        .unsubscribe(conn, ids.iter().filter(|id| !kept.contains(id)).cloned());
    Ok(rooms)
}

/// Builds the writer from the rooms (which it then drops) and spawns it: it sends `ready`
/// first, then runs until the connection ends, and then tells the reader to end too.
fn start_writer(
    app: &AppState,
    auth: &Auth,
    rooms: Vec<Room>,
    mut sink: Sink,
    handle: ConnHandle,
    control: mpsc::Receiver<Control>,
) -> tokio::task::JoinHandle<()> {
    let first = ServerEvent::Ready {
        user: &auth.user,
        session_id: &auth.session.id,
        rooms: &rooms,
        limits: crate::protocol::Limits {
            max_upload_bytes: app.chat.settings().settings.max_upload_bytes,
            max_attachments: crate::chat::MAX_ATTACHMENTS,
        },
    }
    .to_text();
    let mut writer = Writer {
        app: app.clone(),
        user_id: auth.user.id.clone(),
        tracks: rooms
            .iter()
            .map(|r| {
                (
                    r.id.clone(),
                    Track::starting_at(r.last_seq).with_floor(r.floor),
                )
            })
            .collect(),
        levels: rooms
            .iter()
            .filter_map(|r| Some((r.id.clone(), r.notify?)))
            .collect(),
        direct: rooms
            .iter()
            .filter(|r| r.kind.is_conversation())
            .map(|r| r.id.clone())
            .collect(),
        metrics: DeliveryMetrics::new(),
    };
    drop(rooms);
    tokio::spawn(async move {
        let sent = tokio::time::timeout(
            Duration::from_secs(10),
            sink.send(WsMessage::Text(first.into())),
        )
        .await;
        let conn = handle.conn.clone();
        if matches!(sent, Ok(Ok(()))) {
            writer
                .run(&mut sink, handle.queue, control, handle.closing)
                .await;
        }
        // However the writer ended, the reader must end too.
        conn.close(close::GOING_AWAY);
    })
}

pub(super) fn close_frame(code: u16) -> WsMessage {
    let reason = match code {
        close::GOING_AWAY => "server going away",
        close::TOO_BIG => "frame too large",
        close::INVALID_PAYLOAD => "text frame is not UTF-8",
        close::PROTOCOL_ERROR => "WebSocket protocol error",
        close::SESSION_REVOKED => "session revoked",
        close::SLOW_CONSUMER => "too slow: reconnect and sync",
        close::IDLE => "idle timeout",
        _ => "internal error",
    };
    WsMessage::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

pub(super) fn error_event(e: &Error, client_id: Option<&str>, room_id: Option<&RoomId>) -> String {
    let message = e.to_string();
    if let Error::Internal(cause) = e {
        tracing::error!(error = %cause, "websocket command failed");
    }
    ServerEvent::Error {
        code: e.code(),
        message: &message,
        client_id,
        room_id,
        retry_after_ms: match e {
            Error::Busy(wait) | Error::RateLimited(wait) => {
                Some(wait.as_millis().try_into().unwrap_or(u64::MAX).max(1))
            }
            _ => None,
        },
    }
    .to_text()
}
