//! The router: one [`RoutingEngine`](parley_core::routing::RoutingEngine) per account run on
//! Kafka by the `parley-runtime` host.
//!
//! - [`config`]: [`RouterTopics`] and [`topics`], the topic names under a prefix.
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
//! - [`host`]: the constructor the CLI calls.
//!
//! Every account is routed with the one [`RoutingConfig`] given to [`host`]; per-account
//! routing settings are not read from any topic yet.

pub mod config;
pub mod error;
pub mod processor;
pub mod render;

pub use config::{topics, RouterTopics};
pub use error::RoutingError;
pub use processor::{RouterCodecs, RouterProcessor};
pub use render::render_state;

use parley_core::routing::RoutingConfig;
use parley_runtime::{Clock, Host, Metrics, RuntimeConfig};
use rdkafka::config::ClientConfig;
use std::sync::Arc;
use std::time::Duration;

/// How long start-up waits for metadata.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The router's host, ready to `run` or `serve`.
///
/// Sets `runtime.input_topics` to the inputs of [`topics`]`(prefix)` and checks that they
/// and the changelog have equal partition counts, refusing to start otherwise (the error
/// names each topic and its count).
pub fn host(
    mut runtime: RuntimeConfig,
    prefix: &str,
    routing: RoutingConfig,
    codecs: RouterCodecs,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
) -> Result<Host<RouterProcessor>, RoutingError> {
    let topics = Arc::new(topics(prefix));
    runtime.input_topics = topics.inputs();
    runtime
        .validate()
        .map_err(parley_runtime::RuntimeError::from)?;
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", &runtime.brokers);
    for (key, value) in &runtime.librdkafka {
        client.set(key, value);
    }
    let mut co_partitioned = topics.inputs();
    co_partitioned.push(runtime.changelog_topic.clone());
    parley_runtime::partitions::check_co_partitioned(&client, &co_partitioned, STARTUP_TIMEOUT)?;
    let codecs = Arc::new(codecs);
    let factory = move |_partition: i32| {
        RouterProcessor::new(topics.clone(), codecs.clone(), routing.clone())
    };
    Ok(Host::new(runtime, factory, clock, metrics)?)
}
