//! The ticket processor on librdkafka's mock cluster: the lifecycle through the runtime
//! (styles from the table, routing requests by account, the close timer, restart, DLQ) and
//! the round trip with the router.
//!
//! The mock keeps about 5 MiB per partition and does not implement transactions faithfully,
//! so these tests run `at_least_once` with a handful of records.

use parley_core::routing::RoutingConfig;
use parley_core::*;
use parley_runtime::codec::AvroCodec;
use parley_runtime::dlq::headers;
use parley_runtime::{Clock, ManualClock, Metrics};
use parley_testkit::*;
use parley_tickets::{TicketCodecs, TicketTopics, TicketsError};
use std::sync::Arc;
use std::time::Duration;

/// Partitions of every test topic.
const PARTITIONS: i32 = 4;
/// How long a test waits for an expected record.
const WAIT: Duration = Duration::from_secs(60);

struct Names {
    tickets: TicketTopics,
    presence: String,
    agent_metrics: String,
    routing_config: String,
    routing_queues: String,
    tickets_changelog: String,
    router_changelog: String,
    dlq: String,
}

impl Names {
    fn new(test: &str) -> Names {
        let prefix = format!("{test}.");
        Names {
            tickets: parley_tickets::topics(&prefix),
            presence: parley_routing::topics(&prefix).agent_presence,
            agent_metrics: parley_routing::topics(&prefix).agent_metrics,
            routing_config: parley_routing::topics(&prefix).routing_config,
            routing_queues: parley_routing::topics(&prefix).routing_queues,
            tickets_changelog: format!("{prefix}tickets-changelog"),
            router_changelog: format!("{prefix}router-changelog"),
            dlq: format!("{prefix}dlq"),
        }
    }

    fn prefix(&self) -> String {
        self.tickets
            .style_config
            .strip_suffix("style-config")
            .unwrap()
            .to_owned()
    }

    fn all(&self) -> Vec<String> {
        let mut all = self.tickets.inputs();
        all.extend(self.tickets.outputs());
        all.extend([
            self.tickets.style_config.clone(),
            self.tickets.schedules.clone(),
            self.tickets.sla_policies.clone(),
            self.presence.clone(),
            self.agent_metrics.clone(),
            self.routing_config.clone(),
            self.routing_queues.clone(),
            self.tickets_changelog.clone(),
            self.router_changelog.clone(),
            self.dlq.clone(),
        ]);
        all
    }
}

fn make_cluster(
    names: &Names,
) -> rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext> {
    let all = names.all();
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    parley_testkit::mock::cluster(&refs, PARTITIONS)
}

fn tickets_host(
    brokers: &str,
    names: &Names,
    state_dir: std::path::PathBuf,
    clock: Arc<dyn Clock>,
) -> Result<parley_runtime::Host<parley_tickets::TicketProcessor>, TicketsError> {
    init_tracing();
    let config = runtime_config(
        brokers,
        &format!("{}tickets", names.prefix()),
        &names.tickets_changelog,
        &names.dlq,
        state_dir,
    );
    parley_tickets::host(
        config,
        &names.prefix(),
        TicketCodecs::single_object(),
        parley_tickets::ConfigCodecs::single_object(),
        clock,
        Arc::new(Metrics::new()),
    )
}

fn message(id: &str, conversation: &str, at: Timestamp) -> ConversationEvent {
    ConversationEvent {
        event_id: id.into(),
        account: "acme".into(),
        brand: None,
        conversation: conversation.into(),
        channel: Channel::Whatsapp,
        sent_at: at,
        received_at: at,
        text: Some("hello".into()),
        attachments: Vec::new(),
        author_name: None,
        reply_handles: Vec::new(),
    }
}

fn decision(id: &str, ticket_id: &str, kind: RoutingDecisionKind) -> RoutingDecision {
    RoutingDecision {
        decision_id: id.into(),
        account: "acme".into(),
        conversation: "c1".into(),
        ticket_id: ticket_id.into(),
        kind,
        agent_id: Some("agent-1".into()),
        reason: "best_match".into(),
        at: T0,
    }
}

fn set_status(id: &str, conversation: &str, status: Status) -> AgentAction {
    AgentAction {
        action_id: id.into(),
        account: "acme".into(),
        conversation: conversation.into(),
        agent_id: "agent-1".into(),
        kind: AgentActionKind::SetStatus,
        status: Some(status),
        priority: None,
        at: T0,
    }
}

fn statuses(brokers: &str, topic: &str, n: usize) -> Vec<(String, StatusChange)> {
    read_records::<StatusChange>(brokers, topic, WAIT, |r| r.len() >= n)
}

