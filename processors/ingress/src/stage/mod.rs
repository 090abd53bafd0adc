//! The Kafka stage of ingress: raw topics in, ConversationEvents and DLQ records out, at least once.
//!
//! One [`IngressStage`] joins the consumer group `group_id` (cooperative-sticky, so any
//! number of instances share the raw partitions and a rebalance moves only what it must)
//! and reads `<prefix>raw.<channel>`. For each record it reads the `parley-account` header,
//! runs the [`Normaliser`], and produces:
//!
//! - each event to `<prefix>conversation-events`, key `account/conversation`
//!   ([`event_key`]), value Avro (single-object encoding, or the Confluent wire format when
//!   a registry is configured), timestamp the raw record's, through an idempotent producer
//!   with `partitioner=murmur2_random` (the Java client's partitioning of keyed records);
//! - or, if the record cannot be read, one DLQ record on `<prefix>dlq`: the original key and
//!   bytes with the runtime's DLQ headers ([`parley_runtime::dlq::headers`]): stage
//!   `ingress`, reason (the [`IngressError::code`]), error (its message), source topic,
//!   partition and offset.
//!
//! Skipped items (receipts, typing, ...) are counted, never produced.
//!
//! At-least-once: offsets are stored by nobody but the stage (`enable.auto.commit` and
//! `enable.auto.offset.store` off). A source offset is committed only when every record
//! produced from it, and from every earlier offset of its partition, is acknowledged by the
//! broker; commits happen every `commit_interval_ms`, before partitions are revoked, and on
//! shutdown. A record whose produce fails stops the stage with an error, its offset and the
//! later ones uncommitted, so a restart reads them again. The normaliser is pure, so a
//! replay re-emits identical events.

mod config;
mod metrics;
mod progress;

pub use config::{
    default_channels, default_commit_interval_ms, default_dlq_topic, default_group_id,
    default_max_in_flight, default_metrics_address, default_output_topic, default_topic_prefix,
    IngressStageConfig, RESERVED_LIBRDKAFKA_KEYS,
};
pub use metrics::{IngressMetrics, STAGE};

use crate::encode::{encode_datum, encode_single_object};
use crate::error::IngressError;
use crate::normaliser::{event_key, Normaliser, RawRecord, SkipKind};
use futures_util::{Stream, StreamExt};
use parley_core::{Channel, ConversationEvent, Timestamp};
use parley_runtime::codec::{AvroCodec, RegistryClient, WireFormat};
use parley_runtime::dlq::headers as dlq_headers;
use parley_runtime::host::BrokerProbe;
use parley_runtime::http::StatusCode;
use parley_runtime::lag::{Group, LagReporter};
use parley_runtime::{ConfigError, RuntimeError};
use progress::PartitionProgress;
use prometheus::{IntCounter, IntGauge};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;
use thiserror::Error;
use tokio_util::sync::CancellationToken;

/// The header that names a raw record's account: `account` or `account/brand`.
pub const ACCOUNT_HEADER: &str = "parley-account";

/// Most records handled in a row, from what the consumer has already fetched, before the
/// loop looks at the shutdown signal and the commit timer again.
const DRAIN: usize = 512;

/// How long a flush (on revoke and on shutdown) waits for outstanding acknowledgements.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the lag of every raw partition is read.
const LAG_INTERVAL: Duration = Duration::from_secs(5);

