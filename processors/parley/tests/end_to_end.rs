//! The whole pipeline through the real binary on a real broker: a raw WhatsApp webhook in,
//! routed by the router, opened, solved by the agent, status changes and metrics out.
//!
//! `parley run` (every role in one process) runs against Tansu, started by the test; the
//! test plays the channel integration and the agent workspace by producing to the input
//! topics, and BI by reading the output topics. Skipped, with the reason printed, when
//! `tansu` is not on PATH.

use parley_core::*;
use parley_runtime::codec::{AvroCodec, AvroRecord};
use parley_testkit::{Kafka, Running};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};
use serde::de::DeserializeOwned;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PARTITIONS: i32 = 2;
const WAIT: Duration = Duration::from_secs(90);

fn producer(brokers: &str) -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("partitioner", "murmur2_random")
        .create()
        .unwrap()
}

/// Produces one record, timestamped `at` (the wall clock's time for `None`), and waits until
/// it is acknowledged.
fn send(
    producer: &BaseProducer,
    topic: &str,
    key: &str,
    value: &[u8],
    header: Option<(&str, &str)>,
    at: Option<Timestamp>,
) {
    let mut record = BaseRecord::to(topic).key(key).payload(value);
    if let Some(at) = at {
        record = record.timestamp(at.0);
    }
    if let Some((name, value)) = header {
        record = record.headers(OwnedHeaders::new().insert(Header {
            key: name,
            value: Some(value),
        }));
    }
    producer.send(record).map_err(|(e, _)| e).unwrap();
    producer.flush(Duration::from_secs(10)).unwrap();
}

/// Reads `topic` from the beginning until `done` holds or the wait runs out.
fn read_until<T: AvroRecord + DeserializeOwned + Clone>(
    brokers: &str,
    topic: &str,
    done: impl Fn(&[T]) -> bool,
) -> Vec<T> {
    read_timed_until(brokers, topic, |records: &[(T, Option<i64>)]| {
        let values: Vec<T> = records.iter().map(|(value, _)| value.clone()).collect();
        done(&values)
    })
    .into_iter()
    .map(|(value, _)| value)
    .collect()
}

/// Reads `topic` from the beginning until `done` holds or the wait runs out: each record
/// decoded, with its record timestamp.
fn read_timed_until<T: AvroRecord + DeserializeOwned>(
    brokers: &str,
    topic: &str,
    done: impl Fn(&[(T, Option<i64>)]) -> bool,
) -> Vec<(T, Option<i64>)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "parley-e2e-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        assignment
            .add_partition_offset(topic, partition, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).unwrap();
    let codec = AvroCodec::<T>::single_object();
    let deadline = Instant::now() + WAIT;
    let mut records = Vec::new();
    while Instant::now() < deadline && !done(&records) {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
            let value = codec.decode(message.payload().unwrap_or_default()).unwrap();
            records.push((value, message.timestamp().to_millis()));
        }
    }
    records
}

/// `parley topics create` on the test's broker.
fn create_topics(parley: &str, brokers: &str) {
    let partitions = PARTITIONS.to_string();
    let created = Command::new(parley)
        .args([
            "topics",
            "create",
            "--brokers",
            brokers,
            "--partitions",
            &partitions,
        ])
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
}

