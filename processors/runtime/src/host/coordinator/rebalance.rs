//! The coordinator's side of a rebalance: assigning and pausing new partitions, queueing
//! their restores and taking the restored ones in, committing before a revocation, and
//! abandoning the batch when partitions are lost.

use super::{Coordinator, PartitionTask, Restoring, KAFKA_TIMEOUT};
use crate::config::Guarantee;
use crate::error::RuntimeError;
use crate::host::context::{self, RebalanceEvent};
use crate::host::inputs::TaskInputs;
use crate::host::restorer::{RestoreJob, RestoredPartition};
use crate::processor::KeyedProcessor;
use crate::state::changelog::LastWrites;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::producer::Producer;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a partition's restore is repeated while its last seal is behind the group's
/// committed offsets (see [`seal_behind_commit`]).
const SEAL_WAIT: Duration = Duration::from_secs(30);

/// Under exactly-once, a batch's seal (in the changelog) and its input offsets (the group's)
/// are committed in one transaction, and the group's offsets are read stable
/// (`read_committed` asks for them so): a committed offset past the last seal restored means
/// the changelog's part of that transaction was not readable yet. A commit returns once it
/// is decided, and the markers that make it readable reach each partition after that, so a
/// new owner can restore in between; resuming at the older seal would process the batch a
/// second time. Gives the first input topic whose committed offset is past the seal, with
/// both offsets (`None` for no seal).
pub(super) fn seal_behind_commit(
    sealed: &BTreeMap<String, i64>,
    starts: &BTreeMap<String, Offset>,
) -> Option<(String, i64, Option<i64>)> {
    starts.iter().find_map(|(topic, start)| {
        let Offset::Offset(committed) = *start else {
            return None;
        };
        let seal = sealed.get(topic).copied();
        (seal.is_none_or(|seal| committed > seal)).then(|| (topic.clone(), committed, seal))
    })
}

