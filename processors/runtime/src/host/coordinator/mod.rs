//! The coordinator: owns the assigned partitions, runs records and timers through their
//! processors, and commits batches (outputs, changelog, seal, offsets, then sled).

use crate::clock::Clock;
use crate::config::{Guarantee, RuntimeConfig};
use crate::error::RuntimeError;
use crate::host::delivery::DeliveryTracker;
use crate::host::inputs::{cached_watermarks, nothing_to_fetch, TaskInputs};
use crate::host::restorer::Restorer;
use crate::metrics::Metrics;
use crate::processor::{Effects, InputRecord, KeyedProcessor, Output};
use crate::state::applier::{ApplyJob, SledApplier};
use crate::state::changelog::{encode_offsets, seal_key, BatchId, LastWrites, BATCH_HEADER};
use crate::state::{PartitionMeta, PartitionStore, StateStore, StateView};
use crate::step::{self, record_time};
use crate::timers::TimerWheel;
use parley_core::Timestamp;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, ConsumerGroupMetadata,
};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod rebalance;

const KAFKA_TIMEOUT: Duration = Duration::from_secs(30);

/// One assigned partition (its number, shared by all co-partitioned inputs).
struct PartitionTask<P> {
    processor: P,
    store: PartitionStore,
    wheel: TimerWheel<Vec<u8>>,
    /// Timers with due times up to here are in the wheel.
    loaded_until: Timestamp,
    /// Next input offset per topic, including the open batch.
    inputs: BTreeMap<String, i64>,
    /// Writes of the open batch, the last per key (Kafka Streams' record cache): a key
    /// written by several inputs of a batch costs one changelog record and one sled write.
    /// They are produced to the changelog at commit, before the seal, so the changelog
    /// still holds, per batch, each key's value at the batch's end.
    writes: LastWrites,
    /// Whether the open batch touched this partition.
    dirty: bool,
    batch: BatchId,
    timers_pending: Arc<AtomicI64>,
    /// Polled records waiting for their turn in timestamp order.
    queued: TaskInputs,
}

/// A partition assigned and restoring on the restore thread; its inputs are paused.
struct Restoring {
    generation: u64,
    cancelled: Arc<AtomicBool>,
    /// Where each input starts if the partition has no seal: the group's committed offset,
    /// or the beginning.
    starts: BTreeMap<String, Offset>,
    /// When the partition's first restore began; see [`rebalance::seal_behind_commit`].
    since: std::time::Instant,
}

/// Owns the partitions and the producer; see the module doc.
pub(crate) struct Coordinator<P: KeyedProcessor> {
    config: RuntimeConfig,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    store: StateStore,
    applier: SledApplier,
    producer: Arc<ThreadedProducer<DeliveryTracker>>,
    restorer: Restorer<P>,
    partitions: BTreeMap<i32, PartitionTask<P>>,
    restoring: BTreeMap<i32, Restoring>,
    /// Numbers the restore jobs.
    generation: u64,
    /// Records and timers in the open batch.
    batch_records: usize,
    batch_started: Option<Instant>,
    in_transaction: bool,
    epoch: u64,
    sequence: u64,
    effects: Effects,
    /// Where to stop dead, for crash tests.
    pub(crate) pause: Option<(PausePoint, u64)>,
    /// What the `/state` endpoint reads: the owned partitions, published on every rebalance.
    pub(crate) view: StateView,
    commits: u64,
    /// Partition counts of the input topics, read at every assignment: a keyed record on a
    /// partition its key does not belong to is refused.
    partition_counts: BTreeMap<String, i32>,
    /// The input topics' names for librdkafka's C calls, in `config.input_topics` order.
    input_names: Vec<CString>,
}

/// A point in a batch commit where a crash test can freeze the process (to kill it there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PausePoint {
    /// The batch's outputs and state writes are handed to the producer, its seals are not:
    /// whatever was delivered, a restart reprocesses the batch.
    BeforeSeal,
    /// The batch's records are handed to the producer; nothing is committed yet (the
    /// transaction is open, or deliveries are in flight).
    BeforeCommit,
    /// Outputs, changelog and seal are acknowledged (or the transaction committed); sled is not
    /// yet applied.
    AfterProduce,
    /// sled is applied; the input offsets are not yet committed to the group.
    AfterApply,
}

