//! The Kafka stage of ingress: raw topics in, ConversationEvents and DLQ records out, at
//! least once.
//!
//! [`NormaliserStage`] is the normaliser as a runtime
//! [`StatelessProcessor`](parley_runtime::stateless::StatelessProcessor): for each raw
//! record read from `<prefix>raw.<channel>` it reads the `parley-account` header, runs the
//! [`Normaliser`], and returns each event for `<prefix>conversation-events`, key
//! `account/conversation` ([`event_key`]), value Avro (single-object encoding, or the
//! Confluent wire format when a registry is configured); or, if the record cannot be read,
//! one DLQ record for `<prefix>dlq`: the original key and bytes with the runtime's DLQ
//! headers ([`parley_runtime::dlq::headers`]): stage `ingress`, reason (the
//! [`IngressError::code`]), error (its message), source topic, partition and offset.
//! Skipped items (receipts, typing, ...) are counted, never produced.
//!
//! [`IngressStage`] runs it on Kafka in the runtime's
//! [`StatelessHost`](parley_runtime::stateless::StatelessHost), which owns the consumer
//! group, the idempotent producer, the at-least-once commits and the in-flight limit (see
//! [`parley_runtime::stateless`]), and serves `/metrics`. On `parley simulate` the same
//! processor runs as a [`StatelessStage`](parley_runtime::driver::StatelessStage) of the
//! synchronous driver. The normaliser is pure, so a replay re-emits identical events.
//!
//! [`Normaliser`]: crate::Normaliser
//! [`event_key`]: crate::event_key
//! [`IngressError::code`]: crate::IngressError::code

mod config;
mod error;
mod metrics;
mod processor;
mod run;

pub use config::{
    default_channels, default_commit_interval_ms, default_dlq_topic, default_group_id,
    default_max_in_flight, default_metrics_address, default_output_topic, default_topic_prefix,
    IngressStageConfig, RESERVED_LIBRDKAFKA_KEYS,
};
pub use error::IngressStageError;
pub use metrics::{IngressMetrics, STAGE};
pub use parley_runtime::stateless::OUTPUT_TOO_LARGE;
pub use processor::{NormaliserStage, ACCOUNT_HEADER, UNENCODABLE};
pub use run::{run, IngressStage};
