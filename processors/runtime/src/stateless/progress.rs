//! Per-partition progress: which source offsets may be committed, given the acknowledgements so far.
//!
//! A source record may produce several records (its events) or one (its DLQ record) or none
//! (only skipped items). Its offset is done when all of them are acknowledged; the partition's
//! committable position is one past the last offset such that it and every earlier offset
//! read are done. Acknowledgements arrive in any order (events go to many output partitions).

use std::collections::VecDeque;

/// The progress of one source partition.
#[derive(Debug, Default)]
pub(crate) struct PartitionProgress {
    /// Offsets read and not yet done, ascending, with their unacknowledged output count;
    /// entries that are done but follow an undone one stay, with a count of zero.
    pending: VecDeque<(i64, u32)>,
    /// One past the last offset done with all before it: the offset to commit.
    committable: Option<i64>,
}

impl PartitionProgress {
    /// Records that `offset` was read and produced `outputs` records, none acknowledged yet.
    /// Offsets must be recorded in ascending order.
    pub(crate) fn read(&mut self, offset: i64, outputs: u32) {
        debug_assert!(self.pending.back().is_none_or(|(last, _)| *last < offset));
        if outputs == 0 && self.pending.is_empty() {
            self.committable = Some(offset + 1);
        } else {
            self.pending.push_back((offset, outputs));
        }
    }

    /// Records the acknowledgement of one output of `offset`.
    pub(crate) fn acknowledge(&mut self, offset: i64) {
        let Ok(index) = self.pending.binary_search_by_key(&offset, |(o, _)| *o) else {
            debug_assert!(false, "acknowledged offset {offset} was not read");
            return;
        };
        let count = &mut self.pending[index].1;
        *count = count.saturating_sub(1);
        while let Some(&(offset, 0)) = self.pending.front() {
            self.pending.pop_front();
            self.committable = Some(offset + 1);
        }
    }

    /// The offset to commit (one past the last done offset with every earlier one done).
    pub(crate) fn committable(&self) -> Option<i64> {
        self.committable
    }

    /// Source records read whose outputs are not all acknowledged yet.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.pending.iter().filter(|(_, n)| *n > 0).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_committable_before_anything_is_done() {
        let mut progress = PartitionProgress::default();
        progress.read(10, 2);
        assert_eq!(progress.committable(), None);
        progress.acknowledge(10);
        assert_eq!(progress.committable(), None);
        progress.acknowledge(10);
        assert_eq!(progress.committable(), Some(11));
    }

    #[test]
    fn a_later_offset_done_first_waits_for_the_earlier_ones() {
        let mut progress = PartitionProgress::default();
        progress.read(0, 1);
        progress.read(1, 0);
        progress.read(2, 3);
        progress.read(5, 1);
        progress.acknowledge(5);
        progress.acknowledge(2);
        progress.acknowledge(2);
        assert_eq!(progress.committable(), None);
        progress.acknowledge(0);
        assert_eq!(progress.committable(), Some(2));
        assert_eq!(progress.waiting(), 1);
        progress.acknowledge(2);
        assert_eq!(progress.committable(), Some(6));
        assert_eq!(progress.waiting(), 0);
    }

    #[test]
    fn records_without_outputs_are_done_at_once_when_nothing_precedes_them() {
        let mut progress = PartitionProgress::default();
        progress.read(7, 0);
        assert_eq!(progress.committable(), Some(8));
        progress.read(8, 1);
        progress.read(9, 0);
        assert_eq!(progress.committable(), Some(8));
        progress.acknowledge(8);
        assert_eq!(progress.committable(), Some(10));
    }
}
