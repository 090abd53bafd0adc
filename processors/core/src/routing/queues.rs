//! Custom routing queues: an account's [`QueueDefinition`]s, from the compacted
//! `routing-queues` topic, and how a ticket is placed in one.
//!
//! A new ticket goes to the first queue, by ascending position, whose conditions it meets
//! ([`QueueRules::place`]); a ticket that meets none goes to the standard queue, where its
//! own group (if any) may take it. In a custom queue the ticket's group is ignored: agents
//! of the queue's primary group may take it at once, agents of its secondary groups too
//! once it has waited the queue's `secondary_after_ms`. Between queues, a lower queue
//! priority number goes first (1 is the highest); the standard queue comes after every
//! custom queue. Within a queue: ticket priority, then age.

use crate::model::{Channel, RoutingRequest};
use crate::time::{Millis, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// The queue priority of the standard queue: after every custom queue (1–100).
pub const STANDARD_QUEUE_PRIORITY: i32 = 101;

/// One custom routing queue of an account, on the compacted `routing-queues` topic (key:
/// `account/queue_id`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueDefinition {
    /// The tenant.
    pub account: String,
    /// The queue's name within the account.
    pub queue_id: String,
    /// Queues are tried in ascending position (then name); the first that matches wins.
    pub position: i32,
    /// 1 (highest) to 100: an agent who may take work from several queues gets the
    /// highest-priority queue's first.
    pub priority: i32,
    /// What a ticket must meet to enter the queue; every listed condition must hold.
    pub conditions: QueueConditions,
    /// The group whose agents may take the queue's tickets at once.
    pub primary_group: String,
    /// Groups whose agents may take a ticket once it has waited `secondary_after_ms`.
    pub secondary_groups: Vec<String>,
    /// How long a ticket waits in the queue before its secondary groups are eligible.
    pub secondary_after_ms: Millis,
    /// When the queue was written.
    pub updated_at: Timestamp,
}

/// A queue's conditions. An empty list (or `None`) does not restrict.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QueueConditions {
    /// The ticket's channel is one of these.
    pub channels: Vec<Channel>,
    /// The ticket's brand is one of these.
    pub brands: Vec<String>,
    /// The ticket's routing priority is at least this.
    pub min_priority: Option<i32>,
    /// The ticket requires every one of these skills.
    pub skills: Vec<String>,
}

impl QueueConditions {
    /// Whether the ticket `request` asks to route meets every condition.
    pub fn matches(&self, request: &RoutingRequest) -> bool {
        (self.channels.is_empty() || self.channels.contains(&request.channel))
            && (self.brands.is_empty()
                || request
                    .brand
                    .as_ref()
                    .is_some_and(|b| self.brands.contains(b)))
            && self.min_priority.is_none_or(|p| request.priority >= p)
            && self
                .skills
                .iter()
                .all(|s| request.required_skills.contains(s))
    }
}

impl QueueDefinition {
    /// Checks the record's rules; the error names the field, the value and the rule.
    pub fn validate(&self) -> Result<(), QueueError> {
        let name = |field: &'static str, value: &str| {
            if value.trim().is_empty() || value.contains('/') {
                Err(QueueError::Name {
                    field,
                    value: value.to_owned(),
                })
            } else {
                Ok(())
            }
        };
        name("account", &self.account)?;
        name("queue_id", &self.queue_id)?;
        if !(1..=100).contains(&self.priority) {
            return Err(QueueError::Priority {
                value: self.priority,
            });
        }
        if self.primary_group.trim().is_empty() {
            return Err(QueueError::PrimaryGroup);
        }
        if let Some(group) = self
            .secondary_groups
            .iter()
            .find(|g| g.trim().is_empty() || **g == self.primary_group)
        {
            return Err(QueueError::SecondaryGroup {
                value: group.clone(),
            });
        }
        if self.secondary_after_ms < Millis::ZERO {
            return Err(QueueError::SecondaryAfter {
                value: self.secondary_after_ms,
            });
        }
        Ok(())
    }

    /// The record's key: `account/queue_id`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.account, self.queue_id)
    }
}

/// A [`QueueDefinition`] that breaks a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueError {
    /// `account` or `queue_id` is empty or holds a `/`.
    Name {
        /// The field.
        field: &'static str,
        /// The value given.
        value: String,
    },
    /// `priority` is outside 1–100.
    Priority {
        /// The value given.
        value: i32,
    },
    /// `primary_group` is empty.
    PrimaryGroup,
    /// A secondary group is empty or the primary group.
    SecondaryGroup {
        /// The group given.
        value: String,
    },
    /// `secondary_after_ms` is negative.
    SecondaryAfter {
        /// The value given.
        value: Millis,
    },
}

impl QueueError {
    /// The record field whose value broke the rule.
    pub fn field(&self) -> &'static str {
        match self {
            QueueError::Name { field, .. } => field,
            QueueError::Priority { .. } => "priority",
            QueueError::PrimaryGroup => "primary_group",
            QueueError::SecondaryGroup { .. } => "secondary_groups",
            QueueError::SecondaryAfter { .. } => "secondary_after_ms",
        }
    }
}

impl fmt::Display for QueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueError::Name { field, value } => write!(
                f,
                "{field} = {value:?}: must be non-empty and without '/' (it is part of the record's key)"
            ),
            QueueError::Priority { value } => {
                write!(f, "priority = {value}: must be 1 (highest) to 100")
            }
            QueueError::PrimaryGroup => write!(f, "primary_group = \"\": must name a group"),
            QueueError::SecondaryGroup { value } => write!(
                f,
                "secondary_groups lists {value:?}: each must be a non-empty group other than the primary group"
            ),
            QueueError::SecondaryAfter { value } => {
                write!(f, "secondary_after_ms = {} ms: must not be negative", value.0)
            }
        }
    }
}

