//! The simulated customers and agents: what each knows and the events they schedule.

use parley_core::rng::SeededRng;
use parley_core::*;
use std::collections::HashMap;

/// Where a customer's current episode stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// Not waiting on anything.
    Idle,
    /// The customer wrote last: the assignee replies next.
    AgentTurn,
    /// The agent replied and the customer will write back.
    CustomerTurn,
    /// The agent replied last and will solve.
    Wrapping,
    /// The agent put the ticket on hold and will come back to solve it.
    Held,
}

/// A ticket as the status changes show it.
#[derive(Clone, Debug)]
pub(super) struct Seen {
    pub(super) id: String,
    pub(super) style: Style,
    pub(super) status: Status,
    pub(super) assignee: Option<String>,
}

#[derive(Debug)]
pub(super) struct Customer {
    pub(super) account: usize,
    pub(super) channel: Channel,
    pub(super) conversation: String,
    pub(super) name: &'static str,
    pub(super) rng: SeededRng,
    pub(super) phase: Phase,
    pub(super) rounds_left: u32,
    pub(super) held: bool,
    pub(super) ticket: Option<Seen>,
    /// A status the assignee set that the status changes do not show yet.
    pub(super) in_flight: Option<Status>,
    pub(super) work_scheduled: bool,
}

#[derive(Debug)]
pub(super) struct Agent {
    pub(super) id: String,
    pub(super) account: usize,
    pub(super) online: bool,
    /// Offers the agent will answer.
    pub(super) answering: u32,
    /// Offers accepted and not yet seen assigned, by ticket, with when.
    pub(super) accepting: HashMap<String, Timestamp>,
    pub(super) rng: SeededRng,
}

/// Something a simulated person does at a simulated time.
#[derive(Debug)]
pub(super) enum Event {
    /// The customer writes a message.
    Write { customer: usize },
    /// The assignee takes the next step on the customer's ticket.
    Work { customer: usize, ticket: String },
    /// An agent answers an offer.
    Answer {
        agent: usize,
        ticket: String,
        accept: bool,
    },
    /// An agent goes offline for a break.
    Break { agent: usize },
    /// An agent comes (back) online.
    Online { agent: usize },
}
