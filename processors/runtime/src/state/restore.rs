//! Restore: replay a changelog partition into sled up to its last seal.
//!
//! Every write before a seal is applied when the seal is read, whichever batch wrote it;
//! the writes after the last seal (the unsealed tail a crash left) are not, and are
//! returned so that the host can undo them in the changelog before it seals anything new
//! (see [`RestoreOutcome::tail`] and the runtime README, "A changelog that survives
//! compaction").

use crate::error::RuntimeError;
use crate::metrics::Metrics;
use crate::state::changelog::{self, ChangelogOp, ChangelogRecord, LastWrites};
use crate::state::store::{PartitionMeta, PartitionStore};
use parley_core::{Millis, Timestamp};
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long a restore waits for the next changelog record before it gives up.
const STALL: Duration = Duration::from_secs(60);

/// Sealed writes restore gathers, one per key, before it applies them to sled in one batch
/// with the last seal's progress.
const APPLY_EVERY: usize = 50_000;

/// The context of a restore consumer: reaching a partition's end is how restore knows it
/// is done, so librdkafka's `PartitionEOF` event is not logged as an error; other errors
/// are.
#[derive(Clone, Copy, Debug, Default)]
pub struct RestoreContext;

impl ClientContext for RestoreContext {
    fn error(&self, error: KafkaError, reason: &str) {
        let end = matches!(
            error,
            KafkaError::PartitionEOF(_) | KafkaError::Global(RDKafkaErrorCode::PartitionEOF)
        );
        if !end {
            tracing::error!(%error, reason, "librdkafka (restore consumer)");
        }
    }
}

impl ConsumerContext for RestoreContext {}

/// What a restore did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RestoreOutcome {
    /// The changelog offset replay started at.
    pub from: i64,
    /// Records read.
    pub records: u64,
    /// Seals read (each applies the writes since the one before).
    pub batches: u64,
    /// The writes after the last seal, not applied: a batch that crashed before its seal.
    /// The host writes each key's restored value over them before its next seal.
    pub tail: Vec<ChangelogOp>,
    /// Whether the local store was discarded first.
    pub rebuilt: bool,
}

/// Replays `changelog_topic` partition `store.partition` from the offset stored in sled
/// (or from the start) to its end into `store`, with a consumer that has
/// `enable.partition.eof = true` and is not in use otherwise.
///
/// A store last written longer than `max_age` before `now` is discarded and rebuilt from the
/// start, because compaction may have removed tombstones it has not seen.
///
/// Raising `cancel` stops the replay within one poll (half a second); the whole batches read
/// by then are kept, and the outcome is [`RuntimeError::RestoreCancelled`].
pub fn restore_partition<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    changelog_topic: &str,
    store: &PartitionStore,
    metrics: &Metrics,
    now: Timestamp,
    max_age: Millis,
    cancel: &AtomicBool,
) -> Result<RestoreOutcome, RuntimeError> {
    let partition = store.partition;
    let mut meta = store.meta()?;
    let mut outcome = RestoreOutcome::default();
    if meta.written_at.is_some_and(|at| now.since(at) > max_age) {
        store.clear()?;
        meta = PartitionMeta::default();
        outcome.rebuilt = true;
    }
    let (low, high) = crate::partitions::watermarks(
        consumer,
        changelog_topic,
        partition,
        Duration::from_secs(30),
    )?;
    let start = meta.changelog_next.unwrap_or(low).max(low);
    outcome.from = start;
    let remaining = metrics
        .restore_remaining
        .with_label_values(&[&partition.to_string()]);
    if start >= high {
        remaining.set(0);
        return Ok(outcome);
    }
    remaining.set(high - start);
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(changelog_topic, partition, Offset::Offset(start))?;
    consumer.assign(&assignment)?;

    // The writes since the last seal, and the sealed ones not yet in sled, one per key (a
    // key rewritten by many batches is one sled write), with the last seal's progress.
    let mut pending: Vec<ChangelogOp> = Vec::new();
    let mut sealed = LastWrites::default();
    let mut sealed_meta: Option<PartitionMeta> = None;
    let mut last_progress = Instant::now();
    let result = loop {
        if cancel.load(Ordering::SeqCst) {
            break Err(RuntimeError::RestoreCancelled { partition });
        }
        match consumer.poll(Duration::from_millis(500)) {
            Some(Err(KafkaError::PartitionEOF(_))) => break Ok(()),
            Some(Err(error @ KafkaError::MessageConsumptionFatal(_))) => break Err(error.into()),
            None | Some(Err(_)) if last_progress.elapsed() > STALL => {
                break Err(RuntimeError::RestoreStalled {
                    partition,
                    offset: start,
                    seconds: STALL.as_secs(),
                });
            }
            None => {}
            // A broker connection dropped (a broker restarting, leadership moving): librdkafka
            // reconnects on its own.
            Some(Err(error)) => tracing::warn!(partition, %error, "changelog consumer error"),
            Some(Ok(message)) => {
                last_progress = Instant::now();
                outcome.records += 1;
                metrics.restore_records.inc();
                remaining.set((high - 1 - message.offset()).max(0));
                let bad = |reason: String| RuntimeError::Changelog {
                    topic: changelog_topic.to_owned(),
                    partition,
                    offset: message.offset(),
                    reason,
                };
                match changelog::decode(message.key().unwrap_or_default(), message.payload())
                    .map_err(bad)?
                {
                    ChangelogRecord::Op(op) => pending.push(op),
                    ChangelogRecord::Seal(inputs) => {
                        let at = message.timestamp().to_millis().map(Timestamp).or(Some(now));
                        for op in pending.drain(..) {
                            sealed.write(op);
                        }
                        sealed_meta = Some(PartitionMeta {
                            changelog_next: Some(message.offset() + 1),
                            inputs,
                            written_at: at,
                        });
                        outcome.batches += 1;
                        if sealed.len() >= APPLY_EVERY {
                            apply(store, &mut sealed, &mut sealed_meta)?;
                        }
                    }
                }
            }
        }
    };
    // What was read before a failure is whole batches: keep it.
    apply(store, &mut sealed, &mut sealed_meta)?;
    outcome.tail = pending;
    consumer.unassign()?;
    remaining.set(0);
    result.map(|()| outcome)
}

/// Applies the gathered sealed writes with the last seal's progress, in one sled batch.
fn apply(
    store: &PartitionStore,
    sealed: &mut LastWrites,
    meta: &mut Option<PartitionMeta>,
) -> Result<(), RuntimeError> {
    if let Some(meta) = meta.take() {
        store.apply(&sealed.take(), &meta)?;
    }
    Ok(())
}
