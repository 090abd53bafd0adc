//! Shared by the binary's integration tests: a Tansu broker per test, `parley run` as a
//! child process, and every topic on librdkafka's mock cluster.

// Each test binary compiles this module and uses part of it.
#![allow(dead_code)]

use parley_core::Channel;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use std::process::{Child, Command, Stdio};
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

/// A Tansu broker on a free port, killed on drop; the mock cluster has no CreateTopics,
/// DeleteTopics or DescribeConfigs, which `topics create|check` need.
pub(crate) struct Tansu {
    /// `host:port` of the broker.
    pub(crate) brokers: String,
    child: Child,
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts Tansu, or prints why the test is skipped and returns `None`.
pub(crate) fn tansu(test: &str) -> Option<Tansu> {
    if Command::new("tansu")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        eprintln!("SKIPPED {test}: `tansu` is not on PATH");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("tcp://127.0.0.1:{port}");
    let child = Command::new("tansu")
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .args(["--storage-engine", "memory://tansu/"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tansu starts");
    let tansu = Tansu {
        brokers: format!("127.0.0.1:{port}"),
        child,
    };
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &tansu.brokers)
        .create()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while consumer
        .fetch_metadata(None, Duration::from_millis(500))
        .is_err()
    {
        assert!(Instant::now() < deadline, "tansu did not start");
    }
    Some(tansu)
}
