//! The writer: the only task that writes to a socket. It drains everything queued for the
//! connection and flushes once per wakeup; keeps each room's stream gap-free and
//! duplicate-free by `seq` (see [`Track`]); and runs `sync` replays, so they interleave
//! correctly with live messages. Generic over the `Sink` it writes to.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use axum::extract::ws::Message as WsMessage;
use futures_util::{FutureExt as _, Sink, SinkExt};
use tokio::sync::{mpsc, watch};

use super::conn::{Control, close_frame, error_event};
use super::track::{Admit, Track};
use crate::app::AppState;
use crate::bus::JoinPoint;
use crate::chat::Error;
use crate::domain::{EventKind, NotifyLevel, RoomId, Seq, UserId};
use crate::hub::Outbound;
use crate::protocol::{ServerEvent, close};

/// Gives up on a write that does not finish in [`WRITE_TIMEOUT`] (a peer that stopped reading
/// keeps the socket writable no more: the writer must not wait on it forever).
async fn bounded(write: impl Future<Output = Result<(), axum::Error>>) -> Result<(), axum::Error> {
    match tokio::time::timeout(WRITE_TIMEOUT, write).await {
        Ok(done) => done,
        Err(_) => Err(axum::Error::new(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "write stalled",
        ))),
    }
}

/// Frames taken from the queue per wakeup (then one flush).
const DRAIN: usize = 256;
/// A write that does not finish in this time means the peer is gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) struct Writer {
    pub app: AppState,
    /// Whose connection this is (only the id is needed, so the profile is not kept).
    pub user_id: UserId,
    pub tracks: HashMap<RoomId, Track>,
    /// The user's notification level per room (absent: the default for the room's kind).
    pub levels: HashMap<RoomId, NotifyLevel>,
    /// The direct rooms among the user's rooms.
    pub direct: HashSet<RoomId>,
    /// Metric handles, looked up once rather than per delivery.
    pub metrics: DeliveryMetrics,
}

pub(super) struct DeliveryMetrics {
    deliveries: metrics::Counter,
    send_to_deliver: metrics::Histogram,
    /// Since the last report to the committer's [`Pressure`](crate::chat::pressure::Pressure): messages
    /// written, and how many of them late.
    written: u64,
    late: u64,
}

impl DeliveryMetrics {
    pub fn new() -> Self {
        Self {
            deliveries: metrics::counter!(crate::metrics::DELIVERIES),
            send_to_deliver: metrics::histogram!(crate::metrics::SEND_TO_DELIVER),
            written: 0,
            late: 0,
        }
    }
}

impl Writer {
    pub async fn run<S>(
        &mut self,
        sink: &mut S,
        mut queue: mpsc::Receiver<Outbound>,
        mut control: mpsc::Receiver<Control>,
        mut closing: watch::Receiver<Option<u16>>,
    ) where
        S: Sink<WsMessage, Error = axum::Error> + Unpin,
    {
        let mut ping = tokio::time::interval(Duration::from_secs(
            self.app.config.ping_interval_secs.max(1),
        ));
        ping.reset();
        // Grows to the largest batch seen: an idle connection holds almost nothing.
        let mut batch = Vec::new();
        let code = loop {
            let written = tokio::select! {
                biased;
                _ = closing.changed() => break closing.borrow().unwrap_or(close::GOING_AWAY),
                Some(c) = control.recv() => bounded(self.control(sink, c)).await,
                n = queue.recv_many(&mut batch, DRAIN) => {
                    if n == 0 { break close::GOING_AWAY; }
                    let written = bounded(self.deliver(sink, &mut batch)).await;
                    let m = &mut self.metrics;
                    self.app.chat.committer.pressure().delivered(std::mem::take(&mut m.written), std::mem::take(&mut m.late));
                    written
                }
                _ = ping.tick() => bounded(sink.feed(WsMessage::Ping(Default::default()))).await,
            };
            let flushed = match written {
                Ok(()) => tokio::time::timeout(WRITE_TIMEOUT, sink.flush()).await,
                Err(e) => Ok(Err(e)),
            };
            if !matches!(flushed, Ok(Ok(()))) {
                return; // the peer is gone or stalled
            }
        };
        if code != close::SLOW_CONSUMER {
            // Going away or signed out: what was already queued still goes out first.
            // Replies keep coming until the reader is done (on shutdown it first waits for the
            // acks of sends still being committed).
            while let Ok(Some(c)) = tokio::time::timeout(WRITE_TIMEOUT, control.recv()).await {
                if bounded(self.control(sink, c)).await.is_err() {
                    return;
                }
            }
            while queue
                .recv_many(&mut batch, DRAIN)
                .now_or_never()
                .unwrap_or(0)
                > 0
            {
                if bounded(self.deliver(sink, &mut batch)).await.is_err() {
                    return;
                }
            }
        }
        let _ = tokio::time::timeout(WRITE_TIMEOUT, sink.send(close_frame(code))).await;
    }

