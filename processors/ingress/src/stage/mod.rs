//! The Kafka stage of ingress: raw topics in, ConversationEvents and DLQ records out, at least once.
//!
//! One [`IngressStage`] joins the consumer group `group_id` (cooperative-sticky, so any
//! number of instances share the raw partitions and a rebalance moves only what it must)
//! and reads `<prefix>raw.<channel>`. For each record it reads the `parley-account` header,
//! runs the [`Normaliser`], and produces:
//!
//! - each event to `<prefix>conversation-events`, key `account/conversation`
//!   ([`event_key`]), value Avro (single-object encoding, or the Confluent wire format when
//!   a registry is configured), timestamp the raw record's, through an idempotent producer
//!   with `partitioner=murmur2_random` (the Java client's partitioning of keyed records);
//! - or, if the record cannot be read, one DLQ record on `<prefix>dlq`: the original key and
//!   bytes with the runtime's DLQ headers ([`parley_runtime::dlq::headers`]): stage
//!   `ingress`, reason (the [`IngressError::code`]), error (its message), source topic,
//!   partition and offset.
//!
//! Skipped items (receipts, typing, ...) are counted, never produced.
//!
//! At-least-once: offsets are stored by nobody but the stage (`enable.auto.commit` and
//! `enable.auto.offset.store` off). A source offset is committed only when every record
//! produced from it, and from every earlier offset of its partition, is acknowledged by the
//! broker; commits happen every `commit_interval_ms`, before partitions are revoked, and on
//! shutdown. A record whose produce fails stops the stage with an error, its offset and the
//! later ones uncommitted, so a restart reads them again. The normaliser is pure, so a
//! replay re-emits identical events.
//!
//! [`NormaliserStage`] produces the same records for a raw record on the runtime's
//! synchronous driver, without Kafka.
//!
//! [`Normaliser`]: crate::Normaliser
//! [`event_key`]: crate::event_key
//! [`IngressError::code`]: crate::IngressError::code

mod config;
mod delivery;
mod driven;
mod error;
mod metrics;
mod progress;
mod rebalance;
mod run;
mod shared;
mod worker;

pub use config::{
    default_channels, default_commit_interval_ms, default_dlq_topic, default_group_id,
    default_max_in_flight, default_metrics_address, default_output_topic, default_topic_prefix,
    IngressStageConfig, RESERVED_LIBRDKAFKA_KEYS,
};
pub use delivery::OUTPUT_TOO_LARGE;
pub use driven::NormaliserStage;
pub use error::IngressStageError;
pub use metrics::{IngressMetrics, STAGE};
pub use run::{run, IngressStage};
pub use worker::ACCOUNT_HEADER;