fn tos(changes: &[(String, StatusChange)]) -> Vec<Status> {
    changes.iter().map(|(_, c)| c.to).collect()
}

#[test]
fn a_ticket_goes_new_open_solved_closes_on_the_timer_and_survives_a_restart() {
    let names = Names::new("lifecycle");
    let cluster = make_cluster(&names);
    let brokers = cluster.bootstrap_servers();
    let t = &names.tickets;
    produce(
        &brokers,
        &t.style_config,
        "acme",
        &StyleConfig {
            account: "acme".into(),
            brand: None,
            channel: None,
            style: Style::LiveChatReturning,
            solved_to_closed_ms: Some(Millis::hours(1)),
            priority: 3,
            required_skills: Vec::new(),
            group: None,
            inactivity_ms: None,
            inactivity_reminders: Vec::new(),
            updated_at: T0,
        },
    );
    let dir = temp_dir("lifecycle");
    let clock = ManualClock::new(T0);
    let host = RunningHost::start(
        tickets_host(&brokers, &names, dir.clone(), Arc::new(clock.clone())).unwrap(),
    );

    produce(
        &brokers,
        &t.conversation_events,
        "acme/c1",
        &message("m1", "c1", T0),
    );
    let changes = statuses(&brokers, &t.status_changes, 1);
    assert_eq!(tos(&changes), [Status::New]);
    let (key, new) = &changes[0];
    assert_eq!(key, "acme/c1");
    assert_eq!(
        new.style,
        Style::LiveChatReturning,
        "the style came from the table"
    );
    let ticket = new.ticket_id.clone();

    let requests =
        read_records::<RoutingRequest>(&brokers, &t.routing_requests, WAIT, |r| !r.is_empty());
    assert_eq!(
        requests[0].0, "acme",
        "routing requests are keyed by account"
    );
    assert_eq!(requests[0].1.kind, RoutingRequestKind::Enqueue);
    assert_eq!(requests[0].1.priority, 3);

    produce(
        &brokers,
        &t.routing_decisions,
        "acme/c1",
        &decision("d1", &ticket, RoutingDecisionKind::Offered),
    );
    produce(
        &brokers,
        &t.routing_decisions,
        "acme/c1",
        &decision("d2", &ticket, RoutingDecisionKind::Assigned),
    );
    // Topics are not ordered with each other: the action goes once the ticket is Open.
    let changes = statuses(&brokers, &t.status_changes, 2);
    assert_eq!(tos(&changes), [Status::New, Status::Open]);
    produce(
        &brokers,
        &t.agent_actions,
        "acme/c1",
        &set_status("a1", "c1", Status::Solved),
    );
    let changes = statuses(&brokers, &t.status_changes, 3);
    assert_eq!(tos(&changes), [Status::New, Status::Open, Status::Solved]);
    assert!(changes.iter().all(|(_, c)| c.ticket_id == ticket));
    let metrics =
        read_records::<TicketMetrics>(&brokers, &t.ticket_metrics, WAIT, |r| !r.is_empty());
    assert_eq!(metrics[0].0, "acme/c1");
    assert_eq!(metrics[0].1.ticket_id, ticket);
    host.stop().unwrap();

    // Restarted on the same state directory: the end user writes again before the gap is
    // over, which reopens the same ticket.
    let host = RunningHost::start(
        tickets_host(&brokers, &names, dir.clone(), Arc::new(clock.clone())).unwrap(),
    );
    produce(
        &brokers,
        &t.conversation_events,
        "acme/c1",
        &message("m2", "c1", T0),
    );
    let changes = statuses(&brokers, &t.status_changes, 4);
    // A lost state would have started a new ticket (New) instead.
    assert_eq!(changes[3].1.from, Some(Status::Solved));
    assert_eq!(changes[3].1.to, Status::Open);
    assert_eq!(changes[3].1.ticket_id, ticket, "the same ticket continues");

    // The agent solves it a little later than the clock says (within `time.max_ahead_ms`):
    // it is handled at its record's time, not at the clock's.
    let solved_at = T0 + Millis(1_234);
    produce_at(
        &brokers,
        &t.agent_actions,
        "acme/c1",
        &set_status("a2", "c1", Status::Solved),
        solved_at,
    );
    let changes = statuses(&brokers, &t.status_changes, 5);
    assert_eq!(changes[4].1.to, Status::Solved);
    assert_eq!(
        changes[4].1.at, solved_at,
        "handled at the record's timestamp"
    );
    assert_eq!(changes[0].1.at, T0);

    // The gap passes on the manual clock: the runtime fires the close timer.
    clock.advance(Millis::hours(1).0 + 2_000);
    let changes = statuses(&brokers, &t.status_changes, 6);
    assert_eq!(
        tos(&changes),
        [
            Status::New,
            Status::Open,
            Status::Solved,
            Status::Open,
            Status::Solved,
            Status::Closed
        ]
    );
    assert_eq!(changes[5].1.ticket_id, ticket);
    assert_eq!(changes[5].1.actor_kind, ActorKind::Timer);
    assert_eq!(
        changes[5].1.at,
        solved_at + Millis::hours(1),
        "closed at the timer's due time, not when the clock got there"
    );
    host.stop().unwrap();
}

