//! The routing engine: one account's router, stepped by requests, presence and timers.

use super::agents::{AgentIndex, ChannelSlot};
use super::config::RoutingConfig;
use super::fast_map::{FastMap, FastSet};
use super::ledger::CapacityLedger;
use super::queue::RoutingQueue;
use super::queues::QueueRules;
use super::step::{accrue, Step};
use super::ticket::{Ticket, TicketState};
use super::types::{
    AgentChannelView, RoutingEffects, RoutingInput, RoutingTicketView, RoutingTimer,
};
use crate::model::{
    AgentPresence, AgentStatus, Channel, RoutingDecisionKind, RoutingRequest, RoutingRequestKind,
};
use crate::time::Timestamp;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

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
        let mut step = Step::new(request.request_id.spelled(), now);
        if *request.account != *self.account {
            step.reject(format!(
                "routing request {}: account {:?} is not this router's account {:?}",
                request.request_id, request.account, self.account
            ));
            return self.finish(step);
        }
        let previous = self.refresh(request);
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
        if let Some(previous) = previous.filter(|_| step.refused()) {
            self.restore_order(&request.ticket_id, previous);
        }
        self.dispatch(&mut step);
        self.finish(step)
    }

    /// Applies an agent's new presence: it replaces the agent's whole record. A presence
    /// without an agent id, or naming a channel twice, is refused.
    pub fn handle_presence(&mut self, presence: &AgentPresence, now: Timestamp) -> RoutingEffects {
        let mut step = Step::new(presence.presence_id.clone(), now);
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
        let mut step = Step::new(timer.firing_id(), now);
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
}

/// Why an offer is withdrawn when its agent takes `status` on the offer's channel.
fn withdraw_reason(status: AgentStatus) -> &'static str {
    match status {
        AgentStatus::Online => "agent_online",
        AgentStatus::Away => "agent_away",
        AgentStatus::TransfersOnly => "agent_transfers_only",
        AgentStatus::Offline => "agent_offline",
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
