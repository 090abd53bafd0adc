//! The runtime's configuration: a serde struct with documented fields, defaults and validation.

use crate::error::ConfigError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

/// How outputs, state and input offsets are committed together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Guarantee {
    /// Kafka transactions: outputs, changelog and input offsets commit atomically; sled is
    /// applied after the commit. Needs a broker with transactions.
    ExactlyOnce,
    /// Outputs and changelog are produced and acknowledged (idempotent producer), then the
    /// sled batch with the input offsets is applied. After a crash the same inputs are
    /// reprocessed and identical outputs re-emitted.
    AtLeastOnce,
}

impl Guarantee {
    /// The name used in config files.
    pub const fn as_str(self) -> &'static str {
        match self {
            Guarantee::ExactlyOnce => "exactly_once",
            Guarantee::AtLeastOnce => "at_least_once",
        }
    }
}

/// Where the `now` a record is handled at comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeSource {
    /// The record's timestamp (its producer's CreateTime, or the broker's LogAppendTime),
    /// falling back to the clock for a record without one: a replay re-emits identical
    /// records, and consumer lag does not stretch durations. Outputs carry the same time.
    Event,
    /// The clock when the record is handled, whatever its timestamp.
    Processing,
}

impl TimeSource {
    /// The name used in config files.
    pub const fn as_str(self) -> &'static str {
        match self {
            TimeSource::Event => "event",
            TimeSource::Processing => "processing",
        }
    }
}

/// How the runtime tells time: the `time` section of [`RuntimeConfig`].
///
/// Timers always come due by the clock (processing time); a timer is handled with its due
/// time as `now`, whatever the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeConfig {
    /// `event` (records are handled at their timestamp) or `processing` (at the clock).
    #[serde(default = "default_time_source")]
    pub source: TimeSource,
    /// With `event`: how far, in milliseconds, a record's timestamp may lie ahead of the clock.
    /// A later timestamp (a producer with a wrong clock) is handled at the clock plus this, so
    /// that one record cannot move a ticket's times and timers into the future.
    #[serde(default = "default_max_ahead_ms")]
    pub max_ahead_ms: u64,
}

impl Default for TimeConfig {
    fn default() -> TimeConfig {
        TimeConfig {
            source: default_time_source(),
            max_ahead_ms: default_max_ahead_ms(),
        }
    }
}

/// The default time source: `event`.
pub fn default_time_source() -> TimeSource {
    TimeSource::Event
}

/// The default tolerance for timestamps ahead of the clock: one minute.
pub fn default_max_ahead_ms() -> u64 {
    60_000
}

/// Configuration of one runtime instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Kafka bootstrap servers, `host:port[,host:port]`.
    pub brokers: String,
    /// The consumer group; also the prefix of the transactional id.
    pub group_id: String,
    /// A name unique to this instance within the group (transactional id suffix).
    #[serde(default = "default_instance_id")]
    pub instance_id: String,
    /// Input topics, co-partitioned with each other and with the changelog.
    pub input_topics: Vec<String>,
    /// The compacted changelog topic holding every state write.
    pub changelog_topic: String,
    /// The dead-letter topic for undecodable or rejected records.
    pub dlq_topic: String,
    /// Directory of this instance's sled database.
    pub state_dir: PathBuf,
    /// `exactly_once` or `at_least_once`.
    #[serde(default = "default_guarantee")]
    pub guarantee: Guarantee,
    /// Confluent schema registry URL; without it values use Avro single-object encoding.
    #[serde(default)]
    pub registry_url: Option<String>,
    /// Most input records per batch.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Longest time a batch stays open, in milliseconds.
    #[serde(default = "default_commit_interval_ms")]
    pub commit_interval_ms: u64,
    /// How far ahead, in milliseconds, the in-memory timer wheel is filled from sled.
    #[serde(default = "default_timer_horizon_ms")]
    pub timer_horizon_ms: u64,
    /// Address of the HTTP server for `/metrics`; none to not serve.
    #[serde(default = "default_metrics_address")]
    pub metrics_address: Option<SocketAddr>,
    /// The `host:port` at which other machines reach this instance's `/state` endpoint; the
    /// group consumer advertises it in its `client.id`, as `<client.id or instance_id>@<it>`
    /// (see [`crate::owners`]), for `parley inspect` to find a key's owner. None advertises
    /// nothing.
    #[serde(default)]
    pub advertised_state_address: Option<String>,
    /// Extra librdkafka settings for consumers and producers, passed through unchanged.
    #[serde(default)]
    pub librdkafka: BTreeMap<String, String>,
    /// Where records' time comes from; by default their timestamps (see [`TimeConfig`]).
    #[serde(default)]
    pub time: TimeConfig,
}

