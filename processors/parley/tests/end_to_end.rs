//! The whole pipeline through the real binary on a real broker: a raw WhatsApp webhook in,
//! routed by the router, opened, solved by the agent, status changes and metrics out.
//!
//! `parley run` (every role in one process, in its default `exactly_once`) runs against
//! Apache Kafka, started by the test; the test plays the channel integration and the agent
//! workspace by producing to the input topics, and BI by reading the output topics with
//! `read_committed`. Then thirty conversations on three channels, one style each, with the
//! tickets process killed by SIGKILL halfway and restarted, in both guarantees: every status
//! change and ticket-metrics record equal to an undisturbed run's.

use parley_core::*;
use parley_runtime::codec::AvroCodec;
use parley_runtime::Guarantee;
use parley_testkit::pipeline::{
    self, ana_online, assert_script_outputs, conversations, producer, read_until, script_base,
    send, Pipeline, Run,
};
use parley_testkit::Kafka;
use std::sync::OnceLock;

#[test]
fn a_whatsapp_webhook_becomes_a_routed_ticket_that_the_agent_solves() {
    let Some(broker) =
        Kafka::single("a_whatsapp_webhook_becomes_a_routed_ticket_that_the_agent_solves")
    else {
        return;
    };
    let brokers = broker.bootstrap_servers();
    let brokers = brokers.as_str();
    // WhatsApp is live chat here: Solved closes the ticket at once.
    let mut pipeline = Pipeline::new(
        env!("CARGO_BIN_EXE_parley"),
        brokers,
        Guarantee::ExactlyOnce,
        "one-webhook",
    );
    pipeline.start("run", "run");
    let now = || parley_runtime::Clock::now(&parley_runtime::SystemClock);
    ana_online(brokers, 2, now());

    let fixture = pipeline::fixtures().join("whatsapp/text.json");
    let body = std::fs::read(fixture).unwrap();
    let producer = producer(brokers);
    let conversation = "5511987654321";
    send(
        &producer,
        "parley.raw.whatsapp",
        conversation,
        &body,
        Some(("parley-account", "acme")),
        now(),
    );

    let statuses = "parley.ticket-status-changes";
    let opened = read_until::<StatusChange>(brokers, statuses, |changes| {
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
    assert!(opened.iter().all(|c| &*c.account == "acme"
        && *c.conversation == *conversation
        && c.channel == Channel::Whatsapp
        && c.style == Style::LiveChat));
    assert_eq!(opened[1].assignee.as_deref(), Some("ana"));
    assert_eq!(opened[1].reason, "auto_accept");

    let solve = AgentAction {
        action_id: "a-1".into(),
        account: "acme".into(),
        conversation: conversation.into(),
        agent_id: "ana".into(),
        kind: AgentActionKind::SetStatus,
        status: Some(Status::Solved),
        priority: None,
        at: Timestamp(0),
    };
    let encoded = AvroCodec::<AgentAction>::single_object()
        .encode(&solve)
        .unwrap();
    let key = format!("acme/{conversation}");
    send(
        &producer,
        "parley.agent-actions",
        &key,
        &encoded,
        None,
        now(),
    );

    let changes = read_until::<StatusChange>(brokers, statuses, |changes| {
        changes.iter().any(|c| c.to == Status::Closed)
    });
    let transitions: Vec<_> = changes[2..].iter().map(|c| (c.from, c.to)).collect();
    assert_eq!(
        transitions,
        [
            (Some(Status::Open), Status::Solved),
            (Some(Status::Solved), Status::Closed)
        ],
        "live chat closes when solved"
    );

    let metrics = read_until::<TicketMetrics>(brokers, "parley.ticket-metrics", |m| m.len() >= 2);
    let statuses: Vec<_> = metrics
        .iter()
        .map(|m| (m.status, m.assignee.as_deref(), m.end_user_messages))
        .collect();
    assert_eq!(
        statuses,
        [
            (Status::Solved, Some("ana"), 1),
            (Status::Closed, Some("ana"), 1)
        ]
    );

    let agents = read_until::<AgentMetrics>(brokers, "parley.agent-metrics", |m| {
        m.iter().any(|a| a.assignments == 1)
    });
    assert!(
        agents
            .iter()
            .any(|a| a.agent_id == "ana" && a.assignments == 1),
        "{agents:?}"
    );
    assert!(
        pipeline.ready("run"),
        "ready: {:?}",
        pipeline.http_get("run", "/readyz")
    );
}

/// The reference: thirty conversations through an undisturbed pipeline (`exactly_once`),
/// on a broker of their own, computed once for the tests that compare with it.
fn undisturbed(base: Timestamp) -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let broker = Kafka::single("undisturbed").expect("Apache Kafka for the reference run");
        let mut pipeline = Pipeline::new(
            env!("CARGO_BIN_EXE_parley"),
            &broker.bootstrap_servers(),
            Guarantee::ExactlyOnce,
            "undisturbed",
        );
        pipeline.start_all();
        let run = conversations(&mut pipeline, CONVERSATIONS, base, |_, _| {});
        assert_script_outputs(&run, CONVERSATIONS, base);
        assert_eq!((run.duplicate_changes, run.duplicate_metrics), (0, 0));
        run
    })
}

