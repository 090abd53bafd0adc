//! The injected clock: the system clock in production, a manual clock in tests.

use parley_core::Timestamp;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// A source of processing time.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(since.as_millis() as i64)
    }
}

/// A clock that moves only when told to; clones share the same time.
#[derive(Clone, Debug, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock at `now`.
    pub fn new(now: Timestamp) -> ManualClock {
        ManualClock(Arc::new(AtomicI64::new(now.0)))
    }

    /// Sets the time; it never moves backwards.
    pub fn set(&self, now: Timestamp) {
        self.0.fetch_max(now.0, Ordering::SeqCst);
    }

    /// Moves the time forward by `ms` milliseconds.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms.max(0), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_is_shared_and_never_goes_back() {
        let clock = ManualClock::new(Timestamp(1_000));
        let other = clock.clone();
        clock.advance(500);
        assert_eq!(other.now(), Timestamp(1_500));
        other.set(Timestamp(10));
        assert_eq!(clock.now(), Timestamp(1_500));
    }
}