impl PausePoint {
    /// Parses `before-seal`, `before-commit`, `after-produce` or `after-apply`.
    pub fn parse(text: &str) -> Option<PausePoint> {
        match text {
            "before-seal" => Some(PausePoint::BeforeSeal),
            "before-commit" => Some(PausePoint::BeforeCommit),
            "after-produce" => Some(PausePoint::AfterProduce),
            "after-apply" => Some(PausePoint::AfterApply),
            _ => None,
        }
    }
}

impl<P: KeyedProcessor> Coordinator<P> {
    pub(crate) fn new(
        config: RuntimeConfig,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
        store: StateStore,
        producer: ThreadedProducer<DeliveryTracker>,
        restorer: Restorer<P>,
    ) -> Coordinator<P> {
        let epoch = (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64)
            ^ ((std::process::id() as u64) << 48);
        let input_names = config
            .input_topics
            .iter()
            .map(|topic| CString::new(topic.as_str()).expect("topic names hold no NUL"))
            .collect();
        Coordinator {
            config,
            clock,
            metrics,
            store,
            applier: SledApplier::new(),
            producer: Arc::new(producer),
            restorer,
            partitions: BTreeMap::new(),
            restoring: BTreeMap::new(),
            generation: 0,
            batch_records: 0,
            batch_started: None,
            in_transaction: false,
            epoch,
            sequence: 0,
            effects: Effects::default(),
            pause: None,
            view: StateView::new(),
            commits: 0,
            partition_counts: BTreeMap::new(),
            input_names,
        }
    }

    /// The partitions owned now.
    pub(crate) fn owned(&self) -> Vec<i32> {
        self.partitions.keys().copied().collect()
    }

