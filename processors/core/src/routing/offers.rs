//! Matching and offers: queued tickets matched with agents who have room, offers made
//! (or auto-accepted), withdrawn and timed out, and an agent set away after a run of
//! missed offers.

use super::agents::{ChannelSlot, MISSED_OFFERS};
use super::engine::RoutingEngine;
use super::ledger::AgentSlot;
use super::queue::QueueKey;
use super::step::{accrue, Step};
use super::ticket::TicketState;
use super::types::{RoutingTimer, RoutingTimerCommand};
use crate::model::{AgentStatus, Channel, RoutingDecisionKind};
use std::sync::Arc;

impl RoutingEngine {
    /// Matches until no queued ticket has an eligible agent: requeued tickets first, in
    /// queue order, then agents who gained free capacity, each until full.
    ///
    /// A requeued ticket whose best agent gained capacity in this same step is deferred to
    /// that agent's turn, where the agent takes the highest-ordered ticket it is eligible
    /// for (which may be another one); deferred tickets are matched again after each agent.
    pub(super) fn dispatch(&mut self, step: &mut Step) {
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
        let now = step.now;
        if self.config.auto_accepts(channel) {
            let counters = self.counters(a, channel, now);
            counters.offers_made += 1;
            counters.offers_accepted += 1;
            self.assign(id, a, true, "auto_accept", step);
            return;
        }
        let agent_id = self.agents.get(a).id.clone();
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

    /// Withdraws the current offer, emitting `offer_withdrawn`.
    pub(super) fn withdraw(&mut self, id: &Arc<str>, reason: &str, step: &mut Step) {
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
    pub(super) fn withdraw_silently(&mut self, id: &Arc<str>, step: &mut Step) -> AgentSlot {
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
    pub(super) fn note_offer_timeout(&mut self, a: AgentSlot, channel: Channel, step: &mut Step) {
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
}
