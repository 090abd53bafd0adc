//! Restore off the poll loop: a thread of its own replays each newly assigned partition's
//! changelog into sled and builds its processor and timer wheel, while the loop keeps
//! polling (so `max.poll.interval.ms` bounds a batch, never a restore) and keeps serving the
//! partitions it already owns. The partition's inputs stay paused until the loop has taken
//! the restored partition in (see `Coordinator::take_restored`).

use crate::error::RuntimeError;
use crate::metrics::Metrics;
use crate::processor::KeyedProcessor;
use crate::state::changelog::ChangelogOp;
use crate::state::restore::{restore_partition, RestoreContext, RestoreOutcome};
use crate::state::PartitionStore;
use crate::timers::TimerWheel;
use parley_core::{Millis, Timestamp};
use rdkafka::consumer::BaseConsumer;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// How long a store may go unwritten before restore rebuilds it from scratch (tombstones
/// older than the changelog's `delete.retention.ms`, a day by default, may be gone).
const STORE_MAX_AGE: Millis = Millis::hours(20);

/// Makes each partition's processor; shared by the host's attempts (see `Host::run`).
pub(crate) type Factory<P> = Arc<Mutex<Box<dyn FnMut(i32) -> P + Send>>>;

/// One partition to restore.
pub(crate) struct RestoreJob {
    pub(crate) store: PartitionStore,
    /// Tells this job from an earlier one of the same partition (revoked, then assigned
    /// again while the first was still running).
    pub(crate) generation: u64,
    pub(crate) now: Timestamp,
    pub(crate) cancelled: Arc<AtomicBool>,
    /// How long to wait before it starts: a restore repeated because the changelog was not
    /// all readable yet waits a moment for it.
    pub(crate) delay: std::time::Duration,
}

/// A partition restored and ready to run: its store, a processor holding every entry, the
/// timers due within the horizon, and what the restore found.
pub(crate) struct RestoredPartition<P> {
    pub(crate) processor: P,
    pub(crate) store: PartitionStore,
    pub(crate) wheel: TimerWheel<Vec<u8>>,
    pub(crate) loaded_until: Timestamp,
    pub(crate) timers_pending: i64,
    pub(crate) inputs: BTreeMap<String, i64>,
    pub(crate) outcome: RestoreOutcome,
    /// The writes that put each key of an unsealed tail back to its restored value.
    pub(crate) undo: Vec<ChangelogOp>,
}

/// What the restore thread answers for one job.
pub(crate) struct Restored<P> {
    pub(crate) partition: i32,
    pub(crate) generation: u64,
    pub(crate) result: Result<RestoredPartition<P>, RuntimeError>,
}

/// What the restore thread needs besides its jobs.
pub(crate) struct RestoreSetup<P: KeyedProcessor> {
    pub(crate) consumer: BaseConsumer<RestoreContext>,
    pub(crate) changelog_topic: String,
    pub(crate) factory: Factory<P>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) timer_horizon_ms: u64,
}

/// The restore thread's handle: jobs in, restored partitions out, one at a time, in order.
pub(crate) struct Restorer<P: KeyedProcessor> {
    jobs: Option<Sender<RestoreJob>>,
    restored: Receiver<Restored<P>>,
    thread: Option<JoinHandle<()>>,
    /// The cancel flags of the jobs not yet answered, to stop them when the host stops.
    cancels: Vec<Arc<AtomicBool>>,
}

impl<P: KeyedProcessor> Restorer<P> {
    /// Starts the thread.
    pub(crate) fn start(setup: RestoreSetup<P>) -> Result<Restorer<P>, RuntimeError> {
        let (jobs, queued) = mpsc::channel::<RestoreJob>();
        let (answer, restored) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("parley-restore".into())
            .spawn(move || {
                for job in queued {
                    let (partition, generation) = (job.store.partition, job.generation);
                    std::thread::sleep(job.delay);
                    let result = if job.cancelled.load(Ordering::SeqCst) {
                        Err(RuntimeError::RestoreCancelled { partition })
                    } else {
                        restore(&setup, &job)
                    };
                    let restored = Restored {
                        partition,
                        generation,
                        result,
                    };
                    if answer.send(restored).is_err() {
                        return;
                    }
                }
            })?;
        Ok(Restorer {
            jobs: Some(jobs),
            restored,
            thread: Some(thread),
            cancels: Vec::new(),
        })
    }

