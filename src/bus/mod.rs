//! Fan-out between nodes behind the [`Bus`] trait. An event is published once per room (or
//! user) and every node's [`Hub`](crate::hub::Hub) hands it to its local connections. The
//! in-process [`LocalBus`] serves a single node; [`redis::RedisBus`] serves a cluster.

pub mod redis;

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use serde::{Deserialize, Serialize};

use crate::domain::{NotifyLevel, RoomId, Sender, Seq, SessionId, UserId};
use crate::hub::Hub;

/// A serialised event, shared by every receiver.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "FrameWire", into = "FrameWire")]
pub struct Frame {
    pub text: Utf8Bytes,
    /// Set for timeline events (new messages and changes to them): what each connection's
    /// writer needs to keep its stream gap-free and duplicate-free, to hold back changes to
    /// messages the member may not read, and to decide on a `notify` event, without parsing
    /// `text`.
    pub message: Option<Arc<MessageMeta>>,
}

/// The facts about a timeline event a connection acts on.
#[derive(Debug, Serialize, Deserialize)]
pub struct MessageMeta {
    /// The event's `seq`.
    pub seq: Seq,
    /// The message it concerns: `seq` itself for a new message.
    pub message_seq: Seq,
    pub sender: UserId,
    /// Users mentioned in the body.
    pub mentioned: Vec<UserId>,
    /// The message is in a direct room.
    pub direct: bool,
    /// When it was committed (unix microseconds), for the delivery latency metric.
    pub committed_us: i64,
    /// When it reached this node (unix microseconds, this node's clock): the commit for a
    /// local event, its arrival from the bus for another node's. Lateness (`chat::pressure`)
    /// is measured from it, so two nodes' clocks need not agree.
    #[serde(skip)]
    pub arrived_us: i64,
}

impl MessageMeta {
    /// A new message (which may notify), not a change to one.
    pub fn is_new(&self) -> bool {
        self.message_seq == self.seq
    }
}

/// A frame as it crosses the wire between nodes.
#[derive(Serialize, Deserialize)]
struct FrameWire {
    text: String,
    message: Option<Arc<MessageMeta>>,
}

impl From<FrameWire> for Frame {
    fn from(w: FrameWire) -> Self {
        Self {
            text: w.text.into(),
            message: w.message.map(|mut meta| {
                // Just deserialised: the only handle.
                if let Some(meta) = Arc::get_mut(&mut meta) {
                    meta.arrived_us = crate::metrics::now_us();
                }
                meta
            }),
        }
    }
}

impl From<Frame> for FrameWire {
    fn from(f: Frame) -> Self {
        Self {
            text: f.text.as_str().to_owned(),
            message: f.message,
        }
    }
}

impl Frame {
    pub fn new(text: String) -> Self {
        Self {
            text: text.into(),
            message: None,
        }
    }
    pub fn message(text: String, meta: MessageMeta) -> Self {
        Self {
            text: text.into(),
            message: Some(Arc::new(meta)),
        }
    }
}

/// How an event changes who listens to a room.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum RoomChange {
    /// The user left or was banned: they receive this event, then nothing more.
    Removed(UserId),
    /// The room is gone: everyone receives this event, then nothing more.
    Deleted,
    /// Who may read history from before they joined changed: each member's socket looks up
    /// which messages it may show changes of.
    HistoryChanged,
}

/// Where a new member's stream of a room begins, and how its messages notify them.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct JoinPoint {
    /// The room's `last_seq` when the membership began.
    pub from: Seq,
    /// The newest `seq` the member may not read (changes to it and older are held back).
    pub floor: Seq,
    pub level: NotifyLevel,
    pub direct: bool,
}

/// Something that happens to a user's connections.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum UserChange {
    /// Close these sessions' sockets with the given close code.
    CloseSessions(Vec<SessionId>, u16),
    /// The user's profile changed: messages they send from now on carry this.
    Profile(Arc<Sender>),
    /// The user's notification level in a room changed.
    Notify(RoomId, NotifyLevel),
    /// The user joined the room (their sockets start receiving it from the join point).
    Joined(RoomId, JoinPoint),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum BusEvent {
    Room {
        room_id: RoomId,
        frame: Option<Frame>,
        change: Option<RoomChange>,
    },
    User {
        user_id: UserId,
        frame: Option<Frame>,
        change: Option<UserChange>,
    },
    /// The server settings changed: every node reads them again.
    Settings,
}

pub trait Bus: Send + Sync + 'static {
    /// Sends the event to every node (this one included). Never blocks.
    fn publish(&self, event: BusEvent);

    /// Whether events reach the other nodes now (for `/readyz`).
    fn is_connected(&self) -> bool {
        true
    }
}

/// The single-node bus: events go straight to this process's hub.
pub struct LocalBus {
    hub: Arc<Hub>,
}

impl LocalBus {
    pub fn new(hub: Arc<Hub>) -> Self {
        Self { hub }
    }
}

impl Bus for LocalBus {
    fn publish(&self, event: BusEvent) {
        self.hub.apply(event);
    }
}
