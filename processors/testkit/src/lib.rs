//! Test support for parley's crates, in one place: a dev-dependency only (`publish = false`).
//!
//! - [`kafka`]: Apache Kafka 4.4.0 from Maven Central in KRaft mode, one node or three.
//! - [`mock`]: librdkafka's in-process mock cluster, for fast tests without a broker.
//! - [`records`]: producing records (text, raw or Avro) and reading them back.
//! - [`host`]: a runtime host on a thread, a `parley` process stopped on drop.
//! - [`counter`]: the counter processor of the runtime's tests, its topics and config; the
//!   `parley-runtime-counter` binary runs it for the crash tests.
//! - [`pipeline`]: the `parley` binary's roles as processes, a scripted run of three
//!   channels and styles, and what BI reads back, for end-to-end and fault tests.
//! - [`fixtures`]: the integration map the ingress fixtures resolve their accounts with.

pub mod counter;
pub mod fixtures;
pub mod host;
pub mod kafka;
pub mod mock;
pub mod pipeline;
pub mod records;

pub use host::{Running, RunningHost};
pub use kafka::{free_port, free_ports, Kafka};
pub use records::*;

use parley_core::Timestamp;
use parley_runtime::{Guarantee, RuntimeConfig};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The start of the tests' manual clocks, and the timestamp of the records they produce: the
/// processors handle a record at its timestamp.
pub const T0: Timestamp = Timestamp(1_700_000_000_000);

/// A fresh directory under the system temp dir, named after `name` and this process.
pub fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("parley-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `GET path` on `127.0.0.1:port`: the status code and the body, or `None` if nothing
/// answers (within 5 s).
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let code = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_owned();
    Some((code, body))
}

/// Waits until `condition` holds, up to `timeout`; returns whether it did.
pub fn wait_for(timeout: Duration, condition: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    condition()
}

/// Logs to the test writer when `RUST_LOG` is set.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "off".into()),
        )
        .try_init();
}

/// A fast `at_least_once` runtime config for a processor under test: batches of 50, commits
/// every 20 ms, [`fast_failover`]. The processor's constructor sets the inputs.
pub fn runtime_config(
    brokers: &str,
    group: &str,
    changelog: &str,
    dlq: &str,
    state_dir: PathBuf,
) -> RuntimeConfig {
    RuntimeConfig {
        brokers: brokers.to_owned(),
        group_id: group.to_owned(),
        instance_id: state_dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned(),
        input_topics: vec!["set-by-the-processor".to_owned()],
        changelog_topic: changelog.to_owned(),
        dlq_topic: dlq.to_owned(),
        state_dir,
        guarantee: Guarantee::AtLeastOnce,
        registry_url: None,
        batch_size: 50,
        commit_interval_ms: 20,
        timer_horizon_ms: 4 * 3_600_000,
        metrics_address: None,
        advertised_state_address: None,
        time: Default::default(),
        librdkafka: fast_failover(),
    }
}

/// Client settings for tests: a killed member leaves its group after 6 s, metadata is
/// refreshed every second, and a fetch that finds nothing waits 50 ms.
pub fn fast_failover() -> BTreeMap<String, String> {
    [
        ("session.timeout.ms", "6000"),
        ("heartbeat.interval.ms", "500"),
        ("topic.metadata.refresh.interval.ms", "1000"),
        ("fetch.wait.max.ms", "50"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}
