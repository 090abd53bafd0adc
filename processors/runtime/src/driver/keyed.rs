//! [`KeyedStage`]: a [`KeyedProcessor`] per partition, stepped as the host steps it.

use crate::config::TimeConfig;
use crate::driver::topology::{Message, Record, Stage};
use crate::error::RuntimeError;
use crate::processor::{Effects, KeyedProcessor};
use crate::state::changelog::LastWrites;
use crate::state::{PartitionMeta, PartitionStore, StateStore};
use crate::step;
use crate::timers::TimerWheel;
use parley_core::Timestamp;
use prometheus::IntCounter;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Every timer is held in the wheel: the driver never refills it from the index.
const ALL_TIMERS: Timestamp = Timestamp(i64::MAX);

/// One partition: its processor, sled tree, timers, and the writes of the open step.
struct Partition<P> {
    processor: P,
    store: PartitionStore,
    wheel: TimerWheel<Vec<u8>>,
    /// Next input offset per topic, as the host's seal records it.
    inputs: BTreeMap<String, i64>,
    /// Writes of the open batch, the last per key, for sled (as the host keeps them).
    writes: LastWrites,
    dirty: bool,
}

/// A [`KeyedProcessor`] per partition on the host's pieces (see the [module](crate::driver)
/// doc): records are handled at their time as under the host's [`TimeConfig`], refused ones
/// become DLQ records, timers go into a [`TimerWheel`] and fire with their due time, and each
/// batch's state and timer writes (the last per key) are applied to a sled store at
/// [`Stage::commit`].
pub struct KeyedStage<P: KeyedProcessor> {
    factory: Box<dyn FnMut(i32) -> P>,
    state_dir: PathBuf,
    dlq_topic: String,
    time: TimeConfig,
    partition_count: i32,
    store: Option<StateStore>,
    partitions: BTreeMap<i32, Partition<P>>,
    effects: Effects,
    /// Timers that came due with a stored id that no longer decodes, removed unhandled.
    timers_dropped: IntCounter,
}

impl<P: KeyedProcessor> std::fmt::Debug for KeyedStage<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedStage")
            .field("state_dir", &self.state_dir)
            .field("partitions", &self.partitions.len())
            .finish_non_exhaustive()
    }
}

impl<P: KeyedProcessor> KeyedStage<P> {
    /// A stage whose partitions' processors `factory` makes, keeping its sled store in
    /// `state_dir` (which must not be in use) and writing refused records to `dlq_topic`.
    /// Records are handled at their timestamps, as under the default [`TimeConfig`].
    pub fn new(
        state_dir: impl Into<PathBuf>,
        dlq_topic: impl Into<String>,
        factory: impl FnMut(i32) -> P + 'static,
    ) -> KeyedStage<P> {
        KeyedStage {
            factory: Box::new(factory),
            state_dir: state_dir.into(),
            dlq_topic: dlq_topic.into(),
            time: TimeConfig::default(),
            partition_count: 1,
            store: None,
            partitions: BTreeMap::new(),
            effects: Effects::default(),
            timers_dropped: IntCounter::new(
                "parley_timers_dropped_total",
                "Timers removed unhandled because their stored id no longer decodes",
            )
            .expect("a valid counter"),
        }
    }

    /// Handles records at the times `time` says instead of the default's.
    pub fn with_time(mut self, time: TimeConfig) -> KeyedStage<P> {
        self.time = time;
        self
    }

    /// The processor of `partition`, once the stage is open.
    pub fn processor(&self, partition: i32) -> Option<&P> {
        self.partitions.get(&partition).map(|p| &p.processor)
    }

    /// How many timers came due with a stored id that no longer decodes as the processor's
    /// timer, and were removed without reaching it (the host's `parley_timers_dropped_total`).
    pub fn timers_dropped(&self) -> u64 {
        self.timers_dropped.get()
    }

