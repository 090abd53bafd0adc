//! End-to-end throughput: the runtime beside plain rdkafka, on the same broker and partitions.
//!
//! For each broker (the in-process mock cluster; Apache Kafka 4.4 from the test kit) it
//! preloads `PARLEY_BENCH_RECORDS` (default 100 000) records over 4 partitions and 10 000
//! keys, then measures, one after the other over that input:
//! - passthrough: a consumer-group consumer that produces every record to another topic
//!   (idempotent producer, offsets committed every 500 records), from its first record read
//!   until all are acknowledged;
//! - runtime, per guarantee: the counter processor (sled state, changelog, a durable timer
//!   per input), the runtime's default batches (10,000 records or 100 ms), from its first record read until its group's
//!   committed offsets cover every input. On Kafka both `at_least_once` and `exactly_once` (one
//!   transaction per batch, the input offsets sent to it); on the mock `at_least_once` only,
//!   since the mock does not apply transactions faithfully. Each run has its own group,
//!   outputs and changelog, and prints its commits' count and mean latency;
//! - restore, per guarantee: that run's changelog replayed into an empty sled, beside a plain
//!   consume of the same changelog, both with a 5 ms fetch wait (see
//!   [`RESTORE_FETCH_WAIT_MS`]).
//!
//! - failover, with `PARLEY_BENCH_FAILOVER_KEYS=N` (e.g. 1000000): the counter writes N keys
//!   of state (one input each, `at_least_once`), stops, and a fresh instance with an empty
//!   state directory joins the group: the seconds until it is ready (joined, assigned,
//!   restored), as `/readyz` would answer.
//!
//! `PARLEY_BENCH_BROKER`: `mock`, `kafka` or `mock,kafka` (the default).
//!
//! Both are timed from their first record read, so that neither counts its group join (the
//! first group on a fresh Kafka also waits for `__consumer_offsets` to be created).
//!
//! A plain `main` (harness = false): each figure is one timed run over a broker that has to be
//! set up first, which criterion's repeated-iteration model does not fit.

use parley_core::Millis;
use parley_runtime::host::flush;
use parley_runtime::state::restore::restore_partition;
use parley_runtime::state::StateStore;
use parley_runtime::{Guarantee, Metrics, SystemClock};
use parley_testkit::counter::*;
use parley_testkit::*;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PARTITIONS: i32 = 4;
const KEYS: usize = 10_000;
/// `fetch.wait.max.ms` of the restore and plain consumers: a partition's end is known from a
/// fetch that finds nothing, which the broker holds this long. With librdkafka's 500 ms that
/// wait, about 0.8 s a partition, was most of the restore's time (3.6 s for 51 000 records
/// against 0.45 s with 5 ms), so the rates measured the wait instead of the reading.
const RESTORE_FETCH_WAIT_MS: &str = "5";

fn records() -> usize {
    std::env::var("PARLEY_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

/// Preloads `n` records over [`KEYS`] keys, put where parley and the Java clients put keys
/// (`murmur2_random`): the runtime refuses a keyed record on another partition than its
/// key's as `wrong_partition`.
fn preload(brokers: &str, topic: &str, n: usize) {
    preload_keys(brokers, topic, n, KEYS);
}

/// Preloads `n` records over `keys` keys, as [`preload`].
fn preload_keys(brokers: &str, topic: &str, n: usize, keys: usize) {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .unwrap();
    for i in 0..n {
        let key = format!("key-{}", i % keys);
        let mut record = BaseRecord::<String, str>::to(topic).key(&key).payload("1");
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(120)).unwrap();
}

/// Copies the `n` records of `input` to `output`; returns the time from the subscription to
/// the first record read (the group join), and from then to the last acknowledgement.
fn passthrough(brokers: &str, input: &str, output: &str, n: usize) -> (Duration, Duration) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("{input}-passthrough"))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("partition.assignment.strategy", "cooperative-sticky")
        .create()
        .unwrap();
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .unwrap();
    consumer.subscribe(&[input]).unwrap();
    let subscribed = Instant::now();
    let mut first = None;
    let mut seen = 0;
    while seen < n {
        let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        first.get_or_insert_with(Instant::now);
        let mut record = BaseRecord::<[u8], [u8]>::to(output)
            .key(m.key().unwrap_or_default())
            .payload(m.payload().unwrap_or_default());
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        seen += 1;
        if seen % 500 == 0 {
            flush(&producer, Duration::from_secs(30)).unwrap();
            consumer.commit_consumer_state(CommitMode::Async).ok();
        }
    }
    flush(&producer, Duration::from_secs(30)).unwrap();
    let first = first.expect("records were read");
    (first - subscribed, first.elapsed())
}

