//! The runtime against librdkafka's in-process mock cluster: restore, rebalances, timers, DLQ.
//!
//! The mock keeps about 5 MiB per partition and does not implement transactions faithfully,
//! so these tests run `at_least_once` with small volumes; exactly-once is tested on Apache
//! Kafka (`crash.rs`, `kafka.rs`).

use parley_core::{Millis, Timestamp};
use parley_runtime::dlq::headers;
use parley_runtime::{Clock, Guarantee, ManualClock, SystemClock};
use parley_testkit::counter::*;
use parley_testkit::mock::{self, Mock};
use parley_testkit::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const PARTITIONS: i32 = 4;
const WAIT: Duration = Duration::from_secs(60);

fn cluster(topics: &Topics) -> Mock {
    mock::cluster(&topics.all(), PARTITIONS)
}

fn increments(keys: &[&str], rounds: usize) -> Vec<(String, String)> {
    (0..rounds)
        .flat_map(|_| keys.iter().map(|k| (k.to_string(), "1".to_string())))
        .collect()
}

fn send(brokers: &str, topic: &str, records: &[(String, String)]) {
    let borrowed: Vec<(&str, &str)> = records
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    produce_text(brokers, topic, &borrowed);
}

fn counts_reach(
    brokers: &str,
    topic: &str,
    expected: &BTreeMap<String, i64>,
) -> BTreeMap<String, i64> {
    let records = read_until(brokers, topic, WAIT, |r| {
        let counts = last_counts(r);
        expected.iter().all(|(k, v)| counts.get(k) == Some(v))
    });
    last_counts(&records)
}

const KEYS: [&str; 8] = ["a", "b", "c", "d", "e", "f", "g", "h"];

fn expect_all(n: i64) -> BTreeMap<String, i64> {
    KEYS.iter().map(|k| (k.to_string(), n)).collect()
}

#[test]
fn state_survives_restart_and_is_rebuilt_from_the_changelog_alone() {
    let topics = Topics::new("restart");
    let cluster = cluster(&topics);
    let brokers = cluster.bootstrap_servers();
    let dir = temp_dir("restart");
    let config = counter_config(
        &brokers,
        "restart",
        &topics,
        dir.clone(),
        Guarantee::AtLeastOnce,
    );

    let host = start_counter(config.clone(), &topics, None, Arc::new(SystemClock));
    send(&brokers, &topics.input, &increments(&KEYS, 3));
    assert_eq!(
        counts_reach(&brokers, &topics.output, &expect_all(3)),
        expect_all(3)
    );
    host.stop().unwrap();

    // Same state directory: restore resumes from the offset stored in sled.
    let host = start_counter(config.clone(), &topics, None, Arc::new(SystemClock));
    send(&brokers, &topics.input, &increments(&KEYS, 2));
    assert_eq!(
        counts_reach(&brokers, &topics.output, &expect_all(5)),
        expect_all(5)
    );
    host.stop().unwrap();

    // An empty state directory (a new machine): the changelog alone rebuilds the counts.
    let fresh = counter_config(
        &brokers,
        "restart",
        &topics,
        temp_dir("restart-fresh"),
        Guarantee::AtLeastOnce,
    );
    let host = start_counter(fresh, &topics, None, Arc::new(SystemClock));
    send(&brokers, &topics.input, &increments(&KEYS, 1));
    assert_eq!(
        counts_reach(&brokers, &topics.output, &expect_all(6)),
        expect_all(6)
    );
    assert!(
        host.metrics().restore_records.get() > 0,
        "the fresh instance replayed the changelog"
    );
    host.stop().unwrap();

    // A corrupt database is discarded and rebuilt.
    std::fs::write(dir.join("conf"), b"\xff garbage").unwrap();
    std::fs::write(dir.join("db"), b"garbage").unwrap();
    let host = start_counter(config, &topics, None, Arc::new(SystemClock));
    send(&brokers, &topics.input, &increments(&KEYS, 1));
    assert_eq!(
        counts_reach(&brokers, &topics.output, &expect_all(7)),
        expect_all(7)
    );
    host.stop().unwrap();
}

