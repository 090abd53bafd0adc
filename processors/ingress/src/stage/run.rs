//! The stage's set-up and its loop: clients created, the group joined, records consumed
//! until shutdown or a failure, then the last flush and commit.

use super::config::IngressStageConfig;
use super::delivery::{DeliveryContext, OUTPUT_TOO_LARGE};
use super::error::IngressStageError;
use super::metrics::{IngressMetrics, STAGE};
use super::rebalance::{RebalanceContext, FLUSH_TIMEOUT};
use super::shared::Shared;
use super::worker::{Source, Worker};
use crate::error::IngressError;
use crate::normaliser::Normaliser;
use crate::outcome::SkipKind;
use futures_util::{Stream, StreamExt};
use parley_core::ConversationEvent;
use parley_runtime::clients;
use parley_runtime::codec::{AvroCodec, RegistryClient, WireFormat};
use parley_runtime::host::BrokerProbe;
use parley_runtime::http::StatusCode;
use parley_runtime::lag::{Group, LagReporter};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{Producer, ThreadedProducer};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Most records handled in a row, from what the consumer has already fetched, before the
/// loop looks at the shutdown signal and the commit timer again.
const DRAIN: usize = 512;

/// How often the lag of every raw partition is read.
const LAG_INTERVAL: Duration = Duration::from_secs(5);

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
        let common = clients::base(&config.brokers, &config.librdkafka);
        let _probe = BrokerProbe::start(
            &common,
            &shared.topics[0],
            metrics.runtime().brokers_reachable.clone(),
        )?;
        let topics: Vec<&str> = shared.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        tracing::info!(group = %config.group_id, ?topics, framing = ?worker.framing, "ingress started");
        // The lag of every raw partition, owned by this instance or not.
        let group = Group {
            id: config.group_id.clone(),
            topics: shared.topics.clone(),
            co_partitioned: false,
        };
        let _lag = LagReporter::start(&common, group, metrics.runtime(), LAG_INTERVAL, |_| false)?;

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
