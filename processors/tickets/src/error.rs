//! The ticket processor's start-up errors.

use thiserror::Error;

/// Why the ticket processor cannot start.
#[derive(Debug, Error)]
pub enum TicketsError {
    /// The runtime refused its configuration or failed to start.
    #[error(transparent)]
    Runtime(#[from] parley_runtime::RuntimeError),
    /// Kafka could not be reached or refused a request.
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// A topic the processor needs does not exist or has no partitions.
    #[error("topic {topic}: {reason}")]
    MissingTopic {
        /// The topic.
        topic: String,
        /// What the broker said.
        reason: String,
    },
    /// The style-config table was not read to its end in time.
    #[error("style-config topic {topic}: not read to its end within {seconds} s")]
    StylesNotLoaded {
        /// The topic.
        topic: String,
        /// The time allowed.
        seconds: u64,
    },
    /// The schedules or sla-policies table was not read to its end in time.
    #[error("topics {schedules} and {policies}: not read to their end within {seconds} s")]
    SlaTablesNotLoaded {
        /// The schedules topic.
        schedules: String,
        /// The sla-policies topic.
        policies: String,
        /// The time allowed.
        seconds: u64,
    },
    /// The style reader's metrics could not be registered (the runtime's metrics already
    /// have a style reader's).
    #[error("style reader metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}
