//! `parley rescale --partitions M [--dry-run]`: takes a drained and stopped pipeline from N
//! partitions to M, moving every keyed role's state and timers to their new partitions.
//!
//! The order, and why it is safe to run again after a crash at any point:
//!
//! 1. Refusals, before anything is written: a topic missing, or partition counts that are
//!    neither N nor M (co-partitioning would break); M smaller than N; a consumer group of the
//!    pipeline with active members; input records that a keyed role has not processed (its
//!    last seal is behind them). The style-config table keeps its count (see below).
//! 2. A transactional producer per changelog is initialised, which aborts a transaction a
//!    killed earlier run left open; then each changelog is read to its end and its rescale
//!    planned ([`parley_runtime::state::rescale`]). `--dry-run` prints the plan and stops.
//! 3. Partitions are added to every topic below M (CreatePartitions). Then each changelog's
//!    plan is written in one transaction: a moved key's value in its new partition, a
//!    tombstone in its old one, a seal on every partition carrying its last seal's input
//!    offsets (none for a new partition: it starts at its beginning).
//!
//! A second run finds the topics at M (carries on) and plans again from what is committed: a
//! changelog whose transaction committed has nothing left to move, one whose transaction was
//! aborted is planned as the first time.
//!
//! style-config is not rescaled: it is a compacted table every instance reads in full, so its
//! count does not matter, and adding partitions would put a key's next record in another
//! partition than its current one, where compaction cannot replace it and the reader could
//! apply the two in either order.

use crate::options::Connection;
use crate::roles::{check_brokers, client_config, group_id, style_dlq_group, Role};
use crate::topics::co_partitioned;
use crate::usage::UsageError;
use anyhow::{anyhow, Context};
use parley_core::topics::Topic;
use parley_routing::RouterProcessor;
use parley_runtime::state::rescale::{self, RescalePlan};
use parley_runtime::KeyedProcessor;
use parley_tickets::TicketProcessor;
use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long metadata and admin requests wait.
const TIMEOUT: Duration = Duration::from_secs(15);

/// What `parley rescale` was asked to do.
#[derive(Clone, Debug)]
pub(crate) struct RescaleRequest {
    /// The connection.
    pub(crate) connection: Connection,
    /// The consumer groups' base (`--group-id`, as `parley run` takes it).
    pub(crate) group_id: Option<String>,
    /// The new partition count.
    pub(crate) partitions: i32,
    /// Print the plan only.
    pub(crate) dry_run: bool,
}

/// A keyed role's changelog and inputs.
#[derive(Clone, Debug)]
struct KeyedRole {
    role: Role,
    group: String,
    changelog: String,
    inputs: Vec<String>,
}

impl KeyedRole {
    /// The record key of a state key, as the role's processor says.
    fn record_key(&self) -> fn(&[u8]) -> Option<&[u8]> {
        match self.role {
            Role::Router => <RouterProcessor as KeyedProcessor>::record_key,
            _ => <TicketProcessor as KeyedProcessor>::record_key,
        }
    }
}

/// Runs `parley rescale`.
pub(crate) async fn run(request: RescaleRequest) -> anyhow::Result<()> {
    check_brokers(&request.connection).await?;
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || rescale_blocking(&request, &handle)).await?
}