fn plain_consume(brokers: &str, topic: &str) -> (usize, Duration) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "bench-plain")
        .set("enable.partition.eof", "true")
        .set("fetch.wait.max.ms", RESTORE_FETCH_WAIT_MS)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let started = Instant::now();
    let (mut count, mut eof) = (0, 0);
    while eof < PARTITIONS {
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(_)) => count += 1,
            Some(Err(KafkaError::PartitionEOF(_))) => eof += 1,
            _ => {}
        }
    }
    (count, started.elapsed())
}

/// The topics of one guarantee's run: the shared input, the rest of its own.
fn run_topics(name: &str, guarantee: Guarantee, input: &str) -> Topics {
    let mut topics = Topics::new(&format!("bench-{name}-{}", guarantee.as_str()));
    topics.input = input.to_owned();
    topics
}

/// Whether `group` has committed offsets summing to `n` over the input's partitions (every
/// partition starts at 0, so that is every input).
fn committed_all(consumer: &BaseConsumer, topic: &str, n: usize) -> bool {
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(topic, p);
    }
    let Ok(committed) = consumer.committed_offsets(tpl, Duration::from_secs(5)) else {
        return false;
    };
    let sum: i64 = committed
        .elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(o) => o,
            _ => 0,
        })
        .sum();
    sum as usize >= n
}

/// One run of the counter in `guarantee` over the `n` records of `topics.input`: returns the
/// time from its first input read (after the group join and the empty restore) to the commit
/// of its last input.
fn runtime(name: &str, brokers: &str, topics: &Topics, guarantee: Guarantee, n: usize) -> Duration {
    let group = format!("bench-{name}-runtime-{}", guarantee.as_str());
    let mut config = counter_config(brokers, &group, topics, temp_dir("bench"), guarantee);
    config.batch_size = parley_runtime::config::default_batch_size();
    config.commit_interval_ms = parley_runtime::config::default_commit_interval_ms();
    let offsets: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", &group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let started = Instant::now();
    let host = start_counter(
        config,
        topics,
        Some(Millis::hours(1)),
        Arc::new(SystemClock),
    );
    let topic = topics.input.clone();
    let deadline = Instant::now() + Duration::from_secs(120);
    while host.metrics().records_in.with_label_values(&[&topic]).get() == 0
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(1));
    }
    let joined = started.elapsed();
    let started = Instant::now();
    let read = wait_for(Duration::from_secs(600), || {
        host.metrics().records_in.with_label_values(&[&topic]).get() as usize >= n
    });
    let consumed = started.elapsed();
    // The group's committed offsets cover every input once the batch holding the last one
    // has committed (within commit_interval_ms).
    let done = read
        && wait_for(Duration::from_secs(60), || {
            committed_all(&offsets, &topic, n)
        });
    let runtime = started.elapsed();
    let commit = host
        .metrics()
        .commit_latency
        .with_label_values(&[guarantee.as_str()]);
    let commits = commit.get_sample_count();
    println!(
        "{name}: {} {commits} commits, {:.1} ms each on average ({})",
        guarantee.as_str(),
        commit.get_sample_sum() * 1e3 / commits.max(1) as f64,
        match guarantee {
            Guarantee::ExactlyOnce => "seal, offsets to the transaction, commit",
            Guarantee::AtLeastOnce => "seal, flush, offsets",
        }
    );
    let stopping = Instant::now();
    host.stop().unwrap();
    eprintln!(
        "{name}: {} first input read after {joined:?}, then all read after {consumed:?}, committed after {runtime:?}, stop took {:?}",
        guarantee.as_str(),
        stopping.elapsed()
    );
    assert!(done, "the runtime did not finish");
    runtime
}

/// A failover with `keys` keys of state: the counter counts one input per key, stops, and a
/// fresh instance (an empty state directory, as after a lost volume or on a new node) joins
/// the group; prints the seconds from its start until it is ready (joined, assigned, every
/// partition restored from the changelog).
fn failover(name: &str, brokers: &str, create: Create<'_>, keys: usize) {
    let topics = Topics::new(&format!("bench-{name}-failover"));
    create(&topics.all(), &[&topics.changelog]);
    preload_keys(brokers, &topics.input, keys, keys);
    let took = runtime(name, brokers, &topics, Guarantee::AtLeastOnce, keys);
    println!(
        "{name}: failover: {keys} keys of state written in {:.1} s",
        took.as_secs_f64()
    );
    let group = format!("bench-{name}-runtime-{}", Guarantee::AtLeastOnce.as_str());
    let config = counter_config(
        brokers,
        &group,
        &topics,
        temp_dir("bench-failover"),
        Guarantee::AtLeastOnce,
    );
    let started = Instant::now();
    let host = start_counter(
        config,
        &topics,
        Some(Millis::hours(1)),
        Arc::new(SystemClock),
    );
    let ready = wait_for(Duration::from_secs(600), || {
        host.metrics().readiness().is_ok()
    });
    let elapsed = started.elapsed();
    let restored = host.metrics().restore_records.get();
    host.stop().unwrap();
    assert!(ready, "the new instance became ready");
    println!(
        "{name}: failover: a fresh instance ready after {:.1} s (joined, assigned {PARTITIONS} \
         partitions, restored {restored} changelog records = {:.0}/s over the whole time)",
        elapsed.as_secs_f64(),
        restored as f64 / elapsed.as_secs_f64()
    );
    restore(name, brokers, &topics.changelog, "failover");
}

