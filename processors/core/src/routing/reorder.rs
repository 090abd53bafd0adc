//! Keeping each queued ticket in its place: a request's new priority and SLA breach time,
//! and a change of the account's queue order.

use super::config::QueueOrder;
use super::engine::RoutingEngine;
use super::ticket::TicketState;
use crate::model::RoutingRequest;
use crate::time::Timestamp;

/// What places a queued ticket besides its class and age: its routing priority and next SLA
/// breach time.
pub(super) type OrderFields = (i32, Option<Timestamp>);

impl RoutingEngine {
    /// Takes a known ticket's routing priority and next SLA breach time from its latest
    /// request (an `update`, or any other); a queued ticket moves to its new place. Returns
    /// what they were when they changed, for [`restore_order`](Self::restore_order) should
    /// the request be refused.
    ///
    /// Called before the request is applied, while no ticket waits to be matched. Nothing
    /// needs matching after it: who may take the ticket has not changed, and after every
    /// step no queued ticket has an eligible agent, whatever the order.
    pub(super) fn refresh(&mut self, request: &RoutingRequest) -> Option<OrderFields> {
        let fields = (request.priority, request.sla_breach_at);
        self.set_order(&request.ticket_id, fields)
    }

    /// Puts back the priority and breach time a refused request's
    /// [`refresh`](Self::refresh) replaced: a refused input changes nothing.
    pub(super) fn restore_order(&mut self, ticket_id: &str, previous: OrderFields) {
        self.set_order(ticket_id, previous);
    }

    fn set_order(&mut self, ticket_id: &str, fields: OrderFields) -> Option<OrderFields> {
        let order = self.config.queue_order;
        let ticket = self.tickets.get_mut(ticket_id)?;
        let previous = (ticket.priority, ticket.sla_breach_at);
        if previous == fields {
            return None;
        }
        let queued = matches!(ticket.state, TicketState::Queued);
        if queued {
            self.queue.remove(ticket.class, &ticket.queue_key(order));
        }
        (ticket.priority, ticket.sla_breach_at) = fields;
        if queued {
            self.queue.push(ticket.class, ticket.queue_key(order));
        }
        self.dirty_tickets.insert(ticket.id.clone());
        Some(previous)
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
