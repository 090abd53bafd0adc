//! Crash tests on Apache Kafka: a child process running the counter is frozen at one of the
//! four points of a batch commit and killed with SIGKILL, in both guarantees. After a restart
//! nothing is lost and no input is counted twice; a record re-emitted after the crash is an
//! exact copy of the first, down to its timestamp (its input's). Under `exactly_once` a
//! `read_committed` reader sees each output exactly once, and nothing of the killed
//! transaction.

use parley_core::Timestamp;
use parley_runtime::{Clock, Guarantee, SystemClock};
use parley_testkit::counter::*;
use parley_testkit::*;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

const PARTITIONS: i32 = 2;
const KEYS: [&str; 6] = ["a", "b", "c", "d", "e", "f"];
const ROUNDS: i64 = 10;

/// What a restart after the crash must show.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Exactly one output per input.
    NoDuplicates,
    /// Every input's output at least once; copies identical.
    IdenticalDuplicates,
    /// The crashed batch's outputs were delivered and the batch is reprocessed: each of its
    /// inputs' outputs exactly twice, copies identical (timestamps included); others once.
    ReplayedBatch,
}

fn crash_and_recover(name: &str, pause: &str, guarantee: Guarantee, expect: Expect) {
    let Some(broker) = Kafka::single(name) else {
        return;
    };
    let topics = Topics::new(name);
    broker.create_topics(&topics.all(), &[&topics.changelog], PARTITIONS);
    let brokers = broker.bootstrap_servers();
    let records: Vec<(&str, &str)> = (0..ROUNDS)
        .flat_map(|_| KEYS.iter().map(|k| (*k, "1")))
        .collect();
    // Each input has a timestamp of its own, an hour and more in the past: outputs are made
    // at their input's time, whenever the host gets to them.
    let base = SystemClock.now().0 - 3_600_000;
    let input_time = |i: usize| Timestamp(base + 1_000 * i as i64 + 7);
    produce_text_with(&brokers, &topics.input, &records, |i| Some(input_time(i)));

    let dir = temp_dir(name);
    let mut config = counter_config(&brokers, name, &topics, dir.join("state"), guarantee);
    config.batch_size = 7;
    config.commit_interval_ms = 10_000;
    let config_path = dir.join("config.json");
    std::fs::write(&config_path, serde_json::to_string(&config).unwrap()).unwrap();

    let mut child = Command::new(parley_testkit::counter::binary())
        .args([
            config_path.to_str().unwrap(),
            &topics.output,
            &topics.expired,
        ])
        .env("PARLEY_PAUSE_AT", pause)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut paused = false;
    for line in stderr.lines() {
        let line = line.unwrap();
        if line.starts_with("PAUSED") {
            paused = true;
            break;
        }
    }
    assert!(paused, "the child reached the pause point");
    if expect == Expect::ReplayedBatch {
        // Let the frozen child's producer deliver the third batch's outputs first.
        let delivered = read_until(&brokers, &topics.output, Duration::from_secs(30), |r| {
            r.len() >= 21
        });
        assert_eq!(delivered.len(), 21, "three batches of 7 delivered");
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success());
    if guarantee == Guarantee::ExactlyOnce {
        // Killed before its commit, the third transaction is invisible; after, it is whole.
        let committed = if pause.starts_with("before-") { 2 } else { 3 };
        let visible = read_until(&brokers, &topics.output, Duration::from_secs(5), |_| false);
        assert_eq!(
            visible.len(),
            7 * committed,
            "outputs of the {committed} committed batches of 7, and nothing else"
        );
    }

    // Restart on the same state directory; it must count every input exactly once.
    let host = start_counter(config, &topics, None, Arc::new(SystemClock));
    let expected: BTreeMap<String, i64> = KEYS.iter().map(|k| (k.to_string(), ROUNDS)).collect();
    let read = read_until(&brokers, &topics.output, Duration::from_secs(90), |r| {
        last_counts(r) == expected
    });
    host.stop().unwrap();
    assert_eq!(
        last_counts(&read),
        expected,
        "nothing lost, nothing counted twice"
    );

    // Every input's output exists, and any copies of it are identical.
    let mut by_id: BTreeMap<String, Vec<&Read>> = BTreeMap::new();
    for r in &read {
        by_id
            .entry(r.headers["count-id"].clone())
            .or_default()
            .push(r);
    }
    assert_eq!(by_id.len(), records.len(), "an output for every input");
    for (id, copies) in &by_id {
        assert!(
            copies.iter().all(|c| c == &copies[0]),
            "{id}: different duplicates {copies:?}"
        );
        if expect == Expect::NoDuplicates {
            assert_eq!(copies.len(), 1, "{id}: emitted twice");
        }
        // `key=n` is the key's n-th input, produced in round n - 1.
        let text = copies[0].text();
        let (key, count) = text.split_once('=').unwrap();
        let round: usize = count.parse::<usize>().unwrap() - 1;
        let index = round * KEYS.len() + KEYS.iter().position(|k| *k == key).unwrap();
        assert_eq!(
            copies[0].timestamp,
            Some(input_time(index).0),
            "{id}: the output carries its input's timestamp"
        );
    }
    if expect == Expect::ReplayedBatch {
        let twice = by_id.values().filter(|copies| copies.len() == 2).count();
        assert_eq!(twice, 7, "the crashed batch of 7 re-emitted once");
        assert!(by_id.values().all(|copies| copies.len() <= 2));
    }
}

#[test]
fn killed_between_produce_and_sled_apply_loses_nothing() {
    crash_and_recover(
        "crash-after-produce",
        "after-produce:3",
        Guarantee::AtLeastOnce,
        Expect::NoDuplicates,
    );
}

#[test]
fn killed_between_sled_apply_and_offset_commit_loses_nothing() {
    crash_and_recover(
        "crash-after-apply",
        "after-apply:3",
        Guarantee::AtLeastOnce,
        Expect::NoDuplicates,
    );
}

#[test]
fn a_batch_replayed_after_a_crash_re_emits_identical_records() {
    crash_and_recover(
        "crash-before-seal",
        "before-seal:3",
        Guarantee::AtLeastOnce,
        Expect::ReplayedBatch,
    );
}

#[test]
fn killed_before_the_batch_is_acknowledged_re_emits_identical_records() {
    crash_and_recover(
        "crash-before-commit",
        "before-commit:3",
        Guarantee::AtLeastOnce,
        Expect::IdenticalDuplicates,
    );
}

#[test]
fn exactly_once_killed_before_the_seal_leaves_no_trace_and_no_duplicate() {
    crash_and_recover(
        "eos-crash-before-seal",
        "before-seal:3",
        Guarantee::ExactlyOnce,
        Expect::NoDuplicates,
    );
}

#[test]
fn exactly_once_killed_inside_a_transaction_leaves_no_trace_and_no_duplicate() {
    crash_and_recover(
        "eos-crash-before-commit",
        "before-commit:3",
        Guarantee::ExactlyOnce,
        Expect::NoDuplicates,
    );
}

#[test]
fn exactly_once_killed_after_commit_before_sled_apply_loses_nothing() {
    crash_and_recover(
        "eos-crash-after-produce",
        "after-produce:3",
        Guarantee::ExactlyOnce,
        Expect::NoDuplicates,
    );
}

#[test]
fn exactly_once_killed_after_sled_apply_loses_nothing_and_duplicates_nothing() {
    crash_and_recover(
        "eos-crash-after-apply",
        "after-apply:3",
        Guarantee::ExactlyOnce,
        Expect::NoDuplicates,
    );
}