/// Why the stage stopped or could not start.
#[derive(Debug, Error)]
pub enum IngressStageError {
    /// The config is invalid; fix it, retrying does not help.
    #[error("invalid config: {0}")]
    Config(#[from] ConfigError),
    /// Kafka refused an operation (client creation, subscribe, commit on shutdown).
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    /// The schema registry could not register the ConversationEvent schema.
    #[error("schema registry: {0}")]
    Registry(RuntimeError),
    /// The metrics server could not bind its address.
    #[error("metrics server on {address}: {source}")]
    MetricsServer {
        /// The configured address.
        address: SocketAddr,
        /// The bind error.
        source: std::io::Error,
    },
    /// A produced record was not acknowledged. Its source offset and every later one of
    /// that partition stay uncommitted: a restart reads them again.
    #[error("producing to {topic} failed: {reason}; its source offset was not committed")]
    Produce {
        /// The topic of the record that failed.
        topic: String,
        /// librdkafka's error.
        reason: String,
    },
    /// Outstanding records were still unacknowledged when the shutdown flush timed out;
    /// their source offsets were not committed.
    #[error("{0} produced records were still unacknowledged after the shutdown flush")]
    Unflushed(usize),
}

/// Runs the ingress stage until `shutdown` is cancelled (then stops consuming, waits for
/// every produced record's acknowledgement, commits, and returns `Ok`) or a failure that
/// needs a restart. The entry point of the `ingress` command.
pub async fn run(
    config: IngressStageConfig,
    shutdown: CancellationToken,
) -> Result<(), IngressStageError> {
    IngressStage::new(config).await?.run(shutdown).await
}

/// A configured stage, its Kafka clients created, not yet consuming.
pub struct IngressStage {
    config: IngressStageConfig,
    metrics: Arc<IngressMetrics>,
    shared: Arc<Shared>,
    consumer: StreamConsumer<RebalanceContext>,
    worker: Worker,
}

impl std::fmt::Debug for IngressStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngressStage")
            .field("group_id", &self.config.group_id)
            .field("topics", &self.shared.topics)
            .field("framing", &self.worker.framing)
            .finish()
    }
}

