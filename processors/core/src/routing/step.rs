//! One step's working state: the effects it collects, the agents it touched, the tickets
//! and agents waiting to be matched; and the agent metrics that close it.

use super::agents::ChannelSlot;
use super::engine::RoutingEngine;
use super::ledger::AgentSlot;
use super::queue::QueueKey;
use super::records::ChannelCounters;
use super::ticket::Ticket;
use super::types::{RoutingEffects, RoutingRejection, RoutingTimerCommand};
use crate::model::{AgentMetrics, AgentStatus, Channel, RoutingDecision, RoutingDecisionKind};
use crate::time::{Millis, Timestamp};
use std::collections::BTreeSet;
use std::sync::Arc;

/// One step's working state.
#[derive(Debug)]
pub(super) struct Step {
    pub(super) input_id: String,
    pub(super) now: Timestamp,
    pub(super) effects: RoutingEffects,
    pub(super) touched: BTreeSet<(Arc<str>, Channel)>,
    pub(super) pending_tickets: BTreeSet<QueueKey>,
    pub(super) pending_agents: BTreeSet<(Arc<str>, Channel)>,
}

impl Step {
    pub(super) fn new(input_id: String, now: Timestamp) -> Step {
        Step {
            input_id,
            now,
            effects: RoutingEffects::default(),
            touched: BTreeSet::new(),
            pending_tickets: BTreeSet::new(),
            pending_agents: BTreeSet::new(),
        }
    }

    pub(super) fn decide(
        &mut self,
        ticket: &Ticket,
        kind: RoutingDecisionKind,
        agent: &str,
        reason: &str,
    ) {
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

    pub(super) fn reject(&mut self, reason: String) {
        let input_id = self.input_id.clone();
        self.effects
            .rejections
            .push(RoutingRejection { input_id, reason });
    }

    /// Whether the input was refused.
    pub(super) fn refused(&self) -> bool {
        !self.effects.rejections.is_empty()
    }

    pub(super) fn timer(&mut self, command: RoutingTimerCommand) {
        self.effects.timers.push(command);
    }
}

/// Adds the time since `status_since` to the status's counter. Inputs come from several
/// producers, so `now` may be earlier than a time already seen: that adds nothing, and
/// `status_since` never moves back, so no span is counted twice.
pub(super) fn accrue(slot: &mut ChannelSlot, now: Timestamp) {
    time_in(&mut slot.counters, slot.status).0 += now.since(slot.status_since).0;
    slot.status_since = now.max(slot.status_since);
}

/// The counter of the time spent in `status`.
fn time_in(counters: &mut ChannelCounters, status: AgentStatus) -> &mut Millis {
    match status {
        AgentStatus::Online => &mut counters.online_ms,
        AgentStatus::Away => &mut counters.away_ms,
        AgentStatus::TransfersOnly => &mut counters.transfers_only_ms,
        AgentStatus::Offline => &mut counters.offline_ms,
    }
}

impl RoutingEngine {
    pub(super) fn counters(
        &mut self,
        a: AgentSlot,
        channel: Channel,
        now: Timestamp,
    ) -> &mut ChannelCounters {
        let agent = self.agents.get_mut(a);
        &mut agent
            .channels
            .entry(channel)
            .or_insert_with(|| ChannelSlot::offline(now))
            .counters
    }

    pub(super) fn touch_agent(&mut self, a: AgentSlot, channel: Channel, step: &mut Step) {
        let id = self.agents.get(a).id.clone();
        self.dirty_agents.insert(id.clone());
        step.touched.insert((id, channel));
    }

    pub(super) fn finish(&mut self, mut step: Step) -> RoutingEffects {
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
            time_in(&mut counters, slot.status).0 += now.since(slot.status_since).0;
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
}

#[cfg(test)]
mod tests {
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
