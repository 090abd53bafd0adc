//! The style-config table: the compacted `style-config` topic read in full by every instance.
//!
//! [`StyleReader`] assigns itself every partition of the topic from the beginning (no
//! consumer group, no commits) and polls on a thread of its own, upserting each record into
//! a [`SharedStyles`] table that every partition's processor reads. A tombstone removes what
//! its key held. A record that cannot be decoded or breaks a style rule is logged, counted
//! in `parley_style_config_refused_total{reason}` and not applied. The DLQ write is not
//! the reader's, since every instance reads (and refuses) every record: one consumer group,
//! [`StyleDeadLetters`](crate::StyleDeadLetters), writes it once.

use crate::error::TicketsError;
use parley_core::{Channel, StyleConfig, StyleTable};
use parley_runtime::codec::AvroCodec;
use prometheus::{IntCounter, IntCounterVec, Opts, Registry};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The style table shared between the reader and every partition's processor.
pub type SharedStyles = Arc<RwLock<StyleTable>>;

/// What the reader has done so far.
#[derive(Debug)]
pub struct StyleReaderStats {
    /// Records applied (upserts and tombstones).
    pub applied: AtomicU64,
    /// Whether every partition was read up to its end as of the reader's start.
    pub caught_up: AtomicBool,
    /// `parley_style_config_refused_total{reason}`: records not applied, by
    /// [`REFUSED_UNDECODABLE`] or [`REFUSED_STYLE_RULE`]. Every instance reads and counts
    /// every record, and a restart reads the topic again: take the `max` over instances.
    refused: IntCounterVec,
    undecodable: IntCounter,
    style_rule: IntCounter,
}

/// The `reason` of a refused record that does not decode as a StyleConfig.
pub const REFUSED_UNDECODABLE: &str = "undecodable";
/// The `reason` of a refused record that breaks a style rule (e.g. a gap for `live_chat`).
pub const REFUSED_STYLE_RULE: &str = "style_rule";

impl Default for StyleReaderStats {
    fn default() -> StyleReaderStats {
        let refused = IntCounterVec::new(
            Opts::new(
                "parley_style_config_refused_total",
                "Style-config records read and not applied, by reason",
            ),
            &["reason"],
        )
        .expect("the metric definition is valid");
        // Both reasons are exported from the start, at zero.
        StyleReaderStats {
            applied: AtomicU64::new(0),
            caught_up: AtomicBool::new(false),
            undecodable: refused.with_label_values(&[REFUSED_UNDECODABLE]),
            style_rule: refused.with_label_values(&[REFUSED_STYLE_RULE]),
            refused,
        }
    }
}

impl StyleReaderStats {
    /// Records refused so far, for either reason.
    pub fn refused(&self) -> u64 {
        self.undecodable.get() + self.style_rule.get()
    }

    /// Registers `parley_style_config_refused_total{reason}` on `registry` (the runtime's,
    /// [`Metrics::registry`](parley_runtime::Metrics::registry), for `/metrics`).
    pub fn register(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        registry.register(Box::new(self.refused.clone()))
    }
}