/// Ana is online on WhatsApp with `capacity`, as the agent workspace would say.
fn ana_online(producer: &BaseProducer, capacity: u32, at: Option<Timestamp>) {
    let presence = AgentPresence {
        presence_id: "p-1".into(),
        account: "acme".into(),
        agent_id: "ana".into(),
        channels: vec![ChannelPresence {
            channel: Channel::Whatsapp,
            status: AgentStatus::Online,
            capacity,
        }],
        skills: vec![],
        groups: vec![],
        at: Timestamp(0),
    };
    let encoded = AvroCodec::<AgentPresence>::single_object()
        .encode(&presence)
        .unwrap();
    send(
        producer,
        "parley.agent-presence",
        "acme",
        &encoded,
        None,
        at,
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_whatsapp_webhook_becomes_a_routed_ticket_that_the_agent_solves() {
    let Some(broker) =
        Kafka::single("a_whatsapp_webhook_becomes_a_routed_ticket_that_the_agent_solves")
    else {
        return;
    };
    let brokers = broker.bootstrap_servers();
    let brokers = brokers.as_str();
    let parley = env!("CARGO_BIN_EXE_parley");
    create_topics(parley, brokers);

    let state = std::env::temp_dir().join(format!("parley-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    let _running = Running(
        Command::new(parley)
            .args([
                "run",
                "--brokers",
                brokers,
                "--guarantee",
                "at_least_once",
                "--auto-accept",
                "whatsapp",
            ])
            .args(["--metrics-addr", &format!("127.0.0.1:{}", free_port())])
            .arg("--state-dir")
            .arg(&state)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );

    let producer = producer(brokers);
    ana_online(&producer, 2, None);

    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../ingress/tests/fixtures/whatsapp/text.json");
    let body = std::fs::read(fixture).unwrap();
    send(
        &producer,
        "parley.raw.whatsapp",
        "5511987654321",
        &body,
        Some(("parley-account", "acme")),
        None,
    );

    let conversation = "5511987654321";
    let opened = read_until::<StatusChange>(brokers, "parley.ticket-status-changes", |changes| {
        changes.iter().any(|c| c.to == Status::Open)
    });
    let transitions: Vec<_> = opened
        .iter()
        .map(|c| (c.from, c.to, c.actor_kind))
        .collect();
    assert_eq!(
        transitions,
        [
            (None, Status::New, ActorKind::EndUser),
            (Some(Status::New), Status::Open, ActorKind::Routing)
        ],
        "the webhook created a ticket and the router assigned it"
    );
    assert!(opened.iter().all(|c| c.account == "acme"
        && c.conversation == conversation
        && c.channel == Channel::Whatsapp));
    assert_eq!(opened[1].assignee.as_deref(), Some("ana"));
    assert_eq!(opened[1].reason, "auto_accept");

    let solve = AgentAction {
        action_id: "a-1".into(),
        account: "acme".into(),
        conversation: conversation.into(),
        agent_id: "ana".into(),
        kind: AgentActionKind::SetStatus,
        status: Some(Status::Solved),
        at: Timestamp(0),
    };
    let encoded = AvroCodec::<AgentAction>::single_object()
        .encode(&solve)
        .unwrap();
    send(
        &producer,
        "parley.agent-actions",
        &format!("acme/{conversation}"),
        &encoded,
        None,
        None,
    );

    let changes = read_until::<StatusChange>(brokers, "parley.ticket-status-changes", |changes| {
        changes.iter().any(|c| c.to == Status::Solved)
    });
    let last = changes.last().unwrap();
    assert_eq!(
        (last.from, last.to, last.style),
        (Some(Status::Open), Status::Solved, Style::SocialMessaging)
    );

    let metrics = read_until::<TicketMetrics>(brokers, "parley.ticket-metrics", |m| !m.is_empty());
    assert_eq!(metrics.len(), 1);
    assert_eq!(
        (metrics[0].status, metrics[0].assignee.as_deref()),
        (Status::Solved, Some("ana"))
    );
    assert_eq!(metrics[0].end_user_messages, 1);

    let agents = read_until::<AgentMetrics>(brokers, "parley.agent-metrics", |m| {
        m.iter().any(|a| a.assignments == 1)
    });
    assert!(
        agents
            .iter()
            .any(|a| a.agent_id == "ana" && a.assignments == 1),
        "{agents:?}"
    );
    let _ = std::fs::remove_dir_all(&state);
}

/// A status change as BI reads it: the decoded record and its record timestamp.
type Emitted = (StatusChange, Option<i64>);

/// One role of `parley` as a process of its own.
fn role(parley: &str, role: &str, brokers: &str, state: &std::path::Path) -> Child {
    Command::new(parley)
        .args([
            role,
            "--brokers",
            brokers,
            "--guarantee",
            "at_least_once",
            "--auto-accept",
            "whatsapp",
        ])
        // A killed member leaves the group after this, not after the default 45 s.
        .args([
            "--librdkafka",
            "session.timeout.ms=6000",
            "--librdkafka",
            "heartbeat.interval.ms=1000",
        ])
        .args(["--metrics-addr", &format!("127.0.0.1:{}", free_port())])
        .arg("--state-dir")
        .arg(state)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Thirty conversations through ingress, tickets and router as separate processes; with
/// `kill`, the tickets process is killed with SIGKILL halfway and restarted. Every input
/// carries a timestamp from `base` on, the same in both runs. Returns every status change by
/// id, and asserts that a record emitted twice is the same record, timestamp included.
fn thirty_conversations(
    test: &str,
    kill: bool,
    base: Timestamp,
) -> Option<std::collections::BTreeMap<String, Emitted>> {
    const CONVERSATIONS: usize = 30;
    let broker = Kafka::single(test)?;
    let brokers = broker.bootstrap_servers();
    let brokers = brokers.as_str();
    let parley = env!("CARGO_BIN_EXE_parley");
    create_topics(parley, brokers);
    let state = std::env::temp_dir().join(format!("parley-e2e-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    let _ingress = Running(role(parley, "ingress", brokers, &state));
    let _router = Running(role(parley, "router", brokers, &state));
    let mut tickets = Running(role(parley, "tickets", brokers, &state));

    let producer = producer(brokers);
    ana_online(&producer, 1000, Some(base));
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../ingress/tests/fixtures/whatsapp/text.json");
    let template = std::fs::read_to_string(fixture).unwrap();
    let conversation = |n: usize| format!("55119000000{n:02}");
    let opened = |changes: &[StatusChange], n: usize| {
        changes.iter().filter(|c| c.to == Status::Open).count() >= n
    };

    for n in 0..CONVERSATIONS {
        if kill && n == CONVERSATIONS / 2 {
            read_until::<StatusChange>(brokers, "parley.ticket-status-changes", |c| opened(c, 5));
            let _ = tickets.0.kill(); // SIGKILL
            let _ = tickets.0.wait();
        }
        let body = template.replace("5511987654321", &conversation(n)).replace(
            "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABIYFjNFQjBDMEM1",
            &format!("wamid.e2e-{n}"),
        );
        send(
            &producer,
            "parley.raw.whatsapp",
            &conversation(n),
            body.as_bytes(),
            Some(("parley-account", "acme")),
            Some(base + Millis(1_000 + 1_000 * n as i64)),
        );
    }
    if kill {
        tickets = Running(role(parley, "tickets", brokers, &state));
    }
    read_until::<StatusChange>(brokers, "parley.ticket-status-changes", |c| {
        opened(c, CONVERSATIONS)
    });
    for n in 0..CONVERSATIONS {
        let at = base + Millis(60_000 + 1_000 * n as i64);
        let solve = AgentAction {
            action_id: format!("solve-{n}"),
            account: "acme".into(),
            conversation: conversation(n),
            agent_id: "ana".into(),
            kind: AgentActionKind::SetStatus,
            status: Some(Status::Solved),
            at,
        };
        let key = format!("acme/{}", conversation(n));
        send(
            &producer,
            "parley.agent-actions",
            &key,
            &AvroCodec::single_object().encode(&solve).unwrap(),
            None,
            Some(at),
        );
    }
    let changes = read_timed_until::<StatusChange>(brokers, "parley.ticket-status-changes", |c| {
        c.iter().filter(|(c, _)| c.to == Status::Solved).count() >= CONVERSATIONS
    });
    drop(tickets);
    let _ = std::fs::remove_dir_all(&state);

    let mut by_id = std::collections::BTreeMap::new();
    for emitted in changes {
        assert_eq!(
            emitted.1,
            Some(emitted.0.at.0),
            "a status change's record timestamp is its time"
        );
        if let Some(earlier) = by_id.insert(emitted.0.change_id.clone(), emitted.clone()) {
            assert_eq!(
                earlier, emitted,
                "{} was emitted twice with different contents",
                emitted.0.change_id
            );
        }
    }
    Some(by_id)
}

#[test]
fn the_tickets_process_killed_mid_stream_and_restarted_changes_nothing() {
    // Ten minutes ago, well within every timer's gap, so that nothing closes meanwhile.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let base = Timestamp(now - 600_000);
    let Some(undisturbed) = thirty_conversations("undisturbed", false, base) else {
        return;
    };
    let Some(killed) = thirty_conversations("killed", true, base) else {
        return;
    };
    assert_eq!(
        undisturbed.len(),
        90,
        "New, Open and Solved for each of 30 tickets"
    );
    for (id, (change, _)) in &undisturbed {
        let n: i64 = change.conversation[change.conversation.len() - 2..]
            .parse()
            .unwrap();
        let expected = match change.to {
            Status::Solved => base + Millis(60_000 + 1_000 * n),
            _ => base + Millis(1_000 + 1_000 * n),
        };
        assert_eq!(change.at, expected, "{id}: made at its input's time");
    }
    assert_eq!(
        killed, undisturbed,
        "the same status changes, every field and timestamp, as the undisturbed run"
    );
}
