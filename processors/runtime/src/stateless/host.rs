//! [`StatelessHost`]: a [`StatelessProcessor`] on Kafka; its set-up, its loop and the
//! per-record work of producing what the processor returns.

use super::delivery::{produce_failed, send, Ack, DeliveryContext, Refused, OUTPUT_TOO_LARGE};
use super::processor::{Headers, StatelessProcessor};
use super::rebalance::{RebalanceContext, FLUSH_TIMEOUT};
use super::shared::{Shared, Slot};
use crate::clients;
use crate::dlq::{self, dead_letter};
use crate::error::{ConfigError, RuntimeError};
use crate::host::BrokerProbe;
use crate::lag::{Group, LagReporter};
use crate::metrics::Metrics;
use crate::processor::{InputRecord, Output};
use futures_util::{Stream, StreamExt};
use parley_core::Timestamp;
use prometheus::IntCounter;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Most records handled in a row, from what the consumer has already fetched, before the
/// loop looks at the shutdown signal and the commit timer again.
const DRAIN: usize = 512;

/// How often the lag of every input partition is read.
const LAG_INTERVAL: Duration = Duration::from_secs(5);

/// Where a [`StatelessHost`] reads and writes, and how it commits.
#[derive(Clone, Debug)]
pub struct StatelessConfig {
    /// The bootstrap brokers.
    pub brokers: String,
    /// Extra librdkafka settings for the consumer and the producer.
    pub librdkafka: BTreeMap<String, String>,
    /// The consumer group the instances share.
    pub group_id: String,
    /// The input topics.
    pub topics: Vec<String>,
    /// The DLQ topic, where the host sends an input whose output is too large.
    pub dlq_topic: String,
    /// The `stage` header and label of the DLQ records the host makes, e.g. `ingress`.
    pub stage: &'static str,
    /// How often the offsets done are committed.
    pub commit_interval_ms: u64,
    /// Most records produced and not yet acknowledged; the host reads nothing more while
    /// they are.
    pub max_in_flight: usize,
}

impl StatelessConfig {
    /// Checks the settings the host cannot run without: an input topic, room for one
    /// record in flight, a commit interval.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field: &str, value: String, rule: &str| {
            Err(ConfigError::Invalid {
                field: field.to_owned(),
                value,
                rule: rule.to_owned(),
            })
        };
        if self.topics.is_empty() {
            return invalid(
                "topics",
                "[]".to_owned(),
                "must name at least one input topic",
            );
        }
        if self.max_in_flight == 0 {
            return invalid("max_in_flight", "0".to_owned(), "must be at least 1");
        }
        if self.commit_interval_ms == 0 {
            return invalid("commit_interval_ms", "0".to_owned(), "must be at least 1");
        }
        Ok(())
    }
}

/// A stateless processor with its Kafka clients created, not yet consuming.
pub struct StatelessHost<P> {
    config: StatelessConfig,
    metrics: Arc<Metrics>,
    shared: Arc<Shared>,
    consumer: StreamConsumer<RebalanceContext>,
    worker: Worker<P>,
}

impl<P> std::fmt::Debug for StatelessHost<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatelessHost")
            .field("group_id", &self.config.group_id)
            .field("topics", &self.shared.topics)
            .finish()
    }
}

impl<P: StatelessProcessor> StatelessHost<P> {
    /// Creates the consumer and the producer for `processor`, counting into `metrics`.
    pub fn new(
        config: StatelessConfig,
        processor: P,
        metrics: Arc<Metrics>,
    ) -> Result<StatelessHost<P>, RuntimeError> {
        config.validate()?;
        let shared = Arc::new(Shared::new(config.topics.clone(), config.max_in_flight));
        let common = clients::base(&config.brokers, &config.librdkafka);
        let mut producer_config = clients::keyed_producer(&common);
        let queue = (config.max_in_flight + 1_000).max(100_000).to_string();
        clients::set_default(&mut producer_config, "queue.buffering.max.messages", &queue);
        let producer_id = format!("{}-producer", config.group_id);
        clients::set_default(&mut producer_config, "client.id", &producer_id);
        let consumer_config =
            clients::group_consumer(&common, &config.group_id, "cooperative-sticky");

        let producer: ThreadedProducer<DeliveryContext> =
            producer_config.create_with_context(DeliveryContext {
                shared: shared.clone(),
            })?;
        let rebalances = &metrics.rebalances;
        let consumer: StreamConsumer<RebalanceContext> =
            consumer_config.create_with_context(RebalanceContext {
                shared: shared.clone(),
                producer: producer.clone(),
                assigned: rebalances.with_label_values(&["assigned"]),
                revoked: rebalances.with_label_values(&["revoked"]),
                revoked_uncommitted: rebalances.with_label_values(&["revoked_uncommitted"]),
                owned: metrics.assigned_partitions.clone(),
            })?;
        let records_in = (config.topics.iter())
            .map(|topic| metrics.records_in.with_label_values(&[topic]))
            .collect();
        let worker = Worker {
            processor,
            producer,
            shared: shared.clone(),
            metrics: metrics.clone(),
            records_in,
            records_out: HashMap::new(),
            dlq_topic: config.dlq_topic.clone(),
            stage: config.stage,
            outputs: Vec::new(),
            committed: HashMap::new(),
        };
        Ok(StatelessHost {
            config,
            metrics,
            shared,
            consumer,
            worker,
        })
    }

