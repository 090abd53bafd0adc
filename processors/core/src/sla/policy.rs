//! SLA policies: which tickets a policy applies to, its targets per metric and priority,
//! the validation a person's configuration gets, the per-account table that picks the
//! policy in force for a ticket, and the table of compiled schedules.

use super::calendar::BusinessCalendar;
use super::schedule::{Schedule, ScheduleError};
use crate::model::Channel;
use crate::time::{Millis, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

/// A table keyed by account or by id. The SLA clocks look policies and schedules up on
/// every clock start, stop and resume, so the keys (short names an administrator writes)
/// hash with FNV-1a rather than the standard library's SipHash, which guards against
/// flooding by adversarial keys that these tables never see.
type NameTable<V> = HashMap<String, V, BuildHasherDefault<Fnv1a>>;

/// FNV-1a 64 as a [`Hasher`].
#[derive(Clone, Copy, Debug)]
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Fnv1a {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// The shortest target a policy may set.
pub const MIN_TARGET: Millis = Millis::seconds(15);
/// The longest target a policy may set.
pub const MAX_TARGET: Millis = Millis::days(365);

/// What an SLA measures. The README's "SLA policies" section defines when each clock
/// starts, pauses, stops and is achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaMetric {
    /// Creation to the first agent reply.
    FirstReplyTime,
    /// The oldest unanswered end-user message to the next agent reply.
    NextReplyTime,
    /// An agent reply to the next agent reply.
    PeriodicUpdate,
    /// Time in New, Open and On-hold until Solved.
    RequesterWaitTime,
    /// Time in New and Open until Solved.
    AgentWorkTime,
    /// Time in every unsolved status until Solved.
    TotalResolutionTime,
}

impl SlaMetric {
    /// Every metric, in schema order.
    pub const ALL: [SlaMetric; 6] = [
        SlaMetric::FirstReplyTime,
        SlaMetric::NextReplyTime,
        SlaMetric::PeriodicUpdate,
        SlaMetric::RequesterWaitTime,
        SlaMetric::AgentWorkTime,
        SlaMetric::TotalResolutionTime,
    ];

    /// The schema symbol.
    pub const fn as_str(self) -> &'static str {
        match self {
            SlaMetric::FirstReplyTime => "first_reply_time",
            SlaMetric::NextReplyTime => "next_reply_time",
            SlaMetric::PeriodicUpdate => "periodic_update",
            SlaMetric::RequesterWaitTime => "requester_wait_time",
            SlaMetric::AgentWorkTime => "agent_work_time",
            SlaMetric::TotalResolutionTime => "total_resolution_time",
        }
    }

    /// Parses a schema symbol.
    pub fn parse(text: &str) -> Option<SlaMetric> {
        SlaMetric::ALL.into_iter().find(|m| m.as_str() == text)
    }
}

impl fmt::Display for SlaMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A ticket priority as SLA targets name it (Zendesk's four levels).
///
/// A ticket's priority is the routing priority of its style configuration (an integer,
/// higher first): below 0 is low, 0 (the default) normal, 1 high, 2 and above urgent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaPriority {
    /// Routing priority below 0.
    Low,
    /// Routing priority 0, the default.
    Normal,
    /// Routing priority 1.
    High,
    /// Routing priority 2 or above.
    Urgent,
}

impl SlaPriority {
    /// Every priority, lowest first.
    pub const ALL: [SlaPriority; 4] = [
        SlaPriority::Low,
        SlaPriority::Normal,
        SlaPriority::High,
        SlaPriority::Urgent,
    ];

    /// The SLA priority of a routing priority.
    pub const fn from_routing(priority: i32) -> SlaPriority {
        match priority {
            i32::MIN..=-1 => SlaPriority::Low,
            0 => SlaPriority::Normal,
            1 => SlaPriority::High,
            _ => SlaPriority::Urgent,
        }
    }