impl IngressStage {
    /// Validates `config`, registers the event schema if a registry is configured, and
    /// creates the consumer and the producer.
    pub async fn new(config: IngressStageConfig) -> Result<IngressStage, IngressStageError> {
        config.validate()?;
        let framing = match &config.registry_url {
            None => WireFormat::SingleObject,
            Some(url) => {
                let subject = format!("{}-value", config.output_topic());
                AvroCodec::<ConversationEvent>::confluent(RegistryClient::new(url), &subject)
                    .await
                    .map_err(IngressStageError::Registry)?
                    .format()
            }
        };
        let metrics = Arc::new(IngressMetrics::new());
        let runtime = metrics.runtime();
        let output_topic = config.output_topic();
        let dlq_topic = config.dlq_topic();
        let shared = Arc::new(Shared {
            topics: config.raw_topics(),
            partitions: Mutex::default(),
            in_flight: AtomicUsize::new(0),
            room: tokio::sync::Notify::new(),
            low_water: config.max_in_flight / 2,
            failure: Mutex::new(None),
            output_out: runtime.records_out.with_label_values(&[&output_topic]),
            dlq_out: runtime.records_out.with_label_values(&[&dlq_topic]),
        });

        let mut common = ClientConfig::new();
        common.set("bootstrap.servers", &config.brokers);
        let mut producer_config = common.clone();
        producer_config
            .set("linger.ms", "5")
            .set(
                "queue.buffering.max.messages",
                (config.max_in_flight + 1_000).max(100_000).to_string(),
            )
            .set("client.id", format!("{}-producer", config.group_id));
        let mut consumer_config = common;
        consumer_config.set("auto.offset.reset", "earliest");
        for (key, value) in &config.librdkafka {
            producer_config.set(key, value);
            consumer_config.set(key, value);
        }
        producer_config
            .set("enable.idempotence", "true")
            .set("partitioner", "murmur2_random");
        parley_runtime::config::with_group_defaults(&mut consumer_config)
            .set("group.id", &config.group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("partition.assignment.strategy", "cooperative-sticky");

        let producer: ThreadedProducer<DeliveryContext> =
            producer_config.create_with_context(DeliveryContext {
                shared: shared.clone(),
            })?;
        let consumer: StreamConsumer<RebalanceContext> =
            consumer_config.create_with_context(RebalanceContext {
                shared: shared.clone(),
                producer: producer.clone(),
                assigned: runtime.rebalances.with_label_values(&["assigned"]),
                revoked: runtime.rebalances.with_label_values(&["revoked"]),
                revoked_uncommitted: runtime
                    .rebalances
                    .with_label_values(&["revoked_uncommitted"]),
                owned: runtime.assigned_partitions.clone(),
            })?;

        let sources = config
            .channels
            .iter()
            .map(|&channel| {
                let topic = config.raw_topic(channel);
                Source {
                    channel,
                    records_in: runtime.records_in.with_label_values(&[&topic]),
                    skipped: SkipKind::ALL
                        .iter()
                        .map(|kind| {
                            metrics
                                .skipped
                                .with_label_values(&[channel.as_str(), kind.label()])
                        })
                        .collect(),
                    topic,
                }
            })
            .collect();
        let dlq_counters = (IngressError::CODES.iter().chain([&OUTPUT_TOO_LARGE]))
            .map(|code| (*code, runtime.dlq_records.with_label_values(&[STAGE, code])))
            .collect();
        let worker = Worker {
            normaliser: Normaliser::new(config.ingress.clone()),
            framing,
            producer,
            shared: shared.clone(),
            sources,
            dlq_counters,
            output_topic,
            dlq_topic,
            value: Vec::with_capacity(1024),
            committed: HashMap::new(),
        };
        Ok(IngressStage {
            config,
            metrics,
            shared,
            consumer,
            worker,
        })
    }

    /// The stage's metrics (the same ones `/metrics` serves).
    pub fn metrics(&self) -> Arc<IngressMetrics> {
        self.metrics.clone()
    }

    /// How event values are framed: single-object, or Confluent with the registry's id.
    pub fn framing(&self) -> WireFormat {
        self.worker.framing
    }

    /// Consumes until `shutdown` is cancelled or a produce fails; see [`run`].
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), IngressStageError> {
        let IngressStage {
            config,
            metrics,
            shared,
            consumer,
            mut worker,
        } = self;
        let server = match config.metrics_address {
            None => None,
            Some(address) => {
                let metrics = metrics.clone();
                let (bound, task) = parley_runtime::http::serve(address, move |path| match path {
                    "/metrics" => Some((
                        StatusCode::OK,
                        "text/plain; version=0.0.4",
                        metrics.render(),
                    )),
                    "/readyz" => Some(match metrics.runtime().readiness() {
                        Ok(reason) => (StatusCode::OK, "text/plain", format!("{reason}\n")),
                        Err(reason) => (
                            StatusCode::SERVICE_UNAVAILABLE,
                            "text/plain",
                            format!("{reason}\n"),
                        ),
                    }),
                    "/healthz" => Some((StatusCode::OK, "text/plain", "ok\n".to_owned())),
                    _ => None,
                })
                .await
                .map_err(|source| IngressStageError::MetricsServer { address, source })?;
                tracing::info!(%bound, "serving /metrics");
                Some(task)
            }
        };
        let mut probe_client = ClientConfig::new();
        probe_client.set("bootstrap.servers", &config.brokers);
        for (key, value) in &config.librdkafka {
            probe_client.set(key, value);
        }
        let _probe = BrokerProbe::start(
            &probe_client,
            &shared.topics[0],
            metrics.runtime().brokers_reachable.clone(),
        )?;
        let topics: Vec<&str> = shared.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        tracing::info!(group = %config.group_id, ?topics, framing = ?worker.framing, "ingress started");
        // The lag of every raw partition, owned by this instance or not.
        let mut lag_client = ClientConfig::new();
        lag_client.set("bootstrap.servers", &config.brokers);
        for (key, value) in &config.librdkafka {
            lag_client.set(key, value);
        }
        let group = Group {
            id: config.group_id.clone(),
            topics: shared.topics.clone(),
            co_partitioned: false,
        };
        let _lag = LagReporter::start(&lag_client, group, metrics.runtime(), LAG_INTERVAL, |_| {
            false
        })?;

        let max_in_flight = config.max_in_flight;
        let mut tick = tokio::time::interval(Duration::from_millis(config.commit_interval_ms));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stream = consumer.stream();
        let result = 'consume: loop {
            if let Some(error) = shared.take_failure() {
                break Err(error);
            }
            if shared.in_flight.load(Ordering::Acquire) >= max_in_flight {
                let room = shared.room.notified();
                tokio::select! {
                    _ = shutdown.cancelled() => break Ok(()),
                    _ = room => {}
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                }
                continue;
            }
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break Ok(()),
                _ = tick.tick() => worker.commit(&consumer, CommitMode::Async),
                received = stream.next() => {
                    let mut received = received.expect("kafka streams never end");
                    // Then the records already fetched, without a trip through the select.
                    let mut left = DRAIN;
                    loop {
                        match received {
                            Ok(message) => {
                                if let Err(error) = worker.handle(&message) {
                                    break 'consume Err(error);
                                }
                            }
                            Err(error) => tracing::warn!(%error, "consumer error"),
                        }
                        left -= 1;
                        if left == 0 || shared.in_flight.load(Ordering::Acquire) >= max_in_flight {
                            break;
                        }
                        let mut noop = std::task::Context::from_waker(std::task::Waker::noop());
                        match std::pin::Pin::new(&mut stream).poll_next(&mut noop) {
                            Poll::Ready(Some(next)) => received = next,
                            _ => break,
                        }
                    }
                }
            }
        };
        drop(stream);

        // Stop consuming, wait for the acknowledgements, commit what is done.
        if let Err(error) = worker.producer.flush(FLUSH_TIMEOUT) {
            tracing::warn!(%error, "flush on shutdown");
        }
        let result = result.and_then(|()| match shared.take_failure() {
            Some(error) => Err(error),
            None => match shared.in_flight.load(Ordering::Acquire) {
                0 => Ok(()),
                left => Err(IngressStageError::Unflushed(left)),
            },
        });
        commit_on_shutdown(&mut worker, &consumer).await;
        consumer.unsubscribe();
        drop(consumer);
        if let Some(server) = server {
            server.abort();
        }
        tracing::info!(ok = result.is_ok(), "ingress stopped");
        result
    }
}