/// The background reader of the style-config topic; stops its thread when dropped.
#[derive(Debug)]
pub struct StyleReader {
    table: SharedStyles,
    stats: Arc<StyleReaderStats>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StyleReader {
    /// Starts reading `topic` with the client settings `client` (bootstrap servers and any
    /// extra librdkafka settings) on a thread of its own, decoding values with `codec`.
    pub fn start(
        client: &ClientConfig,
        topic: &str,
        codec: AvroCodec<StyleConfig>,
        timeout: Duration,
    ) -> Result<StyleReader, TicketsError> {
        let consumer: BaseConsumer = client
            .clone()
            .set("group.id", format!("parley-style-reader-{topic}"))
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
            return Err(TicketsError::MissingTopic {
                topic: topic.to_owned(),
                reason: "not in the broker's metadata or without partitions".into(),
            });
        }
        let mut ends = HashMap::new();
        let mut assignment = TopicPartitionList::new();
        for &partition in &partitions {
            let (_, high) =
                parley_runtime::partitions::watermarks(&consumer, topic, partition, timeout)?;
            ends.insert(partition, high);
            assignment.add_partition_offset(topic, partition, Offset::Beginning)?;
        }
        consumer.assign(&assignment)?;

        let table = SharedStyles::default();
        let stats = Arc::new(StyleReaderStats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let mut loop_state = ReaderLoop {
            consumer,
            table: table.clone(),
            stats: stats.clone(),
            stop: stop.clone(),
            codec,
            keys: HashMap::new(),
            ends,
        };
        let thread = std::thread::Builder::new()
            .name("style-reader".into())
            .spawn(move || loop_state.run())?;
        Ok(StyleReader {
            table,
            stats,
            stop,
            thread: Some(thread),
        })
    }

    /// The table the reader keeps up to date.
    pub fn table(&self) -> SharedStyles {
        self.table.clone()
    }

    /// What the reader has done so far (shared: it stays current while the reader runs).
    pub fn stats(&self) -> Arc<StyleReaderStats> {
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

impl Drop for StyleReader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct ReaderLoop {
    consumer: BaseConsumer,
    table: SharedStyles,
    stats: Arc<StyleReaderStats>,
    stop: Arc<AtomicBool>,
    codec: AvroCodec<StyleConfig>,
    /// What each topic key last held, so a tombstone removes exactly that.
    keys: HashMap<Vec<u8>, (String, Option<String>, Option<Channel>)>,
    /// Per partition, the offset to reach before the table counts as loaded.
    ends: HashMap<i32, i64>,
}

impl ReaderLoop {
    fn run(&mut self) {
        self.check_caught_up();
        while !self.stop.load(Ordering::SeqCst) {
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
                Some(Err(error)) => tracing::warn!(%error, "style-config reader"),
                // Idle: a partition whose end is a control record (a transaction marker)
                // or compacted away never hands out its last offset; its position tells.
                None if !self.ends.is_empty() => self.check_positions(),
                None => {}
            }
        }
    }

    fn check_positions(&mut self) {
        let Ok(positions) = self.consumer.position() else {
            return;
        };
        for element in positions.elements() {
            if let (rdkafka::Offset::Offset(position), Some(end)) =
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

    fn apply(&mut self, key: &[u8], value: Option<&[u8]>) {
        let mut table = self.table.write().expect("not poisoned");
        let Some(value) = value else {
            if let Some((account, brand, channel)) = self.keys.remove(key) {
                table.remove(&account, brand.as_deref(), channel);
            }
            self.stats.applied.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let config = match self.codec.decode(value) {
            Ok(config) => config,
            Err(error) => {
                tracing::warn!(key = %String::from_utf8_lossy(key), %error, "style-config record undecodable, not applied");
                self.stats.undecodable.inc();
                return;
            }
        };
        // `upsert` checks the rules that `refusal` checks.
        match table.upsert(&config) {
            Ok(()) => {
                let new = (config.account, config.brand, config.channel);
                if let Some(old) = self.keys.insert(key.to_vec(), new.clone()) {
                    if old != new {
                        table.remove(&old.0, old.1.as_deref(), old.2);
                    }
                }
                self.stats.applied.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                tracing::warn!(key = %String::from_utf8_lossy(key), %error, "style-config record refused, not applied");
                self.stats.style_rule.inc();
            }
        }
    }
}

/// Why a style-config value is refused, as a reason (`undecodable` or `style_rule`) and a
/// message; `None` when it applies. The reader and the DLQ group check alike.
pub(crate) fn refusal(
    codec: &AvroCodec<StyleConfig>,
    value: &[u8],
) -> Option<(&'static str, String)> {
    match codec.decode(value) {
        Err(error) => Some((REFUSED_UNDECODABLE, error.to_string())),
        Ok(config) => parley_core::StyleSettings::from_config(&config)
            .err()
            .map(|error| (REFUSED_STYLE_RULE, error.to_string())),
    }
}

impl std::fmt::Debug for ReaderLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReaderLoop").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_core::{Millis, Style, Timestamp};
    use parley_runtime::Metrics;

    fn reader_loop(stats: Arc<StyleReaderStats>) -> ReaderLoop {
        // Never polled: apply() is called directly, so no broker is needed.
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", "127.0.0.1:9")
            .set("group.id", "style-reader-test")
            .create()
            .unwrap();
        ReaderLoop {
            consumer,
            table: SharedStyles::default(),
            stats,
            stop: Arc::default(),
            codec: AvroCodec::single_object(),
            keys: HashMap::new(),
            ends: HashMap::new(),
        }
    }

    fn config(style: Style, gap: Option<Millis>) -> StyleConfig {
        StyleConfig {
            account: "acme".into(),
            brand: None,
            channel: None,
            style,
            solved_to_closed_ms: gap,
            priority: 0,
            required_skills: Vec::new(),
            group: None,
            updated_at: Timestamp(0),
        }
    }

    #[test]
    fn refusals_are_on_the_runtimes_metrics_by_reason() {
        let metrics = Metrics::new();
        let stats = Arc::new(StyleReaderStats::default());
        stats.register(metrics.registry()).unwrap();
        let zero = metrics.render();
        assert!(
            zero.contains("parley_style_config_refused_total{reason=\"undecodable\"} 0"),
            "{zero}"
        );
        assert!(
            zero.contains("parley_style_config_refused_total{reason=\"style_rule\"} 0"),
            "{zero}"
        );

        let mut reader = reader_loop(stats.clone());
        let codec = AvroCodec::<StyleConfig>::single_object();
        reader.apply(b"acme", Some(b"not avro"));
        // live_chat closes at once: a gap breaks the rule.
        let live_chat_with_gap = codec
            .encode(&config(Style::LiveChat, Some(Millis::hours(1))))
            .unwrap();
        reader.apply(b"acme", Some(&live_chat_with_gap));
        reader.apply(b"acme", Some(&live_chat_with_gap));
        let valid = codec
            .encode(&config(Style::LiveChatReturning, None))
            .unwrap();
        reader.apply(b"acme", Some(&valid));

        let text = metrics.render();
        assert!(
            text.contains("parley_style_config_refused_total{reason=\"undecodable\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("parley_style_config_refused_total{reason=\"style_rule\"} 2"),
            "{text}"
        );
        assert_eq!(stats.refused(), 3);
        assert_eq!(stats.applied.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_second_registration_on_the_same_metrics_is_an_error() {
        let metrics = Metrics::new();
        StyleReaderStats::default()
            .register(metrics.registry())
            .unwrap();
        assert!(StyleReaderStats::default()
            .register(metrics.registry())
            .is_err());
    }
}
