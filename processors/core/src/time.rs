//! Time as plain data: instants are milliseconds since the Unix epoch, passed in by the caller.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, Sub};

/// An instant, in milliseconds since the Unix epoch (UTC).
///
/// The core never reads a clock: every instant it sees is an argument.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

/// A span of time in milliseconds. Never negative where the core produces one.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Millis(pub i64);

impl Millis {
    /// No time at all.
    pub const ZERO: Millis = Millis(0);

    /// `n` seconds.
    pub const fn seconds(n: i64) -> Millis {
        Millis(n * 1_000)
    }

    /// `n` minutes.
    pub const fn minutes(n: i64) -> Millis {
        Millis(n * 60_000)
    }

    /// `n` hours.
    pub const fn hours(n: i64) -> Millis {
        Millis(n * 3_600_000)
    }

    /// `n` days of 24 hours.
    pub const fn days(n: i64) -> Millis {
        Millis(n * 86_400_000)
    }
}

impl fmt::Display for Millis {
    /// Formats as the largest whole unit: `4d`, `90m`, `1500ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        for (unit, size) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
        ] {
            if ms != 0 && ms % size == 0 {
                return write!(f, "{}{unit}", ms / size);
            }
        }
        write!(f, "{ms}ms")
    }
}

impl Timestamp {
    /// Parses an RFC 3339 date-time (`2020-02-25T18:06:37.547Z`, `2020-02-25T19:06:37+01:00`),
    /// in UTC; fractions beyond milliseconds are truncated. `None` if the text is not
    /// RFC 3339 or names a date that does not exist.
    pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
        crate::rfc3339::parse_millis(text).map(Timestamp)
    }

    /// This instant as RFC 3339 in UTC: `2020-02-25T18:06:37.547Z` (no fraction when the
    /// milliseconds are zero).
    pub fn to_rfc3339(self) -> String {
        crate::rfc3339::format_millis(self.0)
    }

    /// The time elapsed since `earlier`, zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Millis {
        Millis((self.0 - earlier.0).max(0))
    }
}

impl Add<Millis> for Timestamp {
    type Output = Timestamp;
    fn add(self, rhs: Millis) -> Timestamp {
        Timestamp(self.0.saturating_add(rhs.0))
    }
}

impl Add for Millis {
    type Output = Millis;
    fn add(self, rhs: Millis) -> Millis {
        Millis(self.0.saturating_add(rhs.0))
    }
}

impl Sub for Millis {
    type Output = Millis;
    fn sub(self, rhs: Millis) -> Millis {
        Millis(self.0.saturating_sub(rhs.0))
    }
}

impl Sub<Timestamp> for Timestamp {
    type Output = Millis;
    fn sub(self, rhs: Timestamp) -> Millis {
        Millis(self.0 - rhs.0)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_display_picks_the_largest_whole_unit() {
        assert_eq!(Millis::days(4).to_string(), "4d");
        assert_eq!(Millis::minutes(90).to_string(), "90m");
        assert_eq!(Millis(1_500).to_string(), "1500ms");
        assert_eq!(Millis::ZERO.to_string(), "0ms");
    }

    #[test]
    fn since_never_goes_negative() {
        assert_eq!(Timestamp(5).since(Timestamp(10)), Millis::ZERO);
        assert_eq!(Timestamp(10).since(Timestamp(4)), Millis(6));
    }
}
