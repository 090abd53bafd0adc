//! The capacity ledger: which ticket holds which agent's capacity on which channel.

use super::fast_map::FastMap;
use crate::model::Channel;
use std::sync::Arc;

/// An agent's dense index in the [`AgentIndex`](super::AgentIndex).
pub(crate) type AgentSlot = u32;

/// Which ticket takes which agent's capacity.
///
/// A ticket holds at most one agent's capacity at a time, so an agent's load is the number
/// of tickets holding it: it can neither go negative nor count a ticket twice, however
/// consume and release requests interleave. Consuming ignores the agent's capacity on
/// purpose: a reopened ticket comes back to its assignee even above their limit.
#[derive(Clone, Debug, Default)]
pub struct CapacityLedger {
    holders: FastMap<Arc<str>, (AgentSlot, Channel)>,
    loads: FastMap<(AgentSlot, Channel), u32>,
}

impl CapacityLedger {
    /// Makes `ticket` hold `agent`'s capacity on `channel`. Returns the holder it had
    /// before if that was someone (or something) else; a repeat is a no-op.
    pub(crate) fn consume(
        &mut self,
        ticket: &Arc<str>,
        agent: AgentSlot,
        channel: Channel,
    ) -> Option<(AgentSlot, Channel)> {
        let previous = self.holders.insert(ticket.clone(), (agent, channel));
        if previous == Some((agent, channel)) {
            return None;
        }
        if let Some(previous) = previous {
            self.decrement(previous);
        }
        *self.loads.entry((agent, channel)).or_insert(0) += 1;
        previous
    }

    /// Frees the capacity `ticket` holds, if any; returns whose it was.
    pub(crate) fn release(&mut self, ticket: &str) -> Option<(AgentSlot, Channel)> {
        let previous = self.holders.remove(ticket)?;
        self.decrement(previous);
        Some(previous)
    }

    fn decrement(&mut self, key: (AgentSlot, Channel)) {
        if let Some(load) = self.loads.get_mut(&key) {
            *load -= 1;
            if *load == 0 {
                self.loads.remove(&key);
            }
        }
    }

    /// Whose capacity `ticket` holds.
    pub(crate) fn holder(&self, ticket: &str) -> Option<(AgentSlot, Channel)> {
        self.holders.get(ticket).copied()
    }

    /// How many tickets hold `agent`'s capacity on `channel`.
    pub(crate) fn load(&self, agent: AgentSlot, channel: Channel) -> u32 {
        self.loads.get(&(agent, channel)).copied().unwrap_or(0)
    }

    /// How many tickets hold someone's capacity.
    pub fn len(&self) -> usize {
        self.holders.len()
    }

    /// Whether no ticket holds any capacity.
    pub fn is_empty(&self) -> bool {
        self.holders.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consuming_twice_counts_once_and_moving_releases_the_first_holder() {
        let mut ledger = CapacityLedger::default();
        let t: Arc<str> = Arc::from("t1");
        assert_eq!(ledger.consume(&t, 1, Channel::Web), None);
        assert_eq!(ledger.consume(&t, 1, Channel::Web), None);
        assert_eq!(ledger.load(1, Channel::Web), 1);
        assert_eq!(ledger.consume(&t, 2, Channel::Web), Some((1, Channel::Web)));
        assert_eq!(ledger.load(1, Channel::Web), 0);
        assert_eq!(ledger.load(2, Channel::Web), 1);
    }

    #[test]
    fn releasing_what_is_not_held_never_goes_negative() {
        let mut ledger = CapacityLedger::default();
        let t: Arc<str> = Arc::from("t1");
        assert_eq!(ledger.release("t1"), None);
        ledger.consume(&t, 1, Channel::Web);
        assert_eq!(ledger.release("t1"), Some((1, Channel::Web)));
        assert_eq!(ledger.release("t1"), None);
        assert_eq!(ledger.load(1, Channel::Web), 0);
        assert!(ledger.is_empty());
    }
}
