//! The fan-out scenario (and its churn variant): R rooms × M members (× D devices), one
//! sender per room at a share of the total rate. Each receiver checks its room's `seq`s: a
//! `seq` seen twice is a duplicate, one never seen is lost. In churn, receivers drop their
//! socket every so often, reconnect, and `sync` from the last `seq` they hold; replayed
//! messages count as delivered but their latency (which includes the time away) does not go
//! into the histogram.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures_util::stream::{self, StreamExt};
use futures_util::{SinkExt, TryStreamExt};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_util::sync::CancellationToken;

use super::{
    Api, BenchArgs, Dialer, Percentiles, Phase, PhaseClock, Progress, Scenario, ServerMemory,
    Socket, histogram, last_seq_of, micros, ms, publish, report, spectrum,
};

/// The result of a fan-out or churn run.
#[derive(Debug, Serialize)]
pub struct FanoutSummary {
    pub scenario: Scenario,
    pub rooms: usize,
    pub members: usize,
    pub devices: usize,
    pub connections: usize,
    pub offered_rate: f64,
    pub duration_secs: u64,
    pub sent: u64,
    pub acked: u64,
    /// Sends the server refused with `busy` (past its capacity); not sent again.
    pub busy: u64,
    /// Of those acknowledged, changes (`--changes`): edits and reactions.
    pub changes: u64,
    pub deliveries_expected: u64,
    pub deliveries_received: u64,
    pub lost: i64,
    pub duplicates: u64,
    /// Deliveries over the time from the first send to the last delivery.
    pub deliveries_per_sec: f64,
    pub deliver_ms: Percentiles,
    pub ack_ms: Percentiles,
    /// Churn: reconnections, connect→`ready` and `sync`→`synced` times.
    pub reconnects: u64,
    pub reconnect_ms: Option<Percentiles>,
    pub resync_ms: Option<Percentiles>,
    pub server_memory: ServerMemory,
    /// Opening every connection (each announces its member online to the room: in a big room
    /// this is the presence storm).
    pub connecting: Phase,
    /// From the first send until the last delivery arrived (or the wait for it ended).
    pub sending: Phase,
    /// The server's CPU time while sending, per delivery.
    pub server_cpu_us_per_delivery: Option<f64>,
    /// Per second from the first send: messages sent, deliveries, and their latency.
    pub timeline: Vec<Second>,
    /// (percentile, ms) points of send→deliver and send→ack, for plots.
    pub deliver_spectrum: Vec<(f64, f64)>,
    pub ack_spectrum: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Second {
    pub t: usize,
    pub sent: u64,
    pub delivered: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Everything the sender and receiver tasks share.
struct Shared {
    /// The clock of the send stamps.
    epoch: Instant,
    /// When sending started, µs after `epoch` (`u64::MAX` before): second 0 of the timeline.
    start_us: AtomicU64,
    /// Cancelled when every connection is open: the senders start.
    go: CancellationToken,
    sent: AtomicU64,
    acked: AtomicU64,
    busy: AtomicU64,
    changes: AtomicU64,
    /// Bodies shaped as sealed ones (`--sealed`).
    sealed: bool,
    received: AtomicU64,
    duplicates: AtomicU64,
    reconnects: AtomicU64,
    sending_done: AtomicBool,
    stop: CancellationToken,
    recorder: Mutex<Recorder>,
    dialer: Dialer,
    churn: Option<f64>,
}

struct Recorder {
    deliver: Histogram<u64>,
    reconnect: Histogram<u64>,
    resync: Histogram<u64>,
    seconds: Vec<Bucket>,
}

/// One second of the timeline.
struct Bucket {
    sent: u64,
    delivered: u64,
    latency: Histogram<u64>,
}

impl Recorder {
    /// The bucket of the second `now_us` (µs after the epoch) falls in, counting from
    /// `start_us`.
    fn second(&mut self, start_us: u64, now_us: u64) -> &mut Bucket {
        let s = (now_us.saturating_sub(start_us) / 1_000_000) as usize;
        while self.seconds.len() <= s {
            self.seconds.push(Bucket {
                sent: 0,
                delivered: 0,
                latency: Histogram::new_with_bounds(1, 600_000_000, 2).expect("histogram bounds"),
            });
        }
        &mut self.seconds[s]
    }
}

enum Task {
    Sender(tokio::task::JoinHandle<anyhow::Result<Histogram<u64>>>),
    Receiver(tokio::task::JoinHandle<anyhow::Result<()>>),
}

/// One receiving connection's identity, to reconnect with.
struct Member {
    url: String,
    token: String,
    room: String,
    /// Spreads reconnect times.
    index: usize,
}

pub async fn run(args: &BenchArgs) -> anyhow::Result<FanoutSummary> {
    anyhow::ensure!(
        !args.urls.is_empty() && args.rooms > 0 && args.members > 0 && args.rate > 0.0,
        "nothing to run: --rooms, --members and --rate must be positive"
    );
    anyhow::ensure!(
        (0.0..=0.5).contains(&args.changes),
        "--changes must be between 0 and 0.5"
    );
    let api = Api::new(args)?;
    let per_room = args.members + 1;
    let tokens = api.accounts(args, args.rooms * per_room).await?;
    let tag = &uuid::Uuid::now_v7().simple().to_string()[20..];
    eprintln!(
        "bench: creating {} rooms of {} members",
        args.rooms, args.members
    );
    let url0 = &args.urls[0];
    let rooms: Vec<String> = stream::iter(0..args.rooms)
        .map(|r| {
            let (api, tokens) = (&api, &tokens);
            async move {
                let name = format!("bench-{tag}-{r}");
                let owner = &tokens[r * per_room];
                let (create, join) = if args.sealed {
                    let proof = stamp::PROOF;
                    (
                        json!({"name": name, "visibility": "private", "seal": stamp::seal()}),
                        json!({"name": name, "proof": proof}),
                    )
                } else {
                    (
                        json!({"name": name, "visibility": "public"}),
                        json!({"name": name}),
                    )
                };
                let room = api.post(url0, owner, "/rooms", create).await?;
                for m in 1..per_room {
                    api.post(url0, &tokens[r * per_room + m], "/rooms/join", join.clone())
                        .await?;
                }
                anyhow::Ok(room["room"]["id"].as_str().context("room id")?.to_owned())
            }
        })
        .buffered(8)
        .try_collect()
        .await?;

    let churn = (args.scenario == Scenario::Churn).then_some(args.reconnect_every.max(0.1));
    let memory = ServerMemory::before(args.server_pid);
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        start_us: AtomicU64::new(u64::MAX),
        go: CancellationToken::new(),
        sent: AtomicU64::new(0),
        acked: AtomicU64::new(0),
        busy: AtomicU64::new(0),
        changes: AtomicU64::new(0),
        sealed: args.sealed,
        received: AtomicU64::new(0),
        duplicates: AtomicU64::new(0),
        reconnects: AtomicU64::new(0),
        sending_done: AtomicBool::new(false),
        stop: CancellationToken::new(),
        recorder: Mutex::new(Recorder {
            deliver: histogram(),
            reconnect: histogram(),
            resync: histogram(),
            seconds: Vec::new(),
        }),
        dialer: Dialer::new(args)?,
        churn,
    });

