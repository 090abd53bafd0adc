//! The processing roles (ingress, tickets, router), one per process or all in one.

use crate::options::{Connection, RoleSettings};
use crate::usage::UsageError;
use anyhow::{anyhow, Context};
use parley_core::topics::Topic;
use parley_core::StyleConfig;
use parley_ingress::stage::IngressStageConfig;
use parley_routing::RouterCodecs;
use parley_runtime::codec::{AvroCodec, AvroRecord, RegistryClient};
use parley_runtime::http::StateEndpoint;
use parley_runtime::table::{TableDeadLetters, TableStats};
use parley_runtime::{Activity, Clock, Metrics, RuntimeConfig, Shutdown, SystemClock};
use parley_tickets::sla_tables::{ScheduleRecords, SlaPolicyRecords};
use parley_tickets::{SlaReaders, StyleReader, StyleRecords, TicketCodecs};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long the start-up metadata fetch waits for the brokers.
pub(crate) const REACH_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the tickets role waits for the style table to load before it starts.
const STYLES_TIMEOUT: Duration = Duration::from_secs(30);

/// A processing role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// Raw webhooks to conversation events.
    Ingress,
    /// The ticket processor.
    Tickets,
    /// The router.
    Router,
}

impl Role {
    /// The role's name: its subcommand, default group suffix and state subdirectory.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Role::Ingress => "ingress",
            Role::Tickets => "tickets",
            Role::Router => "router",
        }
    }

    /// The changelog of the role's state; ingress keeps none.
    pub(crate) const fn changelog(self) -> Option<Topic> {
        match self {
            Role::Ingress => None,
            Role::Tickets => Some(Topic::TicketsChangelog),
            Role::Router => Some(Topic::RouterChangelog),
        }
    }
}

/// What a driver of an embedded pipeline injects into the roles and reads back from them.
#[derive(Clone, Debug)]
pub(crate) struct Hooks {
    /// The processing clock of the tickets and router hosts.
    pub(crate) clock: Arc<dyn Clock>,
    /// Whether each role serves `/metrics` (on `--metrics-addr`'s port and the next two).
    pub(crate) serve_metrics: bool,
    /// Overrides the hosts' commit interval, in milliseconds.
    pub(crate) commit_interval_ms: Option<u64>,
    /// Overrides the hosts' in-memory timer horizon, in milliseconds.
    pub(crate) timer_horizon_ms: Option<u64>,
    /// What the running roles publish.
    pub(crate) observed: Arc<Observed>,
}

impl Hooks {
    /// A process's hooks: the system clock, metrics served, defaults otherwise.
    pub(crate) fn process() -> Hooks {
        Hooks {
            clock: Arc::new(SystemClock),
            serve_metrics: true,
            commit_interval_ms: None,
            timer_horizon_ms: None,
            observed: Arc::default(),
        }
    }
}

/// What the running roles publish: each host's activity, the config tables' progress and
/// every role's metrics.
#[derive(Debug, Default)]
pub struct Observed {
    /// The tickets host's loop.
    pub tickets: Arc<Activity>,
    /// The router host's loop.
    pub router: Arc<Activity>,
    /// The tickets role's style-config reader, once started.
    pub styles: OnceLock<Arc<TableStats>>,
    /// The tickets role's schedules reader, once started.
    pub schedules: OnceLock<Arc<TableStats>>,
    /// The tickets role's sla-policies reader, once started.
    pub sla_policies: OnceLock<Arc<TableStats>>,
    /// The tickets role's metrics, once started.
    pub tickets_metrics: OnceLock<Arc<Metrics>>,
    /// The router role's metrics, once started.
    pub router_metrics: OnceLock<Arc<Metrics>>,
}

/// The client settings of `connection`.
pub(crate) fn client_config(connection: &Connection) -> ClientConfig {
    parley_runtime::clients::base(&connection.brokers, &connection.librdkafka)
}

