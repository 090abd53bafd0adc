//! The router's topics, named with the deployment's prefix.

use parley_core::topics::Topic;

/// The topics the router reads and writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterTopics {
    /// Input: requests from the ticket processor, key `account`.
    pub routing_requests: String,
    /// Input: agents' presence, key `account`.
    pub agent_presence: String,
    /// Output: decisions, key `account/conversation`.
    pub routing_decisions: String,
    /// Output: agent metrics, key `account`.
    pub agent_metrics: String,
    /// Table: each account's routing settings, key `account`, compacted; every instance
    /// reads all of it.
    pub routing_config: String,
    /// Table: each account's custom queues, key `account/queue_id`, compacted; every
    /// instance reads all of it.
    pub routing_queues: String,
}

/// The router's topics under `prefix` (e.g. `parley.`).
pub fn topics(prefix: &str) -> RouterTopics {
    RouterTopics {
        routing_requests: Topic::RoutingRequests.with_prefix(prefix),
        agent_presence: Topic::AgentPresence.with_prefix(prefix),
        routing_decisions: Topic::RoutingDecisions.with_prefix(prefix),
        agent_metrics: Topic::AgentMetrics.with_prefix(prefix),
        routing_config: Topic::RoutingConfig.with_prefix(prefix),
        routing_queues: Topic::RoutingQueues.with_prefix(prefix),
    }
}

impl RouterTopics {
    /// The co-partitioned inputs, in the order the runtime subscribes to them.
    pub fn inputs(&self) -> Vec<String> {
        vec![self.routing_requests.clone(), self.agent_presence.clone()]
    }

    /// The outputs.
    pub fn outputs(&self) -> Vec<String> {
        vec![self.routing_decisions.clone(), self.agent_metrics.clone()]
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
            ["parley.routing-requests", "parley.agent-presence"]
        );
        assert_eq!(
            t.outputs(),
            ["parley.routing-decisions", "parley.agent-metrics"]
        );
        assert_eq!(t.routing_config, "parley.routing-config");
    }
}
