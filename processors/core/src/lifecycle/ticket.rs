//! The current ticket's state inside a [`TicketLifecycle`](super::TicketLifecycle), and
//! the records built from it: status changes, routing requests and ticket metrics, each
//! with an id derived from the ticket id and a per-kind ordinal.

use super::effects::{TicketEffects, TicketTimer, TicketTimerCommand};
use crate::ids::{shared_str, RecordId};
use crate::model::*;
use crate::style::StyleSettings;
use crate::time::{Millis, Timestamp};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Ticket {
    /// Shared with the ids of the records about the ticket.
    #[serde(with = "shared_str")]
    pub(super) id: Arc<str>,
    pub(super) brand: Option<String>,
    pub(super) channel: Channel,
    pub(super) settings: StyleSettings,
    pub(super) status: Status,
    pub(super) status_since: Timestamp,
    pub(super) assignee: Option<String>,
    pub(super) offered_to: Option<String>,
    pub(super) predecessor: Option<String>,
    pub(super) close_due: Option<Timestamp>,
    pub(super) created_at: Timestamp,
    pub(super) first_offered_at: Option<Timestamp>,
    pub(super) first_assigned_at: Option<Timestamp>,
    pub(super) first_agent_reply_at: Option<Timestamp>,
    pub(super) first_solved_at: Option<Timestamp>,
    pub(super) last_solved_at: Option<Timestamp>,
    pub(super) time_in: StatusTimes,
    pub(super) reopens: u32,
    pub(super) agent_replies: u32,
    /// Every agent who replied, sorted: one-touch needs the solver to be the only one.
    #[serde(default)]
    pub(super) repliers: Vec<String>,
    /// When the armed inactivity check fires, if one is armed.
    #[serde(default)]
    pub(super) inactivity_due: Option<Timestamp>,
    /// When an agent replied with no end-user message since: the conversation waits on the
    /// end user from then. `None` while the end user waits on an agent.
    #[serde(default)]
    pub(super) quiet_since: Option<Timestamp>,
    /// The assigned conversation is inactive: it takes no capacity until the end user
    /// writes.
    #[serde(default)]
    pub(super) inactive: bool,
    /// Times it went inactive.
    #[serde(default)]
    pub(super) inactivity_periods: u32,
    /// The next SLA breach time the router was last told (see
    /// [`TicketLifecycle::note_sla_breach`]).
    #[serde(default)]
    pub(super) sla_breach_at: Option<Timestamp>,
    /// When the next inactivity reminder is due, while inactive and one is left.
    #[serde(default)]
    pub(super) reminder_due: Option<Timestamp>,
    /// Reminders sent since it last went inactive.
    #[serde(default)]
    pub(super) reminders_sent: u32,
    pub(super) end_user_messages: u32,
    pub(super) assignee_stations: u32,
    pub(super) ever_parked: bool,
    pub(super) ordinals: Ordinals,
}

/// Time spent in each status before the current one began.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct StatusTimes {
    pub(super) new: Millis,
    pub(super) open: Millis,
    pub(super) pending: Millis,
    pub(super) on_hold: Millis,
    pub(super) solved: Millis,
}

impl StatusTimes {
    pub(super) fn add(&mut self, status: Status, span: Millis) {
        let slot = match status {
            Status::New => &mut self.new,
            Status::Open => &mut self.open,
            Status::Pending => &mut self.pending,
            Status::OnHold => &mut self.on_hold,
            Status::Solved => &mut self.solved,
            Status::Closed => return,
        };
        slot.0 += span.0;
    }
}

/// Per-ticket counters from which output record ids are derived.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Ordinals {
    pub(super) status_changes: u32,
    pub(super) routing_requests: u32,
    pub(super) metrics: u32,
    #[serde(default)]
    pub(super) reminders: u32,
}

/// Who caused a transition, and why.
pub(super) struct Cause<'a> {
    pub(super) actor_kind: ActorKind,
    pub(super) actor_id: Option<&'a str>,
    pub(super) reason: &'a str,
}

impl Ticket {
    /// Makes an inactive conversation active (or leaves an active one so) and drops its
    /// pending reminders (their timer finds nothing to do); says whether it was inactive.
    pub(super) fn take_inactive(&mut self) -> bool {
        self.reminder_due = None;
        self.reminders_sent = 0;
        std::mem::take(&mut self.inactive)
    }

    /// Arms the style's reminder step `index`, if it has one, after its delay from `now`.
    pub(super) fn arm_reminder(&mut self, index: usize, now: Timestamp, fx: &mut TicketEffects) {
        if let Some(step) = self.settings.reminders.get(index) {
            let due = now + step.after_ms;
            self.reminder_due = Some(due);
            fx.timers.push(TicketTimerCommand::Set(TicketTimer {
                ticket_id: String::from(&*self.id),
                due,
            }));
        }
    }
}

/// Arms an inactivity check for an assigned, Open conversation that waits on its end user
/// (an agent replied last), unless one is armed: a check that fires early finds the later
/// reply and re-arms itself, so a message costs no timer write.
pub(super) fn watch_inactivity(ticket: &mut Ticket, fx: &mut TicketEffects) {
    let Some(quiet_since) = ticket.quiet_since else {
        return;
    };
    if ticket.status != Status::Open
        || ticket.assignee.is_none()
        || ticket.inactive
        || ticket.settings.inactivity <= Millis::ZERO
    {
        return;
    }
    if ticket.inactivity_due.is_none() {
        let due = quiet_since + ticket.settings.inactivity;
        ticket.inactivity_due = Some(due);
        fx.timers.push(TicketTimerCommand::Set(TicketTimer {
            ticket_id: String::from(&*ticket.id),
            due,
        }));
    }
}

