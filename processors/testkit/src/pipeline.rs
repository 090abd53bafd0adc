//! The whole pipeline through the real `parley` binary, as the end-to-end and fault tests
//! drive it: topics and styles made with `parley` itself, ingress, tickets and router as
//! processes of their own, customers on three channels, Ana in the agent workspace, and BI
//! reading every status change and ticket-metrics record back.
//!
//! [`Pipeline`] owns the processes; [`conversations`] plays a fixed script on it and returns
//! what BI read as a [`Run`], which two runs of the same script must give alike, whatever
//! happened to the processes or the brokers in between (a `disturb` hook runs before each
//! webhook).

use crate::host::Running;
use crate::kafka::{free_ports, workspace_root};
use parley_core::ids::RecordId;
use parley_core::*;
use parley_runtime::codec::{AvroCodec, AvroRecord};
use parley_runtime::Guarantee;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a step waits for the outputs it expects.
pub const WAIT: Duration = Duration::from_secs(180);

/// Partitions of every topic.
pub const PARTITIONS: i32 = 2;

/// A `parley` deployment under test: its binary, brokers, guarantee and running roles.
#[derive(Debug)]
pub struct Pipeline {
    parley: PathBuf,
    brokers: String,
    guarantee: &'static str,
    dir: PathBuf,
    roles: BTreeMap<String, (Running, u16)>,
    extra: Vec<String>,
}

impl Pipeline {
    /// Creates every topic (`parley topics create`) and the three styles (`parley config
    /// set-style`) on `brokers`; starts nothing yet.
    pub fn new(parley: &str, brokers: &str, guarantee: Guarantee, name: &str) -> Pipeline {
        Self::replicated(parley, brokers, guarantee, name, 1)
    }

    /// As [`Pipeline::new`], with every topic replicated `replication` times (3 on
    /// [`crate::Kafka::cluster`], whose nodes the fault tests stop).
    pub fn replicated(
        parley: &str,
        brokers: &str,
        guarantee: Guarantee,
        name: &str,
        replication: u32,
    ) -> Pipeline {
        Self::layout(parley, brokers, guarantee, name, PARTITIONS, replication)
    }

    /// As [`Pipeline::replicated`], with `partitions` partitions in every topic.
    pub fn layout(
        parley: &str,
        brokers: &str,
        guarantee: Guarantee,
        name: &str,
        partitions: i32,
        replication: u32,
    ) -> Pipeline {
        let pipeline = Pipeline {
            parley: PathBuf::from(parley),
            brokers: brokers.to_owned(),
            guarantee: guarantee.as_str(),
            dir: crate::temp_dir(&format!("pipeline-{name}")),
            roles: BTreeMap::new(),
            extra: Vec::new(),
        };
        let (partitions, replication) = (partitions.to_string(), replication.to_string());
        pipeline.parley_ok(&[
            "topics",
            "create",
            "--partitions",
            &partitions,
            "--replication-factor",
            &replication,
        ]);
        for (channel, style, gap) in [
            ("whatsapp", "live_chat", None),
            ("telegram", "live_chat_returning", Some("2s")),
            ("messenger", "social_messaging", Some("3s")),
        ] {
            let mut args = vec!["config", "set-style", "--account", "acme"];
            args.extend(["--channel", channel, "--style", style]);
            if let Some(gap) = gap {
                args.extend(["--solved-to-closed", gap]);
            }
            pipeline.parley_ok(&args);
        }
        pipeline
    }

    /// Adds `--librdkafka KEY=VALUE` to every role started from now on.
    pub fn librdkafka(&mut self, setting: &str) {
        self.extra.push("--librdkafka".into());
        self.extra.push(setting.into());
    }

    /// The brokers.
    pub fn brokers(&self) -> &str {
        &self.brokers
    }