    /// The schema symbol.
    pub const fn as_str(self) -> &'static str {
        match self {
            SlaPriority::Low => "low",
            SlaPriority::Normal => "normal",
            SlaPriority::High => "high",
            SlaPriority::Urgent => "urgent",
        }
    }

    /// Parses a schema symbol.
    pub fn parse(text: &str) -> Option<SlaPriority> {
        SlaPriority::ALL.into_iter().find(|p| p.as_str() == text)
    }
}

impl fmt::Display for SlaPriority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which tickets a policy applies to: every list that is not empty must contain the
/// ticket's value (an empty list matches any).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaConditions {
    /// Priorities the policy applies to.
    #[serde(default)]
    pub priorities: Vec<SlaPriority>,
    /// Channels the policy applies to.
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// Brands the policy applies to; a ticket without a brand matches only an empty list.
    #[serde(default)]
    pub brands: Vec<String>,
}

impl SlaConditions {
    /// Whether a ticket with these attributes matches.
    pub fn matches(&self, ticket: &SlaTicket<'_>) -> bool {
        (self.priorities.is_empty() || self.priorities.contains(&ticket.priority))
            && (self.channels.is_empty() || self.channels.contains(&ticket.channel))
            && (self.brands.is_empty()
                || ticket
                    .brand
                    .is_some_and(|brand| self.brands.iter().any(|b| b == brand)))
    }
}

/// What policy matching looks at on a ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlaTicket<'a> {
    /// The ticket's priority.
    pub priority: SlaPriority,
    /// The ticket's channel.
    pub channel: Channel,
    /// The ticket's brand, if any.
    pub brand: Option<&'a str>,
}

/// One target of a policy: a metric at a priority.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaTarget {
    /// What is measured.
    pub metric: SlaMetric,
    /// The priority the target is for.
    pub priority: SlaPriority,
    /// How long the metric may take.
    pub target_ms: Millis,
    /// Measured in the policy's schedule's business hours (else in calendar hours).
    pub business_hours: bool,
}

/// An SLA policy: the record on the compacted `sla-policies` topic, key
/// `account/policy_id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaPolicy {
    /// The tenant.
    pub account: String,
    /// The policy's name within the account.
    pub policy_id: String,
    /// Policies are tried in ascending position (then policy id); the first that matches
    /// a ticket applies.
    pub position: i32,
    /// Which tickets the policy applies to.
    #[serde(default)]
    pub conditions: SlaConditions,
    /// The schedule whose business hours count for targets in business hours.
    #[serde(default)]
    pub schedule_id: Option<String>,
    /// The targets, at most one per metric and priority.
    pub targets: Vec<SlaTarget>,
    /// When the record was written.
    pub updated_at: Timestamp,
}

impl SlaPolicy {
    /// Checks every rule.
    pub fn validate(&self) -> Result<(), SlaPolicyError> {
        for (field, value) in [("account", &self.account), ("policy_id", &self.policy_id)] {
            if value.is_empty() {
                return Err(SlaPolicyError::EmptyName { field });
            }
        }
        if self.schedule_id.as_deref() == Some("") {
            return Err(SlaPolicyError::EmptyName {
                field: "schedule_id",
            });
        }
        if self.targets.is_empty() {
            return Err(SlaPolicyError::NoTargets);
        }
        for (index, target) in self.targets.iter().enumerate() {
            if target.target_ms < MIN_TARGET {
                return Err(SlaPolicyError::TargetTooShort {
                    index,
                    value: target.target_ms,
                });
            }
            if target.target_ms > MAX_TARGET {
                return Err(SlaPolicyError::TargetTooLong {
                    index,
                    value: target.target_ms,
                });
            }
            if target.business_hours && self.schedule_id.is_none() {
                return Err(SlaPolicyError::BusinessHoursWithoutSchedule { index });
            }
            let earlier = self.targets[..index]
                .iter()
                .position(|t| t.metric == target.metric && t.priority == target.priority);
            if let Some(first) = earlier {
                return Err(SlaPolicyError::DuplicateTarget {
                    first,
                    second: index,
                    metric: target.metric,
                    priority: target.priority,
                });
            }
        }
        Ok(())
    }

