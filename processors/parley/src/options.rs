//! The options every command shares, read from flags, environment variables and a TOML file.
//!
//! Precedence: flag > environment variable (clap reads both) > config file > default.

use crate::usage::UsageError;
use clap::{Args, ValueEnum};
use parley_core::routing::{QueueOrder, RoutingConfig, RoutingMode};
use parley_core::{Channel, Millis};
use parley_runtime::Guarantee;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

/// The default topic prefix.
pub(crate) const DEFAULT_TOPIC_PREFIX: &str = "parley.";
/// The default state directory.
pub(crate) const DEFAULT_STATE_DIR: &str = "./parley-state";
/// The default metrics address.
pub(crate) const DEFAULT_METRICS_ADDR: &str = "0.0.0.0:9464";

/// `--guarantee` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum GuaranteeArg {
    /// Kafka transactions (needs a broker with transactions).
    #[value(name = "exactly_once")]
    ExactlyOnce,
    /// Idempotent producer, duplicates possible after a crash.
    #[value(name = "at_least_once")]
    AtLeastOnce,
}

impl From<GuaranteeArg> for Guarantee {
    fn from(value: GuaranteeArg) -> Guarantee {
        match value {
            GuaranteeArg::ExactlyOnce => Guarantee::ExactlyOnce,
            GuaranteeArg::AtLeastOnce => Guarantee::AtLeastOnce,
        }
    }
}

/// `--routing-mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RoutingModeArg {
    /// The agent with the most free capacity; ties to the longest wait since an assignment.
    #[value(name = "best_available")]
    BestAvailable,
    /// The agent who has waited longest since an assignment (with free capacity).
    #[value(name = "round_robin")]
    RoundRobin,
}

impl From<RoutingModeArg> for RoutingMode {
    fn from(value: RoutingModeArg) -> RoutingMode {
        match value {
            RoutingModeArg::BestAvailable => RoutingMode::BestAvailable,
            RoutingModeArg::RoundRobin => RoutingMode::RoundRobin,
        }
    }
}

/// `--queue-order`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum QueueOrderArg {
    /// Higher ticket priority first, then older.
    #[value(name = "priority")]
    Priority,
    /// Route by SLA: the soonest SLA breach first; tickets without an SLA target after,
    /// by priority then age.
    #[value(name = "sla")]
    Sla,
}

impl From<QueueOrderArg> for QueueOrder {
    fn from(value: QueueOrderArg) -> QueueOrder {
        match value {
            QueueOrderArg::Priority => QueueOrder::Priority,
            QueueOrderArg::Sla => QueueOrder::Sla,
        }
    }
}

/// The connection options of the commands that talk to Kafka.
#[derive(Args, Clone, Debug, Default)]
pub(crate) struct KafkaOptions {
    /// Kafka bootstrap servers, `host:port[,host:port]` (required).
    #[arg(long, env = "PARLEY_BROKERS", value_name = "HOST:PORT,...")]
    pub(crate) brokers: Option<String>,
    /// Prepended to every topic name [default: parley.].
    #[arg(long, env = "PARLEY_TOPIC_PREFIX", value_name = "PREFIX")]
    pub(crate) topic_prefix: Option<String>,
    /// Confluent schema registry (`http://host:port`); without it, Avro single-object encoding.
    #[arg(long, env = "PARLEY_REGISTRY_URL", value_name = "URL")]
    pub(crate) registry_url: Option<String>,
    /// Extra librdkafka setting, repeated (environment: `;`-separated).
    #[arg(long, env = "PARLEY_LIBRDKAFKA", value_name = "KEY=VALUE", value_parser = parse_key_value, value_delimiter = ';')]
    pub(crate) librdkafka: Vec<(String, String)>,
}

