//! The agent index: every agent's profile, and per routing class the agents who may take
//! its tickets right now, ranked so the best one is the first entry of a B-tree.

use super::config::RoutingMode;
use super::fast_map::FastMap;
use super::ledger::{AgentSlot, CapacityLedger};
use super::queue::{ClassId, ClassKey, RoutingQueue};
use super::records::ChannelCounters;
use crate::model::{AgentStatus, Channel};
use crate::time::Timestamp;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The status reason of an agent the router set away after too many offer timeouts in a
/// row ([`RoutingConfig::away_after_offer_timeouts`](super::RoutingConfig)).
pub const MISSED_OFFERS: &str = "missed_offers";

/// An agent's state on one channel.
#[derive(Clone, Debug)]
pub(crate) struct ChannelSlot {
    pub(crate) status: AgentStatus,
    pub(crate) capacity: u32,
    /// Offers pending with the agent on this channel; each reserves a unit of capacity.
    pub(crate) offered: u32,
    /// Assigned tickets of the channel that are inactive (they take no capacity).
    pub(crate) inactive: u32,
    pub(crate) status_since: Timestamp,
    pub(crate) counters: ChannelCounters,
    /// Offers that timed out since the agent last answered one on this channel.
    pub(crate) offer_timeouts_in_row: u32,
    /// The router set the agent away here after too many offer timeouts in a row.
    pub(crate) away_for_missed_offers: bool,
}

impl ChannelSlot {
    /// Why the status is what it is when the router set it, for the agent metrics.
    pub(crate) fn status_reason(&self) -> Option<&'static str> {
        self.away_for_missed_offers.then_some(MISSED_OFFERS)
    }

    pub(crate) fn offline(now: Timestamp) -> ChannelSlot {
        ChannelSlot {
            status: AgentStatus::Offline,
            capacity: 0,
            offered: 0,
            inactive: 0,
            status_since: now,
            counters: ChannelCounters::default(),
            offer_timeouts_in_row: 0,
            away_for_missed_offers: false,
        }
    }
}

/// One agent.
#[derive(Clone, Debug)]
pub(crate) struct Agent {
    pub(crate) id: Arc<str>,
    pub(crate) channels: BTreeMap<Channel, ChannelSlot>,
    pub(crate) skills: BTreeSet<String>,
    pub(crate) groups: BTreeSet<String>,
    /// The engine's assignment sequence number at the agent's last assignment; 0 if never.
    pub(crate) last_assigned_seq: u64,
    /// Routing classes the agent qualifies for (online on the channel, skills, group).
    pub(crate) classes: Vec<ClassId>,
    /// The entries this agent has in class pools, exactly as inserted.
    ranked: Vec<(ClassId, AgentRank)>,
    /// Tickets offered to the agent.
    pub(crate) offers: BTreeSet<Arc<str>>,
    /// Reopened tickets waiting for the agent to come back (returning-customer grace).
    pub(crate) in_grace: BTreeSet<Arc<str>>,
}

impl Agent {
    pub(crate) fn status(&self, channel: Channel) -> AgentStatus {
        self.channels
            .get(&channel)
            .map_or(AgentStatus::Offline, |slot| slot.status)
    }
}

/// An agent's place in a class pool: the first entry is the agent to offer to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct AgentRank {
    /// `u32::MAX - free capacity` in best-available mode (most free first), 0 in round robin.
    primary: u32,
    /// Last assignment's sequence number: who waited longest since an assignment first.
    seq: u64,
    id: Arc<str>,
    slot: AgentSlot,
}

/// Every agent of an account, and per routing class a pool of the agents who may take its
/// tickets now: online on the class's channel, with free capacity, all the class's skills
/// and membership of its group.
///
/// A pool is a B-tree ordered by the routing mode's rank, so choosing an agent is taking the
/// first entry (skipping the few who declined the ticket). An agent is in the pools of the
/// classes it qualifies for; a change to its free capacity re-ranks it in those pools only,
/// so an update costs O(classes of the agent × log agents).
#[derive(Clone, Debug, Default)]
pub struct AgentIndex {
    agents: Vec<Agent>,
    by_id: FastMap<Arc<str>, AgentSlot>,
    pools: Vec<BTreeSet<AgentRank>>,
}

impl AgentIndex {
    /// The agent's slot, if known.
    pub(crate) fn slot(&self, id: &str) -> Option<AgentSlot> {
        self.by_id.get(id).copied()
    }

    /// The agent's slot, creating an agent offline on every channel if unknown.
    pub(crate) fn ensure(&mut self, id: &str) -> AgentSlot {
        if let Some(slot) = self.slot(id) {
            return slot;
        }
        let slot = self.agents.len() as AgentSlot;
        let id: Arc<str> = Arc::from(id);
        self.agents.push(Agent {
            id: id.clone(),
            channels: BTreeMap::new(),
            skills: BTreeSet::new(),
            groups: BTreeSet::new(),
            last_assigned_seq: 0,
            classes: Vec::new(),
            ranked: Vec::new(),
            offers: BTreeSet::new(),
            in_grace: BTreeSet::new(),
        });
        self.by_id.insert(id, slot);
        slot
    }

