//! The start-up check that co-partitioned topics have equal partition counts: a mismatch
//! would silently send one key's records to different instances.

use crate::error::RuntimeError;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::time::Duration;

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