/// The progress of one source partition, shared with the delivery callbacks.
type Slot = Arc<Mutex<PartitionProgress>>;

/// What the loop, the delivery callback and the rebalance callback share.
#[derive(Debug)]
struct Shared {
    /// The raw topics, in config order; a partition is named by its topic's index here.
    topics: Vec<String>,
    /// The progress of every partition read since it was assigned.
    partitions: Mutex<HashMap<(usize, i32), Slot>>,
    /// Records sent and not yet acknowledged (or failed).
    in_flight: AtomicUsize,
    /// Woken when `in_flight` falls to `low_water`, or a produce fails.
    room: tokio::sync::Notify,
    low_water: usize,
    /// The first produce failure.
    failure: Mutex<Option<IngressStageError>>,
    output_out: IntCounter,
    dlq_out: IntCounter,
}

impl Shared {
    fn slot(&self, topic: usize, partition: i32) -> Slot {
        self.partitions
            .lock()
            .expect("not poisoned")
            .entry((topic, partition))
            .or_default()
            .clone()
    }

    fn take_failure(&self) -> Option<IngressStageError> {
        self.failure.lock().expect("not poisoned").take()
    }

    /// The committable offsets of `partitions` (all if `None`), optionally forgetting them.
    fn committable(
        &self,
        only: Option<&TopicPartitionList>,
        forget: bool,
    ) -> Vec<((usize, i32), i64)> {
        let mut partitions = self.partitions.lock().expect("not poisoned");
        let wanted: Vec<(usize, i32)> = match only {
            None => partitions.keys().copied().collect(),
            Some(list) => list
                .elements()
                .iter()
                .filter_map(|element| {
                    let topic = self.topics.iter().position(|t| t == element.topic())?;
                    Some((topic, element.partition()))
                })
                .collect(),
        };
        let mut offsets = Vec::new();
        for key in wanted {
            let slot = if forget {
                partitions.remove(&key)
            } else {
                partitions.get(&key).cloned()
            };
            if let Some(offset) =
                slot.and_then(|slot| slot.lock().expect("not poisoned").committable())
            {
                offsets.push((key, offset));
            }
        }
        offsets
    }

    fn offset_list(&self, offsets: &[((usize, i32), i64)]) -> TopicPartitionList {
        let mut list = TopicPartitionList::with_capacity(offsets.len());
        for ((topic, partition), offset) in offsets {
            list.add_partition_offset(&self.topics[*topic], *partition, Offset::Offset(*offset))
                .expect("a plain offset is always accepted");
        }
        list
    }
}

/// The identity of a produced record, handed back with its acknowledgement.
#[derive(Debug)]
struct Ack {
    slot: Slot,
    offset: i64,
    dlq: bool,
}

/// The producer's context: acknowledgements update partition progress and the counters.
#[derive(Debug)]
struct DeliveryContext {
    shared: Arc<Shared>,
}