/// The checks, the plans and (unless a dry run) the moves; `handle` runs the admin requests.
fn rescale_blocking(
    request: &RescaleRequest,
    handle: &tokio::runtime::Handle,
) -> anyhow::Result<()> {
    let prefix = &request.connection.topic_prefix;
    let client = client_config(&request.connection);
    let m = request.partitions;
    let counts = topic_counts(&client, prefix)?;
    let old = check_counts(&counts, prefix, m)?;
    let roles = keyed_roles(request);
    check_groups(&client, request)?;
    let producers = if request.dry_run {
        Vec::new()
    } else {
        roles
            .iter()
            .map(|role| {
                rescale::transactional_producer(
                    &client,
                    &format!("parley-rescale-{}", role.changelog),
                )
                .with_context(|| format!("{}: starting the rescale's transaction", role.changelog))
            })
            .collect::<anyhow::Result<Vec<_>>>()?
    };
    let mut plans = Vec::new();
    for role in &roles {
        let started = Instant::now();
        // The pipeline's last transactions are readable before anything is read: a move
        // planned without them would lose them.
        rescale::await_stable(
            &client,
            &role.changelog,
            counts[&role.changelog],
            rescale::STABLE_WAIT,
        )
        .with_context(|| format!("waiting for {} to be readable", role.changelog))?;
        let images = rescale::read_changelog(&client, &role.changelog, counts[&role.changelog])
            .with_context(|| format!("reading {}", role.changelog))?;
        check_lag(&client, role, &images, old)?;
        let plan = rescale::plan(&role.changelog, &images, m, role.record_key())?;
        let records: u64 = images.iter().map(|i| i.records).sum();
        tracing::info!(
            changelog = role.changelog,
            records,
            seconds = started.elapsed().as_secs_f64(),
            "changelog read"
        );
        plans.push(plan);
    }
    for (role, plan) in roles.iter().zip(&plans) {
        print_plan(&role.changelog, old, plan);
    }
    let missing: Vec<String> = counts
        .iter()
        .filter(|(_, count)| **count < m)
        .map(|(topic, _)| topic.clone())
        .collect();
    if missing.is_empty() && plans.iter().all(RescalePlan::is_empty) {
        if old == m {
            return Err(UsageError(format!(
                "--partitions = {m}: every topic already has {m} partitions and every key is on \
                 its partition; the new count must be greater than the current one"
            ))
            .into());
        }
        println!("done: every topic has {m} partitions and every key is on its partition");
        return Ok(());
    }
    if request.dry_run {
        println!("dry run: nothing written");
        return Ok(());
    }
    if !missing.is_empty() {
        handle.block_on(add_partitions(request, &missing))?;
        wait_for_leaders(&client, &missing, m)?;
    }
    for ((role, plan), producer) in roles.iter().zip(&plans).zip(&producers) {
        if plan.is_empty() {
            println!("{}: every key is on its partition", role.changelog);
            continue;
        }
        let started = Instant::now();
        let epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let mut batch = [0u8; 16];
        batch[..8].copy_from_slice(&epoch.to_be_bytes());
        let written = rescale::write_plan(producer, &role.changelog, plan, batch)
            .with_context(|| format!("writing the move of {}", role.changelog))?;
        rescale::await_stable(&client, &role.changelog, m, rescale::STABLE_WAIT).with_context(
            || format!("waiting for the move of {} to be readable", role.changelog),
        )?;
        println!(
            "{}: {written} records written and committed in {:.1} s",
            role.changelog,
            started.elapsed().as_secs_f64()
        );
    }
    println!("done: every topic has {m} partitions; start the pipeline again");
    Ok(())
}

/// The partition count of every rescaled topic (the catalogue's but style-config).
fn topic_counts(client: &ClientConfig, prefix: &str) -> anyhow::Result<BTreeMap<String, i32>> {
    let consumer: BaseConsumer = client.create()?;
    let metadata = consumer.fetch_metadata(None, TIMEOUT)?;
    let found: BTreeMap<&str, i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none() && !t.partitions().is_empty())
        .map(|t| (t.name(), t.partitions().len() as i32))
        .collect();
    let mut counts = BTreeMap::new();
    let mut missing = Vec::new();
    for topic in rescaled_topics(prefix) {
        match found.get(topic.as_str()) {
            Some(count) => {
                counts.insert(topic, *count);
            }
            None => missing.push(topic),
        }
    }
    if !missing.is_empty() {
        return Err(anyhow!(
            "topics missing: {} (create them with `parley topics create` first)",
            missing.join(", ")
        ));
    }
    Ok(counts)
}

