//! A ticket's way in and out of the queue: created when the router first sees it, queued
//! (with its skills and secondary-groups timers), moved to another routing class when its
//! skills relax or its secondary groups open, taken out, and forgotten.

use super::engine::RoutingEngine;
use super::queue::{ClassId, ClassKey};
use super::step::Step;
use super::ticket::{Ticket, TicketState};
use super::types::{RoutingTimer, RoutingTimerCommand};
use crate::model::RoutingRequest;
use std::sync::Arc;

impl RoutingEngine {
    pub(super) fn ticket_mut(&mut self, id: &str) -> &mut Ticket {
        self.tickets.get_mut(id).expect("ticket exists")
    }

    pub(super) fn create_ticket(&mut self, request: &RoutingRequest) -> Arc<str> {
        let id: Arc<str> = Arc::clone(&request.ticket_id);
        let mut ticket = Ticket {
            id: id.clone(),
            account: String::from(&*request.account),
            conversation: String::from(&*request.conversation),
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

    pub(super) fn forget(&mut self, id: &Arc<str>, step: &mut Step) {
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

    /// Puts a known ticket in the queue and marks it for matching.
    pub(super) fn enqueue_known(&mut self, id: &Arc<str>, step: &mut Step) {
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
    pub(super) fn take_out(&mut self, id: &Arc<str>, reason: &str, step: &mut Step) {
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

    pub(super) fn relax_skills(&mut self, id: &Arc<str>, step: &mut Step) {
        let ticket = self.ticket_mut(id);
        ticket.skills_due = None;
        ticket.skills_relaxed = true;
        self.reclass(id, step);
    }

    /// Opens a queued ticket to its queue's secondary groups.
    pub(super) fn open_secondary_groups(&mut self, id: &Arc<str>, step: &mut Step) {
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

    /// The routing class of `key`, added with its agent pool if it is new.
    fn ensure_class(&mut self, key: ClassKey) -> ClassId {
        if let Some(class) = self.queue.class_id(&key) {
            return class;
        }
        let class = self.queue.add_class(key);
        self.agents
            .add_class(class, &self.ledger, &self.queue, self.config.mode);
        class
    }
}

/// The items sorted, each once.
fn sorted(items: &[String]) -> Vec<String> {
    let mut items = items.to_vec();
    items.sort();
    items.dedup();
    items
}
