//! Why the ingress stage stopped or could not start.

use parley_runtime::{ConfigError, RuntimeError};
use std::net::SocketAddr;
use thiserror::Error;

/// Why the stage stopped or could not start.
#[derive(Debug, Error)]
pub enum IngressStageError {
    /// The config is invalid; fix it, retrying does not help.
    #[error("invalid config: {0}")]
    Config(#[from] ConfigError),
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
    /// The host stopped: a produce failed (its source offset and every later one of that
    /// partition stay uncommitted, so a restart reads them again), records were still
    /// unacknowledged after the shutdown flush, or Kafka refused an operation.
    #[error(transparent)]
    Host(#[from] RuntimeError),
}
