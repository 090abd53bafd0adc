//! Rescaling a processor's changelog offline, from N partitions to M: read every partition to
//! its end as restore does, work out which keys belong elsewhere under murmur2 and M, and
//! write the move in one Kafka transaction.
//!
//! The three steps are separate so that a caller can print the plan without writing it
//! (`parley rescale --dry-run`):
//!
//! 1. [`read_changelog`] rebuilds each partition's [`PartitionImage`]: the writes before its
//!    last seal (its state and timers), the writes after it (the tail of a batch that crashed
//!    before its seal, which is not state) and the last seal's input offsets.
//! 2. [`plan`] maps every state key and timer key to its record key (the processor says how,
//!    [`KeyedProcessor::record_key`](crate::KeyedProcessor::record_key); a timer key embeds
//!    it), computes the record key's partition under M with
//!    [`partition_of`](crate::partitions::partition_of), and gives per partition the writes
//!    to make: each moved key's value in its new partition, a tombstone in its old one, the
//!    restored value of every tail key (the undo restore would write), then a seal.
//! 3. [`write_plan`] produces them in one transaction.
//!
//! Running the steps again after a crash is safe: a committed move leaves every key on its
//! partition, so a second plan moves nothing; an aborted one left nothing visible to a
//! `read_committed` reader, so the second plan is the first one again.

use crate::error::RuntimeError;
use crate::partitions::partition_of;
use crate::state::changelog::{
    self, encode_offsets, seal_key, BatchId, ChangelogOp, ChangelogRecord, BATCH_HEADER,
};
use crate::state::restore::RestoreContext;
use crate::timers::split_timer_key;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// How long a read waits for the next record before it gives up.
const STALL: Duration = Duration::from_secs(60);

/// How long a rescale waits for the transactions open on a changelog to end.
pub const STABLE_WAIT: Duration = Duration::from_secs(60);

/// How long a transaction's operations wait.
const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(60);

/// The environment variable that makes [`write_plan`] stop the process (SIGABRT, no
/// cleanup) after producing that many records of its transaction, for the tests of a
/// rescale killed midway.
pub const ABORT_AFTER_ENV: &str = "PARLEY_RESCALE_ABORT_AFTER";

/// One changelog partition as restore would leave it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartitionImage {
    /// The partition.
    pub partition: i32,
    /// The live writes before the last seal, by changelog key (tombstoned keys removed).
    pub entries: HashMap<Vec<u8>, ChangelogOp>,
    /// The writes after the last seal, in order: not state (see the module doc).
    pub tail: Vec<ChangelogOp>,
    /// The last seal's input offsets; `None` when the partition has no seal.
    pub inputs: Option<BTreeMap<String, i64>>,
    /// Records read.
    pub records: u64,
}

impl PartitionImage {
    fn apply(&mut self, ops: Vec<ChangelogOp>) {
        for op in ops {
            let live = match &op {
                ChangelogOp::State { value, .. } => value.is_some(),
                ChangelogOp::Timer { due, .. } => due.is_some(),
            };
            if live {
                self.entries.insert(op.changelog_key(), op);
            } else {
                self.entries.remove(&op.changelog_key());
            }
        }
    }
}

