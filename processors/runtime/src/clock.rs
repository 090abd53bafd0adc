//! The injected clock: the system clock in production, a manual clock in tests, a scaled
//! clock for demonstrations that run hours of traffic in minutes.

use parley_core::Timestamp;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// A clock that starts at a given time and runs `speed` times faster than the wall clock;
/// clones share the same origin. `parley demo` runs on it: an hour of traffic in a minute.
///
/// It reads the monotonic clock, so it never goes backwards.
#[derive(Clone, Copy, Debug)]
pub struct ScaledClock {
    start: Timestamp,
    speed: u32,
    origin: Instant,
}

impl ScaledClock {
    /// A clock at `start` now, moving `speed` simulated milliseconds per real one (at least 1).
    pub fn new(start: Timestamp, speed: u32) -> ScaledClock {
        ScaledClock {
            start,
            speed: speed.max(1),
            origin: Instant::now(),
        }
    }

    /// When the clock started.
    pub fn start(&self) -> Timestamp {
        self.start
    }

    /// Simulated milliseconds per real millisecond.
    pub fn speed(&self) -> u32 {
        self.speed
    }

    /// The time after `elapsed` of wall-clock time since the clock started.
    pub fn at(&self, elapsed: Duration) -> Timestamp {
        let ms = elapsed.as_millis().saturating_mul(u128::from(self.speed));
        Timestamp(
            self.start
                .0
                .saturating_add(i64::try_from(ms).unwrap_or(i64::MAX)),
        )
    }

    /// How much wall-clock time `ms` simulated milliseconds take (zero for a negative span).
    pub fn real(&self, ms: i64) -> Duration {
        Duration::from_micros((ms.max(0) as u64).saturating_mul(1_000) / u64::from(self.speed))
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> Timestamp {
        self.at(self.origin.elapsed())
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

    #[test]
    fn scaled_clock_runs_speed_times_faster_from_its_start() {
        let clock = ScaledClock::new(Timestamp(1_000), 60);
        assert_eq!(clock.at(Duration::ZERO), Timestamp(1_000));
        assert_eq!(clock.at(Duration::from_secs(1)), Timestamp(61_000));
        assert_eq!(clock.at(Duration::from_millis(1_500)), Timestamp(91_000));
        assert_eq!(clock.real(60_000), Duration::from_secs(1));
        assert_eq!(clock.real(-5), Duration::ZERO);
        assert!(clock.now() >= clock.start(), "never before its start");
    }

    #[test]
    fn a_scaled_clock_of_speed_zero_runs_at_wall_speed() {
        let clock = ScaledClock::new(Timestamp(0), 0);
        assert_eq!(clock.speed(), 1);
        assert_eq!(clock.at(Duration::from_millis(250)), Timestamp(250));
    }
}