    fn next_batch_id(&mut self) -> BatchId {
        self.sequence += 1;
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&self.epoch.to_be_bytes());
        id[8..].copy_from_slice(&self.sequence.to_be_bytes());
        id
    }

    pub(super) fn begin(&mut self) -> Result<(), RuntimeError> {
        if self.batch_started.is_none() {
            self.batch_started = Some(Instant::now());
        }
        if self.config.guarantee == Guarantee::ExactlyOnce && !self.in_transaction {
            self.producer.begin_transaction()?;
            self.in_transaction = true;
        }
        Ok(())
    }

    /// Takes a polled record: handled at once when its partition has nothing buffered and
    /// its other inputs have nothing to fetch, else buffered for [`Coordinator::drain`] (see
    /// the `inputs` module).
    pub(crate) fn accept<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        record: InputRecord<'_>,
    ) -> Result<(), RuntimeError> {
        let partition = record.partition;
        let (Some(topic), Some(task)) = (
            self.config
                .input_topics
                .iter()
                .position(|t| t == record.topic),
            self.partitions.get_mut(&partition),
        ) else {
            if self.restoring.contains_key(&partition) {
                // Fetched before the pause took hold; read again from its start once restored.
                return Ok(());
            }
            return self.handle_record(record);
        };
        let names = &self.input_names;
        let caught_up = |t: usize, next: Option<i64>| {
            nothing_to_fetch(cached_watermarks(consumer, &names[t], partition), next)
        };
        if task.queued.polled(topic, record.offset, caught_up) {
            return self.handle_record(record);
        }
        task.queued.push(topic, &record);
        Ok(())
    }

    /// Handles every buffered record whose turn has come, in each partition's timestamp
    /// order.
    pub(crate) fn drain<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
    ) -> Result<(), RuntimeError> {
        let waiting: Vec<i32> = self
            .partitions
            .iter()
            .filter(|(_, task)| !task.queued.is_empty())
            .map(|(partition, _)| *partition)
            .collect();
        for partition in waiting {
            loop {
                let (topics, names) = (&self.config.input_topics, &self.input_names);
                let Some(task) = self.partitions.get_mut(&partition) else {
                    break;
                };
                let next = task.queued.next_topic(|t, next| {
                    nothing_to_fetch(cached_watermarks(consumer, &names[t], partition), next)
                });
                let Some(topic) = next else {
                    break;
                };
                let buffered = task.queued.pop(topic).expect("the chosen topic has a head");
                let name = topics[topic].clone();
                self.handle_record(buffered.record(&name, partition))?;
            }
        }
        Ok(())
    }

    /// Runs one input record through its partition's processor.
    pub(crate) fn handle_record(&mut self, record: InputRecord<'_>) -> Result<(), RuntimeError> {
        let Some(task) = self.partitions.get(&record.partition) else {
            tracing::warn!(
                topic = record.topic,
                partition = record.partition,
                "record of an unowned partition"
            );
            return Ok(());
        };
        if task
            .inputs
            .get(record.topic)
            .is_some_and(|next| record.offset < *next)
        {
            return Ok(()); // Already in a sealed batch.
        }
        self.begin()?;
        self.metrics
            .records_in
            .with_label_values(&[record.topic])
            .inc();
        let (now, ahead) = record_time(&self.config.time, record.timestamp, self.clock.now());
        if ahead {
            self.metrics.records_ahead.inc();
            tracing::debug!(
                topic = record.topic,
                partition = record.partition,
                offset = record.offset,
                timestamp = ?record.timestamp,
                "record timestamp ahead of the clock, handled at the clock plus time.max_ahead_ms"
            );
        }
        let task = self
            .partitions
            .get_mut(&record.partition)
            .expect("checked above");
        let mut effects = std::mem::take(&mut self.effects);
        let refusal = step::handle_record(
            &mut task.processor,
            &record,
            now,
            self.partition_counts.get(record.topic).copied(),
            &self.config.dlq_topic,
            &mut effects,
        );
        if let Some((stage, reason)) = refusal {
            self.metrics
                .dlq_records
                .with_label_values(&[stage.as_str(), reason])
                .inc();
        }
        task.inputs
            .insert(record.topic.to_owned(), record.offset + 1);
        task.dirty = true;
        // Stamped with the time the processor handled the record at, never earlier than its own.
        let at = step::output_time(&effects, now);
        let result = self.apply_effects(record.partition, &effects, at);
        self.effects = effects;
        self.batch_records += 1;
        result
    }

    /// Fires the timers due at `now` (by the clock) in every partition. Each is handled with
    /// its own due time as `now`, so its outputs do not depend on when the loop got to it.
    pub(crate) fn fire_timers(&mut self, now: Timestamp) -> Result<(), RuntimeError> {
        let overdue = (self.partitions.values())
            .filter_map(|t| t.wheel.poll_at())
            .filter(|at| *at <= now)
            .map(|at| now.since(at).0)
            .max()
            .unwrap_or(0);
        self.metrics.timers_overdue.set(overdue as f64 / 1_000.0);
        let due: Vec<i32> = self
            .partitions
            .iter()
            .filter(|(_, t)| t.wheel.poll_at().is_some_and(|at| at <= now))
            .map(|(p, _)| *p)
            .collect();
        for partition in due {
            let fired = self
                .partitions
                .get_mut(&partition)
                .expect("owned")
                .wheel
                .advance(now);
            if fired.is_empty() {
                continue;
            }
            self.begin()?;
            for (timer, due) in fired {
                let mut effects = std::mem::take(&mut self.effects);
                let task = self.partitions.get_mut(&partition).expect("owned");
                if !step::fire_timer(
                    &mut task.processor,
                    &timer,
                    due,
                    &mut effects,
                    &self.metrics.timers_dropped,
                ) {
                    self.effects = effects;
                    continue;
                }
                task.dirty = true;
                self.metrics.timers_fired.inc();
                let at = step::output_time(&effects, due);
                let result = self.apply_effects(partition, &effects, at);
                self.effects = effects;
                self.batch_records += 1;
                result?;
            }
        }
        Ok(())
    }

    /// Produces the outputs (timestamped `now`, the time they were made at) of one input or
    /// timer and records its state and timer writes in the batch's [`LastWrites`].
    fn apply_effects(
        &mut self,
        partition: i32,
        effects: &Effects,
        now: Timestamp,
    ) -> Result<(), RuntimeError> {
        for output in &effects.outputs {
            self.produce(output, now)?;
        }
        let task = self.partitions.get_mut(&partition).expect("owned");
        let writes = &mut task.writes;
        step::changelog_writes(effects, &mut task.wheel, task.loaded_until, |op| {
            writes.write(op)
        });
        Ok(())
    }

    fn produce(&self, output: &Output, now: Timestamp) -> Result<(), RuntimeError> {
        let mut headers = OwnedHeaders::new_with_capacity(output.headers.len());
        for (name, value) in &output.headers {
            headers = headers.insert(Header {
                key: name,
                value: Some(value),
            });
        }
        let record = BaseRecord::<[u8], [u8]>::to(&output.topic)
            .key(&output.key[..])
            .payload(&output.value[..])
            .headers(headers)
            .timestamp(now.0);
        self.send(record)?;
        self.metrics
            .records_out
            .with_label_values(&[&output.topic])
            .inc();
        Ok(())
    }

    fn produce_changelog(
        &self,
        partition: i32,
        key: &[u8],
        value: Option<&[u8]>,
        batch: &BatchId,
    ) -> Result<(), RuntimeError> {
        let headers = OwnedHeaders::new_with_capacity(1).insert(Header {
            key: BATCH_HEADER,
            value: Some(&batch[..]),
        });
        let mut record = BaseRecord::<[u8], [u8]>::to(&self.config.changelog_topic)
            .partition(partition)
            .key(key)
            .headers(headers);
        if let Some(value) = value {
            record = record.payload(value);
        }
        self.send(record)
    }

    fn send(&self, mut record: BaseRecord<'_, [u8], [u8]>) -> Result<(), RuntimeError> {
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((error, _)) => return Err(error.into()),
            }
        }
    }

    /// Whether the open batch should be committed now.
    pub(crate) fn batch_due(&self) -> bool {
        self.batch_records >= self.config.batch_size
            || self.batch_started.is_some_and(|at| {
                at.elapsed() >= Duration::from_millis(self.config.commit_interval_ms)
            })
    }

    /// Whether records were handled or timers fired since the last commit.
    pub(crate) fn has_open_batch(&self) -> bool {
        self.batch_records > 0 || self.partitions.values().any(|t| t.dirty)
    }

    /// The earliest due time of a timer in memory, over every partition.
    pub(crate) fn next_due(&self) -> Option<Timestamp> {
        self.partitions
            .values()
            .filter_map(|t| t.wheel.poll_at())
            .min()
    }

    /// How long the loop may wait for a record before it has something else to do.
    pub(crate) fn poll_timeout(&self, now: Timestamp) -> Duration {
        let mut timeout = Duration::from_millis(100);
        if !self.restoring.is_empty() {
            // Take each restored partition in soon after its restore ends.
            timeout = timeout.min(Duration::from_millis(20));
        }
        if self.partitions.values().any(|task| !task.queued.is_empty()) {
            // Buffered records wait for another topic's fetch: look again soon.
            timeout = timeout.min(Duration::from_millis(5));
        }
        if let Some(started) = self.batch_started {
            let deadline = Duration::from_millis(self.config.commit_interval_ms);
            timeout = timeout.min(deadline.saturating_sub(started.elapsed()));
        }
        for task in self.partitions.values() {
            if let Some(at) = task.wheel.poll_at() {
                timeout = timeout.min(Duration::from_millis(at.since(now).0 as u64));
            }
        }
        timeout
    }

    /// Commits the open batch: seals, outputs and offsets to Kafka, then sled.
    pub(crate) fn commit<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        mode: CommitMode,
    ) -> Result<(), RuntimeError> {
        if self.batch_records == 0 && !self.partitions.values().any(|t| t.dirty) {
            return Ok(());
        }
        let started = Instant::now();
        let mut offsets = TopicPartitionList::new();
        let dirty: Vec<i32> = self
            .partitions
            .iter()
            .filter(|(_, t)| t.dirty)
            .map(|(p, _)| *p)
            .collect();
        for partition in &dirty {
            let task = &self.partitions[partition];
            for op in task.writes.ops() {
                let (key, value) = op.encode();
                self.produce_changelog(*partition, &key, value.as_deref(), &task.batch)?;
            }
        }
        self.pause_if(PausePoint::BeforeSeal, self.commits + 1);
        if self.config.guarantee == Guarantee::AtLeastOnce {
            // A seal says that its batch is whole: restore resumes input after it. So it is
            // produced only once every output and state write of the batch is acknowledged;
            // produced with them, it could be acknowledged first, and a crash then would lose
            // the rest. (In exactly_once the transaction commits all of them or none.)
            crate::host::flush(&self.producer, KAFKA_TIMEOUT)?;
            self.delivered()?;
        }
        for partition in &dirty {
            let task = &self.partitions[partition];
            let seal = encode_offsets(&task.inputs);
            self.produce_changelog(*partition, &seal_key(), Some(&seal), &task.batch)?;
            for (topic, next) in &task.inputs {
                offsets.add_partition_offset(topic, *partition, Offset::Offset(*next))?;
            }
        }
        self.pause_if(PausePoint::BeforeCommit, self.commits + 1);
        match self.config.guarantee {
            Guarantee::ExactlyOnce => {
                // rdkafka's commit_transaction flushes first, polling in steps of 100 ms:
                // waiting here for the acknowledgements takes that floor off every commit.
                crate::host::flush(&self.producer, KAFKA_TIMEOUT)?;
                let group = consumer
                    .group_metadata()
                    .ok_or_else(|| RuntimeError::Produce("no group metadata".into()))?;
                let result = self.send_offsets(&offsets, group).and_then(|()| {
                    (self.producer.commit_transaction(KAFKA_TIMEOUT)).map_err(commit_error)
                });
                self.in_transaction = false;
                if let Err(error) = result {
                    let _ = self.producer.abort_transaction(KAFKA_TIMEOUT);
                    return Err(error);
                }
            }
            Guarantee::AtLeastOnce => crate::host::flush(&self.producer, KAFKA_TIMEOUT)?,
        }
        let seals = self.delivered()?;
        self.commits += 1;
        self.pause_if(PausePoint::AfterProduce, self.commits);
        let now = self.clock.now();
        for partition in &dirty {
            let seal_offset = *seals.get(partition).ok_or_else(|| {
                RuntimeError::Produce(format!(
                    "no delivery report for the seal of partition {partition}"
                ))
            })?;
            let batch = self.next_batch_id();
            let task = self.partitions.get_mut(partition).expect("owned");
            let meta = PartitionMeta {
                changelog_next: Some(seal_offset + 1),
                inputs: task.inputs.clone(),
                written_at: Some(now),
            };
            self.applier.submit(ApplyJob {
                store: task.store.clone(),
                ops: task.writes.take(),
                meta,
                timers: task.timers_pending.clone(),
                gauge: self.metrics.timers_pending.clone(),
            })?;
            task.dirty = false;
            task.batch = batch;
        }
        if self
            .pause
            .is_some_and(|(point, _)| point == PausePoint::AfterApply)
        {
            self.applier.wait()?;
        }
        self.pause_if(PausePoint::AfterApply, self.commits);
        if self.config.guarantee == Guarantee::AtLeastOnce && offsets.count() > 0 {
            if let Err(error) = consumer.commit(&offsets, mode) {
                // Safe to go on: restore resumes from the seal, which is already durable.
                tracing::warn!(%error, "offset commit failed");
            }
        }
        self.metrics
            .commit_latency
            .with_label_values(&[self.config.guarantee.as_str()])
            .observe(started.elapsed().as_secs_f64());
        if let Some(batch_started) = self.batch_started.take() {
            self.metrics
                .processing_latency
                .observe(batch_started.elapsed().as_secs_f64());
        }
        self.metrics.batches.inc();
        self.batch_records = 0;
        Ok(())
    }

    /// The seal offsets delivered since the last call, or an error if any record failed.
    fn delivered(&self) -> Result<std::collections::HashMap<i32, i64>, RuntimeError> {
        let (failed, error, seals) = self.producer.context().take();
        if failed > 0 {
            return Err(RuntimeError::Produce(format!(
                "{failed} records not delivered: {}",
                error.unwrap_or_default()
            )));
        }
        Ok(seals)
    }

    /// `send_offsets_to_transaction` on a thread of its own, waited for [`KAFKA_TIMEOUT`] and
    /// 5 s more. librdkafka's call can block far past its timeout, for minutes, when the
    /// broker it knows as the group's coordinator goes away (librdkafka issues 5456 and 5511;
    /// seen here in a rolling restart). A call that has not returned by then fails the batch,
    /// and the host starts again with a new producer, whose `init_transactions` fences this
    /// one; the thread keeps this producer until its call returns.
    fn send_offsets(
        &self,
        offsets: &TopicPartitionList,
        group: ConsumerGroupMetadata,
    ) -> Result<(), RuntimeError> {
        let (producer, offsets) = (self.producer.clone(), offsets.clone());
        let (sent, answer) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("parley-offsets".into())
            .spawn(move || {
                let _ = sent.send(producer.send_offsets_to_transaction(
                    &offsets,
                    &group,
                    KAFKA_TIMEOUT,
                ));
            })?;
        let wait = KAFKA_TIMEOUT + Duration::from_secs(5);
        match answer.recv_timeout(wait) {
            Ok(result) => result.map_err(commit_error),
            Err(_) => Err(RuntimeError::Produce(format!(
                "send_offsets_to_transaction has not returned within {} s (the group \
                 coordinator's broker went away); the producer is dropped",
                wait.as_secs()
            ))),
        }
    }

    fn pause_if(&self, point: PausePoint, commit: u64) {
        if self.pause == Some((point, commit)) {
            eprintln!("PAUSED {point:?} at commit {commit}");
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
    }

    /// Between batches: refills timer wheels from sled.
    pub(crate) fn refill_timers(&mut self, now: Timestamp) -> Result<(), RuntimeError> {
        let horizon = self.config.timer_horizon_ms as i64;
        let due = |task: &PartitionTask<P>| now.0.saturating_add(horizon / 2) > task.loaded_until.0;
        if !self.partitions.values().any(due) {
            return Ok(());
        }
        // The index must hold every committed batch before it is scanned.
        self.applier.wait()?;
        for task in self.partitions.values_mut() {
            if !task.writes.is_empty() || !due(task) {
                continue;
            }
            let until = Timestamp(now.0.saturating_add(horizon));
            for (timer, due) in task.store.timers_due(Some(task.loaded_until), until)? {
                let _ = task.wheel.insert(timer, due);
            }
            task.loaded_until = until;
        }
        Ok(())
    }

    /// Updates the lag and state size gauges.
    pub(crate) fn update_gauges<C: ConsumerContext>(&self, consumer: &BaseConsumer<C>) {
        self.metrics
            .state_bytes
            .set(self.store.size_on_disk() as i64);
        for (partition, task) in &self.partitions {
            for topic in &self.config.input_topics {
                if let Ok((_, high)) =
                    consumer.fetch_watermarks(topic, *partition, Duration::from_secs(1))
                {
                    let next = task.inputs.get(topic).copied().unwrap_or(0);
                    self.metrics
                        .consumer_lag
                        .with_label_values(&[topic, &partition.to_string()])
                        .set((high - next).max(0));
                }
            }
        }
    }

    /// Flushes sled (on shutdown).
    pub(crate) fn flush_store(&self) -> Result<(), RuntimeError> {
        self.applier.wait()?;
        self.store.flush().map_err(RuntimeError::from)
    }

    /// Drops every partition with its uncommitted work, when the host stops or starts again.
    pub(crate) fn release_partitions(&mut self) {
        for (partition, restoring) in std::mem::take(&mut self.restoring) {
            restoring.cancelled.store(true, Ordering::SeqCst);
            self.view.release(partition);
        }
        self.metrics.partitions_restoring.set(0);
        for (partition, task) in std::mem::take(&mut self.partitions) {
            self.view.release(partition);
            self.metrics
                .timers_pending
                .sub(task.timers_pending.load(Ordering::SeqCst));
        }
        self.batch_records = 0;
        self.batch_started = None;
    }
}

/// The error of a failed transactional commit: [`RuntimeError::Fenced`] when the group
/// refused the batch's offsets because it moved on without this instance (KIP-447), so that
/// a zombie's batch is aborted, never committed beside its new owner's.
fn commit_error(error: KafkaError) -> RuntimeError {
    match error.rdkafka_error_code() {
        Some(
            RDKafkaErrorCode::UnknownMemberId
            | RDKafkaErrorCode::IllegalGeneration
            | RDKafkaErrorCode::FencedInstanceId,
        ) => RuntimeError::Fenced(format!("the group refused the batch's offsets: {error}")),
        _ => error.into(),
    }
}