    /// The target for a metric at a priority, if the policy sets one.
    pub fn target(&self, metric: SlaMetric, priority: SlaPriority) -> Option<&SlaTarget> {
        self.targets
            .iter()
            .find(|t| t.metric == metric && t.priority == priority)
    }
}

/// A policy that breaks a rule. Each message names the field, the value and the rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlaPolicyError {
    /// `account`, `policy_id` or `schedule_id` is empty.
    EmptyName {
        /// The empty field.
        field: &'static str,
    },
    /// The policy has no targets.
    NoTargets,
    /// A target below [`MIN_TARGET`].
    TargetTooShort {
        /// The target's position in `targets`.
        index: usize,
        /// The configured target.
        value: Millis,
    },
    /// A target above [`MAX_TARGET`].
    TargetTooLong {
        /// The target's position in `targets`.
        index: usize,
        /// The configured target.
        value: Millis,
    },
    /// A target in business hours on a policy without a schedule.
    BusinessHoursWithoutSchedule {
        /// The target's position in `targets`.
        index: usize,
    },
    /// Two targets for the same metric and priority.
    DuplicateTarget {
        /// The position in `targets` of the first.
        first: usize,
        /// The position in `targets` of the second.
        second: usize,
        /// Their metric.
        metric: SlaMetric,
        /// Their priority.
        priority: SlaPriority,
    },
}

impl fmt::Display for SlaPolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SlaPolicyError::EmptyName { field } => write!(f, "{field} = \"\": must not be empty"),
            SlaPolicyError::NoTargets => {
                write!(f, "targets = []: a policy needs at least one target")
            }
            SlaPolicyError::TargetTooShort { index, value } => write!(
                f,
                "targets[{index}].target_ms = {}: must be at least {} ({MIN_TARGET})",
                value.0, MIN_TARGET.0
            ),
            SlaPolicyError::TargetTooLong { index, value } => write!(
                f,
                "targets[{index}].target_ms = {}: must be at most {} ({MAX_TARGET})",
                value.0, MAX_TARGET.0
            ),
            SlaPolicyError::BusinessHoursWithoutSchedule { index } => write!(
                f,
                "targets[{index}].business_hours = true: needs the policy's schedule_id, the schedule whose business hours count"
            ),
            SlaPolicyError::DuplicateTarget {
                first,
                second,
                metric,
                priority,
            } => write!(
                f,
                "targets[{second}]: metric = {metric}, priority = {priority} is already set by targets[{first}]: one target per metric and priority"
            ),
        }
    }
}

impl std::error::Error for SlaPolicyError {}

/// Every account's SLA policies in matching order, read from the compacted `sla-policies`
/// topic.
#[derive(Clone, Debug, Default)]
pub struct SlaPolicies {
    /// Per account, sorted by (position, policy id): the policy id shared with the clocks
    /// the policy starts, and the policy.
    accounts: NameTable<Vec<(Arc<str>, SlaPolicy)>>,
}

impl SlaPolicies {
    /// No policies: no ticket has SLA clocks.
    pub fn new() -> SlaPolicies {
        SlaPolicies::default()
    }

    /// Inserts or replaces a policy (the latest record per key wins). Refused if it breaks
    /// a rule; the table is then unchanged.
    pub fn upsert(&mut self, policy: SlaPolicy) -> Result<(), SlaPolicyError> {
        policy.validate()?;
        let policies = self.accounts.entry(policy.account.clone()).or_default();
        policies.retain(|(_, p)| p.policy_id != policy.policy_id);
        let at = policies.partition_point(|(_, p)| {
            (p.position, &p.policy_id) < (policy.position, &policy.policy_id)
        });
        policies.insert(at, (Arc::from(policy.policy_id.as_str()), policy));
        Ok(())
    }