/// Every topic the rescale gives M partitions: the catalogue's, but the style-config table.
fn rescaled_topics(prefix: &str) -> Vec<String> {
    Topic::all()
        .into_iter()
        .filter(|t| *t != Topic::StyleConfig)
        .map(|t| t.with_prefix(prefix))
        .collect()
}

/// The current count N (the smallest), after refusing counts other than N and M and an M
/// below N.
fn check_counts(counts: &BTreeMap<String, i32>, prefix: &str, m: i32) -> Result<i32, UsageError> {
    let old = counts.values().copied().min().unwrap_or(m);
    let listed = |topics: &[String]| {
        topics
            .iter()
            .filter_map(|t| counts.get(t).map(|n| format!("{t} = {n}")))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let odd: Vec<String> = counts
        .iter()
        .filter(|(_, n)| **n != old && **n != m)
        .map(|(t, _)| t.clone())
        .collect();
    if !odd.is_empty() {
        let groups: Vec<String> = co_partitioned(prefix)
            .iter()
            .map(|group| listed(group))
            .collect();
        return Err(UsageError(format!(
            "partition counts differ: {} against {old} elsewhere; a rescale takes topics that \
             all have N partitions (or, after an interrupted rescale, N or M = {m}) to M, so \
             that co-partitioned topics stay equal (co-partitioned: {})",
            listed(&odd),
            groups.join("; ")
        )));
    }
    if m < old {
        return Err(UsageError(format!(
            "--partitions = {m}: the topics have {old} partitions; Kafka cannot remove \
             partitions, the new count must be greater than {old}"
        )));
    }
    Ok(old)
}

/// Refuses while a consumer group of the pipeline has active members, naming them.
fn check_groups(client: &ClientConfig, request: &RescaleRequest) -> anyhow::Result<()> {
    let consumer: BaseConsumer = client.create()?;
    let configured = request.group_id.as_deref();
    let tickets = group_id(Role::Tickets, configured, true);
    let groups = [
        group_id(Role::Ingress, configured, true),
        style_dlq_group(&tickets),
        tickets,
        group_id(Role::Router, configured, true),
    ];
    let mut active = Vec::new();
    for group in &groups {
        let list = consumer.fetch_group_list(Some(group), TIMEOUT)?;
        for found in list.groups().iter().filter(|g| g.name() == group) {
            if found.members().is_empty() {
                continue;
            }
            let members: Vec<String> = found
                .members()
                .iter()
                .map(|m| {
                    format!(
                        "{} (client {}, host {})",
                        m.id(),
                        m.client_id(),
                        m.client_host()
                    )
                })
                .collect();
            active.push(format!("{group}: {}", members.join(", ")));
        }
    }
    if active.is_empty() {
        Ok(())
    } else {
        Err(UsageError(format!(
            "consumer groups still have active members: {}; stop every parley instance (and \
             wait for their sessions to end) before a rescale",
            active.join("; ")
        ))
        .into())
    }
}

/// Refuses while a keyed role has input records it has not processed: each input partition
/// below `old` is read from its changelog partition's last seal (its start where there is
/// none).
fn check_lag(
    client: &ClientConfig,
    role: &KeyedRole,
    images: &[rescale::PartitionImage],
    old: i32,
) -> anyhow::Result<()> {
    let mut positions = Vec::new();
    for partition in 0..old {
        let sealed = images
            .get(partition as usize)
            .and_then(|image| image.inputs.as_ref());
        for topic in &role.inputs {
            let from = sealed.and_then(|s| s.get(topic)).copied().unwrap_or(0);
            positions.push((topic.clone(), partition, from));
        }
    }
    let lagging = rescale::unread(client, &positions)?;
    if lagging.is_empty() {
        return Ok(());
    }
    let listed: Vec<String> = lagging
        .iter()
        .map(|(topic, partition, from, first)| {
            format!("{topic} partition {partition} (processed up to offset {from}, a record at {first})")
        })
        .collect();
    Err(UsageError(format!(
        "group {} has not processed every input record: {}; records not yet processed would \
         be skipped or processed twice across a rescale: start the pipeline, let it catch up \
         (parley_consumer_lag at 0), stop it and run the rescale again",
        role.group,
        listed.join(", ")
    ))
    .into())
}

/// The keyed roles with their groups, changelogs and inputs.
fn keyed_roles(request: &RescaleRequest) -> Vec<KeyedRole> {
    let prefix = &request.connection.topic_prefix;
    [Role::Tickets, Role::Router]
        .into_iter()
        .map(|role| KeyedRole {
            role,
            group: group_id(role, request.group_id.as_deref(), true),
            changelog: role.changelog().expect("a keyed role").with_prefix(prefix),
            inputs: match role {
                Role::Router => parley_routing::topics(prefix).inputs(),
                _ => parley_tickets::topics(prefix).inputs(),
            },
        })
        .collect()
}

/// Prints what moves, per old and new partition.
fn print_plan(changelog: &str, old: i32, plan: &RescalePlan) {
    let total = plan.total();
    println!(
        "{changelog}: {old} -> {} partitions: {} keys, {} timers, {} bytes move{}",
        plan.partitions,
        total.keys,
        total.timers,
        total.bytes,
        if plan.undone > 0 {
            format!("; {} unsealed writes undone", plan.undone)
        } else {
            String::new()
        }
    );
    for ((from, to), moved) in &plan.moves {
        println!(
            "  partition {from} -> {to}: {} keys, {} timers, {} bytes",
            moved.keys, moved.timers, moved.bytes
        );
    }
}

/// Adds partitions to `topics`, up to the request's count.
async fn add_partitions(request: &RescaleRequest, topics: &[String]) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = client_config(&request.connection).create()?;
    let new: Vec<NewPartitions<'_>> = topics
        .iter()
        .map(|topic| NewPartitions::new(topic, request.partitions as usize))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    let mut failed = Vec::new();
    for result in admin.create_partitions(&new, &options).await? {
        if let Err((topic, code)) = result {
            failed.push(format!("{topic}: {code}"));
        }
    }
    if !failed.is_empty() {
        return Err(anyhow!(
            "adding partitions failed (run the rescale again): {}",
            failed.join(", ")
        ));
    }
    println!(
        "{} topics now have {} partitions",
        topics.len(),
        request.partitions
    );
    Ok(())
}

