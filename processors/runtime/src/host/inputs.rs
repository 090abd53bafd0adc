//! One partition's co-partitioned inputs, taken in timestamp order (Kafka Streams'
//! `PartitionGroup`).
//!
//! A partition's records arrive topic by topic, in whatever order the consumer's fetches
//! return: after a restart or a rebalance, a backlog of `routing-decisions` can be polled
//! before the `conversation-events` whose tickets the decisions are about, and a processor
//! that took them in that order would refuse the decisions (`no_ticket`) and never see the
//! offers. So each partition buffers what it polls per input topic and hands its processor
//! the head record with the earliest timestamp (ties to the topic listed first), and only
//! once every input topic has a record buffered or is known to have nothing more to fetch
//! (the next offset reaches the high watermark of the consumer's last fetch). A partition
//! that has waited [`MAX_IDLE`] for a topic goes on without it.
//!
//! When a record arrives while nothing is buffered and the other topics have nothing to
//! fetch (the steady state of a caught-up consumer) it is handled at once, without a copy.

use crate::processor::InputRecord;
use parley_core::Timestamp;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use std::collections::VecDeque;
use std::ffi::CStr;
use std::time::{Duration, Instant};

/// How long a partition waits for a topic that is known to have records to fetch before it
/// goes on without them.
pub(crate) const MAX_IDLE: Duration = Duration::from_secs(2);

/// A polled record, waiting its turn.
#[derive(Debug)]
pub(crate) struct Buffered {
    offset: i64,
    key: Vec<u8>,
    value: Vec<u8>,
    timestamp: Option<Timestamp>,
}

/// One partition's buffered inputs, by input topic (the runtime's `input_topics` order).
#[derive(Debug)]
pub(crate) struct TaskInputs {
    buffers: Vec<VecDeque<Buffered>>,
    /// Per topic, the offset after the last record polled (buffered or handled), once
    /// known: from the partition's seal, its committed offset, or a polled record.
    next: Vec<Option<i64>>,
    /// Since when the oldest buffered record waits.
    waiting_since: Option<Instant>,
}

impl TaskInputs {
    /// Buffers for `topics` input topics, with the next offsets known so far.
    pub(crate) fn new(next: Vec<Option<i64>>) -> TaskInputs {
        TaskInputs {
            buffers: next.iter().map(|_| VecDeque::new()).collect(),
            next,
            waiting_since: None,
        }
    }

    /// Whether nothing is buffered.
    pub(crate) fn is_empty(&self) -> bool {
        self.waiting_since.is_none()
    }

    /// Notes a polled record of `topic` and says whether it may be handled at once: nothing
    /// is buffered and every other topic has nothing to fetch (`caught_up(topic, next)`).
    pub(crate) fn polled(
        &mut self,
        topic: usize,
        offset: i64,
        caught_up: impl Fn(usize, Option<i64>) -> bool,
    ) -> bool {
        self.next[topic] = Some(offset + 1);
        self.is_empty() && (0..self.buffers.len()).all(|t| t == topic || caught_up(t, self.next[t]))
    }

    /// Buffers a polled record the partition may not handle yet.
    pub(crate) fn push(&mut self, topic: usize, record: &InputRecord<'_>) {
        self.buffers[topic].push_back(Buffered {
            offset: record.offset,
            key: record.key.to_vec(),
            value: record.value.to_vec(),
            timestamp: record.timestamp,
        });
        self.waiting_since.get_or_insert_with(Instant::now);
    }

    /// The topic whose head record goes next, if the partition may go on: every topic has
    /// a record buffered or nothing to fetch, or the partition has waited [`MAX_IDLE`].
    pub(crate) fn next_topic(
        &self,
        caught_up: impl Fn(usize, Option<i64>) -> bool,
    ) -> Option<usize> {
        let since = self.waiting_since?;
        let complete = self
            .buffers
            .iter()
            .enumerate()
            .all(|(t, buffer)| !buffer.is_empty() || caught_up(t, self.next[t]));
        if !complete && since.elapsed() < MAX_IDLE {
            return None;
        }
        self.buffers
            .iter()
            .enumerate()
            .filter_map(|(t, buffer)| buffer.front().map(|head| (head.timestamp, t)))
            .min_by_key(|(timestamp, t)| (timestamp.map_or(i64::MIN, |ts| ts.0), *t))
            .map(|(_, t)| t)
    }

