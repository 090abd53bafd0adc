//! Client recipes: every Kafka client of a parley process starts from one of these, so that
//! the settings its guarantees depend on are written once.
//!
//! A recipe sets its defaults only where the operator's `librdkafka` settings (already in
//! the [`base`]) say nothing, and then the settings it cannot do without, whatever the
//! operator set.

use rdkafka::ClientConfig;
use std::collections::BTreeMap;

/// The group membership defaults of every consumer that joins a group (a `librdkafka`
/// setting overrides them): a member that stops heartbeating loses its partitions after
/// 10 s, not librdkafka's 45 s, so a killed instance's partitions move on in seconds.
pub const GROUP_DEFAULTS: &[(&str, &str)] = &[
    ("session.timeout.ms", "10000"),
    ("heartbeat.interval.ms", "3000"),
];

/// The transaction defaults of an exactly-once host's producer (a `librdkafka` setting
/// overrides them): the coordinator aborts a transaction left open for 10 s, not
/// librdkafka's 60 s, as Kafka Streams does. A killed or frozen instance's last batch holds
/// back `read_committed` readers of its outputs and changelog until it is aborted, since
/// the instance that takes its partitions writes with a transactional id of its own.
pub const TRANSACTION_DEFAULTS: &[(&str, &str)] = &[("transaction.timeout.ms", "10000")];

/// What every client of a process shares: the brokers and the operator's `librdkafka`
/// settings.
pub fn base(brokers: &str, librdkafka: &BTreeMap<String, String>) -> ClientConfig {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", brokers);
    for (key, value) in librdkafka {
        client.set(key, value);
    }
    client
}

/// A producer of keyed records: idempotent, and partitioned like the Java client
/// (`murmur2_random`), so that a key lands where Kafka Streams and every other Java
/// producer put it and co-partitioned topics stay aligned. Lingers 5 ms unless the operator
/// says otherwise.
pub fn keyed_producer(base: &ClientConfig) -> ClientConfig {
    let mut client = base.clone();
    set_default(&mut client, "linger.ms", "5");
    client
        .set("enable.idempotence", "true")
        .set("partitioner", "murmur2_random");
    client
}

/// A transactional producer with id `transactional_id`, built on [`keyed_producer`], with
/// [`TRANSACTION_DEFAULTS`].
pub fn transactional_producer(base: &ClientConfig, transactional_id: &str) -> ClientConfig {
    let mut client = keyed_producer(base);
    for (key, value) in TRANSACTION_DEFAULTS {
        set_default(&mut client, key, value);
    }
    client.set("transactional.id", transactional_id);
    client
}

/// A member of the consumer group `group_id` that stores and commits its offsets itself
/// and starts at the earliest offset where the group has none, with [`GROUP_DEFAULTS`].
pub fn group_consumer(base: &ClientConfig, group_id: &str, assignor: &str) -> ClientConfig {
    let mut client = base.clone();
    with_group_defaults(&mut client);
    client
        .set("group.id", group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("partition.assignment.strategy", assignor);
    client
}

/// Sets each of [`GROUP_DEFAULTS`] that `client` does not set already.
pub fn with_group_defaults(client: &mut ClientConfig) -> &mut ClientConfig {
    for (key, value) in GROUP_DEFAULTS {
        set_default(client, key, value);
    }
    client
}

/// Sets `key` unless `client` sets it already.
pub fn set_default(client: &mut ClientConfig, key: &str, value: &str) {
    if client.get(key).is_none() {
        client.set(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn group_defaults_give_way_to_the_operator() {
        let base = base("b:9092", &settings(&[("session.timeout.ms", "45000")]));
        let client = group_consumer(&base, "g", "range");
        assert_eq!(client.get("session.timeout.ms"), Some("45000"));
        assert_eq!(client.get("heartbeat.interval.ms"), Some("3000"));
        assert_eq!(client.get("group.id"), Some("g"));
        assert_eq!(client.get("partition.assignment.strategy"), Some("range"));
    }

    #[test]
    fn a_keyed_producer_keeps_the_operators_linger_and_never_its_partitioner() {
        let operator = settings(&[("linger.ms", "50"), ("partitioner", "random")]);
        let client = keyed_producer(&base("b:9092", &operator));
        assert_eq!(client.get("linger.ms"), Some("50"));
        assert_eq!(client.get("partitioner"), Some("murmur2_random"));
        assert_eq!(client.get("enable.idempotence"), Some("true"));
        assert_eq!(client.get("bootstrap.servers"), Some("b:9092"));
    }

    #[test]
    fn a_transactional_producer_times_out_in_10_s_unless_the_operator_says_otherwise() {
        let client = transactional_producer(&base("b:9092", &settings(&[])), "g-1");
        assert_eq!(client.get("transaction.timeout.ms"), Some("10000"));
        assert_eq!(client.get("transactional.id"), Some("g-1"));
        assert_eq!(client.get("enable.idempotence"), Some("true"));
        let operator = settings(&[("transaction.timeout.ms", "60000")]);
        let client = transactional_producer(&base("b:9092", &operator), "g-1");
        assert_eq!(client.get("transaction.timeout.ms"), Some("60000"));
    }
}
