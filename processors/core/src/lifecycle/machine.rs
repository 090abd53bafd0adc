//! [`TicketLifecycle`]: one conversation's tickets, stepped by messages, agent actions,
//! routing decisions and timers.

use super::effects::*;
use super::ticket::*;
use crate::ids::{shared_str, stable_hash, ticket_id, RecordId};
use crate::model::*;
use crate::style::{StyleSettings, MAX_SOLVED_TO_CLOSED};
use crate::time::{Millis, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::Arc;

/// One conversation's tickets: at most one that is not Closed, and the memory needed to
/// start a follow-up and drop duplicate deliveries.
///
/// Calling contract:
/// - call [`step`](Self::step) once per input, in the order the inputs were consumed, with
///   the style settings in force for the conversation (they matter only when a ticket is
///   created; the ticket keeps them for life) and the current time;
/// - apply the returned [`TicketEffects`] before the next step;
/// - time only moves forward: an earlier `now` than a previous step's is taken as that
///   previous time;
/// - feed each timer back as [`TicketInput::Timer`] once due; a timer that was cancelled or
///   replaced in the meantime is ignored, so a late or duplicate firing is harmless;
/// - a host that keeps SLA clocks calls [`note_sla_breach`](Self::note_sla_breach) after
///   each step, once the clocks had its inputs, before applying the effects (without it,
///   routing requests carry no SLA breach time).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketLifecycle {
    #[serde(with = "shared_str")]
    account: Arc<str>,
    #[serde(with = "shared_str")]
    conversation: Arc<str>,
    /// How many tickets this conversation has had; the next one's ordinal is this + 1.
    tickets_created: u32,
    /// The ticket that is not Closed, if any.
    current: Option<Ticket>,
    /// The latest Closed ticket, the predecessor of the next one.
    last_closed: Option<String>,
    /// Hashes of recent input ids, newest last.
    recent: VecDeque<u64>,
    /// The latest time seen.
    clock: Timestamp,
}

impl TicketLifecycle {
    /// A conversation with no ticket yet.
    pub fn new(account: impl Into<String>, conversation: impl Into<String>) -> TicketLifecycle {
        TicketLifecycle {
            account: Arc::from(account.into()),
            conversation: Arc::from(conversation.into()),
            tickets_created: 0,
            current: None,
            last_closed: None,
            recent: VecDeque::with_capacity(DEDUP_WINDOW),
            clock: Timestamp(i64::MIN),
        }
    }

    /// The tenant.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The conversation.
    pub fn conversation(&self) -> &str {
        &self.conversation
    }