    /// Runs `parley ARGS --brokers B` and asserts that it succeeds.
    pub fn parley_ok(&self, args: &[&str]) {
        let output = Command::new(&self.parley)
            .args(args)
            .args(["--brokers", &self.brokers])
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "parley {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Starts `role` (`ingress`, `tickets` or `router`) as the instance `name` with a state
    /// directory of its own; an instance of that name must not be running.
    pub fn start(&mut self, name: &str, role: &str) {
        // `parley run` serves its three roles on a port each from the one it is given.
        let port = free_ports(if role == "run" { 3 } else { 1 });
        let state = self.dir.join(name);
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("{name}.log")))
            .unwrap();
        let mut command = Command::new(&self.parley);
        command.args([role, "--brokers", &self.brokers]);
        // exactly_once is the default: said only for at_least_once.
        if self.guarantee != Guarantee::ExactlyOnce.as_str() {
            command.args(["--guarantee", self.guarantee]);
        }
        let child = command
            .args(["--auto-accept", "whatsapp", "--instance-id", name])
            // The inputs are stamped minutes in the past and timers fire on the wall clock: a
            // 30 s offer timeout would withdraw every offer before Ana's accept is read.
            .args(["--offer-timeout", "1h"])
            // A killed member leaves the group after 6 s, not after the default 45 s; a
            // member killed during a rebalance is waited for 10 s, not 5 minutes.
            .args(["--librdkafka", "session.timeout.ms=6000"])
            .args(["--librdkafka", "heartbeat.interval.ms=1000"])
            .args(["--librdkafka", "max.poll.interval.ms=10000"])
            .args(&self.extra)
            .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
            .arg("--state-dir")
            .arg(&state)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let previous = self.roles.insert(name.to_owned(), (Running(child), port));
        assert!(previous.is_none(), "{name} was running");
    }

    /// Starts one instance of each role: `ingress`, `tickets` and `router`.
    pub fn start_all(&mut self) {
        for role in ["ingress", "router", "tickets"] {
            self.start(role, role);
        }
    }

    /// The running instance `name`.
    pub fn instance(&mut self, name: &str) -> &mut Running {
        &mut self.roles.get_mut(name).expect("a running instance").0
    }

    /// Kills the instance `name` with SIGKILL.
    pub fn kill(&mut self, name: &str) {
        let (mut running, _) = self.roles.remove(name).expect("a running instance");
        running.kill();
    }

    /// Stops the instance `name` with SIGINT and waits for it.
    pub fn stop(&mut self, name: &str) {
        drop(self.roles.remove(name).expect("a running instance"));
    }

    /// Whether the instance `name` has exited, and how.
    pub fn exited(&mut self, name: &str) -> Option<std::process::ExitStatus> {
        self.instance(name).0.try_wait().unwrap()
    }

    /// `GET path` on the instance `name`'s metrics port: the status code and the body, or
    /// `None` if it does not answer.
    pub fn http_get(&self, name: &str, path: &str) -> Option<(u16, String)> {
        crate::http_get(self.roles.get(name)?.1, path)
    }

    /// The metrics address (`127.0.0.1:port`) of the instance `name`.
    pub fn addr(&self, name: &str) -> String {
        format!("127.0.0.1:{}", self.roles[name].1)
    }

    /// Whether `/readyz` of the instance `name` answers 200.
    pub fn ready(&self, name: &str) -> bool {
        self.http_get(name, "/readyz")
            .is_some_and(|(code, _)| code == 200)
    }

    /// The log (stderr) of the instance `name`.
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default()
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.roles.clear();
        if std::thread::panicking() {
            eprintln!("pipeline: logs and state kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The producer of the channel integrations and the agent workspace.
pub use crate::records::producer;

/// Produces one record timestamped `at` and waits until it is acknowledged (a broker may be
/// down meanwhile: the wait is long).
pub fn send(
    producer: &BaseProducer,
    topic: &str,
    key: &str,
    value: &[u8],
    header: Option<(&str, &str)>,
    at: Timestamp,
) {
    queue(producer, topic, key, value, header, at);
    producer.flush(Duration::from_secs(120)).unwrap();
}

/// Queues one record timestamped `at` in `producer`, without waiting: flush the producer to
/// wait for every queued record (many records in one go, in order).
pub fn queue(
    producer: &BaseProducer,
    topic: &str,
    key: &str,
    value: &[u8],
    header: Option<(&str, &str)>,
    at: Timestamp,
) {
    let mut record = BaseRecord::to(topic)
        .key(key)
        .payload(value)
        .timestamp(at.0);
    if let Some((name, value)) = header {
        record = record.headers(OwnedHeaders::new().insert(Header {
            key: name,
            value: Some(value),
        }));
    }
    producer.send(record).map_err(|(e, _)| e).unwrap();
    producer.poll(Duration::ZERO);
}

/// A record as a reader received it: decoded, with its record timestamp and the wall-clock
/// time it was read.
#[derive(Clone, Debug, PartialEq)]
pub struct Received<T> {
    /// The decoded value.
    pub value: T,
    /// The record timestamp.
    pub timestamp: Option<i64>,
    /// When the reader received it, by the wall clock.
    pub received: Timestamp,
}

/// Reads `topic` (`read_committed`) from the beginning until `done` holds or [`WAIT`] runs
/// out: each record decoded, with its record timestamp.
pub fn read_timed_until<T: AvroRecord>(
    brokers: &str,
    topic: &str,
    done: impl Fn(&[(T, Option<i64>)]) -> bool,
) -> Vec<(T, Option<i64>)> {
    let mut records: Vec<(T, Option<i64>)> = Vec::new();
    if done(&records) {
        return records;
    }
    read_received(brokers, topic, |received: Received<T>| {
        records.push((received.value, received.timestamp));
        done(&records)
    });
    records
}

/// Reads `topic` as [`read_timed_until`] does, noting when each record was received: for a
/// test of when records are written, not only what they say.
pub fn read_received_until<T: AvroRecord>(
    brokers: &str,
    topic: &str,
    done: impl Fn(&[Received<T>]) -> bool,
) -> Vec<Received<T>> {
    let mut records = Vec::new();
    if done(&records) {
        return records;
    }
    read_received(brokers, topic, |received| {
        records.push(received);
        done(&records)
    });
    records
}

/// Reads `topic` (`read_committed`) from the beginning, handing each record to `take` until
/// it returns true or [`WAIT`] runs out.
fn read_received<T: AvroRecord>(
    brokers: &str,
    topic: &str,
    mut take: impl FnMut(Received<T>) -> bool,
) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "parley-e2e-reader")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("fetch.wait.max.ms", "50")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    for partition in 0..crate::partition_count(brokers, topic) {
        assignment
            .add_partition_offset(topic, partition, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).unwrap();
    let codec = AvroCodec::<T>::single_object();
    let deadline = Instant::now() + WAIT;
    let now = || {
        Timestamp(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as i64,
        )
    };
    let mut finished = false;
    while Instant::now() < deadline && !finished {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) {
            let value = codec.decode(message.payload().unwrap_or_default()).unwrap();
            finished = take(Received {
                value,
                timestamp: message.timestamp().to_millis(),
                received: now(),
            });
        }
    }
}