/// The options of the processing roles.
#[derive(Args, Clone, Debug, Default)]
pub(crate) struct RoleOptions {
    /// The connection.
    #[command(flatten)]
    pub(crate) kafka: KafkaOptions,
    /// Consumer group [default: parley-ingress, parley-tickets or parley-router by role];
    /// with `run`, a set group G becomes G-ingress, G-tickets, G-router.
    #[arg(long, env = "PARLEY_GROUP_ID", value_name = "GROUP")]
    pub(crate) group_id: Option<String>,
    /// State directory, one subdirectory per role [default: ./parley-state].
    #[arg(long, env = "PARLEY_STATE_DIR", value_name = "DIR")]
    pub(crate) state_dir: Option<PathBuf>,
    /// Delivery guarantee [default: exactly_once].
    #[arg(long, env = "PARLEY_GUARANTEE", value_enum)]
    pub(crate) guarantee: Option<GuaranteeArg>,
    /// Address of /metrics, /healthz, /readyz [default: 0.0.0.0:9464]; `run` serves ingress,
    /// tickets and router on this port and the next two.
    #[arg(long, env = "PARLEY_METRICS_ADDR", value_name = "ADDR")]
    pub(crate) metrics_addr: Option<SocketAddr>,
    /// This instance's name within the group [default: the host name].
    #[arg(long, env = "PARLEY_INSTANCE_ID", value_name = "ID")]
    pub(crate) instance_id: Option<String>,
    /// The host name or address at which other machines reach --metrics-addr; tickets and
    /// router advertise it, with the role's port, in their consumer's client.id, where
    /// `parley inspect --brokers` finds the owner of a key [default: --metrics-addr's IP, or
    /// the host name when that is 0.0.0.0 or ::].
    #[arg(long, env = "PARLEY_ADVERTISED_HOST", value_name = "HOST")]
    pub(crate) advertised_host: Option<String>,
    /// The router's options.
    #[command(flatten)]
    pub(crate) routing: RoutingOptions,
}

/// The router's options (also taken by `simulate`).
#[derive(Args, Clone, Debug, Default)]
pub(crate) struct RoutingOptions {
    /// Router: channels whose offers are accepted at once [default: none].
    #[arg(long, env = "PARLEY_AUTO_ACCEPT", value_name = "CHANNEL,...", value_parser = parse_channel, value_delimiter = ',')]
    pub(crate) auto_accept: Vec<Channel>,
    /// Router: how long an offer waits for an answer [default: 30s].
    #[arg(long, env = "PARLEY_OFFER_TIMEOUT", value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) offer_timeout: Option<Millis>,
    /// Router: how long a reopened ticket waits for its offline assignee [default: 10m].
    #[arg(long, env = "PARLEY_RETURNING_GRACE", value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) returning_grace: Option<Millis>,
    /// Router: after this long in the queue a ticket's required skills are relaxed
    /// [default: never].
    #[arg(long, env = "PARLEY_SKILLS_TIMEOUT", value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) skills_timeout: Option<Millis>,
    /// Router: how an agent is chosen among the eligible ones [default: best_available].
    #[arg(long, env = "PARLEY_ROUTING_MODE", value_enum)]
    pub(crate) routing_mode: Option<RoutingModeArg>,
    /// Router: an agent whose offers on a channel time out this many times in a row is
    /// set away there [default: never].
    #[arg(long, env = "PARLEY_AWAY_AFTER_OFFER_TIMEOUTS", value_name = "N")]
    pub(crate) away_after_offer_timeouts: Option<NonZeroU32>,
    /// Router: the queue's order, by ticket priority then age, or by time to the next SLA
    /// breach [default: priority].
    #[arg(long, env = "PARLEY_QUEUE_ORDER", value_enum)]
    pub(crate) queue_order: Option<QueueOrderArg>,
}

