//! The routing engine: one account's router, stepped by requests, presence and timers.

use super::agents::{AgentIndex, ChannelSlot, MISSED_OFFERS};
use super::config::{QueueOrder, RoutingConfig};
use super::fast_map::{FastMap, FastSet};
use super::ledger::{AgentSlot, CapacityLedger};
use super::queue::{ClassId, ClassKey, QueueKey, RoutingQueue, SlaRank};
use super::queues::{QueuePlacement, QueueRules, STANDARD_QUEUE_PRIORITY};
use super::types::{
    AgentChannelView, RoutingEffects, RoutingInput, RoutingRejection, RoutingTicketView,
    RoutingTimer, RoutingTimerCommand,
};
use crate::model::{
    AgentMetrics, AgentPresence, AgentStatus, Channel, RoutingDecision, RoutingDecisionKind,
    RoutingRequest, RoutingRequestKind,
};
use crate::time::Timestamp;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

#[derive(Clone, Debug)]
pub(super) enum TicketState {
    Queued,
    Offered {
        agent: AgentSlot,
        due: Timestamp,
    },
    Assigned {
        agent: AgentSlot,
        grace_due: Option<Timestamp>,
        /// The conversation went quiet: it holds no capacity until the end user writes.
        inactive: bool,
    },
}

#[derive(Clone, Debug)]
pub(super) struct Ticket {
    pub(super) id: Arc<str>,
    pub(super) account: String,
    pub(super) conversation: String,
    pub(super) channel: Channel,
    pub(super) priority: i32,
    pub(super) skills: Vec<String>,
    pub(super) group: Option<String>,
    pub(super) created_at: Timestamp,
    /// When its next SLA target runs out, as its latest request said.
    pub(super) sla_breach_at: Option<Timestamp>,
    pub(super) queued_since: Option<Timestamp>,
    pub(super) skills_relaxed: bool,
    pub(super) skills_due: Option<Timestamp>,
    /// The custom queue it matched; `None` for the standard queue.
    pub(super) queue: Option<Arc<QueuePlacement>>,
    /// Whether its queue's secondary groups may take it (after the queue's wait).
    pub(super) secondary_open: bool,
    /// When its queue's secondary groups become eligible, if pending.
    pub(super) secondary_due: Option<Timestamp>,
    /// The routing class for its current skills (relaxed or not).
    pub(super) class: ClassId,
    pub(super) state: TicketState,
    /// Agents who declined the ticket or let its offer time out, oldest first.
    pub(super) declined_by: Vec<Arc<str>>,
}

impl Ticket {
    /// Its place in the queue, in the account's queue order.
    pub(super) fn queue_key(&self, order: QueueOrder) -> QueueKey {
        QueueKey {
            queue_priority: self
                .queue
                .as_ref()
                .map_or(STANDARD_QUEUE_PRIORITY, |q| q.priority),
            sla: match (order, self.sla_breach_at) {
                (QueueOrder::Sla, Some(at)) => SlaRank::Due(at),
                _ => SlaRank::Unranked,
            },
            priority: Reverse(self.priority),
            created_at: self.created_at,
            ticket: self.id.clone(),
        }
    }

    fn note_decline(&mut self, agent: Arc<str>) {
        self.declined_by.retain(|id| *id != agent);
        self.declined_by.push(agent);
    }

    pub(super) fn class_key(&self) -> ClassKey {
        ClassKey {
            channel: self.channel,
            skills: if self.skills_relaxed {
                Vec::new()
            } else {
                self.skills.clone()
            },
            groups: self.groups(),
        }
    }

    /// The groups whose agents may take it (any agent if none): its queue's primary group,
    /// with the secondary groups once open; in the standard queue, its own group.
    fn groups(&self) -> Vec<String> {
        match &self.queue {
            Some(queue) if self.secondary_open => {
                let mut groups = queue.secondary_groups.clone();
                groups.push(queue.primary_group.clone());
                groups.sort();
                groups.dedup();
                groups
            }
            Some(queue) => vec![queue.primary_group.clone()],
            None => self.group.iter().cloned().collect(),
        }
    }
}

/// One step's working state.
#[derive(Debug)]
struct Step {
    input_id: String,
    now: Timestamp,
    effects: RoutingEffects,
    touched: BTreeSet<(Arc<str>, Channel)>,
    pending_tickets: BTreeSet<QueueKey>,
    pending_agents: BTreeSet<(Arc<str>, Channel)>,
}

impl Step {
    fn new(input_id: &str, now: Timestamp) -> Step {
        Step {
            input_id: input_id.to_owned(),
            now,
            effects: RoutingEffects::default(),
            touched: BTreeSet::new(),
            pending_tickets: BTreeSet::new(),
            pending_agents: BTreeSet::new(),
        }
    }

    fn decide(&mut self, ticket: &Ticket, kind: RoutingDecisionKind, agent: &str, reason: &str) {
        let n = self.effects.decisions.len() + 1;
        self.effects.decisions.push(RoutingDecision {
            decision_id: format!("{}.d{n}", self.input_id),
            account: ticket.account.clone(),
            conversation: ticket.conversation.clone(),
            ticket_id: ticket.id.to_string(),
            kind,
            agent_id: Some(agent.to_owned()),
            reason: reason.to_owned(),
            at: self.now,
        });
    }

    fn reject(&mut self, reason: String) {
        let input_id = self.input_id.clone();
        self.effects
            .rejections
            .push(RoutingRejection { input_id, reason });
    }

    fn timer(&mut self, command: RoutingTimerCommand) {
        self.effects.timers.push(command);
    }
}

fn sorted(items: &[String]) -> Vec<String> {
    let mut items = items.to_vec();
    items.sort();
    items.dedup();
    items
}

/// Adds the time since `status_since` to the status's counter. Inputs come from several
/// producers, so `now` may be earlier than a time already seen: that adds nothing, and
/// `status_since` never moves back, so no span is counted twice.
fn accrue(slot: &mut ChannelSlot, now: Timestamp) {
    let elapsed = now.since(slot.status_since);
    let bucket = match slot.status {
        AgentStatus::Online => &mut slot.counters.online_ms,
        AgentStatus::Away => &mut slot.counters.away_ms,
        AgentStatus::TransfersOnly => &mut slot.counters.transfers_only_ms,
        AgentStatus::Offline => &mut slot.counters.offline_ms,
    };
    bucket.0 += elapsed.0;
    slot.status_since = now.max(slot.status_since);
}

#[cfg(test)]
mod accrue_tests {
    use super::*;

