//! Which member of a consumer group owns a partition, and where it serves `/state`.
//!
//! A host that serves `/state` advertises the address in its group consumer's `client.id`,
//! as `<name>@<host:port>` ([`advertising_client_id`]). The group coordinator returns every
//! member's client id beside its assignment in one DescribeGroups answer, so
//! [`owner_of_key`] finds a key's owner with a metadata request (the partition count) and a
//! DescribeGroups: no topic of its own to keep, nothing stale after a member leaves (it is
//! no longer in the answer), and the owner is exactly the member the coordinator assigned
//! the partition to. The assignment bytes are Kafka's `ConsumerProtocolAssignment`
//! ([`decode_assignment`]); while the group rebalances, members hold no assignment and
//! the lookup says so.

use crate::partitions::partition_of;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::time::Duration;
use thiserror::Error;

/// A member of a consumer group, as DescribeGroups gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The member id the coordinator gave it.
    pub member_id: String,
    /// Its `client.id`.
    pub client_id: String,
    /// The host the coordinator sees it connect from.
    pub client_host: String,
    /// The `/state` address its client id advertises, if any.
    pub state_address: Option<String>,
    /// Its assigned partitions, by topic.
    pub assignment: Vec<(String, Vec<i32>)>,
}

impl Member {
    /// How the member reads in a message: its client id and host.
    fn describe(&self) -> String {
        format!("{} (host {})", self.client_id, self.client_host)
    }
}

/// The member that owns a key's partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// The partition of the key.
    pub partition: i32,
    /// The member assigned it.
    pub member: Member,
    /// Where it serves `/state`.
    pub state_address: String,
}

/// Why no owner was found.
#[derive(Debug, Error)]
pub enum OwnerError {
    /// The topic is not in the cluster's metadata.
    #[error("topic {topic} not found: {reason}")]
    MissingTopic {
        /// The topic.
        topic: String,
        /// What the metadata said.
        reason: String,
    },
    /// No member of the group holds the partition: the group is empty or rebalancing;
    /// retrying helps once instances have joined.
    #[error(
        "no member of consumer group {group} owns partition {partition} of {topic}: the group \
         is {state} with {} ({}); is an instance running, or is the group rebalancing? retry \
         in a few seconds",
        if members.is_empty() { "no members".to_owned() } else { format!("{} member(s)", members.len()) },
        if members.is_empty() { "none".to_owned() } else { members.join(", ") }
    )]
    NotOwned {
        /// The group.
        group: String,
        /// The group's state (`Empty`, `Stable`, `PreparingRebalance`, ...; `Dead` when it
        /// does not exist).
        state: String,
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// Each member, with its client id and host.
        members: Vec<String>,
    },
    /// The owner advertises no `/state` address: it runs without one, or an older version.
    #[error(
        "member {member} of consumer group {group} owns partition {partition} of {topic} but \
         advertises no /state address in its client id (expected `<name>@<host:port>`): give \
         the address with --addr"
    )]
    NotAdvertised {
        /// The group.
        group: String,
        /// The member, with its client id and host.
        member: String,
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
    },
    /// A member's assignment is not a `ConsumerProtocolAssignment`.
    #[error("member {member} of consumer group {group}: unreadable assignment: {reason}")]
    Assignment {
        /// The group.
        group: String,
        /// The member's client id.
        member: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Kafka failed the request; usually transient.
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
}

/// The client id of a group consumer that advertises `state_address`: `<name>@<address>`.
pub fn advertising_client_id(name: &str, state_address: &str) -> String {
    format!("{name}@{state_address}")
}

/// The `/state` address a client id advertises: what follows its last `@`, if that is a
/// `host:port`.
pub fn advertised_address(client_id: &str) -> Option<&str> {
    let (_, address) = client_id.rsplit_once('@')?;
    let (host, port) = address.rsplit_once(':')?;
    (!host.is_empty() && !host.contains('/') && port.parse::<u16>().is_ok()).then_some(address)
}

/// Decodes a `ConsumerProtocolAssignment` (versions 0 to 3 share the layout): an `int16`
/// version, an array of (topic `string`, partitions `[int32]`), then user data `bytes`,
/// which is ignored.
pub fn decode_assignment(bytes: &[u8]) -> Result<Vec<(String, Vec<i32>)>, String> {
    struct Reader<'a>(&'a [u8]);
    impl Reader<'_> {
        fn take(&mut self, n: usize) -> Result<&[u8], String> {
            if self.0.len() < n {
                return Err(format!("{n} bytes expected, {} left", self.0.len()));
            }
            let (head, tail) = self.0.split_at(n);
            self.0 = tail;
            Ok(head)
        }
        fn i16(&mut self) -> Result<i16, String> {
            Ok(i16::from_be_bytes(self.take(2)?.try_into().expect("two")))
        }
        fn i32(&mut self) -> Result<i32, String> {
            Ok(i32::from_be_bytes(self.take(4)?.try_into().expect("four")))
        }
        fn count(&mut self) -> Result<usize, String> {
            let n = self.i32()?;
            usize::try_from(n.max(0)).map_err(|_| format!("count {n}"))
        }
    }
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let mut reader = Reader(bytes);
    let version = reader.i16()?;
    if version < 0 {
        return Err(format!("version {version}"));
    }
    let topics = reader.count()?;
    let mut assignment = Vec::with_capacity(topics.min(1024));
    for _ in 0..topics {
        let length = reader.i16()?;
        let name = reader.take(usize::try_from(length.max(0)).unwrap_or(0))?;
        let name = String::from_utf8(name.to_vec()).map_err(|_| "a topic name not UTF-8")?;
        let count = reader.count()?;
        let mut partitions = Vec::with_capacity(count.min(4096));
        for _ in 0..count {
            partitions.push(reader.i32()?);
        }
        assignment.push((name, partitions));
    }
    Ok(assignment)
}

