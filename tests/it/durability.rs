//! Crash durability, the bounded form of the proof suite's check: a real `natter serve` is
//! killed with SIGKILL ten times under a steady load of WebSocket and HTTP senders and started
//! again over what it left (the same SQLite files, or the same PostgreSQL database). Every
//! sender retries its message with the same `client_id` until it is acknowledged, as a client
//! must. Afterwards the room holds every acknowledged message exactly once, at the `seq` its
//! acknowledgement named, the `seq`s have no gaps, and no `client_id` is stored twice.
//!
//! The same again with a cluster of two nodes (PostgreSQL and Redis), one of them killed
//! each time, in turn: the senders move to the other node when theirs goes, as clients behind
//! a load balancer would.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::cluster::{Client, Node, NodeSetup, free_port, services, with_postgres};

/// Kills in the bounded run (the long run is `NATTER_CRASH_KILLS=100`).
const KILLS: usize = 10;
/// Senders of each kind.
const SENDERS: usize = 3;

/// What the senders were told: `client_id` → `seq` of its acknowledgement.
type Acked = Arc<std::sync::Mutex<BTreeMap<String, i64>>>;

struct Load {
    /// The nodes' addresses; each sender starts on one and moves on when it fails.
    bases: Vec<String>,
    room: String,
    stop: Arc<AtomicBool>,
    acked: Acked,
    /// Answers no client should get (neither an acknowledgement nor a failure to connect).
    odd: Arc<std::sync::Mutex<Vec<String>>>,
    retries: Arc<AtomicU64>,
}

