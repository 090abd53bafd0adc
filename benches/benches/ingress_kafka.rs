//! Ingress end to end through a broker, beside a plain consume-produce passthrough of the
//! same records, per broker (librdkafka's mock cluster in process; Apache Kafka 4.4 from the
//! test kit, which says it skipped when it cannot start), in one run.
//!
//! N raw records (WhatsApp and Messenger text bodies, half each, senders varied so keys
//! spread over the output partitions) are produced to `raw.whatsapp` and `raw.messenger`
//! first. Then, one after the other, over the same raw topics and partitions with their own
//! consumer groups:
//!
//! - passthrough: a `StreamConsumer` (cooperative-sticky, manual commits) and an idempotent
//!   `ThreadedProducer` (`murmur2_random`) that copy each record's key and value to a topic;
//! - ingress: [`parley_ingress::stage`], which normalises, encodes Avro and produces each
//!   event keyed `account/conversation`.
//!
//! Each is timed from its first record read to the broker's acknowledgement of its last
//! output, and reported in records per second.
//!
//! `cargo bench -p parley-benches --bench ingress_kafka`; `PARLEY_BENCH_RECORDS=50000` for a
//! shorter run; `PARLEY_BENCH_BROKER`: `mock`, `kafka` or `mock,kafka` (the default). The
//! mock keeps at most 100 000 records and 5 MiB per partition, hence the partition count,
//! which Kafka gets too so that both runs spread the same way.

use parley_benches::{normaliser, RECEIVED};
use parley_core::Channel;
use parley_ingress::stage::{IngressStage, IngressStageConfig};
use parley_ingress::RawRecord;
use parley_testkit::Kafka;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{
    BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer,
};
use rdkafka::ClientContext;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio_util::sync::CancellationToken;

/// The allocator the `parley` binary ships with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PARTITIONS: i32 = 32;
const PREFIX: &str = "bench.";

fn fixture(channel: Channel) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../processors/ingress/tests/fixtures")
        .join(channel.as_str())
        .join("text.json");
    std::fs::read_to_string(path).expect("the text fixture exists")
}

/// N bodies, alternating WhatsApp and Messenger, 50 000 distinct senders each.
fn bodies(n: usize) -> Vec<(Channel, Vec<u8>)> {
    let whatsapp = fixture(Channel::Whatsapp);
    let messenger = fixture(Channel::Messenger);
    (0..n)
        .map(|i| {
            let sender = i % 50_000;
            if i % 2 == 0 {
                let body = whatsapp.replace("5511987654321", &format!("55119{sender:08}"));
                (Channel::Whatsapp, body.into_bytes())
            } else {
                let body = messenger.replace("6783920147285561", &format!("67839{sender:011}"));
                (Channel::Messenger, body.into_bytes())
            }
        })
        .collect()
}

/// Produces `bodies` to the raw topics, stamped with the current time: Kafka's retention (a
/// week) would delete records stamped at [`RECEIVED`], in 2024, at its next check, however
/// far the bench had read them.
fn produce_raw(brokers: &str, bodies: &[(Channel, Vec<u8>)]) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as i64;
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "20")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .expect("producer");
    let topics: Vec<String> = [Channel::Whatsapp, Channel::Messenger]
        .iter()
        .map(|c| format!("{PREFIX}raw.{c}"))
        .collect();
    for (i, (channel, body)) in bodies.iter().enumerate() {
        let topic = if *channel == Channel::Whatsapp {
            &topics[0]
        } else {
            &topics[1]
        };
        let key = i.to_string();
        let mut record = BaseRecord::<str, [u8]>::to(topic)
            .key(&key)
            .payload(body)
            .timestamp(now);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
        producer.poll(Duration::ZERO);
    }
    producer
        .flush(Duration::from_secs(60))
        .expect("raw records flushed");
}

/// Counts acknowledged records.
struct Acks(Arc<AtomicU64>);

impl ClientContext for Acks {}

impl ProducerContext for Acks {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        assert!(result.is_ok(), "passthrough produce failed");
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Copies `n` records from the raw topics to `<prefix>passthrough`; returns the time from
/// the first record read to the last acknowledgement.
async fn passthrough(brokers: &str, n: u64) -> Duration {
    let acks = Arc::new(AtomicU64::new(0));
    let producer: ThreadedProducer<Acks> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "1000000")
        .create_with_context(Acks(acks.clone()))
        .expect("producer");
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "bench-passthrough")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("partition.assignment.strategy", "cooperative-sticky")
        .create()
        .expect("consumer");
    consumer
        .subscribe(&[
            &format!("{PREFIX}raw.whatsapp"),
            &format!("{PREFIX}raw.messenger"),
        ])
        .expect("subscribe");
    let topic = format!("{PREFIX}passthrough");
    let mut start = None;
    let mut read = 0;
    while read < n {
        let message = consumer.recv().await.expect("consume");
        start.get_or_insert_with(Instant::now);
        let mut record =
            BaseRecord::<[u8], [u8]>::to(&topic).payload(message.payload().unwrap_or_default());
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        read += 1;
    }
    while acks.load(Ordering::Relaxed) < n {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let elapsed = start.expect("records were read").elapsed();
    let positions = consumer.position().expect("positions");
    consumer
        .commit(&positions, CommitMode::Sync)
        .expect("commit");
    elapsed
}

