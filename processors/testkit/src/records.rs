//! Producing records and reading them back, as channel integrations and BI would.
//!
//! Producers use the `murmur2_random` partitioner, where parley and Java clients put keys.
//! Readers use `read_committed`, so under `exactly_once` they see only committed
//! transactions; they read every partition of a topic from its start.

use crate::T0;
use parley_core::Timestamp;
use parley_runtime::codec::{AvroCodec, AvroRecord};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A producer that sends at once and partitions keys as parley does.
pub fn producer(brokers: &str) -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "0")
        .create()
        .unwrap()
}

/// Produces `(key, value)` records in order, the `i`th timestamped `timestamp(i)` (by the
/// wall clock for `None`), and waits until they are acknowledged.
pub fn produce_with(
    brokers: &str,
    topic: &str,
    records: &[(&str, &[u8])],
    timestamp: impl Fn(usize) -> Option<Timestamp>,
) {
    let producer = producer(brokers);
    for (i, (key, value)) in records.iter().enumerate() {
        let mut record = BaseRecord::to(topic).key(*key).payload(*value);
        if let Some(at) = timestamp(i) {
            record = record.timestamp(at.0);
        }
        producer.send(record).map_err(|(e, _)| e).unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

/// Produces raw `(key, value)` records in order, timestamped [`T0`].
pub fn produce_raw(brokers: &str, topic: &str, records: &[(&str, &[u8])]) {
    produce_raw_at(brokers, topic, records, T0);
}

/// Produces raw `(key, value)` records in order, timestamped `at`.
pub fn produce_raw_at(brokers: &str, topic: &str, records: &[(&str, &[u8])], at: Timestamp) {
    produce_with(brokers, topic, records, |_| Some(at));
}

/// Produces `(key, text)` records timestamped by the wall clock: for a host on the
/// [`parley_runtime::SystemClock`].
pub fn produce_text(brokers: &str, topic: &str, records: &[(&str, &str)]) {
    produce_text_with(brokers, topic, records, |_| None);
}

/// Produces `(key, text)` records timestamped `at`, the time of the host's manual clock.
pub fn produce_text_at(brokers: &str, topic: &str, records: &[(&str, &str)], at: Timestamp) {
    produce_text_with(brokers, topic, records, |_| Some(at));
}

/// Produces `(key, text)` records, the `i`th timestamped `timestamp(i)`.
pub fn produce_text_with(
    brokers: &str,
    topic: &str,
    records: &[(&str, &str)],
    timestamp: impl Fn(usize) -> Option<Timestamp>,
) {
    let raw: Vec<(&str, &[u8])> = records.iter().map(|(k, v)| (*k, v.as_bytes())).collect();
    produce_with(brokers, topic, &raw, timestamp);
}

/// Produces one record, Avro single-object encoded and timestamped [`T0`].
pub fn produce<T: AvroRecord>(brokers: &str, topic: &str, key: &str, value: &T) {
    produce_at(brokers, topic, key, value, T0);
}

/// Produces one record, Avro single-object encoded and timestamped `at`.
pub fn produce_at<T: AvroRecord>(brokers: &str, topic: &str, key: &str, value: &T, at: Timestamp) {
    let bytes = AvroCodec::<T>::single_object().encode(value).unwrap();
    produce_raw_at(brokers, topic, &[(key, &bytes)], at);
}

/// A record read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Read {
    /// The key, as text.
    pub key: String,
    /// The value's bytes.
    pub value: Vec<u8>,
    /// The headers, values as text.
    pub headers: BTreeMap<String, String>,
    /// The record timestamp.
    pub timestamp: Option<i64>,
    /// Where it was read.
    pub partition: i32,
}

impl Read {
    /// The value as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.value).into_owned()
    }
}

/// The number of partitions of `topic`.
pub fn partition_count(brokers: &str, topic: &str) -> i32 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(30))
        .unwrap();
    metadata.topics()[0].partitions().len() as i32
}

/// Reads `topic` (every partition, `read_committed`) from the start until `done(records)` or
/// `timeout`.
pub fn read_until(
    brokers: &str,
    topic: &str,
    timeout: Duration,
    done: impl Fn(&[Read]) -> bool,
) -> Vec<Read> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "parley-test-reader")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("fetch.wait.max.ms", "50")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partition_count(brokers, topic) {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let deadline = Instant::now() + timeout;
    let mut records = Vec::new();
    while Instant::now() < deadline && !done(&records) {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(50)) {
            let text =
                |b: Option<&[u8]>| String::from_utf8_lossy(b.unwrap_or_default()).into_owned();
            let headers = m
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| (h.key.to_owned(), text(h.value)))
                        .collect()
                })
                .unwrap_or_default();
            records.push(Read {
                key: text(m.key()),
                value: m.payload().unwrap_or_default().to_vec(),
                headers,
                timestamp: m.timestamp().to_millis(),
                partition: m.partition(),
            });
        }
    }
    records
}

/// Reads and decodes `topic` until `done(records)` or `timeout`: `(key, record)` pairs.
pub fn read_records<T: AvroRecord>(
    brokers: &str,
    topic: &str,
    timeout: Duration,
    done: impl Fn(&[(String, T)]) -> bool,
) -> Vec<(String, T)> {
    let codec = AvroCodec::<T>::single_object();
    let decode = |reads: &[Read]| -> Vec<(String, T)> {
        reads
            .iter()
            .map(|r| (r.key.clone(), codec.decode(&r.value).unwrap()))
            .collect()
    };
    let reads = read_until(brokers, topic, timeout, |reads| done(&decode(reads)));
    decode(&reads)
}
