//! Resume under churn: while three people send, edit, delete, react and pin over HTTP, four
//! watchers drop their WebSocket at random moments (after a random number of events, or
//! while idle), reconnect and `sync` from the last `seq` up to which they hold every event, as
//! `docs/protocol.md` ("Resuming") tells a client. Each watcher keeps the room as its events
//! describe it, replacing its copy by `message.seq`. No socket may carry one `seq` twice; over
//! all its connections each watcher must get every timeline event, 1 to the room's last `seq`;
//! and at the end every watcher's room equals the room as the history API returns it.
//! `NATTER_CHURN_OPS` sets the writers' operations (300); `NATTER_CHURN_SEED` replays a run.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, User, escape, spawn_app_with};

/// A small xorshift generator: the run is replayed from its printed seed.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// What a client shows of a message: compared between each watcher and the history (less
/// `reactions[].me`, which only HTTP answers carry: it depends on the caller).
fn shown(m: &Value) -> Value {
    let mut reactions = m["reactions"].clone();
    for r in reactions.as_array_mut().into_iter().flatten() {
        r.as_object_mut().unwrap().remove("me");
    }
    json!({
        "body": m["body"], "deleted": m["deleted"], "edited_at": m["edited_at"],
        "reactions": reactions, "pinned": m["pinned"],
    })
}

