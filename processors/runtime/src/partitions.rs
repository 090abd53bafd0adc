//! The start-up check that co-partitioned topics have equal partition counts (a mismatch
//! would silently send one key's records to different instances), a partition's
//! watermarks read patiently, and the partition a key belongs to.

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

/// Kafka's `Utils.murmur2`, as the Java client's default partitioner and librdkafka's
/// `murmur2_random` use it.
pub fn murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes(chunk.try_into().expect("four bytes"));
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition of a keyed record among `partitions`, as parley and Java clients produce
/// it (murmur2, positive).
pub fn partition_of(key: &[u8], partitions: i32) -> i32 {
    (murmur2(key) & 0x7fff_ffff) % partitions.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_kafkas_test_vectors() {
        // From Kafka's UtilsTest.testMurmur2.
        for (input, hash) in [
            (&b"21"[..], -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
        ] {
            assert_eq!(murmur2(input), hash, "{}", String::from_utf8_lossy(input));
        }
    }
}
