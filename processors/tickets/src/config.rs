//! The ticket processor's topics, named with the deployment's prefix.

use parley_core::topics::Topic;

/// The topics the ticket processor reads and writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketTopics {
    /// Input: end-user messages, key `account/conversation`.
    pub conversation_events: String,
    /// Input: agent actions, key `account/conversation`.
    pub agent_actions: String,
    /// Input: the router's decisions, key `account/conversation`.
    pub routing_decisions: String,
    /// Table read in full by every instance: style configurations, key
    /// `account[/brand][/channel]`, compacted.
    pub style_config: String,
    /// Table read in full by every instance: business-hours schedules, key
    /// `account/schedule_id`, compacted.
    pub schedules: String,
    /// Table read in full by every instance: SLA policies, key `account/policy_id`,
    /// compacted.
    pub sla_policies: String,
    /// Output: SLA clock events, key `account/conversation`.
    pub sla_events: String,
    /// Output: status transitions, key `account/conversation`.
    pub status_changes: String,
    /// Output: ticket metrics, key `account/conversation`.
    pub ticket_metrics: String,
    /// Output: requests to the router, key `account`.
    pub routing_requests: String,
    /// Output: reminders to inactive conversations' end users, key
    /// `account/conversation`.
    pub inactivity_reminders: String,
}

/// The ticket processor's topics under `prefix` (e.g. `parley.`).
pub fn topics(prefix: &str) -> TicketTopics {
    TicketTopics {
        conversation_events: Topic::ConversationEvents.with_prefix(prefix),
        agent_actions: Topic::AgentActions.with_prefix(prefix),
        routing_decisions: Topic::RoutingDecisions.with_prefix(prefix),
        style_config: Topic::StyleConfig.with_prefix(prefix),
        schedules: Topic::Schedules.with_prefix(prefix),
        sla_policies: Topic::SlaPolicies.with_prefix(prefix),
        sla_events: Topic::SlaEvents.with_prefix(prefix),
        status_changes: Topic::TicketStatusChanges.with_prefix(prefix),
        ticket_metrics: Topic::TicketMetrics.with_prefix(prefix),
        routing_requests: Topic::RoutingRequests.with_prefix(prefix),
        inactivity_reminders: Topic::InactivityReminders.with_prefix(prefix),
    }
}

impl TicketTopics {
    /// The co-partitioned inputs, in the order the runtime subscribes to them.
    pub fn inputs(&self) -> Vec<String> {
        vec![
            self.conversation_events.clone(),
            self.agent_actions.clone(),
            self.routing_decisions.clone(),
        ]
    }

    /// The outputs.
    pub fn outputs(&self) -> Vec<String> {
        vec![
            self.status_changes.clone(),
            self.ticket_metrics.clone(),
            self.routing_requests.clone(),
            self.sla_events.clone(),
            self.inactivity_reminders.clone(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_architecture_table() {
        let t = topics("parley.");
        assert_eq!(
            t.inputs(),
            [
                "parley.conversation-events",
                "parley.agent-actions",
                "parley.routing-decisions"
            ]
        );
        assert_eq!(
            t.outputs(),
            [
                "parley.ticket-status-changes",
                "parley.ticket-metrics",
                "parley.routing-requests",
                "parley.sla-events",
                "parley.inactivity-reminders"
            ]
        );
        assert_eq!(t.style_config, "parley.style-config");
        assert_eq!(
            [t.schedules, t.sla_policies, t.sla_events],
            [
                "parley.schedules",
                "parley.sla-policies",
                "parley.sla-events"
            ]
        );
    }
}
