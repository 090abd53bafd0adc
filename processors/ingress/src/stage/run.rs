//! [`IngressStage`]: the normaliser hosted on Kafka by the runtime's [`StatelessHost`],
//! with its `/metrics` server.

use super::config::IngressStageConfig;
use super::error::IngressStageError;
use super::metrics::{IngressMetrics, STAGE};
use super::processor::NormaliserStage;
use parley_core::ConversationEvent;
use parley_runtime::codec::{AvroCodec, RegistryClient, WireFormat};
use parley_runtime::http::StatusCode;
use parley_runtime::stateless::{StatelessConfig, StatelessHost};
use tokio_util::sync::CancellationToken;

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
#[derive(Debug)]
pub struct IngressStage {
    config: IngressStageConfig,
    host: StatelessHost<NormaliserStage>,
}

impl IngressStage {
    /// Validates `config`, registers the event schema if a registry is configured, and
    /// creates the consumer and the producer.
    pub async fn new(config: IngressStageConfig) -> Result<IngressStage, IngressStageError> {
        config.validate()?;
        let codec = match &config.registry_url {
            None => AvroCodec::single_object(),
            Some(url) => {
                let subject = format!("{}-value", config.output_topic());
                AvroCodec::<ConversationEvent>::confluent(RegistryClient::new(url), &subject)
                    .await
                    .map_err(IngressStageError::Registry)?
            }
        };
        let metrics = IngressMetrics::new();
        let runtime = metrics.runtime_shared();
        let normaliser = NormaliserStage::with_codec(&config, codec, metrics);
        let host_config = StatelessConfig {
            brokers: config.brokers.clone(),
            librdkafka: config.librdkafka.clone(),
            group_id: config.group_id.clone(),
            topics: config.raw_topics(),
            dlq_topic: config.dlq_topic(),
            stage: STAGE,
            commit_interval_ms: config.commit_interval_ms,
            max_in_flight: config.max_in_flight,
        };
        let host = StatelessHost::new(host_config, normaliser, runtime)?;
        Ok(IngressStage { config, host })
    }

    /// The stage's metrics (the same ones `/metrics` serves).
    pub fn metrics(&self) -> IngressMetrics {
        self.host.processor().metrics().clone()
    }

    /// How event values are framed: single-object, or Confluent with the registry's id.
    pub fn framing(&self) -> WireFormat {
        self.host.processor().framing()
    }

    /// Consumes until `shutdown` is cancelled or a produce fails; see [`run`].
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), IngressStageError> {
        let server = match self.config.metrics_address {
            None => None,
            Some(address) => {
                let metrics = self.metrics();
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
        tracing::info!(framing = ?self.framing(), "ingress starting");
        let result = self.host.run(shutdown).await;
        if let Some(server) = server {
            server.abort();
        }
        result.map_err(IngressStageError::from)
    }
}
