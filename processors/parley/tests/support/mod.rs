//! Shared by the binary's integration tests: a Tansu broker per test, `parley run` as a
//! child process, and every topic on librdkafka's mock cluster.

// Each test binary compiles this module and uses part of it; the broker launcher is the
// runtime tests' own file, whose items are `pub` there.
#![allow(dead_code, unreachable_pub)]

use parley_core::Channel;
use rdkafka::mocking::MockCluster;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// `parley run` (or any role) as a child process, stopped with SIGINT on drop.
pub(crate) struct Running(pub(crate) Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Every topic of `parley topics create` under `parley.`, with 2 partitions but
/// `routing-decisions` with `routing_decisions`, made with the mock's own call (the mock
/// has no CreateTopics).
pub(crate) fn mock_topics(
    cluster: &MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    routing_decisions: i32,
) {
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
        "ticket-status-changes",
        "ticket-metrics",
        "agent-metrics",
        "dlq",
        "tickets-changelog",
        "router-changelog",
    ] {
        names.push(format!("parley.{name}"));
    }
    for name in names {
        cluster.create_topic(&name, 2, 1).unwrap();
    }
    cluster
        .create_topic("parley.routing-decisions", routing_decisions, 1)
        .unwrap();
}

/// The runtime tests' broker launcher: a Tansu child process on a free port, killed on drop.
#[path = "../../../runtime/tests/support/tansu.rs"]
mod broker;

/// Starts Tansu (the mock cluster has no CreateTopics, DeleteTopics or DescribeConfigs,
/// which `topics create|check` need), or prints why the test is skipped and returns `None`.
pub(crate) fn tansu(test: &str) -> Option<broker::TestBroker> {
    broker::TestBroker::tansu(test)
}