    #[test]
    fn an_earlier_now_adds_nothing_and_counts_no_span_twice() {
        let mut slot = ChannelSlot::offline(Timestamp(0));
        slot.status = AgentStatus::Online;
        accrue(&mut slot, Timestamp(10_000));
        accrue(&mut slot, Timestamp(4_000));
        accrue(&mut slot, Timestamp(12_000));
        assert_eq!(slot.counters.online_ms.0, 12_000);
        assert_eq!(slot.status_since, Timestamp(12_000));
    }
}

fn withdraw_reason(status: AgentStatus) -> &'static str {
    match status {
        AgentStatus::Online => "agent_online",
        AgentStatus::Away => "agent_away",
        AgentStatus::TransfersOnly => "agent_transfers_only",
        AgentStatus::Offline => "agent_offline",
    }
}

/// One account's omnichannel router.
///
/// # Calling contract
///
/// - Feed every input with [`RoutingEngine::step`] (or the three `handle_*` methods it
///   dispatches to) and the current time; `now` never goes backwards between calls.
/// - Apply the returned [`RoutingEffects`] before the next step: publish the decisions and
///   metrics, set and cancel the timers, send the rejections to the DLQ.
/// - Feed back every timer that comes due with [`RoutingEngine::handle_timer`]; stale ones
///   are ignored.
/// - To persist, after each step (or batch of steps) call [`RoutingEngine::take_dirty`] and
///   write [`RoutingEngine::agent_record`] / [`RoutingEngine::ticket_record`] of each id (or
///   delete it if `None`); rebuild with [`RoutingEngine::restore`].
///
/// # Rules
///
/// An agent is eligible for a ticket when online on its channel, with free capacity there
/// (capacity less load less pending offers), with all the ticket's required skills (unless
/// relaxed by the skills timeout) and in its group if it has one. After every step, no
/// queued ticket has an eligible agent: each new or requeued ticket is matched at once
/// (highest-ordered first), and each agent who gains free capacity takes the
/// highest-ordered ticket it is eligible for until it is full. The same inputs give
/// byte-identical effects: ids come from the input ids and an ordinal, and nothing depends
/// on hash order.
///
/// Choices made where the specification is silent:
/// - A pending offer reserves a unit of the agent's capacity, so an agent is never offered
///   more than it can take; `load` in the metrics counts assigned tickets only.
/// - An agent who is no longer online on a channel (offline, away or transfers-only) loses
///   its pending offers there at once (`agent_offline`, `agent_away`,
///   `agent_transfers_only`); its assigned tickets stay.
/// - A declined or timed-out offer goes to the best agent who has not turned the ticket
///   down; if only agents who have are eligible, to the one whose refusal is the oldest.
/// - The returning-customer grace starts at the reopen (`consume`) when the assignee is
///   offline on the ticket's channel, and ends when the assignee is anything but offline.
/// - With `away_after_offer_timeouts` set, the run of offer timeouts is counted per agent
///   and channel; an accept or a decline ends it. At the limit the agent is set away on the
///   channel (its agent metrics say `status_reason: missed_offers`) and its other pending
///   offers there are withdrawn (`missed_offers`) and routed again at once. The agent's
///   next presence replaces that status.
/// - Messaging inactivity: `inactive` frees the assignee's capacity of a ticket that takes
///   it and marks it inactive (counted in the agent metrics' `inactive`, not in `load`); an
///   offline assignee's returning-customer grace ends with it. `consume` makes it active and
///   takes the capacity again, even above the limit. `release`, `close`, a manual
///   assignment (which takes the new assignee's capacity) or a requeue end it too.
/// - Agent metrics are emitted for every agent and channel a step touched, once per step.
/// - Requests for unknown tickets: `consume` and `assign` create them (the ticket processor
///   is the source of truth for assignment), `release` and `close` are no-ops, `accept` and
///   `decline` are rejected. A repeated `enqueue` is a no-op.
#[derive(Debug)]
pub struct RoutingEngine {
    pub(super) account: String,
    pub(super) config: RoutingConfig,
    /// The account's custom queues; a ticket is placed when the router first sees it.
    pub(super) queues: QueueRules,
    pub(super) agents: AgentIndex,
    pub(super) queue: RoutingQueue,
    pub(super) ledger: CapacityLedger,
    pub(super) tickets: FastMap<Arc<str>, Ticket>,
    pub(super) assign_seq: u64,
    /// Changed since the last `take_dirty`; sorted when taken.
    pub(super) dirty_agents: FastSet<Arc<str>>,
    pub(super) dirty_tickets: FastSet<Arc<str>>,
}

impl RoutingEngine {
    /// An empty router for `account`.
    pub fn new(account: impl Into<String>, config: RoutingConfig) -> RoutingEngine {
        RoutingEngine {
            account: account.into(),
            config,
            queues: QueueRules::default(),
            agents: AgentIndex::default(),
            queue: RoutingQueue::default(),
            ledger: CapacityLedger::default(),
            tickets: FastMap::default(),
            assign_seq: 0,
            dirty_agents: FastSet::default(),
            dirty_tickets: FastSet::default(),
        }
    }

    /// The account this router serves.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The configuration in force.
    pub fn config(&self) -> &RoutingConfig {
        &self.config
    }

    /// Replaces the configuration. Takes effect for decisions from the next step; offers
    /// and timers already made keep their times. A new queue order re-orders the queued
    /// tickets at once.
    pub fn set_config(&mut self, config: RoutingConfig) {
        let mode_changed = config.mode != self.config.mode;
        let order = self.config.queue_order;
        self.config = config;
        self.reorder(order);
        if mode_changed {
            for slot in self.agents.slots().collect::<Vec<_>>() {
                self.agents
                    .attach(slot, &self.ledger, &self.queue, self.config.mode);
            }
        }
    }

    /// The account's custom queues.
    pub fn queues(&self) -> &QueueRules {
        &self.queues
    }

    /// Replaces the account's custom queues. A ticket is placed in a queue when the router
    /// first sees it and stays there: the new queues place tickets from the next step.
    pub fn set_queues(&mut self, queues: QueueRules) {
        self.queues = queues;
    }

    /// The queue.
    pub fn queue(&self) -> &RoutingQueue {
        &self.queue
    }

    /// How many tickets the router knows (queued, offered or assigned).
    pub fn ticket_count(&self) -> usize {
        self.tickets.len()
    }

    /// How many agents the router knows.
    pub fn agent_count(&self) -> usize {
        self.agents.len()
    }

