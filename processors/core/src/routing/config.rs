//! The per-account routing settings, with their defaults in one place.

use crate::model::{AccountRoutingConfig, Channel};
use crate::time::Millis;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::num::NonZeroU32;

/// How the router picks among the agents eligible for a ticket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutingMode {
    /// The agent with the most free capacity on the ticket's channel; ties go to the agent
    /// who has waited longest since an assignment.
    #[default]
    BestAvailable,
    /// The agent who has waited longest since an assignment, whatever their free capacity
    /// (as long as they have some).
    RoundRobin,
}

impl RoutingMode {
    /// The decision reason of an offer made in this mode.
    pub const fn reason(self) -> &'static str {
        match self {
            RoutingMode::BestAvailable => "best_match",
            RoutingMode::RoundRobin => "round_robin",
        }
    }
}

/// The order in which the routing queue offers its tickets, within each queue (a custom
/// queue's priority always comes first).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueOrder {
    /// Higher ticket priority first, then older.
    #[default]
    Priority,
    /// Route by SLA (Zendesk's option): tickets with an SLA target first, the one whose
    /// target runs out soonest (or ran out longest ago) first; tickets without one after
    /// them; ties, and the tickets without one, by priority then age.
    Sla,
}

impl QueueOrder {
    /// The schema symbol.
    pub const fn as_str(self) -> &'static str {
        match self {
            QueueOrder::Priority => "priority",
            QueueOrder::Sla => "sla",
        }
    }
}

/// One account's routing settings.
///
/// ```
/// # use parley_core::routing::RoutingConfig;
/// let config: RoutingConfig = serde_json::from_str(r#"{"auto_accept": ["whatsapp"]}"#).unwrap();
/// assert_eq!(config.offer_timeout_ms.0, 30_000);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    /// Channels whose offers are accepted at once: the ticket is assigned without waiting
    /// for the agent. Default: none (every offer waits for accept or decline).
    #[serde(default = "default_auto_accept")]
    pub auto_accept: Vec<Channel>,
    /// How long an offer waits for an answer before it goes to the next eligible agent, in
    /// milliseconds. Default: 30 seconds.
    #[serde(default = "default_offer_timeout")]
    pub offer_timeout_ms: Millis,
    /// After this long in the queue (milliseconds since first queued) a ticket's required
    /// skills are relaxed: any agent online on the channel (and in its group) may take it.
    /// Default: none (skills are never relaxed).
    #[serde(default = "default_skills_timeout")]
    pub skills_timeout_ms: Option<Millis>,
    /// A reopened ticket whose assignee is offline goes back to the queue after this long,
    /// in milliseconds. Default: 10 minutes.
    #[serde(default = "default_returning_grace")]
    pub returning_grace_ms: Millis,
    /// How an agent is chosen among the eligible ones. Default: `best_available`.
    #[serde(default)]
    pub mode: RoutingMode,
    /// An agent whose offers on a channel time out this many times in a row is set away
    /// on that channel (Salesforce's push timeout), and their other pending offers there go
    /// to other agents at once. An accept or a decline ends the run. Default: none (an
    /// agent is never set away by the router).
    #[serde(default = "default_away_after_offer_timeouts")]
    pub away_after_offer_timeouts: Option<NonZeroU32>,
    /// The order of the queue: `priority` (ticket priority, then age) or `sla` (time to
    /// the next SLA breach first). Default: `priority`.
    #[serde(default)]
    pub queue_order: QueueOrder,
}

/// No channel auto-accepts.
fn default_auto_accept() -> Vec<Channel> {
    Vec::new()
}

/// 30 seconds, Zendesk's default offer time.
fn default_offer_timeout() -> Millis {
    Millis::seconds(30)
}

/// Skills are never relaxed.
fn default_skills_timeout() -> Option<Millis> {
    None
}

/// 10 minutes.
fn default_returning_grace() -> Millis {
    Millis::minutes(10)
}

/// Off: missed offers never set an agent away.
fn default_away_after_offer_timeouts() -> Option<NonZeroU32> {
    None
}