/// The default instance id: the host name, or `instance-0`.
pub fn default_instance_id() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "instance-0".to_owned())
}

/// The default guarantee: `exactly_once`.
pub fn default_guarantee() -> Guarantee {
    Guarantee::ExactlyOnce
}

/// The default batch size: 10,000 records, a bound on a batch's memory and on what a crash
/// redoes under `at_least_once`. Under load a batch is cut by [`default_commit_interval_ms`]
/// well before: as Kafka Streams commits every 100 ms under `exactly_once`. (With 500, a
/// commit every 500 records took most of the time: 5 to 7 times less throughput.)
pub fn default_batch_size() -> usize {
    10_000
}

/// The default commit interval: 100 ms.
pub fn default_commit_interval_ms() -> u64 {
    100
}

/// The default timer horizon: one hour.
pub fn default_timer_horizon_ms() -> u64 {
    3_600_000
}

/// The default metrics address: `0.0.0.0:9464`.
pub fn default_metrics_address() -> Option<SocketAddr> {
    Some(SocketAddr::from(([0, 0, 0, 0], 9464)))
}

impl RuntimeConfig {
    /// The settings every client of this processor starts from: the brokers and the
    /// operator's `librdkafka` settings ([`crate::clients::base`]).
    pub fn client(&self) -> rdkafka::ClientConfig {
        crate::clients::base(&self.brokers, &self.librdkafka)
    }

    /// Parses a config from JSON and validates it.
    pub fn from_json(text: &str) -> Result<RuntimeConfig, ConfigError> {
        let config: RuntimeConfig =
            serde_json::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every field against its rule; the error names the field, the value and the rule.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fn invalid(
            field: &str,
            value: impl std::fmt::Debug,
            rule: &str,
        ) -> Result<(), ConfigError> {
            Err(ConfigError::Invalid {
                field: field.to_owned(),
                value: format!("{value:?}"),
                rule: rule.to_owned(),
            })
        }
        if self.brokers.trim().is_empty() {
            return invalid("brokers", &self.brokers, "must name at least one host:port");
        }
        if self.group_id.trim().is_empty() {
            return invalid("group_id", &self.group_id, "must not be empty");
        }
        if self.instance_id.trim().is_empty() {
            return invalid("instance_id", &self.instance_id, "must not be empty");
        }
        if self.input_topics.is_empty() {
            return invalid(
                "input_topics",
                &self.input_topics,
                "must name at least one topic",
            );
        }
        for (field, topic) in [
            ("changelog_topic", &self.changelog_topic),
            ("dlq_topic", &self.dlq_topic),
        ] {
            if topic.trim().is_empty() {
                return invalid(field, topic, "must not be empty");
            }
            if self.input_topics.contains(topic) {
                return invalid(field, topic, "must not be one of input_topics");
            }
        }
        if self.batch_size == 0 {
            return invalid("batch_size", self.batch_size, "must be at least 1");
        }
        if self.commit_interval_ms == 0 {
            return invalid(
                "commit_interval_ms",
                self.commit_interval_ms,
                "must be at least 1",
            );
        }
        if self.timer_horizon_ms < 1_000 {
            return invalid(
                "timer_horizon_ms",
                self.timer_horizon_ms,
                "must be at least 1000",
            );
        }
        if let Some(url) = &self.registry_url {
            if !url.starts_with("http://") {
                return invalid("registry_url", url, "must start with http://");
            }
        }
        for key in self.librdkafka.keys() {
            if RESERVED_KEYS.contains(&key.as_str()) {
                return invalid(
                    "librdkafka",
                    key,
                    "is set by the runtime and cannot be overridden",
                );
            }
        }
        Ok(())
    }
}