    /// Steps the engine with any input.
    pub fn step(&mut self, input: &RoutingInput, now: Timestamp) -> RoutingEffects {
        match input {
            RoutingInput::Request(request) => self.handle_request(request, now),
            RoutingInput::Presence(presence) => self.handle_presence(presence, now),
            RoutingInput::Timer(timer) => self.handle_timer(timer, now),
        }
    }

    /// Applies a request from the ticket processor.
    pub fn handle_request(&mut self, request: &RoutingRequest, now: Timestamp) -> RoutingEffects {
        let mut step = Step::new(&request.request_id, now);
        if request.account != self.account {
            step.reject(format!(
                "routing request {}: account {:?} is not this router's account {:?}",
                request.request_id, request.account, self.account
            ));
            return self.finish(step);
        }
        self.refresh(request);
        let agent = request.agent_id.as_deref();
        match (request.kind, agent) {
            // The new priority and breach time are the request's whole effect.
            (RoutingRequestKind::Update, _) => {}
            (RoutingRequestKind::Enqueue, _) => self.enqueue(request, &mut step),
            (RoutingRequestKind::Close, _) => self.close(&request.ticket_id, &mut step),
            (RoutingRequestKind::Accept, Some(agent)) => {
                self.answer(request, agent, true, &mut step)
            }
            (RoutingRequestKind::Decline, Some(agent)) => {
                self.answer(request, agent, false, &mut step)
            }
            (RoutingRequestKind::Consume, Some(agent)) => self.consume(request, agent, &mut step),
            (RoutingRequestKind::Release, Some(agent)) => self.release(request, agent, &mut step),
            (RoutingRequestKind::Assign, Some(agent)) => {
                self.manual_assign(request, agent, &mut step)
            }
            (RoutingRequestKind::Inactive, Some(_)) => self.inactive(request, &mut step),
            (kind, None) => step.reject(format!(
                "routing request {}: agent_id is required for kind {kind:?} and is missing",
                request.request_id
            )),
        }
        self.dispatch(&mut step);
        self.finish(step)
    }

    /// Applies an agent's new presence: it replaces the agent's whole record. A presence
    /// without an agent id, or naming a channel twice, is refused.
    pub fn handle_presence(&mut self, presence: &AgentPresence, now: Timestamp) -> RoutingEffects {
        let mut step = Step::new(&presence.presence_id, now);
        if presence.account != self.account {
            step.reject(format!(
                "agent presence {}: account {:?} is not this router's account {:?}",
                presence.presence_id, presence.account, self.account
            ));
            return self.finish(step);
        }
        if let Some(rule) = presence_rule(presence) {
            step.reject(format!("agent presence {}: {rule}", presence.presence_id));
            return self.finish(step);
        }
        let a = self.agents.ensure(&presence.agent_id);
        self.agents.detach(a);
        let mut wanted: BTreeMap<Channel, (AgentStatus, u32)> = BTreeMap::new();
        for ch in &presence.channels {
            wanted.insert(ch.channel, (ch.status, ch.capacity));
        }
        let agent = self.agents.get_mut(a);
        let channels: BTreeSet<Channel> = agent
            .channels
            .keys()
            .chain(wanted.keys())
            .copied()
            .collect();
        for channel in channels {
            let (status, capacity) = wanted
                .get(&channel)
                .copied()
                .unwrap_or((AgentStatus::Offline, 0));
            let slot = agent
                .channels
                .entry(channel)
                .or_insert_with(|| ChannelSlot::offline(now));
            if slot.status != status {
                accrue(slot, now);
                slot.status = status;
            }
            // The status is the agent's own again.
            slot.away_for_missed_offers = false;
            slot.capacity = capacity;
            step.touched.insert((agent.id.clone(), channel));
        }
        agent.skills = presence.skills.iter().cloned().collect();
        agent.groups = presence.groups.iter().cloned().collect();
        self.agents.recompute_classes(a, &self.queue);
        self.agents
            .attach(a, &self.ledger, &self.queue, self.config.mode);

        // Offers on channels where the agent is no longer online go to someone else at once.
        let agent = self.agents.get(a);
        let withdrawn: Vec<(Arc<str>, AgentStatus)> = agent
            .offers
            .iter()
            .filter_map(|t| {
                let status = agent.status(self.tickets[t].channel);
                (status != AgentStatus::Online).then(|| (t.clone(), status))
            })
            .collect();
        // Reopened tickets waiting for this agent stop waiting once the agent is back.
        let back: Vec<Arc<str>> = agent
            .in_grace
            .iter()
            .filter(|t| agent.status(self.tickets[*t].channel) != AgentStatus::Offline)
            .cloned()
            .collect();
        let online: Vec<(Arc<str>, Channel)> = agent
            .channels
            .iter()
            .filter(|(_, slot)| slot.status == AgentStatus::Online)
            .map(|(ch, _)| (agent.id.clone(), *ch))
            .collect();
        for (ticket, status) in withdrawn {
            self.withdraw(&ticket, withdraw_reason(status), &mut step);
            self.enqueue_known(&ticket, &mut step);
        }
        for ticket in back {
            self.cancel_grace(&ticket, &mut step);
        }
        step.pending_agents.extend(online);
        self.dispatch(&mut step);
        self.finish(step)
    }

    /// Applies a timer the engine set, now due. A stale timer is ignored.
    pub fn handle_timer(&mut self, timer: &RoutingTimer, now: Timestamp) -> RoutingEffects {
        let mut step = Step::new(&timer.firing_id(), now);
        let Some(ticket) = self.tickets.get(timer.ticket_id()) else {
            return self.finish(step);
        };
        let id = ticket.id.clone();
        match (timer, &ticket.state) {
            (
                RoutingTimer::OfferTimeout { agent_id, due, .. },
                TicketState::Offered {
                    agent,
                    due: current,
                },
            ) if due == current && *self.agents.get(*agent).id == **agent_id => {
                let a = *agent;
                let channel = ticket.channel;
                self.counters(a, channel, now).offers_timed_out += 1;
                self.withdraw(&id, "offer_timeout", &mut step);
                let agent_id = self.agents.get(a).id.clone();
                self.ticket_mut(&id).note_decline(agent_id);
                self.enqueue_known(&id, &mut step);
                self.note_offer_timeout(a, channel, &mut step);
            }
            (RoutingTimer::SkillsTimeout { due, .. }, _) if ticket.skills_due == Some(*due) => {
                self.relax_skills(&id, &mut step);
            }
            (RoutingTimer::SecondaryGroups { due, .. }, _)
                if ticket.secondary_due == Some(*due) =>
            {
                self.open_secondary_groups(&id, &mut step);
            }
            (
                RoutingTimer::ReturningGrace { agent_id, due, .. },
                TicketState::Assigned {
                    agent,
                    grace_due: Some(current),
                    ..
                },
            ) if due == current && *self.agents.get(*agent).id == **agent_id => {
                let a = *agent;
                let channel = ticket.channel;
                self.agents.get_mut(a).in_grace.remove(&id);
                self.release_capacity(&id, &mut step);
                let ticket = &self.tickets[&id];
                step.decide(
                    ticket,
                    RoutingDecisionKind::Unassigned,
                    agent_id,
                    "returning_customer_grace_expired",
                );
                self.touch_agent(a, channel, &mut step);
                self.enqueue_known(&id, &mut step);
            }
            _ => {}
        }
        self.dispatch(&mut step);
        self.finish(step)
    }