/// Runs the ingress stage until `events` events are acknowledged; returns the time from
/// the first record read to then.
async fn ingress(brokers: &str, events: u64) -> Duration {
    let mut config = IngressStageConfig::new(brokers);
    config.topic_prefix = PREFIX.to_owned();
    config.channels = vec![Channel::Whatsapp, Channel::Messenger];
    config.metrics_address = None;
    config.ingress = normaliser().config().clone();
    let output = config.output_topic();
    let raw: Vec<String> = config.raw_topics();
    let stage = IngressStage::new(config).await.expect("stage");
    let metrics = stage.metrics();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(stage.run(shutdown.clone()));
    let read = || raw.iter().map(|t| metrics.records_in(t)).sum::<u64>();
    while read() == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let start = Instant::now();
    while metrics.records_out(&output) < events {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let elapsed = start.elapsed();
    shutdown.cancel();
    running
        .await
        .expect("joined")
        .expect("the stage stops cleanly");
    elapsed
}

/// Every topic of the run, under [`PREFIX`].
fn topic_names() -> Vec<String> {
    [
        "raw.whatsapp",
        "raw.messenger",
        "conversation-events",
        "dlq",
        "passthrough",
    ]
    .iter()
    .map(|name| format!("{PREFIX}{name}"))
    .collect()
}

/// Produces `bodies` to `brokers`, then runs the passthrough and the ingress over them and
/// prints both.
fn run(name: &str, brokers: &str, bodies: &[(Channel, Vec<u8>)]) {
    let n = bodies.len();
    let bytes: usize = bodies.iter().map(|(_, b)| b.len()).sum();
    let started = Instant::now();
    produce_raw(brokers, bodies);
    println!(
        "{name}: produced {n} raw records ({:.1} MB) in {:.2?}",
        bytes as f64 / 1e6,
        started.elapsed()
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let plain = runtime.block_on(passthrough(brokers, n as u64));
    let stage = runtime.block_on(ingress(brokers, n as u64));

    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "{:<40} {:>10} {:>14}",
        format!("{name}: run"),
        "seconds",
        "records/s"
    );
    println!(
        "{:<40} {:>10.3} {:>14.0}",
        "passthrough (consume -> produce)",
        plain.as_secs_f64(),
        rate(plain)
    );
    println!(
        "{:<40} {:>10.3} {:>14.0}",
        "ingress (normalise, Avro, produce)",
        stage.as_secs_f64(),
        rate(stage)
    );
    println!(
        "{name}: ingress / passthrough throughput: {:.2}",
        rate(stage) / rate(plain)
    );
    println!();
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return; // Built by `cargo test`; only `cargo bench` (which passes --bench) runs it.
    }
    let n: usize = std::env::var("PARLEY_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let which = std::env::var("PARLEY_BENCH_BROKER").unwrap_or_else(|_| "mock,kafka".into());
    let bodies = bodies(n);
    // Every body is one message.
    let normaliser = normaliser();
    for (channel, body) in bodies.iter().take(2) {
        let outcome = normaliser
            .normalise(&RawRecord {
                channel: *channel,
                payload: body,
                account_header: None,
                timestamp: RECEIVED,
            })
            .expect("the bench bodies are valid");
        assert_eq!(outcome.events.len(), 1);
    }

    if which.contains("mock") {
        let cluster = MockCluster::new(1).expect("mock cluster");
        for name in topic_names() {
            cluster.create_topic(&name, PARTITIONS, 1).expect("topic");
        }
        run("mock", &cluster.bootstrap_servers(), &bodies);
    }
    if which.contains("kafka") {
        match Kafka::try_single("bench-ingress") {
            Ok(broker) => {
                let names = topic_names();
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                broker.create_topics(&names, &[], PARTITIONS);
                run("kafka", &broker.bootstrap_servers(), &bodies);
            }
            Err(reason) => println!("kafka: SKIPPED, Apache Kafka could not start: {reason}"),
        }
    }
}
