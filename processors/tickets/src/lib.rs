//! The ticket processor: every conversation's [`TicketLifecycle`](parley_core::TicketLifecycle)
//! and the SLA clocks of its current ticket, run on Kafka by the `parley-runtime` host.
//!
//! - [`config`]: [`TicketTopics`] and [`topics`], the topic names under a prefix.
//! - [`processor`]: [`TicketProcessor`], the runtime's `KeyedProcessor` for one partition:
//!   decodes by topic, steps the conversation's lifecycle, emits status changes, metrics
//!   (key `account/conversation`) and routing requests (key `account`), feeds the SLA
//!   clocks and emits their events (key `account/conversation`), stores both under the
//!   record key, and keeps its lifecycle and SLA breach timers as the runtime's durable
//!   timers, one [`ConversationTimer`](parley_core::timer_id::ConversationTimer) each.
//! - [`render`]: [`render_state`], how a conversation's stored lifecycle reads on a running
//!   instance's `/state/<key>` endpoint (`parley inspect ticket`).
//! - [`styles`]: [`StyleRecords`], the `style-config` topic's records as the runtime's
//!   global table, read in full by every instance into a table shared by every partition's
//!   processor; the runtime's table DLQ group writes each refused record to the DLQ once.
//! - [`sla_tables`]: [`ScheduleRecords`](sla_tables::ScheduleRecords) and
//!   [`SlaPolicyRecords`](sla_tables::SlaPolicyRecords), the `schedules` and `sla-policies`
//!   topics' records as global tables, refusing records that break a schedule or policy
//!   rule; [`SlaReaders`] start both and [`SlaTables`] share them with the processors.
//! - the start-up check that co-partitioned topics agree on partitions is
//!   [`parley_runtime::partitions::check_co_partitioned`].
//! - [`host`]: the constructor the CLI calls.

pub mod config;
pub mod error;
pub mod processor;
pub mod render;
pub mod sla_tables;
pub mod styles;

pub use config::{topics, TicketTopics};
pub use error::TicketsError;
pub use processor::{TicketCodecs, TicketProcessor};
pub use render::render_state;
pub use sla_tables::{SlaReaders, SlaTables};
pub use styles::{SharedStyles, StyleReader, StyleRecords};

use parley_core::sla::{Schedule, SlaPolicy};
use parley_core::StyleConfig;
use parley_runtime::codec::AvroCodec;
use parley_runtime::{Clock, Host, Metrics, RuntimeConfig};
use std::sync::Arc;
use std::time::Duration;

/// How long start-up waits for metadata and for the style table to load.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The decoders of the configuration tables the ticket processor reads.
#[derive(Debug)]
pub struct ConfigCodecs {
    /// `style-config`.
    pub style_config: AvroCodec<StyleConfig>,
    /// `schedules`.
    pub schedules: AvroCodec<Schedule>,
    /// `sla-policies`.
    pub sla_policies: AvroCodec<SlaPolicy>,
}

impl ConfigCodecs {
    /// Every codec in Avro single-object encoding (no schema registry).
    pub fn single_object() -> ConfigCodecs {
        ConfigCodecs {
            style_config: AvroCodec::single_object(),
            schedules: AvroCodec::single_object(),
            sla_policies: AvroCodec::single_object(),
        }
    }
}

/// The ticket processor's host, ready to `run` or `serve`.
///
/// Starts the [`StyleReader`] on `<prefix>style-config` and the [`SlaReaders`] on
/// `<prefix>schedules` and `<prefix>sla-policies` (decoding with `config_codecs`), waits
/// until they have read their topics to the end, so the first messages get their
/// configured style and SLA policies, then builds the host with [`host_with_styles`].
pub fn host(
    runtime: RuntimeConfig,
    prefix: &str,
    codecs: TicketCodecs,
    config_codecs: ConfigCodecs,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
) -> Result<Host<TicketProcessor>, TicketsError> {
    let topics = topics(prefix);
    let client = runtime.client();
    let reader = StyleReader::start(
        &client,
        &topics.style_config,
        StyleRecords::new(config_codecs.style_config),
        STARTUP_TIMEOUT,
    )?;
    let sla = SlaReaders::start(
        &client,
        &topics,
        config_codecs.schedules,
        config_codecs.sla_policies,
        STARTUP_TIMEOUT,
    )?;
    if !reader.wait_caught_up(STARTUP_TIMEOUT) {
        return Err(TicketsError::StylesNotLoaded {
            topic: topics.style_config.clone(),
            seconds: STARTUP_TIMEOUT.as_secs(),
        });
    }
    if !sla.wait_caught_up(STARTUP_TIMEOUT) {
        return Err(TicketsError::SlaTablesNotLoaded {
            schedules: topics.schedules.clone(),
            policies: topics.sla_policies.clone(),
            seconds: STARTUP_TIMEOUT.as_secs(),
        });
    }
    host_with_styles(runtime, prefix, codecs, reader, sla, clock, metrics)
}

/// The ticket processor's host over a [`StyleReader`] and [`SlaReaders`] the caller
/// started.
///
/// Registers the readers' `parley_table_refused_total{table,reason}` (`style-config`,
/// `schedules`, `sla-policies`) on `metrics`, so `/metrics` serves them with the runtime's
/// metrics.
///
/// Sets `runtime.input_topics` to the inputs of [`topics`]`(prefix)` and checks that they
/// and the changelog have equal partition counts, refusing to start otherwise (the error
/// names each topic and its count). The reader stops when the host is dropped.
pub fn host_with_styles(
    mut runtime: RuntimeConfig,
    prefix: &str,
    codecs: TicketCodecs,
    reader: StyleReader,
    sla: SlaReaders,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
) -> Result<Host<TicketProcessor>, TicketsError> {
    reader.stats().register(metrics.registry())?;
    sla.register(metrics.registry())?;
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
        TicketProcessor::new(topics.clone(), codecs.clone(), reader.table(), sla.tables())
    };
    Ok(Host::new(runtime, factory, clock, metrics)?)
}