/// Waits until no transaction is open on any of `topic`'s `partitions` partitions: until
/// each one's last stable offset, where a `read_committed` reader stops, meets its end.
///
/// A committed transaction is not readable the moment its commit returns: the coordinator
/// answers once the commit is decided and writes the markers that make it readable to each
/// partition after that. A reader that starts in between stops short of the transaction and
/// misses it, so a rescale reads a changelog only once it is stable, and returns only once
/// its own move is readable.
///
/// Fails with [`RuntimeError::OpenTransaction`] once `timeout` has passed with a transaction
/// still open.
pub fn await_stable(
    client: &ClientConfig,
    topic: &str,
    partitions: i32,
    timeout: Duration,
) -> Result<(), RuntimeError> {
    let committed: BaseConsumer<RestoreContext> =
        reader(client).create_with_context(RestoreContext)?;
    let written: BaseConsumer<RestoreContext> = reader(client)
        .set("isolation.level", "read_uncommitted")
        .create_with_context(RestoreContext)?;
    let started = Instant::now();
    for partition in 0..partitions {
        loop {
            let (_, stable) =
                crate::partitions::watermarks(&committed, topic, partition, TRANSACTION_TIMEOUT)?;
            let (_, end) =
                crate::partitions::watermarks(&written, topic, partition, TRANSACTION_TIMEOUT)?;
            if stable >= end {
                break;
            }
            if started.elapsed() > timeout {
                return Err(RuntimeError::OpenTransaction {
                    topic: topic.to_owned(),
                    partition,
                    stable,
                    end,
                    seconds: timeout.as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(())
}

/// Reads every partition of `topic` (`partitions` of them) from its beginning to its end with
/// a `read_committed` consumer made from `client`, and returns each one's image. It reads what
/// is readable now: a caller that must see a transaction committed just before waits for
/// [`await_stable`] first.
pub fn read_changelog(
    client: &ClientConfig,
    topic: &str,
    partitions: i32,
) -> Result<Vec<PartitionImage>, RuntimeError> {
    let consumer: BaseConsumer<RestoreContext> = reader(client)
        .set("enable.partition.eof", "true")
        .create_with_context(RestoreContext)?;
    let mut images: Vec<PartitionImage> = (0..partitions)
        .map(|partition| PartitionImage {
            partition,
            ..PartitionImage::default()
        })
        .collect();
    let mut pending: Vec<Vec<ChangelogOp>> = vec![Vec::new(); partitions as usize];
    let mut assignment = TopicPartitionList::new();
    let mut open = BTreeSet::new();
    for partition in 0..partitions {
        let (low, high) =
            crate::partitions::watermarks(&consumer, topic, partition, Duration::from_secs(30))?;
        if high > low {
            assignment.add_partition_offset(topic, partition, Offset::Beginning)?;
            open.insert(partition);
        }
    }
    if open.is_empty() {
        return Ok(images);
    }
    consumer.assign(&assignment)?;
    let mut last_progress = Instant::now();
    while !open.is_empty() {
        match consumer.poll(Duration::from_millis(500)) {
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                open.remove(&partition);
            }
            Some(Err(error @ KafkaError::MessageConsumptionFatal(_))) => return Err(error.into()),
            None | Some(Err(_)) if last_progress.elapsed() > STALL => {
                return Err(RuntimeError::RestoreStalled {
                    partition: open.first().copied().unwrap_or_default(),
                    offset: 0,
                    seconds: STALL.as_secs(),
                });
            }
            None => {}
            Some(Err(error)) => tracing::warn!(topic, %error, "changelog consumer error"),
            Some(Ok(message)) => {
                last_progress = Instant::now();
                let partition = message.partition();
                let bad = |reason: String| RuntimeError::Changelog {
                    topic: topic.to_owned(),
                    partition,
                    offset: message.offset(),
                    reason,
                };
                let image = &mut images[partition as usize];
                image.records += 1;
                let pending = &mut pending[partition as usize];
                match changelog::decode(message.key().unwrap_or_default(), message.payload())
                    .map_err(bad)?
                {
                    ChangelogRecord::Op(op) => pending.push(op),
                    ChangelogRecord::Seal(inputs) => {
                        image.apply(std::mem::take(pending));
                        image.inputs = Some(inputs);
                    }
                }
            }
        }
    }
    for (image, tail) in images.iter_mut().zip(pending) {
        image.tail = tail;
    }
    Ok(images)
}

/// What moves from one old partition to one new one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MoveSummary {
    /// State entries moved.
    pub keys: u64,
    /// Timers moved.
    pub timers: u64,
    /// Bytes of their changelog keys and values.
    pub bytes: u64,
}

/// The writes that rescale one changelog, per partition, with what they move.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RescalePlan {
    /// The new partition count.
    pub partitions: i32,
    /// What moves, by `(old partition, new partition)`.
    pub moves: BTreeMap<(i32, i32), MoveSummary>,
    /// Per partition, the writes before its seal, in order.
    pub writes: BTreeMap<i32, Vec<ChangelogOp>>,
    /// Per partition, the input offsets its seal carries.
    pub seals: BTreeMap<i32, BTreeMap<String, i64>>,
    /// Tail writes (of batches that crashed before their seal) undone.
    pub undone: u64,
}

impl RescalePlan {
    /// Whether the changelog is already laid out for the new count: nothing moves and no tail
    /// is left to undo.
    pub fn is_empty(&self) -> bool {
        self.moves.is_empty() && self.undone == 0
    }

    /// Every moved entry, timers and bytes, summed.
    pub fn total(&self) -> MoveSummary {
        self.moves
            .values()
            .fold(MoveSummary::default(), |sum, m| MoveSummary {
                keys: sum.keys + m.keys,
                timers: sum.timers + m.timers,
                bytes: sum.bytes + m.bytes,
            })
    }

    /// Records [`write_plan`] would produce.
    pub fn records(&self) -> usize {
        self.writes.values().map(Vec::len).sum::<usize>() + self.seals.len()
    }
}

/// The record key a changelog write belongs to: the processor's `record_key` for a state key,
/// the key a timer key embeds for a timer.
fn record_key_of<'a>(
    op: &'a ChangelogOp,
    record_key: &impl Fn(&[u8]) -> Option<&[u8]>,
) -> Result<&'a [u8], String> {
    match op {
        ChangelogOp::State { key, .. } => record_key(key).ok_or_else(|| {
            format!(
                "state key {:?} names no record key the processor writes",
                String::from_utf8_lossy(key)
            )
        }),
        ChangelogOp::Timer { timer_key, .. } => split_timer_key(timer_key)
            .map(|(key, _)| key)
            .ok_or_else(|| format!("timer key {timer_key:02x?} is malformed")),
    }
}