/// librdkafka settings the runtime owns because its guarantees depend on them.
const RESERVED_KEYS: &[&str] = &[
    "group.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "isolation.level",
    "transactional.id",
    "enable.idempotence",
    "partition.assignment.strategy",
];

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"{
        "brokers": "localhost:9092",
        "group_id": "parley-tickets",
        "instance_id": "tickets-0",
        "input_topics": ["parley.conversation-events", "parley.agent-actions"],
        "changelog_topic": "parley.tickets-changelog",
        "dlq_topic": "parley.dlq",
        "state_dir": "/var/lib/parley/tickets",
        "guarantee": "at_least_once",
        "batch_size": 1000,
        "librdkafka": { "fetch.min.bytes": "1" }
    }"#;

    #[test]
    fn example_parses_with_defaults() {
        let config = RuntimeConfig::from_json(EXAMPLE).unwrap();
        assert_eq!(config.guarantee, Guarantee::AtLeastOnce);
        assert_eq!(config.batch_size, 1000);
        assert_eq!(config.commit_interval_ms, default_commit_interval_ms());
        assert_eq!(config.registry_url, None);
        assert_eq!(config.librdkafka["fetch.min.bytes"], "1");
    }

    #[test]
    fn readme_example_parses() {
        let readme = include_str!("../README.md");
        let start = readme.find("```json\n").unwrap() + 8;
        let end = start + readme[start..].find("```").unwrap();
        let config = RuntimeConfig::from_json(&readme[start..end]).unwrap();
        assert_eq!(config.guarantee, Guarantee::ExactlyOnce);
        assert_eq!(config.input_topics.len(), 3);
    }

    #[test]
    fn time_defaults_to_event_time_and_can_be_processing_time() {
        let config = RuntimeConfig::from_json(EXAMPLE).unwrap();
        assert_eq!(config.time.source, TimeSource::Event);
        assert_eq!(config.time.max_ahead_ms, 60_000);
        let text = EXAMPLE.replace(
            "\"batch_size\"",
            "\"time\": { \"source\": \"processing\" }, \"batch_size\"",
        );
        let config = RuntimeConfig::from_json(&text).unwrap();
        assert_eq!(config.time.source, TimeSource::Processing);
        assert_eq!(config.time.max_ahead_ms, 60_000);
        let text = EXAMPLE.replace(
            "\"batch_size\"",
            "\"time\": { \"source\": \"wall\" }, \"batch_size\"",
        );
        let err = RuntimeConfig::from_json(&text).unwrap_err().to_string();
        assert!(
            err.contains("wall") && err.contains("event") && err.contains("processing"),
            "{err}"
        );
    }

    #[test]
    fn unknown_field_is_refused() {
        let text = EXAMPLE.replace("\"batch_size\"", "\"batchsize\"");
        let err = RuntimeConfig::from_json(&text).unwrap_err().to_string();
        assert!(err.contains("unknown field `batchsize`"), "{err}");
    }

    #[test]
    fn bad_guarantee_names_the_choices() {
        let text = EXAMPLE.replace("at_least_once", "exactly-once");
        let err = RuntimeConfig::from_json(&text).unwrap_err().to_string();
        assert!(
            err.contains("exactly-once")
                && err.contains("exactly_once")
                && err.contains("at_least_once"),
            "{err}"
        );
    }

    #[test]
    fn zero_batch_size_names_field_value_and_rule() {
        let text = EXAMPLE.replace("1000", "0");
        let err = RuntimeConfig::from_json(&text).unwrap_err().to_string();
        assert_eq!(err, "batch_size = 0: must be at least 1");
    }

    #[test]
    fn reserved_librdkafka_key_is_refused() {
        let text = EXAMPLE.replace("fetch.min.bytes", "isolation.level");
        let err = RuntimeConfig::from_json(&text).unwrap_err().to_string();
        assert_eq!(
            err,
            "librdkafka = \"isolation.level\": is set by the runtime and cannot be overridden"
        );
    }

    #[test]
    fn changelog_must_not_be_an_input() {
        let text = EXAMPLE.replace("parley.tickets-changelog", "parley.agent-actions");
        let err = RuntimeConfig::from_json(&text).unwrap_err().to_string();
        assert_eq!(
            err,
            "changelog_topic = \"parley.agent-actions\": must not be one of input_topics"
        );
    }
}
