//! The runtime against Tansu (or the Kafka in `PARLEY_TEST_BROKERS`): a real broker process.

mod support;

use parley_runtime::{Guarantee, SystemClock};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use support::tansu::TestBroker;
use support::*;

const PARTITIONS: i32 = 3;

#[test]
fn counter_restores_after_restart_on_a_real_broker() {
    let Some(broker) = TestBroker::start("counter_restores_after_restart_on_a_real_broker") else {
        return;
    };
    let topics = Topics::new("tansu-restart");
    broker.create_topics(&topics.all(), &[&topics.changelog], PARTITIONS);
    let brokers = broker.brokers.clone();
    let mut config = counter_config(
        &brokers,
        "tansu-restart",
        &topics,
        temp_dir("tansu-restart"),
        Guarantee::AtLeastOnce,
    );
    broker.adapt(&mut config);
    let host = RunningHost::start(config.clone(), &topics, None, Arc::new(SystemClock));
    produce(
        &brokers,
        &topics.input,
        &[("a", "1"), ("b", "2"), ("c", "3")],
    );
    let expected = BTreeMap::from([
        ("a".to_owned(), 1),
        ("b".to_owned(), 2),
        ("c".to_owned(), 3),
    ]);
    let read = read_until(
        &brokers,
        &topics.output,
        PARTITIONS,
        "read_uncommitted",
        Duration::from_secs(60),
        |r| last_counts(r) == expected,
    );
    assert_eq!(last_counts(&read), expected);
    host.stop().unwrap();

    let mut fresh = counter_config(
        &brokers,
        "tansu-restart",
        &topics,
        temp_dir("tansu-fresh"),
        Guarantee::AtLeastOnce,
    );
    broker.adapt(&mut fresh);
    let host = RunningHost::start(fresh, &topics, None, Arc::new(SystemClock));
    produce(
        &brokers,
        &topics.input,
        &[("a", "10"), ("b", "10"), ("c", "10")],
    );
    let expected = BTreeMap::from([
        ("a".to_owned(), 11),
        ("b".to_owned(), 12),
        ("c".to_owned(), 13),
    ]);
    let read = read_until(
        &brokers,
        &topics.output,
        PARTITIONS,
        "read_uncommitted",
        Duration::from_secs(60),
        |r| last_counts(r) == expected,
    );
    assert_eq!(last_counts(&read), expected);
    host.stop().unwrap();
}

/// The counter binary serves `/metrics` and stops cleanly on SIGTERM, committing its batch.
#[test]
fn binary_serves_metrics_and_stops_on_sigterm() {
    let Some(broker) = TestBroker::start("binary_serves_metrics_and_stops_on_sigterm") else {
        return;
    };
    let topics = Topics::new("tansu-binary");
    broker.create_topics(&topics.all(), &[&topics.changelog], PARTITIONS);
    let dir = temp_dir("tansu-binary");
    let mut config = counter_config(
        &broker.brokers,
        "tansu-binary",
        &topics,
        dir.join("state"),
        Guarantee::AtLeastOnce,
    );
    broker.adapt(&mut config);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    config.metrics_address = Some(([127, 0, 0, 1], port).into());
    let path = dir.join("config.json");
    std::fs::write(&path, serde_json::to_string(&config).unwrap()).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_parley-runtime-counter"))
        .args([path.to_str().unwrap(), &topics.output, &topics.expired])
        .spawn()
        .unwrap();
    produce(&broker.brokers, &topics.input, &[("a", "1"), ("a", "2")]);
    let fetch = || {
        use std::io::{Read as _, Write as _};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .ok()?;
        let mut body = String::new();
        stream.read_to_string(&mut body).ok()?;
        Some(body)
    };
    let line = format!("parley_records_in_total{{topic=\"{}\"}} 2", topics.input);
    assert!(
        wait_for(Duration::from_secs(60), || fetch()
            .is_some_and(|b| b.contains(&line))),
        "metrics count both inputs"
    );
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        child.wait().unwrap().success(),
        "a clean exit after SIGTERM"
    );
}
