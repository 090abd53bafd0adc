//! The whole pipeline end to end, raw webhook in to status change out, beside a plain
//! consume-produce passthrough over the same raw topics, per broker and guarantee, in one
//! run.
//!
//! Runs on librdkafka's mock cluster in process (`at_least_once` only: the mock does not
//! apply transactions faithfully) and on Apache Kafka 4.4 from the test kit, a fresh
//! single-node broker per guarantee (it says it skipped when Kafka cannot start). For each,
//! the bench:
//!
//! 1. starts every role (ingress, tickets, router) in process with
//!    [`parley::embedded::Embedded::start_on`] in the run's guarantee (`exactly_once`, the
//!    default of `parley run`, commits each batch of the tickets and router roles in a Kafka
//!    transaction), the runtime's default batch and commit settings, WhatsApp and Messenger
//!    auto-accepted, and brings ten agents of account `acme` online on both channels with
//!    capacity for every conversation;
//! 2. pipeline: produces N webhooks (one per conversation, WhatsApp and Messenger in turn)
//!    into `raw.whatsapp` and `raw.messenger`, keyed by conversation, with the producer
//!    timestamp set to the send time, and reads `ticket-status-changes` (`read_committed`)
//!    until every conversation's ticket is Open (assigned by the router);
//! 3. stops the roles; passthrough: a consumer group reading the same raw topics from
//!    where the pipeline's records end (a `StreamConsumer`, cooperative-sticky, manual
//!    commits) and an idempotent `ThreadedProducer` (`murmur2_random`, `linger.ms=5`, as the
//!    ingress stage) that copies every record to `bench.passthrough`, which is read back;
//!    the same N bodies are produced the same way.
//!
//! After the timed pipeline run and the roles' last commits, the bench reads back what was
//! written to every topic since the run began (`read_uncommitted`) and prints, per webhook
//! and topic, the data records, the transaction markers and the key, value and header
//! bytes, with the broker ceiling: the passthrough's records/s divided by the data records
//! one webhook writes, and the pipeline's webhooks/s as a fraction of it.
//!
//! Each run is preceded by a warm-up of its own webhooks, produced at the run's pace and
//! waited for, so that neither group joins nor a fresh broker's first seconds are measured:
//! Kafka's JVM compiles its hot paths during its first tens of seconds of traffic, and on a
//! 2-core machine the pipeline lags by up to a second or more meanwhile. Reported
//! per run: records/s from the first webhook produced to the last output read, and the
//! latency from each webhook's send to its output (for the pipeline: to the ticket's first
//! status change, New, and to its Open), as p50, p90, p99 and max. Outputs are read by one
//! consumer per run, assigned every partition from a few records before its end, started
//! (and reading the last of the warm-up's outputs) before the first timed webhook is sent.
//!
//! `cargo bench -p parley-benches --bench pipeline`. Environment:
//! - `PARLEY_BENCH_BROKER`: `mock`, `kafka` or `mock,kafka` (the default);
//! - `PARLEY_BENCH_GUARANTEE`: `at_least_once`, `exactly_once` or both, comma-separated, in
//!   the order to run them on Kafka (default `at_least_once,exactly_once`); the mock runs
//!   only when `at_least_once` is among them;
//! - `PARLEY_BENCH_CONVERSATIONS`: N (default 20 000). The mock keeps at most 5 MiB per
//!   partition, dropping the oldest records beyond, so a count that could overflow the raw
//!   topics' partitions there is refused;
//! - `PARLEY_BENCH_WARMUP`: webhooks of each warm-up, at least 2 (default 1 000 on the
//!   mock; on Kafka ten seconds' worth when paced, else 5 000);
//! - `PARLEY_BENCH_RATE`: webhooks per second to pace the producer at (default 0: as fast
//!   as it goes, so latency includes the backlog);
//! - `PARLEY_BENCH_PARTITIONS`: partitions of every topic (default 6, as `parley topics
//!   create`);
//! - `PARLEY_BENCH_FETCH_WAIT_MS`: `fetch.wait.max.ms` of every client, the roles' included
//!   (default 5, as [`Embedded`] gives its roles).
//!
//! Every client (roles, passthrough, bench) has `fetch.wait.max.ms=5` on either broker. The
//! mock holds a fetch that finds nothing new for its whole wait, even when records arrive
//! meanwhile, so librdkafka's 500 ms default would be added to every hop. Kafka answers a
//! waiting fetch as soon as records arrive, and `at_least_once` barely differs (paced at
//! 1 000/s, Open p50 57 ms with 500 ms, 35 ms with 5 ms); but with 500 ms `exactly_once`
//! stalls on the routing path, whose roles read each other's transactional outputs
//! `read_committed`: paced at 500 webhooks/s, batches of tickets reached Open all at once
//! up to 1.6 s late (Open p90 1.1 s, p99 1.6 s, against 0.37 s and 0.55 s with 5 ms), while
//! New, read by the same reader, did not move.