    // ---- requests ----

    fn enqueue(&mut self, request: &RoutingRequest, step: &mut Step) {
        match self
            .tickets
            .get(request.ticket_id.as_str())
            .map(|t| &t.state)
        {
            None => {
                let id = self.create_ticket(request);
                self.enqueue_known(&id, step);
            }
            // A repeat: the ticket is already being routed.
            Some(TicketState::Queued | TicketState::Offered { .. }) => {}
            // The ticket processor says the ticket lost its assignee: route it again.
            Some(TicketState::Assigned { .. }) => {
                let id = self.tickets[request.ticket_id.as_str()].id.clone();
                self.cancel_grace(&id, step);
                self.clear_inactive(&id, step);
                self.release_capacity(&id, step);
                self.enqueue_known(&id, step);
            }
        }
    }

    fn answer(&mut self, request: &RoutingRequest, agent_id: &str, accept: bool, step: &mut Step) {
        let verb = if accept { "accept" } else { "decline" };
        let current = match self.tickets.get(request.ticket_id.as_str()) {
            None => Err("the router has no such ticket (closed or never queued)".to_owned()),
            Some(t) => match &t.state {
                TicketState::Offered { agent, .. } if &*self.agents.get(*agent).id == agent_id => {
                    Ok((t.id.clone(), *agent, t.channel))
                }
                TicketState::Offered { agent, .. } => Err(format!(
                    "the ticket is offered to {:?}, not to this agent",
                    &*self.agents.get(*agent).id
                )),
                TicketState::Queued => Err("the ticket is queued, not offered".to_owned()),
                TicketState::Assigned { agent, .. } => Err(format!(
                    "the ticket is already assigned to {:?}",
                    &*self.agents.get(*agent).id
                )),
            },
        };
        let (id, a, channel) = match current {
            Ok(found) => found,
            Err(why) => {
                step.reject(format!(
                    "routing request {}: {verb} by agent_id {agent_id:?} of ticket_id {:?} refused: {why}; \
                     only the agent holding the current offer may answer it",
                    request.request_id, request.ticket_id
                ));
                return;
            }
        };
        if let Some(slot) = self.agents.get_mut(a).channels.get_mut(&channel) {
            slot.offer_timeouts_in_row = 0;
        }
        if accept {
            self.counters(a, channel, step.now).offers_accepted += 1;
            self.withdraw_silently(&id, step);
            self.make_assigned(&id, a, true, step);
            step.decide(
                &self.tickets[&id],
                RoutingDecisionKind::Assigned,
                agent_id,
                "accepted",
            );
        } else {
            self.counters(a, channel, step.now).offers_declined += 1;
            self.withdraw(&id, "declined", step);
            let agent = self.agents.get(a).id.clone();
            self.ticket_mut(&id).note_decline(agent);
            self.enqueue_known(&id, step);
        }
    }

    fn consume(&mut self, request: &RoutingRequest, agent_id: &str, step: &mut Step) {
        let a = self.ensure_agent(agent_id);
        let id = match self.tickets.get(request.ticket_id.as_str()) {
            Some(t) => t.id.clone(),
            None => self.create_ticket(request),
        };
        self.take_out(&id, "reopened_with_assignee", step);
        self.make_assigned_quietly(&id, a, true, step);
        let channel = self.tickets[&id].channel;
        if self.agents.get(a).status(channel) == AgentStatus::Offline {
            let due = step.now + self.config.returning_grace_ms;
            if let TicketState::Assigned { grace_due, .. } = &mut self.ticket_mut(&id).state {
                *grace_due = Some(due);
            }
            self.agents.get_mut(a).in_grace.insert(id.clone());
            step.timer(RoutingTimerCommand::Set(RoutingTimer::ReturningGrace {
                ticket_id: id.to_string(),
                agent_id: agent_id.to_owned(),
                due,
            }));
        }
        self.dirty_tickets.insert(id);
    }

    fn release(&mut self, request: &RoutingRequest, _agent_id: &str, step: &mut Step) {
        let Some(ticket) = self.tickets.get(request.ticket_id.as_str()) else {
            return;
        };
        let id = ticket.id.clone();
        match ticket.state {
            TicketState::Assigned { .. } => {
                self.cancel_grace(&id, step);
                self.clear_inactive(&id, step);
                self.release_capacity(&id, step);
                self.dirty_tickets.insert(id);
            }
            // Pending, On-hold or Solved without an assignee is not routable: forget it
            // until the ticket processor queues it again.
            TicketState::Queued | TicketState::Offered { .. } => {
                self.take_out(&id, "ticket_not_routable", step);
                self.forget(&id, step);
            }
        }
    }

    /// The assigned conversation went quiet: it frees its assignee's capacity (the agent
    /// may take new work at once) and counts as inactive until a `consume`. Ignored unless
    /// the ticket is assigned and takes capacity.
    fn inactive(&mut self, request: &RoutingRequest, step: &mut Step) {
        let Some(ticket) = self.tickets.get(request.ticket_id.as_str()) else {
            return;
        };
        let id = ticket.id.clone();
        let channel = ticket.channel;
        let TicketState::Assigned {
            agent: a,
            inactive: false,
            ..
        } = ticket.state
        else {
            return;
        };
        if self.ledger.holder(&id).is_none() {
            return;
        }
        // Nobody waits on a quiet conversation: an offline assignee's grace ends with it.
        self.cancel_grace(&id, step);
        self.release_capacity(&id, step);
        if let TicketState::Assigned { inactive, .. } = &mut self.ticket_mut(&id).state {
            *inactive = true;
        }
        let now = step.now;
        self.agents
            .get_mut(a)
            .channels
            .entry(channel)
            .or_insert_with(|| ChannelSlot::offline(now))
            .inactive += 1;
        self.touch_agent(a, channel, step);
        self.dirty_tickets.insert(id);
    }

