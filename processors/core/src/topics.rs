//! The topic catalogue: every topic parley reads or writes, with its records, key rule and
//! cleanup policy, named once.
//!
//! A deployment puts a prefix before every name (`parley.` by default): [`Topic::name`]
//! gives the name without it, [`Topic::with_prefix`] with it. `parley topics create|check`
//! make and check the table; the processors, `parley simulate`, `parley demo` and `parley
//! inspect` take their names and keys from it.

use crate::model::Channel;

/// A topic of parley's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    /// A channel's native webhook bodies, as its integration produces them.
    Raw(Channel),
    /// End-user messages, normalised by ingress.
    ConversationEvents,
    /// Agents' actions on tickets.
    AgentActions,
    /// Agents' availability, capacity and skills.
    AgentPresence,
    /// Style configurations per account, brand and channel: a table every instance reads.
    StyleConfig,
    /// Business-hours schedules per account: a table every instance reads.
    Schedules,
    /// SLA policies per account: a table every instance reads.
    SlaPolicies,
    /// Reminders for the channel integrations to send to inactive conversations.
    InactivityReminders,
    /// Routing settings per account: a table every router instance reads.
    RoutingConfig,
    /// Custom routing queues per account: a table every router instance reads.
    RoutingQueues,
    /// Requests from the ticket processor to the router.
    RoutingRequests,
    /// The router's offers and assignments.
    RoutingDecisions,
    /// Every ticket status transition.
    TicketStatusChanges,
    /// Facts about tickets for BI.
    TicketMetrics,
    /// Facts about agents for BI.
    AgentMetrics,
    /// What happened to every SLA clock of a ticket.
    SlaEvents,
    /// Records refused by any stage, with the reason in their headers.
    Dlq,
    /// The ticket processor's state and timers.
    TicketsChangelog,
    /// The router's state and timers.
    RouterChangelog,
}

/// What a topic's records are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Records {
    /// A channel's webhook JSON, read by ingress.
    Webhook,
    /// Avro records of the named `parley_core::model` type.
    Avro(&'static str),
    /// The refused record's key and value as they were, with `parley.dlq.*` headers.
    DeadLetter,
    /// State writes, timer writes and batch seals of one processor.
    Changelog,
}

/// How a topic's records are keyed: co-partitioned topics share a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyRule {
    /// Whatever the integration chose (ingress re-keys what it writes).
    Any,
    /// `account/conversation` ([`conversation_key`]).
    Conversation,
    /// `account`.
    Account,
    /// `account[/brand][/channel]`.
    Style,
    /// `account/name`: a schedule's or an SLA policy's id within its account
    /// ([`account_name_key`]).
    AccountName,
    /// The refused record's own key.
    Source,
    /// The processor's state and timer keys, and the seal.
    State,
}

/// A topic's retention.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cleanup {
    /// Records expire with the topic's retention.
    Delete,
    /// The last record per key is kept.
    Compact,
}

impl Cleanup {
    /// The `cleanup.policy` value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Cleanup::Delete => "delete",
            Cleanup::Compact => "compact",
        }
    }
}

impl Topic {
    /// Every topic, raw webhooks first, in the order `parley topics create` lists them.
    pub fn all() -> Vec<Topic> {
        let mut all: Vec<Topic> = Channel::ALL.iter().map(|&c| Topic::Raw(c)).collect();
        all.extend([
            Topic::ConversationEvents,
            Topic::AgentActions,
            Topic::RoutingDecisions,
            Topic::RoutingRequests,
            Topic::AgentPresence,
            Topic::StyleConfig,
            Topic::Schedules,
            Topic::SlaPolicies,
            Topic::RoutingConfig,
            Topic::RoutingQueues,
            Topic::TicketStatusChanges,
            Topic::TicketMetrics,
            Topic::SlaEvents,
            Topic::InactivityReminders,
            Topic::AgentMetrics,
            Topic::Dlq,
            Topic::TicketsChangelog,
            Topic::RouterChangelog,
        ]);
        all
    }

    /// The name without the deployment's prefix (`conversation-events`).
    pub fn name(self) -> String {
        let name = match self {
            Topic::Raw(channel) => return format!("raw.{}", channel.as_str()),
            Topic::ConversationEvents => "conversation-events",
            Topic::AgentActions => "agent-actions",
            Topic::AgentPresence => "agent-presence",
            Topic::StyleConfig => "style-config",
            Topic::Schedules => "schedules",
            Topic::SlaPolicies => "sla-policies",
            Topic::SlaEvents => "sla-events",
            Topic::InactivityReminders => "inactivity-reminders",
            Topic::RoutingConfig => "routing-config",
            Topic::RoutingQueues => "routing-queues",
            Topic::RoutingRequests => "routing-requests",
            Topic::RoutingDecisions => "routing-decisions",
            Topic::TicketStatusChanges => "ticket-status-changes",
            Topic::TicketMetrics => "ticket-metrics",
            Topic::AgentMetrics => "agent-metrics",
            Topic::Dlq => "dlq",
            Topic::TicketsChangelog => "tickets-changelog",
            Topic::RouterChangelog => "router-changelog",
        };
        name.to_owned()
    }

