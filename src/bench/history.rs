//! The history scenario: fill one room up to `--messages` (timing how many messages per second
//! are durably stored: a deep pipeline of sends on one socket, acknowledged after commit), then
//! time history reads over HTTP: the newest page, paging back from the newest, and pages at
//! random depths; and searches in the room: a word every message has, a rare word (a
//! message's number, as a prefix), and two words. The room is kept, so a second run reads at
//! once.

use std::time::Instant;

use anyhow::Context as _;
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::{
    Api, BenchArgs, Dialer, Percentiles, Progress, ServerMemory, histogram, last_seq_of, publish,
    report, spectrum,
};

/// Sends in flight while filling.
const WINDOW: u64 = 2000;
/// Messages per page read.
const PAGE: usize = 50;

#[derive(Debug, Serialize)]
pub struct HistorySummary {
    pub room: String,
    pub messages_in_room: i64,
    /// Messages this run sent to reach `--messages`, how long that took, and the rate.
    pub filled: u64,
    pub fill_secs: f64,
    pub stored_per_sec: Option<f64>,
    pub store_ack_ms: Option<Percentiles>,
    pub page_size: usize,
    pub newest_page_ms: Percentiles,
    pub page_back_ms: Percentiles,
    pub random_depth_page_ms: Percentiles,
    /// `GET /search` in the room (20 results): a word in every message ("fox"), a rare one
    /// (a message number, which also begins a few others), and two words ("quick fox").
    pub search_common_word_ms: Percentiles,
    pub search_rare_word_ms: Percentiles,
    pub search_two_words_ms: Percentiles,
    pub server_memory: ServerMemory,
    /// (percentile, ms) points per kind of read, for plots.
    pub spectra: Vec<(String, Vec<(f64, f64)>)>,
}

