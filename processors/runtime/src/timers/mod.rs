//! Durable timers: the key encodings of the sled timer index and the in-memory wheel.
//!
//! A timer is named by `(record key, timer id)`, the id being the processor's timer in its
//! [`TimerId`](parley_core::timer_id::TimerId) encoding, encoded as its *timer key*
//! `u32 BE key length | key | timer id`. The partition's index tree holds
//! `due (8 bytes, order-preserving) | timer key`, so a range scan yields timers by due time;
//! a second tree maps timer key to due time for cancels. The wheel holds the timers due within
//! the configured horizon and is refilled from the index.

pub use parley_core::timer_wheel::TimerWheel;

use parley_core::Timestamp;

/// Encodes `(key, timer_id)` as a timer key.
pub fn timer_key(key: &[u8], timer_id: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + key.len() + timer_id.len());
    out.extend_from_slice(&(key.len() as u32).to_be_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(timer_id);
    out
}

/// Splits a timer key into `(key, timer_id)`; `None` if it is malformed.
pub fn split_timer_key(timer_key: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_be_bytes(timer_key.get(..4)?.try_into().ok()?) as usize;
    let rest = &timer_key[4..];
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// A due time as 8 bytes whose byte order is the time order (sign bit flipped, big-endian).
pub fn due_bytes(due: Timestamp) -> [u8; 8] {
    ((due.0 as u64) ^ (1 << 63)).to_be_bytes()
}

/// The inverse of [`due_bytes`].
pub fn due_from_bytes(bytes: &[u8]) -> Option<Timestamp> {
    let array: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
    Some(Timestamp((u64::from_be_bytes(array) ^ (1 << 63)) as i64))
}

/// The index key `due | timer key`.
pub fn index_key(due: Timestamp, timer_key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + timer_key.len());
    out.extend_from_slice(&due_bytes(due));
    out.extend_from_slice(timer_key);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_key_round_trips_even_with_separator_bytes() {
        let encoded = timer_key(b"acme/1", b"close/0");
        assert_eq!(
            split_timer_key(&encoded),
            Some((&b"acme/1"[..], &b"close/0"[..]))
        );
        assert_eq!(split_timer_key(&[0, 0, 0, 9, 1]), None);
    }

    #[test]
    fn index_keys_sort_by_due_time_including_negative_times() {
        let times = [
            Timestamp(-5),
            Timestamp(0),
            Timestamp(999),
            Timestamp(1_000),
            Timestamp(i64::MAX),
        ];
        let keys: Vec<Vec<u8>> = times.iter().map(|t| index_key(*t, b"k")).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        for t in times {
            assert_eq!(due_from_bytes(&due_bytes(t)), Some(t));
        }
    }

    #[test]
    fn wheel_fires_once_at_the_second_after_due() {
        let mut wheel = TimerWheel::new(Timestamp(0));
        assert_eq!(wheel.insert("a", Timestamp(1_500)), None);
        assert_eq!(wheel.insert("b", Timestamp(3_000)), None);
        assert_eq!(wheel.insert("a", Timestamp(1_200)), Some(Timestamp(1_500)));
        assert_eq!(wheel.poll_at(), Some(Timestamp(2_000)));
        assert!(wheel.advance(Timestamp(1_999)).is_empty());
        assert_eq!(
            wheel.advance(Timestamp(2_000)),
            vec![("a", Timestamp(1_200))]
        );
        assert_eq!(wheel.cancel(&"b"), Some(Timestamp(3_000)));
        assert!(wheel.advance(Timestamp(10_000)).is_empty());
        assert!(wheel.is_empty());
    }
}