/// Records are handled at their timestamps, which need not be monotonic: the router's and the
/// agent workspace's clocks lag the webhook's here. The conversation's time never goes back,
/// durations stay non-negative, and the close timer is set a gap after the conversation's time.
#[test]
fn inputs_stamped_before_the_conversations_latest_time_are_handled_at_that_time() {
    let names = Names::new("backwards");
    let cluster = make_cluster(&names);
    let brokers = cluster.bootstrap_servers();
    let t = &names.tickets;
    produce(
        &brokers,
        &t.style_config,
        "acme",
        &StyleConfig {
            account: "acme".into(),
            brand: None,
            channel: None,
            style: Style::LiveChatReturning,
            solved_to_closed_ms: Some(Millis::hours(1)),
            priority: 3,
            required_skills: Vec::new(),
            group: None,
            inactivity_ms: None,
            inactivity_reminders: Vec::new(),
            updated_at: T0,
        },
    );
    let latest = T0 + Millis::minutes(10);
    let clock = ManualClock::new(latest);
    let _host = RunningHost::start(
        tickets_host(
            &brokers,
            &names,
            temp_dir("backwards"),
            Arc::new(clock.clone()),
        )
        .unwrap(),
    );
    produce_at(
        &brokers,
        &t.conversation_events,
        "acme/c1",
        &message("m1", "c1", latest),
        latest,
    );
    let changes = statuses(&brokers, &t.status_changes, 1);
    let ticket = changes[0].1.ticket_id.clone();
    assert_eq!(changes[0].1.at, latest);
    for (id, kind) in [
        ("d1", RoutingDecisionKind::Offered),
        ("d2", RoutingDecisionKind::Assigned),
    ] {
        produce_at(
            &brokers,
            &t.routing_decisions,
            "acme/c1",
            &decision(id, &ticket, kind),
            T0 + Millis::minutes(5),
        );
    }
    statuses(&brokers, &t.status_changes, 2);
    produce_at(
        &brokers,
        &t.agent_actions,
        "acme/c1",
        &set_status("a1", "c1", Status::Solved),
        T0,
    );
    let changes = statuses(&brokers, &t.status_changes, 3);
    assert_eq!(tos(&changes), [Status::New, Status::Open, Status::Solved]);
    assert!(
        changes.iter().all(|(_, c)| c.at == latest),
        "earlier stamps are taken as the conversation's latest time: {changes:?}"
    );
    let metrics =
        read_records::<TicketMetrics>(&brokers, &t.ticket_metrics, WAIT, |r| !r.is_empty());
    let solved = &metrics[0].1;
    assert_eq!(solved.first_assigned_at, Some(latest));
    assert_eq!(solved.first_resolution_time_ms, Some(Millis(0)));

    // The close timer is a gap after the conversation's time, not after the action's stamp:
    // an hour after T0 it has not fired, an hour after `latest` it has.
    clock.set(T0 + Millis::hours(1) + Millis(1_000));
    let early = read_records::<StatusChange>(
        &brokers,
        &t.status_changes,
        std::time::Duration::from_secs(2),
        |_| false,
    );
    assert_eq!(
        early.len(),
        3,
        "not closed an hour after the action's stamp"
    );
    clock.set(latest + Millis::hours(1) + Millis(1_000));
    let changes = statuses(&brokers, &t.status_changes, 4);
    assert_eq!(changes[3].1.to, Status::Closed);
    assert_eq!(changes[3].1.at, latest + Millis::hours(1));
}