pub(super) fn status_change(
    account: &Arc<str>,
    conversation: &Arc<str>,
    ticket: &mut Ticket,
    from: Option<Status>,
    cause: &Cause<'_>,
    now: Timestamp,
) -> StatusChange {
    ticket.ordinals.status_changes += 1;
    StatusChange {
        change_id: RecordId::new(&ticket.id, 's', ticket.ordinals.status_changes),
        ticket_id: Arc::clone(&ticket.id),
        account: Arc::clone(account),
        brand: ticket.brand.clone(),
        conversation: Arc::clone(conversation),
        channel: ticket.channel,
        style: ticket.settings.style,
        from,
        to: ticket.status,
        actor_kind: cause.actor_kind,
        actor_id: cause.actor_id.map(str::to_owned),
        reason: cause.reason.to_owned(),
        assignee: ticket.assignee.clone(),
        predecessor_ticket_id: if from.is_none() {
            ticket.predecessor.clone()
        } else {
            None
        },
        at: now,
    }
}

pub(super) fn routing_request(
    account: &Arc<str>,
    conversation: &Arc<str>,
    ticket: &mut Ticket,
    kind: RoutingRequestKind,
    agent: Option<&str>,
    now: Timestamp,
) -> RoutingRequest {
    ticket.ordinals.routing_requests += 1;
    RoutingRequest {
        request_id: RecordId::new(&ticket.id, 'r', ticket.ordinals.routing_requests),
        account: Arc::clone(account),
        conversation: Arc::clone(conversation),
        ticket_id: Arc::clone(&ticket.id),
        kind,
        agent_id: agent.map(str::to_owned),
        channel: ticket.channel,
        priority: ticket.settings.priority,
        required_skills: ticket.settings.required_skills.clone(),
        group: ticket.settings.group.clone(),
        brand: ticket.brand.clone(),
        created_at: ticket.created_at,
        sla_breach_at: ticket.sla_breach_at,
        at: now,
    }
}

pub(super) fn ticket_metrics(
    account: &Arc<str>,
    conversation: &Arc<str>,
    ticket: &mut Ticket,
    now: Timestamp,
) -> TicketMetrics {
    ticket.ordinals.metrics += 1;
    let mut times = ticket.time_in;
    times.add(ticket.status, now.since(ticket.status_since));
    let since_created = |at: Option<Timestamp>| at.map(|at| at.since(ticket.created_at));
    TicketMetrics {
        metrics_id: RecordId::new(&ticket.id, 'm', ticket.ordinals.metrics),
        ticket_id: Arc::clone(&ticket.id),
        account: Arc::clone(account),
        brand: ticket.brand.clone(),
        conversation: Arc::clone(conversation),
        channel: ticket.channel,
        style: ticket.settings.style,
        status: ticket.status,
        assignee: ticket.assignee.clone(),
        group: ticket.settings.group.clone(),
        predecessor_ticket_id: ticket.predecessor.clone(),
        created_at: ticket.created_at,
        first_assigned_at: ticket.first_assigned_at,
        first_agent_reply_at: ticket.first_agent_reply_at,
        first_solved_at: ticket.first_solved_at,
        last_solved_at: ticket.last_solved_at,
        closed_at: (ticket.status == Status::Closed).then_some(now),
        first_reply_time_ms: since_created(ticket.first_agent_reply_at),
        first_resolution_time_ms: since_created(ticket.first_solved_at),
        full_resolution_time_ms: since_created(ticket.last_solved_at),
        requester_wait_time_ms: Millis(times.new.0 + times.open.0 + times.on_hold.0),
        agent_wait_time_ms: times.pending,
        on_hold_time_ms: times.on_hold,
        solved_time_ms: times.solved,
        agent_work_time_ms: Millis(times.new.0 + times.open.0),
        time_in_queue_ms: since_created(ticket.first_assigned_at),
        offer_acceptance_time_ms: match (ticket.first_offered_at, ticket.first_assigned_at) {
            (Some(offered), Some(assigned)) => Some(assigned.since(offered)),
            _ => None,
        },
        reopens: ticket.reopens,
        agent_replies: ticket.agent_replies,
        end_user_messages: ticket.end_user_messages,
        assignee_stations: ticket.assignee_stations,
        group_stations: u32::from(ticket.settings.group.is_some()),
        one_touch: ticket.last_solved_at.is_some()
            && ticket.agent_replies > 0
            && ticket
                .repliers
                .iter()
                .all(|r| Some(r) == ticket.assignee.as_ref())
            && !ticket.ever_parked
            && ticket.reopens == 0,
        inactivity_periods: ticket.inactivity_periods,
        // Filled by the SLA clocks, which the lifecycle does not keep.
        sla_first_reply_time: None,
        sla_next_reply_time: None,
        sla_periodic_update: None,
        sla_requester_wait_time: None,
        sla_agent_work_time: None,
        sla_total_resolution_time: None,
        at: now,
    }
}