    /// Queues `job` behind the ones before it.
    pub(crate) fn submit(&mut self, job: RestoreJob) -> Result<(), RuntimeError> {
        self.cancels.retain(|flag| !flag.load(Ordering::SeqCst));
        self.cancels.push(job.cancelled.clone());
        let sent = self.jobs.as_ref().map(|jobs| jobs.send(job));
        match sent {
            Some(Ok(())) => Ok(()),
            _ => Err(RuntimeError::RestoreThread),
        }
    }

    /// The partitions restored since the last call, without waiting.
    pub(crate) fn finished(&self) -> Vec<Restored<P>> {
        self.restored.try_iter().collect()
    }
}

impl<P: KeyedProcessor> Drop for Restorer<P> {
    /// Cancels every job and waits for the thread, so that no restore writes a store after
    /// the host has let it go.
    fn drop(&mut self) {
        for flag in &self.cancels {
            flag.store(true, Ordering::SeqCst);
        }
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Replays the job's changelog partition into its store, then builds the processor from
/// every entry and the timer wheel from the timers due within the horizon.
fn restore<P: KeyedProcessor>(
    setup: &RestoreSetup<P>,
    job: &RestoreJob,
) -> Result<RestoredPartition<P>, RuntimeError> {
    let store = &job.store;
    let partition = store.partition;
    let outcome = restore_partition(
        &setup.consumer,
        &setup.changelog_topic,
        store,
        &setup.metrics,
        job.now,
        STORE_MAX_AGE,
        &job.cancelled,
    )?;
    if job.cancelled.load(Ordering::SeqCst) {
        return Err(RuntimeError::RestoreCancelled { partition });
    }
    tracing::info!(partition, ?outcome, "partition restored");
    let mut processor = (setup.factory.lock().expect("not poisoned"))(partition);
    for entry in store.entries() {
        let (key, value) = entry?;
        processor
            .restore(&key, &value)
            .map_err(|reason| RuntimeError::Restore { partition, reason })?;
    }
    let horizon = Timestamp(job.now.0.saturating_add(setup.timer_horizon_ms as i64));
    let mut wheel = TimerWheel::new(job.now);
    for (timer_key, due) in store.timers_due(None, horizon)? {
        let _ = wheel.insert(timer_key, due);
    }
    let undo = undo_tail(store, &outcome.tail)?;
    Ok(RestoredPartition {
        processor,
        store: store.clone(),
        wheel,
        loaded_until: horizon,
        timers_pending: store.timer_count() as i64,
        inputs: store.meta()?.inputs,
        outcome,
        undo,
    })
}

/// The writes that put back, over an unsealed tail, each of its keys' restored values
/// (a tombstone where the key has none): one per key, in the tail's order.
fn undo_tail(
    store: &PartitionStore,
    tail: &[ChangelogOp],
) -> Result<Vec<ChangelogOp>, RuntimeError> {
    let mut seen = BTreeSet::new();
    let mut undo = Vec::new();
    for op in tail {
        match op {
            ChangelogOp::State { key, .. } if seen.insert((0u8, key.clone())) => {
                undo.push(ChangelogOp::State {
                    key: key.clone(),
                    value: store.get(key)?.map(|v| v.to_vec()),
                });
            }
            ChangelogOp::Timer { timer_key, .. } if seen.insert((1u8, timer_key.clone())) => {
                undo.push(ChangelogOp::Timer {
                    timer_key: timer_key.clone(),
                    due: store.timer(timer_key)?,
                });
            }
            _ => {}
        }
    }
    Ok(undo)
}
