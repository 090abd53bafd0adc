//! The Kafka stage's configuration: brokers, topics, group, encoding, limits and the normaliser's rules.

use crate::config::IngressConfig;
use parley_core::Channel;
use parley_runtime::ConfigError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// How one ingress instance connects to Kafka and what it reads and writes.
///
/// Only `brokers` is required. Topic names are `topic_prefix` followed by the name: with the
/// defaults the stage reads `parley.raw.whatsapp` (one topic per entry of `channels`) and
/// writes `parley.conversation-events` and `parley.dlq`.
///
/// ```
/// # use parley_ingress::stage::IngressStageConfig;
/// let config: IngressStageConfig = serde_json::from_str(r#"{
///     "brokers": "kafka-0:9092,kafka-1:9092",
///     "channels": ["whatsapp", "messenger"],
///     "ingress": { "integrations": { "106540352242922": "acme/eu" } }
/// }"#).unwrap();
/// config.validate().unwrap();
/// assert_eq!(config.raw_topics(), ["parley.raw.whatsapp", "parley.raw.messenger"]);
/// assert_eq!(config.output_topic(), "parley.conversation-events");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngressStageConfig {
    /// Kafka bootstrap servers, `host:port[,host:port]`.
    pub brokers: String,
    /// The consumer group every ingress instance joins; any number of instances share the
    /// raw partitions.
    #[serde(default = "default_group_id")]
    pub group_id: String,
    /// Prepended to every topic name (`parley.` gives `parley.raw.whatsapp`).
    #[serde(default = "default_topic_prefix")]
    pub topic_prefix: String,
    /// The channels whose raw topics (`<prefix>raw.<channel>`) this instance consumes.
    #[serde(default = "default_channels")]
    pub channels: Vec<Channel>,
    /// The events topic, after the prefix.
    #[serde(default = "default_output_topic")]
    pub output_topic: String,
    /// The dead-letter topic, after the prefix.
    #[serde(default = "default_dlq_topic")]
    pub dlq_topic: String,
    /// Confluent schema registry URL (`http://host:port`). With it, events are written in
    /// the Confluent wire format under the subject `<output topic>-value`; without it, in
    /// Avro single-object encoding.
    #[serde(default)]
    pub registry_url: Option<String>,
    /// Address of the HTTP server for `/metrics` and `/health`; none to not serve.
    #[serde(default = "default_metrics_address")]
    pub metrics_address: Option<SocketAddr>,
    /// Most produced records (events and DLQ records) awaiting the broker's acknowledgement;
    /// consuming pauses at this many.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// How often acknowledged source offsets are committed, in milliseconds.
    #[serde(default = "default_commit_interval_ms")]
    pub commit_interval_ms: u64,
    /// Extra librdkafka settings for the consumer and the producer, passed through
    /// unchanged (e.g. `security.protocol`, `linger.ms`). The settings the stage's
    /// guarantees rest on cannot be overridden: see [`RESERVED_LIBRDKAFKA_KEYS`].
    #[serde(default)]
    pub librdkafka: BTreeMap<String, String>,
    /// How raw records are read: body size limit, clock skew, integration map.
    #[serde(default)]
    pub ingress: IngressConfig,
}

/// librdkafka settings the stage sets itself and `librdkafka` may not change.
pub const RESERVED_LIBRDKAFKA_KEYS: [&str; 7] = [
    "bootstrap.servers",
    "group.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "enable.idempotence",
    "partitioner",
    "partition.assignment.strategy",
];

/// The default group: `parley-ingress`.
pub fn default_group_id() -> String {
    "parley-ingress".to_owned()
}

/// The default topic prefix: `parley.`.
pub fn default_topic_prefix() -> String {
    "parley.".to_owned()
}

/// The default channels: all eleven.
pub fn default_channels() -> Vec<Channel> {
    Channel::ALL.to_vec()
}

/// The default output topic name: `conversation-events`.
pub fn default_output_topic() -> String {
    "conversation-events".to_owned()
}

/// The default DLQ topic name: `dlq`.
pub fn default_dlq_topic() -> String {
    "dlq".to_owned()
}

/// The default metrics address: `0.0.0.0:9100`, as the runtime's.
pub fn default_metrics_address() -> Option<SocketAddr> {
    Some(SocketAddr::from(([0, 0, 0, 0], 9100)))
}

