//! The host: a consumer group over co-partitioned inputs, driving one processor per partition.
//!
//! [`Host::run`] is the loop, on the calling thread: poll a record, handle the rebalance
//! events the poll raised (see `context.rs`), take in the partitions the restore thread has
//! finished (see `restorer.rs`), run the record through its partition's processor, fire due
//! timers, and commit the batch when it is full or old enough. See `coordinator/mod.rs`
//! for what a commit does under each [`Guarantee`].

mod context;
mod coordinator;
mod delivery;
mod inputs;
mod probe;
mod restorer;

use crate::activity::Activity;
use crate::clients;
use crate::clock::Clock;
use crate::config::{Guarantee, RuntimeConfig};
use crate::error::RuntimeError;
use crate::metrics::Metrics;
use crate::processor::{InputRecord, KeyedProcessor};
use crate::state::restore::RestoreContext;
use crate::state::{StateStore, StateView};
use context::{HostContext, RebalanceEvent};
use coordinator::Coordinator;
pub use coordinator::PausePoint;
use delivery::DeliveryTracker;
use parley_core::Timestamp;
pub use probe::BrokerProbe;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{Producer, ThreadedProducer};
use restorer::{Factory, RestoreSetup, Restorer};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A flag that asks a running host to finish its batch, commit and stop.
#[derive(Clone, Debug, Default)]
pub struct Shutdown(Arc<AtomicBool>);

impl Shutdown {
    /// A flag not yet raised.
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// Asks the host to stop.
    pub fn trigger(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether stopping was asked.
    pub fn is_triggered(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Raises the flag on SIGINT or SIGTERM (spawns a task on the current tokio runtime).
    pub fn on_signals(&self) {
        let flag = self.clone();
        tokio::spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return;
            };
            tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
            tracing::info!("signal received, finishing the batch");
            flag.trigger();
        });
    }
}

/// Runs a [`KeyedProcessor`] on Kafka: one instance of the consumer group.
pub struct Host<P: KeyedProcessor> {
    config: RuntimeConfig,
    factory: Factory<P>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    pause: Option<(PausePoint, u64)>,
    activity: Option<Arc<Activity>>,
    view: StateView,
}

impl<P: KeyedProcessor> std::fmt::Debug for Host<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<P: KeyedProcessor> Host<P> {
    /// A host for `config` that makes each partition's processor with `factory(partition)`.
    pub fn new(
        config: RuntimeConfig,
        factory: impl FnMut(i32) -> P + Send + 'static,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> Result<Host<P>, RuntimeError> {
        config.validate()?;
        Ok(Host {
            config,
            factory: Arc::new(Mutex::new(Box::new(factory))),
            clock,
            metrics,
            pause: None,
            activity: None,
            view: StateView::new(),
        })
    }

    /// A read-only view of the committed state of the partitions this host will own, for the
    /// `/state` endpoint ([`crate::http::serve_metrics_and_state`]). Take it before `run`:
    /// the host publishes its partitions to it as they are assigned, restored and released,
    /// and empties it when it stops.
    pub fn state_view(&self) -> StateView {
        self.view.clone()
    }

    /// Publishes the loop's activity to `activity` at the end of every iteration.
    pub fn with_activity(mut self, activity: Arc<Activity>) -> Host<P> {
        self.activity = Some(activity);
        self
    }

    /// Freezes the process at `point` of the `nth` batch commit (1-based), for crash tests
    /// that kill it there.
    #[doc(hidden)]
    pub fn pause_at(mut self, point: PausePoint, nth: u64) -> Host<P> {
        self.pause = Some((point, nth));
        self
    }

    /// Runs the host the way a process does: serves `/metrics`, `/healthz`, `/readyz` and
    /// `/state/<key>` (values rendered by [`crate::http::render_raw`]) on the configured
    /// address, stops on SIGINT or SIGTERM (finishing and committing the batch), and runs the
    /// loop on a blocking thread. Call from within a tokio runtime.
    pub async fn serve(self) -> Result<(), RuntimeError> {
        let server = match self.config.metrics_address {
            Some(address) => {
                let state = crate::http::StateEndpoint::new(
                    self.state_view(),
                    Arc::new(crate::http::render_raw),
                );
                let (bound, task) =
                    crate::http::serve_metrics_and_state(address, self.metrics.clone(), state)
                        .await?;
                tracing::info!(%bound, "serving /metrics and /state");
                Some(task)
            }
            None => None,
        };
        let shutdown = Shutdown::new();
        shutdown.on_signals();
        let result = tokio::task::spawn_blocking(move || self.run(shutdown))
            .await
            .unwrap_or_else(|e| Err(RuntimeError::Produce(format!("host thread panicked: {e}"))));
        if let Some(task) = server {
            task.abort();
        }
        result
    }