    pub(crate) fn get(&self, slot: AgentSlot) -> &Agent {
        &self.agents[slot as usize]
    }

    /// Mutable access; call [`AgentIndex::detach`] first if the change can alter the
    /// agent's rank or eligibility, and [`AgentIndex::attach`] after.
    pub(crate) fn get_mut(&mut self, slot: AgentSlot) -> &mut Agent {
        &mut self.agents[slot as usize]
    }

    /// How many agents are known.
    pub fn len(&self) -> usize {
        self.agents.len()
    }

    /// Whether no agent is known.
    pub fn is_empty(&self) -> bool {
        self.agents.is_empty()
    }

    /// All agent slots.
    pub(crate) fn slots(&self) -> impl Iterator<Item = AgentSlot> {
        0..self.agents.len() as AgentSlot
    }

    /// Free capacity: capacity less load and pending offers, never below zero.
    pub(crate) fn free(&self, slot: AgentSlot, channel: Channel, ledger: &CapacityLedger) -> u32 {
        let agent = &self.agents[slot as usize];
        match agent.channels.get(&channel) {
            Some(ch) => ch
                .capacity
                .saturating_sub(ledger.load(slot, channel) + ch.offered),
            None => 0,
        }
    }

    /// Whether the agent may take tickets of the class, capacity aside.
    pub(crate) fn qualifies(&self, slot: AgentSlot, key: &ClassKey) -> bool {
        let agent = &self.agents[slot as usize];
        agent.status(key.channel) == AgentStatus::Online
            && key.skills.iter().all(|s| agent.skills.contains(s))
            && (key.groups.is_empty() || key.groups.iter().any(|g| agent.groups.contains(g)))
    }

    /// Takes the agent out of every pool.
    pub(crate) fn detach(&mut self, slot: AgentSlot) {
        let ranked = std::mem::take(&mut self.agents[slot as usize].ranked);
        for (class, rank) in &ranked {
            self.pools[*class as usize].remove(rank);
        }
        let mut ranked = ranked;
        ranked.clear();
        self.agents[slot as usize].ranked = ranked;
    }

    /// Puts the agent in the pools of its classes where it has free capacity.
    pub(crate) fn attach(
        &mut self,
        slot: AgentSlot,
        ledger: &CapacityLedger,
        queue: &RoutingQueue,
        mode: RoutingMode,
    ) {
        self.detach(slot);
        let mut ranked = std::mem::take(&mut self.agents[slot as usize].ranked);
        let agent = &self.agents[slot as usize];
        for &class in &agent.classes {
            let channel = queue.key(class).channel;
            let free = self.free(slot, channel, ledger);
            if free == 0 {
                continue;
            }
            let primary = match mode {
                RoutingMode::BestAvailable => u32::MAX - free,
                RoutingMode::RoundRobin => 0,
            };
            let rank = AgentRank {
                primary,
                seq: agent.last_assigned_seq,
                id: agent.id.clone(),
                slot,
            };
            ranked.push((class, rank));
        }
        for (class, rank) in &ranked {
            self.pools[*class as usize].insert(rank.clone());
        }
        self.agents[slot as usize].ranked = ranked;
    }

    /// Recomputes which classes the agent qualifies for; call between detach and attach.
    pub(crate) fn recompute_classes(&mut self, slot: AgentSlot, queue: &RoutingQueue) {
        let classes: Vec<ClassId> = queue
            .classes()
            .filter(|(_, key)| self.qualifies(slot, key))
            .map(|(id, _)| id)
            .collect();
        self.agents[slot as usize].classes = classes;
    }

    /// Makes room for a class just registered in `queue` and fills its pool.
    pub(crate) fn add_class(
        &mut self,
        class: ClassId,
        ledger: &CapacityLedger,
        queue: &RoutingQueue,
        mode: RoutingMode,
    ) {
        debug_assert_eq!(self.pools.len(), class as usize);
        self.pools.push(BTreeSet::new());
        let key = queue.key(class);
        for slot in self.slots() {
            if self.qualifies(slot, key) {
                self.agents[slot as usize].classes.push(class);
                self.attach(slot, ledger, queue, mode);
            }
        }
    }

    /// The agent to offer a ticket of `class` to: the first in the pool who has not
    /// declined it; if only agents who declined it are in the pool, the one whose decline
    /// is the oldest. `declined` is in decline order, oldest first, and short: the scan
    /// stops after `declined.len() + 1` entries.
    pub(crate) fn best_for(&self, class: ClassId, declined: &[Arc<str>]) -> Option<AgentSlot> {
        let mut fallback: Option<(usize, AgentSlot)> = None;
        for rank in self.pools[class as usize].iter().take(declined.len() + 1) {
            match declined.iter().position(|id| *id == rank.id) {
                None => return Some(rank.slot),
                Some(at) => {
                    if fallback.is_none_or(|(best, _)| at < best) {
                        fallback = Some((at, rank.slot));
                    }
                }
            }
        }
        fallback.map(|(_, slot)| slot)
    }

    /// Whether the agent is in the class's pool (test audits).
    #[cfg(test)]
    pub(crate) fn in_pool(&self, class: ClassId, slot: AgentSlot) -> bool {
        self.pools[class as usize].iter().any(|r| r.slot == slot)
    }
}