/// Waits until every partition of `topics` up to `m` has a leader, so that the transaction can
/// write to the new ones.
fn wait_for_leaders(client: &ClientConfig, topics: &[String], m: i32) -> anyhow::Result<()> {
    let consumer: BaseConsumer = client.create()?;
    for topic in topics {
        for partition in 0..m {
            parley_runtime::partitions::watermarks(&consumer, topic, partition, TIMEOUT)
                .with_context(|| format!("{topic} partition {partition} has no leader"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pairs: &[(&str, i32)]) -> BTreeMap<String, i32> {
        pairs.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect()
    }

    #[test]
    fn counts_must_be_n_or_m_and_m_not_below_n() {
        let even = counts(&[("p.a", 6), ("p.b", 6)]);
        assert_eq!(check_counts(&even, "p.", 12).unwrap(), 6);
        let resumed = counts(&[("p.a", 6), ("p.b", 12)]);
        assert_eq!(check_counts(&resumed, "p.", 12).unwrap(), 6);
        let odd = counts(&[("p.a", 6), ("p.b", 8)]);
        let error = check_counts(&odd, "p.", 12).unwrap_err().to_string();
        assert!(error.contains("p.b = 8"), "{error}");
        let error = check_counts(&even, "p.", 4).unwrap_err().to_string();
        assert!(
            error.contains("--partitions = 4") && error.contains("greater than 6"),
            "{error}"
        );
    }

    #[test]
    fn every_topic_but_the_style_table_is_rescaled() {
        let topics = rescaled_topics("parley.");
        assert_eq!(topics.len(), Topic::all().len() - 1);
        assert!(!topics.contains(&"parley.style-config".to_owned()));
    }
}