impl ClientContext for DeliveryContext {}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = Box<Ack>;

    fn delivery(&self, result: &DeliveryResult<'_>, ack: Box<Ack>) {
        let shared = &self.shared;
        match result {
            Ok(_) => {
                if ack.dlq {
                    shared.dlq_out.inc();
                } else {
                    shared.output_out.inc();
                }
                ack.slot
                    .lock()
                    .expect("not poisoned")
                    .acknowledge(ack.offset);
            }
            Err((error, message)) => {
                tracing::error!(%error, topic = message.topic(), source_offset = ack.offset, "produce failed");
                let mut failure = shared.failure.lock().expect("not poisoned");
                if failure.is_none() {
                    *failure = Some(IngressStageError::Produce {
                        topic: message.topic().to_owned(),
                        reason: error.to_string(),
                    });
                }
                drop(failure);
                shared.room.notify_one();
            }
        }
        if shared.in_flight.fetch_sub(1, Ordering::AcqRel) == shared.low_water + 1 {
            shared.room.notify_one();
        }
    }
}

/// The consumer's context: before partitions are revoked, wait for their outstanding
/// records and commit them.
struct RebalanceContext {
    shared: Arc<Shared>,
    producer: ThreadedProducer<DeliveryContext>,
    assigned: IntCounter,
    revoked: IntCounter,
    /// Revocations whose offsets could not be committed: the next owner reads those
    /// records again (at least once).
    revoked_uncommitted: IntCounter,
    /// `parley_assigned_partitions`.
    owned: IntGauge,
}

impl ClientContext for RebalanceContext {}

impl ConsumerContext for RebalanceContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(revoked) = rebalance else {
            return;
        };
        self.revoked.inc();
        tracing::info!(
            partitions = revoked.count(),
            "partitions revoked: flushing and committing"
        );
        if let Err(error) = self.producer.flush(FLUSH_TIMEOUT) {
            tracing::warn!(%error, "flush before revocation");
        }
        let offsets = self.shared.committable(Some(revoked), true);
        if offsets.is_empty() {
            return;
        }
        if let Err(error) = consumer.commit(&self.shared.offset_list(&offsets), CommitMode::Sync) {
            tracing::warn!(%error, "commit before revocation; the next owner reads the uncommitted records again");
            self.revoked_uncommitted.inc();
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(assigned) = rebalance {
            if assigned.count() > 0 {
                self.assigned.inc();
                tracing::info!(partitions = assigned.count(), "partitions assigned");
            }
        }
        // Called after every rebalance, an empty assignment included: from the first call
        // on, the instance has joined its group.
        if let Ok(owned) = consumer.assignment() {
            self.owned.set(owned.count() as i64);
        }
    }
}

/// One raw topic: its channel and pre-resolved counters.
#[derive(Debug)]
struct Source {
    topic: String,
    channel: Channel,
    records_in: IntCounter,
    /// Indexed like [`SkipKind::ALL`].
    skipped: Vec<IntCounter>,
}

/// The per-record work: normalise, encode, produce, count.
struct Worker {
    normaliser: Normaliser,
    framing: WireFormat,
    producer: ThreadedProducer<DeliveryContext>,
    shared: Arc<Shared>,
    sources: Vec<Source>,
    dlq_counters: HashMap<&'static str, IntCounter>,
    output_topic: String,
    dlq_topic: String,
    /// The value buffer, reused across events.
    value: Vec<u8>,
    /// The offsets last committed, to commit only what moved.
    committed: HashMap<(usize, i32), i64>,
}