    // Connections: senders on the first node, receivers spread over the others. Each one's
    // task starts reading at once, as a real client does (a socket left unread while thousands
    // of others open would fill with their presence events and be closed as a slow consumer).
    let receivers_per_room = args.members * args.devices;
    let total = args.rooms * (1 + receivers_per_room);
    eprintln!("bench: opening {total} connections");
    let connecting = PhaseClock::start(args.server_pid);
    let mut plan = Vec::with_capacity(total);
    for (r, room) in rooms.iter().enumerate() {
        plan.push((r, room.clone(), 0usize, url0.clone()));
        for d in 0..receivers_per_room {
            let m = 1 + d / args.devices;
            let i = plan.len();
            let url = match args.urls.len() {
                1 => url0.clone(),
                n => args.urls[1 + i % (n - 1)].clone(),
            };
            plan.push((r, room.clone(), m, url));
        }
    }
    // Each sender's period, and its first send spread over one period so that the total
    // rate is smooth rather than a burst from every sender at once.
    let period = Duration::from_secs_f64(args.rooms as f64 / args.rate);
    let until = Duration::from_secs(args.duration);
    let opened = AtomicU64::new(0);
    let tasks: Vec<_> = stream::iter(plan.into_iter().enumerate())
        .map(|(index, (r, room, m, url))| {
            let (shared, tokens, opened, api) = (&shared, &tokens, &opened, &api);
            async move {
                let token = tokens[r * per_room + m].clone();
                let (ws, ready) = shared.dialer.connect(&url, &token).await?;
                let n = opened.fetch_add(1, Ordering::Relaxed) + 1;
                if n % 1000 == 0 {
                    eprintln!("  {n}/{total} open");
                }
                if m == 0 {
                    let phase = period.mul_f64(r as f64 / args.rooms as f64);
                    let changer = (args.changes > 0.0).then(|| Changer {
                        api: api.clone(),
                        url: url.clone(),
                        token: token.clone(),
                        every: (1.0 / args.changes).round().max(2.0) as u64,
                        sealed: args.sealed,
                    });
                    // Client ids unique to this run: a `client_id` used before by the same account
                    // (in a room that still exists) would be acknowledged as a retry.
                    let task = send(
                        ws,
                        room,
                        format!("c{tag}"),
                        (phase, period, until),
                        changer,
                        shared.clone(),
                    );
                    return anyhow::Ok(Task::Sender(tokio::spawn(task)));
                }
                let last_seq = last_seq_of(&ready, &room);
                let member = Member {
                    url,
                    token,
                    room,
                    index,
                };
                let task = receive(member, ws, last_seq, shared.clone());
                anyhow::Ok(Task::Receiver(tokio::spawn(task)))
            }
        })
        .buffered(32)
        .try_collect()
        .await?;
    let (mut senders, mut receivers) = (Vec::new(), Vec::new());
    for task in tasks {
        match task {
            Task::Sender(t) => senders.push(t),
            Task::Receiver(t) => receivers.push(t),
        }
    }
    let connecting = connecting.stop();
    let sending = PhaseClock::start(args.server_pid);
    // Start: the timeline counts from now.
    shared
        .start_us
        .store(micros(shared.epoch), Ordering::Relaxed);
    shared.go.cancel();
    let progress = {
        let s = shared.clone();
        Progress::every_second(move || {
            format!(
                "sent {} acked {} busy {} delivered {} duplicates {} reconnects {}",
                s.sent.load(Ordering::Relaxed),
                s.acked.load(Ordering::Relaxed),
                s.busy.load(Ordering::Relaxed),
                s.received.load(Ordering::Relaxed),
                s.duplicates.load(Ordering::Relaxed),
                s.reconnects.load(Ordering::Relaxed),
            )
        })
    };
    let mut ack = histogram();
    for task in senders {
        ack.add(task.await??)?;
    }
    shared.sending_done.store(true, Ordering::Relaxed);
    let expected = shared.acked.load(Ordering::Relaxed) * receivers_per_room as u64;
    let settle = Instant::now() + Duration::from_secs(if churn.is_some() { 30 } else { 10 });
    while shared.received.load(Ordering::Relaxed) < expected && Instant::now() < settle {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let started_us = shared.start_us.load(Ordering::Relaxed);
    let elapsed = micros(shared.epoch).saturating_sub(started_us) as f64 / 1e6;
    let memory = memory.after(args.server_pid);
    let phases = (connecting, sending.stop());
    shared.stop.cancel();
    drop(progress);
    for task in receivers {
        task.await??;
    }
    let summary = summarise(
        args,
        &shared,
        total,
        expected,
        elapsed,
        &ack,
        (memory, phases),
    );
    publish(args, &summary)?;
    if let Some(path) = &args.report {
        report::write_fanout(path, &summary)?;
    }
    // Leave no traffic-less rooms behind for accounts that are used again.
    let deleted: Vec<_> = stream::iter(rooms.iter().enumerate())
        .map(|(r, id)| {
            let (api, owner) = (&api, &tokens[r * per_room]);
            async move {
                let path = format!("/rooms/{id}");
                api.call(reqwest::Method::DELETE, url0, owner, &path, None)
                    .await
            }
        })
        .buffered(8)
        .collect()
        .await;
    if let Some(Err(e)) = deleted.into_iter().find(Result::is_err) {
        eprintln!("bench: deleting the rooms afterwards: {e}");
    }
    Ok(summary)
}

fn summarise(
    args: &BenchArgs,
    shared: &Shared,
    total: usize,
    expected: u64,
    elapsed: f64,
    ack: &Histogram<u64>,
    (memory, (connecting, sending)): (ServerMemory, (Phase, Phase)),
) -> FanoutSummary {
    let received = shared.received.load(Ordering::Relaxed);
    let churn = shared.churn;
    let recorder = shared.recorder.lock().expect("recorder");
    FanoutSummary {
        scenario: args.scenario,
        rooms: args.rooms,
        members: args.members,
        devices: args.devices,
        connections: total,
        offered_rate: args.rate,
        duration_secs: args.duration,
        sent: shared.sent.load(Ordering::Relaxed),
        acked: shared.acked.load(Ordering::Relaxed),
        busy: shared.busy.load(Ordering::Relaxed),
        changes: shared.changes.load(Ordering::Relaxed),
        deliveries_expected: expected,
        deliveries_received: received,
        lost: expected as i64 - received as i64,
        duplicates: shared.duplicates.load(Ordering::Relaxed),
        deliveries_per_sec: received as f64 / elapsed,
        deliver_ms: Percentiles::of(&recorder.deliver),
        ack_ms: Percentiles::of(ack),
        reconnects: shared.reconnects.load(Ordering::Relaxed),
        reconnect_ms: churn.map(|_| Percentiles::of(&recorder.reconnect)),
        resync_ms: churn.map(|_| Percentiles::of(&recorder.resync)),
        server_memory: memory,
        connecting,
        sending,
        server_cpu_us_per_delivery: sending
            .server_cpu_secs
            .filter(|_| received > 0)
            .map(|cpu| cpu * 1e6 / received as f64),
        timeline: recorder
            .seconds
            .iter()
            .enumerate()
            .map(|(t, b)| Second {
                t,
                sent: b.sent,
                delivered: b.delivered,
                p50_ms: ms(b.latency.value_at_quantile(0.5)),
                p99_ms: ms(b.latency.value_at_quantile(0.99)),
                max_ms: ms(b.latency.max()),
            })
            .collect(),
        deliver_spectrum: spectrum(&recorder.deliver),
        ack_spectrum: spectrum(ack),
    }
}

/// The parts of a server event the bench reads (borrowed: no allocation per delivery).
#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    /// A change event's own `seq` (a message's is its message's).
    seq: Option<i64>,
    #[serde(borrow)]
    client_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    message: Option<Msg<'a>>,
    /// An `error`'s code.
    #[serde(borrow)]
    code: Option<Cow<'a, str>>,
}

