//! `parley config set-routing`: one validated AccountRoutingConfig record on the
//! routing-config topic, key the account; and `parley config set-queue`: one validated
//! QueueDefinition on the routing-queues topic, key `account/queue_id`.

use crate::options::{Connection, QueueOrderArg, RoutingModeArg};
use crate::style::write_record;
use crate::usage::UsageError;
use parley_core::routing::{QueueDefinition, RoutingConfig};
use parley_core::{AccountRoutingConfig, Channel, Millis, Timestamp};
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the epoch, for a record's `updated_at`.
fn now_ms() -> Timestamp {
    Timestamp(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default(),
    )
}

/// The settings `parley config set-routing` was given; each one left out keeps the
/// router's own (its flags).
#[derive(Clone, Debug, Default)]
pub(crate) struct RoutingArgs {
    /// `--auto-accept` (or an empty list for `--no-auto-accept`).
    pub(crate) auto_accept: Option<Vec<Channel>>,
    /// `--offer-timeout`.
    pub(crate) offer_timeout: Option<Millis>,
    /// `--skills-timeout` (0s: never).
    pub(crate) skills_timeout: Option<Millis>,
    /// `--returning-grace`.
    pub(crate) returning_grace: Option<Millis>,
    /// `--routing-mode`.
    pub(crate) mode: Option<RoutingModeArg>,
    /// `--away-after-offer-timeouts` (0: never).
    pub(crate) away_after_offer_timeouts: Option<u32>,
    /// `--queue-order`.
    pub(crate) queue_order: Option<QueueOrderArg>,
}

/// Builds the record from the command's values.
pub(crate) fn record(account: String, args: RoutingArgs) -> AccountRoutingConfig {
    AccountRoutingConfig {
        account,
        auto_accept: args.auto_accept,
        offer_timeout_ms: args.offer_timeout,
        skills_timeout_ms: args.skills_timeout,
        returning_grace_ms: args.returning_grace,
        mode: args.mode.map(Into::into),
        away_after_offer_timeouts: args.away_after_offer_timeouts,
        queue_order: args.queue_order.map(Into::into),
        updated_at: now_ms(),
    }
}

/// Checks the routing rules the router applies to the record; the error names the flag,
/// the field, the value and the rule.
pub(crate) fn validate(record: &AccountRoutingConfig) -> Result<(), UsageError> {
    RoutingConfig::default()
        .overlay(record)
        .map(|_| ())
        .map_err(|error| {
            let flag = match error.field() {
                "account" => "--account",
                "auto_accept" => "--auto-accept",
                "offer_timeout_ms" => "--offer-timeout",
                "skills_timeout_ms" => "--skills-timeout",
                "returning_grace_ms" => "--returning-grace",
                other => other,
            };
            UsageError(format!("{flag}: {error}"))
        })
}

/// Writes `record` to `<prefix>routing-config` under its account and waits for the
/// broker's acknowledgement.
pub(crate) async fn write(
    connection: &Connection,
    record: &AccountRoutingConfig,
) -> anyhow::Result<()> {
    let topic = parley_routing::topics(&connection.topic_prefix).routing_config;
    write_record(connection, &topic, &record.account, record).await
}

/// Checks a queue's rules, as the router applies them; the error names the flag, the
/// field, the value and the rule.
pub(crate) fn validate_queue(queue: &QueueDefinition) -> Result<(), UsageError> {
    queue.validate().map_err(|error| {
        let flag = match error.field() {
            "account" => "--account",
            "queue_id" => "--queue",
            "priority" => "--priority",
            "primary_group" => "--primary-group",
            "secondary_groups" => "--secondary-group",
            "secondary_after_ms" => "--secondary-after",
            other => other,
        };
        UsageError(format!("{flag}: {error}"))
    })
}

/// Stamps `queue` with the time and writes it to `<prefix>routing-queues` under
/// `account/queue_id`, waiting for the broker's acknowledgement.
pub(crate) async fn write_queue(
    connection: &Connection,
    mut queue: QueueDefinition,
) -> anyhow::Result<()> {
    queue.updated_at = now_ms();
    let topic = parley_routing::topics(&connection.topic_prefix).routing_queues;
    write_record(connection, &topic, &queue.key(), &queue).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_left_empty_keeps_every_router_flag_and_is_valid() {
        let record = record("acme".into(), RoutingArgs::default());
        assert_eq!(record.offer_timeout_ms, None);
        assert_eq!(record.auto_accept, None);
        assert!(validate(&record).is_ok());
    }

    #[test]
    fn a_refused_value_names_the_flag_the_field_the_value_and_the_rule() {
        let refused = |args: RoutingArgs| validate(&record("acme".into(), args)).unwrap_err().0;
        assert_eq!(
            refused(RoutingArgs {
                offer_timeout: Some(Millis::ZERO),
                ..RoutingArgs::default()
            }),
            "--offer-timeout: offer_timeout_ms = 0 ms: must be longer than zero"
        );
        assert_eq!(
            refused(RoutingArgs {
                auto_accept: Some(vec![Channel::Web, Channel::Web]),
                ..RoutingArgs::default()
            }),
            "--auto-accept: auto_accept lists web twice: each channel is given once"
        );
        let error = validate(&record("a/b".into(), RoutingArgs::default()))
            .unwrap_err()
            .0;
        assert!(error.starts_with("--account: account = \"a/b\""), "{error}");
    }

    #[test]
    fn the_mode_the_away_setting_and_the_queue_order_reach_the_record() {
        let record = record(
            "acme".into(),
            RoutingArgs {
                mode: Some(RoutingModeArg::RoundRobin),
                away_after_offer_timeouts: Some(3),
                queue_order: Some(QueueOrderArg::Sla),
                ..RoutingArgs::default()
            },
        );
        assert_eq!(
            record.queue_order,
            Some(parley_core::routing::QueueOrder::Sla)
        );
        assert_eq!(
            record.mode,
            Some(parley_core::routing::RoutingMode::RoundRobin)
        );
        assert_eq!(record.away_after_offer_timeouts, Some(3));
    }

    #[test]
    fn a_refused_queue_names_the_flag() {
        let queue = QueueDefinition {
            account: "acme".into(),
            queue_id: "vip".into(),
            position: 0,
            priority: 101,
            conditions: Default::default(),
            primary_group: "tier1".into(),
            secondary_groups: vec![],
            secondary_after_ms: Millis::ZERO,
            updated_at: Timestamp(0),
        };
        assert_eq!(
            validate_queue(&queue).unwrap_err().0,
            "--priority: priority = 101: must be 1 (highest) to 100"
        );
    }
}
