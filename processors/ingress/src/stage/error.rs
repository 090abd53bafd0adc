//! Why the ingress stage stopped or could not start.

use parley_runtime::{ConfigError, RuntimeError};
use rdkafka::error::KafkaError;
use std::net::SocketAddr;
use thiserror::Error;

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
