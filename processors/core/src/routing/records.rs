//! The durable facts of one agent and one ticket, for persisting the engine entity by
//! entity. Indexes (pools, queues, loads) are not stored: they are rebuilt from these.

use super::queues::QueuePlacement;
use crate::model::{AgentStatus, Channel};
use crate::time::{Millis, Timestamp};
use serde::{Deserialize, Serialize};

/// An agent's running figures on one channel.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelCounters {
    /// Offers made to the agent (auto-accepted ones included).
    pub offers_made: u64,
    /// Offers accepted (auto-accepted ones included).
    pub offers_accepted: u64,
    /// Offers declined.
    pub offers_declined: u64,
    /// Offers that timed out.
    pub offers_timed_out: u64,
    /// Tickets assigned to the agent, by routing or by hand.
    pub assignments: u64,
    /// Time online, up to the last status change.
    pub online_ms: Millis,
    /// Time away, up to the last status change.
    pub away_ms: Millis,
    /// Time transfers-only, up to the last status change.
    pub transfers_only_ms: Millis,
    /// Time offline, up to the last status change.
    pub offline_ms: Millis,
}

/// An agent's state on one channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentChannelRecord {
    /// The channel.
    pub channel: Channel,
    /// The agent's status on it.
    pub status: AgentStatus,
    /// How many tickets of the channel the agent takes at once.
    pub capacity: u32,
    /// Since when the agent has had this status.
    pub status_since: Timestamp,
    /// Running figures.
    pub counters: ChannelCounters,
    /// Offers on the channel that timed out since the agent last answered one.
    #[serde(default)]
    pub offer_timeouts_in_row: u32,
    /// Whether the status is `away` because the router set it after too many offer
    /// timeouts in a row (not by the agent's presence).
    #[serde(default)]
    pub away_for_missed_offers: bool,
}

/// The durable facts of one agent: its last presence and its figures. Load and pending
/// offers are not here: they follow from the tickets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRecord {
    /// The agent.
    pub agent_id: String,
    /// Per channel, in channel order.
    pub channels: Vec<AgentChannelRecord>,
    /// Skills, sorted.
    pub skills: Vec<String>,
    /// Groups, sorted.
    pub groups: Vec<String>,
    /// The engine's assignment sequence number at the agent's last assignment (0: never).
    pub last_assigned_seq: u64,
}

/// Where a ticket is in routing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketRecordState {
    /// Waiting in the queue.
    Queued,
    /// Offered to an agent until `due`.
    Offered {
        /// The agent.
        agent_id: String,
        /// When the offer times out.
        due: Timestamp,
    },
    /// Assigned to an agent.
    Assigned {
        /// The assignee.
        agent_id: String,
        /// Whether it takes the assignee's capacity (New or Open).
        consuming: bool,
        /// When the returning-customer grace runs out, if the ticket waits for an offline
        /// assignee.
        grace_due: Option<Timestamp>,
        /// Whether the conversation is inactive (it then takes no capacity).
        #[serde(default)]
        inactive: bool,
    },
}

/// The durable facts of one ticket the router knows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketRecord {
    /// The ticket.
    pub ticket_id: String,
    /// The tenant.
    pub account: String,
    /// The conversation.
    pub conversation: String,
    /// The ticket's channel.
    pub channel: Channel,
    /// Routing priority; higher goes first.
    pub priority: i32,
    /// Skills the assignee needs, sorted.
    pub required_skills: Vec<String>,
    /// The group that may take it.
    pub group: Option<String>,
    /// Creation time: the queue's age order.
    pub created_at: Timestamp,
    /// When its next SLA target runs out, as its latest request said: the queue's order
    /// in an account routed by SLA.
    #[serde(default)]
    pub sla_breach_at: Option<Timestamp>,
    /// When it was first queued in its current routing episode.
    pub queued_since: Option<Timestamp>,
    /// Whether its required skills have been relaxed.
    pub skills_relaxed: bool,
    /// When its skills timeout fires, if pending.
    pub skills_due: Option<Timestamp>,
    /// The custom queue it matched; `None` for the standard queue.
    #[serde(default)]
    pub queue: Option<QueuePlacement>,
    /// Whether its queue's secondary groups may take it.
    #[serde(default)]
    pub secondary_open: bool,
    /// When its queue's secondary groups become eligible, if pending.
    #[serde(default)]
    pub secondary_due: Option<Timestamp>,
    /// Where it is.
    pub state: TicketRecordState,
    /// Agents who declined it or let its offer time out, oldest first.
    pub declined_by: Vec<String>,
}