/// The config file: every key optional, unknown keys refused.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    /// `--brokers`.
    pub(crate) brokers: Option<String>,
    /// `--topic-prefix`.
    pub(crate) topic_prefix: Option<String>,
    /// `--registry-url`.
    pub(crate) registry_url: Option<String>,
    /// `--librdkafka`, as a table.
    #[serde(default)]
    pub(crate) librdkafka: BTreeMap<String, String>,
    /// `--group-id`.
    pub(crate) group_id: Option<String>,
    /// `--state-dir`.
    pub(crate) state_dir: Option<PathBuf>,
    /// `--guarantee`.
    pub(crate) guarantee: Option<Guarantee>,
    /// `--metrics-addr`.
    pub(crate) metrics_addr: Option<SocketAddr>,
    /// `--instance-id`.
    pub(crate) instance_id: Option<String>,
    /// `--advertised-host`.
    pub(crate) advertised_host: Option<String>,
    /// `--auto-accept`, as a list.
    pub(crate) auto_accept: Option<Vec<Channel>>,
    /// `--offer-timeout`, e.g. `"30s"`.
    pub(crate) offer_timeout: Option<String>,
    /// `--returning-grace`, e.g. `"10m"`.
    pub(crate) returning_grace: Option<String>,
    /// `--skills-timeout`, e.g. `"5m"`.
    pub(crate) skills_timeout: Option<String>,
    /// `--routing-mode`.
    pub(crate) routing_mode: Option<RoutingModeArg>,
    /// `--away-after-offer-timeouts`.
    pub(crate) away_after_offer_timeouts: Option<NonZeroU32>,
    /// `--queue-order`.
    pub(crate) queue_order: Option<QueueOrderArg>,
    /// `parley inspect ticket --addr`.
    pub(crate) tickets_addr: Option<String>,
    /// `parley inspect agent --addr`.
    pub(crate) router_addr: Option<String>,
    /// The `[ingress]` table, file only: the body size limit, the clock-skew rule and the
    /// integration map (channel integration id to `account[/brand]`).
    pub(crate) ingress: Option<parley_ingress::IngressConfig>,
}

impl ConfigFile {
    /// Parses a config file's text; the error names the file, the line, the key and the
    /// rule (`config file parley.toml, line 3, offer_timeout: invalid type: integer `30`,
    /// expected a string`).
    pub(crate) fn parse(text: &str, path: &Path) -> Result<ConfigFile, UsageError> {
        let deserializer = toml::Deserializer::new(text);
        let file: ConfigFile = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let key = e.path().to_string();
            let line = e
                .inner()
                .span()
                .map(|span| line_of_offset(text, span.start))
                .or_else(|| line_of_key(text, &key));
            let mut at = format!("config file {}", path.display());
            if let Some(line) = line {
                let source = text.lines().nth(line - 1).unwrap_or_default().trim();
                at.push_str(&format!(", line {line} (`{source}`)"));
            }
            if key != "." {
                at.push_str(&format!(", {key}"));
            }
            UsageError(format!("{at}: {}", e.inner().message().trim()))
        })?;
        for (key, value) in [
            ("offer_timeout", &file.offer_timeout),
            ("returning_grace", &file.returning_grace),
            ("skills_timeout", &file.skills_timeout),
        ] {
            if let Some(value) = value {
                parse_duration(value).map_err(|rule| {
                    let line = line_of_key(text, key)
                        .map(|line| format!(", line {line}"))
                        .unwrap_or_default();
                    UsageError(format!(
                        "config file {}{line}: {key} = {value:?}: {rule}",
                        path.display()
                    ))
                })?;
            }
        }
        Ok(file)
    }

    /// Reads `path`, or the empty file when there is none.
    pub(crate) fn load(path: Option<&Path>) -> Result<ConfigFile, UsageError> {
        let Some(path) = path else {
            return Ok(ConfigFile::default());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| UsageError(format!("--config {}: cannot be read: {e}", path.display())))?;
        ConfigFile::parse(&text, path)
    }
}

