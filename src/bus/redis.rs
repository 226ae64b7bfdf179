//! The cluster bus over Redis pub/sub. Each event is published once, on its room's channel
//! (`natter:room:<id>`) or its user's (`natter:user:<id>`); a node subscribes only to the
//! rooms and users it has local connections for, following the hub's interest changes.
//!
//! A node hands its own events to its hub at once (no round trip, and its own clients keep
//! working while Redis is away) and ignores them when they come back from Redis. When the
//! subscription connection drops, the node reconnects with backoff, resubscribes to
//! everything it listens to, and then closes its sockets with 1012 ("service restart") so
//! that clients reconnect and `sync`: whatever other nodes published meanwhile comes from
//! the store, so nothing acknowledged is lost.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::{Bus, BusEvent};
use crate::crypto::BusSealer;

/// A client for `url`: with `rediss://` and `ca` (a PEM file), trusting that authority only.
pub fn client(url: &str, ca: Option<&Path>) -> anyhow::Result<redis::Client> {
    let Some(ca) = ca.filter(|_| url.starts_with("rediss://")) else {
        if ca.is_some() {
            tracing::warn!("redis_ca_cert is set but redis_url is not rediss://: no TLS to Redis");
        }
        return Ok(redis::Client::open(url)?);
    };
    let root_cert = std::fs::read(ca)
        .map_err(|e| anyhow::anyhow!("reading redis_ca_cert {}: {e}", ca.display()))?;
    let certs = redis::TlsCertificates {
        client_tls: None,
        root_cert: Some(root_cert),
    };
    Ok(redis::Client::build_with_tls(url, certs)?)
}
use crate::domain::{PresenceStatus, UserId};
use crate::hub::{Hub, Interest};
use crate::protocol::close;

/// Events waiting to be published; past this, events for other nodes are dropped (and those
/// nodes' clients catch up when the bus recovers).
const OUTBOX: usize = 65_536;
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What travels on a channel.
#[derive(Serialize, Deserialize)]
struct Envelope {
    /// The publishing node, which ignores its own events.
    node: String,
    event: BusEvent,
}

fn channel_of(interest: &Interest) -> String {
    match interest {
        Interest::Room(room, _) => format!("natter:room:{room}"),
        Interest::User(user, _) => format!("natter:user:{user}"),
    }
}

fn event_channel(event: &BusEvent) -> String {
    match event {
        BusEvent::Room { room_id, .. } => format!("natter:room:{room_id}"),
        BusEvent::User { user_id, .. } => format!("natter:user:{user_id}"),
        BusEvent::Settings => SERVER_CHANNEL.to_owned(),
    }
}

/// Events for every node: the server settings changed.
const SERVER_CHANNEL: &str = "natter:server";

pub struct RedisBus {
    hub: Arc<Hub>,
    node: String,
    outbox: mpsc::Sender<(String, Vec<u8>)>,
    state: Arc<Health>,
    sealer: Arc<BusSealer>,
}

/// Shared health of the bus, for `/readyz` and `/metrics`.
#[derive(Default)]
pub struct Health {
    pub connected: AtomicBool,
    pub reconnects: AtomicU64,
}

impl RedisBus {
    /// Starts the publisher and subscriber tasks for `url` (`redis://host:port`).
    /// Events are sealed with `sealer` (from the master key every node holds): Redis, and
    /// anyone reading its traffic, sees channel names (room and user ids) and sizes only.
    pub fn start(
        url: &str,
        ca: Option<&Path>,
        hub: Arc<Hub>,
        node: String,
        sealer: BusSealer,
    ) -> anyhow::Result<Arc<Self>> {
        let sealer = Arc::new(sealer);
        let client = client(url, ca)?;
        let (outbox, queued) = mpsc::channel(OUTBOX);
        let state = Arc::new(Health::default());
        let bus = Arc::new(Self {
            hub: hub.clone(),
            node: node.clone(),
            outbox,
            state: state.clone(),
            sealer: sealer.clone(),
        });
        tokio::spawn(publish_loop(client.clone(), queued));
        tokio::spawn(subscribe_loop(client, hub, node, state, sealer));
        Ok(bus)
    }

    pub fn health(&self) -> &Health {
        &self.state
    }
}

