//! Stateless processors on Kafka: each record in becomes zero or more records out, at
//! least once.
//!
//! A [`StatelessProcessor`] (ingress's normaliser, for one) holds no state and sets no
//! timers; it turns each input record into [`Output`](crate::Output)s, a record it cannot
//! read into a DLQ record of its own making ([`dead_letter`](crate::dlq::dead_letter)).
//! [`StatelessHost`] runs one on Kafka: it joins a consumer group (cooperative-sticky, so
//! any number of instances share the partitions and a rebalance moves only what it must),
//! hands each record to the processor and produces what comes back through an idempotent
//! producer (`murmur2_random`, the Java client's partitioning of keyed records), each
//! output stamped with its input's timestamp. An output the producer refuses for its size
//! becomes a DLQ record of its input, reason [`OUTPUT_TOO_LARGE`]; a DLQ record too large
//! in turn goes without its value, its headers still naming the source.
//!
//! At-least-once: offsets are stored by nobody but the host (`enable.auto.commit` and
//! `enable.auto.offset.store` off). A source offset is committed only when every record
//! produced from it, and from every earlier offset of its partition, is acknowledged by the
//! broker; commits happen every `commit_interval_ms`, before partitions are revoked, and on
//! shutdown. A record whose produce fails stops the host with an error, its offset and the
//! later ones uncommitted, so a restart reads them again. At most `max_in_flight` records
//! wait for their acknowledgement: the host stops reading while they do.
//!
//! [`StatelessStage`](crate::driver::StatelessStage) runs the same processor on the
//! synchronous driver, without Kafka.

mod delivery;
mod host;
mod processor;
mod progress;
mod rebalance;
mod shared;

pub use delivery::OUTPUT_TOO_LARGE;
pub use host::{StatelessConfig, StatelessHost};
pub use processor::{Headers, StatelessProcessor};