/// Whether librdkafka knows every setting and takes them together: a client is made with
/// all of them (no broker is contacted), since librdkafka checks some against others
/// (`max.poll.interval.ms` must be at least `session.timeout.ms`). A refusal is the key
/// librdkafka names, when a single setting is wrong, and librdkafka's own message as the rule.
fn check_librdkafka(settings: &BTreeMap<String, String>) -> Result<(), (Option<String>, String)> {
    let mut config = rdkafka::ClientConfig::new();
    for (key, value) in settings {
        config.set(key, value);
    }
    config.set_log_level(rdkafka::config::RDKafkaLogLevel::Emerg);
    match config.create::<rdkafka::consumer::BaseConsumer>() {
        Ok(_) => Ok(()),
        Err(rdkafka::error::KafkaError::ClientConfig(_, message, key, _)) => {
            Err((Some(key), message))
        }
        Err(rdkafka::error::KafkaError::ClientCreation(message)) => Err((None, message)),
        Err(other) => Err((None, other.to_string())),
    }
}

/// The 1-based line of byte `offset` in `text`.
fn line_of_offset(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The 1-based line where `key` (a top-level key, or the last part of a dotted path) is set.
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    let name = key.rsplit('.').next()?;
    text.lines()
        .position(|line| {
            let line = line.trim_start();
            line.strip_prefix(name)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|index| index + 1)
}

/// The connection settings after merging flags, environment, file and defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Connection {
    /// Bootstrap servers.
    pub(crate) brokers: String,
    /// Topic prefix.
    pub(crate) topic_prefix: String,
    /// Registry URL.
    pub(crate) registry_url: Option<String>,
    /// librdkafka settings.
    pub(crate) librdkafka: BTreeMap<String, String>,
}

/// Every role setting after merging.
#[derive(Clone, Debug)]
pub(crate) struct RoleSettings {
    /// The connection.
    pub(crate) connection: Connection,
    /// Group id, if set (otherwise the role's default).
    pub(crate) group_id: Option<String>,
    /// Base state directory.
    pub(crate) state_dir: PathBuf,
    /// Guarantee.
    pub(crate) guarantee: Guarantee,
    /// Metrics address (first role's).
    pub(crate) metrics_addr: SocketAddr,
    /// Instance id.
    pub(crate) instance_id: String,
    /// The host advertised with each role's metrics port.
    pub(crate) advertised_host: String,
    /// The router's settings.
    pub(crate) routing: RoutingConfig,
    /// The normaliser's settings, from the config file's `[ingress]` table.
    pub(crate) ingress: parley_ingress::IngressConfig,
}

impl RoutingOptions {
    /// Merges the flags with `file` and the defaults.
    pub(crate) fn resolve(&self, file: &ConfigFile) -> Result<RoutingConfig, UsageError> {
        let file_duration = |value: &Option<String>| value.as_deref().map(parse_duration);
        let mut routing = RoutingConfig::default();
        if !self.auto_accept.is_empty() {
            routing.auto_accept = self.auto_accept.clone();
        } else if let Some(channels) = &file.auto_accept {
            routing.auto_accept = channels.clone();
        }
        if let Some(timeout) = self
            .offer_timeout
            .map(Ok)
            .or_else(|| file_duration(&file.offer_timeout))
        {
            routing.offer_timeout_ms = timeout.map_err(UsageError)?;
        }
        if let Some(grace) = self
            .returning_grace
            .map(Ok)
            .or_else(|| file_duration(&file.returning_grace))
        {
            routing.returning_grace_ms = grace.map_err(UsageError)?;
        }
        if let Some(timeout) = self
            .skills_timeout
            .map(Ok)
            .or_else(|| file_duration(&file.skills_timeout))
        {
            routing.skills_timeout_ms = Some(timeout.map_err(UsageError)?);
        }
        if let Some(mode) = self.routing_mode.or(file.routing_mode) {
            routing.mode = mode.into();
        }
        if let Some(n) = self
            .away_after_offer_timeouts
            .or(file.away_after_offer_timeouts)
        {
            routing.away_after_offer_timeouts = Some(n);
        }
        if let Some(order) = self.queue_order.or(file.queue_order) {
            routing.queue_order = order.into();
        }
        if routing.offer_timeout_ms <= Millis::ZERO {
            return Err(UsageError(format!(
                "--offer-timeout {}: must be longer than zero",
                routing.offer_timeout_ms
            )));
        }
        Ok(routing)
    }
}