/// The members of `group` and the group's state, from one DescribeGroups.
pub fn describe_group(
    client: &ClientConfig,
    group: &str,
    timeout: Duration,
) -> Result<(String, Vec<Member>), OwnerError> {
    let consumer: BaseConsumer = client.create()?;
    let list = consumer.fetch_group_list(Some(group), timeout)?;
    let Some(found) = list.groups().iter().find(|g| g.name() == group) else {
        return Ok(("Dead".to_owned(), Vec::new()));
    };
    let mut members = Vec::with_capacity(found.members().len());
    for member in found.members() {
        let assignment =
            decode_assignment(member.assignment().unwrap_or_default()).map_err(|reason| {
                OwnerError::Assignment {
                    group: group.to_owned(),
                    member: member.client_id().to_owned(),
                    reason,
                }
            })?;
        members.push(Member {
            member_id: member.id().to_owned(),
            client_id: member.client_id().to_owned(),
            client_host: member.client_host().to_owned(),
            state_address: advertised_address(member.client_id()).map(str::to_owned),
            assignment,
        });
    }
    Ok((found.state().to_owned(), members))
}

/// The member of `group` that owns `key`'s partition of `topic` (murmur2 of the key over the
/// topic's partition count, as parley produces it), with its `/state` address.
pub fn owner_of_key(
    client: &ClientConfig,
    group: &str,
    topic: &str,
    key: &[u8],
    timeout: Duration,
) -> Result<Owner, OwnerError> {
    let consumer: BaseConsumer = client.create()?;
    let metadata = consumer.fetch_metadata(Some(topic), timeout)?;
    let missing = |reason: String| OwnerError::MissingTopic {
        topic: topic.to_owned(),
        reason,
    };
    let found = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .ok_or_else(|| missing("not in the metadata".to_owned()))?;
    if let Some(error) = found.error() {
        return Err(missing(format!("{error:?}")));
    }
    if found.partitions().is_empty() {
        return Err(missing("no partitions".to_owned()));
    }
    let partition = partition_of(key, found.partitions().len() as i32);
    let (state, members) = describe_group(client, group, timeout)?;
    let owner = members.iter().find(|m| {
        m.assignment
            .iter()
            .any(|(t, partitions)| t == topic && partitions.contains(&partition))
    });
    let Some(member) = owner else {
        return Err(OwnerError::NotOwned {
            group: group.to_owned(),
            state,
            topic: topic.to_owned(),
            partition,
            members: members.iter().map(Member::describe).collect(),
        });
    };
    let Some(state_address) = member.state_address.clone() else {
        return Err(OwnerError::NotAdvertised {
            group: group.to_owned(),
            member: member.describe(),
            topic: topic.to_owned(),
            partition,
        });
    };
    Ok(Owner {
        partition,
        member: member.clone(),
        state_address,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `ConsumerProtocolAssignment` of `version` holding `topics`.
    fn encode(version: i16, topics: &[(&str, &[i32])]) -> Vec<u8> {
        let mut bytes = version.to_be_bytes().to_vec();
        bytes.extend((topics.len() as i32).to_be_bytes());
        for (topic, partitions) in topics {
            bytes.extend((topic.len() as i16).to_be_bytes());
            bytes.extend(topic.as_bytes());
            bytes.extend((partitions.len() as i32).to_be_bytes());
            for p in *partitions {
                bytes.extend(p.to_be_bytes());
            }
        }
        bytes.extend((-1i32).to_be_bytes());
        bytes
    }

    #[test]
    fn assignments_decode_in_every_version() {
        for version in 0..=3 {
            let bytes = encode(version, &[("p.a", &[0, 3]), ("p.b", &[3])]);
            assert_eq!(
                decode_assignment(&bytes).unwrap(),
                vec![("p.a".to_owned(), vec![0, 3]), ("p.b".to_owned(), vec![3])]
            );
        }
        assert_eq!(decode_assignment(&[]).unwrap(), Vec::new());
        let bytes = encode(0, &[("p.a", &[0, 3])]);
        let error = decode_assignment(&bytes[..bytes.len() - 8]).unwrap_err();
        assert!(error.contains("4 bytes expected"), "{error}");
    }

    #[test]
    fn the_address_follows_the_last_at_sign() {
        let id = advertising_client_id("tickets-0", "10.1.2.3:9464");
        assert_eq!(id, "tickets-0@10.1.2.3:9464");
        assert_eq!(advertised_address(&id), Some("10.1.2.3:9464"));
        assert_eq!(
            advertised_address("a@b@[::1]:9465"),
            Some("[::1]:9465"),
            "a name may hold an @"
        );
        for id in ["rdkafka", "tickets-0@", "x@host", "x@:9464", "x@host:http"] {
            assert_eq!(advertised_address(id), None, "{id}");
        }
    }
}
