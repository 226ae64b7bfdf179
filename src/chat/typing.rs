//! Typing indicators: relayed at most once per `throttle` per user and room, ended by the
//! user's next message or, when not repeated, by expiry after `ttl`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::domain::{RoomId, Sender, UserId};

struct Entry {
    user: Arc<Sender>,
    expires: Instant,
    relayed: Instant,
}

pub struct Typing {
    pub ttl: Duration,
    throttle: Duration,
    // std Mutex: map updates only, never held across an await.
    entries: Mutex<HashMap<(RoomId, UserId), Entry>>,
}

impl Typing {
    pub fn new(ttl: Duration) -> Self {
        // Relay a repeat at most every third of the expiry, so the indicator never blinks.
        Self {
            ttl,
            throttle: ttl / 3,
            entries: Mutex::default(),
        }
    }

    /// The user typed; `true` when the room should be told now.
    pub fn start(&self, room: &RoomId, user: &Arc<Sender>) -> bool {
        let now = Instant::now();
        let mut entries = self.entries.lock().expect("typing lock");
        let key = (room.clone(), user.id.clone());
        match entries.get_mut(&key) {
            Some(e) if now.duration_since(e.relayed) < self.throttle => {
                e.expires = now + self.ttl;
                false
            }
            Some(e) => {
                e.expires = now + self.ttl;
                e.relayed = now;
                true
            }
            None => {
                entries.insert(
                    key,
                    Entry {
                        user: user.clone(),
                        expires: now + self.ttl,
                        relayed: now,
                    },
                );
                true
            }
        }
    }

    /// The user sent a message; returns them when they were shown as typing.
    pub fn stop(&self, room: &RoomId, user: &UserId) -> Option<Arc<Sender>> {
        let mut entries = self.entries.lock().expect("typing lock");
        entries
            .remove(&(room.clone(), user.clone()))
            .map(|e| e.user)
    }

    /// Indicators that ran out since the last call.
    pub fn expired(&self) -> Vec<(RoomId, Arc<Sender>)> {
        let now = Instant::now();
        let mut entries = self.entries.lock().expect("typing lock");
        let mut gone = Vec::new();
        entries.retain(|(room, _), e| {
            let alive = e.expires > now;
            if !alive {
                gone.push((room.clone(), e.user.clone()));
            }
            alive
        });
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ana() -> Arc<Sender> {
        Arc::new(Sender {
            id: "ana".into(),
            username: "ana".into(),
            display_name: "Ana".into(),
            avatar_url: String::new(),
        })
    }

    #[test]
    fn repeats_are_throttled_and_a_message_ends_it() {
        let t = Typing::new(Duration::from_secs(6));
        let room = RoomId::from("r");
        assert!(t.start(&room, &ana()));
        assert!(
            !t.start(&room, &ana()),
            "a repeat within the throttle is not relayed"
        );
        assert!(t.stop(&room, &"ana".into()).is_some());
        assert!(t.stop(&room, &"ana".into()).is_none());
        assert!(
            t.start(&room, &ana()),
            "after a message, typing again is news"
        );
    }

    #[test]
    fn indicators_expire() {
        let t = Typing::new(Duration::ZERO);
        let room = RoomId::from("r");
        t.start(&room, &ana());
        let gone = t.expired();
        assert_eq!(gone.len(), 1);
        assert!(t.expired().is_empty());
    }
}
