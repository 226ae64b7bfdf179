//! The bare broadcast server `natter bench-baseline` runs: the practical ceiling of this stack
//! (tokio, axum, tungstenite) on this machine, for `natter bench` to measure Natter against.
//! It speaks just enough of the protocol for the fan-out scenario (register, create and join
//! a room, the WebSocket with `ready`, `send` → `ack` and `message`) with no authentication
//! worth the name, no validation and no storage: a `send` takes the room's next `seq`, is
//! serialised once and handed to every connection in the room, each with its own writer task,
//! as Natter does.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::ws::{Message as WsMessage, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

#[derive(Default)]
struct Rooms {
    by_name: HashMap<String, Arc<Room>>,
    by_id: HashMap<String, Arc<Room>>,
    /// Each user's rooms (a user is its token).
    of_user: HashMap<String, Vec<Arc<Room>>>,
}

struct Room {
    id: String,
    seq: AtomicI64,
    /// The connections in the room, by connection number.
    conns: Mutex<HashMap<u64, mpsc::UnboundedSender<Utf8Bytes>>>,
}

#[derive(Default)]
struct Baseline {
    users: AtomicU64,
    conns: AtomicU64,
    rooms_made: AtomicU64,
    rooms: Mutex<Rooms>,
}

type Shared = State<Arc<Baseline>>;

/// Serves until the process is stopped.
pub async fn serve(bind: SocketAddr) -> anyhow::Result<()> {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/v1/auth/register", post(register))
        .route("/api/v1/me", get(|| async { Json(json!({})) }))
        .route("/api/v1/rooms", post(create))
        .route("/api/v1/rooms/join", post(join))
        .route("/api/v1/rooms/{id}", delete(remove))
        .route("/api/v1/ws", get(upgrade))
        .with_state(Arc::new(Baseline::default()));
    let listener = tokio::net::TcpListener::bind(bind).await?;
    eprintln!("bench-baseline: a bare broadcast server on {bind}");
    axum::serve(listener, app).await?;
    Ok(())
}

fn token(headers: &HeaderMap) -> String {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned()
}

async fn register(State(b): Shared) -> Json<Value> {
    let n = b.users.fetch_add(1, Ordering::Relaxed);
    Json(json!({"token": format!("u{n}")}))
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

fn enter(rooms: &mut Rooms, user: String, room: &Arc<Room>) {
    rooms.of_user.entry(user).or_default().push(room.clone());
}

async fn create(State(b): Shared, headers: HeaderMap, Json(req): Json<Named>) -> Response {
    let id = format!("R{}", b.rooms_made.fetch_add(1, Ordering::Relaxed));
    let mut rooms = b.rooms.lock().expect("rooms");
    let room = Arc::new(Room {
        id: id.clone(),
        seq: AtomicI64::new(0),
        conns: Mutex::default(),
    });
    rooms.by_name.insert(req.name, room.clone());
    rooms.by_id.insert(id.clone(), room.clone());
    enter(&mut rooms, token(&headers), &room);
    (StatusCode::CREATED, Json(json!({"room": {"id": id}}))).into_response()
}

async fn join(State(b): Shared, headers: HeaderMap, Json(req): Json<Named>) -> Response {
    let mut rooms = b.rooms.lock().expect("rooms");
    let Some(room) = rooms.by_name.get(&req.name).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    enter(&mut rooms, token(&headers), &room);
    Json(json!({"room": {"id": room.id}})).into_response()
}

async fn remove(State(b): Shared, Path(id): Path<String>) -> StatusCode {
    let mut rooms = b.rooms.lock().expect("rooms");
    if let Some(room) = rooms.by_id.remove(&id) {
        rooms.by_name.retain(|_, r| !Arc::ptr_eq(r, &room));
        for of_user in rooms.of_user.values_mut() {
            of_user.retain(|r| !Arc::ptr_eq(r, &room));
        }
    }
    StatusCode::NO_CONTENT
}

async fn upgrade(State(b): Shared, headers: HeaderMap, ws: WebSocketUpgrade) -> Response {
    let user = token(&headers);
    ws.on_upgrade(move |socket| connection(b, user, socket))
}

#[derive(Deserialize)]
struct Send {
    room_id: String,
    client_id: String,
    body: String,
}

async fn connection(b: Arc<Baseline>, user: String, socket: WebSocket) {
    let n = b.conns.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::unbounded_channel::<Utf8Bytes>();
    let rooms: Vec<Arc<Room>> = {
        let rooms = b.rooms.lock().expect("rooms");
        rooms.of_user.get(&user).cloned().unwrap_or_default()
    };
    let listed: Vec<Value> = rooms
        .iter()
        .map(|r| json!({"id": r.id, "last_seq": r.seq.load(Ordering::Relaxed)}))
        .collect();
    for room in &rooms {
        room.conns.lock().expect("conns").insert(n, tx.clone());
    }
    let ready = json!({"type": "ready", "rooms": listed}).to_string();
    let _ = tx.send(ready.into());
    let by_id: HashMap<&str, &Arc<Room>> = rooms.iter().map(|r| (r.id.as_str(), r)).collect();
    let (mut sink, mut stream) = socket.split();
    // The writer: drains what is queued, then flushes once.
    let writer = tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            if sink.feed(WsMessage::Text(first)).await.is_err() {
                return;
            }
            while let Ok(more) = rx.try_recv() {
                if sink.feed(WsMessage::Text(more)).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });
    while let Some(Ok(frame)) = stream.next().await {
        let WsMessage::Text(text) = frame else {
            continue;
        };
        let Ok(send) = serde_json::from_str::<Send>(&text) else {
            continue;
        };
        let Some(room) = by_id.get(send.room_id.as_str()) else {
            continue;
        };
        let seq = room.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let message = json!({"room_id": room.id, "seq": seq, "body": send.body});
        let event: Utf8Bytes = json!({"type": "message", "message": message})
            .to_string()
            .into();
        for conn in room.conns.lock().expect("conns").values() {
            let _ = conn.send(event.clone());
        }
        let ack = json!({"type": "ack", "client_id": send.client_id, "message": message});
        let _ = tx.send(ack.to_string().into());
    }
    for room in &rooms {
        room.conns.lock().expect("conns").remove(&n);
    }
    drop(tx);
    let _ = writer.await;
}