#[test]
fn partitions_move_between_two_instances_and_state_follows() {
    let topics = Topics::new("moving");
    let cluster = cluster(&topics);
    let brokers = cluster.bootstrap_servers();
    let config = |name: &str| {
        counter_config(
            &brokers,
            "moving",
            &topics,
            temp_dir(name),
            Guarantee::AtLeastOnce,
        )
    };

    let first = start_counter(config("first"), &topics, None, Arc::new(SystemClock));
    send(&brokers, &topics.input, &increments(&KEYS, 2));
    assert_eq!(
        counts_reach(&brokers, &topics.output, &expect_all(2)),
        expect_all(2)
    );

    // A second instance joins: some partitions move to it, with their state.
    let second = start_counter(config("second"), &topics, None, Arc::new(SystemClock));
    assert!(
        wait_for(WAIT, || second
            .metrics()
            .rebalances
            .with_label_values(&["assigned"])
            .get()
            > 0
            && first
                .metrics()
                .rebalances
                .with_label_values(&["revoked"])
                .get()
                > 0),
        "the second instance got partitions from the first"
    );
    send(&brokers, &topics.input, &increments(&KEYS, 2));
    assert_eq!(
        counts_reach(&brokers, &topics.output, &expect_all(4)),
        expect_all(4)
    );
    assert!(
        second
            .metrics()
            .records_in
            .with_label_values(&[&topics.input])
            .get()
            > 0,
        "both instances work"
    );

    // The first leaves: everything moves to the second.
    first.stop().unwrap();
    send(&brokers, &topics.input, &increments(&KEYS, 1));
    assert_eq!(
        counts_reach(&brokers, &topics.output, &expect_all(5)),
        expect_all(5)
    );
    second.stop().unwrap();
}

#[test]
fn undecodable_and_rejected_records_go_to_the_dlq_and_processing_continues() {
    let topics = Topics::new("dlq");
    let cluster = cluster(&topics);
    let brokers = cluster.bootstrap_servers();
    let config = counter_config(
        &brokers,
        "dlq",
        &topics,
        temp_dir("dlq"),
        Guarantee::AtLeastOnce,
    );
    let host = start_counter(config, &topics, None, Arc::new(SystemClock));
    produce_text(
        &brokers,
        &topics.input,
        &[("a", "not a number"), ("a", "-4"), ("a", "2")],
    );
    let expected = BTreeMap::from([("a".to_owned(), 2)]);
    assert_eq!(counts_reach(&brokers, &topics.output, &expected), expected);
    let dead = read_until(&brokers, &topics.dlq, WAIT, |r| r.len() >= 2);
    assert_eq!(dead.len(), 2);
    assert_eq!(dead[0].text(), "not a number");
    assert_eq!(dead[0].headers[headers::STAGE], "decode");
    assert_eq!(dead[0].headers[headers::TOPIC], topics.input);
    assert_eq!(dead[1].text(), "-4");
    assert_eq!(dead[1].headers[headers::STAGE], "process");
    assert_eq!(dead[1].headers[headers::REASON], "negative");
    assert_eq!(
        dead[0].headers[headers::PARTITION],
        dead[1].headers[headers::PARTITION]
    );
    let offsets: Vec<i64> = dead
        .iter()
        .map(|r| r.headers[headers::OFFSET].parse().unwrap())
        .collect();
    assert_eq!(offsets[1], offsets[0] + 1);
    assert_eq!(
        host.metrics()
            .dlq_records
            .with_label_values(&["decode", "undecodable"])
            .get(),
        1
    );
    assert_eq!(
        host.metrics()
            .dlq_records
            .with_label_values(&["process", "negative"])
            .get(),
        1
    );
    host.stop().unwrap();
}

#[test]
fn timers_survive_a_restart_and_fire_once() {
    let topics = Topics::new("timers");
    let cluster = cluster(&topics);
    let brokers = cluster.bootstrap_servers();
    let dir = temp_dir("timers");
    let config = counter_config(&brokers, "timers", &topics, dir, Guarantee::AtLeastOnce);
    // Not on a whole second: the wheel fires at the second after due, the processor sees due.
    let start = Timestamp(1_700_000_000_250);
    let clock = ManualClock::new(start);
    let expire = Some(Millis::minutes(10));

    let host = start_counter(config.clone(), &topics, expire, Arc::new(clock.clone()));
    produce_text_at(&brokers, &topics.input, &[("a", "1"), ("b", "1")], start);
    let expected = BTreeMap::from([("a".to_owned(), 1), ("b".to_owned(), 1)]);
    assert_eq!(counts_reach(&brokers, &topics.output, &expected), expected);
    assert!(
        wait_for(WAIT, || host.metrics().timers_pending.get() == 2),
        "both timers are durable"
    );
    host.stop().unwrap();

    // Ten minutes pass while the instance is down; the restarted instance fires both, once.
    clock.advance(Millis::minutes(10).0 + 1_000);
    let host = start_counter(config.clone(), &topics, expire, Arc::new(clock.clone()));
    let fired = read_until(&brokers, &topics.expired, WAIT, |r| r.len() >= 2);
    let mut values: Vec<String> = fired.iter().map(Read::text).collect();
    values.sort();
    assert_eq!(values, ["a=1", "b=1"]);
    let due = start + Millis::minutes(10);
    assert!(
        fired.iter().all(|r| r.timestamp == Some(due.0)),
        "a timer's outputs are made at its due time, not when the clock got there: {fired:?}"
    );
    assert!(wait_for(WAIT, || host.metrics().timers_fired.get() == 2
        && host.metrics().timers_pending.get() == 0));
    host.stop().unwrap();

    // After another restart and more time, nothing fires again.
    clock.advance(Millis::hours(1).0);
    let host = start_counter(config, &topics, expire, Arc::new(clock.clone()));
    produce_text_at(&brokers, &topics.input, &[("c", "1")], clock.now());
    let expected = BTreeMap::from([("c".to_owned(), 1)]);
    assert_eq!(
        counts_reach(&brokers, &topics.output, &expected).get("c"),
        Some(&1)
    );
    assert_eq!(host.metrics().timers_fired.get(), 0);
    host.stop().unwrap();
    let again = read_until(&brokers, &topics.expired, Duration::from_secs(3), |_| false);
    assert_eq!(again.len(), 2, "the fired timers stayed fired");
}

