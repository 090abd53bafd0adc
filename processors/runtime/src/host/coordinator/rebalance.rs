//! The coordinator's side of a rebalance: assigning and pausing new partitions, queueing
//! their restores and taking the restored ones in, committing before a revocation, and
//! abandoning the batch when partitions are lost.

use super::{Coordinator, PartitionTask, Restoring, KAFKA_TIMEOUT};
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
use std::time::Duration;

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
            self.start_restore(partition, starts)?;
        }
        tracing::info!(owned = ?self.owned(), restoring = ?self.restoring.keys().collect::<Vec<_>>(), "partitions assigned");
        Ok(())
    }

    fn start_restore(
        &mut self,
        partition: i32,
        starts: BTreeMap<String, Offset>,
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
        })?;
        let restoring = Restoring {
            generation: self.generation,
            cancelled,
            starts,
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