    /// The sled store of `partition`, once the stage is open.
    pub fn store(&self, partition: i32) -> Option<&PartitionStore> {
        self.partitions.get(&partition).map(|p| &p.store)
    }

    /// Takes the outputs of `effects` onto `out`, stamped `at`, and records its writes for
    /// sled.
    fn apply(
        task: &mut Partition<P>,
        effects: &mut Effects,
        at: Timestamp,
        out: &mut Vec<Message>,
    ) {
        let writes = &mut task.writes;
        step::changelog_writes(effects, &mut task.wheel, ALL_TIMERS, |op| writes.write(op));
        task.dirty = true;
        out.extend((effects.outputs.drain(..)).map(|output| Message::from_output(output, at)));
    }
}

impl<P: KeyedProcessor> Stage for KeyedStage<P> {
    fn open(&mut self, partitions: i32, clock: Timestamp) -> Result<(), RuntimeError> {
        let (store, _) = StateStore::open(&self.state_dir)?;
        self.partition_count = partitions;
        for partition in 0..partitions {
            let tree = store.partition(partition)?;
            let mut processor = (self.factory)(partition);
            for entry in tree.entries() {
                let (key, value) = entry?;
                processor
                    .restore(&key, &value)
                    .map_err(|reason| RuntimeError::Restore { partition, reason })?;
            }
            let mut wheel = TimerWheel::new(clock);
            for (timer, due) in tree.timers_due(None, ALL_TIMERS)? {
                let _ = wheel.insert(timer, due);
            }
            let inputs = tree.meta()?.inputs;
            self.partitions.insert(
                partition,
                Partition {
                    processor,
                    store: tree,
                    wheel,
                    inputs,
                    writes: LastWrites::default(),
                    dirty: false,
                },
            );
        }
        self.store = Some(store);
        Ok(())
    }

    fn handle(
        &mut self,
        record: &Record,
        clock: Timestamp,
        out: &mut Vec<Message>,
    ) -> Result<(), RuntimeError> {
        let message = &record.message;
        let Some(task) = self.partitions.get_mut(&record.partition) else {
            return Ok(());
        };
        let input = record.input();
        let (now, _) = step::record_time(&self.time, input.timestamp, clock);
        let _ = step::handle_record(
            &mut task.processor,
            &input,
            now,
            Some(self.partition_count),
            &self.dlq_topic,
            &mut self.effects,
        );
        match task.inputs.get_mut(&message.topic) {
            Some(next) => *next = record.offset + 1,
            None => {
                task.inputs.insert(message.topic.clone(), record.offset + 1);
            }
        }
        let at = step::output_time(&self.effects, now);
        Self::apply(task, &mut self.effects, at, out);
        Ok(())
    }

    fn next_due(&self) -> Option<Timestamp> {
        self.partitions
            .values()
            .filter_map(|p| p.wheel.poll_at())
            .min()
    }

    fn fire_timers(
        &mut self,
        clock: Timestamp,
        out: &mut Vec<Message>,
    ) -> Result<(), RuntimeError> {
        let dropped = &self.timers_dropped;
        for task in self.partitions.values_mut() {
            if task.wheel.poll_at().is_none_or(|at| at > clock) {
                continue;
            }
            for (timer, due) in task.wheel.advance(clock) {
                if !step::fire_timer(&mut task.processor, &timer, due, &mut self.effects, dropped) {
                    continue;
                }
                let at = step::output_time(&self.effects, due);
                Self::apply(task, &mut self.effects, at, out);
            }
        }
        Ok(())
    }

    fn commit(&mut self, clock: Timestamp) -> Result<(), RuntimeError> {
        for task in self.partitions.values_mut().filter(|t| t.dirty) {
            let meta = PartitionMeta {
                changelog_next: None,
                inputs: task.inputs.clone(),
                written_at: Some(clock),
            };
            task.store.apply(&task.writes.take(), &meta)?;
            task.dirty = false;
        }
        Ok(())
    }
}