/// Fetches the cluster's metadata once, failing with a clear message when the brokers
/// cannot be reached within [`REACH_TIMEOUT`].
pub(crate) async fn check_brokers(connection: &Connection) -> anyhow::Result<()> {
    let client = client_config(connection);
    let brokers = connection.brokers.clone();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = client
            .create()
            .map_err(|e| anyhow!("cannot reach the Kafka brokers at {brokers}: {e}"))?;
        consumer.fetch_metadata(None, REACH_TIMEOUT).map_err(|e| {
            anyhow!(
                "cannot reach the Kafka brokers at {brokers}: {e} (waited {} s for metadata)",
                REACH_TIMEOUT.as_secs()
            )
        })?;
        Ok(())
    })
    .await?
}

/// Runs `roles` until SIGINT/SIGTERM or the first failure, which stops every role.
pub(crate) async fn run(roles: &[Role], settings: RoleSettings) -> anyhow::Result<()> {
    let token = CancellationToken::new();
    let shutdown = Shutdown::new();
    {
        let token = token.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return;
            };
            tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
            tracing::info!("signal received, stopping every role");
            token.cancel();
            shutdown.trigger();
        });
    }
    run_with(roles, settings, Hooks::process(), token, shutdown).await
}

/// Runs `roles` with `hooks` until `token` and `shutdown` are raised or the first failure,
/// which raises them for every role.
pub(crate) async fn run_with(
    roles: &[Role],
    settings: RoleSettings,
    hooks: Hooks,
    token: CancellationToken,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    for role in roles {
        validate(*role, &settings)?;
    }
    check_brokers(&settings.connection).await?;
    let mut tasks = tokio::task::JoinSet::new();
    for (index, role) in roles.iter().enumerate() {
        let mut address = settings.metrics_addr;
        address.set_port(settings.metrics_addr.port().saturating_add(index as u16));
        let mut settings = settings.clone();
        settings.group_id = Some(group_id(
            *role,
            settings.group_id.as_deref(),
            roles.len() > 1,
        ));
        let (token, shutdown, role) = (token.clone(), shutdown.clone(), *role);
        let hooks = hooks.clone();
        tasks.spawn(async move {
            run_role(role, settings, address, hooks, token, shutdown)
                .await
                .with_context(|| role.name())
        });
    }
    let mut first = None;
    while let Some(result) = tasks.join_next().await {
        let result = result
            .map_err(|e| anyhow!("a role's task failed: {e}"))
            .and_then(|r| r);
        if let Err(error) = result {
            tracing::error!(error = format!("{error:#}"), "role stopped");
            if first.is_none() {
                token.cancel();
                shutdown.trigger();
                first = Some(error);
            }
        }
    }
    first.map_or(Ok(()), Err)
}

/// The role's consumer group: `parley-<role>` by default; a configured group as it is for a
/// single role, and as `<group>-<role>` when several roles share the process (each role
/// needs a group of its own).
pub(crate) fn group_id(role: Role, configured: Option<&str>, several: bool) -> String {
    match configured {
        None => format!("parley-{}", role.name()),
        Some(group) if several => format!("{group}-{}", role.name()),
        Some(group) => group.to_owned(),
    }
}

/// The consumer group that writes refused style-config records to the DLQ, beside the
/// tickets group `tickets_group`.
pub(crate) fn style_dlq_group(tickets_group: &str) -> String {
    format!("{tickets_group}-style-dlq")
}

/// The consumer group that writes refused `table` records (`schedules`, `sla-policies`) to
/// the DLQ, beside the tickets group `tickets_group`.
pub(crate) fn sla_dlq_group(tickets_group: &str, table: &str) -> String {
    format!("{tickets_group}-{table}-dlq")
}

/// The consumer group that writes refused routing-config records to the DLQ, beside the
/// router group `router_group`.
pub(crate) fn routing_config_dlq_group(router_group: &str) -> String {
    format!("{router_group}-routing-config-dlq")
}