impl Worker {
    /// Handles one raw record. An error means a produce was refused outright: the stage stops.
    fn handle(&mut self, message: &BorrowedMessage<'_>) -> Result<(), IngressStageError> {
        let Some(index) = self.sources.iter().position(|s| s.topic == message.topic()) else {
            tracing::warn!(
                topic = message.topic(),
                "record from a topic not subscribed to"
            );
            return Ok(());
        };
        let source = &self.sources[index];
        source.records_in.inc();
        let slot = self.shared.slot(index, message.partition());
        let offset = message.offset();
        let timestamp = message.timestamp().to_millis();
        let payload = message.payload().unwrap_or_default();
        let outcome = account_header(message).and_then(|account_header| {
            self.normaliser.normalise(&RawRecord {
                channel: source.channel,
                payload,
                account_header,
                timestamp: Timestamp(timestamp.unwrap_or(-1)),
            })
        });
        match outcome {
            Ok(outcome) => {
                for kind in &outcome.skipped {
                    source.skipped[*kind as usize].inc();
                }
                slot.lock()
                    .expect("not poisoned")
                    .read(offset, outcome.events.len() as u32);
                for event in &outcome.events {
                    self.value.clear();
                    match self.framing {
                        WireFormat::SingleObject => encode_single_object(event, &mut self.value),
                        WireFormat::Confluent { schema_id } => {
                            self.value.push(0);
                            self.value.extend_from_slice(&schema_id.to_be_bytes());
                            encode_datum(event, &mut self.value);
                        }
                    }
                    let key = event_key(event);
                    let mut record = BaseRecord::with_opaque_to(
                        &self.output_topic,
                        Box::new(Ack {
                            slot: slot.clone(),
                            offset,
                            dlq: false,
                        }),
                    )
                    .key(key.as_str())
                    .payload(self.value.as_slice());
                    if let Some(ms) = timestamp {
                        record = record.timestamp(ms);
                    }
                    if let Err(refused) = send(&self.producer, &self.shared, record)? {
                        // The event itself is refused (larger than `message.max.bytes`):
                        // its raw record goes to the DLQ in its place, under the same ack.
                        let reason = refused.reason();
                        let text = format!("the normalised event was refused: {refused}");
                        self.dead_letter(message, index, reason, &text, slot.clone())?;
                    }
                }
            }
            Err(error) => {
                let reason = error.code();
                tracing::debug!(topic = %source.topic, partition = message.partition(), offset, reason, %error, "to the DLQ");
                slot.lock().expect("not poisoned").read(offset, 1);
                self.dead_letter(message, index, reason, &error.to_string(), slot)?;
            }
        }
        Ok(())
    }

    /// Sends `message` to the DLQ with `reason` and `error` in its headers, acknowledged on
    /// `slot` like the record it stands for. A DLQ record too large for the producer goes
    /// without its value: the headers still name the source topic, partition and offset.
    fn dead_letter(
        &mut self,
        message: &BorrowedMessage<'_>,
        index: usize,
        reason: &str,
        error: &str,
        slot: Slot,
    ) -> Result<(), IngressStageError> {
        if let Some(counter) = self.dlq_counters.get(reason) {
            counter.inc();
        }
        let partition = message.partition().to_string();
        let offset = message.offset();
        let offset_text = offset.to_string();
        let mut payload = message.payload();
        loop {
            let headers = OwnedHeaders::new_with_capacity(6)
                .insert(header(dlq_headers::STAGE, STAGE.as_bytes()))
                .insert(header(dlq_headers::REASON, reason.as_bytes()))
                .insert(header(dlq_headers::ERROR, error.as_bytes()))
                .insert(header(
                    dlq_headers::TOPIC,
                    self.sources[index].topic.as_bytes(),
                ))
                .insert(header(dlq_headers::PARTITION, partition.as_bytes()))
                .insert(header(dlq_headers::OFFSET, offset_text.as_bytes()));
            let mut record = BaseRecord::<[u8], [u8], _>::with_opaque_to(
                &self.dlq_topic,
                Box::new(Ack {
                    slot: slot.clone(),
                    offset,
                    dlq: true,
                }),
            )
            .headers(headers);
            if let Some(payload) = payload {
                record = record.payload(payload);
            }
            if let Some(key) = message.key() {
                record = record.key(key);
            }
            if let Some(ms) = message.timestamp().to_millis() {
                record = record.timestamp(ms);
            }
            match send(&self.producer, &self.shared, record)? {
                Ok(()) => return Ok(()),
                Err(refused) if payload.is_some() => {
                    tracing::warn!(%refused, offset, "DLQ record refused; sending it without the raw body");
                    payload = None;
                }
                Err(refused) => {
                    return Err(IngressStageError::Produce {
                        topic: self.dlq_topic.clone(),
                        reason: refused.to_string(),
                    })
                }
            }
        }
    }

    /// Commits every partition whose committable offset moved since the last commit.
    /// A failed commit is logged and tried again at the next one.
    fn commit(&mut self, consumer: &StreamConsumer<RebalanceContext>, mode: CommitMode) {
        if let Err(error) = self.try_commit(consumer, mode) {
            tracing::warn!(%error, "commit");
        }
    }