/// Plans the rescale of `images` (one per existing partition) to `partitions` partitions.
/// `record_key` maps a state key to its record key. Fails naming the changelog partition and
/// the key when a key cannot be mapped.
pub fn plan(
    topic: &str,
    images: &[PartitionImage],
    partitions: i32,
    record_key: impl Fn(&[u8]) -> Option<&[u8]>,
) -> Result<RescalePlan, RuntimeError> {
    let mut plan = RescalePlan {
        partitions,
        ..RescalePlan::default()
    };
    for image in images {
        let bad = |reason: String| RuntimeError::RescaleKey {
            topic: topic.to_owned(),
            partition: image.partition,
            reason,
        };
        let old = image.partition;
        // Sorted, so that the plan and the records are the same on every run.
        let mut entries: Vec<(&Vec<u8>, &ChangelogOp)> = image.entries.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (changelog_key, op) in entries {
            let new = partition_of(record_key_of(op, &record_key).map_err(bad)?, partitions);
            if new == old {
                continue;
            }
            let summary = plan.moves.entry((old, new)).or_default();
            let (key, value) = op.encode();
            summary.bytes += (key.len() + value.as_ref().map_or(0, Vec::len)) as u64;
            match op {
                ChangelogOp::State { .. } => summary.keys += 1,
                ChangelogOp::Timer { .. } => summary.timers += 1,
            }
            plan.writes.entry(new).or_default().push(op.clone());
            plan.writes.entry(old).or_default().push(tombstone(op));
            debug_assert_eq!(&key, changelog_key);
        }
        // The tail's keys get their restored value back (or a tombstone where the key has
        // none or moved away), as the next owner of the partition would write before its seal.
        let mut undone = BTreeSet::new();
        for op in &image.tail {
            let changelog_key = op.changelog_key();
            if !undone.insert(changelog_key.clone()) {
                continue;
            }
            plan.undone += 1;
            let restored = image.entries.get(&changelog_key);
            let stays = match restored {
                Some(restored) => {
                    partition_of(
                        record_key_of(restored, &record_key).map_err(bad)?,
                        partitions,
                    ) == old
                }
                None => false,
            };
            match restored {
                Some(restored) if stays => {
                    plan.writes.entry(old).or_default().push(restored.clone())
                }
                // A moved key's tombstone is written above already.
                Some(_) => {}
                None => plan.writes.entry(old).or_default().push(tombstone(op)),
            }
        }
    }
    for partition in 0..partitions {
        let inputs = images
            .get(partition as usize)
            .and_then(|image| image.inputs.clone())
            .unwrap_or_default();
        plan.seals.insert(partition, inputs);
    }
    Ok(plan)
}

fn tombstone(op: &ChangelogOp) -> ChangelogOp {
    match op {
        ChangelogOp::State { key, .. } => ChangelogOp::State {
            key: key.clone(),
            value: None,
        },
        ChangelogOp::Timer { timer_key, .. } => ChangelogOp::Timer {
            timer_key: timer_key.clone(),
            due: None,
        },
    }
}

/// A transactional producer for rescaling `topic`, its transactions initialised: a
/// transaction a killed earlier rescale left open is aborted here, before anything reads the
/// changelog (a `read_committed` reader stops at an open transaction).
pub fn transactional_producer(
    client: &ClientConfig,
    transactional_id: &str,
) -> Result<BaseProducer, RuntimeError> {
    let producer: BaseProducer = client
        .clone()
        .set("transactional.id", transactional_id)
        .set("enable.idempotence", "true")
        .set("linger.ms", "20")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "1000000")
        .set("queue.buffering.max.kbytes", "2097151")
        .set("transaction.timeout.ms", "600000")
        .create()?;
    producer.init_transactions(TRANSACTION_TIMEOUT)?;
    Ok(producer)
}