/// The consumer group that writes refused routing-queues records to the DLQ, beside the
/// router group `router_group`.
pub(crate) fn routing_queues_dlq_group(router_group: &str) -> String {
    format!("{router_group}-routing-queues-dlq")
}

/// Checks a role's configuration before anything connects: a refused value (e.g. a
/// reserved `--librdkafka` key) is a usage error naming the setting, the value and the rule.
fn validate(role: Role, settings: &RoleSettings) -> Result<(), UsageError> {
    let result = match role {
        Role::Ingress => ingress_config(settings, settings.metrics_addr).validate(),
        Role::Tickets | Role::Router => {
            let mut config = runtime_config(role, settings, &Hooks::process());
            config.input_topics = vec![format!("{}inputs", settings.connection.topic_prefix)];
            config.validate()
        }
    };
    result.map_err(|e| UsageError(format!("{}: {e}", role.name())))
}

/// The ingress stage's configuration.
fn ingress_config(settings: &RoleSettings, metrics_addr: SocketAddr) -> IngressStageConfig {
    let mut config = IngressStageConfig::new(settings.connection.brokers.clone());
    config.group_id = group_id(Role::Ingress, settings.group_id.as_deref(), false);
    config.topic_prefix = settings.connection.topic_prefix.clone();
    config.registry_url = settings.connection.registry_url.clone();
    config.metrics_address = Some(metrics_addr);
    config.librdkafka = settings.connection.librdkafka.clone();
    config.ingress = settings.ingress.clone();
    config
}

/// The runtime configuration of a Kafka-hosted role.
fn runtime_config(role: Role, settings: &RoleSettings, hooks: &Hooks) -> RuntimeConfig {
    let prefix = &settings.connection.topic_prefix;
    RuntimeConfig {
        brokers: settings.connection.brokers.clone(),
        group_id: group_id(role, settings.group_id.as_deref(), false),
        instance_id: settings.instance_id.clone(),
        input_topics: Vec::new(),
        changelog_topic: role
            .changelog()
            .expect("only the keyed roles have a runtime")
            .with_prefix(prefix),
        dlq_topic: Topic::Dlq.with_prefix(prefix),
        state_dir: settings.state_dir.join(role.name()),
        guarantee: settings.guarantee,
        registry_url: settings.connection.registry_url.clone(),
        batch_size: parley_runtime::config::default_batch_size(),
        commit_interval_ms: (hooks.commit_interval_ms)
            .unwrap_or_else(parley_runtime::config::default_commit_interval_ms),
        timer_horizon_ms: (hooks.timer_horizon_ms)
            .unwrap_or_else(parley_runtime::config::default_timer_horizon_ms),
        metrics_address: None,
        advertised_state_address: None,
        librdkafka: settings.connection.librdkafka.clone(),
        time: Default::default(),
    }
}

/// A codec for `T` on `topic`: Confluent with a registry, single-object without.
pub(crate) async fn codec<T: AvroRecord>(
    registry: Option<&RegistryClient>,
    topic: &str,
) -> anyhow::Result<AvroCodec<T>> {
    match registry {
        None => Ok(AvroCodec::single_object()),
        Some(client) => Ok(AvroCodec::confluent(client.clone(), &format!("{topic}-value")).await?),
    }
}

