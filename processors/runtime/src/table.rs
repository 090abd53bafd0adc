//! Global tables: a compacted config topic read in full by every instance into a table in
//! memory, and its refused records written to the DLQ once by one consumer group.
//!
//! A config topic (style-config and routing-config now; schedules, SLA policies and routing
//! queues later) is small, keyed and compacted, and every partition's processor needs all
//! of it. So every instance reads every partition of it from the beginning, with no group
//! and no commits ([`GlobalTable`]), applying each record to a [`TableRecords`]
//! implementation that decodes, validates and indexes it. A refused record is logged,
//! counted in `parley_table_refused_total{table,reason}` and not applied; what the key held
//! before stays in force.
//!
//! Every instance refuses a bad record, and again at each start, so the DLQ write is not the
//! reader's: [`TableDeadLetters`] is one consumer group over the topic that checks each
//! record the same way, sends a refused one to the DLQ with its reason, and commits past it
//! once the DLQ has it (at least once, so each refused record reaches the DLQ once in the
//! absence of failures).

use crate::dlq::{dead_letter, DlqStage};
use crate::error::RuntimeError;
use crate::processor::{InputRecord, Output};
use prometheus::{IntCounter, IntCounterVec, Opts, Registry};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Header, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a DLQ write may take before the record is tried again.
const DLQ_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a config record is not applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The `reason` label and DLQ header, one of [`TableRecords::REASONS`].
    pub reason: &'static str,
    /// The DLQ stage: [`DlqStage::Decode`] for bytes that are not a record,
    /// [`DlqStage::Process`] for a record that breaks a rule.
    pub stage: DlqStage,
    /// What is wrong, for a person: the field, the value and the rule.
    pub message: String,
}

/// The records of one config topic and the table they build.
///
/// [`GlobalTable`] calls `apply` for every record in offset order, a tombstone as `None`;
/// [`TableDeadLetters`] calls `check` on a value of its own, so both refuse alike.
pub trait TableRecords: Send + Sync + 'static {
    /// The table's name: the `table` label, thread names and logs (`style-config`).
    const NAME: &'static str;
    /// Every refusal reason, exported at zero from the start.
    const REASONS: &'static [&'static str];

    /// Why `value` would be refused; `None` when it would apply.
    fn check(&self, value: &[u8]) -> Option<Refusal>;

    /// Applies the record `key` holds now: `Some(value)` replaces what the key held,
    /// `None` (a tombstone) removes it. A refused value changes nothing.
    fn apply(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), Refusal>;
}

/// What a [`GlobalTable`] has done so far.
#[derive(Debug)]
pub struct TableStats {
    /// Records applied (upserts and tombstones).
    pub applied: AtomicU64,
    /// Whether every partition was read up to its end as of the reader's start.
    pub caught_up: AtomicBool,
    /// `parley_table_refused_total{table,reason}`. Every instance reads and counts every
    /// record, and a restart reads the topic again: take the `max` over instances.
    refused: IntCounterVec,
    by_reason: HashMap<&'static str, IntCounter>,
}

impl TableStats {
    fn new<T: TableRecords>() -> TableStats {
        let refused = IntCounterVec::new(
            Opts::new(
                "parley_table_refused_total",
                "Config-table records read and not applied, by table and reason",
            )
            .const_label("table", T::NAME),
            &["reason"],
        )
        .expect("the metric definition is valid");
        let by_reason = T::REASONS
            .iter()
            .map(|&reason| (reason, refused.with_label_values(&[reason])))
            .collect();
        TableStats {
            applied: AtomicU64::new(0),
            caught_up: AtomicBool::new(false),
            refused,
            by_reason,
        }
    }

    /// Records refused so far, for any reason.
    pub fn refused(&self) -> u64 {
        self.by_reason.values().map(IntCounter::get).sum()
    }

    /// Records refused so far for `reason`.
    pub fn refused_for(&self, reason: &str) -> u64 {
        self.by_reason.get(reason).map_or(0, IntCounter::get)
    }

    /// Registers `parley_table_refused_total{table,reason}` on `registry` (the runtime's,
    /// [`Metrics::registry`](crate::Metrics::registry), for `/metrics`). A second table of
    /// the same name on one registry is an error.
    pub fn register(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        registry.register(Box::new(self.refused.clone()))
    }

