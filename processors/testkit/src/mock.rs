//! librdkafka's in-process mock cluster: fast broker tests without a broker process. It has
//! no CreateTopics, transactions it does not apply faithfully, and about 5 MiB per partition:
//! what needs those runs on [`crate::Kafka`].

use parley_core::Channel;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

/// A mock cluster, as the tests hold it.
pub type Mock = MockCluster<'static, DefaultProducerContext>;

/// A mock cluster of one broker with `topics`, each of `partitions` partitions.
pub fn cluster(topics: &[&str], partitions: i32) -> Mock {
    let cluster = MockCluster::new(1).unwrap();
    for topic in topics {
        cluster.create_topic(topic, partitions, 1).unwrap();
    }
    cluster
}

/// Every topic of `parley topics create` under `parley.`, with 2 partitions but
/// `routing-decisions` with `routing_decisions`, made with the mock's own call.
pub fn parley_topics(cluster: &Mock, routing_decisions: i32) {
    for name in parley_topic_names() {
        cluster.create_topic(&name, 2, 1).unwrap();
    }
    cluster
        .create_topic("parley.routing-decisions", routing_decisions, 1)
        .unwrap();
}

/// Every topic name of `parley topics create` under `parley.` but `routing-decisions`.
pub fn parley_topic_names() -> Vec<String> {
    let mut names: Vec<String> = Channel::ALL
        .iter()
        .map(|c| format!("parley.raw.{}", c.as_str()))
        .collect();
    for name in [
        "conversation-events",
        "agent-actions",
        "routing-requests",
        "agent-presence",
        "style-config",
        "schedules",
        "sla-policies",
        "sla-events",
        "inactivity-reminders",
        "routing-config",
        "routing-queues",
        "ticket-status-changes",
        "ticket-metrics",
        "agent-metrics",
        "dlq",
        "tickets-changelog",
        "router-changelog",
    ] {
        names.push(format!("parley.{name}"));
    }
    names
}