    /// Runs until `shutdown` is raised (then commits the open batch and leaves the group)
    /// or a failure that needs a person (see [`RuntimeError::is_transient`]). Blocks the
    /// calling thread: call it from a thread of its own (`spawn_blocking`).
    ///
    /// After a failure that a restart repairs (brokers unreachable, a transaction that had to
    /// be aborted, the group moving on without this instance), the host drops its Kafka
    /// clients, its partitions and their in-memory state, and starts again in the process:
    /// the open batch is never committed, and the partitions are restored from sled and the
    /// changelog and resume at their last seal, as in a new process. It waits 1 s before the
    /// first new start, twice as long after each failure in a row, up to 30 s.
    pub fn run(self, shutdown: Shutdown) -> Result<(), RuntimeError> {
        std::fs::create_dir_all(&self.config.state_dir)?;
        let (store, rebuilt) = StateStore::open(&self.config.state_dir)?;
        if rebuilt {
            tracing::warn!("state store rebuilt; every partition restores from the changelog");
        }
        let _probe = BrokerProbe::start(
            &self.config.client(),
            &self.config.input_topics[0],
            self.metrics.brokers_reachable.clone(),
        )?;
        // The lag of the partitions this instance does not own, from the group's committed
        // offsets: an orphaned partition's lag grows where the alert sees it.
        let view = self.view.clone();
        let group = crate::lag::Group {
            id: self.config.group_id.clone(),
            topics: self.config.input_topics.clone(),
            co_partitioned: true,
        };
        let _lag = crate::lag::LagReporter::start(
            &self.config.client(),
            group,
            &self.metrics,
            LAG_INTERVAL,
            move |partition| view.owned().contains(&partition),
        )?;
        let mut backoff = RESTART_BACKOFF;
        loop {
            let started = Instant::now();
            let error = match self.attempt(store.clone(), &shutdown) {
                Err(error) if error.is_transient() && !shutdown.is_triggered() => error,
                result => return result,
            };
            if started.elapsed() > RESTART_BACKOFF_RESET {
                backoff = RESTART_BACKOFF;
            }
            self.metrics.host_restarts.inc();
            tracing::error!(
                %error,
                backoff_ms = backoff.as_millis() as u64,
                "host failed; it starts again from the last committed batch"
            );
            let until = Instant::now() + backoff;
            while Instant::now() < until {
                if shutdown.is_triggered() {
                    // Nothing is left uncommitted: the open batch was dropped.
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            backoff = (backoff * 2).min(RESTART_BACKOFF_MAX);
        }
    }

    /// One run of the host on `store`, from creating its clients to leaving the group.
    fn attempt(&self, store: StateStore, shutdown: &Shutdown) -> Result<(), RuntimeError> {
        let config = self.config.clone();
        // Not ready until this attempt's consumer has joined the group.
        self.metrics.assigned_partitions.set(-1);

        let mut producer_config = match config.guarantee {
            Guarantee::ExactlyOnce => clients::transactional_producer(
                &self.config.client(),
                &format!("{}-{}", config.group_id, config.instance_id),
            ),
            Guarantee::AtLeastOnce => clients::keyed_producer(&self.config.client()),
        };
        clients::set_default(
            &mut producer_config,
            "queue.buffering.max.messages",
            "1000000",
        );
        let producer: ThreadedProducer<DeliveryTracker> =
            producer_config.create_with_context(DeliveryTracker::new(&config.changelog_topic))?;
        if config.guarantee == Guarantee::ExactlyOnce {
            producer.init_transactions(Duration::from_secs(30))?;
        }

        let isolation = match config.guarantee {
            Guarantee::ExactlyOnce => "read_committed",
            Guarantee::AtLeastOnce => "read_uncommitted",
        };
        let restore_consumer: BaseConsumer<RestoreContext> = (self.config.client())
            .set("group.id", format!("{}-restore", config.group_id))
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .set("isolation.level", isolation)
            .create_with_context(RestoreContext)?;

        let restorer = Restorer::start(RestoreSetup {
            consumer: restore_consumer,
            changelog_topic: config.changelog_topic.clone(),
            factory: self.factory.clone(),
            metrics: self.metrics.clone(),
            timer_horizon_ms: config.timer_horizon_ms,
        })?;

        let clock = self.clock.clone();
        let mut consumer_config = self.config.client();
        let mut coordinator = Coordinator::new(
            config.clone(),
            self.clock.clone(),
            self.metrics.clone(),
            store,
            producer,
            restorer,
        );
        coordinator.pause = self.pause;
        coordinator.view = self.view.clone();
        // Empties the view when the host stops, however it stops, so that no reader keeps
        // the database open after the host dropped it.
        let _release = ReleaseOnDrop(self.view.clone());
        // Several co-partitioned inputs need an assignor that keeps partition n of every
        // input together: `range` does, `cooperative-sticky` does not.
        let assignor = if config.input_topics.len() == 1 {
            "cooperative-sticky"
        } else {
            "range"
        };
        if let Some(address) = &config.advertised_state_address {
            // The coordinator returns the client id beside the member's assignment: where
            // `parley inspect` finds the owner of a key (see `crate::owners`).
            let name = consumer_config
                .get("client.id")
                .unwrap_or(&config.instance_id)
                .to_owned();
            consumer_config.set(
                "client.id",
                crate::owners::advertising_client_id(&name, address),
            );
        }
        let (context, events) = HostContext::new();
        let consumer: BaseConsumer<HostContext> =
            clients::group_consumer(&consumer_config, &config.group_id, assignor)
                .set("isolation.level", isolation)
                .create_with_context(context)?;
        let topics: Vec<&str> = config.input_topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        tracing::info!(group = %config.group_id, ?topics, guarantee = config.guarantee.as_str(), "host started");

        let activity = self.activity.clone();
        let result = run_loop(
            &consumer,
            &events,
            &mut coordinator,
            &clock,
            activity.as_deref(),
            shutdown,
        );
        let commit = if result.is_ok() {
            coordinator.commit(&consumer, CommitMode::Sync)
        } else {
            Ok(())
        };
        let closing = commit.and_then(|()| coordinator.flush_store());
        coordinator.release_partitions();
        // Nothing is owned any more: the consumer applies what is left of the rebalances
        // itself while it leaves the group.
        consumer.context().close();
        context::settle(&consumer, &events);
        consumer.unsubscribe();
        drop(consumer);
        drop(coordinator);
        tracing::info!("host stopped");
        result.and(closing)
    }
}

/// The wait before the host starts again after a failure a restart repairs; it doubles
/// with each failure in a row, up to [`RESTART_BACKOFF_MAX`].
const RESTART_BACKOFF: Duration = Duration::from_secs(1);
const RESTART_BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A run that lasted this long before it failed starts the backoff over.
const RESTART_BACKOFF_RESET: Duration = Duration::from_secs(60);

/// Empties a [`StateView`] when dropped.
struct ReleaseOnDrop(StateView);

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        self.0.release_all();
    }
}

