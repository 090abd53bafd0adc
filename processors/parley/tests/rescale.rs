//! `parley rescale` on Apache Kafka: the refusals (M not above N, counts that are neither N nor
//! M, a group with active members, unprocessed input), and a pipeline taken from 2 to 4
//! partitions with open, solved and pending tickets, by a rescale killed midway and run again:
//! every state entry and timer is on its new partition with its value, and after the start
//! the pipeline goes on as if nothing happened (replies reopen the same tickets, close timers
//! fire at their due time, nothing in the DLQ). The benchmark of a million keys is the
//! ignored test at the end.

use parley_core::*;
use parley_routing::RouterProcessor;
use parley_runtime::codec::AvroCodec;
use parley_runtime::partitions::partition_of;
use parley_runtime::state::rescale::{read_changelog, ABORT_AFTER_ENV};
use parley_runtime::state::ChangelogOp;
use parley_runtime::timers::split_timer_key;
use parley_runtime::{Guarantee, KeyedProcessor};
use parley_testkit::pipeline::{
    ana_online, channel_of, conversation_of, producer, read_until, send, webhook_of, Pipeline,
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

/// Waits until none of the pipeline's groups has members.
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
}

#[test]
fn a_rescale_is_refused_for_counts_active_members_and_unprocessed_input() {
    let Some(broker) = Kafka::single("rescale_refusals") else {
        return;
    };
    let brokers = broker.bootstrap_servers();
    let brokers = brokers.as_str();
    assert!(
        parley(brokers, &["topics", "create", "--partitions", "2"], &[])
            .status
            .success()
    );

    refused(
        &parley(brokers, &["rescale", "--partitions", "1"], &[]),
        &["--partitions = 1", "greater than 2"],
    );
    refused(
        &parley(brokers, &["rescale", "--partitions", "2"], &[]),
        &["--partitions = 2", "already has 2 partitions"],
    );

    // A member of parley-tickets.
    let member: BaseConsumer = client(brokers)
        .set("group.id", "parley-tickets")
        .set("client.id", "tickets-7")
        .create()
        .unwrap();
    member.subscribe(&["parley.conversation-events"]).unwrap();
    assert!(parley_testkit::wait_for(Duration::from_secs(30), || {
        let _ = member.poll(Duration::from_millis(100));
        member.assignment().is_ok_and(|a| a.count() > 0)
    }));
    refused(
        &parley(brokers, &["rescale", "--partitions", "4", "--dry-run"], &[]),
        &["parley-tickets", "tickets-7", "active members"],
    );
    drop(member);
    groups_empty(brokers);

    // An input record no tickets instance has processed.
    parley_testkit::produce_raw(brokers, "parley.conversation-events", &[("acme/c1", b"x")]);
    let partition = partition_of(b"acme/c1", 2);
    refused(
        &parley(brokers, &["rescale", "--partitions", "4"], &[]),
        &[
            "group parley-tickets has not processed",
            &format!("parley.conversation-events partition {partition}"),
        ],
    );

    // A count that is neither N nor M.
    let admin: rdkafka::admin::AdminClient<_> = client(brokers).create().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(admin.create_partitions(
            &[rdkafka::admin::NewPartitions::new(
                "parley.agent-actions",
                3,
            )],
            &rdkafka::admin::AdminOptions::new(),
        ))
        .unwrap();
    refused(
        &parley(brokers, &["rescale", "--partitions", "4"], &[]),
        &["parley.agent-actions = 3", "parley.conversation-events = 2"],
    );
    assert_eq!(
        parley_testkit::partition_count(brokers, "parley.conversation-events"),
        2,
        "nothing was changed"
    );
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

fn act(
    producer: &rdkafka::producer::BaseProducer,
    n: usize,
    kind: AgentActionKind,
    status: Option<Status>,
    at: Timestamp,
) {
    let action = AgentAction {
        action_id: format!("{kind:?}-{n}"),
        account: "acme".into(),
        conversation: conversation_of(n),
        agent_id: "ana".into(),
        kind,
        status,
        at,
    };
    let key = format!("acme/{}", conversation_of(n));
    send(
        producer,
        "parley.agent-actions",
        &key,
        &AvroCodec::single_object().encode(&action).unwrap(),
        None,
        at,
    );
}

#[test]
fn a_rescale_killed_midway_and_run_again_moves_every_ticket_timer_and_agent() {
    let Some(broker) = Kafka::single("rescale_moves") else {
        return;
    };
    let brokers = broker.bootstrap_servers();
    let brokers = brokers.as_str();
    let mut pipeline = Pipeline::new(PARLEY, brokers, Guarantee::ExactlyOnce, "rescale");
    // Telegram closes a minute after Solved, Messenger an hour after: both pending across the
    // rescale.
    for (channel, style, gap) in [
        ("telegram", "live_chat_returning", "60s"),
        ("messenger", "social_messaging", "1h"),
    ] {
        let args = [
            "config",
            "set-style",
            "--account",
            "acme",
            "--channel",
            channel,
        ];
        let args = [&args[..], &["--style", style, "--solved-to-closed", gap]].concat();
        assert!(parley(brokers, &args, &[]).status.success());
    }
    pipeline.start_all();
    let now = || parley_runtime::Clock::now(&parley_runtime::SystemClock);
    ana_online(brokers, 10_000, now());
    let producer = producer(brokers);
    const COUNT: usize = 12;
    for n in 0..COUNT {
        let topic = format!("parley.raw.{}", channel_of(n).as_str());
        send(
            &producer,
            &topic,
            &conversation_of(n),
            &webhook_of(n),
            Some(("parley-account", "acme")),
            now(),
        );
    }
    let statuses = "parley.ticket-status-changes";
    let count = |c: &[StatusChange], to: Status| c.iter().filter(|c| c.to == to).count();
    read_until::<RoutingDecision>(brokers, "parley.routing-decisions", |d| {
        d.iter()
            .filter(|d| d.kind == RoutingDecisionKind::Offered)
            .count()
            >= COUNT * 2 / 3
    });
    read_until::<StatusChange>(brokers, statuses, |c| count(c, Status::New) >= COUNT);
    for n in (0..COUNT).filter(|n| channel_of(*n) != Channel::Whatsapp) {
        act(&producer, n, AgentActionKind::Accept, None, now());
    }
    read_until::<StatusChange>(brokers, statuses, |c| count(c, Status::Open) >= COUNT);
    let mut solved_at = HashMap::new();
    for n in (0..COUNT).filter(|n| channel_of(*n) != Channel::Whatsapp) {
        let at = now();
        solved_at.insert(conversation_of(n), at);
        act(
            &producer,
            n,
            AgentActionKind::SetStatus,
            Some(Status::Solved),
            at,
        );
    }
    let before = read_until::<StatusChange>(brokers, statuses, |c| {
        count(c, Status::Solved) >= solved_at.len()
    });
    for role in ["ingress", "tickets", "router"] {
        pipeline.stop(role);
    }
    groups_empty(brokers);
    let tickets = changelog_state(brokers, "parley.tickets-changelog", 2);
    let router = changelog_state(brokers, "parley.router-changelog", 2);
    let timers = tickets
        .values()
        .filter(|(_, op)| matches!(op, ChangelogOp::Timer { .. }))
        .count();
    assert_eq!(timers, solved_at.len(), "a close timer per solved ticket");

    let dry = parley(brokers, &["rescale", "--partitions", "4", "--dry-run"], &[]);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let printed = String::from_utf8_lossy(&dry.stdout);
    assert!(
        printed.contains("parley.tickets-changelog: 2 -> 4 partitions"),
        "{printed}"
    );
    assert!(printed.contains("dry run: nothing written"), "{printed}");
    assert_eq!(
        parley_testkit::partition_count(brokers, "parley.tickets-changelog"),
        2
    );

    // Killed after three records of the first transaction: partitions added, nothing moved.
    let killed = parley(
        brokers,
        &["rescale", "--partitions", "4"],
        &[(ABORT_AFTER_ENV, "3")],
    );
    assert!(!killed.status.success(), "the rescale was killed");
    assert_eq!(
        parley_testkit::partition_count(brokers, "parley.tickets-changelog"),
        4
    );
    let half = changelog_state(brokers, "parley.tickets-changelog", 4);
    assert_eq!(half, tickets, "the aborted transaction moved nothing");

    let again = parley(brokers, &["rescale", "--partitions", "4"], &[]);
    let printed = String::from_utf8_lossy(&again.stdout);
    assert!(
        again.status.success(),
        "{printed} {}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(
        printed.contains("done: every topic has 4 partitions"),
        "{printed}"
    );
    refused(
        &parley(brokers, &["rescale", "--partitions", "4"], &[]),
        &["already has 4 partitions"],
    );
    for topic in [
        "parley.conversation-events",
        "parley.raw.whatsapp",
        "parley.agent-metrics",
        "parley.dlq",
    ] {
        assert_eq!(
            parley_testkit::partition_count(brokers, topic),
            4,
            "{topic}"
        );
    }
    assert_eq!(
        parley_testkit::partition_count(brokers, "parley.style-config"),
        2
    );

    for (topic, before, router) in [
        ("parley.tickets-changelog", &tickets, false),
        ("parley.router-changelog", &router, true),
    ] {
        let after = changelog_state(brokers, topic, 4);
        assert_eq!(after.len(), before.len(), "{topic}: every entry kept");
        for (key, (partition, op)) in &after {
            assert_eq!(&before[key].1, op, "{topic}: the same value and due time");
            assert_eq!(
                *partition,
                partition_of(&record_key(op, router), 4),
                "{topic}: on its partition"
            );
        }
    }

    pipeline.start_all();
    // Open WhatsApp tickets and solved Messenger ones get a reply: the same tickets go on.
    for n in (0..COUNT).filter(|n| channel_of(*n) != Channel::Telegram) {
        let body = String::from_utf8(webhook_of(n)).unwrap();
        let body = body.replace(&format!("wamid.e2e-{n}"), &format!("wamid.e2e-{n}r"));
        let body = body.replace(&format!("m_e2e{n}"), &format!("m_e2e{n}r"));
        let topic = format!("parley.raw.{}", channel_of(n).as_str());
        send(
            &producer,
            &topic,
            &conversation_of(n),
            body.as_bytes(),
            Some(("parley-account", "acme")),
            now(),
        );
    }
    let messenger = (0..COUNT)
        .filter(|n| channel_of(*n) == Channel::Messenger)
        .count();
    let telegram = (0..COUNT)
        .filter(|n| channel_of(*n) == Channel::Telegram)
        .count();
    let after = read_until::<StatusChange>(brokers, statuses, |c| {
        count(c, Status::Closed) >= telegram
            && c.iter()
                .filter(|c| c.from == Some(Status::Solved) && c.to != Status::Closed)
                .count()
                >= messenger
    });
    assert_eq!(
        count(&after, Status::New),
        COUNT,
        "no reply started a new ticket"
    );
    let ticket_of: HashMap<&str, &str> = before
        .iter()
        .map(|c| (c.conversation.as_str(), c.ticket_id.as_str()))
        .collect();
    let seen: std::collections::HashSet<&str> =
        before.iter().map(|c| c.change_id.as_str()).collect();
    for change in after
        .iter()
        .filter(|c| !seen.contains(c.change_id.as_str()))
    {
        assert_eq!(
            ticket_of[change.conversation.as_str()],
            change.ticket_id,
            "the same ticket: {change:?}"
        );
        if change.to == Status::Closed {
            assert_eq!(
                channel_of_conversation(&change.conversation),
                Channel::Telegram
            );
            assert_eq!(
                change.at,
                solved_at[&change.conversation] + Millis(60_000),
                "closed at its due time"
            );
        } else {
            assert_eq!(
                (change.channel, change.from),
                (Channel::Messenger, Some(Status::Solved)),
                "{change:?}"
            );
        }
    }
    let dlq = parley_testkit::read_until(brokers, "parley.dlq", Duration::from_secs(3), |r| {
        !r.is_empty()
    });
    assert!(
        dlq.is_empty(),
        "nothing in the DLQ: {:?}",
        dlq.first().map(|r| &r.headers)
    );
}

fn channel_of_conversation(conversation: &str) -> Channel {
    channel_of(conversation[conversation.len() - 3..].parse().unwrap())
}

/// The benchmark: a tickets changelog of one million conversations (100-byte values, one
/// close timer per ten) on 6 partitions, taken to 12 by `parley rescale`. Run it with
/// `cargo test --release -p parley --test rescale -- --ignored --nocapture`.
#[test]
#[ignore = "a benchmark: a million keys, about a minute"]
fn rescale_a_million_keys() {
    use parley_runtime::state::changelog::{encode_offsets, seal_key};
    use rdkafka::producer::{BaseRecord, Producer};
    let keys: usize = std::env::var("PARLEY_BENCH_KEYS").map_or(1_000_000, |v| v.parse().unwrap());
    let Some(broker) = Kafka::single("rescale_bench") else {
        return;
    };
    let brokers = broker.bootstrap_servers();
    let brokers = brokers.as_str();
    assert!(
        parley(brokers, &["topics", "create", "--partitions", "6"], &[])
            .status
            .success()
    );
    let producer: rdkafka::producer::BaseProducer = client(brokers)
        .set("linger.ms", "50")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "1000000")
        .set("compression.type", "lz4")
        .create()
        .unwrap();
    let topic = "parley.tickets-changelog";
    let value = vec![b'v'; 100];
    let started = std::time::Instant::now();
    let send = |partition: i32, key: &[u8], value: &[u8]| {
        let mut record = BaseRecord::<[u8], [u8]>::to(topic)
            .partition(partition)
            .key(key)
            .payload(value);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, r)) => {
                    record = r;
                    producer.poll(Duration::from_millis(5));
                }
            }
        }
    };
    for n in 0..keys {
        let key = format!("acme/c{n}");
        let partition = partition_of(key.as_bytes(), 6);
        let op = ChangelogOp::State {
            key: key.clone().into_bytes(),
            value: Some(value.clone()),
        };
        let (k, v) = op.encode();
        send(partition, &k, v.as_deref().unwrap());
        if n % 10 == 0 {
            let timer = ChangelogOp::Timer {
                timer_key: parley_runtime::timers::timer_key(key.as_bytes(), b"close/t/1"),
                due: Some(Timestamp(1_700_000_000_000)),
            };
            let (k, v) = timer.encode();
            send(partition, &k, v.as_deref().unwrap());
        }
    }
    for partition in 0..6 {
        send(partition, &seal_key(), &encode_offsets(&Default::default()));
    }
    producer.flush(Duration::from_secs(300)).unwrap();
    eprintln!(
        "{keys} keys written in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let started = std::time::Instant::now();
    let output = parley(brokers, &["rescale", "--partitions", "12"], &[]);
    let seconds = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("{stdout}rescale of {keys} keys (6 -> 12 partitions): {seconds:.1} s");
    assert!(
        seconds < 60.0,
        "a million keys in under a minute: {seconds:.1} s"
    );
}
