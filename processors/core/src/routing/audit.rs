//! The engine's self-check for tests: every index against the facts it is derived from.

use super::engine::RoutingEngine;
use super::ledger::AgentSlot;
use super::ticket::TicketState;
use crate::model::Channel;
use std::collections::BTreeMap;

impl RoutingEngine {
    /// Checks every index against the facts: loads against consuming tickets, offer counts
    /// against offered tickets, the queue against queued tickets, pools against
    /// eligibility. O(everything); for tests.
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