impl Default for RoutingConfig {
    fn default() -> RoutingConfig {
        RoutingConfig {
            auto_accept: default_auto_accept(),
            offer_timeout_ms: default_offer_timeout(),
            skills_timeout_ms: default_skills_timeout(),
            returning_grace_ms: default_returning_grace(),
            mode: RoutingMode::default(),
            away_after_offer_timeouts: default_away_after_offer_timeouts(),
            queue_order: QueueOrder::default(),
        }
    }
}

impl RoutingConfig {
    /// Whether offers on `channel` are accepted at once.
    pub fn auto_accepts(&self, channel: Channel) -> bool {
        self.auto_accept.contains(&channel)
    }

    /// The settings of the account `record` configures: each field it gives replaces this
    /// one's (the router process's), each it leaves out keeps it. Refused, naming the
    /// field, the value and the rule, when a value breaks a rule.
    pub fn overlay(
        &self,
        record: &AccountRoutingConfig,
    ) -> Result<RoutingConfig, RoutingConfigError> {
        if record.account.trim().is_empty() || record.account.contains('/') {
            return Err(RoutingConfigError::Account {
                value: record.account.clone(),
            });
        }
        let mut config = self.clone();
        if let Some(channels) = &record.auto_accept {
            let mut seen = Vec::new();
            for channel in channels {
                if seen.contains(channel) {
                    return Err(RoutingConfigError::ChannelTwice { channel: *channel });
                }
                seen.push(*channel);
            }
            config.auto_accept = channels.clone();
        }
        if let Some(value) = record.offer_timeout_ms {
            if value <= Millis::ZERO {
                return Err(RoutingConfigError::OfferTimeout { value });
            }
            config.offer_timeout_ms = value;
        }
        if let Some(value) = record.skills_timeout_ms {
            if value < Millis::ZERO {
                return Err(RoutingConfigError::Negative {
                    field: "skills_timeout_ms",
                    value,
                });
            }
            config.skills_timeout_ms = (value > Millis::ZERO).then_some(value);
        }
        if let Some(value) = record.returning_grace_ms {
            if value < Millis::ZERO {
                return Err(RoutingConfigError::Negative {
                    field: "returning_grace_ms",
                    value,
                });
            }
            config.returning_grace_ms = value;
        }
        if let Some(mode) = record.mode {
            config.mode = mode;
        }
        if let Some(n) = record.away_after_offer_timeouts {
            config.away_after_offer_timeouts = NonZeroU32::new(n);
        }
        if let Some(order) = record.queue_order {
            config.queue_order = order;
        }
        Ok(config)
    }
}

/// An [`AccountRoutingConfig`] that breaks a rule. Each message names the field, the value
/// and the rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoutingConfigError {
    /// `account` is empty or holds a `/`.
    Account {
        /// The account given.
        value: String,
    },
    /// `auto_accept` lists a channel twice.
    ChannelTwice {
        /// The channel listed twice.
        channel: Channel,
    },
    /// `offer_timeout_ms` is zero or negative.
    OfferTimeout {
        /// The timeout given.
        value: Millis,
    },
    /// A duration that may not be negative is.
    Negative {
        /// The field.
        field: &'static str,
        /// The value given.
        value: Millis,
    },
}

impl RoutingConfigError {
    /// The record field whose value broke the rule.
    pub fn field(&self) -> &'static str {
        match self {
            RoutingConfigError::Account { .. } => "account",
            RoutingConfigError::ChannelTwice { .. } => "auto_accept",
            RoutingConfigError::OfferTimeout { .. } => "offer_timeout_ms",
            RoutingConfigError::Negative { field, .. } => field,
        }
    }
}

impl fmt::Display for RoutingConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RoutingConfigError::Account { value } => write!(
                f,
                "account = {value:?}: must be a non-empty account id without '/' (it is the record's key)"
            ),
            RoutingConfigError::ChannelTwice { channel } => write!(
                f,
                "auto_accept lists {} twice: each channel is given once",
                channel.as_str()
            ),
            RoutingConfigError::OfferTimeout { value } => write!(
                f,
                "offer_timeout_ms = {} ms: must be longer than zero",
                value.0
            ),
            RoutingConfigError::Negative { field, value } => {
                write!(f, "{field} = {} ms: must not be negative", value.0)
            }
        }
    }
}

