//! A counter processor for tests, examples and benchmarks.
//!
//! Input values are decimal integers (ASCII); each adds to its key's count. A value that is
//! not an integer is undecodable (DLQ, stage `decode`); a negative one is rejected (DLQ,
//! stage `process`, reason `negative`). Each input emits `key=count` to the output topic
//! with the id header `count-id = <topic>/<partition>/<offset>`, so a replay re-emits the
//! same records. With `expire_after`, each input (re)sets the key's `expire` timer; when it
//! fires, the counter emits `key=count` to the expired topic and forgets the key.

use crate::processor::{Effects, InputRecord, KeyedProcessor, Rejection};
use parley_core::{Millis, Timestamp};
use std::collections::HashMap;

/// The counter; see the module doc.
#[derive(Clone, Debug)]
pub struct Counter {
    /// Where counts go.
    pub output_topic: String,
    /// Where expired counts go.
    pub expired_topic: String,
    /// The idle time after which a key expires, if any.
    pub expire_after: Option<Millis>,
    counts: HashMap<Vec<u8>, i64>,
}

/// A decoded counter input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Increment {
    amount: i64,
    id: String,
}

impl Counter {
    /// A counter writing to `output_topic` and `expired_topic`.
    pub fn new(output_topic: &str, expired_topic: &str, expire_after: Option<Millis>) -> Counter {
        Counter {
            output_topic: output_topic.to_owned(),
            expired_topic: expired_topic.to_owned(),
            expire_after,
            counts: HashMap::new(),
        }
    }

    /// The count of `key`.
    pub fn count(&self, key: &[u8]) -> i64 {
        self.counts.get(key).copied().unwrap_or(0)
    }
}

impl KeyedProcessor for Counter {
    type Input = Increment;

    fn restore(&mut self, state_key: &[u8], value: &[u8]) -> Result<(), String> {
        let count = std::str::from_utf8(value)
            .ok()
            .and_then(|v| v.parse().ok())
            .ok_or("count is not an integer")?;
        self.counts.insert(state_key.to_vec(), count);
        Ok(())
    }

    fn decode(&self, record: &InputRecord<'_>) -> Result<Increment, String> {
        let text = std::str::from_utf8(record.value).map_err(|e| e.to_string())?;
        let amount = text
            .trim()
            .parse::<i64>()
            .map_err(|e| format!("{text:?}: {e}"))?;
        Ok(Increment {
            amount,
            id: format!("{}/{}/{}", record.topic, record.partition, record.offset),
        })
    }

    fn handle(
        &mut self,
        key: &[u8],
        input: Increment,
        now: Timestamp,
        effects: &mut Effects,
    ) -> Result<(), Rejection> {
        if input.amount < 0 {
            return Err(Rejection {
                reason: "negative".into(),
                detail: format!("{} is negative", input.amount),
            });
        }
        let count = self.counts.entry(key.to_vec()).or_insert(0);
        *count += input.amount;
        let count = *count;
        effects.put(key, count.to_string().into_bytes());
        let mut value = key.to_vec();
        value.extend_from_slice(format!("={count}").as_bytes());
        effects.emit(self.output_topic.clone(), key, value);
        effects
            .outputs
            .last_mut()
            .expect("just pushed")
            .headers
            .push(("count-id".into(), input.id.into_bytes()));
        if let Some(after) = self.expire_after {
            effects.set_timer(key, &b"expire"[..], now + after);
        }
        Ok(())
    }

    fn on_timer(&mut self, key: &[u8], _timer_id: &[u8], _now: Timestamp, effects: &mut Effects) {
        let count = self.counts.remove(key).unwrap_or(0);
        effects.delete(key);
        let mut value = key.to_vec();
        value.extend_from_slice(format!("={count}").as_bytes());
        effects.emit(self.expired_topic.clone(), key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record<'a>(value: &'a [u8]) -> InputRecord<'a> {
        InputRecord {
            topic: "in",
            partition: 0,
            offset: 7,
            key: b"k",
            value,
            timestamp: None,
        }
    }

    #[test]
    fn counts_emit_and_set_timers_and_rejections_leave_state_alone() {
        let mut counter = Counter::new("out", "expired", Some(Millis::seconds(10)));
        let mut effects = Effects::default();
        let input = counter.decode(&record(b"3")).unwrap();
        counter
            .handle(b"k", input, Timestamp(0), &mut effects)
            .unwrap();
        assert_eq!(counter.count(b"k"), 3);
        assert_eq!(effects.outputs[0].value, b"k=3");
        assert_eq!(effects.outputs[0].headers[0].1, b"in/0/7");
        assert_eq!(effects.timers.len(), 1);
        assert!(counter.decode(&record(b"x")).is_err());
        let negative = counter.decode(&record(b"-1")).unwrap();
        assert!(counter
            .handle(b"k", negative, Timestamp(0), &mut Effects::default())
            .is_err());
        assert_eq!(counter.count(b"k"), 3);
        let mut fired = Effects::default();
        counter.on_timer(b"k", b"expire", Timestamp(10_000), &mut fired);
        assert_eq!(fired.outputs[0].value, b"k=3");
        assert_eq!(counter.count(b"k"), 0);
    }
}
