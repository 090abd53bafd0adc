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
    /// A thread of the runtime could not be started (the table reader or DLQ group named).
    #[error("{0} thread: {1}")]
    Thread(&'static str, std::io::Error),
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
    /// A transaction on a topic partition stayed open for too long: its last stable offset
    /// (where a `read_committed` reader stops) stayed behind its end. Another writer is still
    /// running, or a killed one's transaction has not timed out yet; retrying later helps.
    #[error(
        "{topic} partition {partition}: a transaction stayed open for {seconds} s (readable to \
         offset {stable}, written to {end}); stop every instance writing to it, or wait for the \
         transaction timeout, and try again"
    )]
    OpenTransaction {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// Its last stable offset.
        stable: i64,
        /// Its high watermark.
        end: i64,
        /// How long it was waited for.
        seconds: u64,
    },
    /// A restore was stopped because its partition was revoked or the host is stopping;
    /// never the host's outcome, only a job's.
    #[error("restore of partition {partition} cancelled")]
    RestoreCancelled {
        /// The partition whose restore stopped.
        partition: i32,
    },
    /// The restore thread is gone (it panicked; the log says why).
    #[error("the restore thread stopped")]
    RestoreThread,
    /// The consumer group moved on without this instance (its session or poll interval ran
    /// out, for example while the process was frozen), and another member owns its
    /// partitions: the open batch is aborted. Retrying helps: the host rejoins the group.
    #[error("fenced out of the consumer group: {0}")]
    Fenced(String),
    /// A rescale found a state or timer key whose record key the processor cannot name, so
    /// its partition under the new count is unknown; nothing was written, retrying does not
    /// help.
    #[error(
        "changelog {topic} partition {partition}: {reason}; a key's partition under the new \
         count comes from its record key, so the rescale cannot place it (nothing was written)"
    )]
    RescaleKey {
        /// The changelog topic.
        topic: String,
        /// The changelog partition holding the key.
        partition: i32,
        /// Which key, and why.
        reason: String,
    },
    /// A changelog record cannot be read; the changelog topic holds foreign data.
    #[error(
        "changelog {topic} partition {partition} offset {offset}: {reason}; parley cannot \
         restore this partition past it. The record was not written by parley: find and stop \
         whatever else writes to {topic}, then either delete the partition's records up to \
         offset {offset} + 1 (kafka-delete-records; the state before them is lost with them) \
         or give the processor a changelog of its own (a new --topic-prefix) to rebuild"
    )]
    Changelog {
        /// The changelog topic.
        topic: String,
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
    /// Produced records were still unacknowledged when the shutdown flush timed out; their
    /// source offsets were not committed.
    #[error("{0} produced records were still unacknowledged after the shutdown flush")]
    Unflushed(usize),
    /// The processor could not rebuild its state from a stored entry.
    #[error("restore of partition {partition}: {reason}")]
    Restore {
        /// The partition being restored.
        partition: i32,
        /// The processor's reason.
        reason: crate::processor::RestoreError,
    },
    /// Writing committed batches into sled failed; the changelog has them, so a restart
    /// restores them.
    #[error("sled apply: {0}")]
    Apply(String),
    /// The schema registry failed or answered something unexpected.
    #[error("schema registry: {0}")]
    Registry(String),
    /// An I/O error (metrics server, state directory).
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

impl RuntimeError {
    /// Whether starting the host again repairs the failure: Kafka failed or refused an
    /// operation (brokers unreachable, a transaction that must be aborted, deliveries that
    /// timed out) or the group moved on. The host then drops its clients and in-memory state
    /// and restores from the last committed batch, as a new process would. A bad config,
    /// missing topics, a broken state store or foreign changelog data need a person.
    pub fn is_transient(&self) -> bool {
        use rdkafka::error::KafkaError;
        match self {
            RuntimeError::Kafka(KafkaError::ClientCreation(_) | KafkaError::ClientConfig(..)) => {
                false
            }
            RuntimeError::Kafka(_)
            | RuntimeError::Produce(_)
            | RuntimeError::Unflushed(_)
            | RuntimeError::RestoreStalled { .. }
            | RuntimeError::OpenTransaction { .. }
            | RuntimeError::RestoreCancelled { .. }
            | RuntimeError::Fenced(_) => true,
            RuntimeError::Config(_)
            | RuntimeError::MissingTopic { .. }
            | RuntimeError::NotCoPartitioned { .. }
            | RuntimeError::State(_)
            | RuntimeError::Changelog { .. }
            | RuntimeError::RescaleKey { .. }
            | RuntimeError::Restore { .. }
            | RuntimeError::RestoreThread
            | RuntimeError::Apply(_)
            | RuntimeError::Registry(_)
            | RuntimeError::Io(_)
            | RuntimeError::Thread(..) => false,
        }
    }
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
