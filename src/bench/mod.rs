//! `natter bench`: drives a running server (one node or several, TLS or not) the way real
//! clients do. It registers users and creates rooms through the API, opens one WebSocket per
//! member (spread over the given node URLs), sends at a fixed total rate from one sender per
//! room, and checks every delivery: loss and duplicates are counted, send→deliver and
//! send→ack latencies go into HDR histograms.
//!
//! The sender stamps each body with its send time on this process's monotonic clock, so a
//! receiver's latency needs no shared state and no clock sync between machines.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures_util::SinkExt;
use futures_util::stream::{self, StreamExt};
use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

mod idle;

/// What to run.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Server base URL. Repeat it for a cluster: senders then use the first node and
    /// receivers the others, so every delivery crosses nodes.
    #[arg(long = "url", default_value = "http://127.0.0.1:8080")]
    pub urls: Vec<String>,
    /// Rooms, each with one sender.
    #[arg(long, default_value_t = 10)]
    pub rooms: usize,
    /// Receiving members per room (each with its own connection).
    #[arg(long, default_value_t = 10)]
    pub members: usize,
    /// Messages per second, over all rooms.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Write the summary as JSON here.
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
    /// The idle scenario instead: hold this many authenticated connections for `duration`.
    #[arg(long)]
    pub idle: Option<usize>,
    /// The server's process id, to read its memory from `/proc` (local servers).
    #[arg(long)]
    pub server_pid: Option<u32>,
}

/// The result of one run.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub connections: usize,
    pub sent: u64,
    pub acked: u64,
    pub deliveries_expected: u64,
    pub deliveries_received: u64,
    pub lost: i64,
    pub duplicates: u64,
    pub deliveries_per_sec: f64,
    pub deliver_ms: Percentiles,
    pub ack_ms: Percentiles,
}

