//! The router: one [`RoutingEngine`](parley_core::routing::RoutingEngine) per account run on
//! Kafka by the `parley-runtime` host.
//!
//! - [`config`]: [`RouterTopics`] and [`topics`], the topic names under a prefix.
//! - [`accounts`]: [`AccountConfigs`], the `routing-config` topic's records as the
//!   runtime's global table, read in full by every instance into a table shared by every
//!   partition's processor: each account's settings are the process's flags with its record
//!   laid over them; the runtime's table DLQ group writes each refused record to the DLQ
//!   once.
//! - [`queues`]: [`QueueTable`], the `routing-queues` topic's records (each account's
//!   custom queues) as a second global table, read and refused the same way.
//! - [`processor`]: [`RouterProcessor`], the runtime's `KeyedProcessor` for one partition:
//!   decodes requests and presence by topic, steps the account's engine, emits decisions
//!   (key `account/conversation`) and agent metrics (key `account`), writes the agents and
//!   tickets the step changed (`account/agent/<id>`, `account/ticket/<id>`) and maps the
//!   engine's timers to runtime timers.
//! - [`render`]: [`render_state`], how the stored agents and tickets read on a running
//!   instance's `/state/<key>` endpoint (`parley inspect agent`): an agent with its load,
//!   pending offers and tickets.
//! - the start-up check that co-partitioned topics agree on partitions is
//!   [`parley_runtime::partitions::check_co_partitioned`].
//! - [`host`]: the constructor the CLI calls, and [`host_with_configs`] over the
//!   routing-config and routing-queues readers the caller started.

pub mod accounts;
pub mod config;
pub mod error;
pub mod processor;
pub mod queues;
pub mod render;

pub use accounts::{AccountConfigReader, AccountConfigs, SharedAccountConfigs};
pub use config::{topics, RouterTopics};
pub use error::RoutingError;
pub use processor::{RouterCodecs, RouterProcessor, RouterTables};
pub use queues::{QueueTable, QueueTableReader, SharedQueueTable};
pub use render::render_state;

use parley_core::routing::RoutingConfig;
use parley_runtime::{Clock, Host, Metrics, RuntimeConfig};
use std::sync::Arc;
use std::time::Duration;

/// How long start-up waits for metadata and for the routing tables to load.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The router's host, ready to `run` or `serve`.
///
/// Starts the [`AccountConfigReader`] on `<prefix>routing-config` (each account's record
/// laid over `routing`, the process's settings) and the [`QueueTableReader`] on
/// `<prefix>routing-queues`, waits until both have read their topic to its end, so the
/// first inputs are routed with their account's settings and queues, then builds the host
/// with [`host_with_configs`].
pub fn host(
    runtime: RuntimeConfig,
    prefix: &str,
    routing: RoutingConfig,
    codecs: RouterCodecs,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
) -> Result<Host<RouterProcessor>, RoutingError> {
    let names = topics(prefix);
    let configs = AccountConfigReader::start(
        &runtime.client(),
        &names.routing_config,
        AccountConfigs::new(routing, codecs.routing_config.clone()),
        STARTUP_TIMEOUT,
    )?;
    let queues = QueueTableReader::start(
        &runtime.client(),
        &names.routing_queues,
        QueueTable::new(codecs.routing_queues.clone()),
        STARTUP_TIMEOUT,
    )?;
    for (topic, caught_up) in [
        (
            names.routing_config,
            configs.wait_caught_up(STARTUP_TIMEOUT),
        ),
        (names.routing_queues, queues.wait_caught_up(STARTUP_TIMEOUT)),
    ] {
        if !caught_up {
            return Err(RoutingError::ConfigsNotLoaded {
                topic,
                seconds: STARTUP_TIMEOUT.as_secs(),
            });
        }
    }
    host_with_configs(runtime, prefix, codecs, configs, queues, clock, metrics)
}

/// The router's host over an [`AccountConfigReader`] and a [`QueueTableReader`] the caller
/// started.
///
/// Registers the readers' `parley_table_refused_total{table,reason}` on `metrics`, so
/// `/metrics` serves them with the runtime's metrics.
///
/// Sets `runtime.input_topics` to the inputs of [`topics`]`(prefix)` and checks that they
/// and the changelog have equal partition counts, refusing to start otherwise (the error
/// names each topic and its count). The reader stops when the host is dropped.
pub fn host_with_configs(
    mut runtime: RuntimeConfig,
    prefix: &str,
    codecs: RouterCodecs,
    configs: AccountConfigReader,
    queues: QueueTableReader,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
) -> Result<Host<RouterProcessor>, RoutingError> {
    configs.stats().register(metrics.registry())?;
    queues.stats().register(metrics.registry())?;
    let topics = Arc::new(topics(prefix));
    runtime.input_topics = topics.inputs();
    runtime
        .validate()
        .map_err(parley_runtime::RuntimeError::from)?;
    let mut co_partitioned = topics.inputs();
    co_partitioned.push(runtime.changelog_topic.clone());
    parley_runtime::partitions::check_co_partitioned(
        &runtime.client(),
        &co_partitioned,
        STARTUP_TIMEOUT,
    )?;
    let codecs = Arc::new(codecs);
    let factory = move |_partition: i32| {
        let tables = RouterTables {
            configs: configs.table(),
            queues: queues.table(),
        };
        RouterProcessor::new(topics.clone(), codecs.clone(), tables)
    };
    Ok(Host::new(runtime, factory, clock, metrics)?)
}