    /// The processor.
    pub fn processor(&self) -> &P {
        &self.worker.processor
    }

    /// Consumes until `shutdown` is cancelled (then stops consuming, waits for every
    /// produced record's acknowledgement, commits, and returns `Ok`) or a failure that
    /// needs a restart.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), RuntimeError> {
        let StatelessHost {
            config,
            metrics,
            shared,
            consumer,
            mut worker,
        } = self;
        let common = clients::base(&config.brokers, &config.librdkafka);
        let _probe = BrokerProbe::start(
            &common,
            &shared.topics[0],
            metrics.brokers_reachable.clone(),
        )?;
        let topics: Vec<&str> = shared.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        tracing::info!(group = %config.group_id, ?topics, "stateless host started");
        // The lag of every input partition, owned by this instance or not.
        let group = Group {
            id: config.group_id.clone(),
            topics: shared.topics.clone(),
            co_partitioned: false,
        };
        let _lag = LagReporter::start(&common, group, &metrics, LAG_INTERVAL, |_| false)?;

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
                left => Err(RuntimeError::Unflushed(left)),
            },
        });
        commit_on_shutdown(&mut worker, &consumer).await;
        consumer.unsubscribe();
        tracing::info!(ok = result.is_ok(), "stateless host stopped");
        result
    }
}

/// The per-record work: process, produce, count.
struct Worker<P> {
    processor: P,
    producer: ThreadedProducer<DeliveryContext>,
    shared: Arc<Shared>,
    metrics: Arc<Metrics>,
    /// `parley_records_in_total` of each input topic, indexed like `shared.topics`.
    records_in: Vec<IntCounter>,
    /// `parley_records_out_total` of each output topic seen.
    records_out: HashMap<String, IntCounter>,
    dlq_topic: String,
    stage: &'static str,
    /// The outputs of the record at hand, reused from record to record.
    outputs: Vec<Output>,
    /// The offsets last committed, to commit only what moved.
    committed: HashMap<(usize, i32), i64>,
}

impl<P: StatelessProcessor> Worker<P> {
    /// Handles one record. An error means a produce was refused outright: the host stops.
    fn handle(&mut self, message: &BorrowedMessage<'_>) -> Result<(), RuntimeError> {
        let Some(index) = (self.shared.topics.iter()).position(|t| t == message.topic()) else {
            tracing::warn!(
                topic = message.topic(),
                "record from a topic not subscribed to"
            );
            return Ok(());
        };
        self.records_in[index].inc();
        let slot = self.shared.slot(index, message.partition());
        let record = InputRecord {
            topic: message.topic(),
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().unwrap_or_default(),
            value: message.payload().unwrap_or_default(),
            timestamp: message.timestamp().to_millis().map(Timestamp),
        };
        let mut outputs = std::mem::take(&mut self.outputs);
        self.processor
            .process(&record, Headers::Kafka(message.headers()), &mut outputs);
        (slot.lock().expect("not poisoned")).read(record.offset, outputs.len() as u32);
        let mut result = Ok(());
        for output in outputs.drain(..) {
            result = self.produce(&record, output, &slot);
            if result.is_err() {
                break;
            }
        }
        self.outputs = outputs;
        result
    }

    /// Produces `output` of `record`, acknowledged on `slot`. An output refused for its
    /// size is replaced by a DLQ record of `record`, under the same acknowledgement.
    fn produce(
        &mut self,
        record: &InputRecord<'_>,
        output: Output,
        slot: &Slot,
    ) -> Result<(), RuntimeError> {
        if output.topic == self.dlq_topic {
            self.count_dead_letter(&output);
        }
        match self.send(record, &output, slot)? {
            Ok(()) => Ok(()),
            Err(refused) if output.topic != self.dlq_topic => {
                let error = format!("an output to {} was refused: {refused}", output.topic);
                let dead = dead_letter(
                    &self.dlq_topic,
                    record,
                    self.stage,
                    OUTPUT_TOO_LARGE,
                    &error,
                );
                self.count_dead_letter(&dead);
                match self.send(record, &dead, slot)? {
                    Ok(()) => Ok(()),
                    Err(refused) => self.send_without_value(record, dead, slot, refused),
                }
            }
            Err(refused) => self.send_without_value(record, output, slot, refused),
        }
    }