    /// The current (not Closed) ticket's id, status and assignee.
    pub fn current(&self) -> Option<TicketView<'_>> {
        self.current.as_ref().map(|t| TicketView {
            id: &t.id,
            status: t.status,
            style: t.settings.style,
            assignee: t.assignee.as_deref(),
            offered_to: t.offered_to.as_deref(),
            close_due: t.close_due,
            priority: t.settings.priority,
            inactive: t.inactive,
        })
    }

    /// The latest Closed ticket's id.
    pub fn last_closed(&self) -> Option<&str> {
        self.last_closed.as_deref()
    }

    /// The time the next input is handled at if it is stamped earlier: the latest time the
    /// conversation has seen (its time never moves back).
    pub fn time(&self) -> Timestamp {
        self.clock
    }

    /// How many tickets the conversation has had.
    pub fn tickets_created(&self) -> u32 {
        self.tickets_created
    }

    /// Applies one input at `now` under `style` and returns what it caused.
    pub fn step(
        &mut self,
        input: TicketInput,
        style: &StyleSettings,
        now: Timestamp,
    ) -> TicketEffects {
        let now = self.clock.max(now);
        let mut fx = TicketEffects::default();
        let input_id = match &input {
            TicketInput::Message(e) => Some(input_hash(b'm', &e.event_id)),
            TicketInput::Action(a) => Some(input_hash(b'a', &a.action_id)),
            TicketInput::Decision(d) => Some(input_hash(b'd', &d.decision_id)),
            TicketInput::Timer(_) => None,
        };
        if input_id.is_some_and(|id| self.recent.contains(&id)) {
            fx.duplicates = 1;
            return fx;
        }
        match input {
            TicketInput::Message(event) => self.on_message(event, style, now, &mut fx),
            TicketInput::Action(action) => self.on_action(action, now, &mut fx),
            TicketInput::Decision(decision) => self.on_decision(decision, now, &mut fx),
            TicketInput::Timer(timer) => self.on_timer(timer, now, &mut fx),
        }
        // A refused input leaves the state as it was, its id and the clock included: a
        // redelivery is refused again rather than taken for a duplicate.
        if fx.rejections.is_empty() {
            self.clock = now;
            if let Some(id) = input_id {
                if self.recent.len() == DEDUP_WINDOW {
                    self.recent.pop_front();
                }
                self.recent.push_back(id);
            }
        }
        fx
    }

    fn on_message(
        &mut self,
        event: ConversationEvent,
        style: &StyleSettings,
        now: Timestamp,
        fx: &mut TicketEffects,
    ) {
        if !self.is_mine(&event.account, &event.conversation, fx) {
            return;
        }
        let Some(ticket) = self.current.as_mut() else {
            self.open_ticket(event, style, now, fx);
            return;
        };
        ticket.end_user_messages += 1;
        // The end user waits on an agent now; an armed inactivity check finds nothing to do.
        ticket.quiet_since = None;
        if matches!(
            ticket.status,
            Status::Pending | Status::OnHold | Status::Solved
        ) {
            let cause = Cause {
                actor_kind: ActorKind::EndUser,
                actor_id: None,
                reason: "end_user_reply",
            };
            self.transition(Status::Open, &cause, now, fx);
            return;
        }
        if ticket.take_inactive() {
            // Active again: the conversation takes its assignee's capacity, even above it.
            let agent = ticket.assignee.clone();
            fx.routing_requests.push(routing_request(
                &self.account,
                &self.conversation,
                ticket,
                RoutingRequestKind::Consume,
                agent.as_deref(),
                now,
            ));
        }
    }

    fn open_ticket(
        &mut self,
        event: ConversationEvent,
        style: &StyleSettings,
        now: Timestamp,
        fx: &mut TicketEffects,
    ) {
        self.tickets_created += 1;
        let mut settings = style.clone();
        settings.solved_to_closed = settings
            .solved_to_closed
            .clamp(Millis::ZERO, MAX_SOLVED_TO_CLOSED);
        let predecessor = self.last_closed.clone();
        let ticket = self.current.insert(Ticket {
            id: Arc::from(ticket_id(
                &self.account,
                &self.conversation,
                self.tickets_created,
            )),
            brand: event.brand,
            channel: event.channel,
            settings,
            status: Status::New,
            status_since: now,
            assignee: None,
            offered_to: None,
            predecessor,
            close_due: None,
            created_at: now,
            first_offered_at: None,
            first_assigned_at: None,
            first_agent_reply_at: None,
            first_solved_at: None,
            last_solved_at: None,
            time_in: StatusTimes::default(),
            reopens: 0,
            agent_replies: 0,
            repliers: Vec::new(),
            inactivity_due: None,
            quiet_since: None,
            inactive: false,
            inactivity_periods: 0,
            sla_breach_at: None,
            reminder_due: None,
            reminders_sent: 0,
            end_user_messages: 1,
            assignee_stations: 0,
            ever_parked: false,
            ordinals: Ordinals::default(),
        });
        let reason = if ticket.predecessor.is_some() {
            "follow_up"
        } else {
            "end_user_message"
        };
        let cause = Cause {
            actor_kind: ActorKind::EndUser,
            actor_id: None,
            reason,
        };
        let change = status_change(&self.account, &self.conversation, ticket, None, &cause, now);
        fx.status_changes.push(change);
        let request = routing_request(
            &self.account,
            &self.conversation,
            ticket,
            RoutingRequestKind::Enqueue,
            None,
            now,
        );
        fx.routing_requests.push(request);
    }

    fn on_action(&mut self, action: AgentAction, now: Timestamp, fx: &mut TicketEffects) {
        if !self.is_mine(&action.account, &action.conversation, fx) {
            return;
        }
        let Some(ticket) = self.current.as_mut() else {
            let detail = match &self.last_closed {
                Some(id) => format!(
                    "{:?} by agent {}: ticket {id} is closed",
                    action.kind, action.agent_id
                ),
                None => format!(
                    "{:?} by agent {}: the conversation has no ticket",
                    action.kind, action.agent_id
                ),
            };
            fx.reject(RejectionKind::NoTicket, detail);
            return;
        };
        let agent = action.agent_id.as_str();
        match action.kind {
            AgentActionKind::Accept | AgentActionKind::Decline => {
                if ticket.offered_to.as_deref() != Some(agent) {
                    let detail = format!(
                        "{:?} by agent {agent}: ticket {} is offered to {}",
                        action.kind,
                        ticket.id,
                        ticket.offered_to.as_deref().unwrap_or("nobody")
                    );
                    fx.reject(RejectionKind::NoOfferToAgent, detail);
                    return;
                }
                let kind = if action.kind == AgentActionKind::Accept {
                    RoutingRequestKind::Accept
                } else {
                    RoutingRequestKind::Decline
                };
                fx.routing_requests.push(routing_request(
                    &self.account,
                    &self.conversation,
                    ticket,
                    kind,
                    Some(agent),
                    now,
                ));
            }
            AgentActionKind::Reply => {
                ticket.quiet_since = Some(now);
                watch_inactivity(ticket, fx);
                ticket.agent_replies += 1;
                ticket.first_agent_reply_at.get_or_insert(now);
                if let Err(at) = ticket.repliers.binary_search_by(|r| r.as_str().cmp(agent)) {
                    ticket.repliers.insert(at, agent.to_owned());
                }
            }
            AgentActionKind::Assign => {
                let request = routing_request(
                    &self.account,
                    &self.conversation,
                    ticket,
                    RoutingRequestKind::Assign,
                    Some(agent),
                    now,
                );
                fx.routing_requests.push(request);
            }
            AgentActionKind::SetStatus => self.set_status(action.status, &action.agent_id, now, fx),
            AgentActionKind::SetPriority => {
                let Some(priority) = action.priority else {
                    let detail = format!(
                        "set_priority by agent {agent} on ticket {}: the action names no priority",
                        ticket.id
                    );
                    fx.reject(RejectionKind::NoPriority, detail);
                    return;
                };
                // Any agent may set it; setting the priority it has is a no-op.
                if priority != ticket.settings.priority {
                    ticket.settings.priority = priority;
                    fx.routing_requests.push(routing_request(
                        &self.account,
                        &self.conversation,
                        ticket,
                        RoutingRequestKind::Update,
                        None,
                        now,
                    ));
                }
            }
        }
    }

    /// Tells the lifecycle, after a step's inputs went through the SLA clocks, when the
    /// current ticket's next SLA target runs out (`None` without one), so that the router
    /// can order its queue by it. Writes it into the step's routing requests about the
    /// ticket; when none went out and it differs from what the router was last told, and
    /// the ticket waits for an agent (New, or Open without an assignee), adds an `update`
    /// request. Does nothing after a refused or duplicate input.
    pub fn note_sla_breach(&mut self, breach_at: Option<Timestamp>, fx: &mut TicketEffects) {
        if !fx.rejections.is_empty() || fx.duplicates > 0 {
            return;
        }
        let Some(ticket) = self.current.as_mut() else {
            return;
        };
        let mut told = false;
        for request in fx.routing_requests.iter_mut() {
            if *request.ticket_id == *ticket.id {
                request.sla_breach_at = breach_at;
                told = true;
            }
        }
        let waits = ticket.status == Status::New
            || (ticket.status == Status::Open && ticket.assignee.is_none());
        if !told && (ticket.sla_breach_at == breach_at || !waits) {
            return;
        }
        ticket.sla_breach_at = breach_at;
        if !told {
            fx.routing_requests.push(routing_request(
                &self.account,
                &self.conversation,
                ticket,
                RoutingRequestKind::Update,
                None,
                self.clock,
            ));
        }
    }

    fn set_status(
        &mut self,
        status: Option<Status>,
        agent: &str,
        now: Timestamp,
        fx: &mut TicketEffects,
    ) {
        let Some(ticket) = self.current.as_ref() else {
            return;
        };
        let to = match status {
            Some(to @ (Status::Open | Status::Pending | Status::OnHold | Status::Solved)) => to,
            Some(other) => {
                let detail = format!("status = {other} by agent {agent}: agents may set open, pending, on_hold or solved");
                fx.reject(RejectionKind::StatusNotSettable, detail);
                return;
            }
            None => {
                let detail = format!(
                    "set_status by agent {agent} on ticket {}: the action names no status",
                    ticket.id
                );
                fx.reject(RejectionKind::StatusNotSettable, detail);
                return;
            }
        };
        if to == ticket.status {
            return;
        }
        match ticket.assignee.as_deref() {
            None if to == Status::Solved => {
                let detail = format!("status = solved by agent {agent} on ticket {}: solved needs an assignee and the ticket has none", ticket.id);
                fx.reject(RejectionKind::SolvedWithoutAssignee, detail);
            }
            Some(assignee) if assignee == agent => {
                let cause = Cause {
                    actor_kind: ActorKind::Agent,
                    actor_id: Some(agent),
                    reason: "agent",
                };
                self.transition(to, &cause, now, fx);
            }
            assignee => {
                let detail = format!(
                    "status = {to} by agent {agent} on ticket {}: only the assignee ({}) may set its status",
                    ticket.id,
                    assignee.unwrap_or("nobody")
                );
                fx.reject(RejectionKind::NotAssignee, detail);
            }
        }
    }

    fn on_decision(&mut self, decision: RoutingDecision, now: Timestamp, fx: &mut TicketEffects) {
        if !self.is_mine(&decision.account, &decision.conversation, fx) {
            return;
        }
        let Some(ticket) = self
            .current
            .as_mut()
            .filter(|t| *t.id == *decision.ticket_id)
        else {
            let detail = format!(
                "{:?} for ticket {}: not the conversation's open ticket",
                decision.kind, decision.ticket_id
            );
            fx.reject(RejectionKind::StaleDecision, detail);
            return;
        };
        let Some(agent) = decision.agent_id else {
            let detail = format!(
                "{:?} for ticket {} names no agent",
                decision.kind, decision.ticket_id
            );
            fx.reject(RejectionKind::MissingAgent, detail);
            return;
        };
        match decision.kind {
            RoutingDecisionKind::Offered => {
                ticket.first_offered_at.get_or_insert(now);
                ticket.offered_to = Some(agent);
            }
            RoutingDecisionKind::OfferWithdrawn => {
                if ticket.offered_to.as_deref() == Some(agent.as_str()) {
                    ticket.offered_to = None;
                }
            }
            RoutingDecisionKind::Assigned => {
                ticket.offered_to = None;
                ticket.first_assigned_at.get_or_insert(now);
                if ticket.assignee.as_deref() != Some(agent.as_str()) {
                    ticket.assignee_stations += 1;
                    ticket.assignee = Some(agent);
                }
                // The router takes the (new) assignee's capacity for an inactive ticket.
                ticket.take_inactive();
                if ticket.status == Status::New {
                    let agent = ticket.assignee.clone();
                    let cause = Cause {
                        actor_kind: ActorKind::Routing,
                        actor_id: agent.as_deref(),
                        reason: &decision.reason,
                    };
                    self.transition(Status::Open, &cause, now, fx);
                } else {
                    watch_inactivity(ticket, fx);
                }
            }
            RoutingDecisionKind::Unassigned => {
                if ticket.assignee.as_deref() == Some(agent.as_str()) {
                    ticket.assignee = None;
                    ticket.take_inactive();
                }
            }
        }
    }

    fn on_timer(&mut self, timer: TicketTimer, now: Timestamp, fx: &mut TicketEffects) {
        if let Some(ticket) = self
            .current
            .as_mut()
            .filter(|t| *t.id == *timer.ticket_id && t.inactivity_due == Some(timer.due))
        {
            ticket.inactivity_due = None;
            let quiet_since = ticket.quiet_since.filter(|_| {
                ticket.status == Status::Open
                    && ticket.assignee.is_some()
                    && !ticket.inactive
                    && ticket.settings.inactivity > Millis::ZERO
            });
            let watched = quiet_since.is_some();
            let deadline = quiet_since.unwrap_or(now) + ticket.settings.inactivity;
            if watched && deadline > now {
                // Replied to again since the check was armed: check again then.
                ticket.inactivity_due = Some(deadline);
                fx.timers.push(TicketTimerCommand::Set(TicketTimer {
                    ticket_id: String::from(&*ticket.id),
                    due: deadline,
                }));
            } else if watched {
                ticket.inactive = true;
                ticket.inactivity_periods += 1;
                ticket.arm_reminder(0, now, fx);
                let agent = ticket.assignee.clone();
                fx.routing_requests.push(routing_request(
                    &self.account,
                    &self.conversation,
                    ticket,
                    RoutingRequestKind::Inactive,
                    agent.as_deref(),
                    now,
                ));
            }
        }
        if let Some(status) = self.remind(&timer, now, fx) {
            let cause = Cause {
                actor_kind: ActorKind::Timer,
                actor_id: None,
                reason: "inactivity_reminder",
            };
            self.transition(status, &cause, now, fx);
            return;
        }
        let due = self.current.as_ref().is_some_and(|t| {
            *t.id == *timer.ticket_id
                && t.status == Status::Solved
                && t.close_due == Some(timer.due)
        });
        if due {
            let cause = Cause {
                actor_kind: ActorKind::Timer,
                actor_id: None,
                reason: "solved_to_closed",
            };
            self.transition(Status::Closed, &cause, now, fx);
        }
    }

    /// Sends the inactivity reminder `timer` is due for, if the conversation is still
    /// inactive, and arms the next; returns the status the step sets, if any.
    fn remind(
        &mut self,
        timer: &TicketTimer,
        now: Timestamp,
        fx: &mut TicketEffects,
    ) -> Option<Status> {
        let ticket = self
            .current
            .as_mut()
            .filter(|t| *t.id == *timer.ticket_id && t.reminder_due == Some(timer.due))?;
        ticket.reminder_due = None;
        if !ticket.inactive || ticket.status != Status::Open {
            return None;
        }
        let index = ticket.reminders_sent as usize;
        let step = ticket.settings.reminders.get(index)?.clone();
        ticket.reminders_sent += 1;
        ticket.ordinals.reminders += 1;
        fx.reminders.push(InactivityReminder {
            reminder_id: RecordId::new(&ticket.id, 'i', ticket.ordinals.reminders),
            account: self.account.clone(),
            conversation: self.conversation.clone(),
            ticket_id: Arc::clone(&ticket.id),
            channel: ticket.channel,
            step: index as i32 + 1,
            set_status: step.set_status,
            at: now,
        });
        if step.set_status.is_none() {
            ticket.arm_reminder(index + 1, now, fx);
        }
        step.set_status
    }

    /// Moves the current ticket to `to`, with every consequence: capacity, timers, metrics,
    /// and for live chat the immediate close after Solved.
    fn transition(
        &mut self,
        to: Status,
        cause: &Cause<'_>,
        now: Timestamp,
        fx: &mut TicketEffects,
    ) {
        let Some(ticket) = self.current.as_mut() else {
            return;
        };
        let from = ticket.status;
        ticket.time_in.add(from, now.since(ticket.status_since));
        ticket.status = to;
        ticket.status_since = now;

        if from == Status::Solved {
            if let Some(due) = ticket.close_due.take() {
                // An inactivity check armed for the same time shares the timer: keep it.
                if to != Status::Closed && ticket.inactivity_due != Some(due) {
                    fx.timers.push(TicketTimerCommand::Cancel(TicketTimer {
                        ticket_id: String::from(&*ticket.id),
                        due,
                    }));
                }
            }
            if to != Status::Closed {
                ticket.reopens += 1;
            }
        }
        if matches!(to, Status::Pending | Status::OnHold) {
            ticket.ever_parked = true;
        }
        if to == Status::Open {
            watch_inactivity(ticket, fx);
        } else {
            // Only an Open conversation can be inactive; a pending check finds it so.
            ticket.take_inactive();
        }
        fx.status_changes.push(status_change(
            &self.account,
            &self.conversation,
            ticket,
            Some(from),
            cause,
            now,
        ));

        let capacity = match (from.consumes_capacity(), to.consumes_capacity()) {
            (true, false) if to != Status::Closed => Some(RoutingRequestKind::Release),
            (false, true) => Some(match ticket.assignee {
                Some(_) => RoutingRequestKind::Consume,
                None => RoutingRequestKind::Enqueue,
            }),
            _ => None,
        };
        if let Some(kind) = capacity {
            let agent = ticket.assignee.clone();
            fx.routing_requests.push(routing_request(
                &self.account,
                &self.conversation,
                ticket,
                kind,
                agent.as_deref(),
                now,
            ));
        }

        match to {
            Status::Solved => {
                ticket.first_solved_at.get_or_insert(now);
                ticket.last_solved_at = Some(now);
                fx.ticket_metrics.push(ticket_metrics(
                    &self.account,
                    &self.conversation,
                    ticket,
                    now,
                ));
                let gap = ticket.settings.solved_to_closed.min(MAX_SOLVED_TO_CLOSED);
                if gap == Millis::ZERO {
                    let close = Cause {
                        actor_kind: ActorKind::Timer,
                        actor_id: None,
                        reason: "live_chat_closes_on_solve",
                    };
                    self.transition(Status::Closed, &close, now, fx);
                } else {
                    let due = now + gap;
                    ticket.close_due = Some(due);
                    fx.timers.push(TicketTimerCommand::Set(TicketTimer {
                        ticket_id: String::from(&*ticket.id),
                        due,
                    }));
                }
            }
            Status::Closed => {
                if let Some(due) = ticket.inactivity_due.take() {
                    fx.timers.push(TicketTimerCommand::Cancel(TicketTimer {
                        ticket_id: String::from(&*ticket.id),
                        due,
                    }));
                }
                fx.ticket_metrics.push(ticket_metrics(
                    &self.account,
                    &self.conversation,
                    ticket,
                    now,
                ));
                let agent = ticket.assignee.clone();
                let request = routing_request(
                    &self.account,
                    &self.conversation,
                    ticket,
                    RoutingRequestKind::Close,
                    agent.as_deref(),
                    now,
                );
                fx.routing_requests.push(request);
                self.last_closed = self.current.take().map(|t| String::from(&*t.id));
            }
            _ => {}
        }
    }

    fn is_mine(&self, account: &str, conversation: &str, fx: &mut TicketEffects) -> bool {
        let mine = *account == *self.account && *conversation == *self.conversation;
        if !mine {
            let detail = format!(
                "input for {account}/{conversation} given to the lifecycle of {}/{}",
                self.account, self.conversation
            );
            fx.reject(RejectionKind::WrongConversation, detail);
        }
        mine
    }
}

fn input_hash(kind: u8, id: &str) -> u64 {
    stable_hash(&[&[kind], id.as_bytes()])
}
