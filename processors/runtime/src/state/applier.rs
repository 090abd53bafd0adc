//! Applies committed batches to sled on a thread of its own, in commit order.
//!
//! Once a batch's seal is acknowledged (or its transaction committed) the changelog holds it,
//! so sled may lag: a crash before the apply is repaired by restore, which replays the
//! changelog from the offset sled reached. The loop waits for the applier only where it reads
//! sled (timer refill, restore) or hands a partition over.

use crate::error::RuntimeError;
use crate::state::changelog::ChangelogOp;
use crate::state::store::{PartitionMeta, PartitionStore};
use prometheus::IntGauge;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// One committed batch of one partition.
#[derive(Debug)]
pub struct ApplyJob {
    /// The partition's store.
    pub store: PartitionStore,
    /// The batch's writes.
    pub ops: Vec<ChangelogOp>,
    /// The progress to record with them.
    pub meta: PartitionMeta,
    /// The partition's count of timers set, updated after the apply.
    pub timers: Arc<AtomicI64>,
    /// The instance's timers gauge, updated likewise.
    pub gauge: IntGauge,
}

/// The background applier.
#[derive(Debug)]
pub struct SledApplier {
    sender: Option<Sender<ApplyJob>>,
    pending: Arc<AtomicU64>,
    error: Arc<Mutex<Option<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl Default for SledApplier {
    fn default() -> SledApplier {
        SledApplier::new()
    }
}

impl SledApplier {
    /// Starts the applier thread.
    pub fn new() -> SledApplier {
        let (sender, receiver) = channel::<ApplyJob>();
        let pending = Arc::new(AtomicU64::new(0));
        let error = Arc::new(Mutex::new(None));
        let (thread_pending, thread_error) = (pending.clone(), error.clone());
        let thread = std::thread::Builder::new()
            .name("parley-sled-apply".into())
            .spawn(move || {
                for job in receiver {
                    match job.store.apply(&job.ops, &job.meta) {
                        Ok(delta) => {
                            job.timers.fetch_add(delta, Ordering::SeqCst);
                            job.gauge.add(delta);
                        }
                        Err(e) => {
                            thread_error
                                .lock()
                                .expect("not poisoned")
                                .get_or_insert(e.to_string());
                        }
                    }
                    thread_pending.fetch_sub(1, Ordering::SeqCst);
                }
            })
            .expect("the applier thread starts");
        SledApplier {
            sender: Some(sender),
            pending,
            error,
            thread: Some(thread),
        }
    }

    /// Queues a committed batch.
    pub fn submit(&self, job: ApplyJob) -> Result<(), RuntimeError> {
        self.check()?;
        self.pending.fetch_add(1, Ordering::SeqCst);
        self.sender
            .as_ref()
            .expect("open until drop")
            .send(job)
            .map_err(|_| RuntimeError::Apply("the sled applier thread stopped".into()))
    }

    /// Fails if an apply failed.
    pub fn check(&self) -> Result<(), RuntimeError> {
        match self.error.lock().expect("not poisoned").take() {
            Some(reason) => Err(RuntimeError::Apply(reason)),
            None => Ok(()),
        }
    }

    /// Waits until every queued batch is applied.
    pub fn wait(&self) -> Result<(), RuntimeError> {
        while self.pending.load(Ordering::SeqCst) > 0 {
            std::thread::sleep(Duration::from_micros(200));
        }
        self.check()
    }
}

impl Drop for SledApplier {
    fn drop(&mut self) {
        self.sender.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