/// Reads `topic` until `done` holds or [`WAIT`] runs out.
pub fn read_until<T: AvroRecord + Clone>(
    brokers: &str,
    topic: &str,
    done: impl Fn(&[T]) -> bool,
) -> Vec<T> {
    let mut records = Vec::new();
    if done(&records) {
        return records;
    }
    read_received(brokers, topic, |received: Received<T>| {
        records.push(received.value);
        done(&records)
    });
    records
}

/// Ana is online on WhatsApp, Telegram and Messenger with `capacity` on each.
pub fn ana_online(brokers: &str, capacity: u32, at: Timestamp) {
    let channels = [Channel::Whatsapp, Channel::Telegram, Channel::Messenger];
    agent_online(
        brokers,
        "acme",
        "ana",
        &channels.map(|channel| (channel, capacity)),
        at,
    );
}

/// `agent` of `account` is online on each of `channels` with its capacity.
pub fn agent_online(
    brokers: &str,
    account: &str,
    agent: &str,
    channels: &[(Channel, u32)],
    at: Timestamp,
) {
    let presence = AgentPresence {
        presence_id: format!("p-{account}-{agent}"),
        account: account.into(),
        agent_id: agent.into(),
        channels: channels
            .iter()
            .map(|(channel, capacity)| ChannelPresence {
                channel: *channel,
                status: AgentStatus::Online,
                capacity: *capacity,
            })
            .collect(),
        skills: vec![],
        groups: vec![],
        at: Timestamp(0),
    };
    let encoded = AvroCodec::<AgentPresence>::single_object()
        .encode(&presence)
        .unwrap();
    send(
        &producer(brokers),
        "parley.agent-presence",
        account,
        &encoded,
        None,
        at,
    );
}

