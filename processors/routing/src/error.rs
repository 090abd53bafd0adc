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
    /// The routing-config table was not read to its end in time.
    #[error("routing-config topic {topic}: not read to its end within {seconds} s")]
    ConfigsNotLoaded {
        /// The topic.
        topic: String,
        /// The time allowed.
        seconds: u64,
    },
    /// The routing-config reader's metrics could not be registered (the runtime's metrics
    /// already have one).
    #[error("routing-config reader metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}