impl KafkaOptions {
    /// Merges the flags with `file` and the defaults.
    pub(crate) fn resolve(&self, file: &ConfigFile) -> Result<Connection, UsageError> {
        let brokers = self
            .brokers
            .clone()
            .or_else(|| file.brokers.clone())
            .ok_or_else(|| {
                UsageError(
                    "--brokers is required: set the flag, PARLEY_BROKERS or `brokers` in the config file"
                        .to_owned(),
                )
            })?;
        if brokers.trim().is_empty() {
            return Err(UsageError(format!(
                "--brokers {brokers:?}: must name at least one host:port"
            )));
        }
        let registry_url = self.registry_url.clone().or(file.registry_url.clone());
        if let Some(url) = &registry_url {
            if !url.starts_with("http://") {
                return Err(UsageError(format!(
                    "--registry-url {url:?}: must start with http://"
                )));
            }
        }
        let mut librdkafka = file.librdkafka.clone();
        librdkafka.extend(self.librdkafka.iter().cloned());
        check_librdkafka(&librdkafka).map_err(|(key, rule)| {
            let flag = |key: &str| self.librdkafka.iter().rev().find(|(k, _)| k == key);
            UsageError(match key {
                Some(key) => match flag(&key) {
                    Some((_, value)) => format!("--librdkafka {key}={value}: {rule}"),
                    None => format!(
                        "config file [librdkafka] {key:?} = {:?}: {rule}",
                        librdkafka.get(&key).map_or("", String::as_str)
                    ),
                },
                None => format!(
                    "librdkafka settings {}: {rule}",
                    librdkafka
                        .iter()
                        .map(|(key, value)| format!("{key}={value}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
        })?;
        Ok(Connection {
            brokers,
            topic_prefix: self
                .topic_prefix
                .clone()
                .or(file.topic_prefix.clone())
                .unwrap_or_else(|| DEFAULT_TOPIC_PREFIX.to_owned()),
            registry_url,
            librdkafka,
        })
    }
}

impl RoleOptions {
    /// Merges the flags with `file` and the defaults.
    pub(crate) fn resolve(
        &self,
        connection: Connection,
        file: &ConfigFile,
    ) -> Result<RoleSettings, UsageError> {
        let routing = self.routing.resolve(file)?;
        let metrics_addr = self
            .metrics_addr
            .or(file.metrics_addr)
            .unwrap_or_else(|| DEFAULT_METRICS_ADDR.parse().expect("a valid address"));
        let advertised_host = match self
            .advertised_host
            .clone()
            .or(file.advertised_host.clone())
        {
            Some(host) => parse_advertised_host(&host)
                .map_err(|rule| UsageError(format!("--advertised-host {host:?}: {rule}")))?,
            None if metrics_addr.ip().is_unspecified() => hostname(),
            None => metrics_addr.ip().to_string(),
        };
        Ok(RoleSettings {
            connection,
            group_id: self.group_id.clone().or(file.group_id.clone()),
            state_dir: self
                .state_dir
                .clone()
                .or(file.state_dir.clone())
                .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR)),
            guarantee: self
                .guarantee
                .map(Guarantee::from)
                .or(file.guarantee)
                .unwrap_or(Guarantee::ExactlyOnce),
            metrics_addr,
            instance_id: self
                .instance_id
                .clone()
                .or(file.instance_id.clone())
                .unwrap_or_else(hostname),
            advertised_host,
            routing,
            ingress: file.ingress.clone().unwrap_or_default(),
        })
    }
}

impl RoleSettings {
    /// The `/state` address a role serving on `port` advertises: the advertised host and the
    /// port (an IPv6 address in brackets).
    pub(crate) fn advertised_address(&self, port: u16) -> String {
        match self.advertised_host.parse::<std::net::IpAddr>() {
            Ok(ip) => SocketAddr::new(ip, port).to_string(),
            Err(_) => format!("{}:{port}", self.advertised_host),
        }
    }
}

/// Checks `--advertised-host`: a host name or an IP address, without a port.
fn parse_advertised_host(text: &str) -> Result<String, String> {
    let host = text.trim_start_matches('[').trim_end_matches(']');
    let rule = "expected a host name or an IP address, without a port (e.g. tickets-0.parley-tickets or 10.0.0.7)";
    if host.parse::<std::net::IpAddr>().is_ok() {
        return Ok(host.to_owned());
    }
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
    {
        return Err(rule.to_owned());
    }
    Ok(host.to_owned())
}

/// The host name: `$HOSTNAME`, the kernel's host name, or `instance-0`.
fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "instance-0".to_owned())
}

/// Parses `30s`, `10m`, `4d`, `1500ms`, `2h`.
pub(crate) fn parse_duration(text: &str) -> Result<Millis, String> {
    const RULE: &str = "expected a whole number followed by ms, s, m, h or d (e.g. 30s, 10m, 4d)";
    let digits = text.trim().find(|c: char| !c.is_ascii_digit()).unwrap_or(0);
    let (number, unit) = text.trim().split_at(digits);
    let number: i64 = number.parse().map_err(|_| RULE.to_owned())?;
    let size = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(RULE.to_owned()),
    };
    number
        .checked_mul(size)
        .map(Millis)
        .ok_or_else(|| "is too long".to_owned())
}

