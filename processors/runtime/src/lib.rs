//! The host that runs parley's sans-IO core processors on Kafka (rdkafka + sled).
//!
//! This crate is to `parley-core` what `quinn` is to `quinn-proto`: a core state machine
//! sits behind [`KeyedProcessor`] (decode, handle an input, handle a timer, restore state
//! entries) and returns its effects as data; the runtime owns Kafka, sled, time and failure.
//!
//! Running one: build a [`RuntimeConfig`], then
//! `Host::new(config, |partition| MyProcessor::new(..), Arc::new(SystemClock), metrics)?`
//! and `host.serve().await` (metrics endpoint, SIGINT/SIGTERM) or `host.run(shutdown)` on a
//! thread of its own. Every batch ends with a seal in the changelog; see the crate README for
//! what `exactly_once` and `at_least_once` promise and how restore uses the seals.
//!
//! - [`config`]: [`RuntimeConfig`], validated with errors that name field, value and rule.
//! - [`processor`]: the [`KeyedProcessor`] trait and its [`Effects`] (outputs, state writes,
//!   timer commands). A processor's timers are its own type, a [`TimerId`] (the trait lives
//!   in `parley_core::timer_id`, beside the encodings of the core's timers).
//! - [`codec`]: Avro codecs for `parley_core::model`, Confluent framing or single-object.
//! - [`dlq`]: dead-letter records with stage, reason, error and source headers.
//! - [`metrics`] and [`http`]: Prometheus metrics served on `/metrics`, and the read-only
//!   `/state/<key>` endpoint over a host's [`state::StateView`].
//! - [`host`]: [`Host`], the consumer loop, rebalance coordinator and batch commit.
//! - [`stateless`]: [`stateless::StatelessHost`], a [`stateless::StatelessProcessor`]
//!   (each record in, records out; ingress's normaliser) on Kafka, at least once.
//! - [`state`]: the sled store, the changelog with its batch seals, restore, the applier.
//! - [`table`]: global tables: a compacted config topic read in full by every instance,
//!   its refused records sent to the DLQ once.
//! - [`timers`]: durable timer keys and the in-memory wheel.
//! - [`driver`]: [`driver::Driver`], stages wired by topic and stepped synchronously on a
//!   clock given as an argument, no broker (`parley simulate`); [`driver::KeyedStage`] runs a
//!   [`KeyedProcessor`] there with the host's record step, DLQ records, sled and timers;
//!   [`driver::StatelessStage`] a [`stateless::StatelessProcessor`].
//! - [`lag`]: consumer lag of every partition of a group's inputs, owned or not.
//! - [`owners`]: which group member owns a key's partition, and the `/state` address it
//!   advertises in its client id.
//! - [`activity`]: what a running host is doing, for drivers of a manual clock.
//! - [`clock`]: the injected clock ([`SystemClock`], [`ManualClock`]).
//! - [`error`]: the error types.

pub mod activity;
pub mod clients;
pub mod clock;
pub mod codec;
pub mod config;
pub mod dlq;
pub mod driver;
pub mod error;
pub mod host;
pub mod http;
pub mod lag;
pub mod metrics;
pub mod owners;
pub mod partitions;
pub mod processor;
pub mod state;
pub mod stateless;
mod step;
pub mod table;
pub mod timers;

pub use activity::Activity;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{Guarantee, RuntimeConfig, TimeConfig, TimeSource};
pub use error::{CodecError, ConfigError, RuntimeError};
pub use host::{Host, Shutdown};
pub use metrics::Metrics;
pub use parley_core::timer_id::{TimerDecodeError, TimerId};
pub use processor::{
    DecodeError, Effects, InputRecord, KeyedProcessor, Output, Rejection, RestoreError, StateWrite,
    TimerCommand,
};