impl Bus for RedisBus {
    fn publish(&self, event: BusEvent) {
        let channel = event_channel(&event);
        let envelope = Envelope {
            node: self.node.clone(),
            event,
        };
        let payload = self.sealer.seal(
            &channel,
            &serde_json::to_vec(&envelope).expect("bus events serialise"),
        );
        self.hub.apply(envelope.event);
        if self.outbox.try_send((channel, payload)).is_err() {
            tracing::warn!("bus outbox full: an event did not reach the other nodes");
        }
    }

    fn is_connected(&self) -> bool {
        self.state.connected.load(Ordering::Relaxed)
    }
}

async fn publish_loop(client: redis::Client, mut queued: mpsc::Receiver<(String, Vec<u8>)>) {
    let mut backoff = Duration::from_millis(100);
    // An event whose publication failed: tried once more on the next connection.
    let mut retry: Option<(String, Vec<u8>)> = None;
    'connect: loop {
        let mut conn = match client.get_multiplexed_async_connection().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "redis publisher: connecting");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        loop {
            let (channel, payload, retried) = match retry.take() {
                Some((channel, payload)) => (channel, payload, true),
                None => match queued.recv().await {
                    Some((channel, payload)) => (channel, payload, false),
                    None => return, // the bus was dropped
                },
            };
            let sent: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                .arg(&channel)
                .arg(&payload)
                .query_async(&mut conn)
                .await;
            if let Err(e) = sent {
                if retried {
                    tracing::warn!(error = %e, "redis publisher: an event was not published");
                } else {
                    retry = Some((channel, payload));
                }
                continue 'connect;
            }
        }
    }
}

async fn subscribe_loop(
    client: redis::Client,
    hub: Arc<Hub>,
    node: String,
    health: Arc<Health>,
    sealer: Arc<BusSealer>,
) {
    let (mut interest, _) = hub.watch_interest();
    let mut backoff = Duration::from_millis(100);
    let mut first = true;
    loop {
        let pubsub = match client.get_async_pubsub().await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "redis subscriber: connecting");
                health.connected.store(false, Ordering::Relaxed);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        let (mut sink, mut stream) = pubsub.split();
        let mut ok = true;
        let channels = hub.interests().iter().map(channel_of).collect::<Vec<_>>();
        for channel in std::iter::once(SERVER_CHANNEL.to_owned()).chain(channels) {
            if sink.subscribe(channel).await.is_err() {
                ok = false;
                break;
            }
        }
        if !ok {
            continue;
        }
        backoff = Duration::from_millis(100);
        health.connected.store(true, Ordering::Relaxed);
        if !first {
            health.reconnects.fetch_add(1, Ordering::Relaxed);
            metrics::counter!(crate::metrics::BUS_RECONNECTS).increment(1);
            tracing::info!("redis subscriber: reconnected; asking clients to resync");
            hub.close_all(close::SERVICE_RESTART);
            // A settings change may have gone by meanwhile.
            hub.apply(BusEvent::Settings);
        }
        first = false;
        loop {
            tokio::select! {
                message = stream.next() => {
                    let Some(message) = message else { break };
                    let opened = sealer.open(message.get_channel_name(), message.get_payload_bytes());
                    let Some(envelope) = opened.ok().and_then(|p| serde_json::from_slice::<Envelope>(&p).ok()) else {
                        tracing::warn!("redis subscriber: an unreadable event");
                        continue;
                    };
                    if envelope.node != node {
                        hub.apply(envelope.event);
                    }
                }
                change = interest.recv() => {
                    let Some(change) = change else { return };
                    let channel = channel_of(&change);
                    let done = match &change {
                        Interest::Room(_, true) | Interest::User(_, true) => sink.subscribe(channel).await,
                        _ => sink.unsubscribe(channel).await,
                    };
                    if done.is_err() {
                        break;
                    }
                    if let Interest::Room(room, true) = &change {
                        hub.room_live(room);
                    }
                }
            }
        }
        tracing::warn!("redis subscriber: connection lost; reconnecting");
        health.connected.store(false, Ordering::Relaxed);
    }
}

/// Presence across nodes: each node records, per user, what its own connections show
/// (`natter:presence:<user>`, one field per node) and keeps a liveness key
/// (`natter:alive:<node>`, refreshed every 10 s, expiring after 30 s). What others see is the
/// best status over the live nodes, so a user with tabs on two nodes stays online until the
/// last one closes, and a killed node's users fade out with its liveness key.
pub struct PresenceBoard {
    conn: redis::aio::ConnectionManager,
    node: String,
}

