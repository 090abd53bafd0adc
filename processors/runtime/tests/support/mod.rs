//! Shared helpers of the runtime's integration tests: brokers, hosts, producing and reading.
#![allow(dead_code, unreachable_pub)]

pub mod tansu;

use parley_core::{Millis, Timestamp};
use parley_runtime::testing::Counter;
use parley_runtime::{Clock, Guarantee, Host, Metrics, RuntimeConfig, RuntimeError, Shutdown};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The topics of a counter test, named with a unique prefix.
#[derive(Clone, Debug)]
pub struct Topics {
    pub input: String,
    pub output: String,
    pub expired: String,
    pub changelog: String,
    pub dlq: String,
}

impl Topics {
    pub fn new(prefix: &str) -> Topics {
        Topics {
            input: format!("{prefix}.in"),
            output: format!("{prefix}.out"),
            expired: format!("{prefix}.expired"),
            changelog: format!("{prefix}.changelog"),
            dlq: format!("{prefix}.dlq"),
        }
    }

    pub fn all(&self) -> [&str; 5] {
        [
            &self.input,
            &self.output,
            &self.expired,
            &self.changelog,
            &self.dlq,
        ]
    }
}

/// A fresh directory under the system temp dir.
pub fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("parley-rt-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn counter_config(
    brokers: &str,
    group: &str,
    topics: &Topics,
    state_dir: PathBuf,
    guarantee: Guarantee,
) -> RuntimeConfig {
    RuntimeConfig {
        brokers: brokers.to_owned(),
        group_id: group.to_owned(),
        instance_id: format!("{}", state_dir.file_name().unwrap().to_string_lossy()),
        input_topics: vec![topics.input.clone()],
        changelog_topic: topics.changelog.clone(),
        dlq_topic: topics.dlq.clone(),
        state_dir,
        guarantee,
        registry_url: None,
        batch_size: 50,
        commit_interval_ms: 50,
        timer_horizon_ms: 3_600_000,
        metrics_address: None,
        time: Default::default(),
        librdkafka: BTreeMap::from([
            ("session.timeout.ms".to_owned(), "6000".to_owned()),
            ("heartbeat.interval.ms".to_owned(), "500".to_owned()),
            (
                "topic.metadata.refresh.interval.ms".to_owned(),
                "1000".to_owned(),
            ),
        ]),
    }
}

/// A counter host running on its own thread.
pub struct RunningHost {
    pub shutdown: Shutdown,
    pub metrics: Arc<Metrics>,
    thread: Option<JoinHandle<Result<(), RuntimeError>>>,
}

impl RunningHost {
    pub fn start(
        config: RuntimeConfig,
        topics: &Topics,
        expire_after: Option<Millis>,
        clock: Arc<dyn Clock>,
    ) -> RunningHost {
        let (output, expired) = (topics.output.clone(), topics.expired.clone());
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "off".into()),
            )
            .try_init();
        let metrics = Arc::new(Metrics::new());
        let host = Host::new(
            config,
            move |_| Counter::new(&output, &expired, expire_after),
            clock,
            metrics.clone(),
        )
        .unwrap();
        let shutdown = Shutdown::new();
        let flag = shutdown.clone();
        let thread = std::thread::spawn(move || host.run(flag));
        RunningHost {
            shutdown,
            metrics,
            thread: Some(thread),
        }
    }

    /// Stops the host and returns how it ended.
    pub fn stop(mut self) -> Result<(), RuntimeError> {
        self.shutdown.trigger();
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for RunningHost {
    fn drop(&mut self) {
        self.shutdown.trigger();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub fn producer(brokers: &str) -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "0")
        .set("batch.num.messages", "1")
        .create()
        .unwrap()
}

/// Produces `(key, value)` records and waits until they are acknowledged. Their timestamps
/// are the wall clock's: for a host on the [`parley_runtime::SystemClock`].
pub fn produce(brokers: &str, topic: &str, records: &[(&str, &str)]) {
    produce_with(brokers, topic, records, |_| None);
}

/// Produces `(key, value)` records timestamped `at`, the time of the host's manual clock.
pub fn produce_at(brokers: &str, topic: &str, records: &[(&str, &str)], at: Timestamp) {
    produce_with(brokers, topic, records, |_| Some(at));
}

/// Produces `(key, value)` records, the `i`th timestamped `timestamp(i)` (or by the wall clock
/// for `None`), and waits until they are acknowledged.
pub fn produce_with(
    brokers: &str,
    topic: &str,
    records: &[(&str, &str)],
    timestamp: impl Fn(usize) -> Option<Timestamp>,
) {
    let producer = producer(brokers);
    for (i, (key, value)) in records.iter().enumerate() {
        let mut record = BaseRecord::to(topic).key(*key).payload(*value);
        if let Some(at) = timestamp(i) {
            record = record.timestamp(at.0);
        }
        producer.send(record).unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

/// A record read back: key, value, headers, timestamp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Read {
    pub key: String,
    pub value: String,
    pub headers: BTreeMap<String, String>,
    pub timestamp: Option<i64>,
}

/// Reads `topic` (all `partitions`) from the start until `done(records)` or `timeout`.
pub fn read_until(
    brokers: &str,
    topic: &str,
    partitions: i32,
    isolation: &str,
    timeout: Duration,
    done: impl Fn(&[Read]) -> bool,
) -> Vec<Read> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "parley-test-reader")
        .set("enable.auto.commit", "false")
        .set("isolation.level", isolation)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let deadline = Instant::now() + timeout;
    let mut records = Vec::new();
    while Instant::now() < deadline && !done(&records) {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
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
                value: text(m.payload()),
                headers,
                timestamp: m.timestamp().to_millis(),
            });
        }
    }
    records
}

/// The last count seen per key in counter outputs (`key=count`).
pub fn last_counts(records: &[Read]) -> BTreeMap<String, i64> {
    let mut counts = BTreeMap::new();
    for r in records {
        let (key, count) = r.value.split_once('=').unwrap();
        let count: i64 = count.parse().unwrap();
        let entry = counts.entry(key.to_owned()).or_insert(count);
        *entry = (*entry).max(count);
    }
    counts
}

/// Waits until `condition` holds, up to `timeout`; returns whether it did.
pub fn wait_for(timeout: Duration, condition: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    condition()
}
