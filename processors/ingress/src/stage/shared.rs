//! What the stage's loop, its delivery callback and its rebalance callback share: the
//! progress of every partition, the records in flight and the first produce failure.

use super::error::IngressStageError;
use super::progress::PartitionProgress;
use prometheus::IntCounter;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

/// The progress of one source partition, shared with the delivery callbacks.
pub(super) type Slot = Arc<Mutex<PartitionProgress>>;

/// What the loop, the delivery callback and the rebalance callback share.
#[derive(Debug)]
pub(super) struct Shared {
    /// The raw topics, in config order; a partition is named by its topic's index here.
    pub(super) topics: Vec<String>,
    /// The progress of every partition read since it was assigned.
    pub(super) partitions: Mutex<HashMap<(usize, i32), Slot>>,
    /// Records sent and not yet acknowledged (or failed).
    pub(super) in_flight: AtomicUsize,
    /// Woken when `in_flight` falls to `low_water`, or a produce fails.
    pub(super) room: tokio::sync::Notify,
    pub(super) low_water: usize,
    /// The first produce failure.
    pub(super) failure: Mutex<Option<IngressStageError>>,
    pub(super) output_out: IntCounter,
    pub(super) dlq_out: IntCounter,
}

impl Shared {
    pub(super) fn slot(&self, topic: usize, partition: i32) -> Slot {
        self.partitions
            .lock()
            .expect("not poisoned")
            .entry((topic, partition))
            .or_default()
            .clone()
    }

    pub(super) fn take_failure(&self) -> Option<IngressStageError> {
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
