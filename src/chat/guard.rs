//! Counting failures (wrong passwords, wrong room keys) per key within a window, so guessing
//! is throttled while successful attempts are never counted.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Past this many keys, expired entries are swept on the next failure.
const SWEEP_AT: usize = 10_000;

pub struct FailureGuard {
    window: Duration,
    // std Mutex: held only for a map lookup, never across an await.
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl FailureGuard {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            failures: Mutex::default(),
        }
    }

    /// Counts an attempt for `key` before it is verified, so parallel guesses cannot all
    /// pass before the first failure is counted; `Err(retry_after)` once `limit` attempts
    /// were made within the window. A successful attempt is taken back with [`Self::succeeded`].
    pub fn attempt(&self, key: &str, limit: u32) -> Result<(), Duration> {
        let mut failures = self.failures.lock().expect("guard lock");
        if failures.len() > SWEEP_AT {
            failures.retain(|_, (_, since)| since.elapsed() < self.window);
        }
        let entry = failures
            .entry(key.to_owned())
            .or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        if entry.0 >= limit {
            return Err(self
                .window
                .saturating_sub(entry.1.elapsed())
                .max(Duration::from_secs(1)));
        }
        entry.0 += 1;
        Ok(())
    }

    /// The attempt succeeded: it does not count as a failure.
    pub fn succeeded(&self, key: &str) {
        let mut failures = self.failures.lock().expect("guard lock");
        if let Some(entry) = failures.get_mut(key) {
            entry.0 = entry.0.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_limit_and_only_that_key() {
        let guard = FailureGuard::new(Duration::from_secs(60));
        for _ in 0..3 {
            assert!(guard.attempt("a", 3).is_ok());
        }
        let retry = guard.attempt("a", 3).unwrap_err();
        assert!(retry > Duration::from_secs(50));
        assert!(guard.attempt("b", 3).is_ok());
    }

    #[test]
    fn successes_do_not_count() {
        let guard = FailureGuard::new(Duration::from_secs(60));
        for _ in 0..10 {
            assert!(guard.attempt("a", 3).is_ok());
            guard.succeeded("a");
        }
    }

    #[test]
    fn window_expiry_resets() {
        let guard = FailureGuard::new(Duration::from_millis(0));
        assert!(guard.attempt("a", 1).is_ok());
        assert!(guard.attempt("a", 1).is_ok());
    }
}
