//! Restore: replay a changelog partition into sled, applying only sealed batches.

use crate::error::RuntimeError;
use crate::metrics::Metrics;
use crate::state::changelog::{self, BatchId, ChangelogOp, ChangelogRecord, BATCH_HEADER};
use crate::state::store::{PartitionMeta, PartitionStore};
use parley_core::{Millis, Timestamp};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use std::time::{Duration, Instant};

/// How long a restore waits for the next changelog record before it gives up.
const STALL: Duration = Duration::from_secs(60);

/// What a restore did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RestoreOutcome {
    /// The changelog offset replay started at.
    pub from: i64,
    /// Records read.
    pub records: u64,
    /// Sealed batches applied.
    pub batches: u64,
    /// Records of an unsealed tail, ignored.
    pub ignored: u64,
    /// Whether the local store was discarded first.
    pub rebuilt: bool,
}

/// Replays `changelog_topic` partition `store.partition` from the offset stored in sled
/// (or from the start) to its end into `store`, with a consumer that has
/// `enable.partition.eof = true` and is not in use otherwise.
///
/// A store last written longer than `max_age` before `now` is discarded and rebuilt from the
/// start, because compaction may have removed tombstones it has not seen.
pub fn restore_partition<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    changelog_topic: &str,
    store: &PartitionStore,
    metrics: &Metrics,
    now: Timestamp,
    max_age: Millis,
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

    let mut pending: Vec<ChangelogOp> = Vec::new();
    let mut pending_batch: Option<BatchId> = None;
    let mut last_progress = Instant::now();
    let result = loop {
        match consumer.poll(Duration::from_millis(500)) {
            None => {
                if last_progress.elapsed() > STALL {
                    break Err(RuntimeError::RestoreStalled {
                        partition,
                        offset: start,
                        seconds: STALL.as_secs(),
                    });
                }
            }
            Some(Err(KafkaError::PartitionEOF(_))) => break Ok(()),
            Some(Err(error)) => break Err(error.into()),
            Some(Ok(message)) => {
                last_progress = Instant::now();
                outcome.records += 1;
                metrics.restore_records.inc();
                remaining.set((high - 1 - message.offset()).max(0));
                let bad = |reason: String| RuntimeError::Changelog {
                    partition,
                    offset: message.offset(),
                    reason,
                };
                let batch: BatchId = message
                    .headers()
                    .and_then(|h| {
                        h.iter()
                            .find(|h| h.key == BATCH_HEADER)
                            .and_then(|h| h.value)
                    })
                    .and_then(|v| v.try_into().ok())
                    .ok_or_else(|| bad("no batch header".into()))?;
                if pending_batch != Some(batch) {
                    outcome.ignored += pending.len() as u64;
                    pending.clear();
                    pending_batch = Some(batch);
                }
                match changelog::decode(message.key().unwrap_or_default(), message.payload())
                    .map_err(bad)?
                {
                    ChangelogRecord::Op(op) => pending.push(op),
                    ChangelogRecord::Seal(inputs) => {
                        let at = message.timestamp().to_millis().map(Timestamp).or(Some(now));
                        let meta = PartitionMeta {
                            changelog_next: Some(message.offset() + 1),
                            inputs,
                            written_at: at,
                        };
                        store.apply(&pending, &meta)?;
                        pending.clear();
                        pending_batch = None;
                        outcome.batches += 1;
                    }
                }
            }
        }
    };
    outcome.ignored += pending.len() as u64;
    consumer.unassign()?;
    remaining.set(0);
    result.map(|()| outcome)
}