/// Produces `plan` to `topic` in one transaction of `producer` (from
/// [`transactional_producer`]): every partition's writes, then its seal. Returns the records
/// produced.
pub fn write_plan(
    producer: &BaseProducer,
    topic: &str,
    plan: &RescalePlan,
    batch: BatchId,
) -> Result<usize, RuntimeError> {
    let abort_after: Option<usize> = std::env::var(ABORT_AFTER_ENV)
        .ok()
        .and_then(|v| v.parse().ok());
    let headers = || {
        OwnedHeaders::new().insert(Header {
            key: BATCH_HEADER,
            value: Some(&batch[..]),
        })
    };
    producer.begin_transaction()?;
    let mut produced = 0;
    let mut send = |partition: i32, key: &[u8], value: Option<&[u8]>| {
        let mut record = BaseRecord::<[u8], [u8]>::to(topic)
            .partition(partition)
            .key(key)
            .headers(headers());
        if let Some(value) = value {
            record = record.payload(value);
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    producer.poll(Duration::from_millis(10));
                }
                Err((error, _)) => return Err(RuntimeError::from(error)),
            }
        }
        produced += 1;
        if abort_after == Some(produced) {
            let _ = producer.flush(TRANSACTION_TIMEOUT);
            tracing::warn!(produced, "{ABORT_AFTER_ENV} reached: aborting the process");
            std::process::abort();
        }
        Ok(())
    };
    for partition in 0..plan.partitions {
        for op in plan.writes.get(&partition).into_iter().flatten() {
            let (key, value) = op.encode();
            send(partition, &key, value.as_deref())?;
        }
        let seal = encode_offsets(plan.seals.get(&partition).unwrap_or(&BTreeMap::new()));
        send(partition, &seal_key(), Some(&seal))?;
    }
    producer.commit_transaction(TRANSACTION_TIMEOUT)?;
    Ok(produced)
}

/// The first record of each `(topic, partition, from)` at or after `from`, as a
/// `read_committed` consumer made from `client` sees it (transaction markers are not
/// records). Gives `(topic, partition, from, first offset)` for the partitions that hold one.
pub fn unread(
    client: &ClientConfig,
    positions: &[(String, i32, i64)],
) -> Result<Vec<(String, i32, i64, i64)>, RuntimeError> {
    let mut by_topic: BTreeMap<&str, Vec<(i32, i64)>> = BTreeMap::new();
    for (topic, partition, from) in positions {
        by_topic.entry(topic).or_default().push((*partition, *from));
    }
    let mut found = Vec::new();
    // One consumer per topic: a partition's end is reported by partition number only.
    for (topic, partitions) in by_topic {
        let consumer: BaseConsumer<RestoreContext> = reader(client)
            .set("enable.partition.eof", "true")
            .create_with_context(RestoreContext)?;
        let mut assignment = TopicPartitionList::new();
        let mut open: BTreeMap<i32, i64> = BTreeMap::new();
        for (partition, from) in partitions {
            let (_, high) = crate::partitions::watermarks(
                &consumer,
                topic,
                partition,
                Duration::from_secs(30),
            )?;
            if high > from {
                assignment.add_partition_offset(topic, partition, Offset::Offset(from))?;
                open.insert(partition, from);
            }
        }
        if open.is_empty() {
            continue;
        }
        consumer.assign(&assignment)?;
        let deadline = Instant::now() + STALL;
        while !open.is_empty() && Instant::now() < deadline {
            match consumer.poll(Duration::from_millis(200)) {
                Some(Err(KafkaError::PartitionEOF(partition))) => {
                    open.remove(&partition);
                }
                Some(Ok(message)) => {
                    if let Some(from) = open.remove(&message.partition()) {
                        found.push((
                            topic.to_owned(),
                            message.partition(),
                            from,
                            message.offset(),
                        ));
                    }
                }
                _ => {}
            }
        }
        if let Some((partition, from)) = open.pop_first() {
            return Err(RuntimeError::RestoreStalled {
                partition,
                offset: from,
                seconds: STALL.as_secs(),
            });
        }
    }
    Ok(found)
}

