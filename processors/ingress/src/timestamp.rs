//! Channel timestamps to milliseconds since the epoch: unit scaling and RFC 3339 strings.

/// The unit a channel's numeric timestamps are in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unit {
    /// Seconds since the epoch (WhatsApp, Telegram, WeChat).
    Seconds,
    /// Milliseconds since the epoch (LINE, Viber, Messenger, Instagram, X).
    Millis,
}

impl Unit {
    /// `value` in this unit as milliseconds, or `None` if that overflows an `i64`.
    pub(crate) fn to_millis(self, value: i64) -> Option<i64> {
        match self {
            Unit::Seconds => value.checked_mul(1_000),
            Unit::Millis => Some(value),
        }
    }
}

/// 2000-01-01T00:00:00Z in ms: no channel message is older, so anything earlier is a unit
/// mistake or garbage.
pub(crate) const EARLIEST_MS: i64 = 946_684_800_000;

/// Parses an RFC 3339 date-time into ms since the epoch, UTC; see
/// [`Timestamp::parse_rfc3339`](parley_core::Timestamp::parse_rfc3339).
pub(crate) fn parse_rfc3339_millis(text: &str) -> Option<i64> {
    parley_core::Timestamp::parse_rfc3339(text).map(|t| t.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_3339_parses_through_the_core() {
        assert_eq!(
            parse_rfc3339_millis("2000-01-01T00:00:00Z"),
            Some(EARLIEST_MS)
        );
        assert_eq!(parse_rfc3339_millis("2000-01-01"), None);
    }

    #[test]
    fn seconds_scale_without_overflowing() {
        assert_eq!(
            Unit::Seconds.to_millis(1_603_059_201),
            Some(1_603_059_201_000)
        );
        assert_eq!(Unit::Seconds.to_millis(i64::MAX), None);
        assert_eq!(Unit::Millis.to_millis(5), Some(5));
    }
}