    /// Removes a policy (a tombstone on the topic).
    pub fn remove(&mut self, account: &str, policy_id: &str) {
        if let Some(policies) = self.accounts.get_mut(account) {
            policies.retain(|(_, p)| p.policy_id != policy_id);
        }
    }

    /// The policy in force for a ticket: the first, in position order, that matches.
    pub fn matching(&self, account: &str, ticket: &SlaTicket<'_>) -> Option<&SlaPolicy> {
        self.matching_entry(account, ticket).map(|(_, p)| p)
    }

    /// [`matching`](Self::matching) with the policy's id as the table shares it.
    pub fn matching_entry(
        &self,
        account: &str,
        ticket: &SlaTicket<'_>,
    ) -> Option<&(Arc<str>, SlaPolicy)> {
        self.accounts
            .get(account)?
            .iter()
            .find(|(_, p)| p.conditions.matches(ticket))
    }

    /// A policy by id.
    pub fn policy(&self, account: &str, policy_id: &str) -> Option<&SlaPolicy> {
        self.accounts
            .get(account)?
            .iter()
            .map(|(_, p)| p)
            .find(|p| p.policy_id == policy_id)
    }
}

/// Every account's compiled schedules, read from the compacted `schedules` topic.
#[derive(Clone, Debug, Default)]
pub struct Schedules {
    /// Per account, per schedule id: the id again, shared with the clocks that count the
    /// schedule's hours, and the calendar.
    accounts: NameTable<NameTable<(Arc<str>, BusinessCalendar)>>,
}

impl Schedules {
    /// No schedules.
    pub fn new() -> Schedules {
        Schedules::default()
    }

    /// Inserts or replaces a schedule. Refused if it breaks a rule; the table is then
    /// unchanged.
    pub fn upsert(&mut self, schedule: &Schedule) -> Result<(), ScheduleError> {
        let calendar = schedule.calendar()?;
        self.accounts
            .entry(schedule.account.clone())
            .or_default()
            .insert(
                schedule.schedule_id.clone(),
                (Arc::from(schedule.schedule_id.as_str()), calendar),
            );
        Ok(())
    }

    /// Removes a schedule (a tombstone on the topic).
    pub fn remove(&mut self, account: &str, schedule_id: &str) {
        if let Some(calendars) = self.accounts.get_mut(account) {
            calendars.remove(schedule_id);
        }
    }

    /// A compiled schedule by id.
    pub fn calendar(&self, account: &str, schedule_id: &str) -> Option<&BusinessCalendar> {
        self.accounts.get(account)?.get(schedule_id).map(|(_, c)| c)
    }

    /// A compiled schedule by id, with the id as the table shares it.
    pub(crate) fn calendar_entry(
        &self,
        account: &str,
        schedule_id: &str,
    ) -> Option<&(Arc<str>, BusinessCalendar)> {
        self.accounts.get(account)?.get(schedule_id)
    }
}