fn reader(client: &ClientConfig) -> ClientConfig {
    let mut reader = client.clone();
    reader
        .set("group.id", "parley-rescale-reader")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("fetch.max.bytes", "52428800")
        .set("max.partition.fetch.bytes", "10485760");
    reader
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timers::timer_key;
    use parley_core::Timestamp;

    fn same(state_key: &[u8]) -> Option<&[u8]> {
        Some(state_key)
    }

    fn unknown(_: &[u8]) -> Option<&[u8]> {
        None
    }

    fn state(key: &str, value: Option<&str>) -> ChangelogOp {
        ChangelogOp::State {
            key: key.as_bytes().to_vec(),
            value: value.map(|v| v.as_bytes().to_vec()),
        }
    }

    fn image(partition: i32, sealed: Vec<ChangelogOp>, tail: Vec<ChangelogOp>) -> PartitionImage {
        let mut image = PartitionImage {
            partition,
            inputs: Some(BTreeMap::from([("in".to_owned(), 7 + partition as i64)])),
            ..PartitionImage::default()
        };
        image.apply(sealed);
        image.tail = tail;
        image
    }

    /// Keys whose partition under 1 is 0 and under 4 is not.
    fn movers(count: usize) -> Vec<String> {
        (0..)
            .map(|n| format!("acme/c{n}"))
            .filter(|k| partition_of(k.as_bytes(), 4) != 0)
            .take(count)
            .collect()
    }

    #[test]
    fn keys_and_their_timers_move_to_their_partition_and_leave_a_tombstone() {
        let stays = (0..)
            .map(|n| format!("acme/s{n}"))
            .find(|k| partition_of(k.as_bytes(), 4) == 0)
            .unwrap();
        let moving = &movers(1)[0];
        let new = partition_of(moving.as_bytes(), 4);
        let timer = ChangelogOp::Timer {
            timer_key: timer_key(moving.as_bytes(), b"close/t1"),
            due: Some(Timestamp(99)),
        };
        let images = [image(
            0,
            vec![
                state(moving, Some("v")),
                state(&stays, Some("w")),
                timer.clone(),
                state("acme/deleted", Some("x")),
                state("acme/deleted", None),
            ],
            vec![],
        )];
        let plan = plan("t", &images, 4, same).unwrap();
        assert_eq!(
            plan.moves,
            BTreeMap::from([(
                (0, new),
                MoveSummary {
                    keys: 1,
                    timers: 1,
                    bytes: (1 + moving.len() + 1 + timer.changelog_key().len() + 8) as u64
                }
            )])
        );
        let mut moved = plan.writes[&new].clone();
        moved.sort_by_key(ChangelogOp::changelog_key);
        let mut expected = vec![state(moving, Some("v")), timer.clone()];
        expected.sort_by_key(ChangelogOp::changelog_key);
        assert_eq!(moved, expected);
        assert_eq!(
            plan.writes[&0].len(),
            2,
            "two tombstones: {:?}",
            plan.writes[&0]
        );
        assert!(plan.writes[&0].contains(&state(moving, None)));
        assert_eq!(plan.seals.len(), 4);
        assert_eq!(plan.seals[&0]["in"], 7);
        assert!(
            plan.seals[&new].is_empty(),
            "a new partition starts at its beginning"
        );
    }

    #[test]
    fn a_tail_is_undone_and_a_changelog_in_place_needs_no_move() {
        let keys = movers(1);
        let stays = (0..)
            .map(|n| format!("acme/s{n}"))
            .find(|k| partition_of(k.as_bytes(), 4) == 0)
            .unwrap();
        let images = [image(
            0,
            vec![state(&stays, Some("sealed"))],
            vec![
                state(&stays, Some("unsealed")),
                state(&keys[0], Some("unsealed")),
            ],
        )];
        let plan = plan("t", &images, 4, same).unwrap();
        assert!(plan.moves.is_empty());
        assert_eq!(plan.undone, 2);
        assert_eq!(
            plan.writes[&0],
            [state(&stays, Some("sealed")), state(&keys[0], None)]
        );

        let placed = [image(0, vec![state(&stays, Some("v"))], vec![])];
        assert!(plan_in_place(&placed));
    }

    fn plan_in_place(images: &[PartitionImage]) -> bool {
        plan("t", images, 4, same).unwrap().is_empty()
    }

    #[test]
    fn a_key_the_processor_does_not_know_is_refused_by_name() {
        let images = [image(0, vec![state("odd", Some("v"))], vec![])];
        let error = plan("t", &images, 4, unknown).unwrap_err().to_string();
        assert!(
            error.contains("\"odd\"") && error.contains("partition 0"),
            "{error}"
        );
    }
}