#[derive(Debug, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Percentiles {
    fn of(h: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            p50: ms(h.value_at_quantile(0.5)),
            p90: ms(h.value_at_quantile(0.9)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        }
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

struct Counters {
    sent: AtomicU64,
    acked: AtomicU64,
    received: AtomicU64,
    duplicates: AtomicU64,
}

/// Runs the scenario the arguments choose.
pub async fn main(args: BenchArgs) -> anyhow::Result<()> {
    match args.idle {
        Some(connections) => idle::run(&args, connections).await.map(|_| ()),
        None => run(args).await.map(|_| ()),
    }
}

/// The fan-out scenario: rooms × members at a total rate.
pub async fn run(args: BenchArgs) -> anyhow::Result<Summary> {
    anyhow::ensure!(
        !args.urls.is_empty() && args.rooms > 0 && args.rate > 0.0,
        "nothing to run"
    );
    let http = reqwest::Client::new();
    let tag = &uuid::Uuid::now_v7().simple().to_string()[20..];
    eprintln!(
        "bench {tag}: registering {} users",
        args.rooms * (args.members + 1)
    );
    let names: Vec<String> = (0..args.rooms * (args.members + 1))
        .map(|i| format!("b{tag}-{i}"))
        .collect();
    let tokens: Vec<String> = stream::iter(names.iter().enumerate())
        .map(|(i, name)| register(&http, &args.urls[i % args.urls.len()], name))
        .buffered(8)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    let mut rooms = Vec::new();
    for r in 0..args.rooms {
        let owner = &tokens[r * (args.members + 1)];
        let name = format!("bench-{tag}-{r}");
        let room = post(
            &http,
            &args.urls[0],
            owner,
            "/rooms",
            json!({"name": name, "visibility": "public"}),
        )
        .await?;
        let id = room["room"]["id"].as_str().context("room id")?.to_owned();
        for m in 1..=args.members {
            post(
                &http,
                &args.urls[0],
                &tokens[r * (args.members + 1) + m],
                "/rooms/join",
                json!({"name": name}),
            )
            .await?;
        }
        rooms.push(id);
    }
    let epoch = Instant::now();
    let counters = Arc::new(Counters {
        sent: AtomicU64::new(0),
        acked: AtomicU64::new(0),
        received: AtomicU64::new(0),
        duplicates: AtomicU64::new(0),
    });
    let stop_receiving = Arc::new(AtomicBool::new(false));
    eprintln!("bench {tag}: opening {} connections", tokens.len());
    let mut receivers = Vec::new();
    let mut senders = Vec::new();
    for (r, room) in rooms.iter().enumerate() {
        for m in 0..=args.members {
            let i = r * (args.members + 1) + m;
            let url = match (m, args.urls.len()) {
                (0, _) | (_, 1) => &args.urls[0],
                (_, n) => &args.urls[1 + (i % (n - 1))],
            };
            let ws = connect(url, &tokens[i]).await?;
            if m == 0 {
                senders.push((room.clone(), ws));
            } else {
                let (counters, stop) = (counters.clone(), stop_receiving.clone());
                receivers.push(tokio::spawn(receive(ws, epoch, counters, stop)));
            }
        }
    }
    let per_room = args.rate / args.rooms as f64;
    let until = Instant::now() + Duration::from_secs(args.duration);
    let sending: Vec<_> = senders
        .into_iter()
        .map(|(room, ws)| tokio::spawn(send(ws, room, per_room, until, epoch, counters.clone())))
        .collect();
    let progress = {
        let counters = counters.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                eprintln!(
                    "  sent {} acked {} delivered {}",
                    counters.sent.load(Ordering::Relaxed),
                    counters.acked.load(Ordering::Relaxed),
                    counters.received.load(Ordering::Relaxed)
                );
            }
        })
    };
    let started = Instant::now();
    let mut ack = histogram();
    for task in sending {
        ack.add(task.await??)?;
    }
    let expected = counters.acked.load(Ordering::Relaxed) * args.members as u64;
    let settle = Instant::now() + Duration::from_secs(10);
    while counters.received.load(Ordering::Relaxed) < expected && Instant::now() < settle {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    stop_receiving.store(true, Ordering::Relaxed);
    progress.abort();
    let mut deliver = histogram();
    for task in receivers {
        deliver.add(task.await??)?;
    }
    let received = counters.received.load(Ordering::Relaxed);
    let summary = Summary {
        connections: tokens.len(),
        sent: counters.sent.load(Ordering::Relaxed),
        acked: counters.acked.load(Ordering::Relaxed),
        deliveries_expected: expected,
        deliveries_received: received,
        lost: expected as i64 - received as i64,
        duplicates: counters.duplicates.load(Ordering::Relaxed),
        deliveries_per_sec: received as f64 / elapsed,
        deliver_ms: Percentiles::of(&deliver),
        ack_ms: Percentiles::of(&ack),
    };
    let text = serde_json::to_string_pretty(&summary)?;
    println!("{text}");
    if let Some(path) = &args.json {
        std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(summary)
}

pub(crate) async fn register(
    http: &reqwest::Client,
    url: &str,
    name: &str,
) -> anyhow::Result<String> {
    let body = json!({"username": name, "password": "bench password 1234"});
    let answer: Value = http
        .post(format!("{url}/api/v1/auth/register"))
        .json(&body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(answer["token"].as_str().context("token")?.to_owned())
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    path: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let res = http
        .post(format!("{url}/api/v1{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    Ok(res.error_for_status()?.json().await?)
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub(crate) async fn connect(url: &str, token: &str) -> anyhow::Result<Socket> {
    let ws_url = format!("{}/api/v1/ws", url.replacen("http", "ws", 1));
    let mut req = ws_url.into_client_request()?;
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(req, None, true)
        .await
        .context("opening a WebSocket")?;
    // Live messages start after the `last_seq` that `ready` reports: a client counting
    // deliveries must have its `ready` before the first send.
    loop {
        match ws.next().await {
            Some(Ok(WsMessage::Text(text))) if text.as_str().contains("\"type\":\"ready\"") => {
                return Ok(ws);
            }
            Some(Ok(_)) => continue,
            _ => anyhow::bail!("the socket closed before `ready`"),
        }
    }
}

fn micros(epoch: Instant) -> u64 {
    epoch.elapsed().as_micros() as u64
}

/// One sender: a message every `1/rate` seconds until `until`; returns send→ack latencies.
async fn send(
    mut ws: Socket,
    room: String,
    rate: f64,
    until: Instant,
    epoch: Instant,
    counters: Arc<Counters>,
) -> anyhow::Result<Histogram<u64>> {
    let mut acks = histogram();
    let mut pending: HashMap<String, u64> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut n = 0u64;
    loop {
        tokio::select! {
            _ = tick.tick(), if Instant::now() < until => {
                let at = micros(epoch);
                let client_id = format!("c{n}");
                n += 1;
                let frame = json!({"type": "send", "room_id": room, "client_id": client_id, "body": format!("t:{at}")});
                ws.send(WsMessage::text(frame.to_string())).await?;
                pending.insert(client_id, at);
                counters.sent.fetch_add(1, Ordering::Relaxed);
            }
            frame = ws.next() => {
                let Some(Ok(WsMessage::Text(text))) = frame else {
                    if frame.is_none() { anyhow::bail!("a sender's socket closed") } else { continue }
                };
                let event: Value = serde_json::from_str(&text)?;
                match event["type"].as_str() {
                    Some("ack") => {
                        if let Some(at) = event["client_id"].as_str().and_then(|c| pending.remove(c)) {
                            acks.record((micros(epoch) - at).max(1))?;
                            counters.acked.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Some("error") => eprintln!("  send refused: {event}"),
                    _ => {}
                }
                if Instant::now() >= until && pending.is_empty() {
                    return Ok(acks);
                }
            }
        }
    }
}

/// One receiver: records send→deliver latency and checks the room's `seq` order.
async fn receive(
    mut ws: Socket,
    epoch: Instant,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Histogram<u64>> {
    let mut latencies = histogram();
    let mut last_seq = 0i64;
    loop {
        let frame = tokio::time::timeout(Duration::from_millis(200), ws.next()).await;
        if stop.load(Ordering::Relaxed) {
            return Ok(latencies);
        }
        let Ok(Some(Ok(WsMessage::Text(text)))) = frame else {
            continue;
        };
        let event: Value = serde_json::from_str(&text)?;
        if event["type"] != "message" {
            continue;
        }
        let seq = event["message"]["seq"].as_i64().unwrap_or(0);
        if seq <= last_seq {
            counters.duplicates.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        last_seq = seq;
        if let Some(at) = event["message"]["body"]
            .as_str()
            .and_then(|b| b.strip_prefix("t:"))
            .and_then(|t| t.parse::<u64>().ok())
        {
            latencies.record((micros(epoch).saturating_sub(at)).max(1))?;
        }
        counters.received.fetch_add(1, Ordering::Relaxed);
    }
}
