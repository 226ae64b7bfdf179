//! Overload: when the server refuses new writes with `busy` rather than take on more than it
//! can deliver. Two signals, both cheap on the message path:
//! - the group-commit queue is full (`max_queued_writes`): the store is the bound;
//! - deliveries run late: over [`LATE_SHARE`] (and at least [`LATE_MIN`]) of the messages
//!   written to sockets in the last [`WINDOW`] were written more than [`LATE_AFTER`] after
//!   they reached this node. The fan-out is the bound, and accepting more would only grow
//!   every connection's queue (and the ack times).
//!
//! Writers add their counts once per wakeup (not per frame); a watcher on the committer's
//! thread turns each window's counts into the flag senders read. One slow consumer is not an
//! overload: its lateness is a small share of all deliveries, and its own queue bounds it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// A delivery written this long after its event reached this node is late.
pub const LATE_AFTER: Duration = Duration::from_millis(250);
/// The share of late deliveries in a window past which new writes are refused.
const LATE_SHARE: f64 = 0.05;
/// How often the flag is reconsidered.
const WINDOW: Duration = Duration::from_millis(100);
/// What a refused sender is told to wait before trying again (clients add jitter).
pub const RETRY_AFTER: Duration = Duration::from_millis(500);

/// Below this many late deliveries in a window (10,000 a second), there is no overload
/// whatever the share: a quiet server with one slow phone on it, or a small one whose burst
/// of a few hundred deliveries ran late on a machine busy with something else, is not one.
const LATE_MIN: u64 = 1000;

/// The counts and the flag; one per server, held by its committer.
#[derive(Default)]
pub struct Pressure {
    delivered: AtomicU64,
    late: AtomicU64,
    lagging: AtomicBool,
}

impl Pressure {
    /// Counts one writer wakeup's deliveries, `late` of them late.
    pub fn delivered(&self, all: u64, late: u64) {
        if all > 0 {
            self.delivered.fetch_add(all, Ordering::Relaxed);
        }
        if late > 0 {
            self.late.fetch_add(late, Ordering::Relaxed);
        }
    }

    /// Whether deliveries ran late in the last window.
    pub fn lagging(&self) -> bool {
        self.lagging.load(Ordering::Relaxed)
    }

    /// Reconsiders the flag every [`WINDOW`], for as long as its runtime runs (the
    /// committer's: its own thread, so a busy shared runtime does not delay it).
    pub async fn watch(self: std::sync::Arc<Self>) {
        let mut tick = tokio::time::interval(WINDOW);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (mut seen_all, mut seen_late) = (0, 0);
        loop {
            tick.tick().await;
            let all = self.delivered.load(Ordering::Relaxed);
            let late = self.late.load(Ordering::Relaxed);
            let (window_all, window_late) = (all - seen_all, late - seen_late);
            (seen_all, seen_late) = (all, late);
            let lagging = overloaded(window_all, window_late);
            if lagging != self.lagging.swap(lagging, Ordering::Relaxed) {
                tracing::info!(
                    lagging,
                    window_all,
                    window_late,
                    "delivery pressure changed"
                );
            }
        }
    }
}

/// Whether a window with `all` deliveries, `late` of them late, shows an overload.
fn overloaded(all: u64, late: u64) -> bool {
    late >= LATE_MIN && late as f64 > all as f64 * LATE_SHARE
}

#[cfg(test)]
mod tests {
    use super::{Pressure, overloaded};

    /// The watcher raises the flag after a window with many late deliveries, and lowers it
    /// after a clean one.
    #[tokio::test]
    async fn the_flag_follows_each_windows_deliveries() {
        let pressure = std::sync::Arc::new(Pressure::default());
        let watcher = tokio::spawn(pressure.clone().watch());
        let flag_becomes = |want: bool| {
            let pressure = pressure.clone();
            async move {
                for _ in 0..100 {
                    if pressure.lagging() == want {
                        return true;
                    }
                    pressure.delivered(10_000, if want { 5_000 } else { 0 });
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                false
            }
        };
        assert!(!pressure.lagging());
        assert!(flag_becomes(true).await, "half of 10,000 late: an overload");
        assert!(flag_becomes(false).await, "none late: over");
        watcher.abort();
    }

    #[test]
    fn a_few_late_deliveries_are_one_slow_consumer_not_an_overload() {
        assert!(!overloaded(0, 0));
        assert!(!overloaded(5, 5), "one slow phone on a quiet server");
        assert!(
            !overloaded(500, 500),
            "a small server's burst on a busy machine"
        );
        assert!(!overloaded(100_000, 4_000), "4 % late of many");
        assert!(overloaded(100_000, 6_000), "6 % late of many");
        assert!(overloaded(1_000, 1_000));
    }
}