    /// Sends a DLQ record the producer refused for its size again, without its value: its
    /// headers still name the source.
    fn send_without_value(
        &mut self,
        record: &InputRecord<'_>,
        mut dead: Output,
        slot: &Slot,
        refused: Refused,
    ) -> Result<(), RuntimeError> {
        tracing::warn!(%refused, offset = record.offset, "DLQ record refused; sending it without the input's value");
        dead.value.clear();
        match self.send(record, &dead, slot)? {
            Ok(()) => Ok(()),
            Err(refused) => Err(produce_failed(&dead.topic, &refused)),
        }
    }

    fn send(
        &mut self,
        record: &InputRecord<'_>,
        output: &Output,
        slot: &Slot,
    ) -> Result<Result<(), Refused>, RuntimeError> {
        let records_out = match self.records_out.get(&output.topic) {
            Some(counter) => counter.clone(),
            None => {
                let counter = self.metrics.records_out.with_label_values(&[&output.topic]);
                self.records_out
                    .insert(output.topic.clone(), counter.clone());
                counter
            }
        };
        let ack = Box::new(Ack {
            slot: slot.clone(),
            offset: record.offset,
            records_out,
        });
        let mut produced = BaseRecord::<[u8], [u8], _>::with_opaque_to(&output.topic, ack);
        if !output.key.is_empty() {
            produced = produced.key(output.key.as_slice());
        }
        if !output.value.is_empty() {
            produced = produced.payload(output.value.as_slice());
        }
        if !output.headers.is_empty() {
            let mut headers = OwnedHeaders::new_with_capacity(output.headers.len());
            for (key, value) in &output.headers {
                headers = headers.insert(Header {
                    key,
                    value: Some(value),
                });
            }
            produced = produced.headers(headers);
        }
        if let Some(Timestamp(ms)) = record.timestamp {
            produced = produced.timestamp(ms);
        }
        send(&self.producer, &self.shared, produced)
    }

    /// Counts a DLQ record in `parley_dlq_records_total` by its stage and reason headers.
    fn count_dead_letter(&self, dead: &Output) {
        let header = |name: &str| {
            (dead.headers.iter())
                .find(|(key, _)| key == name)
                .map(|(_, value)| String::from_utf8_lossy(value))
                .unwrap_or_default()
        };
        let (stage, reason) = (header(dlq::headers::STAGE), header(dlq::headers::REASON));
        (self.metrics.dlq_records)
            .with_label_values(&[&stage, &reason])
            .inc();
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
        let offsets: Vec<_> = (self.shared.committable(None, false).into_iter())
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

/// The last commit. The group may be rebalancing (another instance joining or leaving), and
/// the coordinator refuses commits until this member has rejoined: then the consumer is
/// paused and polled, which rejoins without fetching, and the commit is tried again, for
/// up to [`FLUSH_TIMEOUT`]. Partitions revoked meanwhile are committed by the revoke callback.
async fn commit_on_shutdown<P: StatelessProcessor>(
    worker: &mut Worker<P>,
    consumer: &StreamConsumer<RebalanceContext>,
) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> StatelessConfig {
        StatelessConfig {
            brokers: "localhost:9092".into(),
            librdkafka: BTreeMap::new(),
            group_id: "g".into(),
            topics: vec!["in".into()],
            dlq_topic: "dlq".into(),
            stage: "test",
            commit_interval_ms: 100,
            max_in_flight: 10,
        }
    }

    #[test]
    fn a_config_without_topics_or_room_in_flight_is_refused_by_field() {
        assert!(config().validate().is_ok());
        let refused = |config: StatelessConfig| config.validate().unwrap_err().to_string();
        let no_topics = StatelessConfig {
            topics: Vec::new(),
            ..config()
        };
        assert_eq!(
            refused(no_topics),
            "topics = []: must name at least one input topic"
        );
        let no_room = StatelessConfig {
            max_in_flight: 0,
            ..config()
        };
        assert_eq!(refused(no_room), "max_in_flight = 0: must be at least 1");
        let no_interval = StatelessConfig {
            commit_interval_ms: 0,
            ..config()
        };
        assert_eq!(
            refused(no_interval),
            "commit_interval_ms = 0: must be at least 1"
        );
    }
}
