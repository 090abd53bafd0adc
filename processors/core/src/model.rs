//! The records parley reads and writes on Kafka, mirroring `schemas/*.avsc` field for field.
//!
//! Enum symbols are `snake_case` in both places. A test in `tests/schemas.rs` round-trips a
//! value of every record through Apache Avro with its schema file, so the two cannot drift.

use crate::ids::{shared_str, RecordId};
use crate::sla::SlaMetricOutcome;
use crate::time::{Millis, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// A messaging channel a conversation runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The Web Widget.
    Web,
    /// The iOS SDK.
    Ios,
    /// The Android SDK.
    Android,
    /// WhatsApp Business (Cloud API).
    Whatsapp,
    /// Facebook Messenger.
    Messenger,
    /// Instagram Direct.
    Instagram,
    /// LINE.
    Line,
    /// Telegram.
    Telegram,
    /// Viber.
    Viber,
    /// X (Twitter) direct messages.
    X,
    /// WeChat official accounts.
    Wechat,
}

impl Channel {
    /// Every channel, in schema order.
    pub const ALL: [Channel; 11] = [
        Channel::Web,
        Channel::Ios,
        Channel::Android,
        Channel::Whatsapp,
        Channel::Messenger,
        Channel::Instagram,
        Channel::Line,
        Channel::Telegram,
        Channel::Viber,
        Channel::X,
        Channel::Wechat,
    ];

