//! Assignment and capacity: a ticket made assigned (taking its assignee's capacity or
//! not), capacity released, an inactive conversation made active again, and the
//! returning-customer grace ended.

use super::engine::RoutingEngine;
use super::ledger::AgentSlot;
use super::step::Step;
use super::ticket::TicketState;
use super::types::{RoutingTimer, RoutingTimerCommand};
use crate::model::RoutingDecisionKind;
use std::sync::Arc;

impl RoutingEngine {
    /// Assigns the ticket to `a` ([`make_assigned`](Self::make_assigned)) and records the
    /// `Assigned` decision with `reason`.
    pub(super) fn assign(
        &mut self,
        id: &Arc<str>,
        a: AgentSlot,
        consuming: bool,
        reason: &str,
        step: &mut Step,
    ) {
        self.make_assigned(id, a, consuming, step);
        let agent = &self.agents.get(a).id;
        step.decide(
            &self.tickets[id],
            RoutingDecisionKind::Assigned,
            agent,
            reason,
        );
    }

    /// Makes the ticket assigned to `a` and counts an assignment (routing or by hand).
    pub(super) fn make_assigned(
        &mut self,
        id: &Arc<str>,
        a: AgentSlot,
        consuming: bool,
        step: &mut Step,
    ) {
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
    pub(super) fn make_assigned_quietly(
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

    /// Frees the capacity the ticket holds, if any, and lets its holder take new work.
    pub(super) fn release_capacity(&mut self, id: &Arc<str>, step: &mut Step) {
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

    /// Makes an inactive ticket active again (it holds no capacity yet: the caller decides).
    pub(super) fn clear_inactive(&mut self, id: &Arc<str>, step: &mut Step) {
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
    pub(super) fn cancel_grace(&mut self, id: &Arc<str>, step: &mut Step) {
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
}