/// Conversation `n`'s channel and style: WhatsApp is live chat (auto-accepted), Telegram
/// live chat with a returning customer (Closed 2 s after Solved), Messenger social
/// messaging (Closed 3 s after Solved); the last two are accepted by Ana.
pub fn channel_of(n: usize) -> Channel {
    [Channel::Whatsapp, Channel::Telegram, Channel::Messenger][n % 3]
}

/// Conversation `n`'s id on its channel, ending in `n` as three digits.
pub fn conversation_of(n: usize) -> String {
    match channel_of(n) {
        Channel::Whatsapp => format!("5511900000{n:03}"),
        Channel::Telegram => format!("5012000{n:03}"),
        _ => format!("6783920147285{n:03}"),
    }
}

/// Conversation `n`'s first message: the channel's own fixture with the ids replaced.
pub fn webhook_of(n: usize) -> Vec<u8> {
    let channel = channel_of(n);
    let text =
        std::fs::read_to_string(fixtures().join(channel.as_str()).join("text.json")).unwrap();
    let conversation = conversation_of(n);
    let body = match channel {
        Channel::Whatsapp => text.replace("5511987654321", &conversation).replace(
            "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABIYFjNFQjBDMEM1",
            &format!("wamid.e2e-{n}"),
        ),
        Channel::Telegram => text.replace("5012345678", &conversation).replace(
            "\"message_id\": 1207",
            &format!("\"message_id\": {}", 2000 + n),
        ),
        _ => text
            .replace("6783920147285561", &conversation)
            .replace("m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM", &format!("m_e2e{n}")),
    };
    assert_ne!(body, text, "{channel:?}: the fixture's ids were replaced");
    body.into_bytes()
}

/// Conversation `n`'s second message: its first with new message ids.
pub fn reply_of(n: usize) -> Vec<u8> {
    let first = String::from_utf8(webhook_of(n)).unwrap();
    let reply = first
        .replace(&format!("wamid.e2e-{n}\""), &format!("wamid.e2e-{n}r\""))
        .replace(&format!("m_e2e{n}_"), &format!("m_e2e{n}r_"))
        .replace(
            &format!("\"message_id\": {}", 2000 + n),
            &format!("\"message_id\": {}", 3000 + n),
        );
    assert_ne!(reply, first, "conversation {n}: the ids were replaced");
    reply.into_bytes()
}

/// An action of Ana's on conversation `n` of acme, timestamped `at`.
pub fn act(
    producer: &BaseProducer,
    n: usize,
    kind: AgentActionKind,
    status: Option<Status>,
    at: Timestamp,
) {
    agent_action(producer, "acme", "ana", n, kind, status, at);
    producer.flush(Duration::from_secs(120)).unwrap();
}

/// An action of `agent`'s on conversation `n` of `account`, timestamped `at`, [`queue`]d:
/// flush the producer to wait for it.
pub fn agent_action(
    producer: &BaseProducer,
    account: &str,
    agent: &str,
    n: usize,
    kind: AgentActionKind,
    status: Option<Status>,
    at: Timestamp,
) {
    let action = AgentAction {
        action_id: format!("{kind:?}-{n}"),
        account: account.into(),
        conversation: conversation_of(n),
        agent_id: agent.into(),
        kind,
        status,
        priority: None,
        at,
    };
    queue(
        producer,
        "parley.agent-actions",
        &format!("{account}/{}", conversation_of(n)),
        &AvroCodec::single_object().encode(&action).unwrap(),
        None,
        at,
    );
}