    /// The name under `prefix` (`parley.conversation-events`).
    pub fn with_prefix(self, prefix: &str) -> String {
        format!("{prefix}{}", self.name())
    }

    /// What its records are.
    pub const fn records(self) -> Records {
        match self {
            Topic::Raw(_) => Records::Webhook,
            Topic::ConversationEvents => Records::Avro("ConversationEvent"),
            Topic::AgentActions => Records::Avro("AgentAction"),
            Topic::AgentPresence => Records::Avro("AgentPresence"),
            Topic::StyleConfig => Records::Avro("StyleConfig"),
            Topic::Schedules => Records::Avro("Schedule"),
            Topic::SlaPolicies => Records::Avro("SlaPolicy"),
            Topic::SlaEvents => Records::Avro("SlaEvent"),
            Topic::InactivityReminders => Records::Avro("InactivityReminder"),
            Topic::RoutingConfig => Records::Avro("AccountRoutingConfig"),
            Topic::RoutingQueues => Records::Avro("QueueDefinition"),
            Topic::RoutingRequests => Records::Avro("RoutingRequest"),
            Topic::RoutingDecisions => Records::Avro("RoutingDecision"),
            Topic::TicketStatusChanges => Records::Avro("StatusChange"),
            Topic::TicketMetrics => Records::Avro("TicketMetrics"),
            Topic::AgentMetrics => Records::Avro("AgentMetrics"),
            Topic::Dlq => Records::DeadLetter,
            Topic::TicketsChangelog | Topic::RouterChangelog => Records::Changelog,
        }
    }

    /// How its records are keyed.
    pub const fn key(self) -> KeyRule {
        match self {
            Topic::Raw(_) => KeyRule::Any,
            Topic::ConversationEvents
            | Topic::AgentActions
            | Topic::RoutingDecisions
            | Topic::TicketStatusChanges
            | Topic::TicketMetrics
            | Topic::SlaEvents
            | Topic::InactivityReminders => KeyRule::Conversation,
            Topic::AgentPresence
            | Topic::RoutingRequests
            | Topic::AgentMetrics
            | Topic::RoutingConfig => KeyRule::Account,
            Topic::StyleConfig => KeyRule::Style,
            Topic::Schedules | Topic::SlaPolicies | Topic::RoutingQueues => KeyRule::AccountName,
            Topic::Dlq => KeyRule::Source,
            Topic::TicketsChangelog | Topic::RouterChangelog => KeyRule::State,
        }
    }

    /// Its retention.
    pub const fn cleanup(self) -> Cleanup {
        match self {
            Topic::StyleConfig
            | Topic::Schedules
            | Topic::SlaPolicies
            | Topic::RoutingConfig
            | Topic::RoutingQueues
            | Topic::TicketsChangelog
            | Topic::RouterChangelog => Cleanup::Compact,
            _ => Cleanup::Delete,
        }
    }

    /// The topic whose name under `prefix` is `name`, if any.
    pub fn parse(prefix: &str, name: &str) -> Option<Topic> {
        let bare = name.strip_prefix(prefix)?;
        Topic::all().into_iter().find(|t| t.name() == bare)
    }
}

/// The key of every conversation's records: `account/conversation`.
pub fn conversation_key(account: &str, conversation: &str) -> String {
    format!("{account}/{conversation}")
}

/// The key of a record named within its account (a schedule, an SLA policy):
/// `account/name`.
pub fn account_name_key(account: &str, name: &str) -> String {
    format!("{account}/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_topic_is_named_once_and_found_by_its_name() {
        let all = Topic::all();
        let names: std::collections::BTreeSet<String> = all.iter().map(|t| t.name()).collect();
        assert_eq!(names.len(), all.len());
        assert_eq!(all.len(), Channel::ALL.len() + 18);
        for topic in all {
            assert_eq!(Topic::parse("p.", &topic.with_prefix("p.")), Some(topic));
        }
        assert_eq!(Topic::parse("p.", "q.dlq"), None);
    }

    #[test]
    fn the_compacted_topics_are_the_tables_and_changelogs() {
        let compacted: Vec<String> = Topic::all()
            .into_iter()
            .filter(|t| t.cleanup() == Cleanup::Compact)
            .map(Topic::name)
            .collect();
        assert_eq!(
            compacted,
            [
                "style-config",
                "schedules",
                "sla-policies",
                "routing-config",
                "routing-queues",
                "tickets-changelog",
                "router-changelog"
            ]
        );
    }

    #[test]
    fn conversation_keyed_topics_are_the_ticket_processors_inputs_and_outputs() {
        assert_eq!(conversation_key("acme", "c1"), "acme/c1");
        assert_eq!(Topic::ConversationEvents.key(), KeyRule::Conversation);
        assert_eq!(Topic::RoutingRequests.key(), KeyRule::Account);
    }
}
