//! Who is here: this node's view of each user's presence.
//!
//! A user is `online` while any of their connections is open and they were active within
//! `away_after`, `away` when idle that long or when they chose it, `offline` with no
//! connection or when they chose to be invisible. Changes are reported only when what
//! others see changes: a third tab opening or one of three closing reports nothing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::{PresenceMode, PresenceStatus, UserId};

struct Entry {
    connections: usize,
    mode: PresenceMode,
    last_active: Instant,
    /// What others were last told.
    shown: PresenceStatus,
}

impl Entry {
    fn status(&self, away_after: Duration) -> PresenceStatus {
        match self.mode {
            _ if self.connections == 0 => PresenceStatus::Offline,
            PresenceMode::Invisible => PresenceStatus::Offline,
            PresenceMode::Away => PresenceStatus::Away,
            PresenceMode::Auto if self.last_active.elapsed() >= away_after => PresenceStatus::Away,
            PresenceMode::Auto => PresenceStatus::Online,
        }
    }
}

pub struct Presence {
    away_after: Duration,
    // std Mutex: a map update per call, never held across an await.
    users: Mutex<HashMap<UserId, Entry>>,
}

impl Presence {
    pub fn new(away_after: Duration) -> Self {
        Self {
            away_after,
            users: Mutex::default(),
        }
    }

    /// Applies `change` to the user's entry; returns the new status if others should hear it.
    fn update(&self, user: &UserId, change: impl FnOnce(&mut Entry)) -> Option<PresenceStatus> {
        let mut users = self.users.lock().expect("presence lock");
        let entry = users.entry(user.clone()).or_insert_with(|| Entry {
            connections: 0,
            mode: PresenceMode::Auto,
            last_active: Instant::now(),
            shown: PresenceStatus::Offline,
        });
        change(entry);
        let now = entry.status(self.away_after);
        let changed = now != entry.shown;
        entry.shown = now;
        if entry.connections == 0 {
            users.remove(user);
        }
        changed.then_some(now)
    }

    /// A connection opened (`mode` is the user's stored choice).
    pub fn connected(&self, user: &UserId, mode: PresenceMode) -> Option<PresenceStatus> {
        self.update(user, |e| {
            e.connections += 1;
            e.mode = mode;
            e.last_active = Instant::now();
        })
    }

    pub fn disconnected(&self, user: &UserId) -> Option<PresenceStatus> {
        self.update(user, |e| e.connections = e.connections.saturating_sub(1))
    }

    /// The user did something (sent a frame other than a pong).
    pub fn active(&self, user: &UserId) -> Option<PresenceStatus> {
        let mut users = self.users.lock().expect("presence lock");
        let entry = users.get_mut(user)?;
        entry.last_active = Instant::now();
        let now = entry.status(self.away_after);
        (now != entry.shown).then(|| {
            entry.shown = now;
            now
        })
    }

    /// The user chose a mode (applies only while connected here).
    pub fn set_mode(&self, user: &UserId, mode: PresenceMode) -> Option<PresenceStatus> {
        let mut users = self.users.lock().expect("presence lock");
        let entry = users.get_mut(user)?;
        entry.mode = mode;
        entry.last_active = Instant::now();
        let now = entry.status(self.away_after);
        (now != entry.shown).then(|| {
            entry.shown = now;
            now
        })
    }

    /// Users who went idle since the last sweep.
    pub fn sweep(&self) -> Vec<(UserId, PresenceStatus)> {
        let mut users = self.users.lock().expect("presence lock");
        let mut changed = Vec::new();
        for (user, entry) in users.iter_mut() {
            let now = entry.status(self.away_after);
            if now != entry.shown {
                entry.shown = now;
                changed.push((user.clone(), now));
            }
        }
        changed
    }

    /// Whether the user chose to appear offline (then nothing they do is shown live).
    pub fn is_invisible(&self, user: &UserId) -> bool {
        let users = self.users.lock().expect("presence lock");
        users
            .get(user)
            .is_some_and(|e| e.mode == PresenceMode::Invisible)
    }

    /// What others see of the user now.
    pub fn status(&self, user: &UserId) -> PresenceStatus {
        let users = self.users.lock().expect("presence lock");
        users.get(user).map_or(PresenceStatus::Offline, |e| e.shown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PresenceStatus::*;

    #[test]
    fn only_first_open_and_last_close_are_changes() {
        let p = Presence::new(Duration::from_secs(60));
        let ana = UserId::from("ana");
        assert_eq!(p.connected(&ana, PresenceMode::Auto), Some(Online));
        assert_eq!(p.connected(&ana, PresenceMode::Auto), None);
        assert_eq!(p.connected(&ana, PresenceMode::Auto), None);
        assert_eq!(p.disconnected(&ana), None);
        assert_eq!(p.disconnected(&ana), None);
        assert_eq!(p.status(&ana), Online);
        assert_eq!(p.disconnected(&ana), Some(Offline));
        assert_eq!(p.status(&ana), Offline);
    }

    #[test]
    fn invisible_never_shows_online() {
        let p = Presence::new(Duration::from_secs(60));
        let ana = UserId::from("ana");
        assert_eq!(p.connected(&ana, PresenceMode::Invisible), None);
        assert_eq!(p.active(&ana), None);
        assert_eq!(p.status(&ana), Offline);
        assert_eq!(p.set_mode(&ana, PresenceMode::Auto), Some(Online));
        assert_eq!(p.set_mode(&ana, PresenceMode::Invisible), Some(Offline));
        assert_eq!(p.disconnected(&ana), None, "already offline to others");
    }

    #[test]
    fn idle_users_turn_away_and_back() {
        let p = Presence::new(Duration::ZERO);
        let ana = UserId::from("ana");
        assert_eq!(
            p.connected(&ana, PresenceMode::Auto),
            Some(Away),
            "zero idle time: away at once"
        );
        assert!(p.sweep().is_empty());
        let p = Presence::new(Duration::from_secs(60));
        p.connected(&ana, PresenceMode::Auto);
        assert_eq!(p.set_mode(&ana, PresenceMode::Away), Some(Away));
        assert_eq!(p.set_mode(&ana, PresenceMode::Auto), Some(Online));
    }
}