impl std::error::Error for RoutingConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_object_gives_the_defaults() {
        let config: RoutingConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config, RoutingConfig::default());
        assert_eq!(config.returning_grace_ms, Millis::minutes(10));
        assert_eq!(config.skills_timeout_ms, None);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json::from_str::<RoutingConfig>(r#"{"offer_timeout": 5}"#).unwrap_err();
        assert!(err.to_string().contains("offer_timeout"), "{err}");
    }

    #[test]
    fn every_field_parses() {
        let config: RoutingConfig = serde_json::from_str(
            r#"{"auto_accept":["web"],"offer_timeout_ms":5000,"skills_timeout_ms":60000,
                "returning_grace_ms":1000,"mode":"round_robin","away_after_offer_timeouts":3,
                "queue_order":"sla"}"#,
        )
        .unwrap();
        assert_eq!(config.queue_order, QueueOrder::Sla);
        assert!(config.auto_accepts(Channel::Web));
        assert!(!config.auto_accepts(Channel::Whatsapp));
        assert_eq!(config.skills_timeout_ms, Some(Millis::minutes(1)));
        assert_eq!(config.mode, RoutingMode::RoundRobin);
        assert_eq!(config.away_after_offer_timeouts, NonZeroU32::new(3));
    }

    fn record() -> AccountRoutingConfig {
        AccountRoutingConfig {
            account: "acme".into(),
            auto_accept: None,
            offer_timeout_ms: None,
            skills_timeout_ms: None,
            returning_grace_ms: None,
            mode: None,
            away_after_offer_timeouts: None,
            queue_order: None,
            updated_at: crate::time::Timestamp(0),
        }
    }

    #[test]
    fn an_account_record_overrides_the_fields_it_gives_and_keeps_the_rest() {
        let process = RoutingConfig {
            skills_timeout_ms: Some(Millis::minutes(5)),
            ..RoutingConfig::default()
        };
        assert_eq!(process.overlay(&record()), Ok(process.clone()));
        let account = process
            .overlay(&AccountRoutingConfig {
                auto_accept: Some(vec![Channel::Whatsapp]),
                offer_timeout_ms: Some(Millis::seconds(45)),
                skills_timeout_ms: Some(Millis::ZERO),
                mode: Some(RoutingMode::RoundRobin),
                away_after_offer_timeouts: Some(3),
                queue_order: Some(QueueOrder::Sla),
                ..record()
            })
            .unwrap();
        assert_eq!(account.queue_order, QueueOrder::Sla);
        assert_eq!(account.auto_accept, [Channel::Whatsapp]);
        assert_eq!(account.offer_timeout_ms, Millis::seconds(45));
        assert_eq!(account.skills_timeout_ms, None, "zero: never relaxed");
        assert_eq!(account.returning_grace_ms, process.returning_grace_ms);
        assert_eq!(account.mode, RoutingMode::RoundRobin);
        assert_eq!(account.away_after_offer_timeouts, NonZeroU32::new(3));
    }

    #[test]
    fn a_record_that_breaks_a_rule_is_refused_naming_field_value_and_rule() {
        let process = RoutingConfig::default();
        let refused =
            |record: AccountRoutingConfig| process.overlay(&record).unwrap_err().to_string();
        assert_eq!(
            refused(AccountRoutingConfig {
                offer_timeout_ms: Some(Millis::ZERO),
                ..record()
            }),
            "offer_timeout_ms = 0 ms: must be longer than zero"
        );
        assert_eq!(
            refused(AccountRoutingConfig {
                returning_grace_ms: Some(Millis(-1)),
                ..record()
            }),
            "returning_grace_ms = -1 ms: must not be negative"
        );
        assert!(refused(AccountRoutingConfig {
            auto_accept: Some(vec![Channel::Web, Channel::Web]),
            ..record()
        })
        .starts_with("auto_accept lists web twice"));
        assert!(refused(AccountRoutingConfig {
            account: "a/b".into(),
            ..record()
        })
        .starts_with("account = \"a/b\""));
    }

    #[test]
    fn zero_offer_timeouts_before_away_is_refused() {
        let err = serde_json::from_str::<RoutingConfig>(r#"{"away_after_offer_timeouts": 0}"#)
            .unwrap_err();
        assert!(err.to_string().contains("nonzero"), "{err}");
    }
}