/// An `error` event's fields the bench reads (its `message` is a text, not a message).
#[derive(Deserialize)]
struct ErrorEvent<'a> {
    #[serde(borrow)]
    client_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    code: Cow<'a, str>,
}

impl<'a> Event<'a> {
    fn parse(text: &'a str) -> anyhow::Result<Self> {
        if text.starts_with(r#"{"type":"error""#) {
            let e: ErrorEvent = serde_json::from_str(text)?;
            return Ok(Self {
                kind: "error".into(),
                seq: None,
                client_id: e.client_id,
                message: None,
                code: Some(e.code),
            });
        }
        Ok(serde_json::from_str(text)?)
    }
}

#[derive(Deserialize)]
struct Msg<'a> {
    seq: i64,
    #[serde(borrow)]
    body: Cow<'a, str>,
}

/// How a sender makes changes (`--changes`): every `every`-th send is one, over HTTP.
struct Changer {
    api: Api,
    url: String,
    token: String,
    every: u64,
    sealed: bool,
}

impl Changer {
    /// Edits the message `seq` (its body a fresh send stamp) or reacts to it; the change is
    /// counted as sent now and acknowledged when the server answers.
    fn change(
        &self,
        room: &str,
        seq: i64,
        edit: bool,
        at: u64,
        shared: &Arc<Shared>,
    ) -> tokio::task::JoinHandle<()> {
        let (api, url, token, shared) = (
            self.api.clone(),
            self.url.clone(),
            self.token.clone(),
            shared.clone(),
        );
        let (method, path, body) = if edit {
            (
                reqwest::Method::PATCH,
                format!("/rooms/{room}/messages/{seq}"),
                Some(json!({"body": stamp::write(at, self.sealed)})),
            )
        } else {
            (
                reqwest::Method::PUT,
                format!("/rooms/{room}/messages/{seq}/reactions/%F0%9F%91%8D"),
                None,
            )
        };
        shared.sent.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            match api.call(method, &url, &token, &path, body).await {
                Ok(_) => {
                    shared.acked.fetch_add(1, Ordering::Relaxed);
                    shared.changes.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => eprintln!("  change refused: {e}"),
            }
        })
    }
}