/// Runs one role until `token`/`shutdown` or a failure.
async fn run_role(
    role: Role,
    settings: RoleSettings,
    metrics_addr: SocketAddr,
    hooks: Hooks,
    token: CancellationToken,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let served = hooks.serve_metrics.then_some(metrics_addr);
    let prefix = settings.connection.topic_prefix.clone();
    let registry = settings
        .connection
        .registry_url
        .as_deref()
        .map(RegistryClient::new);
    let registry = registry.as_ref();
    match role {
        Role::Ingress => {
            let mut config = ingress_config(&settings, metrics_addr);
            config.metrics_address = served;
            parley_ingress::stage::run(config, token).await?;
            Ok(())
        }
        Role::Tickets => {
            let mut runtime = runtime_config(role, &settings, &hooks);
            runtime.advertised_state_address =
                served.map(|address| settings.advertised_address(address.port()));
            let topics = parley_tickets::topics(&prefix);
            let codecs = TicketCodecs {
                conversation_events: codec(registry, &topics.conversation_events).await?,
                agent_actions: codec(registry, &topics.agent_actions).await?,
                routing_decisions: codec(registry, &topics.routing_decisions).await?,
                status_changes: codec(registry, &topics.status_changes).await?,
                ticket_metrics: codec(registry, &topics.ticket_metrics).await?,
                routing_requests: codec(registry, &topics.routing_requests).await?,
                sla_events: codec(registry, &topics.sla_events).await?,
                inactivity_reminders: codec(registry, &topics.inactivity_reminders).await?,
            };
            let style_codec: AvroCodec<StyleConfig> = codec(registry, &topics.style_config).await?;
            let schedule_codec = codec(registry, &topics.schedules).await?;
            let policy_codec = codec(registry, &topics.sla_policies).await?;
            let (schedules_topic, policies_topic) =
                (topics.schedules.clone(), topics.sla_policies.clone());
            let (runtime_group, style_topic) =
                (runtime.group_id.clone(), topics.style_config.clone());
            let (style_client, dlq_topic) =
                (client_config(&settings.connection), format!("{prefix}dlq"));
            let metrics = Arc::new(Metrics::new());
            let _ = hooks.observed.tickets_metrics.set(metrics.clone());
            let host = {
                let (metrics, hooks) = (metrics.clone(), hooks.clone());
                tokio::task::spawn_blocking(move || {
                    let reader = StyleReader::start(
                        &client_config(&settings.connection),
                        &topics.style_config,
                        StyleRecords::new(style_codec),
                        REACH_TIMEOUT,
                    )?;
                    let _ = hooks.observed.styles.set(reader.stats());
                    let sla = SlaReaders::start(
                        &client_config(&settings.connection),
                        &topics,
                        schedule_codec,
                        policy_codec,
                        REACH_TIMEOUT,
                    )?;
                    let _ = hooks.observed.schedules.set(sla.schedules.stats());
                    let _ = hooks.observed.sla_policies.set(sla.policies.stats());
                    if !reader.wait_caught_up(STYLES_TIMEOUT) {
                        return Err(anyhow!(
                            "{}: not read to its end within {} s",
                            topics.style_config,
                            STYLES_TIMEOUT.as_secs()
                        ));
                    }
                    if !sla.wait_caught_up(STYLES_TIMEOUT) {
                        return Err(anyhow!(
                            "{} and {}: not read to their end within {} s",
                            topics.schedules,
                            topics.sla_policies,
                            STYLES_TIMEOUT.as_secs()
                        ));
                    }
                    let host = parley_tickets::host_with_styles(
                        runtime,
                        &prefix,
                        codecs,
                        reader,
                        sla,
                        hooks.clock.clone(),
                        metrics,
                    )?;
                    Ok(host.with_activity(hooks.observed.tickets.clone()))
                })
                .await??
            };
            // One group over style-config writes each refused record to the DLQ once.
            let dead_letters = TableDeadLetters::start(
                &style_client,
                &style_dlq_group(&runtime_group),
                &style_topic,
                &dlq_topic,
                StyleRecords::new(codec(registry, &style_topic).await?),
            )?;
            // And one group over each SLA table.
            let schedule_dead_letters = TableDeadLetters::start(
                &style_client,
                &sla_dlq_group(&runtime_group, "schedules"),
                &schedules_topic,
                &dlq_topic,
                ScheduleRecords::new(codec(registry, &schedules_topic).await?),
            )?;
            let policy_dead_letters = TableDeadLetters::start(
                &style_client,
                &sla_dlq_group(&runtime_group, "sla-policies"),
                &policies_topic,
                &dlq_topic,
                SlaPolicyRecords::new(codec(registry, &policies_topic).await?),
            )?;
            let state =
                StateEndpoint::new(host.state_view(), Arc::new(parley_tickets::render_state));
            serve_host(served, metrics, state, move || {
                let result = host.run(shutdown);
                drop((dead_letters, schedule_dead_letters, policy_dead_letters));
                result
            })
            .await
        }
        Role::Router => {
            let mut runtime = runtime_config(role, &settings, &hooks);
            runtime.advertised_state_address =
                served.map(|address| settings.advertised_address(address.port()));
            let topics = parley_routing::topics(&prefix);
            let codecs = RouterCodecs {
                routing_requests: codec(registry, &topics.routing_requests).await?,
                agent_presence: codec(registry, &topics.agent_presence).await?,
                routing_decisions: codec(registry, &topics.routing_decisions).await?,
                agent_metrics: codec(registry, &topics.agent_metrics).await?,
                routing_config: codec(registry, &topics.routing_config).await?,
                routing_queues: codec(registry, &topics.routing_queues).await?,
            };
            // One group over each routing table writes each refused record to the DLQ once.
            let dead_letters = TableDeadLetters::start(
                &client_config(&settings.connection),
                &routing_config_dlq_group(&runtime.group_id),
                &topics.routing_config,
                &format!("{prefix}dlq"),
                parley_routing::AccountConfigs::new(
                    settings.routing.clone(),
                    codec(registry, &topics.routing_config).await?,
                ),
            )?;
            let queue_dead_letters = TableDeadLetters::start(
                &client_config(&settings.connection),
                &routing_queues_dlq_group(&runtime.group_id),
                &topics.routing_queues,
                &format!("{prefix}dlq"),
                parley_routing::QueueTable::new(codec(registry, &topics.routing_queues).await?),
            )?;
            let metrics = Arc::new(Metrics::new());
            let _ = hooks.observed.router_metrics.set(metrics.clone());
            let routing = settings.routing.clone();
            let host = {
                let metrics = metrics.clone();
                tokio::task::spawn_blocking(move || {
                    parley_routing::host(
                        runtime,
                        &prefix,
                        routing,
                        codecs,
                        hooks.clock.clone(),
                        metrics,
                    )
                    .map(|host| host.with_activity(hooks.observed.router.clone()))
                })
                .await??
            };
            let state =
                StateEndpoint::new(host.state_view(), Arc::new(parley_routing::render_state));
            serve_host(served, metrics, state, move || {
                let result = host.run(shutdown);
                drop((dead_letters, queue_dead_letters));
                result
            })
            .await
        }
    }
}

/// Serves the metrics and state endpoints on `address` (if any) while `run` runs on a
/// blocking thread.
async fn serve_host(
    address: Option<SocketAddr>,
    metrics: Arc<Metrics>,
    state: StateEndpoint,
    run: impl FnOnce() -> Result<(), parley_runtime::RuntimeError> + Send + 'static,
) -> anyhow::Result<()> {
    let server = match address {
        Some(address) => {
            let (bound, server) =
                parley_runtime::http::serve_metrics_and_state(address, metrics, state)
                    .await
                    .with_context(|| format!("--metrics-addr {address}: cannot listen"))?;
            tracing::info!(%bound, "serving /metrics, /healthz, /readyz, /state/<key>");
            Some(server)
        }
        None => None,
    };
    let result = tokio::task::spawn_blocking(run).await;
    if let Some(server) = server {
        server.abort();
    }
    result??;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_default_per_role_and_get_a_role_suffix_when_shared() {
        assert_eq!(group_id(Role::Router, None, true), "parley-router");
        assert_eq!(group_id(Role::Tickets, Some("eu"), false), "eu");
        assert_eq!(group_id(Role::Tickets, Some("eu"), true), "eu-tickets");
    }
}
