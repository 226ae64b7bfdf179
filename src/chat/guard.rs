//! Counting attempts (sign-ins, room keys) per key within a window, so guessing is throttled
//! while successful attempts are taken back. The map is bounded twice over: keys are short by
//! construction ([`Key`]; a username longer than the rules allow never becomes one) and the
//! number of keys is capped, the counters with the fewest attempts giving way first, so a
//! flood of new keys costs a fixed amount of memory.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most keys kept at once (about 100 bytes each: at most ~5 MB per guard).
pub const MAX_KEYS: usize = 50_000;

/// What an attempt is counted against. Every variant is a few dozen bytes at most.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    /// A client address ([`address`]: IPv6 by its /64, which one host controls).
    Address(IpAddr),
    /// An account by its username key (at most 32 characters: `Username` rules).
    Account(String),
    /// An account from one address.
    AccountAddress(String, IpAddr),
    /// A room (by id), whoever guesses.
    Room(String),
    /// Guesses of the current password within one session (changing the password).
    Session(String),
    /// One user at one room.
    UserRoom(String, String),
    /// Password-reset requests and link uses from one client address.
    Recovery(IpAddr),
}

/// The address attempts are counted against: IPv4 as is, IPv6 by its /64 prefix (one
/// subscriber usually holds a whole /64, so counting single IPv6 addresses counts nothing).
pub fn address(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::from([s[0], s[1], s[2], s[3], 0, 0, 0, 0])
            }
        },
    }
}

pub struct FailureGuard {
    window: Duration,
    max_keys: usize,
    // std Mutex: held only for a map lookup (or a sweep), never across an await.
    counts: Mutex<HashMap<Key, (u32, Instant)>>,
}

impl FailureGuard {
    pub fn new(window: Duration) -> Self {
        Self::with_capacity(window, MAX_KEYS)
    }

    pub fn with_capacity(window: Duration, max_keys: usize) -> Self {
        Self {
            window,
            max_keys,
            counts: Mutex::default(),
        }
    }

    /// Counts an attempt for `key` before it is verified, so parallel guesses cannot all
    /// pass before the first failure is counted; `Err(retry_after)` (and nothing counted)
    /// once `limit` attempts were made within the window. A successful attempt is taken back
    /// with [`Self::succeeded`].
    pub fn attempt(&self, key: &Key, limit: u32) -> Result<(), Duration> {
        self.count(key, Some(limit)).map(|_| ())
    }

    /// Counts an attempt for `key` with no limit; returns how many were made in the window
    /// before this one (for slowing down rather than refusing).
    pub fn tally(&self, key: &Key) -> u32 {
        self.count(key, None).unwrap_or(u32::MAX)
    }

    fn count(&self, key: &Key, limit: Option<u32>) -> Result<u32, Duration> {
        let mut counts = self.counts.lock().expect("guard lock");
        if !counts.contains_key(key) && counts.len() >= self.max_keys {
            self.make_room(&mut counts);
        }
        let now = Instant::now();
        let entry = counts.entry(key.clone()).or_insert((0, now));
        if now.duration_since(entry.1) >= self.window {
            *entry = (0, now);
        }
        if limit.is_some_and(|limit| entry.0 >= limit) {
            return Err(self
                .window
                .saturating_sub(now.duration_since(entry.1))
                .max(Duration::from_secs(1)));
        }
        let before = entry.0;
        entry.0 = entry.0.saturating_add(1);
        Ok(before)
    }

    /// The map is full: drop expired windows, and if that frees less than a tenth, the
    /// tenth with the fewest attempts (the oldest first among equals). Counters that are
    /// throttling someone are the last to go, so a flood of new keys does not wipe a
    /// guesser's own count. Amortised: one sweep per `max_keys / 10` new keys at worst.
    fn make_room(&self, counts: &mut HashMap<Key, (u32, Instant)>) {
        counts.retain(|_, (_, since)| since.elapsed() < self.window);
        let target = self.max_keys - self.max_keys / 10;
        if counts.len() > target {
            let cut = counts.len() - target;
            let mut weakest: Vec<(u32, Instant, Key)> = counts
                .iter()
                .map(|(key, (n, since))| (*n, *since, key.clone()))
                .collect();
            weakest.select_nth_unstable_by_key(cut - 1, |(n, since, _)| (*n, *since));
            for (_, _, key) in &weakest[..cut] {
                counts.remove(key);
            }
        }
    }

    /// Remembers `key` for a whole window from now (a sliding window, for remembering, not
    /// throttling); see [`Self::seen`].
    pub fn remember(&self, key: &Key) {
        let mut counts = self.counts.lock().expect("guard lock");
        if !counts.contains_key(key) && counts.len() >= self.max_keys {
            self.make_room(&mut counts);
        }
        counts.insert(key.clone(), (1, Instant::now()));
    }

    /// Whether `key` was counted within the window (for remembering, not throttling).
    pub fn seen(&self, key: &Key) -> bool {
        let counts = self.counts.lock().expect("guard lock");
        counts
            .get(key)
            .is_some_and(|(n, since)| *n > 0 && since.elapsed() < self.window)
    }

