//! What a [`TicketLifecycle`](super::TicketLifecycle) is fed and what one step returns:
//! inputs, timers, effects and rejections, and the read-only view of the current ticket.

use crate::model::*;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How many recent message, action and decision ids a conversation remembers to drop
/// duplicate deliveries. Redeliveries come within seconds, so a short window suffices and
/// keeps each conversation's state small (8 bytes an id).
pub const DEDUP_WINDOW: usize = 64;

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

/// A timer a lifecycle asks the host to keep: when to wake one ticket's lifecycle, for its
/// solve-to-close gap or its messaging-inactivity check. The lifecycle knows which from its
/// own state, so one timer at a time serves both.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TicketTimer {
    /// The ticket whose lifecycle to wake.
    pub ticket_id: String,
    /// When it is due.
    pub due: Timestamp,
}

/// A timer to set or cancel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TicketTimerCommand {
    /// Keep this timer and feed it back as [`TicketInput::Timer`] once due.
    Set(TicketTimer),
    /// Drop this timer: it must not fire.
    Cancel(TicketTimer),
}

/// Why an input was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionKind {
    /// The input names another conversation than this lifecycle's.
    WrongConversation,
    /// The conversation has no ticket that is not Closed.
    NoTicket,
    /// A routing decision about a ticket that is not the conversation's current one.
    StaleDecision,
    /// An accept or decline from an agent the ticket is not offered to.
    NoOfferToAgent,
    /// A status change by an agent who is not the ticket's assignee.
    NotAssignee,
    /// Solved on a ticket with no assignee.
    SolvedWithoutAssignee,
    /// `set_status` without a status, or with New or Closed, which only parley sets.
    StatusNotSettable,
    /// A routing decision that names no agent where one is needed.
    MissingAgent,
    /// `set_priority` without a priority.
    NoPriority,
}

impl RejectionKind {
    /// A short stable label, for the DLQ header and the metrics.
    pub const fn code(self) -> &'static str {
        match self {
            RejectionKind::WrongConversation => "wrong_conversation",
            RejectionKind::NoTicket => "no_ticket",
            RejectionKind::StaleDecision => "stale_decision",
            RejectionKind::NoOfferToAgent => "no_offer_to_agent",
            RejectionKind::NotAssignee => "not_assignee",
            RejectionKind::SolvedWithoutAssignee => "solved_without_assignee",
            RejectionKind::StatusNotSettable => "status_not_settable",
            RejectionKind::MissingAgent => "missing_agent",
            RejectionKind::NoPriority => "no_priority",
        }
    }
}

/// An input the lifecycle refused: it goes to the DLQ with this reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketRejection {
    /// What kind of refusal.
    pub kind: RejectionKind,
    /// For a person reading the DLQ: what was refused and why.
    pub detail: String,
}

impl fmt::Display for TicketRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.detail)
    }
}

/// The effects of one step, to be applied by the host before the next step.
#[must_use = "effects must be applied by the host"]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketEffects {
    /// Status transitions, in order.
    pub status_changes: Vec<StatusChange>,
    /// Requests to the router, in order.
    pub routing_requests: Vec<RoutingRequest>,
    /// Ticket metrics records.
    pub ticket_metrics: Vec<TicketMetrics>,
    /// Inactivity reminders for the channel integration to send, in order.
    pub reminders: Vec<InactivityReminder>,
    /// Timers to set or cancel.
    pub timers: Vec<TicketTimerCommand>,
    /// Inputs refused, for the DLQ.
    pub rejections: Vec<TicketRejection>,
    /// Inputs dropped as duplicate deliveries (not an error: nothing else happened).
    pub duplicates: u32,
}

impl TicketEffects {
    /// Whether the step changed nothing outside the lifecycle.
    pub fn is_empty(&self) -> bool {
        self.status_changes.is_empty()
            && self.routing_requests.is_empty()
            && self.ticket_metrics.is_empty()
            && self.reminders.is_empty()
            && self.timers.is_empty()
            && self.rejections.is_empty()
    }

    pub(super) fn reject(&mut self, kind: RejectionKind, detail: String) {
        self.rejections.push(TicketRejection { kind, detail });
    }
}

/// A read-only view of a conversation's current ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TicketView<'a> {
    /// The ticket id.
    pub id: &'a str,
    /// Its status.
    pub status: Status,
    /// Its conversational style.
    pub style: Style,
    /// Its assignee.
    pub assignee: Option<&'a str>,
    /// The agent it is offered to, awaiting an answer.
    pub offered_to: Option<&'a str>,
    /// When it closes, if Solved.
    pub close_due: Option<Timestamp>,
    /// Its routing priority, from the style configuration it was created with.
    pub priority: i32,
    /// Whether the assigned conversation is inactive (it takes no capacity).
    pub inactive: bool,
}