    /// The schema symbol, as used in topic names (`raw.whatsapp`) and keys.
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Ios => "ios",
            Channel::Android => "android",
            Channel::Whatsapp => "whatsapp",
            Channel::Messenger => "messenger",
            Channel::Instagram => "instagram",
            Channel::Line => "line",
            Channel::Telegram => "telegram",
            Channel::Viber => "viber",
            Channel::X => "x",
            Channel::Wechat => "wechat",
        }
    }

    /// Parses a schema symbol.
    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A ticket status. `New -> Open -> {Pending, OnHold, Solved} -> Closed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Created, waiting for an agent.
    New,
    /// Assigned and being worked on.
    Open,
    /// Waiting on the end user.
    Pending,
    /// Waiting on a third party.
    OnHold,
    /// Resolved; closes after the style's solve-to-close gap unless the end user returns.
    Solved,
    /// Final.
    Closed,
}

impl Status {
    /// The schema symbol.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Open => "open",
            Status::Pending => "pending",
            Status::OnHold => "on_hold",
            Status::Solved => "solved",
            Status::Closed => "closed",
        }
    }

    /// Whether a ticket in this status takes its assignee's capacity.
    pub const fn consumes_capacity(self) -> bool {
        matches!(self, Status::New | Status::Open)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A conversational style: how a ticket ends and whether a returning end user reopens it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Style {
    /// Closed the moment it is solved; a returning end user gets a new ticket.
    LiveChat,
    /// Closed a short gap after Solved; a message within the gap reopens the same ticket.
    LiveChatReturning,
    /// Long-running; closed days after Solved (default 4, at most 28).
    SocialMessaging,
}

impl Style {
    /// The schema symbol.
    pub const fn as_str(self) -> &'static str {
        match self {
            Style::LiveChat => "live_chat",
            Style::LiveChatReturning => "live_chat_returning",
            Style::SocialMessaging => "social_messaging",
        }
    }

    /// Parses a schema symbol.
    pub fn parse(s: &str) -> Option<Style> {
        [
            Style::LiveChat,
            Style::LiveChatReturning,
            Style::SocialMessaging,
        ]
        .into_iter()
        .find(|style| style.as_str() == s)
    }
}

impl fmt::Display for Style {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who caused a status change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// The end user, by writing.
    EndUser,
    /// An agent (`actor_id` names them).
    Agent,
    /// The router, by assigning or unassigning.
    Routing,
    /// A timer: the solve-to-close gap ran out (or is zero, for live chat).
    Timer,
}

/// An agent's availability on one channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    /// Takes new work.
    Online,
    /// Signed in, takes no new work.
    Away,
    /// Takes only tickets transferred to them by name, never routed ones.
    TransfersOnly,
    /// Signed out.
    Offline,
}

/// What kind of media an end-user message carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    /// A picture.
    Image,
    /// A video clip.
    Video,
    /// A voice note or audio file.
    Audio,
    /// Any other file.
    File,
    /// A shared location.
    Location,
    /// A sticker.
    Sticker,
    /// A contact card.
    Contact,
    /// Anything else.
    Other,
}

/// One attachment of an end-user message. The media itself stays with the channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// What kind of media it is.
    pub kind: AttachmentKind,
    /// The channel's media id or URL, to fetch it from the channel.
    pub reference: Option<String>,
}

/// A channel-specific id needed to reply on the channel (a LINE reply token, a WhatsApp
/// phone number id, a Telegram chat id, ...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyHandle {
    /// What the id is, in the channel's own words (`reply_token`, `phone_number_id`).
    pub name: String,
    /// The id.
    pub value: String,
}

/// An end-user message, normalised from a channel webhook by ingress.
/// Key: `account/conversation`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationEvent {
    /// The channel's message id; duplicate deliveries share it.
    pub event_id: String,
    /// The tenant.
    pub account: String,
    /// The brand of the account the channel integration belongs to, if any.
    pub brand: Option<String>,
    /// The conversation: the channel's own user or thread id.
    pub conversation: String,
    /// The channel the message came in on.
    pub channel: Channel,
    /// When the end user sent it, by the channel's clock.
    pub sent_at: Timestamp,
    /// When parley received the webhook (the raw record's timestamp).
    pub received_at: Timestamp,
    /// The message text, if it has one.
    pub text: Option<String>,
    /// Media the message carries.
    pub attachments: Vec<Attachment>,
    /// The end user's display name, where the channel gives it.
    pub author_name: Option<String>,
    /// Channel-specific ids needed to reply.
    pub reply_handles: Vec<ReplyHandle>,
}

/// What an agent did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentActionKind {
    /// Accepts the offer made to them.
    Accept,
    /// Declines the offer made to them.
    Decline,
    /// Sends a message to the end user.
    Reply,
    /// Sets the ticket's status (`status` says which).
    SetStatus,
    /// Assigns the ticket by hand to the agent named in `agent_id`.
    Assign,
    /// Sets the ticket's routing priority (`priority` says which).
    SetPriority,
}

/// An action from the agent workspace on a conversation's current ticket.
/// Key: `account/conversation`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentAction {
    /// Unique id of the action; duplicates share it.
    pub action_id: String,
    /// The tenant.
    pub account: String,
    /// The conversation whose current ticket is acted on.
    pub conversation: String,
    /// The agent acting (for `assign`, the new assignee).
    pub agent_id: String,
    /// What the agent did.
    pub kind: AgentActionKind,
    /// The status set, for `set_status`.
    pub status: Option<Status>,
    /// The routing priority set, for `set_priority`: higher goes first; as an SLA priority,
    /// below 0 is low, 0 normal, 1 high, 2 and above urgent.
    #[serde(default)]
    pub priority: Option<i32>,
    /// When the agent did it.
    pub at: Timestamp,
}

/// An agent's presence on one channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelPresence {
    /// The channel.
    pub channel: Channel,
    /// The agent's status on it.
    pub status: AgentStatus,
    /// How many tickets of this channel the agent takes at once.
    pub capacity: u32,
}

/// An agent's whole routing profile; each record replaces the previous one.
/// Key: `account`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentPresence {
    /// Unique id of this update.
    pub presence_id: String,
    /// The tenant.
    pub account: String,
    /// The agent.
    pub agent_id: String,
    /// Status and capacity per channel; a channel not listed is offline with no capacity.
    pub channels: Vec<ChannelPresence>,
    /// The agent's skills.
    pub skills: Vec<String>,
    /// The groups the agent belongs to.
    pub groups: Vec<String>,
    /// When the profile took effect.
    pub at: Timestamp,
}

/// One account's routing settings, on the compacted `routing-config` topic (key: the
/// account). A field left out (`None`) takes the router process's setting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRoutingConfig {
    /// The tenant.
    pub account: String,
    /// Channels whose offers are assigned at once.
    #[serde(default)]
    pub auto_accept: Option<Vec<Channel>>,
    /// How long an offer waits for an answer, in milliseconds; above zero.
    #[serde(default)]
    pub offer_timeout_ms: Option<Millis>,
    /// After this long in the queue a ticket's required skills are relaxed, in
    /// milliseconds; zero for never.
    #[serde(default)]
    pub skills_timeout_ms: Option<Millis>,
    /// How long a reopened ticket waits for its offline assignee, in milliseconds.
    #[serde(default)]
    pub returning_grace_ms: Option<Millis>,
    /// How an agent is chosen among the eligible ones.
    #[serde(default)]
    pub mode: Option<crate::routing::RoutingMode>,
    /// Offer timeouts in a row that set an agent away on the channel; zero for never.
    #[serde(default)]
    pub away_after_offer_timeouts: Option<u32>,
    /// The order of the routing queue: by priority then age, or by time to the next SLA
    /// breach.
    #[serde(default)]
    pub queue_order: Option<crate::routing::QueueOrder>,
    /// When the configuration was written.
    pub updated_at: Timestamp,
}

/// The conversational style and routing attributes in force for an account, optionally
/// narrowed to a brand and a channel. Key: `account[/brand][/channel]`; the most specific
/// record wins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StyleConfig {
    /// The tenant.
    pub account: String,
    /// The brand it applies to; none for every brand.
    pub brand: Option<String>,
    /// The channel it applies to; none for every channel.
    pub channel: Option<Channel>,
    /// The conversational style of tickets created under it.
    pub style: Style,
    /// Solved to Closed, in milliseconds; none for the style's default. At most 28 days;
    /// not allowed for `live_chat`.
    pub solved_to_closed_ms: Option<Millis>,
    /// Routing priority of tickets created under it; higher goes first.
    pub priority: i32,
    /// Skills an agent needs to be offered these tickets.
    pub required_skills: Vec<String>,
    /// The group whose members may take these tickets; none for anyone.
    pub group: Option<String>,
    /// An assigned conversation without an end-user message for this long is inactive
    /// and stops taking its assignee's capacity, in milliseconds; none for the default
    /// (10 minutes), zero for never.
    #[serde(default)]
    pub inactivity_ms: Option<Millis>,
    /// Reminders to an inactive conversation's end user, up to three steps, each after its
    /// own delay; none by default.
    #[serde(default)]
    pub inactivity_reminders: Vec<InactivityReminderStep>,
    /// When the configuration was written.
    pub updated_at: Timestamp,
}

/// One step of a style's inactivity reminders: after `after_ms` (from the conversation
/// going inactive, or from the step before), a reminder to the end user and, optionally, a
/// new status for the ticket (the last step only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InactivityReminderStep {
    /// The delay before this step, in milliseconds; above zero.
    pub after_ms: Millis,
    /// The status the step sets (pending or solved), with actor `timer`.
    #[serde(default)]
    pub set_status: Option<Status>,
}

/// A reminder for the channel integration to send to the end user of an inactive
/// conversation. Key: `account/conversation`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InactivityReminder {
    /// Deterministic id: the ticket id and the reminder's ordinal on it.
    pub reminder_id: RecordId,
    /// The tenant.
    #[serde(with = "shared_str")]
    pub account: Arc<str>,
    /// The conversation.
    #[serde(with = "shared_str")]
    pub conversation: Arc<str>,
    /// The ticket.
    #[serde(with = "shared_str")]
    pub ticket_id: Arc<str>,
    /// The channel to send it on.
    pub channel: Channel,
    /// Which step of the style's reminders, from 1.
    pub step: i32,
    /// The status the step set the ticket to, if any.
    pub set_status: Option<Status>,
    /// When it was due.
    pub at: Timestamp,
}

/// What the ticket processor asks of the router.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutingRequestKind {
    /// The ticket needs an agent: queue it.
    Enqueue,
    /// The agent accepted the offer.
    Accept,
    /// The agent declined the offer.
    Decline,
    /// The ticket went back to New/Open with its assignee: it takes their capacity again.
    Consume,
    /// The ticket went to Pending, On-hold or Solved: its assignee's capacity is free.
    Release,
    /// The ticket was assigned by hand to `agent_id`: withdraw it from the queue or offer.
    Assign,
    /// The ticket closed: forget it.
    Close,
    /// The assigned conversation went quiet (no end-user message for the style's
    /// inactivity time): it stops taking its assignee's capacity until the end user writes
    /// again, which the ticket processor reports as `consume`.
    Inactive,
    /// The ticket's routing priority or next SLA breach time changed: the router keeps the
    /// new values and moves a queued ticket to its new place.
    Update,
}

/// A request from the ticket processor to the router. Key: `account`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingRequest {
    /// Deterministic id: the ticket id and the request's ordinal on it.
    pub request_id: RecordId,
    /// The tenant.
    #[serde(with = "shared_str")]
    pub account: Arc<str>,
    /// The conversation the ticket belongs to.
    #[serde(with = "shared_str")]
    pub conversation: Arc<str>,
    /// The ticket.
    #[serde(with = "shared_str")]
    pub ticket_id: Arc<str>,
    /// What is asked.
    pub kind: RoutingRequestKind,
    /// The agent concerned (accept, decline, consume, release, assign).
    pub agent_id: Option<String>,
    /// The ticket's channel.
    pub channel: Channel,
    /// The ticket's routing priority; higher goes first.
    pub priority: i32,
    /// Skills the assignee needs.
    pub required_skills: Vec<String>,
    /// The group that may take the ticket, if restricted.
    pub group: Option<String>,
    /// The ticket's brand, if any (custom queues may match on it).
    #[serde(default)]
    pub brand: Option<String>,
    /// When the ticket was created (its age orders the queue).
    pub created_at: Timestamp,
    /// When the ticket's next SLA target runs out: the earliest due time of its clocks
    /// that are running or breached and not yet met; none without one. Orders the queue
    /// of an account routed by SLA.
    #[serde(default)]
    pub sla_breach_at: Option<Timestamp>,
    /// When the request was made.
    pub at: Timestamp,
}

/// What the router decided for a ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutingDecisionKind {
    /// Offered to `agent_id`, who may accept or decline.
    Offered,
    /// The offer to `agent_id` was withdrawn (timeout, decline, agent offline).
    OfferWithdrawn,
    /// Assigned to `agent_id`.
    Assigned,
    /// No longer assigned to `agent_id`; back in the queue.
    Unassigned,
}

/// A decision of the router. Key: `account/conversation`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingDecision {
    /// Deterministic id.
    pub decision_id: String,
    /// The tenant.
    pub account: String,
    /// The conversation the ticket belongs to.
    pub conversation: String,
    /// The ticket.
    pub ticket_id: String,
    /// What was decided.
    pub kind: RoutingDecisionKind,
    /// The agent concerned.
    pub agent_id: Option<String>,
    /// Why, in words for the status-change reason and BI (`best_match`, `auto_accept`,
    /// `offer_timeout`, `agent_offline`, `skills_relaxed`, ...).
    pub reason: String,
    /// When it was decided.
    pub at: Timestamp,
}

/// One status transition of a ticket. Key: `account/conversation`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    /// Deterministic id: the ticket id and the change's ordinal on it.
    pub change_id: RecordId,
    /// The ticket.
    #[serde(with = "shared_str")]
    pub ticket_id: Arc<str>,
    /// The tenant.
    #[serde(with = "shared_str")]
    pub account: Arc<str>,
    /// The brand, if any.
    pub brand: Option<String>,
    /// The conversation.
    #[serde(with = "shared_str")]
    pub conversation: Arc<str>,
    /// The ticket's channel.
    pub channel: Channel,
    /// The ticket's conversational style, fixed at creation.
    pub style: Style,
    /// The status before; none when the ticket is created.
    pub from: Option<Status>,
    /// The status after.
    pub to: Status,
    /// Who caused it.
    pub actor_kind: ActorKind,
    /// The agent, for agent and routing actors.
    pub actor_id: Option<String>,
    /// Why, in words (`end_user_message`, `assigned`, `end_user_reply`, ...).
    pub reason: String,
    /// The ticket's assignee after the change.
    pub assignee: Option<String>,
    /// The closed ticket this one follows up, when it is created.
    pub predecessor_ticket_id: Option<String>,
    /// When it happened.
    pub at: Timestamp,
}

/// A ticket's metrics, emitted at every Solved and at Closed. Key: `account/conversation`.
/// Durations are in milliseconds up to `at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketMetrics {
    /// Deterministic id: the ticket id and the emission's ordinal on it.
    pub metrics_id: RecordId,
    /// The ticket.
    #[serde(with = "shared_str")]
    pub ticket_id: Arc<str>,
    /// The tenant.
    #[serde(with = "shared_str")]
    pub account: Arc<str>,
    /// The brand, if any.
    pub brand: Option<String>,
    /// The conversation.
    #[serde(with = "shared_str")]
    pub conversation: Arc<str>,
    /// The ticket's channel.
    pub channel: Channel,
    /// The ticket's conversational style.
    pub style: Style,
    /// The status at emission: solved or closed.
    pub status: Status,
    /// The assignee at emission.
    pub assignee: Option<String>,
    /// The ticket's routing group, if any.
    pub group: Option<String>,
    /// The closed ticket this one follows up, if any.
    pub predecessor_ticket_id: Option<String>,
    /// Created.
    pub created_at: Timestamp,
    /// First assigned to an agent.
    pub first_assigned_at: Option<Timestamp>,
    /// First agent reply.
    pub first_agent_reply_at: Option<Timestamp>,
    /// First Solved.
    pub first_solved_at: Option<Timestamp>,
    /// Latest Solved.
    pub last_solved_at: Option<Timestamp>,
    /// Closed.
    pub closed_at: Option<Timestamp>,
    /// Created to first agent reply.
    pub first_reply_time_ms: Option<Millis>,
    /// Created to first Solved.
    pub first_resolution_time_ms: Option<Millis>,
    /// Created to latest Solved.
    pub full_resolution_time_ms: Option<Millis>,
    /// Time in New, Open and On-hold: the end user waits.
    pub requester_wait_time_ms: Millis,
    /// Time in Pending: the agent waits on the end user.
    pub agent_wait_time_ms: Millis,
    /// Time in On-hold.
    pub on_hold_time_ms: Millis,
    /// Time in Solved.
    pub solved_time_ms: Millis,
    /// Time in New and Open.
    pub agent_work_time_ms: Millis,
    /// Created to first assigned.
    pub time_in_queue_ms: Option<Millis>,
    /// First offer to first assignment.
    pub offer_acceptance_time_ms: Option<Millis>,
    /// Times the ticket left Solved for another status.
    pub reopens: u32,
    /// Agent replies.
    pub agent_replies: u32,
    /// End-user messages.
    pub end_user_messages: u32,
    /// Distinct assignments (each new assignee counts).
    pub assignee_stations: u32,
    /// Distinct groups (one when routed to a group, else zero).
    pub group_stations: u32,
    /// Solved with agent replies, never Pending or On-hold, never reopened.
    pub one_touch: bool,
    /// Times the assigned conversation went inactive (no end-user message for the style's
    /// inactivity time).
    #[serde(default)]
    pub inactivity_periods: u32,
    /// The ticket's SLA outcome on first reply time; none while none of its clocks has been met or
    /// breached.
    #[serde(default)]
    pub sla_first_reply_time: Option<SlaMetricOutcome>,
    /// The ticket's SLA outcome on next reply time; none while none of its clocks has been met or
    /// breached.
    #[serde(default)]
    pub sla_next_reply_time: Option<SlaMetricOutcome>,
    /// The ticket's SLA outcome on periodic update; none while none of its clocks has been met or
    /// breached.
    #[serde(default)]
    pub sla_periodic_update: Option<SlaMetricOutcome>,
    /// The ticket's SLA outcome on requester wait time; none while none of its clocks has been met or
    /// breached.
    #[serde(default)]
    pub sla_requester_wait_time: Option<SlaMetricOutcome>,
    /// The ticket's SLA outcome on agent work time; none while none of its clocks has been met or
    /// breached.
    #[serde(default)]
    pub sla_agent_work_time: Option<SlaMetricOutcome>,
    /// The ticket's SLA outcome on total resolution time; none while none of its clocks has been met or
    /// breached.
    #[serde(default)]
    pub sla_total_resolution_time: Option<SlaMetricOutcome>,
    /// When emitted.
    pub at: Timestamp,
}

