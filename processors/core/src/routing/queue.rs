//! The routing queue: routable tickets grouped by routing class, each class in queue
//! priority, then priority and age or time to the next SLA breach first.

use super::fast_map::FastMap;
use crate::model::Channel;
use crate::time::Timestamp;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// A routing class's dense index.
pub(crate) type ClassId = u32;

/// What decides which agents may take a ticket: its channel, the skills it requires (sorted,
/// none once relaxed) and the groups whose members may take it (sorted; none for any
/// agent). Tickets of one class share one ranked pool of agents.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ClassKey {
    pub(crate) channel: Channel,
    pub(crate) skills: Vec<String>,
    pub(crate) groups: Vec<String>,
}

/// Where the time to a ticket's next SLA breach puts it in the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SlaRank {
    /// The ticket's next SLA target runs out (or ran out) at this time: the sooner, the
    /// earlier in the queue.
    Due(Timestamp),
    /// After every ticket with a due time: no SLA target, or a queue ordered by priority
    /// (where every ticket ranks so).
    Unranked,
}

/// A ticket's place in the queue: its queue's priority first (1 is the highest; the
/// standard queue after every custom queue), then its SLA rank (all equal unless the
/// account routes by SLA), then higher ticket priority, then older, then by id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct QueueKey {
    pub(crate) queue_priority: i32,
    pub(crate) sla: SlaRank,
    pub(crate) priority: Reverse<i32>,
    pub(crate) created_at: Timestamp,
    pub(crate) ticket: Arc<str>,
}

/// Routable tickets (New, or Open and unassigned, and not under offer), by routing class.
///
/// Classes are registered on first use and kept; the number of classes is the number of
/// distinct (channel, skills, groups) combinations the account's tickets use, which is small.
#[derive(Clone, Debug, Default)]
pub struct RoutingQueue {
    keys: Vec<ClassKey>,
    queues: Vec<BTreeSet<QueueKey>>,
    by_key: FastMap<ClassKey, ClassId>,
    by_channel: BTreeMap<Channel, Vec<ClassId>>,
    len: usize,
}

impl RoutingQueue {
    /// The class's id, if registered.
    pub(crate) fn class_id(&self, key: &ClassKey) -> Option<ClassId> {
        self.by_key.get(key).copied()
    }

    /// Registers a new class; the caller checks it is new.
    pub(crate) fn add_class(&mut self, key: ClassKey) -> ClassId {
        let id = self.keys.len() as ClassId;
        self.by_channel.entry(key.channel).or_default().push(id);
        self.by_key.insert(key.clone(), id);
        self.keys.push(key);
        self.queues.push(BTreeSet::new());
        id
    }

    /// The class's key.
    pub(crate) fn key(&self, class: ClassId) -> &ClassKey {
        &self.keys[class as usize]
    }

    /// All registered classes, in registration order.
    pub(crate) fn classes(&self) -> impl Iterator<Item = (ClassId, &ClassKey)> {
        self.keys.iter().enumerate().map(|(i, k)| (i as ClassId, k))
    }

    /// Queues a ticket in a class.
    pub(crate) fn push(&mut self, class: ClassId, key: QueueKey) {
        if self.queues[class as usize].insert(key) {
            self.len += 1;
        }
    }

    /// Takes a ticket out of a class's queue.
    pub(crate) fn remove(&mut self, class: ClassId, key: &QueueKey) -> bool {
        let removed = self.queues[class as usize].remove(key);
        if removed {
            self.len -= 1;
        }
        removed
    }

    /// The first ticket of a class.
    pub(crate) fn head(&self, class: ClassId) -> Option<&QueueKey> {
        self.queues[class as usize].first()
    }

    /// How many tickets are queued.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no ticket is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(priority: i32, created: i64, id: &str) -> QueueKey {
        QueueKey {
            queue_priority: 101,
            sla: SlaRank::Unranked,
            priority: Reverse(priority),
            created_at: Timestamp(created),
            ticket: Arc::from(id),
        }
    }

    #[test]
    fn higher_priority_goes_first_then_older() {
        let mut queue = RoutingQueue::default();
        let class = queue.add_class(ClassKey {
            channel: Channel::Web,
            skills: vec![],
            groups: vec![],
        });
        queue.push(class, key(0, 1, "old-low"));
        queue.push(class, key(0, 5, "new-low"));
        queue.push(class, key(2, 9, "new-high"));
        assert_eq!(&*queue.head(class).unwrap().ticket, "new-high");
        assert!(queue.remove(class, &key(2, 9, "new-high")));
        assert_eq!(&*queue.head(class).unwrap().ticket, "old-low");
        assert_eq!(queue.len(), 2);
    }

    #[test]
    fn a_due_time_goes_before_none_and_the_sooner_first_whatever_the_priority() {
        let mut queue = RoutingQueue::default();
        let class = queue.add_class(ClassKey {
            channel: Channel::Web,
            skills: vec![],
            groups: vec![],
        });
        let due = |at: i64, priority: i32, id: &str| QueueKey {
            sla: SlaRank::Due(Timestamp(at)),
            ..key(priority, 0, id)
        };
        queue.push(class, key(9, 0, "urgent-without-sla"));
        queue.push(class, due(500, 9, "later"));
        queue.push(class, due(100, 0, "sooner"));
        assert_eq!(&*queue.head(class).unwrap().ticket, "sooner");
        assert!(queue.remove(class, &due(100, 0, "sooner")));
        assert_eq!(&*queue.head(class).unwrap().ticket, "later");
        assert!(queue.remove(class, &due(500, 9, "later")));
        assert_eq!(&*queue.head(class).unwrap().ticket, "urgent-without-sla");
    }
}