#[test]
fn an_action_on_a_conversation_without_ticket_goes_to_the_dlq_with_its_reason() {
    let names = Names::new("rejection");
    let cluster = make_cluster(&names);
    let brokers = cluster.bootstrap_servers();
    let t = &names.tickets;
    let host = RunningHost::start(
        tickets_host(
            &brokers,
            &names,
            temp_dir("rejection"),
            Arc::new(ManualClock::new(T0)),
        )
        .unwrap(),
    );
    produce(
        &brokers,
        &t.agent_actions,
        "acme/nobody",
        &set_status("a1", "nobody", Status::Solved),
    );
    produce_raw(
        &brokers,
        &t.conversation_events,
        &[("acme/c9", b"not avro")],
    );
    let dead = read_until(&brokers, &names.dlq, WAIT, |r| r.len() >= 2);
    assert_eq!(dead.len(), 2);
    let process = dead
        .iter()
        .find(|r| r.headers[headers::STAGE] == "process")
        .expect("the rejected action");
    assert_eq!(process.key, "acme/nobody");
    assert_eq!(process.headers[headers::REASON], "no_ticket");
    assert_eq!(process.headers[headers::TOPIC], t.agent_actions);
    let decode = dead
        .iter()
        .find(|r| r.headers[headers::STAGE] == "decode")
        .expect("the undecodable event");
    assert_eq!(decode.value, b"not avro");
    host.stop().unwrap();
}

#[test]
fn inputs_with_different_partition_counts_are_refused_at_start() {
    let names = Names::new("copart");
    let cluster = rdkafka::mocking::MockCluster::new(1).unwrap();
    for topic in names.all() {
        let partitions = if topic == names.tickets.agent_actions {
            2
        } else {
            PARTITIONS
        };
        cluster.create_topic(&topic, partitions, 1).unwrap();
    }
    let err = tickets_host(
        &cluster.bootstrap_servers(),
        &names,
        temp_dir("copart"),
        Arc::new(ManualClock::new(T0)),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("copart.agent-actions = 2") && err.contains("copart.conversation-events = 4"),
        "{err}"
    );
}

#[test]
fn a_new_ticket_is_opened_through_the_real_router() {
    let names = Names::new("roundtrip");
    let cluster = make_cluster(&names);
    let brokers = cluster.bootstrap_servers();
    let t = &names.tickets;
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(T0));
    let tickets = RunningHost::start(
        tickets_host(
            &brokers,
            &names,
            temp_dir("roundtrip-tickets"),
            clock.clone(),
        )
        .unwrap(),
    );
    let router_config = runtime_config(
        &brokers,
        "roundtrip.router",
        &names.router_changelog,
        &names.dlq,
        temp_dir("roundtrip-router"),
    );
    let router = RunningHost::start(
        parley_routing::host(
            router_config,
            &names.prefix(),
            RoutingConfig {
                auto_accept: vec![Channel::Whatsapp],
                ..RoutingConfig::default()
            },
            parley_routing::RouterCodecs::single_object(),
            clock,
            Arc::new(Metrics::new()),
        )
        .unwrap(),
    );
    produce(
        &brokers,
        &names.presence,
        "acme",
        &AgentPresence {
            presence_id: "p1".into(),
            account: "acme".into(),
            agent_id: "agent-1".into(),
            channels: vec![ChannelPresence {
                channel: Channel::Whatsapp,
                status: AgentStatus::Online,
                capacity: 2,
            }],
            skills: Vec::new(),
            groups: Vec::new(),
            at: T0,
        },
    );
    produce(
        &brokers,
        &t.conversation_events,
        "acme/c1",
        &message("m1", "c1", T0),
    );
    let changes = statuses(&brokers, &t.status_changes, 2);
    assert_eq!(tos(&changes), [Status::New, Status::Open]);
    assert_eq!(changes[1].1.assignee.as_deref(), Some("agent-1"));
    assert_eq!(changes[1].1.actor_kind, ActorKind::Routing);
    let decisions = read_records::<RoutingDecision>(&brokers, &t.routing_decisions, WAIT, |r| {
        r.iter()
            .any(|(_, d)| d.kind == RoutingDecisionKind::Assigned)
    });
    assert!(decisions.iter().all(|(key, _)| key == "acme/c1"));
    tickets.stop().unwrap();
    router.stop().unwrap();
}