    fn manual_assign(&mut self, request: &RoutingRequest, agent_id: &str, step: &mut Step) {
        let a = self.ensure_agent(agent_id);
        let (id, consuming) = match self.tickets.get(request.ticket_id.as_str()) {
            None => (self.create_ticket(request), true),
            Some(t) => match t.state {
                TicketState::Queued | TicketState::Offered { .. } => (t.id.clone(), true),
                TicketState::Assigned { inactive, .. } => (
                    t.id.clone(),
                    inactive || self.ledger.holder(&t.id).is_some(),
                ),
            },
        };
        self.take_out(&id, "manual_assignment", step);
        self.make_assigned(&id, a, consuming, step);
        step.decide(
            &self.tickets[&id],
            RoutingDecisionKind::Assigned,
            agent_id,
            "manual_assignment",
        );
    }

    fn close(&mut self, ticket_id: &str, step: &mut Step) {
        let Some(ticket) = self.tickets.get(ticket_id) else {
            return;
        };
        let id = ticket.id.clone();
        self.take_out(&id, "ticket_closed", step);
        self.release_capacity(&id, step);
        self.forget(&id, step);
    }

    // ---- building blocks ----

    fn ticket_mut(&mut self, id: &str) -> &mut Ticket {
        self.tickets.get_mut(id).expect("ticket exists")
    }

    fn create_ticket(&mut self, request: &RoutingRequest) -> Arc<str> {
        let id: Arc<str> = Arc::from(request.ticket_id.as_str());
        let mut ticket = Ticket {
            id: id.clone(),
            account: request.account.clone(),
            conversation: request.conversation.clone(),
            channel: request.channel,
            priority: request.priority,
            skills: sorted(&request.required_skills),
            group: request.group.clone(),
            created_at: request.created_at,
            sla_breach_at: request.sla_breach_at,
            queued_since: None,
            skills_relaxed: false,
            skills_due: None,
            secondary_open: false,
            secondary_due: None,
            queue: self.queues.place(request),
            class: 0,
            state: TicketState::Queued,
            declined_by: Vec::new(),
        };
        ticket.class = self.ensure_class(ticket.class_key());
        self.tickets.insert(id.clone(), ticket);
        self.dirty_tickets.insert(id.clone());
        id
    }

    fn forget(&mut self, id: &Arc<str>, step: &mut Step) {
        let ticket = self.tickets.remove(id).expect("ticket exists");
        if let Some(due) = ticket.skills_due {
            step.timer(RoutingTimerCommand::Cancel(RoutingTimer::SkillsTimeout {
                ticket_id: id.to_string(),
                due,
            }));
        }
        if let Some(due) = ticket.secondary_due {
            step.timer(RoutingTimerCommand::Cancel(RoutingTimer::SecondaryGroups {
                ticket_id: id.to_string(),
                due,
            }));
        }
        self.dirty_tickets.insert(id.clone());
    }

    /// The agent's slot; an agent named by a request before any presence is created offline
    /// on every channel (a manual assignment or reopen is a fact the ledger must record).
    fn ensure_agent(&mut self, agent_id: &str) -> AgentSlot {
        let known = self.agents.slot(agent_id);
        let a = self.agents.ensure(agent_id);
        if known.is_none() {
            self.dirty_agents.insert(self.agents.get(a).id.clone());
        }
        a
    }

    fn ensure_class(&mut self, key: ClassKey) -> ClassId {
        if let Some(class) = self.queue.class_id(&key) {
            return class;
        }
        let class = self.queue.add_class(key);
        self.agents
            .add_class(class, &self.ledger, &self.queue, self.config.mode);
        class
    }

    fn counters(
        &mut self,
        a: AgentSlot,
        channel: Channel,
        now: Timestamp,
    ) -> &mut super::records::ChannelCounters {
        let agent = self.agents.get_mut(a);
        &mut agent
            .channels
            .entry(channel)
            .or_insert_with(|| ChannelSlot::offline(now))
            .counters
    }

    fn touch_agent(&mut self, a: AgentSlot, channel: Channel, step: &mut Step) {
        let id = self.agents.get(a).id.clone();
        self.dirty_agents.insert(id.clone());
        step.touched.insert((id, channel));
    }

    /// Puts a known ticket in the queue and marks it for matching.
    fn enqueue_known(&mut self, id: &Arc<str>, step: &mut Step) {
        let skills_timeout = self.config.skills_timeout_ms;
        let order = self.config.queue_order;
        let ticket = self.tickets.get_mut(id).expect("ticket exists");
        ticket.state = TicketState::Queued;
        let since = *ticket.queued_since.get_or_insert(step.now);
        if let Some(timeout) = skills_timeout {
            if !ticket.skills_relaxed && !ticket.skills.is_empty() && ticket.skills_due.is_none() {
                let due = since + timeout;
                ticket.skills_due = Some(due);
                step.timer(RoutingTimerCommand::Set(RoutingTimer::SkillsTimeout {
                    ticket_id: id.to_string(),
                    due,
                }));
            }
        }
        if let Some(queue) = &ticket.queue {
            if !ticket.secondary_open
                && !queue.secondary_groups.is_empty()
                && ticket.secondary_due.is_none()
            {
                let due = since + queue.secondary_after_ms;
                ticket.secondary_due = Some(due);
                step.timer(RoutingTimerCommand::Set(RoutingTimer::SecondaryGroups {
                    ticket_id: id.to_string(),
                    due,
                }));
            }
        }
        let key = ticket.queue_key(order);
        self.queue.push(ticket.class, key.clone());
        step.pending_tickets.insert(key);
        self.dirty_tickets.insert(id.clone());
    }

    /// Takes a ticket out of the queue or its offer (emitting `offer_withdrawn` with
    /// `reason`) and out of any returning-customer grace. The caller sets the next state.
    fn take_out(&mut self, id: &Arc<str>, reason: &str, step: &mut Step) {
        match self.tickets[id].state {
            TicketState::Queued => {
                let ticket = &self.tickets[id];
                self.queue
                    .remove(ticket.class, &ticket.queue_key(self.config.queue_order));
            }
            TicketState::Offered { .. } => self.withdraw(id, reason, step),
            TicketState::Assigned { .. } => {
                self.cancel_grace(id, step);
                self.clear_inactive(id, step);
            }
        }
    }

