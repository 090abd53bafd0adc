//! A synchronous in-process driver of stages wired by topic, in the manner of Kafka Streams'
//! `TopologyTestDriver`: no broker, no threads, time an argument.
//!
//! A [`Driver`] holds stages, each reading a set of topics. Every record (piped in or
//! produced by a stage) is appended to its topic's partition (murmur2 of the key, as the
//! producers of `parley run` partition) with the next offset there, and handed to every stage
//! that reads the topic, in the order the records were appended. [`Driver::step`] moves the
//! clock and runs until idle: queued records through their stages, then every timer due at
//! the clock, then the records those produced, and so on; a step that fills a batch ends with
//! each stage committing its state, as the host commits a batch.
//! The same calls give the same records, byte for byte.
//!
//! - [`topology`]: [`Driver`], the [`Stage`] trait, [`Message`] and [`Record`].
//! - [`keyed`]: [`KeyedStage`], a [`KeyedProcessor`](crate::KeyedProcessor) per partition on
//!   the host's pieces: the same record step, DLQ records, sled store and timer wheel, with
//!   every timer held in memory.
//! - [`table`]: [`TableStage`], a global table's records applied as its reader applies them,
//!   refused ones to the DLQ as its DLQ group writes them.
//! - [`stateless`]: [`StatelessStage`], a
//!   [`StatelessProcessor`](crate::stateless::StatelessProcessor)'s outputs of each record.
//!
//! What the driver does not do: transactions, rebalances, changelog topics (so no restore
//! from one), retries.

pub mod keyed;
pub mod stateless;
pub mod table;
pub mod topology;

#[cfg(test)]
mod tests;

pub use keyed::KeyedStage;
pub use stateless::StatelessStage;
pub use table::TableStage;
pub use topology::{Driver, Message, Record, Stage};
