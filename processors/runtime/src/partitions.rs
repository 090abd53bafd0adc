//! The start-up check that co-partitioned topics have equal partition counts (a mismatch
//! would silently send one key's records to different instances), and a partition's
//! watermarks read patiently.

use crate::error::RuntimeError;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use std::time::{Duration, Instant};

/// A partition's low and high watermarks, asked again while its leader is not known yet
/// (a topic just created, a leader election after a broker failed), up to `timeout`.
pub fn watermarks<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
    partition: i32,
    timeout: Duration,
) -> Result<(i64, i64), KafkaError> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match consumer.fetch_watermarks(topic, partition, left.max(Duration::from_millis(100))) {
            Err(KafkaError::MetadataFetch(code))
                if leaderless(code) && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(100));
            }
            other => return other,
        }
    }
}

/// Whether `code` says a partition has no usable leader for the moment.
fn leaderless(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::NotLeaderForPartition
            | RDKafkaErrorCode::LeaderNotAvailable
            | RDKafkaErrorCode::UnknownTopicOrPartition
            | RDKafkaErrorCode::NotCoordinator
            | RDKafkaErrorCode::RequestTimedOut
    )
}

/// Fetches the partition count of each topic through `client` and refuses unequal counts,
/// naming every topic with its count.
pub fn check_co_partitioned(
    client: &ClientConfig,
    topics: &[String],
    timeout: Duration,
) -> Result<Vec<(String, usize)>, RuntimeError> {
    let consumer: BaseConsumer = client.create()?;
    let mut counts = Vec::with_capacity(topics.len());
    for topic in topics {
        let metadata = consumer.fetch_metadata(Some(topic), timeout)?;
        let found = metadata.topics().iter().find(|t| t.name() == topic);
        let Some(found) = found else {
            return Err(RuntimeError::MissingTopic {
                topic: topic.clone(),
                reason: "not in the broker's metadata".into(),
            });
        };
        if let Some(error) = found.error() {
            return Err(RuntimeError::MissingTopic {
                topic: topic.clone(),
                reason: format!("{error:?}"),
            });
        }
        if found.partitions().is_empty() {
            return Err(RuntimeError::MissingTopic {
                topic: topic.clone(),
                reason: "has no partitions".into(),
            });
        }
        counts.push((topic.clone(), found.partitions().len()));
    }
    if counts.windows(2).any(|w| w[0].1 != w[1].1) {
        let counts = counts
            .iter()
            .map(|(t, n)| format!("{t} = {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(RuntimeError::NotCoPartitioned { counts });
    }
    Ok(counts)
}
