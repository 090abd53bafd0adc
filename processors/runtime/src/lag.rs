//! Consumer lag of every partition of a group's inputs, owned by this instance or not.
//!
//! An instance knows its own partitions' positions, but the lag alert must also fire for a
//! partition no instance owns (all of them down, a member stuck in a rebalance). So a thread
//! reads the group's committed offsets for every partition of the input topics, as
//! `kafka-consumer-groups --describe` does, and sets `parley_consumer_lag{topic,partition}`
//! to the high watermark minus the committed offset (minus the low watermark where the
//! group has committed nothing).

use prometheus::IntGaugeVec;
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

/// A thread that sets the lag gauge of every partition of a group's inputs every `every`;
/// stops when dropped.
#[derive(Debug)]
pub struct LagReporter {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl LagReporter {
    /// Reports the lag of `group` over `topics` into `gauge`, with a client made from
    /// `client` (its own consumer: it reads offsets, it never joins the group).
    pub fn start(
        client: &ClientConfig,
        group: &str,
        topics: Vec<String>,
        gauge: IntGaugeVec,
        every: Duration,
    ) -> Result<LagReporter, KafkaError> {
        Self::start_except(client, group, topics, gauge, every, |_| false)
    }

    /// As [`LagReporter::start`], leaving alone the partitions for which `skip` holds (an
    /// instance reports its own partitions' lag itself, from positions newer than the
    /// committed offsets).
    pub fn start_except(
        client: &ClientConfig,
        group: &str,
        topics: Vec<String>,
        gauge: IntGaugeVec,
        every: Duration,
        skip: impl Fn(i32) -> bool + Send + 'static,
    ) -> Result<LagReporter, KafkaError> {
        let consumer: BaseConsumer = client
            .clone()
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .create()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("parley-lag".into())
            .spawn(move || {
                while !flag.load(Ordering::SeqCst) {
                    let asked = Instant::now();
                    match group_lag(&consumer, &topics) {
                        Ok(lags) => {
                            for (topic, partition, lag) in lags {
                                if skip(partition) {
                                    continue;
                                }
                                gauge
                                    .with_label_values(&[&topic, &partition.to_string()])
                                    .set(lag);
                            }
                        }
                        Err(error) => tracing::debug!(%error, "consumer lag not read"),
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

        let gauge =
            IntGaugeVec::new(prometheus::Opts::new("lag", "lag"), &["topic", "partition"]).unwrap();
        let reporter = LagReporter::start(
            &client,
            "g",
            topics,
            gauge.clone(),
            Duration::from_millis(100),
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while gauge.with_label_values(&["in", "1"]).get() != 3 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(reporter);
        assert_eq!(gauge.with_label_values(&["in", "0"]).get(), 1);
        assert_eq!(gauge.with_label_values(&["in", "1"]).get(), 3);
    }
}