/// A status change or a ticket-metrics record as BI reads it: decoded, with its record
/// timestamp.
pub type Emitted<T> = (T, Option<i64>);

/// What BI reads from a run: every status change and every ticket-metrics record by id.
#[derive(Debug, PartialEq)]
pub struct Run {
    /// Status changes by `change_id`.
    pub changes: BTreeMap<String, Emitted<StatusChange>>,
    /// Ticket metrics by `metrics_id`.
    pub metrics: BTreeMap<String, Emitted<TicketMetrics>>,
    /// Status changes read more than once (identical copies).
    pub duplicate_changes: usize,
    /// Ticket metrics read more than once (identical copies).
    pub duplicate_metrics: usize,
}

impl Run {
    /// Asserts that `self` holds exactly the records of `undisturbed`, every field and
    /// record timestamp alike, and (for `exactly_once`) no record twice.
    pub fn assert_same_as(&self, undisturbed: &Run, exactly_once: bool) {
        let missing: Vec<&String> = undisturbed
            .changes
            .keys()
            .filter(|id| !self.changes.contains_key(*id))
            .collect();
        assert!(missing.is_empty(), "status changes lost: {missing:?}");
        assert_eq!(
            self.changes, undisturbed.changes,
            "the same status changes, every field and timestamp, as the undisturbed run"
        );
        assert_eq!(
            self.metrics, undisturbed.metrics,
            "the same ticket metrics, every field and timestamp, as the undisturbed run"
        );
        if exactly_once {
            assert_eq!(
                (self.duplicate_changes, self.duplicate_metrics),
                (0, 0),
                "no record read twice under read_committed"
            );
        }
    }
}

/// The start of a script's input timestamps: ten minutes ago, so that solve-to-close timers
/// (seconds long) are due as soon as they are set and the offers (1 h) are not withdrawn.
pub fn script_base() -> Timestamp {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    Timestamp(now - 600_000)
}

/// Plays `count` conversations (a multiple of 3) on three channels, one style each: the
/// webhooks (calling `disturb(pipeline, n)` before webhook `n`), Ana's accepts of the
/// offered tickets, her solves; every ticket closes. Every input is stamped from `base` on,
/// so that two runs with one `base` must give the same records. Asserts that a record read
/// twice is the same record.
pub fn conversations(
    pipeline: &mut Pipeline,
    count: usize,
    base: Timestamp,
    mut disturb: impl FnMut(&mut Pipeline, usize),
) -> Run {
    let brokers = pipeline.brokers.clone();
    let brokers = brokers.as_str();
    let producer = producer(brokers);
    ana_online(brokers, 10_000, base);
    let statuses = "parley.ticket-status-changes";
    let count_to =
        |changes: &[StatusChange], to: Status| changes.iter().filter(|c| c.to == to).count();
    let ms = |n: usize| Millis(n as i64 * 1_000);
    // Inputs are 1 s apart, each phase after the last one's inputs.
    let (webhooks, accepts, solves) = (Millis(1_000), ms(count + 10), ms(2 * count + 20));
    for n in 0..count {
        disturb(pipeline, n);
        let channel = channel_of(n);
        send(
            &producer,
            &format!("parley.raw.{}", channel.as_str()),
            &conversation_of(n),
            &webhook_of(n),
            Some(("parley-account", "acme")),
            base + webhooks + ms(n),
        );
    }
    // Ana accepts each offer once the ticket exists and the router has offered it to her:
    // an accept before the offer is refused (no_offer_to_agent), and the ticket never opens.
    read_until::<StatusChange>(brokers, statuses, |c| count_to(c, Status::New) >= count);
    let offers = (0..count)
        .filter(|n| channel_of(*n) != Channel::Whatsapp)
        .count();
    read_until::<RoutingDecision>(brokers, "parley.routing-decisions", |decisions| {
        let offered: std::collections::BTreeSet<&str> = decisions
            .iter()
            .filter(|d| d.kind == RoutingDecisionKind::Offered)
            .map(|d| d.conversation.as_str())
            .collect();
        offered.len() >= offers
    });
    for n in (0..count).filter(|n| channel_of(*n) != Channel::Whatsapp) {
        let at = base + accepts + ms(n);
        act(&producer, n, AgentActionKind::Accept, None, at);
    }
    read_until::<StatusChange>(brokers, statuses, |c| count_to(c, Status::Open) >= count);
    for n in 0..count {
        let at = base + solves + ms(n);
        act(
            &producer,
            n,
            AgentActionKind::SetStatus,
            Some(Status::Solved),
            at,
        );
    }
    let changes = read_timed_until::<StatusChange>(brokers, statuses, |c| {
        c.iter().filter(|(c, _)| c.to == Status::Closed).count() >= count
    });
    let metrics = read_timed_until::<TicketMetrics>(brokers, "parley.ticket-metrics", |m| {
        m.iter().filter(|(m, _)| m.status == Status::Closed).count() >= count
    });
    let mut run = Run {
        changes: BTreeMap::new(),
        metrics: BTreeMap::new(),
        duplicate_changes: 0,
        duplicate_metrics: 0,
    };
    for emitted in &changes {
        assert_eq!(
            emitted.1,
            Some(emitted.0.at.0),
            "a status change's record timestamp is its time"
        );
    }
    run.duplicate_changes = by_id(changes, &mut run.changes, |c| &c.change_id);
    run.duplicate_metrics = by_id(metrics, &mut run.metrics, |m| &m.metrics_id);
    run
}