/// How often the lag of the partitions this instance does not own is read.
const LAG_INTERVAL: Duration = Duration::from_secs(5);

/// Waits until everything `producer` has queued is delivered (or failed), up to `timeout`.
///
/// `ThreadedProducer::flush` waits in steps of 100 ms (it polls a queue its own thread already
/// drains), which would cap a batch commit at ten per second; this polls the queue length.
pub fn flush<C: rdkafka::producer::ProducerContext>(
    producer: &ThreadedProducer<C>,
    timeout: Duration,
) -> Result<(), RuntimeError> {
    let deadline = Instant::now() + timeout;
    while producer.in_flight_count() > 0 {
        if Instant::now() >= deadline {
            return Err(RuntimeError::Produce(format!(
                "{} records not acknowledged within {timeout:?}",
                producer.in_flight_count()
            )));
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    Ok(())
}

fn run_loop<P: KeyedProcessor>(
    consumer: &BaseConsumer<HostContext>,
    events: &Receiver<RebalanceEvent>,
    coordinator: &mut Coordinator<P>,
    clock: &Arc<dyn Clock>,
    activity: Option<&Activity>,
    shutdown: &Shutdown,
) -> Result<(), RuntimeError> {
    let mut gauges_at = Instant::now();
    while !shutdown.is_triggered() {
        let timeout = coordinator.poll_timeout(clock.now());
        let polled = consumer.poll(timeout.max(Duration::from_millis(1)));
        // Before the record: a revocation commits first, and the record of a partition it
        // took away is then not handled.
        for event in events.try_iter() {
            coordinator.on_rebalance(consumer, event)?;
        }
        coordinator.take_restored(consumer)?;
        match polled {
            Some(Ok(message)) => {
                let record = InputRecord {
                    topic: message.topic(),
                    partition: message.partition(),
                    offset: message.offset(),
                    key: message.key().unwrap_or_default(),
                    value: message.payload().unwrap_or_default(),
                    timestamp: message.timestamp().to_millis().map(Timestamp),
                };
                coordinator.accept(consumer, record)?;
            }
            Some(Err(error)) => tracing::warn!(%error, "consumer error"),
            None => {}
        }
        coordinator.drain(consumer)?;
        let now = clock.now();
        coordinator.fire_timers(now)?;
        if coordinator.batch_due() {
            coordinator.commit(consumer, CommitMode::Async)?;
        }
        // Cheap unless half the horizon has passed; skips partitions with an open batch.
        coordinator.refill_timers(now)?;
        if gauges_at.elapsed() > Duration::from_secs(5) {
            coordinator.update_gauges(consumer);
            gauges_at = Instant::now();
        }
        if let Some(activity) = activity {
            activity.publish(coordinator.has_open_batch(), coordinator.next_due());
        }
    }
    Ok(())
}
