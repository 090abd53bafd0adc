//! Ingress: each channel's native webhook body to parley ConversationEvents.
//!
//! A raw record (a webhook body the channel integration put on `raw.<channel>`, with its
//! Kafka timestamp and optional `parley-account` header) goes into
//! [`Normaliser::normalise`], which returns an [`Outcome`]: one [`ConversationEvent`] per
//! end-user message in the body, in order, and the [`SkipKind`] of every item that is not
//! one (receipts, typing, echoes, postbacks without text, follows). A record that cannot be
//! read returns an [`IngressError`] whose [`code`](IngressError::code) is the DLQ reason.
//! The normaliser does no I/O; [`stage`] (feature `kafka`, on by default) makes it a
//! stateless processor that the runtime's stateless host runs on Kafka, producing the
//! events (key: [`event_key`]).
//!
//! - [`config`]: [`IngressConfig`], the body size limit, the clock-skew rule and the
//!   integration map that names the account when a record has no header.
//! - [`normaliser`]: [`RawRecord`], [`Normaliser`], [`event_key`].
//! - [`outcome`]: [`Outcome`], what a record became, and [`SkipKind`].
//! - [`error`]: [`IngressError`] and its stable reason codes.
//! - [`encode`]: ConversationEvent in Avro single-object encoding (feature `kafka`: the
//!   body encoder is the runtime's).
//! - [`stage`]: the Kafka stage: [`stage::run`], [`stage::IngressStageConfig`],
//!   [`stage::IngressMetrics`]; and [`stage::NormaliserStage`], the normaliser as a runtime
//!   `StatelessProcessor`, on Kafka and on the in-memory driver (`parley simulate`) alike.
//! - `channels`: one adapter per channel; `web`, `ios` and `android` share the
//!   messaging-platform adapter. Each file's header documents the body shape it reads,
//!   where its conversation key, event id and timestamp come from, and what it skips.
//!
//! [`ConversationEvent`]: parley_core::ConversationEvent

mod channels;
pub mod config;
#[cfg(feature = "kafka")]
pub mod encode;
pub mod error;
mod json;
pub mod normaliser;
pub mod outcome;
#[cfg(feature = "kafka")]
pub mod stage;
mod timestamp;

pub use config::{AccountRef, IngressConfig};
pub use error::IngressError;
pub use normaliser::{event_key, Normaliser, RawRecord};
pub use outcome::{Outcome, SkipKind};