/// Asserts what an undisturbed run of `count` conversations from `base` must hold: New,
/// Open, Solved and Closed for each ticket, at its input's time, with its channel's style;
/// ticket metrics at Solved and at Closed.
pub fn assert_script_outputs(run: &Run, count: usize, base: Timestamp) {
    assert_eq!(
        run.changes.len(),
        4 * count,
        "New, Open, Solved and Closed for each of {count} tickets"
    );
    let ms = |n: usize| Millis(n as i64 * 1_000);
    for (id, (change, _)) in &run.changes {
        let n: usize = change.conversation[change.conversation.len() - 3..]
            .parse()
            .unwrap();
        let (style, gap) = match channel_of(n) {
            Channel::Whatsapp => (Style::LiveChat, Millis(0)),
            Channel::Telegram => (Style::LiveChatReturning, Millis(2_000)),
            _ => (Style::SocialMessaging, Millis(3_000)),
        };
        assert_eq!(
            (change.channel, change.style),
            (channel_of(n), style),
            "{id}"
        );
        let webhook = base + Millis(1_000) + ms(n);
        let accepted = match channel_of(n) {
            Channel::Whatsapp => webhook,
            _ => base + ms(count + 10) + ms(n),
        };
        let solved = base + ms(2 * count + 20) + ms(n);
        let expected = match change.to {
            Status::New => webhook,
            Status::Open => accepted,
            Status::Solved => solved,
            _ => solved + gap,
        };
        assert_eq!(change.at, expected, "{id}: made at its input's time");
    }
    assert_eq!(
        run.metrics.len(),
        2 * count,
        "ticket metrics at Solved and at Closed for each of {count} tickets"
    );
}

/// The ingress crate's fixtures: one directory per channel.
pub fn fixtures() -> PathBuf {
    workspace_root().join("processors/ingress/tests/fixtures")
}

/// Files `records` into `by_id` by their id; returns how many were read more than once,
/// asserting that each copy is the same record.
fn by_id<T: PartialEq + std::fmt::Debug + Clone>(
    records: Vec<Emitted<T>>,
    by_id: &mut BTreeMap<String, Emitted<T>>,
    id: impl Fn(&T) -> &RecordId,
) -> usize {
    let mut duplicates = 0;
    for emitted in records {
        if let Some(earlier) = by_id.insert(id(&emitted.0).spelled(), emitted.clone()) {
            assert_eq!(
                earlier,
                emitted,
                "{} differs when read twice",
                id(&emitted.0)
            );
            duplicates += 1;
        }
    }
    duplicates
}
