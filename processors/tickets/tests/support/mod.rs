//! Helpers of the processors' integration tests on librdkafka's mock cluster: configs,
//! hosts on threads, producing Avro records and reading outputs back.
#![allow(dead_code, unreachable_pub)]

use parley_core::Timestamp;
use parley_runtime::codec::{AvroCodec, AvroRecord};
use parley_runtime::{Guarantee, Host, KeyedProcessor, RuntimeConfig, RuntimeError, Shutdown};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The start of the tests' manual clocks, and the timestamp of the records they produce: the
/// processors handle a record at its timestamp.
pub const T0: Timestamp = Timestamp(1_700_000_000_000);
/// Partitions of every test topic.
pub const PARTITIONS: i32 = 4;
/// How long a test waits for an expected record.
pub const WAIT: Duration = Duration::from_secs(60);

/// A mock cluster with `topics`, each of [`PARTITIONS`] partitions.
pub fn cluster(topics: &[&str]) -> MockCluster<'static, rdkafka::producer::DefaultProducerContext> {
    let cluster = MockCluster::new(1).unwrap();
    for topic in topics {
        cluster.create_topic(topic, PARTITIONS, 1).unwrap();
    }
    cluster
}

/// Logs to the test writer when `RUST_LOG` is set.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "off".into()),
        )
        .try_init();
}

/// A fresh directory under the system temp dir.
pub fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir =
        std::env::temp_dir().join(format!("parley-proc-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fast `at_least_once` runtime config; the processor's constructor sets the inputs.
pub fn runtime_config(
    brokers: &str,
    group: &str,
    changelog: &str,
    dlq: &str,
    state_dir: PathBuf,
) -> RuntimeConfig {
    RuntimeConfig {
        brokers: brokers.to_owned(),
        group_id: group.to_owned(),
        instance_id: state_dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned(),
        input_topics: vec!["set-by-the-processor".to_owned()],
        changelog_topic: changelog.to_owned(),
        dlq_topic: dlq.to_owned(),
        state_dir,
        guarantee: Guarantee::AtLeastOnce,
        registry_url: None,
        batch_size: 50,
        commit_interval_ms: 20,
        timer_horizon_ms: 4 * 3_600_000,
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

/// A host running on its own thread; stopped (batch committed) when dropped.
pub struct RunningHost {
    shutdown: Shutdown,
    thread: Option<JoinHandle<Result<(), RuntimeError>>>,
}

impl RunningHost {
    pub fn start<P: KeyedProcessor>(host: Host<P>) -> RunningHost {
        let shutdown = Shutdown::new();
        let flag = shutdown.clone();
        let thread = std::thread::spawn(move || host.run(flag));
        RunningHost {
            shutdown,
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

fn producer(brokers: &str) -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "0")
        .create()
        .unwrap()
}

/// Produces raw `(key, value)` records in order, timestamped [`T0`], and waits until they
/// are acknowledged.
pub fn produce_raw(brokers: &str, topic: &str, records: &[(&str, &[u8])]) {
    produce_raw_at(brokers, topic, records, T0);
}

/// Produces raw `(key, value)` records in order, timestamped `at`, and waits until they are
/// acknowledged.
pub fn produce_raw_at(brokers: &str, topic: &str, records: &[(&str, &[u8])], at: Timestamp) {
    let producer = producer(brokers);
    for (key, value) in records {
        producer
            .send(
                BaseRecord::to(topic)
                    .key(*key)
                    .payload(*value)
                    .timestamp(at.0),
            )
            .unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

/// Produces one record, Avro single-object encoded and timestamped [`T0`], and waits until it
/// is acknowledged.
pub fn produce<T: AvroRecord>(brokers: &str, topic: &str, key: &str, value: &T) {
    produce_at(brokers, topic, key, value, T0);
}

/// Produces one record, Avro single-object encoded and timestamped `at`, and waits until it
/// is acknowledged.
pub fn produce_at<T: AvroRecord>(brokers: &str, topic: &str, key: &str, value: &T, at: Timestamp) {
    let bytes = AvroCodec::<T>::single_object().encode(value).unwrap();
    produce_raw_at(brokers, topic, &[(key, &bytes)], at);
}

/// A record read back.
#[derive(Clone, Debug)]
pub struct Read {
    pub key: String,
    pub value: Vec<u8>,
    pub headers: BTreeMap<String, String>,
}

/// Reads `topic` (every partition) from the start until `done(records)` or `timeout`.
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
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
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