    fn count(&self, refusal: &Refusal) {
        match self.by_reason.get(refusal.reason) {
            Some(counter) => counter.inc(),
            None => self.refused.with_label_values(&[refusal.reason]).inc(),
        }
    }
}

/// A config topic read in full into a `T` on a thread of its own; stops when dropped.
#[derive(Debug)]
pub struct GlobalTable<T: TableRecords> {
    table: Arc<RwLock<T>>,
    stats: Arc<TableStats>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl<T: TableRecords> GlobalTable<T> {
    /// Starts reading every partition of `topic` from the beginning into `records`, with
    /// the client settings `client` (bootstrap servers and extra librdkafka settings);
    /// `timeout` bounds the metadata and watermark reads.
    pub fn start(
        client: &ClientConfig,
        topic: &str,
        records: T,
        timeout: Duration,
    ) -> Result<GlobalTable<T>, RuntimeError> {
        let consumer: BaseConsumer = client
            .clone()
            .set("group.id", format!("parley-table-{topic}"))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .create()?;
        let metadata = consumer.fetch_metadata(Some(topic), timeout)?;
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .filter(|t| t.name() == topic && t.error().is_none())
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        if partitions.is_empty() {
            return Err(RuntimeError::MissingTopic {
                topic: topic.to_owned(),
                reason: "not in the broker's metadata or without partitions".into(),
            });
        }
        let mut ends = HashMap::new();
        let mut assignment = TopicPartitionList::new();
        for &partition in &partitions {
            let (_, high) = crate::partitions::watermarks(&consumer, topic, partition, timeout)?;
            ends.insert(partition, high);
            assignment.add_partition_offset(topic, partition, Offset::Beginning)?;
        }
        consumer.assign(&assignment)?;

        let table = Arc::new(RwLock::new(records));
        let stats = Arc::new(TableStats::new::<T>());
        let stop = Arc::new(AtomicBool::new(false));
        let mut reader = Reader {
            consumer,
            table: table.clone(),
            stats: stats.clone(),
            ends,
        };
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name(format!("table-{}", T::NAME))
            .spawn(move || reader.run(&flag))
            .map_err(|error| RuntimeError::Thread(T::NAME, error))?;
        Ok(GlobalTable {
            table,
            stats,
            stop,
            thread: Some(thread),
        })
    }

    /// The table, kept up to date while the reader runs.
    pub fn table(&self) -> Arc<RwLock<T>> {
        self.table.clone()
    }

    /// What the reader has done so far (shared: it stays current while the reader runs).
    pub fn stats(&self) -> Arc<TableStats> {
        self.stats.clone()
    }

    /// Waits until the topic was read up to its end as of the reader's start; returns
    /// whether it was within `timeout`.
    pub fn wait_caught_up(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.stats.caught_up.load(Ordering::SeqCst) {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }
}

impl<T: TableRecords> Drop for GlobalTable<T> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The reader's loop state.
struct Reader<T> {
    consumer: BaseConsumer,
    table: Arc<RwLock<T>>,
    stats: Arc<TableStats>,
    /// Per partition, the offset to reach before the table counts as loaded.
    ends: HashMap<i32, i64>,
}

impl<T: TableRecords> Reader<T> {
    fn run(&mut self, stop: &AtomicBool) {
        self.check_caught_up();
        while !stop.load(Ordering::SeqCst) {
            match self.consumer.poll(Duration::from_millis(100)) {
                Some(Ok(message)) => {
                    let message = message.detach();
                    self.apply(message.key().unwrap_or_default(), message.payload());
                    if let Some(end) = self.ends.get(&message.partition()) {
                        if message.offset() + 1 >= *end {
                            self.ends.remove(&message.partition());
                        }
                    }
                    self.check_caught_up();
                }
                Some(Err(error)) => tracing::warn!(table = T::NAME, %error, "table reader"),
                // Idle: a partition whose end is a control record (a transaction marker)
                // or compacted away never hands out its last offset; its position tells.
                None if !self.ends.is_empty() => self.check_positions(),
                None => {}
            }
        }
    }

    fn apply(&mut self, key: &[u8], value: Option<&[u8]>) {
        let applied = self.table.write().expect("not poisoned").apply(key, value);
        match applied {
            Ok(()) => {
                self.stats.applied.fetch_add(1, Ordering::Relaxed);
            }
            Err(refusal) => {
                tracing::warn!(
                    table = T::NAME,
                    key = %String::from_utf8_lossy(key),
                    reason = refusal.reason,
                    error = %refusal.message,
                    "config record refused, not applied"
                );
                self.stats.count(&refusal);
            }
        }
    }

    fn check_positions(&mut self) {
        let Ok(positions) = self.consumer.position() else {
            return;
        };
        for element in positions.elements() {
            if let (Offset::Offset(position), Some(end)) =
                (element.offset(), self.ends.get(&element.partition()))
            {
                if position >= *end {
                    self.ends.remove(&element.partition());
                }
            }
        }
        self.check_caught_up();
    }

    fn check_caught_up(&mut self) {
        self.ends.retain(|_, end| *end > 0);
        if self.ends.is_empty() {
            self.stats.caught_up.store(true, Ordering::SeqCst);
        }
    }
}

/// The consumer group that writes a config topic's refused records to the DLQ; stops when
/// dropped.
#[derive(Debug)]
pub struct TableDeadLetters {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TableDeadLetters {
    /// Joins the group `group` on `topic` and checks each record with `records` on a thread
    /// of its own; refused ones go to `dlq_topic`.
    pub fn start<T: TableRecords>(
        client: &ClientConfig,
        group: &str,
        topic: &str,
        dlq_topic: &str,
        records: T,
    ) -> Result<TableDeadLetters, RuntimeError> {
        let consumer: BaseConsumer = client
            .clone()
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .create()?;
        consumer.subscribe(&[topic])?;
        let producer: BaseProducer = client.clone().set("enable.idempotence", "true").create()?;
        let stop = Arc::new(AtomicBool::new(false));
        let mut checker = Checker {
            consumer,
            producer,
            records,
            dlq_topic: dlq_topic.to_owned(),
        };
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name(format!("table-dlq-{}", T::NAME))
            .spawn(move || checker.run(&flag))
            .map_err(|error| RuntimeError::Thread(T::NAME, error))?;
        Ok(TableDeadLetters {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for TableDeadLetters {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The DLQ group's loop state.
struct Checker<T> {
    consumer: BaseConsumer,
    producer: BaseProducer,
    records: T,
    dlq_topic: String,
}

impl<T: TableRecords> Checker<T> {
    fn run(&mut self, stop: &AtomicBool) {
        while !stop.load(Ordering::SeqCst) {
            let Some(polled) = self.consumer.poll(Duration::from_millis(100)) else {
                continue;
            };
            let message = match polled {
                Ok(message) => message.detach(),
                Err(error) => {
                    tracing::warn!(table = T::NAME, %error, "table DLQ group");
                    continue;
                }
            };
            // A tombstone is never refused.
            let refused = message
                .payload()
                .and_then(|value| Some((value, self.records.check(value)?)));
            if let Some((value, refusal)) = refused {
                let record = InputRecord {
                    topic: message.topic(),
                    partition: message.partition(),
                    offset: message.offset(),
                    key: message.key().unwrap_or_default(),
                    value,
                    timestamp: None,
                };
                let output = dead_letter(
                    &self.dlq_topic,
                    &record,
                    refusal.stage.as_str(),
                    refusal.reason,
                    &refusal.message,
                );
                if !self.send(&output) {
                    // Not committed: read the record again after a pause.
                    let offset = Offset::Offset(message.offset());
                    let seek = (self.consumer).seek(
                        message.topic(),
                        message.partition(),
                        offset,
                        DLQ_TIMEOUT,
                    );
                    if let Err(error) = seek {
                        tracing::warn!(table = T::NAME, %error, "table DLQ group seek");
                    }
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
            }
            self.commit(&message);
        }
    }

    /// Sends `output` and waits for the DLQ to have it.
    fn send(&self, output: &Output) -> bool {
        let mut headers = OwnedHeaders::new_with_capacity(output.headers.len());
        for (name, value) in &output.headers {
            headers = headers.insert(Header {
                key: name,
                value: Some(value),
            });
        }
        let record = BaseRecord::to(&output.topic)
            .key(&output.key)
            .payload(&output.value)
            .headers(headers);
        if let Err((error, _)) = self.producer.send(record) {
            tracing::error!(table = T::NAME, %error, topic = %output.topic, "DLQ record refused");
            return false;
        }
        match self.producer.flush(DLQ_TIMEOUT) {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(table = T::NAME, %error, topic = %output.topic, "DLQ record not acknowledged");
                false
            }
        }
    }

    fn commit(&self, message: &OwnedMessage) {
        let mut next = TopicPartitionList::new();
        let offset = Offset::Offset(message.offset() + 1);
        let added = next.add_partition_offset(message.topic(), message.partition(), offset);
        if let Err(error) = added.and_then(|()| self.consumer.commit(&next, CommitMode::Async)) {
            tracing::warn!(table = T::NAME, %error, "table DLQ group commit");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Metrics;

    /// Keys to numbers; a value that is not a number is undecodable, a negative one breaks
    /// the rule.
    #[derive(Default)]
    struct Numbers(HashMap<Vec<u8>, i64>);

    impl TableRecords for Numbers {
        const NAME: &'static str = "numbers";
        const REASONS: &'static [&'static str] = &["undecodable", "negative"];

        fn check(&self, value: &[u8]) -> Option<Refusal> {
            let refusal = |reason, stage, message: &str| Refusal {
                reason,
                stage,
                message: message.to_owned(),
            };
            let number = std::str::from_utf8(value)
                .ok()
                .and_then(|t| t.parse::<i64>().ok());
            match number {
                None => Some(refusal("undecodable", DlqStage::Decode, "not a number")),
                Some(n) if n < 0 => Some(refusal("negative", DlqStage::Process, "below 0")),
                Some(_) => None,
            }
        }

        fn apply(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), Refusal> {
            match value {
                None => {
                    self.0.remove(key);
                }
                Some(value) => {
                    if let Some(refusal) = self.check(value) {
                        return Err(refusal);
                    }
                    let n = std::str::from_utf8(value).unwrap().parse().unwrap();
                    self.0.insert(key.to_vec(), n);
                }
            }
            Ok(())
        }
    }

    fn reader(stats: Arc<TableStats>) -> Reader<Numbers> {
        // Never polled: apply() is called directly, so no broker is needed.
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", "127.0.0.1:9")
            .set("group.id", "table-test")
            .create()
            .unwrap();
        Reader {
            consumer,
            table: Arc::default(),
            stats,
            ends: HashMap::new(),
        }
    }

    #[test]
    fn refused_records_change_nothing_and_are_counted_by_reason() {
        let metrics = Metrics::new();
        let stats = Arc::new(TableStats::new::<Numbers>());
        stats.register(metrics.registry()).unwrap();
        let zero = metrics.render();
        for reason in Numbers::REASONS {
            let line =
                format!("parley_table_refused_total{{reason=\"{reason}\",table=\"numbers\"}} 0");
            assert!(zero.contains(&line), "{zero}");
        }

        let mut reader = reader(stats.clone());
        reader.apply(b"a", Some(b"5"));
        reader.apply(b"a", Some(b"five"));
        reader.apply(b"a", Some(b"-1"));
        reader.apply(b"a", Some(b"-2"));
        reader.apply(b"b", Some(b"7"));
        reader.apply(b"b", None);

        let table = reader.table.read().unwrap();
        assert_eq!(table.0, HashMap::from([(b"a".to_vec(), 5)]), "a keeps 5");
        assert_eq!(stats.applied.load(Ordering::SeqCst), 3);
        assert_eq!(stats.refused_for("undecodable"), 1);
        assert_eq!(stats.refused_for("negative"), 2);
        assert_eq!(stats.refused(), 3);
        let text = metrics.render();
        assert!(
            text.contains("parley_table_refused_total{reason=\"negative\",table=\"numbers\"} 2"),
            "{text}"
        );
    }

    #[test]
    fn two_tables_share_the_metric_and_one_table_registers_once() {
        #[derive(Default)]
        struct Other;
        impl TableRecords for Other {
            const NAME: &'static str = "other";
            const REASONS: &'static [&'static str] = &["undecodable"];
            fn check(&self, _: &[u8]) -> Option<Refusal> {
                None
            }
            fn apply(&mut self, _: &[u8], _: Option<&[u8]>) -> Result<(), Refusal> {
                Ok(())
            }
        }
        let metrics = Metrics::new();
        TableStats::new::<Numbers>()
            .register(metrics.registry())
            .unwrap();
        TableStats::new::<Other>()
            .register(metrics.registry())
            .unwrap();
        assert!(TableStats::new::<Numbers>()
            .register(metrics.registry())
            .is_err());
    }
}
