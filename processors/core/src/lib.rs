//! The parley domain, pure and synchronous.
//!
//! This crate is to parley what `quinn-proto` is to `quinn`: every rule of the product lives
//! here, and nothing here does I/O, reads a clock or knows about Kafka. Time is an argument
//! ([`Timestamp`]); effects are returned as batches for the runtime to apply.
//!
//! - [`machine`]: [`StateMachine`], the one shape of the state machines below: an input,
//!   the settings in force and `now` in, one batch of effects out.
//! - [`model`]: the records on the topics, mirroring `schemas/*.avsc`.
//! - [`lifecycle`]: [`TicketLifecycle`], one conversation's tickets through
//!   New, Open, Pending, On-hold, Solved and Closed, under a conversational style.
//! - [`style`]: the styles, their validation and the per-account [`StyleTable`].
//! - [`routing`]: the omnichannel routing engine: availability, capacity, skills and offers.
//! - [`timer_wheel`]: the hierarchical timing wheel the runtime keeps over its durable timers.
//! - [`timer_id`]: [`TimerId`](timer_id::TimerId), a processor's timer as the id of a durable
//!   timer, and the binary encodings of [`ConversationTimer`](timer_id::ConversationTimer)
//!   and [`RoutingTimer`](routing::RoutingTimer).
//! - [`sim`]: a deterministic simulation harness of the ticket side (fake clock, step until
//!   idle), and [`pipeline`]: the ticket lifecycles and the routers wired together in it.
//! - [`topics`]: the topic catalogue: every topic's name, records, key rule and cleanup
//!   policy, and [`conversation_key`](topics::conversation_key).
//! - [`sla`]: service level agreements: business-hours schedules and their arithmetic.
//! - [`ids`]: stable hashing and deterministic record ids.
//! - [`rng`]: [`SeededRng`](rng::SeededRng), the seeded random source of simulated traffic
//!   and benchmark inputs.

pub mod ids;
pub mod lifecycle;
pub mod machine;
pub mod model;
pub mod pipeline;
mod rfc3339;
pub mod rng;
pub mod routing;
pub mod sim;
pub mod sla;
pub mod style;
pub mod time;
pub mod timer_id;
pub mod timer_wheel;
pub mod topics;

pub use lifecycle::{
    TicketEffects, TicketInput, TicketLifecycle, TicketRejection, TicketTimer, TicketTimerCommand,
};
pub use machine::StateMachine;
pub use model::*;
pub use style::{StyleConfigError, StyleSettings, StyleTable};
pub use time::{Millis, Timestamp};