    /// Withdraws the current offer, emitting `offer_withdrawn`.
    fn withdraw(&mut self, id: &Arc<str>, reason: &str, step: &mut Step) {
        let a = self.withdraw_silently(id, step);
        let agent_id = self.agents.get(a).id.clone();
        step.decide(
            &self.tickets[id],
            RoutingDecisionKind::OfferWithdrawn,
            &agent_id,
            reason,
        );
    }

    /// Ends the current offer without a decision (the caller emits one): frees the agent's
    /// reserved capacity and cancels the offer timer.
    fn withdraw_silently(&mut self, id: &Arc<str>, step: &mut Step) -> AgentSlot {
        let ticket = &self.tickets[id];
        let TicketState::Offered { agent: a, due } = ticket.state else {
            unreachable!("withdraw of a ticket not offered");
        };
        let channel = ticket.channel;
        self.agents.detach(a);
        let agent = self.agents.get_mut(a);
        if let Some(slot) = agent.channels.get_mut(&channel) {
            slot.offered -= 1;
        }
        agent.offers.remove(id);
        let agent_id = agent.id.clone();
        self.agents
            .attach(a, &self.ledger, &self.queue, self.config.mode);
        step.timer(RoutingTimerCommand::Cancel(RoutingTimer::OfferTimeout {
            ticket_id: id.to_string(),
            agent_id: agent_id.to_string(),
            due,
        }));
        step.pending_agents.insert((agent_id, channel));
        self.touch_agent(a, channel, step);
        self.dirty_tickets.insert(id.clone());
        a
    }

    /// Counts an offer of `a` on `channel` that timed out; at the configured run of them,
    /// sets the agent away there and sends its other pending offers of the channel to other
    /// agents (`missed_offers`).
    fn note_offer_timeout(&mut self, a: AgentSlot, channel: Channel, step: &mut Step) {
        let Some(limit) = self.config.away_after_offer_timeouts else {
            return;
        };
        let now = step.now;
        let Some(slot) = self.agents.get_mut(a).channels.get_mut(&channel) else {
            return;
        };
        slot.offer_timeouts_in_row += 1;
        if slot.offer_timeouts_in_row < limit.get() || slot.status != AgentStatus::Online {
            return;
        }
        self.agents.detach(a);
        let slot = self
            .agents
            .get_mut(a)
            .channels
            .get_mut(&channel)
            .expect("the slot exists");
        accrue(slot, now);
        slot.status = AgentStatus::Away;
        slot.offer_timeouts_in_row = 0;
        slot.away_for_missed_offers = true;
        self.agents.recompute_classes(a, &self.queue);
        self.agents
            .attach(a, &self.ledger, &self.queue, self.config.mode);
        let agent = self.agents.get(a);
        let pending: Vec<Arc<str>> = agent
            .offers
            .iter()
            .filter(|t| self.tickets[*t].channel == channel)
            .cloned()
            .collect();
        for ticket in pending {
            self.withdraw(&ticket, MISSED_OFFERS, step);
            self.enqueue_known(&ticket, step);
        }
        self.touch_agent(a, channel, step);
    }

    /// Makes an inactive ticket active again (it holds no capacity yet: the caller decides).
    fn clear_inactive(&mut self, id: &Arc<str>, step: &mut Step) {
        let ticket = self.tickets.get_mut(id).expect("ticket exists");
        let channel = ticket.channel;
        if let TicketState::Assigned {
            agent,
            inactive: inactive @ true,
            ..
        } = &mut ticket.state
        {
            *inactive = false;
            let a = *agent;
            if let Some(slot) = self.agents.get_mut(a).channels.get_mut(&channel) {
                slot.inactive = slot.inactive.saturating_sub(1);
            }
            self.touch_agent(a, channel, step);
            self.dirty_tickets.insert(id.clone());
        }
    }

    /// Ends the returning-customer grace of a ticket, if it is in one.
    fn cancel_grace(&mut self, id: &Arc<str>, step: &mut Step) {
        let ticket = self.tickets.get_mut(id).expect("ticket exists");
        if let TicketState::Assigned {
            agent, grace_due, ..
        } = &mut ticket.state
        {
            if let Some(due) = grace_due.take() {
                let agent = self.agents.get_mut(*agent);
                agent.in_grace.remove(id);
                step.timer(RoutingTimerCommand::Cancel(RoutingTimer::ReturningGrace {
                    ticket_id: id.to_string(),
                    agent_id: agent.id.to_string(),
                    due,
                }));
                self.dirty_tickets.insert(id.clone());
            }
        }
    }

    /// Frees the capacity the ticket holds, if any, and lets its holder take new work.
    fn release_capacity(&mut self, id: &Arc<str>, step: &mut Step) {
        let Some((b, channel)) = self.ledger.holder(id) else {
            return;
        };
        self.agents.detach(b);
        self.ledger.release(id);
        self.agents
            .attach(b, &self.ledger, &self.queue, self.config.mode);
        step.pending_agents
            .insert((self.agents.get(b).id.clone(), channel));
        self.touch_agent(b, channel, step);
    }

    /// Makes the ticket assigned to `a` and counts an assignment (routing or by hand).
    fn make_assigned(&mut self, id: &Arc<str>, a: AgentSlot, consuming: bool, step: &mut Step) {
        let channel = self.tickets[id].channel;
        self.agents.detach(a);
        self.assign_seq += 1;
        self.agents.get_mut(a).last_assigned_seq = self.assign_seq;
        self.counters(a, channel, step.now).assignments += 1;
        // Left detached: make_assigned_quietly attaches the agent with its new rank.
        self.make_assigned_quietly(id, a, consuming, step);
    }

    /// Makes the ticket assigned to `a` (taking `a`'s capacity if `consuming`, releasing
    /// any other holder's) without counting an assignment.
    fn make_assigned_quietly(
        &mut self,
        id: &Arc<str>,
        a: AgentSlot,
        consuming: bool,
        step: &mut Step,
    ) {
        let channel = self.tickets[id].channel;
        match self.ledger.holder(id) {
            Some((holder, _)) if consuming && holder == a => {}
            Some(_) => self.release_capacity(id, step),
            None => {}
        }
        self.agents.detach(a);
        if consuming && self.ledger.holder(id).is_none() {
            self.ledger.consume(id, a, channel);
        }
        self.agents
            .attach(a, &self.ledger, &self.queue, self.config.mode);
        let ticket = self.tickets.get_mut(id).expect("ticket exists");
        ticket.state = TicketState::Assigned {
            agent: a,
            grace_due: None,
            inactive: false,
        };
        ticket.queued_since = None;
        ticket.declined_by.clear();
        if let Some(due) = ticket.skills_due.take() {
            step.timer(RoutingTimerCommand::Cancel(RoutingTimer::SkillsTimeout {
                ticket_id: id.to_string(),
                due,
            }));
        }
        if let Some(due) = ticket.secondary_due.take() {
            step.timer(RoutingTimerCommand::Cancel(RoutingTimer::SecondaryGroups {
                ticket_id: id.to_string(),
                due,
            }));
        }
        self.touch_agent(a, channel, step);
        self.dirty_tickets.insert(id.clone());
    }

