//! `parley topics create|check`: every topic of the architecture's table, under the prefix.

use crate::options::Connection;
use crate::roles::{check_brokers, client_config, Role};
use anyhow::anyhow;
use parley_core::topics::{Records, Topic};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;
use std::collections::BTreeMap;
use std::time::Duration;

/// How long admin requests wait.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(15);

/// `min.compaction.lag.ms` of the changelogs: a day.
const CHANGELOG_COMPACTION_LAG_MS: &str = "86400000";

/// One topic to create or check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TopicSpec {
    /// Full name, with the prefix.
    pub(crate) name: String,
    /// `delete` or `compact`.
    pub(crate) cleanup_policy: &'static str,
    /// Extra settings set on creation.
    pub(crate) settings: Vec<(&'static str, &'static str)>,
}

/// Every topic of the catalogue ([`Topic::all`]), under `prefix`.
pub(crate) fn all(prefix: &str) -> Vec<TopicSpec> {
    Topic::all()
        .into_iter()
        .map(|topic| TopicSpec {
            name: topic.with_prefix(prefix),
            cleanup_policy: topic.cleanup().as_str(),
            settings: match topic.records() {
                Records::Changelog => {
                    vec![("min.compaction.lag.ms", CHANGELOG_COMPACTION_LAG_MS)]
                }
                _ => Vec::new(),
            },
        })
        .collect()
}

/// The groups of topics that must have equal partition counts: each keyed role's inputs
/// and its changelog.
pub(crate) fn co_partitioned(prefix: &str) -> Vec<Vec<String>> {
    [Role::Tickets, Role::Router]
        .into_iter()
        .map(|role| {
            let mut group = match role {
                Role::Router => parley_routing::topics(prefix).inputs(),
                _ => parley_tickets::topics(prefix).inputs(),
            };
            group.extend(role.changelog().map(|t| t.with_prefix(prefix)));
            group
        })
        .collect()
}

fn admin(connection: &Connection) -> anyhow::Result<AdminClient<DefaultClientContext>> {
    Ok(client_config(connection).create()?)
}

/// Creates every topic, printing one line per topic; an existing one is left as it is.
pub(crate) async fn create(
    connection: &Connection,
    partitions: i32,
    replication: i32,
) -> anyhow::Result<()> {
    let mut failed = Vec::new();
    for (name, outcome) in create_all(connection, partitions, replication).await? {
        match outcome {
            Ok(created) => println!("{name}: {}", if created { "created" } else { "exists" }),
            Err(code) => {
                println!("{name}: not created: {code}");
                failed.push(name);
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(anyhow!(
            "{} topics not created: {}",
            failed.len(),
            failed.join(", ")
        ))
    }
}

/// Creates every topic and returns, per topic, whether it was created (`false`: it
/// existed) or the broker's error.
pub(crate) async fn create_all(
    connection: &Connection,
    partitions: i32,
    replication: i32,
) -> anyhow::Result<Vec<(String, Result<bool, RDKafkaErrorCode>)>> {
    check_brokers(connection).await?;
    let admin = admin(connection)?;
    let specs = all(&connection.topic_prefix);
    let new: Vec<NewTopic<'_>> = specs
        .iter()
        .map(|spec| {
            let mut topic =
                NewTopic::new(&spec.name, partitions, TopicReplication::Fixed(replication))
                    .set("cleanup.policy", spec.cleanup_policy);
            for (key, value) in &spec.settings {
                topic = topic.set(key, value);
            }
            topic
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
    let results = admin.create_topics(&new, &options).await?;
    Ok(results
        .into_iter()
        .map(|result| match result {
            Ok(name) => (name, Ok(true)),
            Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => (name, Ok(false)),
            Err((name, code)) => (name, Err(code)),
        })
        .collect())
}

/// Compares every topic with what `create` would make; prints one line per topic and fails
/// if anything is missing or differs.
pub(crate) async fn check(connection: &Connection, partitions: i32) -> anyhow::Result<()> {
    check_brokers(connection).await?;
    let client = client_config(connection);
    let counts: BTreeMap<String, usize> = tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = client.create()?;
        let metadata = consumer.fetch_metadata(None, ADMIN_TIMEOUT)?;
        Ok::<_, anyhow::Error>(
            metadata
                .topics()
                .iter()
                .filter(|t| t.error().is_none())
                .map(|t| (t.name().to_owned(), t.partitions().len()))
                .collect(),
        )
    })
    .await??;
    let specs = all(&connection.topic_prefix);
    let admin = admin(connection)?;
    let options = AdminOptions::new().request_timeout(Some(ADMIN_TIMEOUT));
    let mut problems = 0;
    for spec in &specs {
        let Some(&count) = counts.get(&spec.name) else {
            println!("{}: missing", spec.name);
            problems += 1;
            continue;
        };
        let mut differences = Vec::new();
        // The style table is read in full and keeps its count across `parley rescale`.
        let any_count = spec.name == Topic::StyleConfig.with_prefix(&connection.topic_prefix);
        if count != partitions as usize && !any_count {
            differences.push(format!("{count} partitions, expected {partitions}"));
        }
        let policy = match admin
            .describe_configs(&[ResourceSpecifier::Topic(&spec.name)], &options)
            .await
        {
            Ok(mut results) => match results.pop() {
                Some(Ok(resource)) => resource
                    .get("cleanup.policy")
                    .and_then(|entry| entry.value.clone())
                    .ok_or_else(|| "not reported".to_owned()),
                Some(Err(code)) => Err(code.to_string()),
                None => Err("not reported".to_owned()),
            },
            Err(error) => Err(error.to_string()),
        };
        match policy {
            Ok(policy) if policy == spec.cleanup_policy => {}
            Ok(policy) => differences.push(format!(
                "cleanup.policy={policy}, expected {}",
                spec.cleanup_policy
            )),
            Err(error) => differences.push(format!("cleanup.policy cannot be read: {error}")),
        }
        if differences.is_empty() {
            println!(
                "{}: ok ({count} partitions, {})",
                spec.name, spec.cleanup_policy
            );
        } else {
            println!("{}: {}", spec.name, differences.join("; "));
            problems += 1;
        }
    }
    for group in co_partitioned(&connection.topic_prefix) {
        let found: Vec<String> = group
            .iter()
            .filter_map(|t| counts.get(t).map(|n| format!("{t} = {n}")))
            .collect();
        let distinct: std::collections::BTreeSet<usize> = group
            .iter()
            .filter_map(|t| counts.get(t))
            .copied()
            .collect();
        if distinct.len() > 1 {
            println!(
                "co-partitioned topics must have equal partition counts, found {}",
                found.join(", ")
            );
            problems += 1;
        }
    }
    if problems == 0 {
        Ok(())
    } else {
        Err(anyhow!("{problems} topics differ from the expected layout"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_every_topic_once() {
        let specs = all("parley.");
        assert_eq!(specs.len(), 11 + 5 + 5 + 6 + 2);
        let names: std::collections::BTreeSet<&str> =
            specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names.len(), specs.len());
        assert!(names.contains("parley.raw.whatsapp"));
        let compacted: Vec<&str> = specs
            .iter()
            .filter(|s| s.cleanup_policy == "compact")
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(
            compacted,
            [
                "parley.style-config",
                "parley.schedules",
                "parley.sla-policies",
                "parley.routing-config",
                "parley.routing-queues",
                "parley.tickets-changelog",
                "parley.router-changelog"
            ]
        );
    }
}