/// The SLA configuration a step of [`SlaClocks`](super::SlaClocks) works under.
#[derive(Clone, Copy, Debug)]
pub struct SlaConfig<'a> {
    /// The policies.
    pub policies: &'a SlaPolicies,
    /// The schedules the policies name.
    pub schedules: &'a Schedules,
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn target(metric: SlaMetric, priority: SlaPriority, minutes: i64) -> SlaTarget {
        SlaTarget {
            metric,
            priority,
            target_ms: Millis::minutes(minutes),
            business_hours: false,
        }
    }

    fn policy(id: &str, position: i32, conditions: SlaConditions) -> SlaPolicy {
        SlaPolicy {
            account: "acme".into(),
            policy_id: id.into(),
            position,
            conditions,
            schedule_id: None,
            targets: vec![target(SlaMetric::FirstReplyTime, SlaPriority::Normal, 10)],
            updated_at: Timestamp(0),
        }
    }

    fn ticket(priority: SlaPriority, channel: Channel, brand: Option<&str>) -> SlaTicket<'_> {
        SlaTicket {
            priority,
            channel,
            brand,
        }
    }

    #[test]
    fn the_first_matching_policy_by_position_wins() {
        let mut table = SlaPolicies::new();
        let vip = SlaConditions {
            brands: vec!["vip".into()],
            ..SlaConditions::default()
        };
        let urgent_whatsapp = SlaConditions {
            priorities: vec![SlaPriority::Urgent],
            channels: vec![Channel::Whatsapp],
            ..SlaConditions::default()
        };
        table
            .upsert(policy("catch-all", 9, SlaConditions::default()))
            .unwrap();
        table.upsert(policy("vip", 1, vip)).unwrap();
        table
            .upsert(policy("urgent-wa", 2, urgent_whatsapp))
            .unwrap();
        let pick = |table: &SlaPolicies, t: SlaTicket<'_>| {
            table.matching("acme", &t).map(|p| p.policy_id.clone())
        };
        let urgent = SlaPriority::Urgent;
        let vip_ticket = ticket(urgent, Channel::Whatsapp, Some("vip"));
        assert_eq!(pick(&table, vip_ticket).unwrap(), "vip");
        assert_eq!(
            pick(&table, ticket(urgent, Channel::Whatsapp, None)).unwrap(),
            "urgent-wa"
        );
        assert_eq!(
            pick(&table, ticket(urgent, Channel::Web, None)).unwrap(),
            "catch-all"
        );
        assert_eq!(
            table.matching("other", &ticket(urgent, Channel::Web, None)),
            None
        );
        // Moving the catch-all first makes it win everything.
        table
            .upsert(policy("catch-all", 0, SlaConditions::default()))
            .unwrap();
        assert_eq!(pick(&table, vip_ticket).unwrap(), "catch-all");
        table.remove("acme", "catch-all");
        assert_eq!(pick(&table, ticket(urgent, Channel::Web, None)), None);
    }

    #[test]
    fn routing_priorities_map_to_the_four_levels() {
        assert_eq!(SlaPriority::from_routing(-5), SlaPriority::Low);
        assert_eq!(SlaPriority::from_routing(0), SlaPriority::Normal);
        assert_eq!(SlaPriority::from_routing(1), SlaPriority::High);
        assert_eq!(SlaPriority::from_routing(7), SlaPriority::Urgent);
    }

    #[test]
    fn errors_name_the_field_the_value_and_the_rule() {
        let base = policy("p", 0, SlaConditions::default());
        let with = |edit: &dyn Fn(&mut SlaPolicy)| {
            let mut p = base.clone();
            edit(&mut p);
            p.validate().unwrap_err().to_string()
        };
        assert_eq!(
            with(&|p| p.policy_id.clear()),
            "policy_id = \"\": must not be empty"
        );
        assert_eq!(
            with(&|p| p.targets.clear()),
            "targets = []: a policy needs at least one target"
        );
        assert_eq!(
            with(&|p| p.targets[0].target_ms = Millis(5_000)),
            "targets[0].target_ms = 5000: must be at least 15000 (15s)"
        );
        assert_eq!(
            with(&|p| p.targets[0].target_ms = Millis::days(400)),
            "targets[0].target_ms = 34560000000: must be at most 31536000000 (365d)"
        );
        assert_eq!(
            with(&|p| p.targets[0].business_hours = true),
            "targets[0].business_hours = true: needs the policy's schedule_id, the schedule whose business hours count"
        );
        assert_eq!(
            with(&|p| p.targets.push(p.targets[0])),
            "targets[1]: metric = first_reply_time, priority = normal is already set by targets[0]: one target per metric and priority"
        );
        let mut table = SlaPolicies::new();
        let mut bad = base.clone();
        bad.targets.clear();
        assert!(table.upsert(bad).is_err());
        assert_eq!(table.policy("acme", "p"), None);
    }
}