#[test]
fn records_are_handled_at_their_timestamps_and_future_ones_at_the_clock_plus_the_tolerance() {
    let topics = Topics::new("event-time");
    let cluster = cluster(&topics);
    let brokers = cluster.bootstrap_servers();
    let dir = temp_dir("event-time");
    let config = counter_config(&brokers, "event-time", &topics, dir, Guarantee::AtLeastOnce);
    assert_eq!(config.time.max_ahead_ms, 60_000);
    let now = Timestamp(1_700_000_000_000);
    let clock = ManualClock::new(now);
    let expire = Some(Millis::minutes(10));
    let host = start_counter(config, &topics, expire, Arc::new(clock.clone()));

    let day = Millis::hours(24);
    let past = Timestamp(now.0 - day.0);
    let stamps = [past, now + day];
    produce_text_with(
        &brokers,
        &topics.input,
        &[("past", "1"), ("future", "1")],
        |i| Some(stamps[i]),
    );
    let outputs = read_until(&brokers, &topics.output, WAIT, |r| r.len() >= 2);
    let stamp = |records: &[Read], key: &str| {
        records
            .iter()
            .find(|r| r.key == key)
            .and_then(|r| r.timestamp)
    };
    assert_eq!(stamp(&outputs, "past"), Some(past.0), "its own time");
    assert_eq!(
        stamp(&outputs, "future"),
        Some(now.0 + 60_000),
        "no more than max_ahead_ms past the clock"
    );
    assert_eq!(host.metrics().records_ahead.get(), 1);

    // The past record's timer was due when it was set: it fires at once, at its due time.
    let expired = read_until(&brokers, &topics.expired, WAIT, |r| !r.is_empty());
    assert_eq!(
        expired
            .iter()
            .map(|r| (r.key.as_str(), r.timestamp))
            .collect::<Vec<_>>(),
        [("past", Some((past + Millis::minutes(10)).0))]
    );
    // The future one's is set ten minutes after the time it was handled at.
    clock.set(now + Millis::minutes(11) + Millis(1_000));
    let expired = read_until(&brokers, &topics.expired, WAIT, |r| r.len() >= 2);
    assert_eq!(
        stamp(&expired, "future"),
        Some(now.0 + 60_000 + Millis::minutes(10).0)
    );
    host.stop().unwrap();
}

