//! The changelog on Apache Kafka: a seal is written only after its batch's outputs are
//! acknowledged, and a store rebuilt from a compacted changelog, with a batch that crashed
//! before its seal in the middle, equals the live store key by key.

use parley_core::{Millis, Timestamp};
use parley_runtime::state::restore::restore_partition;
use parley_runtime::state::StateStore;
use parley_runtime::{Clock, Guarantee, Metrics, SystemClock};
use parley_testkit::counter::*;
use parley_testkit::*;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::BaseConsumer;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(120);

/// Whether a changelog record is a seal (the reserved key `0x00`).
fn is_seal(record: &Read) -> bool {
    record.key.as_bytes() == [0]
}

/// The input offsets a seal says its batch reached (empty for a batch that read nothing,
/// such as one that only undoes a crashed batch's writes).
fn sealed_inputs(record: &Read) -> BTreeMap<String, i64> {
    parley_runtime::state::changelog::decode_offsets(&record.value).unwrap()
}

/// Outputs that the broker refuses (larger than the topic's `max.message.bytes`) make the
/// batch fail: its state writes reach the changelog, but no seal may claim its inputs, or a
/// restart would resume after inputs whose outputs were never written. (The host, retrying
/// by itself, undoes those writes and seals that, with no input.) Once the topic takes the
/// outputs again, every one is written.
#[test]
fn a_seal_is_written_only_after_every_output_of_its_batch_is_acknowledged() {
    let Some(broker) = Kafka::single("seal_after_outputs") else {
        return;
    };
    let topics = Topics::new("seal-after-outputs");
    broker.create_topics(
        &[
            &topics.input,
            &topics.expired,
            &topics.changelog,
            &topics.dlq,
        ],
        &[&topics.changelog],
        2,
    );
    broker.create_topic_with(&topics.output, 2, &[("max.message.bytes", "16")]);
    let brokers = broker.bootstrap_servers();
    let mut config = counter_config(
        &brokers,
        "seal-after-outputs",
        &topics,
        temp_dir("seal-after-outputs"),
        Guarantee::AtLeastOnce,
    );
    // A refused output fails its batch at once instead of being retried for 5 minutes.
    config
        .librdkafka
        .insert("message.timeout.ms".into(), "5000".into());
    let host = start_counter(config, &topics, None, Arc::new(SystemClock));
    let keys = ["a", "b", "c", "d", "e", "f"];
    let inputs: Vec<(&str, &str)> = keys.iter().map(|k| (*k, "1")).collect();
    produce_text(&brokers, &topics.input, &inputs);

    let written = read_until(&brokers, &topics.changelog, WAIT, |r| r.len() >= keys.len());
    assert!(
        written.len() >= keys.len(),
        "the state writes reach the changelog"
    );
    // Give a seal every chance to arrive (the failed batch is retried meanwhile).
    let written = read_until(&brokers, &topics.changelog, Duration::from_secs(8), |_| {
        false
    });
    let claims: Vec<_> = written
        .iter()
        .filter(|r| is_seal(r))
        .map(sealed_inputs)
        .filter(|inputs| !inputs.is_empty())
        .collect();
    assert!(
        claims.is_empty(),
        "no seal claims an input while the batch's outputs are refused: {claims:?}"
    );

    broker.alter_topic(&topics.output, &[("max.message.bytes", "1048588")]);
    let expected: BTreeMap<String, i64> = keys.iter().map(|k| (k.to_string(), 1)).collect();
    let outputs = read_until(&brokers, &topics.output, WAIT, |r| {
        last_counts(r) == expected
    });
    assert_eq!(
        last_counts(&outputs),
        expected,
        "every output, once the topic takes them"
    );
    assert!(!host.is_finished(), "the host recovered by itself");
    host.stop().unwrap();
    let written = read_until(&brokers, &topics.changelog, WAIT, |r| r.iter().any(is_seal));
    assert!(
        written.iter().any(is_seal),
        "sealed once the outputs were written"
    );
}

/// Every state entry and timer of `partition` in `store`.
fn entries(store: &StateStore, partition: i32) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let store = store.partition(partition).unwrap();
    let mut entries: BTreeMap<Vec<u8>, Vec<u8>> = store
        .entries()
        .map(|e| {
            let (k, v) = e.unwrap();
            (k.to_vec(), v.to_vec())
        })
        .collect();
    for (timer, due) in store.timers_due(None, Timestamp(i64::MAX - 1)).unwrap() {
        let mut key = b"timer:".to_vec();
        key.extend_from_slice(&timer);
        entries.insert(key, due.0.to_be_bytes().to_vec());
    }
    entries
}

