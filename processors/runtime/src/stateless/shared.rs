//! What the host's loop, its delivery callback and its rebalance callback share: the
//! progress of every partition, the records in flight and the first produce failure.

use super::progress::PartitionProgress;
use crate::error::RuntimeError;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

/// The progress of one source partition, shared with the delivery callbacks.
pub(super) type Slot = Arc<Mutex<PartitionProgress>>;

/// What the loop, the delivery callback and the rebalance callback share.
#[derive(Debug)]
pub(super) struct Shared {
    /// The input topics, in config order; a partition is named by its topic's index here.
    pub(super) topics: Vec<String>,
    /// The progress of every partition read since it was assigned.
    pub(super) partitions: Mutex<HashMap<(usize, i32), Slot>>,
    /// Records sent and not yet acknowledged (or failed).
    pub(super) in_flight: AtomicUsize,
    /// Woken when `in_flight` falls to `low_water`, or a produce fails.
    pub(super) room: tokio::sync::Notify,
    pub(super) low_water: usize,
    /// The first produce failure.
    pub(super) failure: Mutex<Option<RuntimeError>>,
}

impl Shared {
    pub(super) fn new(topics: Vec<String>, max_in_flight: usize) -> Shared {
        Shared {
            topics,
            partitions: Mutex::default(),
            in_flight: AtomicUsize::new(0),
            room: tokio::sync::Notify::new(),
            low_water: max_in_flight / 2,
            failure: Mutex::new(None),
        }
    }

    pub(super) fn slot(&self, topic: usize, partition: i32) -> Slot {
        self.partitions
            .lock()
            .expect("not poisoned")
            .entry((topic, partition))
            .or_default()
            .clone()
    }

    /// Keeps `error` unless an earlier failure is kept, and wakes the loop.
    pub(super) fn fail(&self, error: RuntimeError) {
        self.failure
            .lock()
            .expect("not poisoned")
            .get_or_insert(error);
        self.room.notify_one();
    }

    pub(super) fn take_failure(&self) -> Option<RuntimeError> {
        self.failure.lock().expect("not poisoned").take()
    }

    /// The committable offsets of `partitions` (all if `None`), optionally forgetting them.
    pub(super) fn committable(
        &self,
        only: Option<&TopicPartitionList>,
        forget: bool,
    ) -> Vec<((usize, i32), i64)> {
        let mut partitions = self.partitions.lock().expect("not poisoned");
        let wanted: Vec<(usize, i32)> = match only {
            None => partitions.keys().copied().collect(),
            Some(list) => list
                .elements()
                .iter()
                .filter_map(|element| {
                    let topic = self.topics.iter().position(|t| t == element.topic())?;
                    Some((topic, element.partition()))
                })
                .collect(),
        };
        let mut offsets = Vec::new();
        for key in wanted {
            let slot = if forget {
                partitions.remove(&key)
            } else {
                partitions.get(&key).cloned()
            };
            if let Some(offset) =
                slot.and_then(|slot| slot.lock().expect("not poisoned").committable())
            {
                offsets.push((key, offset));
            }
        }
        offsets
    }

    pub(super) fn offset_list(&self, offsets: &[((usize, i32), i64)]) -> TopicPartitionList {
        let mut list = TopicPartitionList::with_capacity(offsets.len());
        for ((topic, partition), offset) in offsets {
            list.add_partition_offset(&self.topics[*topic], *partition, Offset::Offset(*offset))
                .expect("a plain offset is always accepted");
        }
        list
    }
}