    fn relax_skills(&mut self, id: &Arc<str>, step: &mut Step) {
        let ticket = self.ticket_mut(id);
        ticket.skills_due = None;
        ticket.skills_relaxed = true;
        self.reclass(id, step);
    }

    /// Opens a queued ticket to its queue's secondary groups.
    fn open_secondary_groups(&mut self, id: &Arc<str>, step: &mut Step) {
        let ticket = self.ticket_mut(id);
        ticket.secondary_due = None;
        ticket.secondary_open = true;
        self.reclass(id, step);
    }

    /// Moves a ticket to the routing class of its current skills and groups, and marks it
    /// for matching if queued.
    fn reclass(&mut self, id: &Arc<str>, step: &mut Step) {
        let key = self.tickets[id].class_key();
        let class = self.ensure_class(key);
        let ticket = self.tickets.get_mut(id).expect("ticket exists");
        if matches!(ticket.state, TicketState::Queued) {
            let key = ticket.queue_key(self.config.queue_order);
            self.queue.remove(ticket.class, &key);
            ticket.class = class;
            self.queue.push(class, key.clone());
            step.pending_tickets.insert(key);
        } else {
            ticket.class = class;
        }
        self.dirty_tickets.insert(id.clone());
    }

    /// Offers a queued ticket to `a` (or assigns it at once where auto-accept is on).
    fn offer(&mut self, id: &Arc<str>, a: AgentSlot, step: &mut Step) {
        let ticket = &self.tickets[id];
        self.queue
            .remove(ticket.class, &ticket.queue_key(self.config.queue_order));
        let channel = ticket.channel;
        let from_secondary = ticket.queue.as_ref().is_some_and(|q| {
            ticket.secondary_open && !self.agents.get(a).groups.contains(&q.primary_group)
        });
        let reason = if ticket.skills_relaxed && !ticket.skills.is_empty() {
            "skills_relaxed"
        } else if from_secondary {
            "secondary_group"
        } else {
            self.config.mode.reason()
        };
        let agent_id = self.agents.get(a).id.clone();
        let now = step.now;
        if self.config.auto_accepts(channel) {
            let counters = self.counters(a, channel, now);
            counters.offers_made += 1;
            counters.offers_accepted += 1;
            self.make_assigned(id, a, true, step);
            step.decide(
                &self.tickets[id],
                RoutingDecisionKind::Assigned,
                &agent_id,
                "auto_accept",
            );
            return;
        }
        let due = now + self.config.offer_timeout_ms;
        self.agents.detach(a);
        let agent = self.agents.get_mut(a);
        agent.offers.insert(id.clone());
        let slot = agent
            .channels
            .entry(channel)
            .or_insert_with(|| ChannelSlot::offline(now));
        slot.offered += 1;
        slot.counters.offers_made += 1;
        self.agents
            .attach(a, &self.ledger, &self.queue, self.config.mode);
        self.ticket_mut(id).state = TicketState::Offered { agent: a, due };
        step.timer(RoutingTimerCommand::Set(RoutingTimer::OfferTimeout {
            ticket_id: id.to_string(),
            agent_id: agent_id.to_string(),
            due,
        }));
        step.decide(
            &self.tickets[id],
            RoutingDecisionKind::Offered,
            &agent_id,
            reason,
        );
        self.touch_agent(a, channel, step);
        self.dirty_tickets.insert(id.clone());
    }

    /// Matches until no queued ticket has an eligible agent: requeued tickets first, in
    /// queue order, then agents who gained free capacity, each until full.
    ///
    /// A requeued ticket whose best agent gained capacity in this same step is deferred to
    /// that agent's turn, where the agent takes the highest-ordered ticket it is eligible
    /// for (which may be another one); deferred tickets are matched again after each agent.
    fn dispatch(&mut self, step: &mut Step) {
        let mut deferred: Vec<QueueKey> = Vec::new();
        loop {
            if let Some(key) = step.pending_tickets.pop_first() {
                let Some(ticket) = self.tickets.get(&key.ticket) else {
                    continue;
                };
                if !matches!(ticket.state, TicketState::Queued) {
                    continue;
                }
                if let Some(a) = self.agents.best_for(ticket.class, &ticket.declined_by) {
                    let agent_id = self.agents.get(a).id.clone();
                    if step.pending_agents.contains(&(agent_id, ticket.channel)) {
                        deferred.push(key);
                        continue;
                    }
                    let id = ticket.id.clone();
                    self.offer(&id, a, step);
                }
                continue;
            }
            if let Some((agent_id, channel)) = step.pending_agents.pop_first() {
                let a = self.agents.slot(&agent_id).expect("agent exists");
                self.fill(a, channel, step);
                step.pending_tickets.extend(deferred.drain(..));
                continue;
            }
            break;
        }
    }

    /// Offers the agent the highest-ordered tickets it is eligible for until it is full.
    fn fill(&mut self, a: AgentSlot, channel: Channel, step: &mut Step) {
        while self.agents.free(a, channel, &self.ledger) > 0 {
            let best = self
                .agents
                .get(a)
                .classes
                .iter()
                .filter(|c| self.queue.key(**c).channel == channel)
                .filter_map(|c| self.queue.head(*c))
                .min()
                .map(|key| key.ticket.clone());
            match best {
                Some(id) => self.offer(&id, a, step),
                None => break,
            }
        }
    }

