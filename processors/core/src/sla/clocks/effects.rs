//! What [`SlaClocks`](super::SlaClocks) is fed ([`SlaInput`]) and what a step returns
//! ([`SlaEffects`]: the [`SlaEvent`]s to publish and the breach timers to set or cancel).

use crate::ids::{shared_str, RecordId};
use crate::lifecycle::{TicketEffects, TicketInput};
use crate::model::{AgentActionKind, StatusChange};
use crate::sla::policy::SlaMetric;
use crate::time::{Millis, Timestamp};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// What happened to a clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaEventKind {
    /// The clock started, or its target changed (a priority change) while it runs.
    Activated,
    /// The clock stopped counting for a while (a status that does not count), or its
    /// target changed while it is paused.
    Paused,
    /// The clock counts again.
    Resumed,
    /// The metric was met within its target.
    Achieved,
    /// The target ran out before the metric was met.
    Breached,
}

impl SlaEventKind {
    /// The schema symbol.
    pub const fn as_str(self) -> &'static str {
        match self {
            SlaEventKind::Activated => "activated",
            SlaEventKind::Paused => "paused",
            SlaEventKind::Resumed => "resumed",
            SlaEventKind::Achieved => "achieved",
            SlaEventKind::Breached => "breached",
        }
    }
}

/// One thing that happened to one SLA clock: the record on the `sla-events` topic, key
/// `account/conversation`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaEvent {
    /// `<ticket id>.l<n>`: the ticket's `n`-th SLA event, kept as its parts until it is
    /// written.
    pub event_id: RecordId,
    /// The ticket. This and the other names are shared with the clocks that emit the
    /// event, not copied: a clock change allocates nothing of its own.
    #[serde(with = "shared_str")]
    pub ticket_id: Arc<str>,
    /// The tenant.
    #[serde(with = "shared_str")]
    pub account: Arc<str>,
    /// The conversation.
    #[serde(with = "shared_str")]
    pub conversation: Arc<str>,
    /// What the clock measures.
    pub metric: SlaMetric,
    /// The policy that was in force when the clock started.
    #[serde(with = "shared_str")]
    pub policy_id: Arc<str>,
    /// The clock's target.
    pub target_ms: Millis,
    /// When the target runs out, while the clock runs (for `achieved` and `breached`, the
    /// instant it was running toward); none while it is paused.
    pub due_at: Option<Timestamp>,
    /// What happened.
    pub kind: SlaEventKind,
    /// When it happened; a breach happens at its due time.
    pub at: Timestamp,
    /// Whether the clock counts business hours (else calendar hours).
    pub business_hours: bool,
}

/// A breach timer: one clock's due time.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SlaTimer {
    /// The ticket (shared with its clocks).
    #[serde(with = "shared_str")]
    pub ticket_id: Arc<str>,
    /// The clock within the ticket (a per-ticket serial number).
    pub clock: u32,
    /// When it is due.
    pub due: Timestamp,
}

/// A breach timer to set or cancel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SlaTimerCommand {
    /// Keep this timer and feed it back as [`SlaInput::Timer`] once due.
    Set(SlaTimer),
    /// Drop this timer: it must not fire.
    Cancel(SlaTimer),
}

/// The effects of one step, to be applied by the host before the next step.
#[must_use = "effects must be applied by the host"]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaEffects {
    /// Events to publish, in order.
    pub events: Vec<SlaEvent>,
    /// Breach timers to set or cancel, in order.
    pub timers: Vec<SlaTimerCommand>,
}

impl SlaEffects {
    /// Empties the batch and keeps its room: a host that collects every step's effects in
    /// one batch, cleared once they are applied, allocates nothing for them step after step.
    pub fn clear(&mut self) {
        self.events.clear();
        self.timers.clear();
    }
}

/// What [`SlaClocks`] is fed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlaInput<'a> {
    /// A status change of the lifecycle; `priority` (the ticket's routing priority) is
    /// read when the change creates the ticket.
    Status {
        /// The change.
        change: &'a StatusChange,
        /// The ticket's routing priority.
        priority: i32,
    },
    /// An end-user message on the current ticket (after the status change it caused).
    EndUserMessage,
    /// An agent reply on the current ticket.
    AgentReply,
    /// The current ticket's routing priority changed.
    PriorityChanged(i32),
    /// A breach timer came due.
    Timer(&'a SlaTimer),
}

impl<'a> SlaInput<'a> {
    /// What a lifecycle input is to the SLA clocks if the lifecycle applies it: an
    /// end-user message, an agent reply, a priority change, or nothing. Taken before the lifecycle step
    /// consumes the input, and handed to [`from_step`](Self::from_step) after it.
    pub fn of_input(input: &TicketInput) -> Option<SlaInput<'static>> {
        match input {
            TicketInput::Message(_) => Some(SlaInput::EndUserMessage),
            TicketInput::Action(action) if action.kind == AgentActionKind::Reply => {
                Some(SlaInput::AgentReply)
            }
            TicketInput::Action(action) if action.kind == AgentActionKind::SetPriority => {
                action.priority.map(SlaInput::PriorityChanged)
            }
            _ => None,
        }
    }

    /// The SLA inputs one [`TicketLifecycle`](crate::TicketLifecycle) step amounts to, in
    /// order: its status changes, then `input` (what [`of_input`](Self::of_input) said of
    /// the step's input). Nothing for a refused input or a duplicate delivery. `priority`
    /// is the current ticket's routing priority after the step.
    pub fn from_step(
        input: Option<SlaInput<'static>>,
        effects: &'a TicketEffects,
        priority: i32,
    ) -> impl Iterator<Item = SlaInput<'a>> {
        let applied = effects.rejections.is_empty() && effects.duplicates == 0;
        effects
            .status_changes
            .iter()
            .filter(move |_| applied)
            .map(move |change| SlaInput::Status { change, priority })
            .chain(input.filter(|_| applied))
    }
}