    /// Takes `topic`'s head record.
    pub(crate) fn pop(&mut self, topic: usize) -> Option<Buffered> {
        let record = self.buffers[topic].pop_front()?;
        if self.buffers.iter().all(VecDeque::is_empty) {
            self.waiting_since = None;
        }
        Some(record)
    }
}

impl Buffered {
    /// The record as its partition's processor takes it.
    pub(crate) fn record<'a>(&'a self, topic: &'a str, partition: i32) -> InputRecord<'a> {
        InputRecord {
            topic,
            partition,
            offset: self.offset,
            key: &self.key,
            value: &self.value,
            timestamp: self.timestamp,
        }
    }
}

/// The consumer's cached watermarks of a topic's partition, `(low, high)`, as of its last
/// fetch (no request is made; high is below zero until a fetch answered).
pub(crate) fn cached_watermarks<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &CStr,
    partition: i32,
) -> Option<(i64, i64)> {
    let (mut low, mut high) = (-1i64, -1i64);
    // SAFETY: the client pointer lives as long as `consumer`; librdkafka copies nothing out
    // of `topic` past the call and writes the two offsets.
    let error = unsafe {
        rdkafka::bindings::rd_kafka_get_watermark_offsets(
            consumer.client().native_ptr(),
            topic.as_ptr(),
            partition,
            &mut low,
            &mut high,
        )
    };
    (error == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR)
        .then_some((low, high))
}

/// Whether a topic's partition has nothing more to fetch, by the consumer's cached
/// watermarks (`(low, high)`, high below zero until a fetch answered): the next offset
/// reaches the high watermark, or, with the next offset unknown, the partition is empty.
pub(crate) fn nothing_to_fetch(watermarks: Option<(i64, i64)>, next: Option<i64>) -> bool {
    match watermarks {
        Some((low, high)) if high >= 0 => next.map_or(low >= high, |next| next >= high),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(offset: i64, at: i64) -> InputRecord<'static> {
        InputRecord {
            topic: "",
            partition: 0,
            offset,
            key: b"k",
            value: b"v",
            timestamp: Some(Timestamp(at)),
        }
    }

    fn take(inputs: &mut TaskInputs, caught_up: impl Fn(usize, Option<i64>) -> bool) -> Vec<i64> {
        let mut out = Vec::new();
        while let Some(topic) = inputs.next_topic(&caught_up) {
            out.push(inputs.pop(topic).unwrap().record("t", 0).offset);
        }
        out
    }

    #[test]
    fn buffered_topics_are_merged_by_timestamp() {
        let mut inputs = TaskInputs::new(vec![Some(0), Some(100)]);
        // Decisions (topic 1) polled first, about events (topic 0) polled after.
        let lagging = |_: usize, _: Option<i64>| false;
        assert!(!inputs.polled(1, 100, lagging));
        inputs.push(1, &record(100, 20));
        assert!(!inputs.polled(1, 101, lagging));
        inputs.push(1, &record(101, 40));
        // Events still to fetch: nothing goes yet.
        assert_eq!(take(&mut inputs, lagging), Vec::<i64>::new());
        assert!(!inputs.polled(0, 0, lagging));
        inputs.push(0, &record(0, 10));
        assert!(!inputs.polled(0, 1, lagging));
        inputs.push(0, &record(1, 30));
        // Both buffered: by timestamp, until a topic runs dry while it may have more.
        assert_eq!(take(&mut inputs, lagging), [0, 100, 1]);
        // Topic 0 has nothing more to fetch: the rest goes.
        let caught_up = |t: usize, next: Option<i64>| t == 0 && next == Some(2);
        assert_eq!(take(&mut inputs, caught_up), [101]);
        assert!(inputs.is_empty());
    }

    #[test]
    fn a_record_goes_at_once_when_the_other_topics_have_nothing_to_fetch() {
        let mut inputs = TaskInputs::new(vec![None, None]);
        assert!(inputs.polled(0, 7, |_, _| true));
        assert!(!inputs.polled(0, 8, |t, _| t == 0));
    }

    #[test]
    fn nothing_to_fetch_follows_the_high_watermark() {
        assert!(!nothing_to_fetch(None, Some(3)));
        assert!(!nothing_to_fetch(Some((-1001, -1001)), Some(3)));
        assert!(nothing_to_fetch(Some((0, 3)), Some(3)));
        assert!(!nothing_to_fetch(Some((0, 3)), Some(2)));
        assert!(nothing_to_fetch(Some((5, 5)), None));
        assert!(!nothing_to_fetch(Some((0, 5)), None));
    }
}