/// The writers' work: `ops` operations, each person picking at random.
async fn write(app: Arc<TestApp>, people: Vec<User>, room: String, ops: usize, seed: u64) {
    let mut dice = Dice(seed | 1);
    let mut sent: Vec<(usize, i64)> = Vec::new(); // (author, seq)
    for op in 0..ops {
        let who = dice.below(people.len() as u64) as usize;
        let user = &people[who];
        let roll = dice.below(100);
        let target = (!sent.is_empty()).then(|| sent[dice.below(sent.len() as u64) as usize]);
        let (status, body) = match (roll, target) {
            (0..45, _) | (_, None) => {
                let body = json!({"client_id": format!("op{op}"), "body": format!("message {op}")});
                let (status, body) = app
                    .post(user, &format!("/rooms/{room}/messages"), body)
                    .await;
                if status.is_success() {
                    sent.push((who, body["message"]["seq"].as_i64().unwrap()));
                }
                (status, body)
            }
            (45..65, Some((author, seq))) => {
                let path = format!("/rooms/{room}/messages/{seq}");
                let edit = json!({"body": format!("edited at {op}")});
                app.patch(&people[author], &path, edit).await
            }
            (65..75, Some((author, seq))) => {
                app.delete(&people[author], &format!("/rooms/{room}/messages/{seq}"))
                    .await
            }
            (75..95, Some((_, seq))) => {
                let emoji = ["👍", "❤️", "😂"][dice.below(3) as usize];
                let path = format!("/rooms/{room}/messages/{seq}/reactions/{}", escape(emoji));
                let method = if dice.below(2) == 0 { "PUT" } else { "DELETE" };
                app.call(method, &path, Some(&user.token), None).await
            }
            (_, Some((_, seq))) => {
                // The owner pins and unpins.
                let method = if dice.below(2) == 0 { "PUT" } else { "DELETE" };
                let path = format!("/rooms/{room}/pins/{seq}");
                app.call(method, &path, Some(&people[0].token), None).await
            }
        };
        // Changes to a deleted message are refused (404/409); nothing may fail on the server.
        assert!(
            !status.is_server_error(),
            "operation {op} failed: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(dice.below(8))).await;
    }
}

/// One watcher: connects, syncs from what it has, applies events, drops the socket at random,
/// again and again until `stop`; then one last sync. Returns its room, by message `seq`, the
/// timeline `seq`s it got, the room's last `seq` at its last connection, and its connections.
async fn watch(
    app: Arc<TestApp>,
    user: User,
    room: String,
    stop: Arc<AtomicBool>,
    seed: u64,
) -> (BTreeMap<i64, Value>, BTreeSet<i64>, i64, usize) {
    let mut dice = Dice(seed | 1);
    let mut messages = BTreeMap::new();
    let mut got = BTreeSet::new();
    // Every event up to `last` is held: what `sync` starts from.
    let mut last = 0i64;
    let mut connections = 0;
    loop {
        let finishing = stop.load(Ordering::Relaxed);
        let (mut ws, ready) = app.ws(&user).await;
        let room_last = ready["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == room.as_str())
            .expect("the room is in ready")["last_seq"]
            .as_i64()
            .unwrap();
        let mut this_socket = BTreeSet::new();
        connections += 1;
        ws.send_json(json!({"type": "sync", "since": {room.clone(): last}}))
            .await;
        // Events to take before dropping the socket (the last time: until synced and quiet).
        let budget = if finishing {
            u64::MAX
        } else {
            1 + dice.below(40)
        };
        let mut synced = false;
        let mut taken = 0;
        while taken < budget {
            let wait = if finishing && synced { 300 } else { 1000 };
            let Ok(frame) =
                tokio::time::timeout(Duration::from_millis(wait), ws.next_frame()).await
            else {
                // Quiet: done when finishing, else go round again once the writers stopped.
                if (finishing && synced) || (!finishing && stop.load(Ordering::Relaxed)) {
                    break;
                }
                continue;
            };
            let event = frame.expect("the server keeps the socket open");
            let kind = event["type"].as_str().unwrap_or_default();
            if kind == "synced" && event["room_id"] == room.as_str() {
                assert_eq!(event["complete"], true, "{event}");
                synced = true;
                continue;
            }
            let seq = match kind {
                "message" => event["message"]["seq"].as_i64(),
                k if k.starts_with("message_") || k.starts_with("reaction_") => {
                    event["seq"].as_i64()
                }
                _ => None,
            };
            let Some(seq) = seq else { continue };
            assert!(
                this_socket.insert(seq),
                "{} got seq {seq} twice on one socket ({kind}, connection {connections})",
                user.id
            );
            got.insert(seq);
            while got.contains(&(last + 1)) {
                last += 1;
            }
            let message = &event["message"];
            messages.insert(message["seq"].as_i64().unwrap(), shown(message));
            taken += 1;
        }
        if finishing {
            return (messages, got, room_last, connections);
        }
        // Sometimes straight back, sometimes after a pause.
        drop(ws);
        tokio::time::sleep(Duration::from_millis(dice.below(3) * 50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_that_drop_and_resume_converge_on_the_room() {
    let ops: usize = std::env::var("NATTER_CHURN_OPS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let seed: u64 = std::env::var("NATTER_CHURN_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("churn: NATTER_CHURN_SEED={seed}");
    let app = Arc::new(
        spawn_app_with(|c| {
            c.send_rate_per_sec = 1000;
            c.send_burst = 1000;
            c.sync_replay_limit = 100_000;
        })
        .await,
    );
    let mut people = Vec::new();
    for name in ["ana", "bob", "cyd"] {
        people.push(app.register(name).await);
    }
    let room = app.create_room(&people[0], "churn", None).await;
    for p in &people[1..] {
        app.join(p, "churn", None).await;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut watchers = Vec::new();
    for i in 0..4u64 {
        let user = app.register(&format!("watcher{i}")).await;
        app.join(&user, "churn", None).await;
        let task = watch(
            app.clone(),
            user,
            room.clone(),
            stop.clone(),
            seed ^ ((i + 1) * 7919),
        );
        watchers.push(tokio::spawn(task));
    }
    write(app.clone(), people.clone(), room.clone(), ops, seed).await;
    stop.store(true, Ordering::Relaxed);

    // The room as it is now, from the history API.
    let mut truth = BTreeMap::new();
    let mut after = 0;
    loop {
        let (_, page) = app
            .history(&people[0], &room, &format!("?after={after}&limit=200"))
            .await;
        let page = page["messages"].as_array().unwrap().clone();
        let Some(last) = page.last() else { break };
        after = last["seq"].as_i64().unwrap();
        for m in &page {
            truth.insert(m["seq"].as_i64().unwrap(), shown(m));
        }
    }
    let mut reconnections = Vec::new();
    for (i, watcher) in watchers.into_iter().enumerate() {
        let (seen, got, room_last, connections) = watcher.await.unwrap();
        reconnections.push(connections);
        let missing: Vec<i64> = (1..=room_last).filter(|s| !got.contains(s)).collect();
        assert!(
            missing.is_empty() && got.len() as i64 == room_last,
            "watcher {i} never got events {missing:?} (seed {seed})"
        );
        for (seq, m) in &truth {
            assert_eq!(
                seen.get(seq),
                Some(m),
                "watcher {i}, message {seq} (seed {seed})"
            );
        }
        assert_eq!(seen.len(), truth.len(), "watcher {i} (seed {seed})");
    }
    println!(
        "churn: {ops} operations, {} messages; the watchers connected {reconnections:?} times \
         and converged",
        truth.len()
    );
}