/// An agent's routing figures on one channel. Key: `account`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentMetrics {
    /// Deterministic id.
    pub metrics_id: String,
    /// The tenant.
    pub account: String,
    /// The agent.
    pub agent_id: String,
    /// The channel.
    pub channel: Channel,
    /// The agent's status on the channel at emission.
    pub status: AgentStatus,
    /// The agent's capacity on the channel.
    pub capacity: u32,
    /// Tickets of the channel taking the agent's capacity.
    pub load: u32,
    /// Offers made to the agent.
    pub offers_made: u64,
    /// Offers the agent accepted (auto-accepted ones included).
    pub offers_accepted: u64,
    /// Offers the agent declined.
    pub offers_declined: u64,
    /// Offers that timed out.
    pub offers_timed_out: u64,
    /// Tickets assigned to the agent.
    pub assignments: u64,
    /// Time online on the channel.
    pub online_ms: Millis,
    /// Time away on the channel.
    pub away_ms: Millis,
    /// Time transfers-only on the channel.
    pub transfers_only_ms: Millis,
    /// Time offline on the channel.
    pub offline_ms: Millis,
    /// Assigned conversations of the channel that are inactive: they stay with the agent
    /// but are not counted in `load`.
    #[serde(default)]
    pub inactive: u32,
    /// Why the status is what it is, when the router set it: `missed_offers` (set away
    /// after too many offer timeouts in a row). `None` when the status is the agent's own.
    #[serde(default)]
    pub status_reason: Option<String>,
    /// When emitted.
    pub at: Timestamp,
}
