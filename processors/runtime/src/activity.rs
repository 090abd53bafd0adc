//! What a running host is doing, for a driver that watches it (the embedded pipeline of
//! `parley demo` and its tests).
//!
//! The loop publishes, at the end of every iteration, whether it holds an uncommitted batch
//! and when its next timer is due. A driver that also sees every input consumed and
//! committed knows the host has nothing left to do before the clock moves.

use parley_core::Timestamp;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

/// A host's published activity; share it with [`Host::with_activity`](crate::Host::with_activity).
#[derive(Debug)]
pub struct Activity {
    open_batch: AtomicBool,
    next_due: AtomicI64,
    iterations: AtomicU64,
}

impl Default for Activity {
    fn default() -> Activity {
        Activity {
            open_batch: AtomicBool::new(false),
            next_due: AtomicI64::new(i64::MAX),
            iterations: AtomicU64::new(0),
        }
    }
}

impl Activity {
    /// Nothing published yet.
    pub fn new() -> Activity {
        Activity::default()
    }

    /// Whether the host has handled records or fired timers it has not committed yet.
    pub fn has_open_batch(&self) -> bool {
        self.open_batch.load(Ordering::SeqCst)
    }

    /// When the host's earliest timer in memory is due (rounded up to the timer wheel's
    /// second); `None` without timers.
    pub fn next_due(&self) -> Option<Timestamp> {
        match self.next_due.load(Ordering::SeqCst) {
            i64::MAX => None,
            at => Some(Timestamp(at)),
        }
    }

    /// How many loop iterations have completed.
    pub fn iterations(&self) -> u64 {
        self.iterations.load(Ordering::SeqCst)
    }

    pub(crate) fn publish(&self, open_batch: bool, next_due: Option<Timestamp>) {
        self.open_batch.store(open_batch, Ordering::SeqCst);
        self.next_due
            .store(next_due.map_or(i64::MAX, |t| t.0), Ordering::SeqCst);
        self.iterations.fetch_add(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishes_the_batch_state_and_next_due_time() {
        let activity = Activity::new();
        assert_eq!(
            (activity.has_open_batch(), activity.next_due()),
            (false, None)
        );
        activity.publish(true, Some(Timestamp(5_000)));
        assert!(activity.has_open_batch());
        assert_eq!(activity.next_due(), Some(Timestamp(5_000)));
        activity.publish(false, None);
        assert_eq!(
            (activity.has_open_batch(), activity.next_due()),
            (false, None)
        );
        assert_eq!(activity.iterations(), 2);
    }
}
