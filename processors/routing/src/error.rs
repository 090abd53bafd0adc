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
    /// A topic the router needs does not exist or has no partitions.
    #[error("topic {topic}: {reason}")]
    MissingTopic {
        /// The topic.
        topic: String,
        /// What the broker said.
        reason: String,
    },
    /// Co-partitioned topics have different partition counts.
    #[error("co-partitioned topics must have equal partition counts, found {counts}")]
    NotCoPartitioned {
        /// Every topic with its count, `topic = n, ...`.
        counts: String,
    },
}