    async fn control<S>(&mut self, sink: &mut S, c: Control) -> Result<(), axum::Error>
    where
        S: Sink<WsMessage, Error = axum::Error> + Unpin,
    {
        match c {
            Control::Reply(text) => sink.feed(WsMessage::Text(text.into())).await,
            Control::Sync(since) => {
                let mut rooms: Vec<_> = since.into_iter().collect();
                rooms.sort();
                for (room_id, since) in rooms {
                    Box::pin(self.replay(sink, room_id, since)).await?;
                }
                Ok(())
            }
        }
    }

    async fn replay<S>(
        &mut self,
        sink: &mut S,
        room_id: RoomId,
        since: Seq,
    ) -> Result<(), axum::Error>
    where
        S: Sink<WsMessage, Error = axum::Error> + Unpin,
    {
        let (events, complete) = match self.app.chat.replay(&self.user_id, &room_id, since).await {
            Ok(found) => found,
            Err(e) => {
                let text = error_event(&e, None, Some(&room_id));
                return sink.feed(WsMessage::Text(text.into())).await;
            }
        };
        let track = *self
            .tracks
            .entry(room_id.clone())
            .or_insert(Track::starting_at(since));
        // The client has everything up to `since` already (perhaps from an earlier socket).
        let mut newest = track.sent().max(since);
        for event in events.iter().filter(|e| !track.sent_live(e.seq)) {
            newest = newest.max(event.seq);
            let text = ServerEvent::timeline(event).to_text();
            sink.feed(WsMessage::Text(text.into())).await?;
        }
        if let Some(t) = self.tracks.get_mut(&room_id) {
            t.replayed(newest);
        }
        let synced = ServerEvent::Synced {
            room_id: &room_id,
            last_seq: newest,
            complete,
        };
        sink.feed(WsMessage::Text(synced.to_text().into())).await
    }

    /// Writes a batch. The rare paths that read the store (gap fills) are boxed, so an idle
    /// connection's task stays small.
    async fn deliver<S>(
        &mut self,
        sink: &mut S,
        batch: &mut Vec<Outbound>,
    ) -> Result<(), axum::Error>
    where
        S: Sink<WsMessage, Error = axum::Error> + Unpin,
    {
        for item in batch.drain(..) {
            let frame = match item {
                Outbound::Direct(frame) => frame.text.clone(),
                Outbound::Notify(room_id, level) => {
                    self.levels.insert(room_id, level);
                    continue;
                }
                Outbound::CatchUp(room_id) => {
                    if let Some(sent) = self.tracks.get(&room_id).map(Track::sent) {
                        let newest =
                            Box::pin(self.fill_gap(sink, &room_id, sent, Seq::MAX - 1)).await?;
                        if let Some(track) = self.tracks.get_mut(&room_id) {
                            track.replayed(newest);
                        }
                    }
                    continue;
                }
                Outbound::Refloor(room_id) => {
                    Box::pin(self.refloor(room_id)).await;
                    continue;
                }
                Outbound::Joined(joined) => {
                    let (
                        room_id,
                        JoinPoint {
                            from,
                            floor,
                            level,
                            direct,
                        },
                    ) = *joined;
                    self.levels.insert(room_id.clone(), level);
                    if direct {
                        self.direct.insert(room_id.clone());
                    }
                    // Messages are due from the join point (an earlier membership is over), or
                    // from what this socket already has if it is further (a repeated join);
                    // what was committed before the subscription comes from the store now.
                    let start = self
                        .tracks
                        .get(&room_id)
                        .map_or(from, |t| t.sent().max(from));
                    let newest =
                        Box::pin(self.fill_gap(sink, &room_id, start, Seq::MAX - 1)).await?;
                    let mut track = Track::starting_at(start).with_floor(floor);
                    track.replayed(newest);
                    self.tracks.insert(room_id, track);
                    continue;
                }
                Outbound::Room(event) => {
                    let (room_id, frame) = &*event;
                    let Some(meta) = &frame.message else {
                        sink.feed(WsMessage::Text(frame.text.clone())).await?;
                        continue;
                    };
                    let seq = meta.seq;
                    // The room's key is cloned only the first time it is seen, not per delivery.
                    let track = match self.tracks.get_mut(room_id) {
                        Some(track) => track,
                        None => self
                            .tracks
                            .entry(room_id.clone())
                            .or_insert(Track::starting_at(seq - 1)),
                    };
                    // A change to a message this member may not read takes its `seq` unseen.
                    let hidden = !meta.is_new() && track.hides(meta.message_seq);
                    match track.admit(seq) {
                        Admit::Skip => continue, // already sent by a replay or gap fill
                        Admit::Deliver => {}
                        Admit::FillGap { after, upto } => {
                            Box::pin(self.fill_gap(sink, room_id, after, upto)).await?;
                        }
                    }
                    if hidden {
                        continue;
                    }
                    sink.feed(WsMessage::Text(frame.text.clone())).await?;
                    self.metrics.deliveries.increment(1);
                    let now = crate::metrics::now_us();
                    let waited = (now - meta.committed_us).max(0) as f64 / 1e6;
                    self.metrics.send_to_deliver.record(waited);
                    self.metrics.written += 1;
                    let here = now - meta.arrived_us;
                    if here > crate::chat::pressure::LATE_AFTER.as_micros() as i64 {
                        self.metrics.late += 1;
                    }
                    if meta.direct && !self.direct.contains(room_id) {
                        self.direct.insert(room_id.clone());
                    }
                    if !meta.is_new() {
                        continue; // changes never notify
                    }
                    let mentioned = meta.mentioned.contains(&self.user_id);
                    if let Some(notify) =
                        self.notify_event(room_id, meta.seq, &meta.sender, mentioned)
                    {
                        sink.feed(WsMessage::Text(notify.into())).await?;
                    }
                    continue;
                }
            };
            sink.feed(WsMessage::Text(frame)).await?;
        }
        Ok(())
    }