#[test]
fn the_style_reader_applies_upserts_and_tombstones_and_refuses_broken_configs() {
    let topic = "styles.style-config";
    let cluster = parley_testkit::mock::cluster(&[topic], PARTITIONS);
    let brokers = cluster.bootstrap_servers();
    let config = |account: &str, style: Style, gap: Option<Millis>| StyleConfig {
        account: account.into(),
        brand: None,
        channel: Some(Channel::Whatsapp),
        style,
        solved_to_closed_ms: gap,
        priority: 0,
        required_skills: Vec::new(),
        group: None,
        inactivity_ms: None,
        inactivity_reminders: Vec::new(),
        updated_at: T0,
    };
    produce(
        &brokers,
        topic,
        "acme/whatsapp",
        &config("acme", Style::LiveChat, None),
    );
    produce(
        &brokers,
        topic,
        "globex/whatsapp",
        &config("globex", Style::LiveChatReturning, Some(Millis::hours(2))),
    );
    // live_chat takes no gap: refused, the table keeps what it had.
    produce(
        &brokers,
        topic,
        "globex/whatsapp",
        &config("globex", Style::LiveChat, Some(Millis::hours(1))),
    );
    produce_raw(&brokers, topic, &[("acme/whatsapp", b"not avro")]);

    let mut client = rdkafka::config::ClientConfig::new();
    client.set("bootstrap.servers", &brokers);
    let reader = parley_tickets::StyleReader::start(
        &client,
        topic,
        parley_tickets::StyleRecords::new(AvroCodec::single_object()),
        std::time::Duration::from_secs(10),
    )
    .unwrap();
    assert!(reader.wait_caught_up(WAIT));
    let resolve = |account: &str| {
        reader
            .table()
            .read()
            .unwrap()
            .table()
            .resolve(account, None, Channel::Whatsapp)
    };
    assert_eq!(resolve("acme").style, Style::LiveChat);
    assert_eq!(resolve("globex").style, Style::LiveChatReturning);
    assert_eq!(resolve("globex").solved_to_closed, Millis::hours(2));
    let stats = reader.stats();
    assert_eq!(stats.refused(), 2);

    // A tombstone removes what its key held: acme falls back to the default style.
    let producer: rdkafka::producer::BaseProducer = client.create().unwrap();
    producer
        .send(rdkafka::producer::BaseRecord::<str, [u8]>::to(topic).key("acme/whatsapp"))
        .unwrap();
    rdkafka::producer::Producer::flush(&producer, std::time::Duration::from_secs(10)).unwrap();
    assert!(
        wait_until(|| resolve("acme").style == Style::SocialMessaging),
        "the tombstone was applied"
    );
    assert_eq!(resolve("globex").style, Style::LiveChatReturning);
}

/// Two instances of the DLQ group over style-config: each refused record reaches the DLQ
/// once, with its reason and source, and a valid one never does.
#[test]
fn refused_style_configs_reach_the_dlq_once_however_many_instances_run() {
    let (topic, dlq) = ("styles2.style-config", "styles2.dlq");
    let cluster = parley_testkit::mock::cluster(&[topic, dlq], PARTITIONS);
    let brokers = cluster.bootstrap_servers();
    let valid = StyleConfig {
        account: "acme".into(),
        brand: None,
        channel: None,
        style: Style::SocialMessaging,
        solved_to_closed_ms: Some(Millis::days(28)),
        priority: 0,
        required_skills: Vec::new(),
        group: None,
        inactivity_ms: None,
        inactivity_reminders: Vec::new(),
        updated_at: T0,
    };
    let too_long = StyleConfig {
        solved_to_closed_ms: Some(Millis::days(30)),
        ..valid.clone()
    };
    produce(&brokers, topic, "acme", &valid);
    produce(&brokers, topic, "acme", &too_long);
    produce_raw(&brokers, topic, &[("globex", b"not avro")]);

    let mut client = rdkafka::config::ClientConfig::new();
    client.set("bootstrap.servers", &brokers);
    let start = || {
        parley_runtime::table::TableDeadLetters::start(
            &client,
            "tickets-style-dlq",
            topic,
            dlq,
            parley_tickets::StyleRecords::new(AvroCodec::single_object()),
        )
        .unwrap()
    };
    let (first, second) = (start(), start());
    let records = read_until(&brokers, dlq, WAIT, |r| r.len() >= 2);
    // Anything written twice would arrive within this wait.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let records = read_until(&brokers, dlq, std::time::Duration::from_secs(2), |r| {
        r.len() > records.len()
    });
    drop((first, second));
    let mut found: Vec<(String, String)> = records
        .iter()
        .map(|r| (r.key.clone(), r.headers[headers::REASON].clone()))
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("acme".into(), "style_rule".into()),
            ("globex".into(), "undecodable".into()),
        ]
    );
    let rule = records.iter().find(|r| r.key == "acme").unwrap();
    assert_eq!(rule.headers[headers::TOPIC], topic);
    // The second record of its key's partition: the valid first one stayed out.
    assert_eq!(rule.headers[headers::OFFSET], "1");
    assert!(
        rule.headers[headers::ERROR].contains("28"),
        "{:?}",
        rule.headers
    );
}

fn wait_until(condition: impl Fn() -> bool) -> bool {
    let deadline = std::time::Instant::now() + WAIT;
    while std::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    condition()
}
