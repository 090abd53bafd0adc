//! `parley config set-style`: one validated StyleConfig record on the style-config topic,
//! and the writer every `parley config` command shares.

use crate::options::Connection;
use crate::roles::{check_brokers, client_config, codec};
use crate::usage::UsageError;
use anyhow::anyhow;
use parley_core::style::{validate_gap, validate_inactivity, validate_reminders};
use parley_core::{Channel, InactivityReminderStep, Millis, Status, Style, StyleConfig, Timestamp};
use parley_runtime::codec::{AvroCodec, AvroRecord, RegistryClient};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The record's key: `account`, `account/brand`, `account/brand/channel`, or
/// `account//channel` for a channel without a brand (so it never shares a key with a brand
/// of the same name in the compacted topic).
pub(crate) fn key(config: &StyleConfig) -> String {
    match (&config.brand, config.channel) {
        (None, None) => config.account.clone(),
        (Some(brand), None) => format!("{}/{brand}", config.account),
        (Some(brand), Some(channel)) => {
            format!("{}/{brand}/{}", config.account, channel.as_str())
        }
        (None, Some(channel)) => format!("{}//{}", config.account, channel.as_str()),
    }
}

/// Checks the style rules: the error is the core's message (field, value, rule).
pub(crate) fn validate(config: &StyleConfig) -> Result<(), UsageError> {
    if config.account.trim().is_empty() {
        return Err(UsageError("--account \"\": must not be empty".to_owned()));
    }
    for (flag, value) in [
        ("--account", Some(&config.account)),
        ("--brand", config.brand.as_ref()),
    ] {
        if let Some(value) = value.filter(|v| v.contains('/')) {
            return Err(UsageError(format!(
                "{flag} {value:?}: must not contain '/', which separates account, brand and \
                 channel in the record's key"
            )));
        }
    }
    validate_gap(config.style, config.solved_to_closed_ms)
        .map_err(|e| UsageError(format!("--solved-to-closed: {e}")))?;
    validate_inactivity(config.inactivity_ms)
        .map_err(|e| UsageError(format!("--inactivity: {e}")))?;
    validate_reminders(&config.inactivity_reminders)
        .map_err(|e| UsageError(format!("--inactivity-reminder: {e}")))
}

/// Parses an inactivity reminder step, `DURATION[:pending|solved]` (e.g. `5m`,
/// `30m:solved`).
pub(crate) fn parse_reminder(text: &str) -> Result<InactivityReminderStep, String> {
    let (after, status) = match text.split_once(':') {
        Some((after, status)) => (after, Some(status)),
        None => (text, None),
    };
    let set_status = match status {
        None => None,
        Some("pending") => Some(Status::Pending),
        Some("solved") => Some(Status::Solved),
        Some(other) => {
            return Err(format!(
                "status {other:?}: expected DURATION, DURATION:pending or DURATION:solved"
            ))
        }
    };
    Ok(InactivityReminderStep {
        after_ms: crate::options::parse_duration(after)?,
        set_status,
    })
}

/// Builds the record from the command's values.
#[allow(clippy::too_many_arguments)]
pub(crate) fn record(
    account: String,
    brand: Option<String>,
    channel: Option<Channel>,
    style: Style,
    solved_to_closed: Option<Millis>,
    priority: i32,
    skills: Vec<String>,
    group: Option<String>,
    inactivity: Option<Millis>,
    reminders: Vec<InactivityReminderStep>,
) -> StyleConfig {
    StyleConfig {
        account,
        brand,
        channel,
        style,
        solved_to_closed_ms: solved_to_closed,
        priority,
        required_skills: skills,
        group,
        inactivity_ms: inactivity,
        inactivity_reminders: reminders,
        updated_at: now_ms(),
    }
}

/// Writes `config` to `<prefix>style-config` and waits for the broker's acknowledgement.
pub(crate) async fn write(connection: &Connection, config: &StyleConfig) -> anyhow::Result<()> {
    let topic = parley_tickets::topics(&connection.topic_prefix).style_config;
    write_record(connection, &topic, &key(config), config).await
}

/// Writes one record of a config topic (`style-config`, `schedules`, `sla-policies`) under
/// `key`, encoded for `topic` (with the schema registry when one is configured), waits for
/// the broker's acknowledgement and prints where it landed.
pub(crate) async fn write_record<T: AvroRecord>(
    connection: &Connection,
    topic: &str,
    key: &str,
    record: &T,
) -> anyhow::Result<()> {
    check_brokers(connection).await?;
    let registry = connection.registry_url.as_deref().map(RegistryClient::new);
    let codec: AvroCodec<T> = codec(registry.as_ref(), topic).await?;
    let value = codec.encode(record)?;
    let producer: FutureProducer = client_config(connection).create()?;
    let delivery = producer
        .send(
            FutureRecord::to(topic).key(key).payload(&value),
            Duration::from_secs(15),
        )
        .await
        .map_err(|(e, _)| anyhow!("writing {key} to {topic}: {e}"))?;
    println!(
        "{topic}: {key} written (partition {}, offset {})",
        delivery.partition, delivery.offset
    );
    Ok(())
}

/// Milliseconds since the epoch, for a record's `updated_at`.
pub(crate) fn now_ms() -> Timestamp {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    Timestamp(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(brand: Option<&str>, channel: Option<Channel>) -> StyleConfig {
        record(
            "acme".into(),
            brand.map(str::to_owned),
            channel,
            Style::SocialMessaging,
            None,
            0,
            Vec::new(),
            None,
            None,
            Vec::new(),
        )
    }

    #[test]
    fn a_slash_in_the_account_or_brand_is_refused() {
        let mut config = sample(None, None);
        config.account = "a/b".into();
        let error = validate(&config).unwrap_err().0;
        assert!(
            error.starts_with("--account \"a/b\": must not contain '/'"),
            "{error}"
        );
        let mut config = sample(Some("eu/west"), None);
        config.account = "acme".into();
        assert!(validate(&config)
            .unwrap_err()
            .0
            .starts_with("--brand \"eu/west\""));
    }

    #[test]
    fn keys_name_account_brand_and_channel() {
        assert_eq!(key(&sample(None, None)), "acme");
        assert_eq!(key(&sample(Some("eu"), None)), "acme/eu");
        assert_eq!(
            key(&sample(Some("eu"), Some(Channel::Whatsapp))),
            "acme/eu/whatsapp"
        );
        assert_eq!(
            key(&sample(None, Some(Channel::Whatsapp))),
            "acme//whatsapp"
        );
    }
}
