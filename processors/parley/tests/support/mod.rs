//! Shared by the binary's integration tests: a Tansu broker per test.

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