use parley::embedded::{self, Embedded, EmbeddedOptions};
use parley_benches::measure::grouped;
use parley_benches::normaliser;
use parley_core::{AgentPresence, AgentStatus, Channel, ChannelPresence, Status, StatusChange};
use parley_ingress::RawRecord;
use parley_runtime::codec::AvroCodec;
use parley_runtime::{Guarantee, SystemClock};
use parley_testkit::Kafka;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::ThreadedProducer;
use rdkafka::producer::{BaseProducer, BaseRecord, DefaultProducerContext, Producer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio_util::sync::CancellationToken;

/// The allocator the `parley` binary ships with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The account every webhook's integration id maps to (see [`normaliser`]).
const ACCOUNT: &str = "acme";
/// Agents online on both channels.
const AGENTS: usize = 10;
/// The channels the webhooks come from, in turn.
const CHANNELS: [Channel; 2] = [Channel::Whatsapp, Channel::Messenger];
/// The passthrough's output topic.
const PASSTHROUGH: &str = "bench.passthrough";
/// What the mock keeps of a partition: it drops the oldest records beyond 5 MiB.
const MOCK_PARTITION_BYTES: usize = 5 << 20;
/// How long a run may take before the bench gives up.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as i64
}

/// One webhook: its raw topic, its key (the conversation) and its body.
#[derive(Clone, Debug)]
struct Webhook {
    topic: String,
    conversation: String,
    body: Vec<u8>,
}

fn fixture(channel: Channel) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../processors/ingress/tests/fixtures")
        .join(channel.as_str())
        .join("text.json");
    std::fs::read_to_string(path).expect("the text fixture exists")
}

/// `n` webhooks, WhatsApp and Messenger in turn, each its own conversation and message id,
/// timestamped `seconds` (the send time, near enough). `tag` keeps runs' ids apart.
fn webhooks(n: usize, tag: &str, seconds: i64) -> Vec<Webhook> {
    let whatsapp = fixture(Channel::Whatsapp);
    let messenger = fixture(Channel::Messenger);
    let normaliser = normaliser();
    (0..n)
        .map(|i| {
            let channel = CHANNELS[i % CHANNELS.len()];
            let body = match channel {
                Channel::Whatsapp => whatsapp
                    .replace("5511987654321", &format!("55{tag}{i:09}"))
                    .replace(
                        "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABIYFjNFQjBDMEM1",
                        &format!("wamid.bench-{tag}-{i}"),
                    )
                    .replace("\"1732100000\"", &format!("\"{seconds}\"")),
                _ => messenger
                    .replace("6783920147285561", &format!("67{tag}{i:012}"))
                    .replace(
                        "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P",
                        &format!("m_bench-{tag}-{i}"),
                    )
                    .replace("1732100000000", &format!("{}", seconds * 1000))
                    .replace("1732100000500", &format!("{}", seconds * 1000)),
            }
            .into_bytes();
            // The conversation the ingress will give the message, so outputs can be matched.
            let outcome = normaliser
                .normalise(&RawRecord {
                    channel,
                    payload: &body,
                    account_header: None,
                    timestamp: parley_core::Timestamp(seconds * 1000),
                })
                .expect("the bench bodies are valid");
            assert_eq!(outcome.events.len(), 1, "one message per body");
            let event = &outcome.events[0];
            assert_eq!(event.account, ACCOUNT);
            Webhook {
                topic: format!("raw.{}", channel.as_str()),
                conversation: event.conversation.clone(),
                body,
            }
        })
        .collect()
}

/// A client config for `brokers` with the case's extra settings; producers partition as
/// the roles do (Java's murmur2), so a record keyed by account lands with that account's
/// other inputs.
fn client(brokers: &str, librdkafka: &BTreeMap<String, String>) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", brokers);
    config.set("partitioner", "murmur2_random");
    for (key, value) in librdkafka {
        config.set(key, value);
    }
    config
}

/// The producer of the webhooks, the channel integration's part.
fn webhook_producer(case: &Case) -> BaseProducer {
    client(&case.brokers, &case.librdkafka)
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .expect("producer")
}