    /// Looks up, after the room's history setting changed, which messages this member may
    /// read (a failed lookup hides every older change, the safe side).
    async fn refloor(&mut self, room_id: RoomId) {
        let floor = match self.app.chat.member_of(&room_id, &self.user_id).await {
            Ok((room, m)) => m.visible_from(room.history),
            Err(_) => Seq::MAX,
        };
        if let Some(track) = self.tracks.get_mut(&room_id) {
            track.set_floor(floor);
        }
    }

    /// The `notify` event a new message (live or gap-filled, never a `sync` replay)
    /// deserves for this user, if any.
    fn notify_event(
        &self,
        room_id: &RoomId,
        seq: Seq,
        sender: &UserId,
        mentioned: bool,
    ) -> Option<String> {
        if sender == &self.user_id {
            return None;
        }
        let direct = self.direct.contains(room_id);
        let level = self
            .levels
            .get(room_id)
            .copied()
            .unwrap_or(NotifyLevel::default_for(direct));
        let reason = level.reason(mentioned, direct)?;
        let message_id = crate::store::message_id(room_id, seq);
        Some(
            ServerEvent::Notify {
                room_id,
                seq,
                message_id: &message_id,
                reason,
            }
            .to_text(),
        )
    }

    /// Sends the stored timeline events `after+1 ..= upto` this user may see; returns the
    /// newest `seq` sent (or `after` when none was).
    async fn fill_gap<S>(
        &mut self,
        sink: &mut S,
        room_id: &RoomId,
        after: Seq,
        upto: Seq,
    ) -> Result<Seq, axum::Error>
    where
        S: Sink<WsMessage, Error = axum::Error> + Unpin,
    {
        let mut newest = after;
        match self
            .app
            .chat
            .fill_gap(&self.user_id, room_id, after, upto)
            .await
        {
            Ok(events) => {
                for event in &events {
                    newest = newest.max(event.seq);
                    let text = ServerEvent::timeline(event).to_text();
                    sink.feed(WsMessage::Text(text.into())).await?;
                    if event.kind != EventKind::Message {
                        continue;
                    }
                    let message = &event.message;
                    let mentioned = message.mentions.iter().any(|m| m.user_id == self.user_id);
                    if let Some(notify) =
                        self.notify_event(room_id, message.seq, &message.sender.id, mentioned)
                    {
                        sink.feed(WsMessage::Text(notify.into())).await?;
                    }
                }
            }
            // No longer a member (banned, left, deleted): nothing is due.
            Err(e @ (Error::NotFound(_) | Error::Forbidden(_))) => {
                tracing::debug!(error = %e, room = %room_id, "gap fill skipped");
            }
            // The store failed: the gap cannot be filled here, so end the connection and let
            // the client resume with `sync` rather than go on with a hole.
            Err(e) => {
                tracing::warn!(error = %e, room = %room_id, "gap fill failed; closing the socket");
                return Err(axum::Error::new(std::io::Error::other("gap fill failed")));
            }
        }
        Ok(newest)
    }
}