/// Many batches with a durable timer per key, a batch killed with SIGKILL after its writes
/// reached the changelog but before its seal, more batches after the restart, then
/// compaction forced until most seals are gone: a store rebuilt from the changelog alone
/// holds exactly what the live store holds, entry for entry.
#[test]
fn a_store_rebuilt_from_a_compacted_changelog_equals_the_live_store() {
    const PARTITIONS: i32 = 2;
    const ROUNDS: usize = 20;
    let Some(broker) = Kafka::single("compacted_changelog") else {
        return;
    };
    let topics = Topics::new("compacted");
    broker.create_topics(
        &[&topics.input, &topics.output, &topics.expired, &topics.dlq],
        &[],
        PARTITIONS,
    );
    broker.create_topic_with(
        &topics.changelog,
        PARTITIONS,
        &[
            ("cleanup.policy", "compact"),
            ("segment.ms", "200"),
            ("min.cleanable.dirty.ratio", "0.01"),
            ("min.compaction.lag.ms", "0"),
            ("delete.retention.ms", "1000"),
        ],
    );
    let brokers = broker.bootstrap_servers();
    let keys: Vec<String> = (0..30).map(|k| format!("key-{k:02}")).collect();
    let inputs: Vec<(&str, &str)> = (0..ROUNDS)
        .flat_map(|_| keys.iter().map(|k| (k.as_str(), "1")))
        .collect();
    produce_text(&brokers, &topics.input, &inputs);

    let dir = temp_dir("compacted");
    let mut config = counter_config(
        &brokers,
        "compacted",
        &topics,
        dir.join("state"),
        Guarantee::AtLeastOnce,
    );
    config.batch_size = 7;
    config.commit_interval_ms = 10_000;
    let config_path = dir.join("config.json");
    std::fs::write(&config_path, serde_json::to_string(&config).unwrap()).unwrap();
    // The counter's timers (one per key, an hour out) are in the changelog too.
    let mut child = Command::new(binary())
        .args([
            config_path.to_str().unwrap(),
            &topics.output,
            &topics.expired,
        ])
        .env("PARLEY_PAUSE_AT", "before-seal:30")
        .env("PARLEY_EXPIRE_AFTER_MS", "3600000")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    assert!(
        stderr
            .lines()
            .any(|line| line.unwrap().starts_with("PAUSED")),
        "the child reached the pause point"
    );
    // Its producer thread delivers the 30th batch's writes meanwhile.
    std::thread::sleep(Duration::from_secs(2));
    child.kill().unwrap();
    child.wait().unwrap();

    config.commit_interval_ms = 50;
    let host = start_counter(
        config.clone(),
        &topics,
        Some(Millis::hours(1)),
        Arc::new(SystemClock),
    );
    let expected: BTreeMap<String, i64> = keys.iter().map(|k| (k.clone(), ROUNDS as i64)).collect();
    let outputs = read_until(&brokers, &topics.output, WAIT, |r| {
        last_counts(r) == expected
    });
    assert_eq!(last_counts(&outputs), expected, "every input counted once");

    // Compaction keeps the last record per key: wait until at most a quarter of the seals
    // written are left (the active segment and the dirty tail always keep a few).
    let seals_in_changelog = || {
        let records = read_until(&brokers, &topics.changelog, Duration::from_secs(2), |_| {
            false
        });
        records.iter().filter(|r| is_seal(r)).count()
    };
    // Batches hold at most `batch_size` inputs: at least this many seals were written.
    let written = inputs.len() / config.batch_size;
    let compacted = wait_for(WAIT, || {
        // New records roll segments, so that older ones can be cleaned.
        produce_text(&brokers, &topics.input, &[("tick", "0")]);
        seals_in_changelog() * 4 <= written
    });
    assert!(compacted, "the changelog was compacted");
    let tick = BTreeMap::from([("tick".to_owned(), 0)]);
    read_until(&brokers, &topics.output, WAIT, |r| {
        last_counts(r).get("tick") == tick.get("tick")
    });
    host.stop().unwrap();

    let (live, _) = StateStore::open(&config.state_dir).unwrap();
    let (rebuilt, _) = StateStore::open(&temp_dir("compacted-rebuilt")).unwrap();
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", "compacted-rebuild")
        .set("enable.partition.eof", "true")
        .create()
        .unwrap();
    let now: Timestamp = SystemClock.now();
    for partition in 0..PARTITIONS {
        let outcome = restore_partition(
            &consumer,
            &topics.changelog,
            &rebuilt.partition(partition).unwrap(),
            &Metrics::new(),
            now,
            Millis::days(1),
            &std::sync::atomic::AtomicBool::new(false),
        )
        .unwrap();
        assert!(outcome.tail.is_empty(), "nothing after the last seal");
        let (live, rebuilt) = (entries(&live, partition), entries(&rebuilt, partition));
        assert!(!live.is_empty());
        let differ: Vec<_> = live
            .keys()
            .chain(rebuilt.keys())
            .filter(|k| live.get(*k) != rebuilt.get(*k))
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect();
        assert!(
            differ.is_empty(),
            "partition {partition}: the rebuilt store differs at {differ:?}"
        );
    }
}