/// The default in-flight limit: 50 000 produced records.
pub const fn default_max_in_flight() -> usize {
    50_000
}

/// The default commit interval: one second.
pub const fn default_commit_interval_ms() -> u64 {
    1_000
}

impl IngressStageConfig {
    /// A config with every default and these brokers.
    pub fn new(brokers: impl Into<String>) -> IngressStageConfig {
        IngressStageConfig {
            brokers: brokers.into(),
            group_id: default_group_id(),
            topic_prefix: default_topic_prefix(),
            channels: default_channels(),
            output_topic: default_output_topic(),
            dlq_topic: default_dlq_topic(),
            registry_url: None,
            metrics_address: default_metrics_address(),
            max_in_flight: default_max_in_flight(),
            commit_interval_ms: default_commit_interval_ms(),
            librdkafka: BTreeMap::new(),
            ingress: IngressConfig::default(),
        }
    }

    /// Parses a config from JSON and validates it.
    pub fn from_json(text: &str) -> Result<IngressStageConfig, ConfigError> {
        let config: IngressStageConfig =
            serde_json::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// The raw topic of `channel`: `<prefix>raw.<channel>`.
    pub fn raw_topic(&self, channel: Channel) -> String {
        format!("{}raw.{}", self.topic_prefix, channel.as_str())
    }

    /// The raw topics consumed, in `channels` order.
    pub fn raw_topics(&self) -> Vec<String> {
        self.channels.iter().map(|c| self.raw_topic(*c)).collect()
    }

    /// The full name of the events topic.
    pub fn output_topic(&self) -> String {
        format!("{}{}", self.topic_prefix, self.output_topic)
    }

    /// The full name of the DLQ topic.
    pub fn dlq_topic(&self) -> String {
        format!("{}{}", self.topic_prefix, self.dlq_topic)
    }

    /// Checks every field against its rule; the error names the field, the value and the rule.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fn invalid(field: &str, value: impl std::fmt::Debug, rule: &str) -> ConfigError {
            ConfigError::Invalid {
                field: field.to_owned(),
                value: format!("{value:?}"),
                rule: rule.to_owned(),
            }
        }
        if self.brokers.trim().is_empty() {
            return Err(invalid(
                "brokers",
                &self.brokers,
                "must name at least one host:port",
            ));
        }
        if self.group_id.is_empty() {
            return Err(invalid("group_id", &self.group_id, "must not be empty"));
        }
        if self.channels.is_empty() {
            return Err(invalid(
                "channels",
                &self.channels,
                "must name at least one channel",
            ));
        }
        for (i, channel) in self.channels.iter().enumerate() {
            if self.channels[..i].contains(channel) {
                return Err(invalid(
                    "channels",
                    &self.channels,
                    &format!("must not name `{channel}` twice"),
                ));
            }
        }
        for (field, name) in [
            ("topic_prefix", self.topic_prefix.as_str()),
            ("output_topic", self.output_topic.as_str()),
            ("dlq_topic", self.dlq_topic.as_str()),
        ] {
            if !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            {
                return Err(invalid(
                    field,
                    name,
                    "Kafka topic names may hold only ASCII letters, digits, `.`, `_` and `-`",
                ));
            }
        }
        for (field, name) in [
            ("output_topic", &self.output_topic),
            ("dlq_topic", &self.dlq_topic),
        ] {
            if name.is_empty() {
                return Err(invalid(field, name, "must not be empty"));
            }
            let full = format!("{}{name}", self.topic_prefix);
            if full.len() > 249 {
                return Err(invalid(
                    field,
                    &full,
                    "topic names are at most 249 characters",
                ));
            }
            if self.raw_topics().contains(&full) {
                return Err(invalid(field, &full, "must not be one of the raw topics"));
            }
        }
        if self.output_topic == self.dlq_topic {
            return Err(invalid(
                "dlq_topic",
                &self.dlq_topic,
                "must differ from output_topic",
            ));
        }
        if let Some(url) = &self.registry_url {
            if !url.starts_with("http://") || url.len() <= "http://".len() {
                return Err(invalid(
                    "registry_url",
                    url,
                    "must be a plain-HTTP URL, `http://host:port`",
                ));
            }
        }
        if self.max_in_flight == 0 || self.max_in_flight > 10_000_000 {
            return Err(invalid(
                "max_in_flight",
                self.max_in_flight,
                "must be between 1 and 10000000",
            ));
        }
        if self.commit_interval_ms == 0 || self.commit_interval_ms > 600_000 {
            return Err(invalid(
                "commit_interval_ms",
                self.commit_interval_ms,
                "must be between 1 and 600000 (ten minutes)",
            ));
        }
        for key in self.librdkafka.keys() {
            if RESERVED_LIBRDKAFKA_KEYS.contains(&key.as_str()) {
                return Err(invalid(
                    "librdkafka",
                    key,
                    "is set by the stage (its at-least-once and partitioning guarantees rest on it) and cannot be overridden",
                ));
            }
        }
        if self.ingress.max_body_bytes == 0 {
            return Err(invalid(
                "ingress.max_body_bytes",
                self.ingress.max_body_bytes,
                "must be at least 1",
            ));
        }
        if self.ingress.max_future_skew_ms < 0 {
            return Err(invalid(
                "ingress.max_future_skew_ms",
                self.ingress.max_future_skew_ms,
                "must not be negative",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(config: &IngressStageConfig) -> String {
        config.validate().unwrap_err().to_string()
    }

    #[test]
    fn brokers_alone_is_a_valid_config_with_every_channel() {
        let config = IngressStageConfig::from_json(r#"{"brokers": "localhost:9092"}"#).unwrap();
        assert_eq!(config, IngressStageConfig::new("localhost:9092"));
        assert_eq!(config.raw_topics().len(), 11);
        assert_eq!(config.raw_topic(Channel::X), "parley.raw.x");
        assert_eq!(config.dlq_topic(), "parley.dlq");
        assert_eq!(config.group_id, "parley-ingress");
    }

    #[test]
    fn unknown_fields_are_refused_at_both_levels() {
        let error =
            IngressStageConfig::from_json(r#"{"brokers": "b:9092", "group": "x"}"#).unwrap_err();
        assert!(
            error.to_string().contains("unknown field `group`"),
            "{error}"
        );
        let error =
            IngressStageConfig::from_json(r#"{"brokers": "b:9092", "ingress": {"max_bytes": 1}}"#)
                .unwrap_err();
        assert!(
            error.to_string().contains("unknown field `max_bytes`"),
            "{error}"
        );
    }

    #[test]
    fn errors_name_field_value_and_rule() {
        let mut config = IngressStageConfig::new("b:9092");
        config.channels = vec![Channel::Line, Channel::Line];
        assert_eq!(
            message(&config),
            "channels = [Line, Line]: must not name `line` twice"
        );

        let mut config = IngressStageConfig::new("b:9092");
        config.dlq_topic = "conversation-events".into();
        assert_eq!(
            message(&config),
            "dlq_topic = \"conversation-events\": must differ from output_topic"
        );

        let mut config = IngressStageConfig::new("b:9092");
        config.output_topic = "raw.line".into();
        assert!(message(&config)
            .starts_with("output_topic = \"parley.raw.line\": must not be one of the raw topics"));

        let mut config = IngressStageConfig::new("b:9092");
        config.topic_prefix = "parley/".into();
        assert!(message(&config).starts_with("topic_prefix = \"parley/\": Kafka topic names"));

        let mut config = IngressStageConfig::new("b:9092");
        config.max_in_flight = 0;
        assert_eq!(
            message(&config),
            "max_in_flight = 0: must be between 1 and 10000000"
        );

        let mut config = IngressStageConfig::new("b:9092");
        config.registry_url = Some("https://registry".into());
        assert!(message(&config).starts_with("registry_url = \"https://registry\""));

        let mut config = IngressStageConfig::new(" ");
        config.channels.clear();
        assert!(message(&config).starts_with("brokers = \" \""));
    }

    #[test]
    fn the_stages_own_librdkafka_settings_cannot_be_overridden() {
        let mut config = IngressStageConfig::new("b:9092");
        config.librdkafka.insert("linger.ms".into(), "20".into());
        config.validate().unwrap();
        config
            .librdkafka
            .insert("enable.auto.commit".into(), "true".into());
        assert!(message(&config)
            .starts_with("librdkafka = \"enable.auto.commit\": is set by the stage"));
    }
}