const ALIVE_SECS: u64 = 30;

fn rank(status: PresenceStatus) -> u8 {
    match status {
        PresenceStatus::Offline => 0,
        PresenceStatus::Away => 1,
        PresenceStatus::Online => 2,
    }
}

fn parse(status: &str) -> PresenceStatus {
    match status {
        "online" => PresenceStatus::Online,
        "away" => PresenceStatus::Away,
        _ => PresenceStatus::Offline,
    }
}

impl PresenceBoard {
    pub async fn start(url: &str, ca: Option<&Path>, node: String) -> anyhow::Result<Arc<Self>> {
        let client = client(url, ca)?;
        let conn = redis::aio::ConnectionManager::new(client).await?;
        let board = Arc::new(Self { conn, node });
        bounded(board.heartbeat()).await?;
        let beating = board.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(ALIVE_SECS / 3));
            loop {
                tick.tick().await;
                if let Err(e) = bounded(beating.heartbeat()).await {
                    tracing::warn!(error = %e, "presence heartbeat");
                }
            }
        });
        Ok(board)
    }

    async fn heartbeat(&self) -> redis::RedisResult<()> {
        let mut conn = self.conn.clone();
        redis::cmd("SET")
            .arg(format!("natter:alive:{}", self.node))
            .arg(1)
            .arg("EX")
            .arg(ALIVE_SECS)
            .query_async(&mut conn)
            .await
    }

    /// What others see of the user over all live nodes. Gives up after [`BOARD_TIMEOUT`]:
    /// presence must never hold up a socket while Redis is away.
    pub async fn status(&self, user: &UserId) -> redis::RedisResult<PresenceStatus> {
        bounded(self.status_now(user)).await
    }

    async fn status_now(&self, user: &UserId) -> redis::RedisResult<PresenceStatus> {
        let mut conn = self.conn.clone();
        let fields: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(format!("natter:presence:{user}"))
            .query_async(&mut conn)
            .await?;
        if fields.is_empty() {
            return Ok(PresenceStatus::Offline);
        }
        let mut alive = redis::cmd("MGET");
        for (node, _) in &fields {
            alive.arg(format!("natter:alive:{node}"));
        }
        let alive: Vec<Option<String>> = alive.query_async(&mut conn).await?;
        let best = fields
            .iter()
            .zip(alive)
            .filter(|(_, alive)| alive.is_some())
            .map(|((_, status), _)| parse(status))
            .max_by_key(|s| rank(*s));
        Ok(best.unwrap_or(PresenceStatus::Offline))
    }

    /// Records this node's view of the user; returns what others saw before and see now.
    pub async fn record(
        &self,
        user: &UserId,
        local: PresenceStatus,
    ) -> redis::RedisResult<(PresenceStatus, PresenceStatus)> {
        bounded(self.record_now(user, local)).await
    }

    async fn record_now(
        &self,
        user: &UserId,
        local: PresenceStatus,
    ) -> redis::RedisResult<(PresenceStatus, PresenceStatus)> {
        let before = self.status_now(user).await?;
        let mut conn = self.conn.clone();
        let key = format!("natter:presence:{user}");
        let _: () = match local {
            PresenceStatus::Offline => {
                redis::cmd("HDEL")
                    .arg(&key)
                    .arg(&self.node)
                    .query_async(&mut conn)
                    .await?
            }
            _ => {
                let value = if local == PresenceStatus::Online {
                    "online"
                } else {
                    "away"
                };
                redis::cmd("HSET")
                    .arg(&key)
                    .arg(&self.node)
                    .arg(value)
                    .query_async(&mut conn)
                    .await?
            }
        };
        Ok((before, self.status_now(user).await?))
    }
}

/// How long a presence lookup may take before the node answers from its own view.
const BOARD_TIMEOUT: Duration = Duration::from_millis(500);

async fn bounded<T>(
    work: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> redis::RedisResult<T> {
    match tokio::time::timeout(BOARD_TIMEOUT, work).await {
        Ok(result) => result,
        Err(_) => Err(redis::RedisError::from((
            redis::ErrorKind::IoError,
            "presence board timed out",
        ))),
    }
}
