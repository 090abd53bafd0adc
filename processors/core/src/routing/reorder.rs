//! Keeping each queued ticket in its place: a request's new priority and SLA breach time,
//! and a change of the account's queue order.

use super::config::QueueOrder;
use super::engine::RoutingEngine;
use super::ticket::TicketState;
use crate::model::RoutingRequest;

impl RoutingEngine {
    /// Takes a known ticket's routing priority and next SLA breach time from its latest
    /// request (an `update`, or any other); a queued ticket moves to its new place.
    ///
    /// Called before the request is applied, while no ticket waits to be matched. Nothing
    /// needs matching after it: who may take the ticket has not changed, and after every
    /// step no queued ticket has an eligible agent, whatever the order.
    pub(super) fn refresh(&mut self, request: &RoutingRequest) {
        let order = self.config.queue_order;
        let Some(ticket) = self.tickets.get_mut(request.ticket_id.as_str()) else {
            return;
        };
        if ticket.priority == request.priority && ticket.sla_breach_at == request.sla_breach_at {
            return;
        }
        let queued = matches!(ticket.state, TicketState::Queued);
        if queued {
            self.queue.remove(ticket.class, &ticket.queue_key(order));
        }
        ticket.priority = request.priority;
        ticket.sla_breach_at = request.sla_breach_at;
        if queued {
            self.queue.push(ticket.class, ticket.queue_key(order));
        }
        self.dirty_tickets.insert(ticket.id.clone());
    }

    /// Moves every queued ticket from its place in the `from` order to its place in the
    /// configuration's order.
    pub(super) fn reorder(&mut self, from: QueueOrder) {
        let to = self.config.queue_order;
        if from == to {
            return;
        }
        for ticket in self.tickets.values() {
            if matches!(ticket.state, TicketState::Queued) {
                self.queue.remove(ticket.class, &ticket.queue_key(from));
                self.queue.push(ticket.class, ticket.queue_key(to));
            }
        }
    }
}
