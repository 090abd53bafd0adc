//! The whole pipeline in one process: librdkafka's mock cluster, every topic, every role.
//!
//! `parley demo` runs on it, and so do tests and benchmarks that want the real processors on
//! Kafka without a broker to install. The roles are the ones `parley run` starts;
//! only the clock, the metrics endpoints and two timings can be injected.

use crate::options::{Connection, RoleSettings};
pub use crate::roles::Observed;
use crate::roles::{self, Hooks, Role};
use anyhow::{anyhow, Context};
use parley_core::routing::RoutingConfig;
use parley_ingress::IngressConfig;
use parley_runtime::{Clock, Guarantee, Shutdown};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How an embedded pipeline is set up.
#[derive(Clone, Debug)]
pub struct EmbeddedOptions {
    /// Partitions of every topic.
    pub partitions: i32,
    /// Where the tickets and router roles keep their sled state.
    pub state_dir: PathBuf,
    /// The processing clock of the tickets and router roles.
    pub clock: Arc<dyn Clock>,
    /// The router's settings.
    pub routing: RoutingConfig,
    /// The normaliser's settings.
    pub ingress: IngressConfig,
    /// The delivery guarantee of the tickets and router roles.
    pub guarantee: Guarantee,
    /// The longest a batch stays open, in milliseconds.
    pub commit_interval_ms: u64,
    /// How far ahead timers are held in memory, in milliseconds.
    pub timer_horizon_ms: u64,
    /// Serve each role's `/metrics` on this address's port and the next two.
    pub metrics_addr: Option<SocketAddr>,
}

impl EmbeddedOptions {
    /// Options with the runtime's defaults, at-least-once, and no metrics endpoints.
    pub fn new(state_dir: PathBuf, clock: Arc<dyn Clock>) -> EmbeddedOptions {
        EmbeddedOptions {
            partitions: 3,
            state_dir,
            clock,
            routing: RoutingConfig::default(),
            ingress: IngressConfig::default(),
            guarantee: Guarantee::AtLeastOnce,
            commit_interval_ms: parley_runtime::config::default_commit_interval_ms(),
            timer_horizon_ms: parley_runtime::config::default_timer_horizon_ms(),
            metrics_addr: None,
        }
    }
}

/// A running embedded pipeline; [`Embedded::stop`] it to commit and leave cleanly.
pub struct Embedded {
    // Declared first so the roles stop before the cluster goes away.
    roles: Option<JoinHandle<anyhow::Result<()>>>,
    token: CancellationToken,
    shutdown: Shutdown,
    observed: Arc<Observed>,
    brokers: String,
    prefix: String,
    // None when the roles run on brokers the caller owns ([`Embedded::start_on`]).
    _cluster: Option<MockCluster<'static, DefaultProducerContext>>,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedded")
            .field("brokers", &self.brokers)
            .finish_non_exhaustive()
    }
}

/// The topic prefix of an embedded pipeline: none, so topics have their plain names.
pub const PREFIX: &str = "";

impl Embedded {
    /// Starts the mock cluster, creates every topic and starts every role.
    ///
    /// Returns once the tickets and router hosts are running their loops.
    pub async fn start(options: EmbeddedOptions) -> anyhow::Result<Embedded> {
        let cluster = MockCluster::new(1).context("cannot start the mock cluster")?;
        // The mock cluster does not take CreateTopics requests; it creates topics directly.
        for name in topic_names() {
            cluster
                .create_topic(&name, options.partitions, 1)
                .map_err(|e| anyhow!("{name}: not created on the mock cluster: {e}"))?;
        }
        let brokers = cluster.bootstrap_servers();
        Embedded::launch(&brokers, BTreeMap::new(), options, Some(cluster)).await
    }

    /// Starts every role against the brokers at `brokers` (e.g. Apache Kafka or a mock cluster
    /// the caller runs) instead of a mock cluster of its own; every client gets the `librdkafka`
    /// settings on top of [`Embedded::start`]'s. The topics of [`topic_names`] must exist.
    ///
    /// Returns once the tickets and router hosts are running their loops.
    pub async fn start_on(
        brokers: &str,
        librdkafka: BTreeMap<String, String>,
        options: EmbeddedOptions,
    ) -> anyhow::Result<Embedded> {
        Embedded::launch(brokers, librdkafka, options, None).await
    }