/// Produces `webhooks` keyed by conversation, paced at `rate` per second (0: unpaced), each
/// with the send time as its timestamp; returns each one's send instant.
fn produce(producer: &BaseProducer, webhooks: &[Webhook], rate: u64) -> Vec<Instant> {
    let started = Instant::now();
    let mut sent = Vec::with_capacity(webhooks.len());
    for (i, webhook) in webhooks.iter().enumerate() {
        if rate > 0 {
            let due = started + Duration::from_secs_f64(i as f64 / rate as f64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        sent.push(Instant::now());
        let mut record = BaseRecord::<str, [u8]>::to(&webhook.topic)
            .key(&webhook.conversation)
            .payload(&webhook.body)
            .timestamp(now_ms());
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(1));
                }
            }
        }
        producer.poll(Duration::ZERO);
    }
    producer
        .flush(Duration::from_secs(120))
        .expect("webhooks flushed");
    sent
}

/// When a conversation's outputs were read: the first, and the one that ends it.
#[derive(Clone, Copy, Debug, Default)]
struct Arrival {
    first: Option<Instant>,
    last: Option<Instant>,
}

/// What an output record says about its conversation: `Some((conversation, ends it))`.
type Classify = fn(&BorrowedMessage<'_>) -> Option<(String, bool)>;

fn status_change(message: &BorrowedMessage<'_>) -> Option<(String, bool)> {
    thread_local! {
        static CODEC: AvroCodec<StatusChange> = AvroCodec::single_object();
    }
    let change = CODEC.with(|codec| {
        codec
            .decode(message.payload().unwrap_or_default())
            .expect("decodes")
    });
    Some((
        String::from(&*change.conversation),
        change.to == Status::Open,
    ))
}

fn copy(message: &BorrowedMessage<'_>) -> Option<(String, bool)> {
    let key = std::str::from_utf8(message.key()?).ok()?;
    Some((key.to_owned(), true))
}

/// Reads every partition of `topic` from its `start` offset until each of `expected` has its
/// ending output, signalling `ready` at every record read; returns the arrivals, or panics
/// after [`RUN_TIMEOUT`].
fn collect(
    brokers: &str,
    librdkafka: &BTreeMap<String, String>,
    topic: &str,
    start: Vec<i64>,
    expected: Vec<String>,
    classify: Classify,
    ready: std::sync::mpsc::Sender<()>,
) -> HashMap<String, Arrival> {
    let partitions = start.len() as i32;
    let consumer: BaseConsumer = client(brokers, librdkafka)
        .set("group.id", "bench-reader")
        .set("enable.auto.commit", "false")
        // In exactly_once a status change counts once its transaction has committed.
        .set("isolation.level", "read_committed")
        .create()
        .expect("consumer");
    let mut assignment = TopicPartitionList::new();
    for (partition, offset) in start.into_iter().enumerate() {
        assignment
            .add_partition_offset(topic, partition as i32, Offset::Offset(offset))
            .expect("partition");
    }
    consumer.assign(&assignment).expect("assign");
    let mut arrivals: HashMap<String, Arrival> = expected
        .into_iter()
        .map(|c| (c, Arrival::default()))
        .collect();
    let mut open = arrivals.len();
    let deadline = Instant::now() + RUN_TIMEOUT;
    let mut unmatched = Vec::new();
    while open > 0 {
        if Instant::now() >= deadline {
            // Where the records stopped, for whoever reads the panic.
            for name in [
                "conversation-events",
                "routing-requests",
                "routing-decisions",
                "dlq",
            ] {
                let records: i64 = (0..partitions)
                    .filter_map(|p| {
                        consumer
                            .fetch_watermarks(name, p, Duration::from_secs(5))
                            .ok()
                    })
                    .map(|(low, high)| high - low)
                    .sum();
                eprintln!("{name}: {records} records");
            }
            panic!(
                "{topic}: {open} of {} conversations without their output after {} s; read {} others, e.g. {:?}",
                arrivals.len(),
                RUN_TIMEOUT.as_secs(),
                unmatched.len(),
                unmatched.iter().take(3).collect::<Vec<_>>()
            );
        }
        let Some(result) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let now = Instant::now();
        let message = result.expect("consume");
        let _ = ready.send(());
        let Some((conversation, ends)) = classify(&message) else {
            continue;
        };
        let Some(arrival) = arrivals.get_mut(&conversation) else {
            unmatched.push(conversation);
            continue; // an earlier run's
        };
        arrival.first.get_or_insert(now);
        if ends && arrival.last.is_none() {
            arrival.last = Some(now);
            open -= 1;
        }
    }
    arrivals
}

/// One timed run's figures.
#[derive(Debug)]
struct Figures {
    records: usize,
    /// From the first send to the last output read.
    elapsed: Duration,
    /// Send to output, sorted.
    latencies: Vec<Duration>,
}

impl Figures {
    fn new(sent: &[Instant], arrived: &[Instant]) -> Figures {
        let first = *sent.iter().min().expect("records were sent");
        let last = *arrived.iter().max().expect("outputs were read");
        let mut latencies: Vec<Duration> = sent
            .iter()
            .zip(arrived)
            .map(|(s, a)| a.saturating_duration_since(*s))
            .collect();
        latencies.sort_unstable();
        Figures {
            records: sent.len(),
            elapsed: last - first,
            latencies,
        }
    }

    fn rate(&self) -> f64 {
        self.records as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> f64 {
        let index =
            ((self.latencies.len() as f64 * p).ceil() as usize).clamp(1, self.latencies.len());
        self.latencies[index - 1].as_secs_f64() * 1e3
    }

    fn row(&self, name: &str) {
        println!(
            "{name:<44} {:>8.2} {:>10.0} {:>8.0} {:>8.0} {:>8.0} {:>8.0}",
            self.elapsed.as_secs_f64(),
            self.rate(),
            self.percentile(0.50),
            self.percentile(0.90),
            self.percentile(0.99),
            self.percentile(1.0),
        );
    }
}

/// Sends `webhooks` with `producer` while a reader of `topic` waits for each conversation's
/// outputs. With `measured`, the topic already holds the warm-up's outputs, and sending
/// starts once the reader has read one, so that its start-up is not measured.
fn timed(
    case: &Case,
    producer: &BaseProducer,
    webhooks: &[Webhook],
    topic: &str,
    classify: Classify,
    rate: u64,
    measured: bool,
) -> (Vec<Instant>, HashMap<String, Arrival>) {
    let expected: Vec<String> = webhooks.iter().map(|w| w.conversation.clone()).collect();
    // The reader starts a few records before each partition's end, as it is before the first
    // send: it need not read what came before, and still has a record to signal it is
    // reading (the last offsets of an exactly_once partition can be transaction markers).
    let watermarks: BaseConsumer = client(&case.brokers, &case.librdkafka)
        .create()
        .expect("consumer");
    let start: Vec<i64> = (0..case.partitions)
        .map(|partition| {
            // A topic just created may not have its leader known yet.
            let deadline = Instant::now() + Duration::from_secs(30);
            let (low, high) = loop {
                match watermarks.fetch_watermarks(topic, partition, Duration::from_secs(10)) {
                    Ok(marks) => break marks,
                    Err(error) if Instant::now() < deadline => {
                        eprintln!("{topic}/{partition}: watermarks: {error}; retrying");
                        std::thread::sleep(Duration::from_millis(200));
                    }
                    Err(error) => panic!("{topic}/{partition}: watermarks: {error}"),
                }
            };
            (high - 10).max(low)
        })
        .collect();
    let (ready, reading) = std::sync::mpsc::channel();
    let reader = {
        let (case, topic) = (case.clone(), topic.to_owned());
        std::thread::spawn(move || {
            collect(
                &case.brokers,
                &case.librdkafka,
                &topic,
                start,
                expected,
                classify,
                ready,
            )
        })
    };
    if measured {
        reading
            .recv_timeout(RUN_TIMEOUT)
            .expect("the reader reads the warm-up's outputs");
    }
    let sent = produce(producer, webhooks, rate);
    (sent, reader.join().expect("the reader finished"))
}

/// A broker and a guarantee to run on.
#[derive(Clone, Debug)]
struct Case {
    /// The broker's name: `mock` or `kafka`.
    broker: &'static str,
    brokers: String,
    /// The guarantee of the tickets and router roles.
    guarantee: Guarantee,
    /// Settings every client gets on this broker, the roles' included.
    librdkafka: BTreeMap<String, String>,
    partitions: i32,
    conversations: usize,
    /// Webhooks of the warm-up before each timed run.
    warmup: usize,
}

impl Case {
    /// `broker guarantee`, as the output names the run.
    fn name(&self) -> String {
        format!("{} {}", self.broker, self.guarantee.as_str())
    }
}

/// Ten agents online on both channels, each with room for every conversation, the warm-up's
/// included.
fn agents_online(case: &Case) {
    let producer: BaseProducer = client(&case.brokers, &case.librdkafka)
        .create()
        .expect("producer");
    let codec = AvroCodec::<AgentPresence>::single_object();
    let capacity = u32::try_from(case.conversations + case.warmup)
        .unwrap_or(u32::MAX)
        .max(10);
    for agent in 0..AGENTS {
        let presence = AgentPresence {
            presence_id: format!("bench-presence-{agent}"),
            account: ACCOUNT.into(),
            agent_id: format!("agent-{agent}"),
            channels: CHANNELS
                .iter()
                .map(|&channel| ChannelPresence {
                    channel,
                    status: AgentStatus::Online,
                    capacity,
                })
                .collect(),
            skills: vec![],
            groups: vec![],
            at: parley_core::Timestamp(now_ms()),
        };
        let value = codec.encode(&presence).expect("encodes");
        producer
            .send(
                BaseRecord::to("agent-presence")
                    .key(ACCOUNT)
                    .payload(&value),
            )
            .map_err(|(e, _)| e)
            .expect("presence sent");
    }
    producer
        .flush(Duration::from_secs(30))
        .expect("presence flushed");
}

/// What the pipeline wrote to one topic during the timed run.
#[derive(Clone, Copy, Debug, Default)]
struct Written {
    /// Data records (outputs, changelog writes, seals, DLQ records).
    records: u64,
    /// Transaction markers: offsets a `read_uncommitted` reader is not handed.
    markers: u64,
    /// Key, value and header bytes of the data records.
    bytes: u64,
}

/// Each partition's high watermark, per topic of the pipeline.
fn ends(case: &Case) -> BTreeMap<String, Vec<i64>> {
    let consumer: BaseConsumer = client(&case.brokers, &case.librdkafka)
        .create()
        .expect("consumer");
    embedded::topic_names()
        .into_iter()
        .map(|topic| {
            let highs = (0..case.partitions)
                .map(|partition| {
                    let (_, high) = consumer
                        .fetch_watermarks(&topic, partition, Duration::from_secs(10))
                        .expect("watermarks");
                    high
                })
                .collect();
            (topic, highs)
        })
        .collect()
}

/// What was written to each topic between the watermarks `from` and `to`, read back with
/// `read_uncommitted` (so the records of aborted transactions count too: they were
/// written).
fn written(
    case: &Case,
    from: &BTreeMap<String, Vec<i64>>,
    to: &BTreeMap<String, Vec<i64>>,
) -> BTreeMap<String, Written> {
    let consumer: BaseConsumer = client(&case.brokers, &case.librdkafka)
        .set("group.id", "bench-cost")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_uncommitted")
        .create()
        .expect("consumer");
    let mut costs = BTreeMap::new();
    for (topic, highs) in to {
        let mut cost = Written::default();
        for (partition, (&start, &end)) in from[topic].iter().zip(highs).enumerate() {
            if end <= start {
                continue;
            }
            let mut assignment = TopicPartitionList::new();
            assignment
                .add_partition_offset(topic, partition as i32, Offset::Offset(start))
                .expect("partition");
            consumer.assign(&assignment).expect("assigned");
            let deadline = Instant::now() + RUN_TIMEOUT;
            let mut data = 0;
            loop {
                let position = consumer
                    .position()
                    .ok()
                    .and_then(|p| p.elements().first().map(|e| e.offset()));
                if matches!(position, Some(Offset::Offset(at)) if at >= end) {
                    break;
                }
                assert!(Instant::now() < deadline, "{topic}/{partition} read back");
                let Some(message) = consumer.poll(Duration::from_millis(100)) else {
                    continue;
                };
                let message = message.expect("read back");
                if message.offset() >= end {
                    break;
                }
                data += 1;
                let headers = message.headers().map_or(0, |headers| {
                    use rdkafka::message::Headers;
                    headers
                        .iter()
                        .map(|h| h.key.len() + h.value.map_or(0, <[u8]>::len))
                        .sum::<usize>()
                });
                cost.bytes += (message.key().map_or(0, <[u8]>::len)
                    + message.payload().map_or(0, <[u8]>::len)
                    + headers) as u64;
            }
            cost.records += data;
            cost.markers += (end - start) as u64 - data;
        }
        costs.insert(topic.clone(), cost);
    }
    costs
}

/// Prints what one webhook cost, by topic, and the pipeline against the broker ceiling:
/// the passthrough's records/s divided by the data records one webhook writes.
fn print_cost(case: &Case, costs: &BTreeMap<String, Written>, pipeline: f64, passthrough: f64) {
    let n = case.conversations as f64;
    println!(
        "{}: Kafka records and bytes written per webhook, by topic (changelogs and seals \
         included; markers are transaction markers)",
        case.name()
    );
    println!(
        "{:<44} {:>10} {:>10} {:>10}",
        "topic", "records", "markers", "bytes"
    );
    let mut total = Written::default();
    for (topic, cost) in costs.iter().filter(|(_, c)| c.records + c.markers > 0) {
        println!(
            "{topic:<44} {:>10.2} {:>10.2} {:>10.0}",
            cost.records as f64 / n,
            cost.markers as f64 / n,
            cost.bytes as f64 / n
        );
        total.records += cost.records;
        total.markers += cost.markers;
        total.bytes += cost.bytes;
    }
    let per_webhook = total.records as f64 / n;
    println!(
        "{:<44} {:>10.2} {:>10.2} {:>10.0}",
        "total",
        per_webhook,
        total.markers as f64 / n,
        total.bytes as f64 / n
    );
    let ceiling = passthrough / per_webhook;
    println!(
        "{}: broker ceiling {ceiling:.0} webhooks/s (passthrough {passthrough:.0} records/s \
         / {per_webhook:.2} records per webhook); pipeline {pipeline:.0}/s = {:.2} of it",
        case.name(),
        pipeline / ceiling
    );
}

/// The pipeline: warm-up, then the timed run; returns (to New, to Open) and what the timed
/// webhooks wrote to each topic.
async fn pipeline(case: &Case, rate: u64) -> (Figures, Figures, BTreeMap<String, Written>) {
    let state = std::env::temp_dir().join(format!(
        "parley-bench-{}-{}-{}",
        case.broker,
        case.guarantee.as_str(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&state);
    let mut options = EmbeddedOptions::new(state.clone(), Arc::new(SystemClock));
    options.partitions = case.partitions;
    options.guarantee = case.guarantee;
    options.ingress = normaliser().config().clone();
    options.routing.auto_accept = CHANNELS.to_vec();
    let embedded = Embedded::start_on(&case.brokers, case.librdkafka.clone(), options)
        .await
        .expect("the pipeline starts");
    let topic = embedded.topic("ticket-status-changes");
    eprintln!("{}: pipeline started", case.name());
    let outcome = tokio::task::block_in_place(|| {
        agents_online(case);
        let seconds = now_ms() / 1000;
        let warm = webhooks(case.warmup, "0", seconds);
        eprintln!("{}: agents online, warming up", case.name());
        let producer = webhook_producer(case);
        timed(case, &producer, &warm, &topic, status_change, rate, false);
        eprintln!("{}: warmed up", case.name());
        let before = ends(case);
        let measured = webhooks(case.conversations, "1", seconds);
        let (sent, arrivals) = timed(
            case,
            &producer,
            &measured,
            &topic,
            status_change,
            rate,
            true,
        );
        let pick = |last: bool| -> Vec<Instant> {
            measured
                .iter()
                .map(|w| {
                    let a = arrivals[&w.conversation];
                    if last { a.last } else { a.first }.expect("arrived")
                })
                .collect()
        };
        (
            Figures::new(&sent, &pick(false)),
            Figures::new(&sent, &pick(true)),
            before,
        )
    });
    assert!(
        !embedded.has_stopped(),
        "the pipeline stopped during the run"
    );
    embedded.stop().await.expect("the pipeline stops cleanly");
    let _ = std::fs::remove_dir_all(&state);
    let (created, routed, before) = outcome;
    // After the roles' last commits: everything the timed webhooks caused is written.
    let costs = tokio::task::block_in_place(|| written(case, &before, &ends(case)));
    (created, routed, costs)
}

/// Every topic of the pipeline and [`PASSTHROUGH`], and which of them are compacted (as
/// `parley topics create` makes them: the changelogs and `style-config`).
fn topics() -> (Vec<String>, Vec<String>) {
    let names: Vec<String> = embedded::topic_names()
        .into_iter()
        .chain([PASSTHROUGH.to_owned()])
        .collect();
    let compacted = names
        .iter()
        .filter(|n| n.ends_with("changelog") || n.ends_with("style-config"))
        .cloned()
        .collect();
    (names, compacted)
}

/// Commits `group`'s offsets at the end of the raw topics, so that it starts after the
/// records already there.
fn start_group_at_end(case: &Case, group: &str) {
    let consumer: BaseConsumer = client(&case.brokers, &case.librdkafka)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut offsets = TopicPartitionList::new();
    for channel in CHANNELS {
        let topic = format!("raw.{}", channel.as_str());
        for partition in 0..case.partitions {
            let (_, high) = consumer
                .fetch_watermarks(&topic, partition, Duration::from_secs(10))
                .expect("watermarks");
            offsets
                .add_partition_offset(&topic, partition, Offset::Offset(high))
                .expect("partition");
        }
    }
    consumer
        .commit(&offsets, CommitMode::Sync)
        .expect("offsets committed");
}

/// Copies every record of the raw topics to [`PASSTHROUGH`] until `stop`.
async fn copy_raw(case: &Case, group: &str, stop: CancellationToken) {
    let producer: ThreadedProducer<DefaultProducerContext> =
        client(&case.brokers, &case.librdkafka)
            .set("linger.ms", "5")
            .set("queue.buffering.max.messages", "1000000")
            .set("enable.idempotence", "true")
            .set("partitioner", "murmur2_random")
            .create()
            .expect("producer");
    let consumer: StreamConsumer = client(&case.brokers, &case.librdkafka)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("partition.assignment.strategy", "cooperative-sticky")
        .create()
        .expect("consumer");
    let topics: Vec<String> = CHANNELS
        .iter()
        .map(|c| format!("raw.{}", c.as_str()))
        .collect();
    let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topics).expect("subscribe");
    let mut copied = 0u64;
    loop {
        let message = tokio::select! {
            _ = stop.cancelled() => break,
            message = consumer.recv() => message.expect("consume"),
        };
        let mut record = BaseRecord::<[u8], [u8]>::to(PASSTHROUGH)
            .payload(message.payload().unwrap_or_default());
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    record = back;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
        consumer
            .store_offset_from_message(&message)
            .expect("offset stored");
        copied += 1;
        if copied % 500 == 0 {
            consumer.commit_consumer_state(CommitMode::Async).ok();
        }
    }
    producer
        .flush(Duration::from_secs(30))
        .expect("passthrough flushed");
    consumer.commit_consumer_state(CommitMode::Sync).ok();
}

/// The passthrough: warm-up, then the timed run over the same raw topics.
async fn passthrough(case: &Case, rate: u64) -> Figures {
    let group = "bench-passthrough";
    tokio::task::block_in_place(|| start_group_at_end(case, group));
    let stop = CancellationToken::new();
    let copying = {
        let case = case.clone();
        let stop = stop.clone();
        tokio::spawn(async move { copy_raw(&case, group, stop).await })
    };
    let figures = tokio::task::block_in_place(|| {
        let seconds = now_ms() / 1000;
        let warm = webhooks(case.warmup, "2", seconds);
        eprintln!("{}: passthrough warming up", case.name());
        let producer = webhook_producer(case);
        timed(case, &producer, &warm, PASSTHROUGH, copy, rate, false);
        eprintln!("{}: passthrough warmed up", case.name());
        let measured = webhooks(case.conversations, "3", seconds);
        let (sent, arrivals) = timed(case, &producer, &measured, PASSTHROUGH, copy, rate, true);
        let arrived: Vec<Instant> = measured
            .iter()
            .map(|w| arrivals[&w.conversation].last.expect("arrived"))
            .collect();
        Figures::new(&sent, &arrived)
    });
    stop.cancel();
    copying.await.expect("the passthrough stops");
    figures
}

async fn bench(case: Case, rate: u64) {
    let pace = if rate == 0 {
        "as fast as the producer goes".to_owned()
    } else {
        format!("paced at {rate}/s")
    };
    println!(
        "{}: {} webhooks (WhatsApp and Messenger in turn, one conversation each), {} partitions, {pace}",
        case.name(),
        grouped(case.conversations),
        case.partitions
    );
    let (created, routed, costs) = pipeline(&case, rate).await;
    let plain = passthrough(&case, rate).await;
    println!(
        "{:<44} {:>8} {:>10} {:>8} {:>8} {:>8} {:>8}",
        "run (latency in ms)", "seconds", "records/s", "p50", "p90", "p99", "max"
    );
    plain.row("passthrough: raw -> copy read");
    created.row("pipeline: webhook -> first status change");
    routed.row("pipeline: webhook -> Open (routed)");
    println!(
        "{}: pipeline / passthrough throughput {:.2}, p50 latency {:.1}x",
        case.name(),
        routed.rate() / plain.rate(),
        routed.percentile(0.5) / plain.percentile(0.5)
    );
    print_cost(&case, &costs, routed.rate(), plain.rate());
    println!();
}

/// The guarantees of `PARLEY_BENCH_GUARANTEE`, in its order.
fn guarantees() -> Vec<Guarantee> {
    let which = std::env::var("PARLEY_BENCH_GUARANTEE")
        .unwrap_or_else(|_| "at_least_once,exactly_once".into());
    which
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(|g| match g {
            "at_least_once" => Guarantee::AtLeastOnce,
            "exactly_once" => Guarantee::ExactlyOnce,
            other => panic!(
                "PARLEY_BENCH_GUARANTEE: {other:?} is neither at_least_once nor exactly_once"
            ),
        })
        .collect()
}

/// `fetch.wait.max.ms` for every client, the roles' included: `PARLEY_BENCH_FETCH_WAIT_MS`,
/// else 5 ms on either broker (see the module doc).
fn fetch_wait() -> BTreeMap<String, String> {
    let ms = env_number("PARLEY_BENCH_FETCH_WAIT_MS").unwrap_or(5);
    BTreeMap::from([("fetch.wait.max.ms".to_owned(), ms.to_string())])
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return; // Built by `cargo test`; only `cargo bench` (which passes --bench) runs it.
    }
    let which = std::env::var("PARLEY_BENCH_BROKER").unwrap_or_else(|_| "mock,kafka".into());
    let guarantees = guarantees();
    let rate = env_number("PARLEY_BENCH_RATE").unwrap_or(0);
    let partitions = env_number("PARLEY_BENCH_PARTITIONS").map_or(6, |p| p as i32);
    let conversations = env_number("PARLEY_BENCH_CONVERSATIONS");
    // At least one per channel, so that every role has handled a record.
    let warmup = |default: usize| {
        env_number("PARLEY_BENCH_WARMUP")
            .map_or(default, |n| n as usize)
            .max(CHANNELS.len())
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    if which.contains("mock") && guarantees.contains(&Guarantee::AtLeastOnce) {
        let cluster = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
        // The mock takes no CreateTopics requests.
        for name in topics().0 {
            cluster
                .create_topic(&name, partitions, 1)
                .expect("topic created");
        }
        let n = conversations.map_or(20_000, |n| n as usize);
        let warmup = warmup(1_000);
        // Each raw topic gets (N + warm-up)/2 bodies per run, two runs, spread over the
        // partitions by key (unevenly: a third of margin).
        let largest = CHANNELS.iter().map(|&c| fixture(c).len() + 100).max();
        let per_partition =
            (n + warmup) * largest.expect("two channels") * 4 / 3 / partitions as usize;
        assert!(
            per_partition <= MOCK_PARTITION_BYTES,
            "PARLEY_BENCH_CONVERSATIONS={n} and PARLEY_BENCH_WARMUP={warmup} with \
             PARLEY_BENCH_PARTITIONS={partitions}: about {per_partition} bytes per raw \
             partition, and the mock drops the oldest beyond {MOCK_PARTITION_BYTES}; add \
             partitions or lower the counts"
        );
        let case = Case {
            broker: "mock",
            brokers: cluster.bootstrap_servers(),
            guarantee: Guarantee::AtLeastOnce,
            librdkafka: fetch_wait(),
            partitions,
            conversations: n,
            warmup,
        };
        runtime.block_on(bench(case, rate));
    } else if which.contains("mock") {
        println!(
            "mock: SKIPPED, it runs at_least_once only (it does not apply transactions faithfully)"
        );
    }
    if which.contains("kafka") {
        // A broker of its own per guarantee, so that no run starts with another's tickets,
        // agents' load or committed offsets.
        for &guarantee in &guarantees {
            let broker = match Kafka::try_single("bench") {
                Ok(broker) => broker,
                Err(reason) => {
                    println!("kafka: SKIPPED, Apache Kafka could not start: {reason}");
                    break;
                }
            };
            let (names, compacted) = topics();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let compacted: Vec<&str> = compacted.iter().map(String::as_str).collect();
            broker.create_topics(&names, &compacted, partitions);
            let case = Case {
                broker: "kafka",
                brokers: broker.bootstrap_servers(),
                guarantee,
                librdkafka: fetch_wait(),
                partitions,
                conversations: conversations.map_or(20_000, |n| n as usize),
                // A fresh broker compiles its hot paths for its first tens of seconds of
                // traffic, which on a small machine slows the pipeline that long.
                warmup: warmup(if rate > 0 { rate as usize * 10 } else { 5_000 }),
            };
            runtime.block_on(bench(case, rate));
        }
    }
}