    /// The attempt succeeded: it does not count as a failure.
    pub fn succeeded(&self, key: &Key) {
        let mut counts = self.counts.lock().expect("guard lock");
        if let Some(entry) = counts.get_mut(key) {
            entry.0 = entry.0.saturating_sub(1);
        }
    }

    /// Keys held now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.counts.lock().expect("guard lock").len()
    }
}

/// Hands out turns one `spacing` apart per key, so attempts at one key (an account under
/// attack) are paced however many are made at once. A turn further off than `max_wait` is
/// not given: the caller is told to come back then.
pub struct Pacer {
    spacing: Duration,
    max_wait: Duration,
    // std Mutex: held for one map update, never across an await.
    next: Mutex<HashMap<Key, Instant>>,
}

impl Pacer {
    pub fn new(spacing: Duration, max_wait: Duration) -> Self {
        Self {
            spacing,
            max_wait,
            next: Mutex::default(),
        }
    }

    /// How long to wait for this attempt's turn (reserved), or `Err(retry_after)` when the
    /// queue for `key` is longer than `max_wait` (nothing reserved).
    pub fn turn(&self, key: &Key) -> Result<Duration, Duration> {
        let now = Instant::now();
        let mut next = self.next.lock().expect("pacer lock");
        if !next.contains_key(key) && next.len() >= MAX_KEYS {
            next.retain(|_, at| *at > now);
            if next.len() >= MAX_KEYS {
                // Tens of thousands of accounts paced at once: the per-address limits still
                // hold, and memory stays bounded.
                return Ok(Duration::ZERO);
            }
        }
        let at = next.get(key).copied().filter(|at| *at > now).unwrap_or(now);
        let wait = at - now;
        if wait > self.max_wait {
            return Err(wait);
        }
        next.insert(key.clone(), at + self.spacing);
        Ok(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(name: &str) -> Key {
        Key::Account(name.into())
    }

    #[test]
    fn blocks_after_limit_and_only_that_key() {
        let guard = FailureGuard::new(Duration::from_secs(60));
        for _ in 0..3 {
            assert!(guard.attempt(&account("a"), 3).is_ok());
        }
        let retry = guard.attempt(&account("a"), 3).unwrap_err();
        assert!(retry > Duration::from_secs(50));
        assert!(guard.attempt(&account("b"), 3).is_ok());
    }

    #[test]
    fn successes_do_not_count() {
        let guard = FailureGuard::new(Duration::from_secs(60));
        for _ in 0..10 {
            assert!(guard.attempt(&account("a"), 3).is_ok());
            guard.succeeded(&account("a"));
        }
    }

    #[test]
    fn window_expiry_resets() {
        let guard = FailureGuard::new(Duration::from_millis(0));
        assert!(guard.attempt(&account("a"), 1).is_ok());
        assert!(guard.attempt(&account("a"), 1).is_ok());
    }

    #[test]
    fn tally_counts_without_refusing() {
        let guard = FailureGuard::new(Duration::from_secs(60));
        assert_eq!((0..5).map(|_| guard.tally(&account("a"))).last(), Some(4));
    }

    #[test]
    fn a_flood_of_new_keys_stays_within_the_cap() {
        let guard = FailureGuard::with_capacity(Duration::from_secs(60), 1_000);
        for i in 0..20_000u32 {
            let _ = guard.attempt(&Key::Address(IpAddr::from(i.to_be_bytes())), 5);
            assert!(guard.len() <= 1_000);
        }
        // The newest keys are kept.
        assert!(guard.attempt(&account("fresh"), 1).is_ok());
        assert!(guard.attempt(&account("fresh"), 1).is_err());
    }

    #[test]
    fn a_flood_of_new_keys_does_not_wipe_a_guessers_count() {
        let guard = FailureGuard::with_capacity(Duration::from_secs(60), 1_000);
        let guesser = Key::Address("10.6.6.6".parse().unwrap());
        for _ in 0..5 {
            guard.attempt(&guesser, 5).unwrap();
        }
        for i in 0..20_000u32 {
            let _ = guard.attempt(&Key::Account(format!("u{i}")), 5);
        }
        assert!(guard.attempt(&guesser, 5).is_err());
    }

    #[test]
    fn turns_are_spaced_and_the_queue_is_bounded() {
        let pacer = Pacer::new(Duration::from_secs(1), Duration::from_secs(3));
        let waits: Vec<_> = (0..6).map(|_| pacer.turn(&account("a"))).collect();
        let secs: Vec<Result<u64, u64>> = waits
            .iter()
            .map(|w| {
                w.map(|d| d.as_secs_f64().round() as u64)
                    .map_err(|d| d.as_secs_f64().round() as u64)
            })
            .collect();
        assert_eq!(secs, [Ok(0), Ok(1), Ok(2), Ok(3), Err(4), Err(4)]);
        assert_eq!(pacer.turn(&account("b")), Ok(Duration::ZERO));
    }

    #[test]
    fn ipv6_counts_by_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address(a), address(b));
        assert_ne!(address(a), address(c));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(address(mapped), "10.0.0.1".parse::<IpAddr>().unwrap());
    }
}
