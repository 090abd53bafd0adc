//! `parley rescale` on Apache Kafka: the refusals (M not above N, counts that are neither N nor
//! M, a group with active members, unprocessed input), and a pipeline taken from 2 to 4
//! partitions with open, solved and pending tickets, by a rescale killed midway and run again:
//! every state entry and timer is on its new partition with its value, and after the start
//! the pipeline goes on as if nothing happened (replies reopen the same tickets, close timers
//! fire at their due time, nothing in the DLQ). Then the acceptance test: 6 to 12 partitions
//! under 1,000 conversations of two accounts in every status, compared whole with an
//! undisturbed run of the same inputs. The benchmark of a million keys is the ignored test
//! at the end.
//!
//! - `refusals`: what `parley rescale` refuses to do;
//! - `killed_midway`: 2 to 4 partitions by a rescale killed midway and run again;
//! - `acceptance`: 6 to 12 partitions, compared with an undisturbed run;
//! - `million`: the benchmark of a million keys (ignored).

mod acceptance;
mod killed_midway;
mod million;
mod refusals;

use parley_core::*;
use parley_routing::RouterProcessor;
use parley_runtime::partitions::partition_of;
use parley_runtime::state::rescale::{read_changelog, ABORT_AFTER_ENV};
use parley_runtime::state::ChangelogOp;
use parley_runtime::timers::split_timer_key;
use parley_runtime::{Guarantee, KeyedProcessor};
use parley_testkit::pipeline::{
    act, agent_action, agent_online, ana_online, channel_of, conversation_of, producer, queue,
    read_received_until, read_timed_until, read_until, reply_of, send, webhook_of, Pipeline,
};
use parley_testkit::Kafka;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::collections::HashMap;
use std::process::{Command, Output};
use std::time::Duration;

const PARLEY: &str = env!("CARGO_BIN_EXE_parley");

fn parley(brokers: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(PARLEY)
        .args(args)
        .args(["--brokers", brokers])
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn refused(output: &Output, words: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "a usage error: {stderr}");
    for word in words {
        assert!(stderr.contains(word), "{word:?} in {stderr}");
    }
}

fn client(brokers: &str) -> ClientConfig {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", brokers);
    client
}

/// Waits until none of the pipeline's groups has members and its changelogs are stable.
fn groups_empty(brokers: &str) {
    let consumer: BaseConsumer = client(brokers).create().unwrap();
    let empty = parley_testkit::wait_for(Duration::from_secs(60), || {
        ["parley-ingress", "parley-tickets", "parley-router"]
            .iter()
            .all(|group| {
                consumer
                    .fetch_group_list(Some(group), Duration::from_secs(5))
                    .is_ok_and(|l| l.groups().iter().all(|g| g.members().is_empty()))
            })
    });
    assert!(empty, "the groups emptied");
    // The stopped pipeline's last commits are readable before a test reads its changelogs.
    for changelog in ["parley.tickets-changelog", "parley.router-changelog"] {
        let partitions = parley_testkit::partition_count(brokers, changelog);
        use parley_runtime::state::rescale::{await_stable, STABLE_WAIT};
        await_stable(&client(brokers), changelog, partitions, STABLE_WAIT).unwrap();
    }
}

/// Every live entry of a changelog's partitions, by changelog key, with its partition.
fn changelog_state(
    brokers: &str,
    topic: &str,
    partitions: i32,
) -> HashMap<Vec<u8>, (i32, ChangelogOp)> {
    let mut all = HashMap::new();
    for image in read_changelog(&client(brokers), topic, partitions).unwrap() {
        assert!(image.tail.is_empty(), "no unsealed writes in {topic}");
        for (key, op) in image.entries {
            assert!(
                all.insert(key, (image.partition, op)).is_none(),
                "a key in one partition"
            );
        }
    }
    all
}

fn record_key(op: &ChangelogOp, router: bool) -> Vec<u8> {
    match op {
        ChangelogOp::State { key, .. } if router => {
            <RouterProcessor as KeyedProcessor>::record_key(key)
                .unwrap()
                .to_vec()
        }
        ChangelogOp::State { key, .. } => key.clone(),
        ChangelogOp::Timer { timer_key, .. } => split_timer_key(timer_key).unwrap().0.to_vec(),
    }
}