pub async fn run(args: &BenchArgs) -> anyhow::Result<HistorySummary> {
    let api = Api::new(args)?;
    let url = &args.urls[0];
    let token = api.accounts(args, 1).await?.remove(0);
    let memory = ServerMemory::before(args.server_pid);
    let room_id = find_or_create(&api, url, &token, &args.room).await?;
    let dialer = Dialer::new(args)?;
    let (mut ws, ready) = dialer.connect(url, &token).await?;
    let mut last_seq = last_seq_of(&ready, &room_id);
    let missing = (args.messages as i64 - last_seq).max(0) as u64;

    // Fill, with a window of sends in flight.
    let started = Instant::now();
    let mut acks = histogram();
    let (mut sent, mut acked) = (0u64, 0u64);
    let mut sent_at = std::collections::VecDeque::new();
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let progress = (missing > 0).then(|| {
        eprintln!("bench: storing {missing} messages in {:?}", args.room);
        let counter = counter.clone();
        Progress::every_second(move || {
            format!(
                "{} stored",
                counter.load(std::sync::atomic::Ordering::Relaxed)
            )
        })
    });
    while acked < missing {
        while sent < missing && sent - acked < WINDOW {
            let frame = json!({"type": "send", "room_id": room_id, "client_id": format!("h{}-{sent}", started.elapsed().as_nanos()),
                "body": format!("history message {sent}: the quick brown fox jumps over the lazy dog")});
            ws.feed(WsMessage::text(frame.to_string())).await?;
            sent_at.push_back(Instant::now());
            sent += 1;
        }
        ws.flush().await?;
        let Some(frame) = ws.next().await else {
            anyhow::bail!("the socket closed while filling");
        };
        let WsMessage::Text(text) = frame? else {
            continue;
        };
        let event: Value = serde_json::from_str(&text)?;
        match event["type"].as_str() {
            Some("ack") => {
                // Acks come in the order of the sends on one socket.
                let at = sent_at.pop_front().context("an ack for nothing sent")?;
                acks.record((at.elapsed().as_micros() as u64).max(1))?;
                acked += 1;
                counter.store(acked, std::sync::atomic::Ordering::Relaxed);
                last_seq = last_seq.max(event["message"]["seq"].as_i64().unwrap_or(0));
            }
            Some("error") => anyhow::bail!("a send was refused: {text}"),
            _ => {}
        }
    }
    let fill_secs = started.elapsed().as_secs_f64();
    drop(progress);
    let _ = ws.close(None).await;

    // Reads.
    eprintln!("bench: timing {} reads of each kind", args.reads);
    let path = format!("/rooms/{room_id}/messages?limit={PAGE}");
    let mut newest = histogram();
    for _ in 0..args.reads {
        let began = Instant::now();
        api.get(url, &token, &path).await?;
        newest.record((began.elapsed().as_micros() as u64).max(1))?;
    }
    let mut back = histogram();
    let mut before = last_seq + 1;
    for _ in 0..args.reads {
        let began = Instant::now();
        let page = api
            .get(url, &token, &format!("{path}&before={before}"))
            .await?;
        back.record((began.elapsed().as_micros() as u64).max(1))?;
        before = match page["messages"][0]["seq"].as_i64() {
            Some(first) if first > 1 => first,
            _ => last_seq + 1, // reached the start: go round again
        };
    }
    let mut deep = histogram();
    for i in 0..args.reads as i64 {
        // Spread over the whole room, deterministically.
        let at = 1 + (i * 7_919_993 + 104_729) % last_seq.max(1);
        let began = Instant::now();
        api.get(url, &token, &format!("{path}&before={}", at.max(1)))
            .await?;
        deep.record((began.elapsed().as_micros() as u64).max(1))?;
    }
    let search = |q: String| {
        let (api, token) = (&api, &token);
        let path = format!("/search?room_id={room_id}&limit=20&q={q}");
        async move {
            let began = Instant::now();
            let page = api.get(url, token, &path).await?;
            anyhow::ensure!(page["results"].is_array(), "a search answered {page}");
            anyhow::Ok((began.elapsed().as_micros() as u64).max(1))
        }
    };
    let (mut common, mut rare, mut two) = (histogram(), histogram(), histogram());
    for i in 0..args.reads as i64 {
        common.record(search("fox".into()).await?)?;
        let number = (i * 7_919_993 + 104_729) % last_seq.max(1);
        rare.record(search(number.to_string()).await?)?;
        two.record(search("quick%20fox".into()).await?)?;
    }
    let summary = HistorySummary {
        room: args.room.clone(),
        messages_in_room: last_seq,
        filled: missing,
        fill_secs,
        stored_per_sec: (missing > 0).then(|| missing as f64 / fill_secs),
        store_ack_ms: (missing > 0).then(|| Percentiles::of(&acks)),
        page_size: PAGE,
        newest_page_ms: Percentiles::of(&newest),
        page_back_ms: Percentiles::of(&back),
        random_depth_page_ms: Percentiles::of(&deep),
        search_common_word_ms: Percentiles::of(&common),
        search_rare_word_ms: Percentiles::of(&rare),
        search_two_words_ms: Percentiles::of(&two),
        server_memory: memory.after(args.server_pid),
        spectra: vec![
            ("newest page".into(), spectrum(&newest)),
            ("paging back".into(), spectrum(&back)),
            ("random depth".into(), spectrum(&deep)),
            ("search: common word".into(), spectrum(&common)),
            ("search: rare word".into(), spectrum(&rare)),
            ("search: two words".into(), spectrum(&two)),
            ("store (send→ack)".into(), spectrum(&acks)),
        ],
    };
    publish(args, &summary)?;
    if let Some(path) = &args.report {
        report::write_history(path, &summary)?;
    }
    Ok(summary)
}

/// The room's id: joined by name (a member, even its owner, just gets it back), else created.
async fn find_or_create(api: &Api, url: &str, token: &str, name: &str) -> anyhow::Result<String> {
    let room = match api
        .post(url, token, "/rooms/join", json!({"name": name}))
        .await
    {
        Ok(room) => room,
        Err(_) => {
            let body = json!({"name": name, "visibility": "public"});
            api.post(url, token, "/rooms", body).await?
        }
    };
    Ok(room["room"]["id"].as_str().context("room id")?.to_owned())
}
