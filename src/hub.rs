//! This node's live connections and the fan-out to them.
//!
//! The hub maps rooms to the local connections of their members and users to their
//! connections. Fan-out takes a read lock and `try_send`s the same shared [`Frame`] to each
//! connection's bounded queue: no allocation of the event per receiver, no awaiting while the
//! lock is held (so a `std::sync::RwLock` is right here). A connection whose queue is full is
//! closed with [`close::SLOW_CONSUMER`] rather than slowing its room; its client resumes with
//! `sync`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::{mpsc, watch};

use crate::bus::{BusEvent, Frame, JoinPoint, RoomChange, UserChange};
use crate::domain::{NotifyLevel, RoomId, Sender, SessionId, UserId};
use crate::protocol::close;

/// What a connection's writer receives. Kept to 24 bytes: every connection's queue holds
/// a block of these, and a room event is one shared allocation however many receive it.
#[derive(Debug)]
pub enum Outbound {
    /// An event of one room (messages carry their `seq`).
    Room(Arc<(RoomId, Frame)>),
    /// An event for this user or connection only.
    Direct(Arc<Frame>),
    /// The connection now receives this room: every message after this `seq` is due, and
    /// notifications follow this level.
    Joined(Box<(RoomId, JoinPoint)>),
    /// The user's notification level in this room changed.
    Notify(RoomId, NotifyLevel),
    /// The bus now carries this room to this node: fetch whatever came before that.
    CatchUp(RoomId),
    /// The room's history setting changed: look up which messages the member may read.
    Refloor(RoomId),
}

const _: () = assert!(std::mem::size_of::<Outbound>() <= 24, "Outbound grew");

/// One live WebSocket connection as the hub sees it.
pub struct Conn {
    pub id: u64,
    pub user_id: UserId,
    pub session_id: SessionId,
    /// How the user appears on messages sent from this connection; replaced when the
    /// profile changes (std lock: held only to clone an `Arc`).
    profile: RwLock<Arc<Sender>>,
    queue: mpsc::Sender<Outbound>,
    closing: watch::Sender<Option<u16>>,
}

impl Conn {
    /// Queues without waiting; a full queue closes the connection as a slow consumer.
    pub fn push(&self, item: Outbound) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.queue.try_send(item) {
            if self.closing.borrow().is_none() {
                metrics::counter!(crate::metrics::SLOW_CONSUMERS).increment(1);
            }
            self.close(close::SLOW_CONSUMER);
        }
    }

    /// The sender as messages from this connection show it now.
    pub fn sender(&self) -> Arc<Sender> {
        self.profile.read().expect("profile lock").clone()
    }

    /// Asks the connection's writer to close the socket with `code` (first request wins).
    pub fn close(&self, code: u16) {
        self.closing.send_if_modified(|current| {
            if current.is_none() {
                *current = Some(code);
                true
            } else {
                false
            }
        });
    }
}

/// The receiving ends a connection's writer owns.
pub struct ConnHandle {
    pub conn: Arc<Conn>,
    pub queue: mpsc::Receiver<Outbound>,
    pub closing: watch::Receiver<Option<u16>>,
}

#[derive(Default)]
struct State {
    by_user: HashMap<UserId, Vec<Arc<Conn>>>,
    rooms: HashMap<RoomId, HashMap<u64, Arc<Conn>>>,
    /// Each connection's rooms, so a disconnect touches only those.
    subscriptions: HashMap<u64, HashSet<RoomId>>,
    /// Told when a room or user gains its first local listener or loses its last (a cluster
    /// bus subscribes only to those).
    interest: Option<mpsc::UnboundedSender<Interest>>,
}

/// A change in what this node listens to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interest {
    Room(RoomId, bool),
    User(UserId, bool),
}

impl State {
    fn tell(&self, interest: Interest) {
        if let Some(tx) = &self.interest {
            let _ = tx.send(interest);
        }
    }

    fn add(&mut self, room: &RoomId, conn: &Arc<Conn>) {
        let members = self.rooms.entry(room.clone()).or_default();
        let first = members.is_empty();
        members.insert(conn.id, conn.clone());
        if first {
            self.tell(Interest::Room(room.clone(), true));
        }
        self.subscriptions
            .entry(conn.id)
            .or_default()
            .insert(room.clone());
    }