    fn try_commit(
        &mut self,
        consumer: &StreamConsumer<RebalanceContext>,
        mode: CommitMode,
    ) -> Result<(), KafkaError> {
        let offsets: Vec<_> = self
            .shared
            .committable(None, false)
            .into_iter()
            .filter(|(key, offset)| self.committed.get(key) != Some(offset))
            .collect();
        if offsets.is_empty() {
            return Ok(());
        }
        consumer.commit(&self.shared.offset_list(&offsets), mode)?;
        self.committed.extend(offsets);
        Ok(())
    }
}

/// A record librdkafka refused for itself (too large), not for the state of the producer.
#[derive(Debug)]
struct Refused(KafkaError);

impl Refused {
    /// The DLQ reason.
    fn reason(&self) -> &'static str {
        OUTPUT_TOO_LARGE
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The DLQ reason of a raw record whose normalised event is larger than the producer's
/// `message.max.bytes`.
pub const OUTPUT_TOO_LARGE: &str = "output_too_large";

/// Sends `record`, waiting while librdkafka's queue is full (the in-flight limit keeps that
/// rare). A record refused for its size comes back as `Ok(Err(Refused))`; any other
/// refusal is a produce failure that stops the stage.
fn send<K: rdkafka::message::ToBytes + ?Sized>(
    producer: &ThreadedProducer<DeliveryContext>,
    shared: &Shared,
    mut record: BaseRecord<'_, K, [u8], Box<Ack>>,
) -> Result<Result<(), Refused>, IngressStageError> {
    shared.in_flight.fetch_add(1, Ordering::AcqRel);
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(Ok(())),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err((error, back)) => {
                shared.in_flight.fetch_sub(1, Ordering::AcqRel);
                if let KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge) = error
                {
                    return Ok(Err(Refused(error)));
                }
                return Err(IngressStageError::Produce {
                    topic: back.topic.to_owned(),
                    reason: error.to_string(),
                });
            }
        }
    }
}

/// The last commit. The group may be rebalancing (another instance joining or leaving), and
/// the coordinator refuses commits until this member has rejoined: then the consumer is
/// paused and polled, which rejoins without fetching, and the commit is tried again, for
/// up to [`FLUSH_TIMEOUT`]. Partitions revoked meanwhile are committed by the revoke callback.
async fn commit_on_shutdown(worker: &mut Worker, consumer: &StreamConsumer<RebalanceContext>) {
    let deadline = tokio::time::Instant::now() + FLUSH_TIMEOUT;
    let mut paused = false;
    loop {
        let error = match worker.try_commit(consumer, CommitMode::Sync) {
            Ok(()) => return,
            Err(error) => error,
        };
        let rejoining = matches!(
            error.rdkafka_error_code(),
            Some(
                RDKafkaErrorCode::RebalanceInProgress
                    | RDKafkaErrorCode::IllegalGeneration
                    | RDKafkaErrorCode::NotCoordinator
                    | RDKafkaErrorCode::CoordinatorLoadInProgress
                    | RDKafkaErrorCode::CoordinatorNotAvailable
            )
        );
        if !rejoining || tokio::time::Instant::now() >= deadline {
            tracing::warn!(%error, "last commit failed; the uncommitted records will be read again");
            return;
        }
        tracing::info!(%error, "last commit refused; rejoining the group and trying again");
        if !paused {
            if let Ok(assignment) = consumer.assignment() {
                paused = consumer.pause(&assignment).is_ok();
            }
        }
        // Paused partitions fetch nothing; a record that still arrives is not processed,
        // and its offset is not committed.
        let _ = tokio::time::timeout(Duration::from_millis(100), consumer.recv()).await;
    }
}

fn header<'a>(key: &'a str, value: &'a [u8]) -> Header<'a, &'a [u8]> {
    Header {
        key,
        value: Some(value),
    }
}

/// The record's `parley-account` header: absent (or null) is `None`; not UTF-8 is an
/// `invalid_account_header` error.
fn account_header<'m>(message: &'m BorrowedMessage<'_>) -> Result<Option<&'m str>, IngressError> {
    let Some(headers) = message.headers() else {
        return Ok(None);
    };
    let Some(value) = headers
        .iter()
        .find(|header| header.key == ACCOUNT_HEADER)
        .and_then(|header| header.value)
    else {
        return Ok(None);
    };
    std::str::from_utf8(value)
        .map(Some)
        .map_err(|_| IngressError::InvalidAccountHeader {
            value: crate::json::shorten(&String::from_utf8_lossy(value)),
            rule: "must be UTF-8",
        })
}