/// One sender: reads its socket until the start, then sends a message every `period` (the
/// first after `phase`) for `run` and waits for the last acks; returns send→ack latencies.
/// With a `changer`, some sends are changes to its latest acknowledged message instead.
async fn send(
    mut ws: Socket,
    room: String,
    tag: String,
    (phase, period, run): (Duration, Duration, Duration),
    changer: Option<Changer>,
    shared: Arc<Shared>,
) -> anyhow::Result<Histogram<u64>> {
    loop {
        tokio::select! {
            _ = shared.go.cancelled() => break,
            frame = ws.next() => if !matches!(frame, Some(Ok(_))) {
                anyhow::bail!("a sender's socket closed before the start");
            },
        }
    }
    let started = tokio::time::Instant::now();
    let until = Instant::now() + run;
    let mut tick = tokio::time::interval_at(started + phase, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut acks = histogram();
    let mut pending: HashMap<u64, u64> = HashMap::new();
    let mut n = 0u64;
    // The latest acknowledged message, and whether it has had its reaction (each message
    // gets at most one, so every change is a real one).
    let (mut latest, mut reacted) = (None::<i64>, false);
    let mut changes = Vec::new();
    let mut tick_no = 0u64;
    // The number of one of this sender's sends, from an answer's `client_id`.
    let own = |event: &Event| -> Option<u64> {
        let id = event.client_id.as_deref()?;
        id.strip_prefix(tag.as_str())?
            .strip_prefix('.')?
            .parse()
            .ok()
    };
    loop {
        tokio::select! {
            _ = tick.tick(), if Instant::now() < until => {
                let at = micros(shared.epoch);
                tick_no += 1;
                if let (Some(c), Some(seq)) = (&changer, latest) {
                    if tick_no % c.every == 0 {
                        let edit = reacted || (tick_no / c.every) % 2 == 0;
                        reacted |= !edit;
                        changes.push(c.change(&room, seq, edit, at, &shared));
                        shared.recorder.lock().expect("recorder").second(shared.start_us.load(Ordering::Relaxed), at).sent += 1;
                        continue;
                    }
                }
                let frame = json!({"type": "send", "room_id": room, "client_id": format!("{tag}.{n}"), "body": stamp::write(at, shared.sealed)});
                ws.send(WsMessage::text(frame.to_string())).await?;
                pending.insert(n, at);
                n += 1;
                shared.sent.fetch_add(1, Ordering::Relaxed);
                shared.recorder.lock().expect("recorder").second(shared.start_us.load(Ordering::Relaxed), at).sent += 1;
            }
            frame = ws.next() => {
                let Some(Ok(WsMessage::Text(text))) = frame else {
                    if frame.is_none() { anyhow::bail!("a sender's socket closed") } else { continue }
                };
                let event = Event::parse(&text)?;
                match &*event.kind {
                    "ack" => {
                        let sent = own(&event).and_then(|c| pending.remove(&c));
                        if let Some(at) = sent {
                            acks.record((micros(shared.epoch) - at).max(1))?;
                            shared.acked.fetch_add(1, Ordering::Relaxed);
                        }
                        if let Some(msg) = &event.message {
                            if latest.is_none_or(|l| msg.seq > l) {
                                latest = Some(msg.seq);
                                reacted = false;
                            }
                        }
                    }
                    "error" if event.code.as_deref() == Some("busy") => {
                        // Offered load the server pushed back: it was never stored.
                        let refused = own(&event).and_then(|c| pending.remove(&c));
                        shared.busy.fetch_add(u64::from(refused.is_some()), Ordering::Relaxed);
                    }
                    "error" => eprintln!("  send refused: {text}"),
                    _ => {}
                }
            }
        }
        if Instant::now() >= until && pending.is_empty() {
            for change in changes {
                let _ = change.await;
            }
            return Ok(acks);
        }
    }
}

/// The `seq`s one receiver holds: everything up to `upto`, plus some above it.
struct Seen {
    upto: i64,
    above: BTreeSet<i64>,
}

impl Seen {
    /// Whether `seq` is new (and now held).
    fn take(&mut self, seq: i64) -> bool {
        if seq <= self.upto || !self.above.insert(seq) {
            return false;
        }
        while self.above.remove(&(self.upto + 1)) {
            self.upto += 1;
        }
        true
    }
}

/// One receiver: counts and times deliveries; in churn, drops and resumes its socket.
async fn receive(
    member: Member,
    mut ws: Socket,
    last_seq: i64,
    shared: Arc<Shared>,
) -> anyhow::Result<()> {
    let mut seen = Seen {
        upto: last_seq,
        above: BTreeSet::new(),
    };
    // Messages above this `seq` arrived live on the current socket.
    let mut live_after = last_seq;
    let mut cycle = 0usize;
    let away_at = |cycle: usize| {
        shared.churn.map(|mean| {
            // Spread over 0.5–1.5 × the mean, differently per receiver and cycle.
            let spread = ((member.index * 7919 + cycle * 104_729) % 1000) as f64 / 1000.0;
            Instant::now() + Duration::from_secs_f64(mean * (0.5 + spread))
        })
    };
    let mut reconnect_at = away_at(cycle);
    let mut sync_sent: Option<Instant> = None;
    loop {
        // No timers per receiver while waiting (thousands of them would cost the machine the
        // server runs on): the next frame, the stop signal, or this receiver's reconnect time.
        let reconnect = async {
            match reconnect_at {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        let frame = tokio::select! {
            _ = shared.stop.cancelled() => return Ok(()),
            _ = reconnect => None,
            frame = ws.next() => Some(frame),
        };
        let Some(frame) = frame else {
            if shared.sending_done.load(Ordering::Relaxed) {
                reconnect_at = None; // catch up on this socket
                continue;
            }
            let _ = ws.close(None).await;
            let began = Instant::now();
            let (fresh, ready) = shared.dialer.connect(&member.url, &member.token).await?;
            let took = began.elapsed().as_micros() as u64;
            ws = fresh;
            live_after = last_seq_of(&ready, &member.room);
            let since = json!({"type": "sync", "since": {member.room.as_str(): seen.upto}});
            ws.send(WsMessage::text(since.to_string())).await?;
            sync_sent = Some(Instant::now());
            shared.reconnects.fetch_add(1, Ordering::Relaxed);
            shared
                .recorder
                .lock()
                .expect("recorder")
                .reconnect
                .record(took.max(1))?;
            cycle += 1;
            reconnect_at = away_at(cycle);
            continue;
        };
        let text = match frame {
            Some(Ok(WsMessage::Text(text))) => text,
            Some(Ok(_)) => continue,
            None | Some(Err(_)) => anyhow::bail!("a receiver's socket closed"),
        };
        let event = Event::parse(&text)?;
        let timeline = matches!(
            &*event.kind,
            "message" | "message_edited" | "reaction_added"
        );
        match (timeline, event.message) {
            (true, Some(msg)) => {
                // A change is timed by its edit's stamp; a reaction carries an older body.
                let seq = event.seq.unwrap_or(msg.seq);
                let timed = event.kind != "reaction_added";
                if !seen.take(seq) {
                    shared.duplicates.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                shared.received.fetch_add(1, Ordering::Relaxed);
                let now = micros(shared.epoch);
                let mut recorder = shared.recorder.lock().expect("recorder");
                let second = recorder.second(shared.start_us.load(Ordering::Relaxed), now);
                second.delivered += 1;
                let sent_at = stamp::read(&msg.body);
                if let Some(at) = sent_at.filter(|_| timed && seq > live_after) {
                    let latency = now.saturating_sub(at).max(1);
                    second.latency.record(latency)?;
                    recorder.deliver.record(latency)?;
                }
            }
            (false, _) if event.kind == "synced" => {
                if let Some(at) = sync_sent.take() {
                    let took = at.elapsed().as_micros() as u64;
                    shared
                        .recorder
                        .lock()
                        .expect("recorder")
                        .resync
                        .record(took.max(1))?;
                }
            }
            _ => {}
        }
    }
}

/// The send time a bench body carries, in microseconds since the run's epoch: `t:<us>` in
/// plain rooms; in sealed rooms a body of the shape (and size) a browser makes of a
/// 100-character message, `sealed:v1:` and base64url of 174 bytes, the first 8 the time.
mod stamp {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    /// The join proof of every bench room (the server keeps only its hash).
    pub(super) const PROOF: &str = "YmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtYmU";

    /// A sealed room's seal: the server checks its shape only.
    pub(super) fn seal() -> serde_json::Value {
        serde_json::json!({
            "iterations": 600000,
            "salt": URL_SAFE_NO_PAD.encode([7u8; 16]),
            "check": URL_SAFE_NO_PAD.encode([9u8; 50]),
            "proof": PROOF,
        })
    }

    pub(super) fn write(at: u64, sealed: bool) -> String {
        if !sealed {
            return format!("t:{at}");
        }
        let mut bytes = [0x5au8; 174];
        bytes[..8].copy_from_slice(&at.to_le_bytes());
        format!("sealed:v1:{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    pub(super) fn read(body: &str) -> Option<u64> {
        if let Some(t) = body.strip_prefix("t:") {
            return t.parse().ok();
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(body.strip_prefix("sealed:v1:")?)
            .ok()?;
        Some(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?))
    }
}