/// Parses a channel name.
pub(crate) fn parse_channel(text: &str) -> Result<Channel, String> {
    Channel::parse(text).ok_or_else(|| {
        let names: Vec<&str> = Channel::ALL.iter().map(|c| c.as_str()).collect();
        format!("expected one of {}", names.join(", "))
    })
}

/// Parses `KEY=VALUE`.
fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.to_owned()))
        }
        _ => Err("expected KEY=VALUE (e.g. security.protocol=ssl)".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_every_unit() {
        assert_eq!(parse_duration("30s"), Ok(Millis::seconds(30)));
        assert_eq!(parse_duration("10m"), Ok(Millis::minutes(10)));
        assert_eq!(parse_duration("4d"), Ok(Millis::days(4)));
        assert_eq!(parse_duration("1500ms"), Ok(Millis(1500)));
        assert!(parse_duration("5x")
            .unwrap_err()
            .contains("ms, s, m, h or d"));
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn flags_override_the_file_and_the_file_overrides_defaults() {
        let file = ConfigFile::parse(
            "brokers = \"file:9092\"\ntopic_prefix = \"x.\"\noffer_timeout = \"45s\"\n[librdkafka]\n\"linger.ms\" = \"1\"\n\"acks\" = \"all\"\n",
            Path::new("f.toml"),
        )
        .unwrap();
        let kafka = KafkaOptions {
            brokers: Some("flag:9092".into()),
            librdkafka: vec![("linger.ms".into(), "9".into())],
            ..KafkaOptions::default()
        };
        let connection = kafka.resolve(&file).unwrap();
        assert_eq!(connection.brokers, "flag:9092");
        assert_eq!(connection.topic_prefix, "x.");
        assert_eq!(connection.librdkafka["linger.ms"], "9");
        assert_eq!(connection.librdkafka["acks"], "all");
        let role = RoleOptions::default().resolve(connection, &file).unwrap();
        assert_eq!(role.routing.offer_timeout_ms, Millis::seconds(45));
        assert_eq!(role.routing.returning_grace_ms, Millis::minutes(10));
        assert_eq!(role.guarantee, Guarantee::ExactlyOnce);
        assert_eq!(role.state_dir, PathBuf::from(DEFAULT_STATE_DIR));
    }

    #[test]
    fn unknown_keys_and_bad_durations_in_the_file_are_named() {
        let err = ConfigFile::parse("brokerz = \"a\"", Path::new("f.toml")).unwrap_err();
        assert!(err.0.contains("brokerz"), "{}", err.0);
        let err = ConfigFile::parse(
            "brokers = \"a\"\noffer_timeout = \"5x\"",
            Path::new("f.toml"),
        )
        .unwrap_err();
        assert!(
            err.0.starts_with("config file f.toml, line 2: ")
                && err.0.contains("offer_timeout = \"5x\"")
                && err.0.contains("ms, s, m, h or d"),
            "{}",
            err.0
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_names_the_file_line_key_and_rule() {
        let text = "brokers = \"a:9092\"\n\n[ingress]\nmax_body_bytes = \"big\"\n";
        let err = ConfigFile::parse(text, Path::new("parley.toml")).unwrap_err();
        assert!(
            err.0
                .starts_with("config file parley.toml, line 4 (`max_body_bytes = \"big\"`), ingress.max_body_bytes: ")
                && err.0.contains("expected"),
            "{}",
            err.0
        );
        let err = ConfigFile::parse("guarantee = 30\n", Path::new("parley.toml")).unwrap_err();
        assert!(
            err.0
                .starts_with("config file parley.toml, line 1 (`guarantee = 30`), guarantee: "),
            "{}",
            err.0
        );
    }

    #[test]
    fn an_unknown_or_invalid_librdkafka_setting_is_a_usage_error_naming_it() {
        let kafka = |key: &str, value: &str| KafkaOptions {
            brokers: Some("localhost:9092".into()),
            librdkafka: vec![(key.into(), value.into())],
            ..KafkaOptions::default()
        };
        let file = ConfigFile::default();
        let err = kafka("nosuch.setting", "1").resolve(&file).unwrap_err();
        assert!(
            err.0.starts_with("--librdkafka nosuch.setting=1: ")
                && err.0.contains("No such configuration property"),
            "{}",
            err.0
        );
        let err = kafka("session.timeout.ms", "soon")
            .resolve(&file)
            .unwrap_err();
        assert!(err.0.contains("session.timeout.ms=soon"), "{}", err.0);
        assert!(kafka("linger.ms", "5").resolve(&file).is_ok());
        // Settings librdkafka checks against each other are taken together.
        let related = |poll: &str| KafkaOptions {
            brokers: Some("localhost:9092".into()),
            librdkafka: vec![
                ("session.timeout.ms".into(), "6000".into()),
                ("max.poll.interval.ms".into(), poll.into()),
            ],
            ..KafkaOptions::default()
        };
        assert!(related("10000").resolve(&file).is_ok());
        let err = related("5000").resolve(&file).unwrap_err();
        assert!(
            err.0.starts_with(
                "librdkafka settings max.poll.interval.ms=5000, session.timeout.ms=6000: "
            ),
            "{}",
            err.0
        );
        let file = ConfigFile::parse(
            "brokers = \"localhost:9092\"\n[librdkafka]\n\"nosuch\" = \"1\"\n",
            Path::new("f.toml"),
        )
        .unwrap();
        let err = KafkaOptions::default().resolve(&file).unwrap_err();
        assert!(
            err.0
                .starts_with("config file [librdkafka] \"nosuch\" = \"1\": "),
            "{}",
            err.0
        );
    }

    #[test]
    fn bad_toml_names_the_file_and_line() {
        let text = "brokers = \"a:9092\"\ntopic_prefix = \"unterminated\n";
        let err = ConfigFile::parse(text, Path::new("parley.toml")).unwrap_err();
        assert!(
            err.0.starts_with("config file parley.toml, line 2"),
            "{}",
            err.0
        );
    }

    #[test]
    fn readme_example_parses() {
        let readme = include_str!("../README.md");
        let start = readme.find("```toml\n").unwrap() + 8;
        let end = start + readme[start..].find("```").unwrap();
        let file = ConfigFile::parse(&readme[start..end], Path::new("README.md")).unwrap();
        let connection = KafkaOptions::default().resolve(&file).unwrap();
        assert_eq!(connection.brokers, "kafka-0:9092,kafka-1:9092");
        assert_eq!(connection.librdkafka["linger.ms"], "10");
        let role = RoleOptions::default().resolve(connection, &file).unwrap();
        assert_eq!(role.guarantee, Guarantee::AtLeastOnce);
        assert_eq!(role.routing.auto_accept, [Channel::Web, Channel::Whatsapp]);
        assert_eq!(role.routing.offer_timeout_ms, Millis::seconds(45));
        assert_eq!(role.routing.returning_grace_ms, Millis::minutes(15));
        assert_eq!(role.routing.skills_timeout_ms, Some(Millis::minutes(5)));
        assert_eq!(role.routing.mode, RoutingMode::RoundRobin);
        assert_eq!(
            role.routing.away_after_offer_timeouts,
            std::num::NonZeroU32::new(3)
        );
        assert_eq!(role.routing.queue_order, QueueOrder::Sla);
        assert_eq!(role.instance_id, "tickets-0");
        assert_eq!(role.state_dir, PathBuf::from("/var/lib/parley"));
        let whatsapp = &role.ingress.integrations["106540352242922"];
        assert_eq!(
            (whatsapp.account.as_str(), whatsapp.brand.as_deref()),
            ("acme", Some("br"))
        );
        assert_eq!(role.ingress.integrations["110385718390017"].brand, None);
    }

    #[test]
    fn the_advertised_address_defaults_to_the_metrics_ip_and_takes_the_roles_port() {
        let connection = || KafkaOptions {
            brokers: Some("localhost:9092".into()),
            ..KafkaOptions::default()
        };
        let file = ConfigFile::default();
        let resolve =
            |options: RoleOptions| options.resolve(connection().resolve(&file).unwrap(), &file);
        let role = resolve(RoleOptions {
            metrics_addr: Some("10.0.0.7:9464".parse().unwrap()),
            ..RoleOptions::default()
        })
        .unwrap();
        assert_eq!(role.advertised_address(9465), "10.0.0.7:9465");
        let role = resolve(RoleOptions {
            advertised_host: Some("::1".into()),
            ..RoleOptions::default()
        })
        .unwrap();
        assert_eq!(role.advertised_address(9464), "[::1]:9464");
        let role = resolve(RoleOptions {
            advertised_host: Some("tickets-0.parley-tickets".into()),
            ..RoleOptions::default()
        })
        .unwrap();
        assert_eq!(
            role.advertised_address(9464),
            "tickets-0.parley-tickets:9464"
        );
        let error = resolve(RoleOptions {
            advertised_host: Some("tickets-0:9464".into()),
            ..RoleOptions::default()
        })
        .unwrap_err();
        assert!(
            error.0.contains("--advertised-host \"tickets-0:9464\"")
                && error.0.contains("without a port"),
            "{}",
            error.0
        );
        // Unspecified: the host name.
        let role = resolve(RoleOptions::default()).unwrap();
        assert_eq!(role.advertised_host, hostname());
    }

    #[test]
    fn missing_brokers_names_the_flag_variable_and_key() {
        let err = KafkaOptions::default()
            .resolve(&ConfigFile::default())
            .unwrap_err();
        assert!(err.0.contains("--brokers") && err.0.contains("PARLEY_BROKERS"));
    }
}
