//! The runtime's errors, one variant per thing that failed.

use thiserror::Error;

/// A config that cannot be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The text is not a config (syntax, unknown field, wrong type).
    #[error("{0}")]
    Parse(String),
    /// A field breaks its rule.
    #[error("{field} = {value}: {rule}")]
    Invalid {
        /// The field's name.
        field: String,
        /// The value found, debug-formatted.
        value: String,
        /// The rule it breaks.
        rule: String,
    },
}

/// A failure of the runtime. Retrying helps where the variant says so.
#[derive(Debug, Error)]
pub enum RuntimeError {
    /// The config is invalid; fix it, retrying does not help.
    #[error("invalid config: {0}")]
    Config(#[from] ConfigError),
    /// A topic the processor needs does not exist or has no partitions; create it (see
    /// `parley topics create`), retrying does not help.
    #[error("topic {topic}: {reason}")]
    MissingTopic {
        /// The topic.
        topic: String,
        /// What the broker said.
        reason: String,
    },
    /// Co-partitioned topics have different partition counts; retrying does not help.
    #[error("co-partitioned topics must have equal partition counts, found {counts}")]
    NotCoPartitioned {
        /// Every topic with its count, `topic = n, ...`.
        counts: String,
    },
    /// Kafka refused or failed an operation; usually transient.
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// The local state store failed; the runtime rebuilds it from the changelog on restart.
    #[error("state store: {0}")]
    State(#[from] sled::Error),
    /// Restore read nothing from a changelog partition for too long (the brokers stopped
    /// answering); retrying helps.
    #[error("changelog partition {partition}: no progress for {seconds} s while restoring from offset {offset}")]
    RestoreStalled {
        /// The changelog partition.
        partition: i32,
        /// Where the replay started.
        offset: i64,
        /// How long nothing came.
        seconds: u64,
    },
    /// A changelog record cannot be read; the changelog topic holds foreign data.
    #[error("changelog partition {partition} offset {offset}: {reason}")]
    Changelog {
        /// The changelog partition.
        partition: i32,
        /// The offset of the bad record.
        offset: i64,
        /// What is wrong with it.
        reason: String,
    },
    /// Produced records were not acknowledged; the batch is not committed.
    #[error("produce failed: {0}")]
    Produce(String),
    /// The processor could not rebuild its state from a stored entry.
    #[error("restore of partition {partition}: {reason}")]
    Restore {
        /// The partition being restored.
        partition: i32,
        /// The processor's reason.
        reason: String,
    },
    /// The schema registry failed or answered something unexpected.
    #[error("schema registry: {0}")]
    Registry(String),
    /// An I/O error (metrics server, state directory).
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// Why a value could not be encoded or decoded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CodecError {
    /// The bytes do not start with the expected header.
    #[error("bad header: {0}")]
    Header(String),
    /// The writer schema is not known (fingerprint or registry id).
    #[error("unknown writer schema: {0}")]
    UnknownSchema(String),
    /// The Avro body does not match the schema or the Rust type.
    #[error("avro: {0}")]
    Avro(String),
}