    async fn launch(
        brokers: &str,
        librdkafka: BTreeMap<String, String>,
        options: EmbeddedOptions,
        cluster: Option<MockCluster<'static, DefaultProducerContext>>,
    ) -> anyhow::Result<Embedded> {
        let mut settings = BTreeMap::from([
            // A rebalance after a stop need not wait out a long session.
            ("session.timeout.ms".to_owned(), "6000".to_owned()),
            ("heartbeat.interval.ms".to_owned(), "500".to_owned()),
            // The mock cluster holds a fetch that finds nothing new for this long, so every
            // hop between roles would cost the default 500 ms.
            ("fetch.wait.max.ms".to_owned(), "5".to_owned()),
        ]);
        settings.extend(librdkafka);
        let settings = RoleSettings {
            connection: Connection {
                brokers: brokers.to_owned(),
                topic_prefix: PREFIX.to_owned(),
                registry_url: None,
                librdkafka: settings,
            },
            group_id: None,
            state_dir: options.state_dir.clone(),
            guarantee: options.guarantee,
            metrics_addr: options
                .metrics_addr
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0))),
            instance_id: "embedded".to_owned(),
            advertised_host: "127.0.0.1".to_owned(),
            routing: options.routing.clone(),
            ingress: options.ingress.clone(),
        };
        let observed = Arc::new(Observed::default());
        let hooks = Hooks {
            clock: options.clock.clone(),
            serve_metrics: options.metrics_addr.is_some(),
            commit_interval_ms: Some(options.commit_interval_ms),
            timer_horizon_ms: Some(options.timer_horizon_ms),
            observed: observed.clone(),
        };
        let (token, shutdown) = (CancellationToken::new(), Shutdown::new());
        let roles = tokio::spawn(roles::run_with(
            &[Role::Ingress, Role::Tickets, Role::Router],
            settings,
            hooks,
            token.clone(),
            shutdown.clone(),
        ));
        let mut embedded = Embedded {
            roles: Some(roles),
            token,
            shutdown,
            observed,
            brokers: brokers.to_owned(),
            prefix: PREFIX.to_owned(),
            _cluster: cluster,
        };
        embedded.wait_started().await?;
        Ok(embedded)
    }

    async fn wait_started(&mut self) -> anyhow::Result<()> {
        let started = |o: &Observed| o.tickets.iterations() > 0 && o.router.iterations() > 0;
        for _ in 0..600 {
            if started(&self.observed) {
                return Ok(());
            }
            if self.roles.as_ref().is_some_and(JoinHandle::is_finished) {
                let roles = self.roles.take().expect("checked");
                return Err(match roles.await {
                    Ok(Err(error)) => error.context("the embedded pipeline stopped"),
                    Ok(Ok(())) => anyhow!("the embedded pipeline stopped during start-up"),
                    Err(error) => anyhow!("the embedded pipeline failed: {error}"),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(anyhow!("the embedded pipeline did not start within 30 s"))
    }

    /// The bootstrap servers the roles use: the mock cluster's, or those given to `start_on`.
    pub fn brokers(&self) -> &str {
        &self.brokers
    }

    /// The full name of `topic` (e.g. `ticket-status-changes`).
    pub fn topic(&self, topic: &str) -> String {
        format!("{}{topic}", self.prefix)
    }

    /// The consumer group of a role: `parley-ingress`, `parley-tickets` or `parley-router`.
    pub fn group(role: &str) -> String {
        format!("parley-{role}")
    }

    /// What the roles publish.
    pub fn observed(&self) -> &Arc<Observed> {
        &self.observed
    }

    /// Whether a role has stopped (with a failure: the roles run until stopped).
    pub fn has_stopped(&self) -> bool {
        self.roles.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stops every role (each commits its batch) and then the cluster.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.token.cancel();
        self.shutdown.trigger();
        match self.roles.take() {
            Some(roles) => roles
                .await
                .map_err(|e| anyhow!("the embedded pipeline failed: {e}"))?,
            None => Ok(()),
        }
    }
}

/// Every topic the roles use, under [`PREFIX`]: what [`Embedded::start_on`] needs to exist.
pub fn topic_names() -> Vec<String> {
    crate::topics::all(PREFIX)
        .into_iter()
        .map(|spec| spec.name)
        .collect()
}

impl Drop for Embedded {
    fn drop(&mut self) {
        self.token.cancel();
        self.shutdown.trigger();
    }
}

/// A state directory of its own for an embedded run, removed on drop (also when the run
/// fails).
#[derive(Debug)]
pub(crate) struct StateDir {
    /// The directory.
    pub(crate) path: PathBuf,
}

impl StateDir {
    /// Creates `<temp>/parley-<purpose>-<pid>-<nanos>`.
    pub(crate) fn create(purpose: &str) -> anyhow::Result<StateDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let path =
            std::env::temp_dir().join(format!("parley-{purpose}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create the state directory {}", path.display()))?;
        Ok(StateDir { path })
    }
}

impl Drop for StateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
