//! One conversation's tickets through their lifecycle.

use crate::model::*;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// What a [`TicketLifecycle`] is fed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TicketInput {
    /// An end-user message.
    Message(ConversationEvent),
    /// An agent action.
    Action(AgentAction),
    /// A routing decision.
    Decision(RoutingDecision),
    /// A timer this lifecycle set came due.
    Timer(TicketTimer),
}

/// A timer a lifecycle asks the runtime to keep: the solve-to-close gap of one ticket.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TicketTimer {
    /// The ticket to close.
    pub ticket_id: String,
    /// When it is due.
    pub due: Timestamp,
}

/// A timer to set or cancel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimerCommand {
    /// Keep this timer and feed it back as [`TicketInput::Timer`] once due.
    Set(TicketTimer),
    /// Drop this timer: it must not fire.
    Cancel(TicketTimer),
}

/// An input the lifecycle refused, with why: it goes to the DLQ.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// Why, for a person reading the DLQ.
    pub reason: String,
}

/// The effects of one step, to be applied by the host before the next step.
#[must_use = "effects must be applied by the host"]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Effects {
    /// Status transitions, in order.
    pub status_changes: Vec<StatusChange>,
    /// Requests to the router, in order.
    pub routing_requests: Vec<RoutingRequest>,
    /// Ticket metrics records.
    pub ticket_metrics: Vec<TicketMetrics>,
    /// Timers to set or cancel.
    pub timers: Vec<TimerCommand>,
    /// Inputs refused, for the DLQ.
    pub rejections: Vec<Rejection>,
}

/// One conversation's tickets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketLifecycle {}