impl<P: KeyedProcessor> Coordinator<P> {
    /// Handles a rebalance event after the callback that raised it has returned, and applies
    /// the change to the consumer's assignment.
    pub(crate) fn on_rebalance<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        event: RebalanceEvent,
    ) -> Result<(), RuntimeError> {
        let result = match event {
            RebalanceEvent::Assigned(tpl) => self.assign(consumer, tpl),
            RebalanceEvent::Revoked(tpl) => self.revoke(consumer, &tpl),
            RebalanceEvent::Lost(tpl) => self.lose(consumer, &tpl),
        };
        // From the first event on, the instance has joined its group.
        self.publish_counts();
        result
    }

    /// Assigns `tpl` at the group's committed offsets (the beginning where none is), pauses
    /// it, and queues each new partition's restore. Its inputs resume once the restored
    /// partition is taken in ([`Coordinator::take_restored`]), at the last seal's offsets.
    fn assign<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        mut tpl: TopicPartitionList,
    ) -> Result<(), RuntimeError> {
        self.metrics
            .rebalances
            .with_label_values(&["assigned"])
            .inc();
        self.read_partition_counts(consumer);
        // Explicit start offsets: librdkafka then fetches nothing of its own that could
        // land after the seek that ends the restore.
        let committed = consumer.committed_offsets(tpl.clone(), KAFKA_TIMEOUT)?;
        let mut starts: BTreeMap<i32, BTreeMap<String, Offset>> = BTreeMap::new();
        for element in committed.elements() {
            let start = match element.offset() {
                Offset::Offset(next) => Offset::Offset(next),
                _ => Offset::Beginning,
            };
            tpl.set_partition_offset(element.topic(), element.partition(), start)?;
            let partition = starts.entry(element.partition()).or_default();
            partition.insert(element.topic().to_owned(), start);
        }
        context::assign(consumer, &tpl)?;
        consumer.pause(&tpl)?;
        self.applier.wait()?;
        for (partition, starts) in starts {
            if self.partitions.contains_key(&partition) {
                continue;
            }
            self.start_restore(partition, starts, Instant::now(), Duration::ZERO)?;
        }
        tracing::info!(owned = ?self.owned(), restoring = ?self.restoring.keys().collect::<Vec<_>>(), "partitions assigned");
        Ok(())
    }

    fn start_restore(
        &mut self,
        partition: i32,
        starts: BTreeMap<String, Offset>,
        since: Instant,
        delay: Duration,
    ) -> Result<(), RuntimeError> {
        if let Some(earlier) = self.restoring.remove(&partition) {
            earlier.cancelled.store(true, Ordering::SeqCst);
        }
        self.generation += 1;
        let cancelled = Arc::new(AtomicBool::new(false));
        self.view.set_restoring(partition);
        self.restorer.submit(RestoreJob {
            store: self.store.partition(partition)?,
            generation: self.generation,
            now: self.clock.now(),
            cancelled: cancelled.clone(),
            delay,
        })?;
        let restoring = Restoring {
            generation: self.generation,
            cancelled,
            starts,
            since,
        };
        self.restoring.insert(partition, restoring);
        Ok(())
    }

    /// Takes in the partitions the restore thread has finished: each one's inputs seek to
    /// its last seal (or the start they were assigned at) and resume.
    pub(crate) fn take_restored<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
    ) -> Result<(), RuntimeError> {
        if self.restoring.is_empty() {
            return Ok(());
        }
        for restored in self.restorer.finished() {
            let partition = restored.partition;
            let current = (self.restoring.get(&partition)).map(|r| r.generation);
            if current != Some(restored.generation) {
                continue; // Revoked while it restored.
            }
            let restoring = self.restoring.remove(&partition).expect("just found");
            match restored.result {
                Ok(ready) if self.seal_pending(partition, &ready, &restoring) => {
                    // The restore is thrown away; the next one goes on from sled.
                    let again = Duration::from_millis(100);
                    self.start_restore(partition, restoring.starts, restoring.since, again)?;
                }
                Ok(ready) => self.install(consumer, partition, ready, restoring.starts)?,
                Err(error) => {
                    self.view.release(partition);
                    tracing::error!(partition, %error, "restore failed");
                    self.publish_counts();
                    return Err(error);
                }
            }
        }
        self.publish_counts();
        Ok(())
    }

    /// Whether a restored partition must be restored again because the seal of the last
    /// committed batch is not readable yet ([`seal_behind_commit`], exactly-once only), for
    /// up to [`SEAL_WAIT`]; past it the partition resumes at the seal it has, with a warning.
    fn seal_pending(
        &self,
        partition: i32,
        ready: &RestoredPartition<P>,
        restoring: &Restoring,
    ) -> bool {
        if self.config.guarantee != Guarantee::ExactlyOnce {
            return false;
        }
        let Some(behind) = seal_behind_commit(&ready.inputs, &restoring.starts) else {
            return false;
        };
        if restoring.since.elapsed() < SEAL_WAIT {
            tracing::info!(
                partition,
                ?behind,
                "the last committed batch is not readable yet: restoring again"
            );
            return true;
        }
        tracing::warn!(partition, ?behind, seconds = SEAL_WAIT.as_secs(), "the group's committed offsets stayed past the changelog's last seal; resuming at the seal");
        false
    }

    fn install<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        partition: i32,
        ready: RestoredPartition<P>,
        starts: BTreeMap<String, Offset>,
    ) -> Result<(), RuntimeError> {
        let RestoredPartition {
            processor,
            store,
            wheel,
            loaded_until,
            timers_pending,
            inputs,
            outcome,
            undo,
        } = ready;
        self.metrics.timers_pending.add(timers_pending);
        let mut resume = TopicPartitionList::new();
        let mut next = Vec::new();
        for topic in &self.config.input_topics {
            let start = match inputs.get(topic) {
                Some(sealed) => Offset::Offset(*sealed),
                None => starts.get(topic).copied().unwrap_or(Offset::Beginning),
            };
            resume.add_partition_offset(topic, partition, start)?;
            next.push(match start {
                Offset::Offset(offset) => Some(offset),
                _ => None,
            });
        }
        let batch = self.next_batch_id();
        self.view.set_ready(store.clone());
        self.partitions.insert(
            partition,
            PartitionTask {
                processor,
                store,
                wheel,
                loaded_until,
                inputs,
                writes: LastWrites::default(),
                dirty: false,
                batch,
                timers_pending: Arc::new(AtomicI64::new(timers_pending)),
                queued: TaskInputs::new(next),
            },
        );
        // A seek drops what was fetched before the pause took hold.
        for element in consumer
            .seek_partitions(resume.clone(), KAFKA_TIMEOUT)?
            .elements()
        {
            element.error()?;
        }
        consumer.resume(&resume)?;
        tracing::info!(partition, ?outcome, "partition ready");
        if !undo.is_empty() {
            // A batch crashed before its seal: its writes are in the changelog after the last
            // seal. Each key's restored value is written over them in the next batch, before
            // its seal, so that a later restore, from a compacted changelog too, never sees
            // them as the last word on a key.
            tracing::warn!(
                partition,
                writes = outcome.tail.len(),
                keys = undo.len(),
                "undoing the writes of a batch that crashed before its seal"
            );
            self.begin()?;
            let task = self.partitions.get_mut(&partition).expect("just inserted");
            for op in undo {
                task.writes.write(op);
            }
            task.dirty = true;
        }
        Ok(())
    }

    /// Commits the open batch, then gives the partitions up.
    fn revoke<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        tpl: &TopicPartitionList,
    ) -> Result<(), RuntimeError> {
        self.metrics
            .rebalances
            .with_label_values(&["revoked"])
            .inc();
        let committed = self.commit(consumer, CommitMode::Sync);
        if let Err(error) = &committed {
            tracing::error!(%error, "commit before revocation failed");
        }
        self.drop_partitions(tpl)?;
        context::unassign(consumer, tpl)?;
        committed
    }

    /// Gives the partitions up without committing: the group has moved on.
    fn lose<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        tpl: &TopicPartitionList,
    ) -> Result<(), RuntimeError> {
        self.metrics.rebalances.with_label_values(&["lost"]).inc();
        tracing::warn!("partitions lost; the open batch is abandoned and will be reprocessed by their new owner");
        if self.in_transaction {
            let _ = self.producer.abort_transaction(KAFKA_TIMEOUT);
            self.in_transaction = false;
        }
        self.drop_partitions(tpl)?;
        context::unassign(consumer, tpl)?;
        // The open batch's other partitions cannot be committed either: reprocess them.
        if self.batch_records > 0 {
            return Err(RuntimeError::Fenced(
                "the group took this instance's partitions mid-batch; the batch is aborted".into(),
            ));
        }
        Ok(())
    }

    /// Sets the gauges of assigned and restoring partitions.
    fn publish_counts(&self) {
        let (owned, restoring) = (self.partitions.len(), self.restoring.len());
        self.metrics
            .assigned_partitions
            .set((owned + restoring) as i64);
        self.metrics.partitions_restoring.set(restoring as i64);
    }

    fn drop_partitions(&mut self, tpl: &TopicPartitionList) -> Result<(), RuntimeError> {
        let applied = self.applier.wait();
        for element in tpl.elements() {
            let partition = element.partition();
            if let Some(restoring) = self.restoring.remove(&partition) {
                restoring.cancelled.store(true, Ordering::SeqCst);
                self.view.release(partition);
            }
            if let Some(task) = self.partitions.remove(&partition) {
                self.view.release(partition);
                self.metrics
                    .timers_pending
                    .sub(task.timers_pending.load(Ordering::SeqCst));
                tracing::info!(partition, "partition released");
            }
        }
        applied
    }

    /// Reads the input topics' partition counts: a keyed record on a partition its key does
    /// not belong to is refused.
    fn read_partition_counts<C: ConsumerContext>(&mut self, consumer: &BaseConsumer<C>) {
        for topic in &self.config.input_topics {
            let Ok(metadata) = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)) else {
                continue;
            };
            if let Some(found) = metadata.topics().iter().find(|t| t.name() == topic) {
                if !found.partitions().is_empty() {
                    (self.partition_counts).insert(topic.clone(), found.partitions().len() as i32);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
        pairs.iter().map(|(t, o)| (t.to_string(), *o)).collect()
    }

    fn starts(pairs: &[(&str, Offset)]) -> BTreeMap<String, Offset> {
        pairs.iter().map(|(t, o)| (t.to_string(), *o)).collect()
    }

    #[test]
    fn a_committed_offset_past_the_last_seal_is_a_batch_not_yet_readable() {
        let sealed = offsets(&[("events", 40), ("decisions", 7)]);
        // The seal and the commit of the same batch agree.
        let same = starts(&[
            ("events", Offset::Offset(40)),
            ("decisions", Offset::Offset(7)),
        ]);
        assert_eq!(seal_behind_commit(&sealed, &same), None);
        // An input the group has no offset for starts where the seal says.
        let none = starts(&[
            ("events", Offset::Beginning),
            ("decisions", Offset::Offset(7)),
        ]);
        assert_eq!(seal_behind_commit(&sealed, &none), None);
        // A later batch was committed: its seal is not readable yet.
        let later = starts(&[
            ("events", Offset::Offset(40)),
            ("decisions", Offset::Offset(9)),
        ]);
        assert_eq!(
            seal_behind_commit(&sealed, &later),
            Some(("decisions".to_owned(), 9, Some(7)))
        );
        // The first batch was committed and no seal is readable yet.
        let first = starts(&[("events", Offset::Offset(3))]);
        assert_eq!(
            seal_behind_commit(&BTreeMap::new(), &first),
            Some(("events".to_owned(), 3, None))
        );
    }
}