    fn remove(&mut self, room: &RoomId, conn_id: u64) {
        if let Some(members) = self.rooms.get_mut(room) {
            members.remove(&conn_id);
            if members.is_empty() {
                self.rooms.remove(room);
                self.tell(Interest::Room(room.clone(), false));
            }
        }
        if let Some(rooms) = self.subscriptions.get_mut(&conn_id) {
            rooms.remove(room);
        }
    }
}

pub struct Hub {
    state: RwLock<State>,
    next_id: AtomicU64,
    /// Capacity of each connection's outbound queue.
    queue_len: usize,
    /// Counts the settings changes announced on the bus; the app reads the settings again
    /// on each (`App::start`).
    settings_changed: tokio::sync::watch::Sender<u64>,
}

impl Hub {
    pub fn new(queue_len: usize) -> Self {
        Self {
            state: RwLock::default(),
            next_id: AtomicU64::new(1),
            queue_len,
            settings_changed: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Changes each time the server settings change on any node.
    pub fn watch_settings(&self) -> tokio::sync::watch::Receiver<u64> {
        self.settings_changed.subscribe()
    }

    /// Registers a connection (subscribed to no room yet): events for its user reach it from
    /// now on, so a join that happens while its rooms load is not missed.
    pub fn connect(&self, sender: Sender, session_id: SessionId) -> ConnHandle {
        let user_id = sender.id.clone();
        let (tx, queue) = mpsc::channel(self.queue_len);
        let (closing_tx, closing) = watch::channel(None);
        let conn = Arc::new(Conn {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            user_id,
            session_id,
            profile: RwLock::new(Arc::new(sender)),
            queue: tx,
            closing: closing_tx,
        });
        metrics::gauge!(crate::metrics::CONNECTIONS).increment(1.0);
        let mut st = self.state.write().expect("hub lock");
        let conns = st.by_user.entry(conn.user_id.clone()).or_default();
        conns.push(conn.clone());
        if conns.len() == 1 {
            st.tell(Interest::User(conn.user_id.clone(), true));
        }
        ConnHandle {
            conn,
            queue,
            closing,
        }
    }

    /// Subscribes the connection to the rooms' events.
    pub fn subscribe(&self, conn: &Arc<Conn>, rooms: impl IntoIterator<Item = RoomId>) {
        let mut st = self.state.write().expect("hub lock");
        for room in rooms {
            st.add(&room, conn);
        }
    }

    /// The cluster bus has just started carrying the room to this node: messages published
    /// by other nodes before that moment never came, so every local listener checks the store.
    pub fn room_live(&self, room: &RoomId) {
        let st = self.state.read().expect("hub lock");
        for conn in st.rooms.get(room).map(|m| m.values()).into_iter().flatten() {
            conn.push(Outbound::CatchUp(room.clone()));
        }
    }

    /// Stops the connection receiving the rooms' events.
    pub fn unsubscribe(&self, conn: &Conn, rooms: impl IntoIterator<Item = RoomId>) {
        let mut st = self.state.write().expect("hub lock");
        for room in rooms {
            st.remove(&room, conn.id);
        }
    }

    pub fn disconnect(&self, conn: &Conn) {
        metrics::gauge!(crate::metrics::CONNECTIONS).decrement(1.0);
        let mut st = self.state.write().expect("hub lock");
        if let Some(list) = st.by_user.get_mut(&conn.user_id) {
            list.retain(|c| c.id != conn.id);
            if list.is_empty() {
                st.by_user.remove(&conn.user_id);
                st.tell(Interest::User(conn.user_id.clone(), false));
            }
        }
        for room in st.subscriptions.remove(&conn.id).unwrap_or_default() {
            st.remove(&room, conn.id);
        }
    }

    /// Starts reporting interest changes; returns the receiver and what is listened to now.
    pub fn watch_interest(&self) -> (mpsc::UnboundedReceiver<Interest>, Vec<Interest>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut st = self.state.write().expect("hub lock");
        st.interest = Some(tx);
        (rx, Self::snapshot(&st))
    }

    /// Everything this node listens to now (to resubscribe after a reconnect).
    pub fn interests(&self) -> Vec<Interest> {
        Self::snapshot(&self.state.read().expect("hub lock"))
    }

    fn snapshot(st: &State) -> Vec<Interest> {
        let rooms = st.rooms.keys().map(|r| Interest::Room(r.clone(), true));
        let users = st.by_user.keys().map(|u| Interest::User(u.clone(), true));
        rooms.chain(users).collect()
    }

    /// Closes every connection (graceful shutdown).
    pub fn close_all(&self, code: u16) {
        let st = self.state.read().expect("hub lock");
        for conn in st.by_user.values().flatten() {
            conn.close(code);
        }
    }

    /// How many connections this node holds.
    pub fn connection_count(&self) -> usize {
        self.state
            .read()
            .expect("hub lock")
            .by_user
            .values()
            .map(Vec::len)
            .sum()
    }

    /// Whether the connection receives the room (that is, its user is a member).
    pub fn is_subscribed(&self, conn: &Conn, room: &RoomId) -> bool {
        let st = self.state.read().expect("hub lock");
        st.rooms
            .get(room)
            .is_some_and(|members| members.contains_key(&conn.id))
    }

    /// Whether the user has a connection on this node.
    pub fn is_online(&self, user: &UserId) -> bool {
        self.state
            .read()
            .expect("hub lock")
            .by_user
            .contains_key(user)
    }

    /// Delivers a bus event to the local connections it concerns.
    pub fn apply(&self, event: BusEvent) {
        match event {
            BusEvent::Settings => {
                self.settings_changed
                    .send_modify(|n| *n = n.wrapping_add(1));
            }
            BusEvent::Room {
                room_id,
                frame,
                change,
            } => self.apply_room(room_id, frame, change),
            BusEvent::User {
                user_id,
                frame,
                change,
            } => {
                if let Some(UserChange::Joined(room_id, point)) = &change {
                    // The user's sockets hear the room from now on: the frame (the room
                    // itself) first, then the join point from which messages are due.
                    let mut st = self.state.write().expect("hub lock");
                    let frame = frame.map(Arc::new);
                    for conn in st.by_user.get(&user_id).cloned().unwrap_or_default() {
                        if let Some(frame) = &frame {
                            conn.push(Outbound::Direct(frame.clone()));
                        }
                        conn.push(Outbound::Joined(Box::new((room_id.clone(), *point))));
                        st.add(room_id, &conn);
                    }
                    return;
                }
                let st = self.state.read().expect("hub lock");
                let Some(conns) = st.by_user.get(&user_id) else {
                    return;
                };
                let frame = frame.map(Arc::new);
                for conn in conns {
                    if let Some(frame) = &frame {
                        conn.push(Outbound::Direct(frame.clone()));
                    }
                    match &change {
                        Some(UserChange::CloseSessions(sessions, code))
                            if sessions.contains(&conn.session_id) =>
                        {
                            conn.close(*code);
                        }
                        Some(UserChange::Profile(sender)) => {
                            *conn.profile.write().expect("profile lock") = sender.clone();
                        }
                        Some(UserChange::Notify(room, level)) => {
                            conn.push(Outbound::Notify(room.clone(), *level));
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    fn apply_room(&self, room_id: RoomId, frame: Option<Frame>, change: Option<RoomChange>) {
        if let Some(frame) = frame {
            let st = self.state.read().expect("hub lock");
            if let Some(members) = st.rooms.get(&room_id) {
                let event = Arc::new((room_id.clone(), frame));
                for conn in members.values() {
                    conn.push(Outbound::Room(event.clone()));
                }
            }
        }
        if let Some(RoomChange::HistoryChanged) = change {
            let st = self.state.read().expect("hub lock");
            for conn in st.rooms.get(&room_id).into_iter().flat_map(|m| m.values()) {
                conn.push(Outbound::Refloor(room_id.clone()));
            }
            return;
        }
        if !matches!(change, Some(RoomChange::Removed(_) | RoomChange::Deleted)) {
            return; // messages and most events: no write lock
        }
        let mut st = self.state.write().expect("hub lock");
        let members = st.rooms.get(&room_id);
        let leaving: Vec<u64> = match &change {
            Some(RoomChange::Removed(user)) => members
                .map(|m| {
                    m.values()
                        .filter(|c| &c.user_id == user)
                        .map(|c| c.id)
                        .collect()
                })
                .unwrap_or_default(),
            Some(RoomChange::Deleted) => members
                .map(|m| m.keys().copied().collect())
                .unwrap_or_default(),
            _ => return,
        };
        for conn_id in leaving {
            st.remove(&room_id, conn_id);
        }
    }
}
