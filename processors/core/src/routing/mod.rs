//! The omnichannel routing engine: availability, capacity, skills, offers and the queue.
//!
//! [`RoutingEngine`] is one account's router. It is sans-IO: it takes a
//! [`RoutingRequest`](crate::model::RoutingRequest), an
//! [`AgentPresence`](crate::model::AgentPresence) or a fired [`RoutingTimer`] with `now`,
//! and returns a [`RoutingEffects`] batch (decisions, agent metrics, timers to set or
//! cancel, rejections). The parts:
//!
//! - [`RoutingQueue`]: routable tickets by routing class, in queue priority, then ticket
//!   priority and age ([`QueueOrder::Priority`]) or time to the next SLA breach first
//!   ([`QueueOrder::Sla`]).
//! - [`QueueRules`]: an account's custom queues ([`QueueDefinition`]), which place a new
//!   ticket in the first queue it matches, with primary and secondary groups.
//! - [`AgentIndex`]: agents, and per routing class the eligible agents ranked by free
//!   capacity and time since their last assignment, so one choice is a B-tree lookup.
//! - [`CapacityLedger`]: which ticket holds which agent's capacity.
//! - [`RoutingConfig`]: the per-account settings.
//! - [`AgentRecord`] and [`TicketRecord`]: the durable facts, for entity-by-entity persistence.
//!
//! The engine's code, by concern:
//!
//! - `engine`: [`RoutingEngine`], its calling contract and rules, its step and the three
//!   handlers it dispatches to (requests, presence, timers), and its views.
//! - `requests`: each kind of [`RoutingRequest`](crate::model::RoutingRequest).
//! - `queueing`: a ticket created, queued, moved to another routing class, taken out and
//!   forgotten; `reorder`: a queued ticket kept in its place.
//! - `offers`: matching queued tickets with agents, offers made, withdrawn and timed out.
//! - `assignment`: assignments, capacity released, inactivity, the returning-customer grace.
//! - `ticket`: a ticket as the router holds it; `step`: one step's working state and the
//!   agent metrics that close it.
//! - `snapshot`: persistence (dirty entities, records, restore); `audit`: a self-check for
//!   tests.

mod agents;
mod assignment;
mod config;
mod engine;
mod fast_map;
mod ledger;
mod offers;
mod queue;
mod queueing;
mod queues;
mod records;
mod reorder;
mod requests;
mod snapshot;
mod step;
mod ticket;
mod types;

#[cfg(test)]
mod audit;
#[cfg(test)]
mod order_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod scenarios;
#[cfg(test)]
mod tests;

pub use agents::{AgentIndex, MISSED_OFFERS};
pub use config::{QueueOrder, RoutingConfig, RoutingConfigError, RoutingMode};
pub use engine::RoutingEngine;
pub use ledger::CapacityLedger;
pub use queue::RoutingQueue;
pub use queues::{
    QueueConditions, QueueDefinition, QueueError, QueuePlacement, QueueRules,
    STANDARD_QUEUE_PRIORITY,
};
pub use records::{
    AgentChannelRecord, AgentRecord, ChannelCounters, TicketRecord, TicketRecordState,
};
pub use types::{
    AgentChannelView, Dirty, RoutingEffects, RoutingInput, RoutingRejection, RoutingTicketView,
    RoutingTimer, RoutingTimerCommand,
};
