//! Consumer lag of every partition of a group's inputs, owned by this instance or not.
//!
//! An instance knows its own partitions' positions, but the lag alert must also fire for a
//! partition no instance owns (all of them down, a member stuck in a rebalance). So a thread
//! reads the group's committed offsets for every partition of the input topics, as
//! `kafka-consumer-groups --describe` does, and sets `parley_consumer_lag{topic,partition}`
//! to the high watermark minus the committed offset (minus the low watermark where the
//! group has committed nothing). It also reads how many members and partitions the group
//! has, which `/readyz` needs to tell a standby from an instance left out of a rebalance.

use crate::metrics::Metrics;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long one round of lookups may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The lag of each partition of `topics` for the group of `consumer` (its `group.id`), as
/// `(topic, partition, lag)`.
pub fn group_lag(
    consumer: &BaseConsumer,
    topics: &[String],
) -> Result<Vec<(String, i32, i64)>, KafkaError> {
    let mut all = TopicPartitionList::new();
    for topic in topics {
        let metadata = consumer.fetch_metadata(Some(topic), TIMEOUT)?;
        for found in metadata.topics().iter().filter(|t| t.name() == topic) {
            for partition in found.partitions() {
                all.add_partition(topic, partition.id());
            }
        }
    }
    let committed = consumer.committed_offsets(all, TIMEOUT)?;
    let mut lags = Vec::with_capacity(committed.count());
    for element in committed.elements() {
        let (topic, partition) = (element.topic(), element.partition());
        let (low, high) = crate::partitions::watermarks(consumer, topic, partition, TIMEOUT)?;
        let position = match element.offset() {
            Offset::Offset(offset) => offset.max(low),
            _ => low,
        };
        lags.push((topic.to_owned(), partition, (high - position).max(0)));
    }
    Ok(lags)
}

/// The members of `group` as the broker describes it (0 when it has none).
pub fn group_members(consumer: &BaseConsumer, group: &str) -> Result<usize, KafkaError> {
    let list = consumer.fetch_group_list(Some(group), TIMEOUT)?;
    Ok(list
        .groups()
        .iter()
        .filter(|g| g.name() == group)
        .map(|g| g.members().len())
        .sum())
}

/// The consumer group a [`LagReporter`] watches.
#[derive(Clone, Debug)]
pub struct Group {
    /// Its `group.id`.
    pub id: String,
    /// The topics it consumes.
    pub topics: Vec<String>,
    /// Whether the assignor keeps partition n of every topic together (a host's
    /// co-partitioned inputs), so that a partition number counts once in the group's
    /// partitions; otherwise every topic partition counts.
    pub co_partitioned: bool,
}

impl Group {
    /// The partitions the group shares among its members, from the lag of each.
    fn partitions(&self, lags: &[(String, i32, i64)]) -> usize {
        if self.co_partitioned {
            lags.iter()
                .map(|(_, partition, _)| partition)
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        } else {
            lags.len()
        }
    }
}

