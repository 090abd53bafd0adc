//! The requests of the ticket processor: enqueue, accept, decline, consume, release,
//! inactive, assign and close.

use super::agents::ChannelSlot;
use super::engine::RoutingEngine;
use super::ledger::AgentSlot;
use super::step::Step;
use super::ticket::TicketState;
use super::types::{RoutingTimer, RoutingTimerCommand};
use crate::model::{AgentStatus, RoutingRequest};

impl RoutingEngine {
    pub(super) fn enqueue(&mut self, request: &RoutingRequest, step: &mut Step) {
        match self.tickets.get(&*request.ticket_id).map(|t| &t.state) {
            None => {
                let id = self.create_ticket(request);
                self.enqueue_known(&id, step);
            }
            // A repeat: the ticket is already being routed.
            Some(TicketState::Queued | TicketState::Offered { .. }) => {}
            // The ticket processor says the ticket lost its assignee: route it again.
            Some(TicketState::Assigned { .. }) => {
                let id = self.tickets[&*request.ticket_id].id.clone();
                self.cancel_grace(&id, step);
                self.clear_inactive(&id, step);
                self.release_capacity(&id, step);
                self.enqueue_known(&id, step);
            }
        }
    }

    pub(super) fn answer(
        &mut self,
        request: &RoutingRequest,
        agent_id: &str,
        accept: bool,
        step: &mut Step,
    ) {
        let verb = if accept { "accept" } else { "decline" };
        let current = match self.tickets.get(&*request.ticket_id) {
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
            self.assign(&id, a, true, "accepted", step);
        } else {
            self.counters(a, channel, step.now).offers_declined += 1;
            self.withdraw(&id, "declined", step);
            let agent = self.agents.get(a).id.clone();
            self.ticket_mut(&id).note_decline(agent);
            self.enqueue_known(&id, step);
        }
    }

    pub(super) fn consume(&mut self, request: &RoutingRequest, agent_id: &str, step: &mut Step) {
        let a = self.ensure_agent(agent_id);
        let id = match self.tickets.get(&*request.ticket_id) {
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

    pub(super) fn release(&mut self, request: &RoutingRequest, _agent_id: &str, step: &mut Step) {
        let Some(ticket) = self.tickets.get(&*request.ticket_id) else {
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
    pub(super) fn inactive(&mut self, request: &RoutingRequest, step: &mut Step) {
        let Some(ticket) = self.tickets.get(&*request.ticket_id) else {
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

    pub(super) fn manual_assign(
        &mut self,
        request: &RoutingRequest,
        agent_id: &str,
        step: &mut Step,
    ) {
        let a = self.ensure_agent(agent_id);
        let (id, consuming) = match self.tickets.get(&*request.ticket_id) {
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
        self.assign(&id, a, consuming, "manual_assignment", step);
    }

    pub(super) fn close(&mut self, ticket_id: &str, step: &mut Step) {
        let Some(ticket) = self.tickets.get(ticket_id) else {
            return;
        };
        let id = ticket.id.clone();
        self.take_out(&id, "ticket_closed", step);
        self.release_capacity(&id, step);
        self.forget(&id, step);
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
}