/// Two co-partitioned inputs: partition n of both lands on the same instance (the `range`
/// assignor), so one key's increments from either topic meet in the same state.
#[test]
fn co_partitioned_inputs_share_state_across_two_instances() {
    let topics = Topics::new("copart");
    let cluster = cluster(&topics);
    let second_input = "copart.in2".to_owned();
    cluster.create_topic(&second_input, PARTITIONS, 1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let config = |name: &str| {
        let mut config = counter_config(
            &brokers,
            "copart",
            &topics,
            temp_dir(name),
            Guarantee::AtLeastOnce,
        );
        config.input_topics.push(second_input.clone());
        config
    };
    let first = start_counter(config("copart-1"), &topics, None, Arc::new(SystemClock));
    let second = start_counter(config("copart-2"), &topics, None, Arc::new(SystemClock));
    let assigned =
        |host: &RunningHost, kind: &str| host.metrics().rebalances.with_label_values(&[kind]).get();
    assert!(
        wait_for(WAIT, || assigned(&second, "assigned") > 0
            && assigned(&first, "assigned") > 0),
        "the group settled with both instances"
    );
    send(&brokers, &topics.input, &increments(&KEYS, 2));
    send(&brokers, &second_input, &increments(&KEYS, 3));
    assert_eq!(
        counts_reach(&brokers, &topics.output, &expect_all(5)),
        expect_all(5)
    );
    for host in [&first, &second] {
        let read = |topic: &str| host.metrics().records_in.with_label_values(&[topic]).get();
        assert!(
            read(&topics.input) > 0 && read(&second_input) > 0,
            "each instance reads both inputs"
        );
    }
    first.stop().unwrap();
    second.stop().unwrap();
}

/// A keyed record on a partition its key does not belong to (a producer with another
/// partitioner) is refused as `wrong_partition`, naming the partitioner to use; the key's
/// own records are counted.
#[test]
fn a_record_on_a_partition_its_key_does_not_belong_to_goes_to_the_dlq() {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let topics = Topics::new("misplaced");
    let cluster = cluster(&topics);
    let brokers = cluster.bootstrap_servers();
    let config = counter_config(
        &brokers,
        "misplaced",
        &topics,
        temp_dir("misplaced"),
        Guarantee::AtLeastOnce,
    );
    let host = start_counter(config, &topics, None, Arc::new(SystemClock));
    let home = parley_runtime::partitions::partition_of(b"a", PARTITIONS);
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    producer
        .send(
            BaseRecord::to(&topics.input)
                .key("a")
                .payload("5")
                .partition((home + 1) % PARTITIONS),
        )
        .unwrap();
    producer.flush(Duration::from_secs(10)).unwrap();
    produce_text(&brokers, &topics.input, &[("a", "2")]);
    let expected = BTreeMap::from([("a".to_owned(), 2)]);
    assert_eq!(counts_reach(&brokers, &topics.output, &expected), expected);
    let dead = read_until(&brokers, &topics.dlq, WAIT, |r| !r.is_empty());
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].text(), "5");
    assert_eq!(dead[0].headers[headers::REASON], "wrong_partition");
    assert!(
        dead[0].headers[headers::ERROR].contains("murmur2_random"),
        "{:?}",
        dead[0].headers
    );
    host.stop().unwrap();
}

/// An instance reports the lag of the partitions it does not own too, from the group's
/// committed offsets: here another member of its group holds half of them and reads
/// nothing, so their lag is every record produced to them.
#[test]
fn the_lag_of_partitions_another_member_holds_is_reported() {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let topics = Topics::new("orphans");
    let cluster = cluster(&topics);
    let brokers = cluster.bootstrap_servers();
    let stuck: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", "orphans")
        .set("enable.auto.commit", "false")
        .set("partition.assignment.strategy", "cooperative-sticky")
        .create()
        .unwrap();
    stuck.subscribe(&[&topics.input]).unwrap();
    let config = counter_config(
        &brokers,
        "orphans",
        &topics,
        temp_dir("orphans"),
        Guarantee::AtLeastOnce,
    );
    let host = start_counter(config, &topics, None, Arc::new(SystemClock));
    let shared = wait_for(WAIT, || {
        let _ = stuck.poll(Duration::from_millis(100));
        stuck.assignment().is_ok_and(|a| a.count() > 0)
            && host
                .metrics()
                .rebalances
                .with_label_values(&["assigned"])
                .get()
                > 0
    });
    assert!(shared, "the group has both members");
    let held: Vec<i32> = stuck
        .assignment()
        .unwrap()
        .elements()
        .iter()
        .map(|e| e.partition())
        .collect();
    let keys: Vec<String> = (0..40).map(|k| format!("k{k}")).collect();
    let records: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), "1")).collect();
    produce_text(&brokers, &topics.input, &records);
    let expected = |partition: i32| {
        keys.iter()
            .filter(|k| {
                parley_runtime::partitions::partition_of(k.as_bytes(), PARTITIONS) == partition
            })
            .count() as i64
    };
    let lag = |partition: i32| {
        host.metrics()
            .consumer_lag
            .with_label_values(&[&topics.input, &partition.to_string()])
            .get()
    };
    let reported = wait_for(WAIT, || {
        let _ = stuck.poll(Duration::from_millis(10));
        held.iter().all(|p| lag(*p) == expected(*p))
    });
    assert!(
        reported,
        "held {held:?}: lag {:?}, expected {:?}",
        held.iter().map(|p| lag(*p)).collect::<Vec<_>>(),
        held.iter().map(|p| expected(*p)).collect::<Vec<_>>()
    );
    assert!(held.iter().any(|p| expected(*p) > 0));
    host.stop().unwrap();
}