/// The script's inputs start here in every run of this test binary.
fn base() -> Timestamp {
    static BASE: OnceLock<Timestamp> = OnceLock::new();
    *BASE.get_or_init(script_base)
}

const CONVERSATIONS: usize = 30;

/// Thirty conversations with the tickets process killed by SIGKILL halfway through the
/// webhooks (once five tickets exist) and restarted on the same state directory.
fn killed_mid_stream(test: &str, guarantee: Guarantee) {
    let Some(broker) = Kafka::single(test) else {
        return;
    };
    let mut pipeline = Pipeline::new(
        env!("CARGO_BIN_EXE_parley"),
        &broker.bootstrap_servers(),
        guarantee,
        test,
    );
    pipeline.start_all();
    let run = conversations(&mut pipeline, CONVERSATIONS, base(), |pipeline, n| {
        if n == CONVERSATIONS / 2 {
            read_until::<StatusChange>(pipeline.brokers(), "parley.ticket-status-changes", |c| {
                c.iter().filter(|c| c.to == Status::New).count() >= 5
            });
            pipeline.kill("tickets");
            pipeline.start("tickets", "tickets");
        }
    });
    run.assert_same_as(undisturbed(base()), guarantee == Guarantee::ExactlyOnce);
}

#[test]
fn exactly_once_the_tickets_process_killed_mid_stream_and_restarted_changes_nothing() {
    killed_mid_stream("killed-eos", Guarantee::ExactlyOnce);
}

#[test]
fn at_least_once_the_tickets_process_killed_mid_stream_and_restarted_changes_nothing() {
    killed_mid_stream("killed-alo", Guarantee::AtLeastOnce);
}

/// A topic just created has no leader for a moment: `parley run` started at once waits for
/// it instead of exiting (the style table's and restore's watermark reads ask again).
#[test]
fn parley_run_started_right_after_topics_create_becomes_ready() {
    let Some(broker) = Kafka::single("parley_run_started_right_after_topics_create") else {
        return;
    };
    let brokers = broker.bootstrap_servers();
    let parley = env!("CARGO_BIN_EXE_parley");
    let created = std::process::Command::new(parley)
        .args(["topics", "create", "--brokers", &brokers])
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let port = parley_testkit::free_ports(3);
    let state = parley_testkit::temp_dir("run-at-once");
    let mut run = parley_testkit::Running(
        std::process::Command::new(parley)
            .args(["run", "--brokers", &brokers])
            .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
            .arg("--state-dir")
            .arg(&state)
            .env("RUST_LOG", "warn")
            .spawn()
            .unwrap(),
    );
    // `parley run` serves ingress on `port`, tickets on `port + 1`, router on `port + 2`.
    let ready =
        |port: u16| parley_testkit::http_get(port, "/readyz").is_some_and(|(code, _)| code == 200);
    let all_ready = parley_testkit::wait_for(std::time::Duration::from_secs(60), || {
        ready(port + 1) && ready(port + 2)
    });
    assert_eq!(
        run.0.try_wait().unwrap(),
        None,
        "parley run is still running"
    );
    assert!(all_ready, "tickets and router became ready");
}