/// Sends over HTTP as fast as acknowledgements come, each message until it is acknowledged.
async fn http_sender(load: Arc<Load>, token: String, tag: String, mut at: usize) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let url = |at: usize| {
        let base = &load.bases[at % load.bases.len()];
        format!("{base}/api/v1/rooms/{}/messages", load.room)
    };
    let mut n = 0u64;
    while !load.stop.load(Ordering::Relaxed) {
        let client_id = format!("{tag}-{n}");
        let body = json!({"client_id": client_id, "body": format!("{tag} says {n}")});
        loop {
            let answer = http
                .post(url(at))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await;
            let answer = match answer {
                Ok(res) => (res.status(), res.json::<Value>().await),
                Err(_) => {
                    load.retries.fetch_add(1, Ordering::Relaxed);
                    at += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            match answer {
                (status, Ok(v)) if status.is_success() => {
                    let seq = v["message"]["seq"].as_i64().expect("an acknowledged seq");
                    load.acked.lock().unwrap().insert(client_id.clone(), seq);
                    break;
                }
                // Cut off mid-answer, or the server shutting down: try again.
                (status, _) if status.is_server_error() || status.is_success() => {
                    load.retries.fetch_add(1, Ordering::Relaxed);
                    at += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                (status, v) => {
                    load.odd
                        .lock()
                        .unwrap()
                        .push(format!("{client_id}: {status} {v:?}"));
                    break;
                }
            }
        }
        n += 1;
    }
}

/// Sends over a WebSocket, reconnecting after every loss and sending again what was not
/// acknowledged.
async fn ws_sender(load: Arc<Load>, token: String, tag: String, mut at: usize) {
    let ws_url = |at: usize| {
        let base = &load.bases[at % load.bases.len()];
        format!("{}/api/v1/ws", base.replacen("http", "ws", 1))
    };
    let mut socket = None;
    let mut n = 0u64;
    while !load.stop.load(Ordering::Relaxed) {
        let client_id = format!("{tag}-{n}");
        loop {
            if socket.is_none() {
                let mut req = ws_url(at).into_client_request().unwrap();
                req.headers_mut()
                    .insert("authorization", format!("Bearer {token}").parse().unwrap());
                match tokio_tungstenite::connect_async(req).await {
                    Ok((ws, _)) => socket = Some(ws),
                    Err(_) => {
                        load.retries.fetch_add(1, Ordering::Relaxed);
                        at += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                }
            }
            let ws = socket.as_mut().unwrap();
            let frame = json!({"type": "send", "room_id": load.room, "client_id": client_id,
                "body": format!("{tag} says {n}")});
            let mut done = ws.send(WsMessage::text(frame.to_string())).await.is_ok();
            let mut seq = None;
            while done && seq.is_none() {
                match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
                    Ok(Some(Ok(WsMessage::Text(text)))) => {
                        let event: Value = serde_json::from_str(&text).unwrap();
                        let ours = event["client_id"].as_str() == Some(&client_id);
                        match event["type"].as_str() {
                            Some("ack") if ours => seq = event["message"]["seq"].as_i64(),
                            Some("error") if ours => {
                                load.odd
                                    .lock()
                                    .unwrap()
                                    .push(format!("{client_id}: {event}"));
                                done = false;
                            }
                            _ => {}
                        }
                    }
                    Ok(Some(Ok(_))) => {}
                    _ => done = false,
                }
            }
            match seq {
                Some(seq) => {
                    load.acked.lock().unwrap().insert(client_id.clone(), seq);
                    break;
                }
                None => {
                    socket = None;
                    load.retries.fetch_add(1, Ordering::Relaxed);
                    at += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        n += 1;
    }
}

/// Every message of the room, oldest first, read back through the API.
async fn stored(reader: &Client, room: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let path = format!("/rooms/{room}/messages?after={after}&limit=200");
        let (_, page) = reader.call("GET", &path, None).await;
        let messages = page["messages"].as_array().unwrap().clone();
        let Some(last) = messages.last() else {
            return all;
        };
        after = last["seq"].as_i64().unwrap();
        all.extend(messages);
    }
}

fn kills_wanted() -> usize {
    std::env::var("NATTER_CRASH_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(KILLS)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_and_doubles_nothing() {
    let test = "durability::sigkill_under_load_loses_and_doubles_nothing";
    let database = if std::env::var("NATTER_TEST_BACKEND").as_deref() == Ok("postgres") {
        let Some((pg, _)) = services(test) else {
            return;
        };
        Some(with_postgres(&pg).await)
    } else {
        None
    };
    let dir = tempfile::tempdir().unwrap().keep();
    let port = free_port();
    let start = |_: usize| {
        Node::start_with(NodeSetup {
            database_url: database.as_deref(),
            redis_url: None,
            name: "crash",
            port,
            s3: false,
            log: "natter=info",
            dir: Some(dir.clone()),
        })
    };
    let (kills, acked, retries) = kill_under_load(1, start).await;
    eprintln!(
        "crash durability: {kills} kills, {acked} messages acknowledged and stored once each, \
         {retries} retries"
    );
}

/// Two nodes on PostgreSQL and Redis, killed in turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_node_killed_under_load_loses_and_doubles_nothing() {
    let test = "durability::a_cluster_node_killed_under_load_loses_and_doubles_nothing";
    let Some((pg, redis)) = services(test) else {
        return;
    };
    let db = with_postgres(&pg).await;
    let ports = [free_port(), free_port()];
    let start = |i: usize| Node::start(&db, &redis, ["c1", "c2"][i], ports[i]);
    let (kills, acked, retries) = kill_under_load(2, start).await;
    eprintln!(
        "crash durability, two nodes: {kills} kills in turn, {acked} messages acknowledged and \
         stored once each, {retries} retries"
    );
}

/// Starts `nodes` nodes with `start(i)`, puts the senders to work across them, kills a node
/// (each in turn) and starts it again, `NATTER_CRASH_KILLS` times (10), then checks what the
/// room holds. Returns the kills, the messages acknowledged and the retries.
async fn kill_under_load(nodes: usize, start: impl Fn(usize) -> Node) -> (usize, usize, u64) {
    let kills = kills_wanted();
    let mut running: Vec<Node> = (0..nodes).map(&start).collect();
    let bases: Vec<String> = running.iter().map(|n| n.url.clone()).collect();
    let owner = Client::register(&running[0], "owner").await;
    let room_body = json!({"name": "Sturdy", "visibility": "public"});
    let (_, room) = owner.call("POST", "/rooms", Some(room_body)).await;
    let room = room["room"]["id"].as_str().unwrap().to_owned();
    let load = Arc::new(Load {
        bases,
        room: room.clone(),
        stop: Arc::new(AtomicBool::new(false)),
        acked: Acked::default(),
        odd: Arc::default(),
        retries: Arc::default(),
    });
    let mut senders = Vec::new();
    for i in 0..SENDERS * 2 {
        let sender = Client::register(&running[i % nodes], &format!("sender{i}")).await;
        let (joined, _) = sender
            .call("POST", "/rooms/join", Some(json!({"name": "Sturdy"})))
            .await;
        assert!(joined.is_success());
        let token = sender.token;
        senders.push(if i % 2 == 0 {
            tokio::spawn(http_sender(load.clone(), token, format!("h{i}"), i))
        } else {
            tokio::spawn(ws_sender(load.clone(), token, format!("w{i}"), i))
        });
    }

    let mut acked_at_kill = Vec::new();
    for k in 0..kills {
        // Kill at a different point of the load each time.
        let wait = 250 + (k as u64 * 137) % 500;
        tokio::time::sleep(Duration::from_millis(wait)).await;
        acked_at_kill.push(load.acked.lock().unwrap().len());
        let victim = k % nodes;
        running[victim].kill();
        running[victim] = start(victim);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    load.stop.store(true, Ordering::Relaxed);
    for sender in senders {
        tokio::time::timeout(Duration::from_secs(60), sender)
            .await
            .expect("every sender finishes its last message")
            .unwrap();
    }

    let odd = load.odd.lock().unwrap().clone();
    assert!(odd.is_empty(), "answers no client should get: {odd:?}");
    let acked = load.acked.lock().unwrap().clone();
    // Messages were acknowledged between every two kills.
    assert!(
        acked_at_kill.windows(2).all(|w| w[1] > w[0]) && acked.len() > acked_at_kill[kills - 1],
        "the load went on between kills: {acked_at_kill:?}, {} in all",
        acked.len()
    );
    let messages = stored(&owner, &room).await;
    let seqs: Vec<i64> = messages
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    let first = seqs[0];
    assert_eq!(
        seqs,
        (first..first + seqs.len() as i64).collect::<Vec<_>>(),
        "seqs without gaps"
    );
    let mut ids = HashSet::new();
    for m in &messages {
        let id = m["client_id"].as_str().unwrap();
        if id.is_empty() {
            continue;
        }
        assert!(ids.insert(id.to_owned()), "client_id {id} stored twice");
        // Whatever was stored was acknowledged to its sender (who retried until it was), at
        // the seq stored.
        assert_eq!(
            acked.get(id),
            Some(&m["seq"].as_i64().unwrap()),
            "stored {id} at {} but acknowledged {:?}",
            m["seq"],
            acked.get(id)
        );
    }
    for (id, seq) in &acked {
        assert!(
            ids.contains(id),
            "acknowledged {id} (seq {seq}) is not stored"
        );
    }
    (kills, acked.len(), load.retries.load(Ordering::Relaxed))
}
