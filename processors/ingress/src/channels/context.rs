//! What an adapter works with while it reads one record: the record's facts, the rules,
//! and the outcome it fills.

use crate::config::{AccountRef, IngressConfig};
use crate::error::IngressError;
use crate::json::Scalar;
use crate::outcome::{Outcome, SkipKind};
use crate::timestamp::{Unit, EARLIEST_MS};
use parley_core::{Channel, ConversationEvent, Timestamp};

/// What an adapter works with: the record's facts, the rules, and the outcome it fills.
#[derive(Debug)]
pub(crate) struct Context<'c> {
    /// The channel of the raw topic.
    pub(crate) channel: Channel,
    /// The record's timestamp.
    pub(crate) received_at: Timestamp,
    pub(crate) header: Option<AccountRef>,
    pub(crate) config: &'c IngressConfig,
    pub(crate) outcome: Outcome,
}

impl Context<'_> {
    /// The account of a message: the header's if the record has one, else the integration
    /// map's entry for `integration`.
    pub(crate) fn account(&self, integration: Option<&str>) -> Result<AccountRef, IngressError> {
        if let Some(header) = &self.header {
            return Ok(header.clone());
        }
        integration
            .and_then(|id| self.config.integrations.get(id))
            .cloned()
            .ok_or_else(|| IngressError::UnknownAccount {
                channel: self.channel,
                integration: integration.map(crate::json::shorten),
            })
    }

    /// A message's timestamp in `unit`, checked against the range rule.
    pub(crate) fn sent_at(
        &self,
        value: Option<&Scalar<'_>>,
        unit: Unit,
        field: impl Fn() -> String,
    ) -> Result<Timestamp, IngressError> {
        let value = value.ok_or_else(|| self.missing(field()))?;
        let number = value.to_i64().ok_or_else(|| IngressError::InvalidField {
            channel: self.channel,
            field: field(),
            value: Some(value.describe()),
            rule: "must be an integer (or a string of decimal digits) that fits in 64 bits".into(),
        })?;
        let millis = unit
            .to_millis(number)
            .unwrap_or(if number < 0 { i64::MIN } else { i64::MAX });
        self.check_range(millis, field)
    }

    /// Checks a timestamp already in ms against the range rule.
    pub(crate) fn check_range(
        &self,
        millis: i64,
        field: impl Fn() -> String,
    ) -> Result<Timestamp, IngressError> {
        let max = if self.received_at.0 < 0 {
            i64::MAX
        } else {
            self.received_at
                .0
                .saturating_add(self.config.max_future_skew_ms)
        };
        if millis < EARLIEST_MS || millis > max {
            return Err(IngressError::TimestampOutOfRange {
                channel: self.channel,
                field: field(),
                value: millis,
                min: EARLIEST_MS,
                max,
            });
        }
        Ok(Timestamp(millis))
    }

    /// The error for an absent field.
    pub(crate) fn missing(&self, field: String) -> IngressError {
        IngressError::MissingField {
            channel: self.channel,
            field,
        }
    }

    /// An id that must be present and non-empty.
    pub(crate) fn id(
        &self,
        value: Option<&Scalar<'_>>,
        field: impl Fn() -> String,
    ) -> Result<String, IngressError> {
        match value {
            Some(value) if !value.is_empty() => Ok(value.to_id()),
            _ => Err(self.missing(field())),
        }
    }

    /// The error for a body that is not this channel's.
    pub(crate) fn wrong_channel(&self, detail: impl Into<String>) -> IngressError {
        IngressError::WrongChannel {
            channel: self.channel,
            detail: detail.into(),
        }
    }

    /// Records a skipped item.
    pub(crate) fn skip(&mut self, kind: SkipKind) {
        self.outcome.skipped.push(kind);
    }

    /// Records `count` skipped items of one kind.
    pub(crate) fn skip_many(&mut self, kind: SkipKind, count: usize) {
        self.outcome
            .skipped
            .extend(std::iter::repeat_n(kind, count));
    }

    /// Adds an event.
    pub(crate) fn push(&mut self, event: ConversationEvent) {
        self.outcome.events.push(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_wins_over_the_integration_map() {
        let mut config = IngressConfig::default();
        config
            .integrations
            .insert("page-1".into(), "mapped/brand".parse().unwrap());
        let context = Context {
            channel: Channel::Messenger,
            received_at: Timestamp(0),
            header: Some("header".parse().unwrap()),
            config: &config,
            outcome: Outcome::default(),
        };
        assert_eq!(context.account(Some("page-1")).unwrap().account, "header");
        let context = Context {
            header: None,
            ..context
        };
        assert_eq!(
            context.account(Some("page-1")).unwrap().to_string(),
            "mapped/brand"
        );
        assert_eq!(
            context.account(Some("page-2")).unwrap_err().code(),
            "unknown_account"
        );
        assert_eq!(context.account(None).unwrap_err().code(), "unknown_account");
    }

    #[test]
    fn the_range_rule_is_2000_to_received_plus_skew() {
        let config = IngressConfig {
            max_future_skew_ms: 1_000,
            ..IngressConfig::default()
        };
        let context = Context {
            channel: Channel::Line,
            received_at: Timestamp(1_700_000_000_000),
            header: None,
            config: &config,
            outcome: Outcome::default(),
        };
        let field = || "events[0].timestamp".to_string();
        assert_eq!(
            context.check_range(EARLIEST_MS, field).unwrap(),
            Timestamp(EARLIEST_MS)
        );
        assert_eq!(
            context
                .check_range(EARLIEST_MS - 1, field)
                .unwrap_err()
                .code(),
            "timestamp_out_of_range"
        );
        assert!(context.check_range(1_700_000_001_000, field).is_ok());
        assert!(context.check_range(1_700_000_001_001, field).is_err());
        let seconds = Scalar::Unsigned(1_700_000_000);
        assert_eq!(
            context
                .sent_at(Some(&seconds), Unit::Seconds, field)
                .unwrap(),
            Timestamp(1_700_000_000_000)
        );
        // Milliseconds read as seconds land far in the future: refused, not wrapped.
        let millis = Scalar::Unsigned(1_700_000_000_000);
        assert!(context
            .sent_at(Some(&millis), Unit::Seconds, field)
            .is_err());
        let huge = Scalar::Unsigned(u64::MAX);
        assert_eq!(
            context
                .sent_at(Some(&huge), Unit::Seconds, field)
                .unwrap_err()
                .code(),
            "invalid_field"
        );
        let overflow = Scalar::Signed(i64::MIN);
        assert_eq!(
            context
                .sent_at(Some(&overflow), Unit::Seconds, field)
                .unwrap_err()
                .code(),
            "timestamp_out_of_range"
        );
    }
}