impl std::error::Error for QueueError {}

/// Where a ticket waits: the custom queue it matched, kept for the ticket's life in the
/// router (a requeued ticket goes back to the same queue).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuePlacement {
    /// The queue's name.
    pub queue_id: String,
    /// The queue's priority, 1 (highest) to 100.
    pub priority: i32,
    /// The group whose agents may take it at once.
    pub primary_group: String,
    /// Groups whose agents may take it after the wait.
    pub secondary_groups: Vec<String>,
    /// The wait before the secondary groups are eligible.
    pub secondary_after_ms: Millis,
}

impl QueuePlacement {
    fn of(queue: &QueueDefinition) -> QueuePlacement {
        let mut secondary = queue.secondary_groups.clone();
        secondary.sort();
        secondary.dedup();
        QueuePlacement {
            queue_id: queue.queue_id.clone(),
            priority: queue.priority,
            primary_group: queue.primary_group.clone(),
            secondary_groups: secondary,
            secondary_after_ms: queue.secondary_after_ms,
        }
    }
}

/// One account's custom queues in matching order (position, then name), each with the
/// placement it gives a ticket, made once and shared by every ticket placed there.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueRules {
    queues: Arc<[QueueDefinition]>,
    placements: Arc<[Arc<QueuePlacement>]>,
}

impl QueueRules {
    /// The rules of `queues`, sorted into matching order.
    pub fn new(mut queues: Vec<QueueDefinition>) -> QueueRules {
        queues.sort_by(|a, b| (a.position, &a.queue_id).cmp(&(b.position, &b.queue_id)));
        let placements = queues
            .iter()
            .map(|q| Arc::new(QueuePlacement::of(q)))
            .collect();
        QueueRules {
            queues: queues.into(),
            placements,
        }
    }

    /// The queues, in matching order.
    pub fn queues(&self) -> &[QueueDefinition] {
        &self.queues
    }

    /// The first queue whose conditions the ticket meets; `None` for the standard queue.
    pub fn place(&self, request: &RoutingRequest) -> Option<Arc<QueuePlacement>> {
        let index = self
            .queues
            .iter()
            .position(|q| q.conditions.matches(request))?;
        Some(self.placements[index].clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RoutingRequestKind;

    pub(crate) fn queue(id: &str, position: i32, conditions: QueueConditions) -> QueueDefinition {
        QueueDefinition {
            account: "acme".into(),
            queue_id: id.into(),
            position,
            priority: 50,
            conditions,
            primary_group: "tier1".into(),
            secondary_groups: vec!["tier2".into()],
            secondary_after_ms: Millis::minutes(2),
            updated_at: Timestamp(0),
        }
    }

    fn request(channel: Channel, brand: Option<&str>, priority: i32) -> RoutingRequest {
        RoutingRequest {
            request_id: "t1.r1".into(),
            account: "acme".into(),
            conversation: "c1".into(),
            ticket_id: "t1".into(),
            kind: RoutingRequestKind::Enqueue,
            agent_id: None,
            channel,
            priority,
            required_skills: vec!["billing".into()],
            group: None,
            brand: brand.map(str::to_owned),
            created_at: Timestamp(0),
            sla_breach_at: None,
            at: Timestamp(0),
        }
    }

    #[test]
    fn the_first_matching_queue_by_position_wins() {
        let rules = QueueRules::new(vec![
            queue(
                "vip",
                2,
                QueueConditions {
                    min_priority: Some(5),
                    ..QueueConditions::default()
                },
            ),
            queue(
                "whatsapp",
                1,
                QueueConditions {
                    channels: vec![Channel::Whatsapp],
                    ..QueueConditions::default()
                },
            ),
        ]);
        let placed = |r: &RoutingRequest| rules.place(r).map(|p| p.queue_id.clone());
        assert_eq!(
            placed(&request(Channel::Whatsapp, None, 9)).as_deref(),
            Some("whatsapp")
        );
        assert_eq!(
            placed(&request(Channel::Web, None, 9)).as_deref(),
            Some("vip")
        );
        assert_eq!(placed(&request(Channel::Web, None, 1)), None);
    }

    #[test]
    fn brand_and_skill_conditions_must_all_hold() {
        let conditions = QueueConditions {
            brands: vec!["shoes".into()],
            skills: vec!["billing".into()],
            ..QueueConditions::default()
        };
        assert!(conditions.matches(&request(Channel::Web, Some("shoes"), 0)));
        assert!(!conditions.matches(&request(Channel::Web, Some("hats"), 0)));
        assert!(!conditions.matches(&request(Channel::Web, None, 0)));
        let mut no_skill = request(Channel::Web, Some("shoes"), 0);
        no_skill.required_skills.clear();
        assert!(!conditions.matches(&no_skill));
    }

    #[test]
    fn broken_rules_name_the_field_and_value() {
        let mut q = queue("q", 0, QueueConditions::default());
        assert_eq!(q.validate(), Ok(()));
        q.priority = 0;
        let error = q.validate().unwrap_err();
        assert_eq!(error.field(), "priority");
        assert!(error
            .to_string()
            .contains("priority = 0: must be 1 (highest) to 100"));
        q.priority = 1;
        q.secondary_groups = vec!["tier1".into()];
        assert_eq!(q.validate().unwrap_err().field(), "secondary_groups");
        q.secondary_groups.clear();
        q.queue_id = "a/b".into();
        assert!(q
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("queue_id = \"a/b\""));
        q.queue_id = "q".into();
        q.secondary_after_ms = Millis(-1);
        assert_eq!(q.validate().unwrap_err().field(), "secondary_after_ms");
    }
}