    fn finish(&mut self, mut step: Step) -> RoutingEffects {
        let now = step.now;
        for (n, (agent_id, channel)) in std::mem::take(&mut step.touched).into_iter().enumerate() {
            let Some(a) = self.agents.slot(&agent_id) else {
                continue;
            };
            let agent = self.agents.get(a);
            let Some(slot) = agent.channels.get(&channel) else {
                continue;
            };
            let mut counters = slot.counters.clone();
            let elapsed = now.since(slot.status_since);
            let bucket = match slot.status {
                AgentStatus::Online => &mut counters.online_ms,
                AgentStatus::Away => &mut counters.away_ms,
                AgentStatus::TransfersOnly => &mut counters.transfers_only_ms,
                AgentStatus::Offline => &mut counters.offline_ms,
            };
            bucket.0 += elapsed.0;
            step.effects.agent_metrics.push(AgentMetrics {
                metrics_id: format!("{}.m{}", step.input_id, n + 1),
                account: self.account.clone(),
                agent_id: agent_id.to_string(),
                channel,
                status: slot.status,
                capacity: slot.capacity,
                load: self.ledger.load(a, channel),
                offers_made: counters.offers_made,
                offers_accepted: counters.offers_accepted,
                offers_declined: counters.offers_declined,
                offers_timed_out: counters.offers_timed_out,
                assignments: counters.assignments,
                online_ms: counters.online_ms,
                away_ms: counters.away_ms,
                transfers_only_ms: counters.transfers_only_ms,
                offline_ms: counters.offline_ms,
                inactive: slot.inactive,
                at: now,
                status_reason: slot.status_reason().map(str::to_owned),
            });
            self.dirty_agents.insert(agent_id);
        }
        step.effects
    }

    // ---- views ----

    /// Where a ticket is, if the router knows it.
    pub fn ticket_view(&self, ticket_id: &str) -> Option<RoutingTicketView> {
        let ticket = self.tickets.get(ticket_id)?;
        Some(match ticket.state {
            TicketState::Queued => RoutingTicketView::Queued {
                skills_relaxed: ticket.skills_relaxed,
            },
            TicketState::Offered { agent, .. } => RoutingTicketView::Offered {
                agent_id: self.agents.get(agent).id.to_string(),
            },
            TicketState::Assigned {
                agent,
                grace_due,
                inactive,
            } => RoutingTicketView::Assigned {
                agent_id: self.agents.get(agent).id.to_string(),
                consuming: self.ledger.holder(ticket_id).is_some(),
                in_grace: grace_due.is_some(),
                inactive,
            },
        })
    }

    /// An agent's state on a channel, if the router knows the agent.
    pub fn agent_channel(&self, agent_id: &str, channel: Channel) -> Option<AgentChannelView> {
        let a = self.agents.slot(agent_id)?;
        let slot = self.agents.get(a).channels.get(&channel);
        Some(AgentChannelView {
            status: slot.map_or(AgentStatus::Offline, |s| s.status),
            capacity: slot.map_or(0, |s| s.capacity),
            load: self.ledger.load(a, channel),
            offered: slot.map_or(0, |s| s.offered),
            inactive: slot.map_or(0, |s| s.inactive),
            status_reason: slot.and_then(ChannelSlot::status_reason),
        })
    }

    // ---- audit ----

    /// Checks every index against the facts: loads against consuming tickets, offer counts
    /// against offered tickets, the queue against queued tickets, pools against
    /// eligibility. O(everything); for tests.
    #[cfg(test)]
    pub(crate) fn audit(&self) -> Result<(), String> {
        let mut loads: BTreeMap<(AgentSlot, Channel), u32> = BTreeMap::new();
        let mut offers: BTreeMap<(AgentSlot, Channel), u32> = BTreeMap::new();
        let mut inactive: BTreeMap<(AgentSlot, Channel), u32> = BTreeMap::new();
        let mut queued = 0;
        for ticket in self.tickets.values() {
            match ticket.state {
                TicketState::Queued => queued += 1,
                TicketState::Offered { agent, .. } => {
                    *offers.entry((agent, ticket.channel)).or_default() += 1;
                    if self.ledger.holder(&ticket.id).is_some() {
                        return Err(format!("offered ticket {} holds capacity", ticket.id));
                    }
                }
                TicketState::Assigned {
                    agent,
                    inactive: quiet,
                    ..
                } => {
                    if quiet {
                        *inactive.entry((agent, ticket.channel)).or_default() += 1;
                        if self.ledger.holder(&ticket.id).is_some() {
                            return Err(format!("inactive ticket {} holds capacity", ticket.id));
                        }
                    }
                    if let Some(holder) = self.ledger.holder(&ticket.id) {
                        if holder != (agent, ticket.channel) {
                            return Err(format!(
                                "ticket {} holds someone else's capacity",
                                ticket.id
                            ));
                        }
                        *loads.entry((agent, ticket.channel)).or_default() += 1;
                    }
                }
            }
        }
        if queued != self.queue.len() {
            return Err(format!(
                "{queued} tickets queued but the queue holds {}",
                self.queue.len()
            ));
        }
        if self.ledger.len() != loads.values().map(|n| *n as usize).sum::<usize>() {
            return Err("the ledger holds tickets that are not assigned".into());
        }
        for a in self.agents.slots() {
            let agent = self.agents.get(a);
            for (channel, slot) in &agent.channels {
                let load = loads.get(&(a, *channel)).copied().unwrap_or(0);
                if self.ledger.load(a, *channel) != load {
                    return Err(format!(
                        "{} on {channel}: ledger load {} but {load} consuming tickets",
                        agent.id,
                        self.ledger.load(a, *channel)
                    ));
                }
                let quiet = inactive.get(&(a, *channel)).copied().unwrap_or(0);
                if slot.inactive != quiet {
                    return Err(format!(
                        "{} on {channel}: {} inactive counted but {quiet} tickets inactive",
                        agent.id, slot.inactive
                    ));
                }
                let offered = offers.get(&(a, *channel)).copied().unwrap_or(0);
                if slot.offered != offered {
                    return Err(format!(
                        "{} on {channel}: {} offers counted but {offered} tickets offered",
                        agent.id, slot.offered
                    ));
                }
            }
            for (class, key) in self.queue.classes() {
                let should = self.agents.qualifies(a, key)
                    && self.agents.free(a, key.channel, &self.ledger) > 0;
                if should != self.agents.in_pool(class, a) {
                    return Err(format!(
                        "{} pool membership of class {key:?} is {} but should be {should}",
                        agent.id, !should
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The rule `presence` breaks, if any: an agent id is required, and each channel may be
/// given once.
fn presence_rule(presence: &AgentPresence) -> Option<String> {
    if presence.agent_id.trim().is_empty() {
        return Some(format!(
            "agent_id {:?} is empty: every presence names its agent",
            presence.agent_id
        ));
    }
    let mut seen = BTreeSet::new();
    presence
        .channels
        .iter()
        .find(|c| !seen.insert(c.channel))
        .map(|c| {
            format!(
                "channels lists {} twice: each channel is given once, with its status and capacity",
                c.channel.as_str()
            )
        })
}
