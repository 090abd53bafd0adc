//! What a host exchanges with the routing engine: its inputs and timers, the effects of a
//! step, and the views of a ticket or an agent.

use crate::model::{AgentMetrics, AgentPresence, AgentStatus, RoutingDecision, RoutingRequest};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// A timer the engine asks the host to keep and feed back through
/// [`RoutingEngine::handle_timer`](super::RoutingEngine::handle_timer) once `due`.
///
/// A timer that no longer matches the engine's state when it fires (the offer was answered,
/// the ticket closed, ...) is ignored, so the host may deliver a cancelled timer safely.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutingTimer {
    /// An offer not answered in time goes to the next eligible agent.
    OfferTimeout {
        /// The ticket offered.
        ticket_id: String,
        /// The agent it is offered to.
        agent_id: String,
        /// When the offer runs out.
        due: Timestamp,
    },
    /// A ticket waiting this long has its required skills relaxed.
    SkillsTimeout {
        /// The queued ticket.
        ticket_id: String,
        /// When the skills are relaxed.
        due: Timestamp,
    },
    /// A ticket waiting this long in its custom queue may go to the queue's secondary
    /// groups.
    SecondaryGroups {
        /// The queued ticket.
        ticket_id: String,
        /// When the secondary groups become eligible.
        due: Timestamp,
    },
    /// A reopened ticket whose assignee is offline goes back to the queue.
    ReturningGrace {
        /// The reopened ticket.
        ticket_id: String,
        /// Its offline assignee.
        agent_id: String,
        /// When the grace runs out.
        due: Timestamp,
    },
}

impl RoutingTimer {
    /// When the timer is due.
    pub fn due(&self) -> Timestamp {
        match self {
            RoutingTimer::OfferTimeout { due, .. }
            | RoutingTimer::SkillsTimeout { due, .. }
            | RoutingTimer::SecondaryGroups { due, .. }
            | RoutingTimer::ReturningGrace { due, .. } => *due,
        }
    }

    /// The ticket the timer is about.
    pub fn ticket_id(&self) -> &str {
        match self {
            RoutingTimer::OfferTimeout { ticket_id, .. }
            | RoutingTimer::SkillsTimeout { ticket_id, .. }
            | RoutingTimer::SecondaryGroups { ticket_id, .. }
            | RoutingTimer::ReturningGrace { ticket_id, .. } => ticket_id,
        }
    }

    /// A stable id for the timer's firing, the prefix of the ids of what it causes.
    pub fn firing_id(&self) -> String {
        match self {
            RoutingTimer::OfferTimeout {
                ticket_id,
                agent_id,
                due,
            } => {
                format!("{ticket_id}.offer_timeout.{agent_id}.{}", due.0)
            }
            RoutingTimer::SkillsTimeout { ticket_id, due } => {
                format!("{ticket_id}.skills_timeout.{}", due.0)
            }
            RoutingTimer::SecondaryGroups { ticket_id, due } => {
                format!("{ticket_id}.secondary_groups.{}", due.0)
            }
            RoutingTimer::ReturningGrace {
                ticket_id,
                agent_id,
                due,
            } => {
                format!("{ticket_id}.returning_grace.{agent_id}.{}", due.0)
            }
        }
    }
}

/// A timer to set or cancel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutingTimerCommand {
    /// Keep the timer and feed it back once due.
    Set(RoutingTimer),
    /// Drop the timer: it need not fire (if it does, it is ignored).
    Cancel(RoutingTimer),
}

/// An input the engine refused, with why, for the DLQ.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingRejection {
    /// The request or presence id.
    pub input_id: String,
    /// Why, naming the field, the value and the rule.
    pub reason: String,
}

/// The effects of one step, to be applied by the host before the next step.
#[must_use = "effects must be applied by the host"]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingEffects {
    /// Decisions, in the order they were made.
    pub decisions: Vec<RoutingDecision>,
    /// The figures of every agent and channel the step touched, by agent id then channel.
    pub agent_metrics: Vec<AgentMetrics>,
    /// Timers to set or cancel, in order.
    pub timers: Vec<RoutingTimerCommand>,
    /// Inputs refused.
    pub rejections: Vec<RoutingRejection>,
}

/// Anything the engine is stepped with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutingInput {
    /// A request from the ticket processor.
    Request(RoutingRequest),
    /// An agent's new presence.
    Presence(AgentPresence),
    /// A timer the engine set came due.
    Timer(RoutingTimer),
}

/// The entities a run of steps changed, sorted; one that no longer exists is to be deleted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dirty {
    /// Agent ids.
    pub agents: Vec<String>,
    /// Ticket ids.
    pub tickets: Vec<String>,
}

/// Where a ticket is, for hosts and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoutingTicketView {
    /// In the queue.
    Queued {
        /// Whether its skills were relaxed.
        skills_relaxed: bool,
    },
    /// Offered, waiting for the agent's answer.
    Offered {
        /// The agent.
        agent_id: String,
    },
    /// Assigned.
    Assigned {
        /// The assignee.
        agent_id: String,
        /// Whether it takes the assignee's capacity.
        consuming: bool,
        /// Whether it waits out the returning-customer grace for an offline assignee.
        in_grace: bool,
        /// Whether the conversation is inactive (it then takes no capacity).
        inactive: bool,
    },
}

/// An agent's state on one channel, for hosts and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AgentChannelView {
    /// Status.
    pub status: AgentStatus,
    /// Capacity.
    pub capacity: u32,
    /// Tickets taking capacity.
    pub load: u32,
    /// Offers pending; each reserves a unit of capacity.
    pub offered: u32,
    /// Assigned tickets that are inactive (not in `load`).
    pub inactive: u32,
    /// Why the router set the status, if it did (`missed_offers`); `None` when the status
    /// is the agent's own.
    pub status_reason: Option<&'static str>,
}