/// Restores `changelog` into an empty sled, beside a plain consume of it, and prints both.
fn restore(name: &str, brokers: &str, changelog: &str, label: &str) {
    let (plain_count, plain) = plain_consume(brokers, changelog);
    let (store, _) = StateStore::open(&temp_dir("bench-restore")).unwrap();
    let restore_consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "bench-restore")
        .set("enable.partition.eof", "true")
        .set("fetch.wait.max.ms", RESTORE_FETCH_WAIT_MS)
        .create()
        .unwrap();
    let metrics = Metrics::new();
    let started = Instant::now();
    let mut restored = 0;
    for p in 0..PARTITIONS {
        let partition = store.partition(p).unwrap();
        let outcome = restore_partition(
            &restore_consumer,
            changelog,
            &partition,
            &metrics,
            SystemClock.now_ts(),
            Millis::days(1),
            &std::sync::atomic::AtomicBool::new(false),
        )
        .unwrap();
        restored += outcome.records;
    }
    let restore = started.elapsed();
    println!(
        "{name}: restore ({label} changelog) {restored} records in {:.2}s = {:.0}/s into sled; plain consume of {plain_count} in {:.2}s = {:.0}/s",
        restore.as_secs_f64(),
        restored as f64 / restore.as_secs_f64(),
        plain.as_secs_f64(),
        plain_count as f64 / plain.as_secs_f64()
    );
}

/// Creates `topics` with the `compacted` ones compacted.
type Create<'a> = &'a dyn Fn(&[&str], &[&str]);

fn bench(name: &str, brokers: &str, create: Create<'_>, guarantees: &[Guarantee]) {
    let n = records();
    let input = format!("bench-{name}.in");
    let pass_out = format!("bench-{name}.pass");
    let runs: Vec<(Guarantee, Topics)> = guarantees
        .iter()
        .map(|&g| (g, run_topics(name, g, &input)))
        .collect();
    let mut all: Vec<&str> = vec![&input, &pass_out];
    let mut compacted: Vec<&str> = Vec::new();
    for (_, topics) in &runs {
        all.extend(topics.all().into_iter().filter(|t| **t != input));
        compacted.push(&topics.changelog);
    }
    create(&all, &compacted);
    preload(brokers, &input, n);

    let (joined, pass) = passthrough(brokers, &input, &pass_out, n);
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    eprintln!("{name}: passthrough read its first record after {joined:?}");
    println!(
        "{name}: {n} records, {PARTITIONS} partitions: passthrough {:.0}/s",
        rate(pass)
    );
    for (guarantee, topics) in &runs {
        let took = runtime(name, brokers, topics, *guarantee, n);
        println!(
            "{name}: runtime {} {:.0}/s, ratio {:.2}",
            guarantee.as_str(),
            rate(took),
            pass.as_secs_f64() / took.as_secs_f64()
        );
    }
    // Restore: each run's changelog into an empty sled, beside a plain consume of it.
    for (guarantee, topics) in &runs {
        restore(name, brokers, &topics.changelog, guarantee.as_str());
    }
    let failover_keys = std::env::var("PARLEY_BENCH_FAILOVER_KEYS")
        .ok()
        .and_then(|v| v.parse().ok());
    if let Some(keys) = failover_keys {
        failover(name, brokers, create, keys);
    }
}

trait NowTs {
    fn now_ts(&self) -> parley_core::Timestamp;
}

impl NowTs for SystemClock {
    fn now_ts(&self) -> parley_core::Timestamp {
        parley_runtime::Clock::now(self)
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return; // Built or listed by `cargo test`; only `cargo bench` (which passes --bench) runs it.
    }
    let which = std::env::var("PARLEY_BENCH_BROKER").unwrap_or_else(|_| "mock,kafka".into());
    if which.contains("mock") {
        let cluster = MockCluster::new(1).unwrap();
        let brokers = cluster.bootstrap_servers();
        // The mock does not apply transactions faithfully: at_least_once only.
        bench(
            "mock",
            &brokers,
            &|topics, _| {
                for t in topics {
                    cluster.create_topic(t, PARTITIONS, 1).unwrap();
                }
            },
            &[Guarantee::AtLeastOnce],
        );
    }
    if which.contains("kafka") {
        match Kafka::try_single("bench") {
            Ok(broker) => bench(
                "kafka",
                &broker.bootstrap_servers(),
                &|topics, compacted| broker.create_topics(topics, compacted, PARTITIONS),
                &[Guarantee::AtLeastOnce, Guarantee::ExactlyOnce],
            ),
            Err(reason) => println!("kafka: SKIPPED, Apache Kafka could not start: {reason}"),
        }
    }
}