/// A thread that sets, every `every`, the lag gauge of every partition of a group's inputs
/// and the group's size (`parley_group_members`, `parley_group_partitions`, which tell
/// `/readyz` whether an instance assigned nothing is a standby); stops when dropped.
#[derive(Debug)]
pub struct LagReporter {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl LagReporter {
    /// Reports on `group` into `metrics`, with a client made from `client` (its own
    /// consumer: it reads offsets and the group's description, it never joins the group).
    /// The lag of partitions for which `skip` holds is left alone: an instance reports its
    /// own partitions' lag itself, from positions newer than the committed offsets.
    pub fn start(
        client: &ClientConfig,
        group: Group,
        metrics: &Metrics,
        every: Duration,
        skip: impl Fn(i32) -> bool + Send + 'static,
    ) -> Result<LagReporter, KafkaError> {
        let consumer: BaseConsumer = client
            .clone()
            .set("group.id", &group.id)
            .set("enable.auto.commit", "false")
            .create()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let metrics = metrics.clone();
        let thread = std::thread::Builder::new()
            .name("parley-lag".into())
            .spawn(move || {
                while !flag.load(Ordering::SeqCst) {
                    let asked = Instant::now();
                    match group_lag(&consumer, &group.topics) {
                        Ok(lags) => {
                            metrics.group_partitions.set(group.partitions(&lags) as i64);
                            for (topic, partition, lag) in lags {
                                if skip(partition) {
                                    continue;
                                }
                                metrics
                                    .consumer_lag
                                    .with_label_values(&[&topic, &partition.to_string()])
                                    .set(lag);
                            }
                        }
                        Err(error) => tracing::debug!(%error, "consumer lag not read"),
                    }
                    match group_members(&consumer, &group.id) {
                        Ok(members) => metrics.group_members.set(members as i64),
                        Err(error) => tracing::debug!(%error, "group members not read"),
                    }
                    while asked.elapsed() < every && !flag.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            })
            .expect("the lag thread starts");
        Ok(LagReporter {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for LagReporter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::consumer::CommitMode;
    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

    #[test]
    fn every_partition_has_a_lag_whoever_owns_it() {
        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic("in", 3, 1).unwrap();
        let brokers = cluster.bootstrap_servers();
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .create()
            .unwrap();
        for (partition, count) in [(0, 5), (1, 3), (2, 0)] {
            for _ in 0..count {
                producer
                    .send(
                        BaseRecord::<(), str>::to("in")
                            .partition(partition)
                            .payload("x"),
                    )
                    .unwrap();
            }
        }
        producer.flush(Duration::from_secs(10)).unwrap();
        let mut client = ClientConfig::new();
        client.set("bootstrap.servers", &brokers);
        let consumer: BaseConsumer = client
            .clone()
            .set("group.id", "g")
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        let topics = vec!["in".to_owned()];
        let mut lags = group_lag(&consumer, &topics).unwrap();
        lags.sort();
        assert_eq!(
            lags,
            [
                ("in".into(), 0, 5),
                ("in".into(), 1, 3),
                ("in".into(), 2, 0)
            ],
            "nothing committed: every record is lag"
        );
        let mut done = TopicPartitionList::new();
        done.add_partition_offset("in", 0, Offset::Offset(4))
            .unwrap();
        consumer.commit(&done, CommitMode::Sync).unwrap();
        let mut lags = group_lag(&consumer, &topics).unwrap();
        lags.sort();
        assert_eq!(lags[0], ("in".into(), 0, 1), "committed up to 4 of 5");
        assert_eq!(
            lags[1],
            ("in".into(), 1, 3),
            "a partition nobody owns lags still"
        );

        let metrics = Metrics::new();
        let lag = |partition: &str| metrics.consumer_lag.with_label_values(&["in", partition]);
        let group = Group {
            id: "g".into(),
            topics,
            co_partitioned: false,
        };
        let reporter =
            LagReporter::start(&client, group, &metrics, Duration::from_millis(100), |p| {
                p == 2
            })
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while (lag("1").get() != 3 || metrics.group_partitions.get() < 0)
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(reporter);
        assert_eq!(lag("0").get(), 1);
        assert_eq!(lag("1").get(), 3);
        assert_eq!(lag("2").get(), 0, "skipped: never set");
        assert_eq!(metrics.group_partitions.get(), 3);
    }

    #[test]
    fn co_partitioned_inputs_share_their_partition_numbers() {
        let lags: Vec<(String, i32, i64)> = ["a", "b"]
            .iter()
            .flat_map(|topic| (0..4).map(|p| (topic.to_string(), p, 0)))
            .collect();
        let group = |co_partitioned| Group {
            id: "g".into(),
            topics: vec!["a".into(), "b".into()],
            co_partitioned,
        };
        assert_eq!(group(true).partitions(&lags), 4);
        assert_eq!(group(false).partitions(&lags), 8);
    }
}
