//! The router's start-up errors.

use thiserror::Error;

/// Why the router cannot start.
#[derive(Debug, Error)]
pub enum RoutingError {
    /// The runtime refused its configuration or failed to start.
    #[error(transparent)]
    Runtime(#[from] parley_runtime::RuntimeError),
    /// Kafka could not be reached or refused a request.
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
}
