//! [`Driver`]: stages wired by topic, records routed between them in memory, stepped until idle.

use crate::error::RuntimeError;
use crate::partitions::partition_of;
use crate::processor::{InputRecord, Output};
use parley_core::Timestamp;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// A record to append to a topic; the driver chooses its partition and offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The topic.
    pub topic: String,
    /// The key; `None` for a record without one.
    pub key: Option<Vec<u8>>,
    /// The value.
    pub value: Vec<u8>,
    /// Headers, in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The record timestamp.
    pub timestamp: Timestamp,
}

impl Message {
    /// A processor's output, produced at `timestamp` (its key set, as the host produces it).
    pub fn from_output(output: Output, timestamp: Timestamp) -> Message {
        Message {
            topic: output.topic,
            key: Some(output.key),
            value: output.value,
            headers: output.headers,
            timestamp,
        }
    }
}

/// A record as appended: its message with the partition and offset it got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The partition: murmur2 of the key, 0 for a record without a key.
    pub partition: i32,
    /// The offset within its topic partition, from 0.
    pub offset: i64,
    /// The record.
    pub message: Message,
}

impl Record {
    /// The record as a processor takes it: an absent key as empty, its timestamp given.
    pub fn input(&self) -> InputRecord<'_> {
        let message = &self.message;
        InputRecord {
            topic: &message.topic,
            partition: self.partition,
            offset: self.offset,
            key: message.key.as_deref().unwrap_or_default(),
            value: &message.value,
            timestamp: Some(message.timestamp),
        }
    }
}

/// A stage of a [`Driver`]: reads records of its topics and produces [`Message`]s.
///
/// Calling contract: [`open`](Stage::open) once when the stage is added; then, within a step,
/// [`handle`](Stage::handle) for each record of the stage's topics in append order and
/// [`fire_timers`](Stage::fire_timers) whenever the queue is empty; [`commit`](Stage::commit)
/// at the end of a step that closes a batch (see [`Driver::with_batch_size`]) and on
/// [`Driver::commit`]. The clock never moves back.
pub trait Stage {
    /// Prepares the stage for `partitions` partitions per topic at clock `clock`.
    fn open(&mut self, partitions: i32, clock: Timestamp) -> Result<(), RuntimeError>;

    /// Handles one record at clock `clock`, pushing what it produces onto `out`.
    fn handle(
        &mut self,
        record: &Record,
        clock: Timestamp,
        out: &mut Vec<Message>,
    ) -> Result<(), RuntimeError>;

    /// When the earliest timer is due, as the clock must read to fire it; `None` without
    /// timers.
    fn next_due(&self) -> Option<Timestamp> {
        None
    }

    /// Fires every timer due at clock `clock`, pushing what they produce onto `out`.
    fn fire_timers(
        &mut self,
        _clock: Timestamp,
        _out: &mut Vec<Message>,
    ) -> Result<(), RuntimeError> {
        Ok(())
    }

    /// Ends a batch at clock `clock`: makes the state written since the last commit durable.
    fn commit(&mut self, _clock: Timestamp) -> Result<(), RuntimeError> {
        Ok(())
    }
}

/// Stages wired by topic; see the [module](crate::driver) doc.
pub struct Driver {
    partitions: i32,
    clock: Timestamp,
    stages: Vec<Box<dyn Stage>>,
    /// Per topic, the stages that read it, in the order they were added.
    readers: HashMap<String, Arc<[usize]>>,
    /// Per topic, the next offset of each partition.
    next_offsets: HashMap<String, Vec<i64>>,
    /// The records appended since the last step returned, each with whether a stage produced
    /// it (or it was piped in).
    appended: Vec<(Record, bool)>,
    /// Indices into `appended` of the records not yet handed to their readers.
    queue: VecDeque<usize>,
    scratch: Vec<Message>,
    /// Records handled and timers fired since the last commit.
    uncommitted: usize,
    batch_size: usize,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("partitions", &self.partitions)
            .field("clock", &self.clock)
            .field("stages", &self.stages.len())
            .field("queued", &self.queue.len())
            .finish_non_exhaustive()
    }
}

impl Driver {
    /// A driver without stages: `partitions` partitions per topic, the clock at `start`.
    pub fn new(partitions: i32, start: Timestamp) -> Driver {
        Driver {
            partitions: partitions.max(1),
            clock: start,
            stages: Vec::new(),
            readers: HashMap::new(),
            next_offsets: HashMap::new(),
            appended: Vec::new(),
            queue: VecDeque::new(),
            scratch: Vec::new(),
            uncommitted: 0,
            batch_size: crate::config::default_batch_size(),
        }
    }

    /// Commits at the end of the first step after which at least `records` records were
    /// handled (or timers fired) since the last commit, as the host commits a batch when it
    /// holds `batch_size` records; 1 commits every step. Default: the host's default
    /// `batch_size`. Outputs do not depend on it: processors keep their state in memory, and
    /// the store is what a restart would restore from.
    pub fn with_batch_size(mut self, records: usize) -> Driver {
        self.batch_size = records.max(1);
        self
    }

    /// Adds a stage reading `topics`, opening it at the current clock.
    pub fn add_stage(
        &mut self,
        topics: &[String],
        mut stage: Box<dyn Stage>,
    ) -> Result<(), RuntimeError> {
        stage.open(self.partitions, self.clock)?;
        let index = self.stages.len();
        self.stages.push(stage);
        for topic in topics {
            let mut readers = self
                .readers
                .get(topic)
                .map_or_else(Vec::new, |r| r.to_vec());
            readers.push(index);
            self.readers.insert(topic.clone(), readers.into());
        }
        Ok(())
    }

    /// The clock.
    pub fn now(&self) -> Timestamp {
        self.clock
    }

    /// Appends an input record, queued for the next [`step`](Driver::step); returns the
    /// partition and offset it got. It is not among the records a step returns.
    pub fn pipe(&mut self, message: Message) -> (i32, i64) {
        let record = self.append(message);
        let placed = (record.partition, record.offset);
        self.queue.push_back(self.appended.len());
        self.appended.push((record, false));
        placed
    }

    /// When the earliest timer of any stage is due; `None` without timers.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.stages.iter().filter_map(|s| s.next_due()).min()
    }

    /// Moves the clock to `now` (a time before the clock leaves it where it is), runs until
    /// idle, and commits every stage if the batch is full. Returns the records the stages
    /// produced, in the order they were appended.
    pub fn step(&mut self, now: Timestamp) -> Result<Vec<Record>, RuntimeError> {
        self.clock = self.clock.max(now);
        loop {
            while let Some(next) = self.queue.pop_front() {
                let topic = &self.appended[next].0.message.topic;
                let Some(readers) = self.readers.get(topic).cloned() else {
                    continue;
                };
                for &index in readers.iter() {
                    let record = &self.appended[next].0;
                    self.stages[index].handle(record, self.clock, &mut self.scratch)?;
                    self.uncommitted += 1;
                    self.flush_scratch();
                }
            }
            let clock = self.clock;
            let due: Vec<usize> = (0..self.stages.len())
                .filter(|&i| self.stages[i].next_due().is_some_and(|at| at <= clock))
                .collect();
            if due.is_empty() {
                break;
            }
            for index in due {
                self.stages[index].fire_timers(clock, &mut self.scratch)?;
                self.uncommitted += 1;
                self.flush_scratch();
            }
        }
        if self.uncommitted >= self.batch_size {
            self.commit()?;
        }
        let appended = std::mem::take(&mut self.appended);
        Ok((appended.into_iter())
            .filter_map(|(record, produced)| produced.then_some(record))
            .collect())
    }

    /// Commits every stage now (the end of a run, for one).
    pub fn commit(&mut self) -> Result<(), RuntimeError> {
        for stage in &mut self.stages {
            stage.commit(self.clock)?;
        }
        self.uncommitted = 0;
        Ok(())
    }

    /// Appends what a stage produced, queued for its readers and kept for the step's result.
    fn flush_scratch(&mut self) {
        let mut scratch = std::mem::take(&mut self.scratch);
        for message in scratch.drain(..) {
            let record = self.append(message);
            if self.readers.contains_key(&record.message.topic) {
                self.queue.push_back(self.appended.len());
            }
            self.appended.push((record, true));
        }
        self.scratch = scratch;
    }

    fn append(&mut self, message: Message) -> Record {
        let partition = message
            .key
            .as_deref()
            .map_or(0, |key| partition_of(key, self.partitions));
        let next = match self.next_offsets.get_mut(&message.topic) {
            Some(next) => next,
            None => (self.next_offsets)
                .entry(message.topic.clone())
                .or_insert_with(|| vec![0; self.partitions as usize]),
        };
        let offset = next[partition as usize];
        next[partition as usize] += 1;
        Record {
            partition,
            offset,
            message,
        }
    }
}
