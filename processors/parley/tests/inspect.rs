//! `parley inspect ticket|agent` as a person runs it: against a `parley run` on librdkafka's
//! mock cluster, and its refusals and failures (bad arguments, nothing listening, a port that
//! is not a state endpoint, a restoring instance); and on Apache Kafka, with `--brokers`
//! instead of an address, against two tickets instances of one group, each asked for the
//! conversations it owns.

use parley_core::{
    AgentPresence, AgentStatus, Channel, ChannelPresence, ConversationEvent, Timestamp,
};
use parley_runtime::codec::AvroCodec;
use parley_runtime::http::StatusCode;
use rdkafka::config::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::Value;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use parley_testkit::mock::parley_topics as mock_topics;
use parley_testkit::Running;

const WAIT: Duration = Duration::from_secs(90);

fn parley(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(args)
        .env_remove("PARLEY_CONFIG")
        .env_remove("PARLEY_TICKETS_ADDR")
        .env_remove("PARLEY_ROUTER_ADDR")
        .env("RUST_LOG", "warn")
        .output()
        .expect("parley runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    parley_testkit::free_port()
}

fn send(producer: &BaseProducer, topic: &str, key: &str, value: &[u8]) {
    producer
        .send(BaseRecord::to(topic).key(key).payload(value))
        .map_err(|(e, _)| e)
        .unwrap();
    producer.flush(Duration::from_secs(10)).unwrap();
}

/// Runs `args` until it exits 0 or the wait runs out; returns the last output.
fn until_found(args: &[&str], env: &[(&str, &str)]) -> Output {
    let deadline = Instant::now() + WAIT;
    loop {
        let output = Command::new(env!("CARGO_BIN_EXE_parley"))
            .args(args)
            .env_remove("PARLEY_TICKETS_ADDR")
            .env_remove("PARLEY_ROUTER_ADDR")
            .envs(env.iter().copied())
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        if output.status.success() || Instant::now() >= deadline {
            return output;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn inspect_reads_a_ticket_and_its_agent_from_a_running_parley_run() {
    let cluster = MockCluster::new(1).unwrap();
    let brokers = cluster.bootstrap_servers();
    mock_topics(&cluster, 2);
    let state = std::env::temp_dir().join(format!("parley-inspect-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    // `parley run` serves on this port and the next two.
    let port = parley_testkit::free_ports(3);
    let _running = Running(
        Command::new(env!("CARGO_BIN_EXE_parley"))
            .args(["run", "--brokers", &brokers, "--guarantee", "at_least_once"])
            // The offer must still be pending when the test looks.
            .args(["--offer-timeout", "10m"])
            .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
            .arg("--state-dir")
            .arg(&state)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (tickets, router) = (
        format!("127.0.0.1:{}", port + 1),
        format!("127.0.0.1:{}", port + 2),
    );

    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("partitioner", "murmur2_random")
        .create()
        .unwrap();
    let presence = AgentPresence {
        presence_id: "p-1".into(),
        account: "acme".into(),
        agent_id: "ana".into(),
        channels: vec![ChannelPresence {
            channel: Channel::Whatsapp,
            status: AgentStatus::Online,
            capacity: 2,
        }],
        skills: vec![],
        groups: vec![],
        at: Timestamp(0),
    };
    let presence = AvroCodec::<AgentPresence>::single_object()
        .encode(&presence)
        .unwrap();
    send(&producer, "parley.agent-presence", "acme", &presence);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let message = ConversationEvent {
        event_id: "wamid.1".into(),
        account: "acme".into(),
        brand: None,
        conversation: "5511987654321".into(),
        channel: Channel::Whatsapp,
        sent_at: Timestamp(now),
        received_at: Timestamp(now),
        text: Some("my order is late".into()),
        attachments: vec![],
        author_name: Some("Maria".into()),
        reply_handles: vec![],
    };
    let message = AvroCodec::<ConversationEvent>::single_object()
        .encode(&message)
        .unwrap();
    send(
        &producer,
        "parley.conversation-events",
        "acme/5511987654321",
        &message,
    );

    // The ticket, once the router's offer to Ana is back at the tickets role.
    let ticket = |output: &Output| -> Option<Value> {
        let json: Value = serde_json::from_str(&stdout(output)).ok()?;
        (json["state"]["current"]["offered_to"] == "ana").then_some(json)
    };
    let deadline = Instant::now() + WAIT;
    let json = loop {
        let output = until_found(
            &[
                "inspect",
                "ticket",
                "acme/5511987654321",
                "--addr",
                &tickets,
            ],
            &[],
        );
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        if let Some(json) = ticket(&output) {
            break json;
        }
        assert!(
            Instant::now() < deadline,
            "the offer never reached the ticket: {}",
            stdout(&output)
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(json["key"], "acme/5511987654321");
    assert_eq!(json["state"]["account"], "acme");
    assert_eq!(json["state"]["tickets_created"], 1);
    let ticket_id = json["state"]["current"]["id"].as_str().unwrap().to_owned();

    // Ana, from the router's port, found through the environment variable.
    let output = until_found(
        &["inspect", "agent", "acme/ana"],
        &[("PARLEY_ROUTER_ADDR", &router)],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let ana: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(ana["key"], "acme/agent/ana");
    let whatsapp = &ana["state"]["channels"][0];
    assert_eq!(
        (
            &whatsapp["capacity"],
            &whatsapp["load"],
            &whatsapp["offered"]
        ),
        (&Value::from(2), &Value::from(0), &Value::from(1)),
        "{ana}"
    );
    assert_eq!(ana["state"]["tickets"][0]["ticket_id"], ticket_id.as_str());
    // Pretty-printed: one field per line.
    assert!(stdout(&output).contains("\n  \"key\": \"acme/agent/ana\",\n"));

    // The tickets address from a config file.
    let config = state.join("inspect.toml");
    std::fs::write(&config, format!("tickets_addr = \"{tickets}\"\n")).unwrap();
    let output = parley(&[
        "--config",
        config.to_str().unwrap(),
        "inspect",
        "ticket",
        "acme/5511987654321",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    // A conversation no owned partition holds: exit 1, naming the key, the instance and
    // its partitions.
    let output = parley(&["inspect", "ticket", "acme/nobody", "--addr", &tickets]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains(&format!(
            "ticket acme/nobody not found at the tickets instance at {tickets}"
        )) && err.contains("owns (0, 1)"),
        "{err}"
    );
    // An agent asked of the tickets instance is not there either.
    let output = parley(&["inspect", "agent", "acme/ana", "--addr", &tickets]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("agent acme/ana not found"),
        "{}",
        stderr(&output)
    );
    // The ingress serves no state.
    let output = parley(&[
        "inspect",
        "ticket",
        "acme/5511987654321",
        "--addr",
        &format!("127.0.0.1:{port}"),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("does not serve /state/"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn malformed_arguments_are_usage_errors_naming_the_argument_and_the_rule() {
    for (args, argument, rule) in [
        (
            vec!["inspect", "ticket", "acme"],
            "'acme' for '<ACCOUNT/CONVERSATION>'",
            "an account, a `/`, then the conversation id",
        ),
        (
            vec!["inspect", "agent", "/ana"],
            "'/ana' for '<ACCOUNT/AGENT>'",
            "an account, a `/`, then the agent id",
        ),
        (
            vec!["inspect", "agent", "acme/ana", "--addr", "9466"],
            "'9466' for '--addr <HOST:PORT>'",
            "expected HOST:PORT",
        ),
    ] {
        let output = parley(&args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        let err = stderr(&output);
        assert!(err.contains(argument) && err.contains(rule), "{err}");
    }
    let help = stdout(&parley(&["inspect", "ticket", "--help"]));
    assert!(
        help.contains("PARLEY_TICKETS_ADDR") && help.contains("127.0.0.1:9465"),
        "{help}"
    );
    let help = stdout(&parley(&["inspect", "agent", "--help"]));
    assert!(
        help.contains("PARLEY_ROUTER_ADDR") && help.contains("127.0.0.1:9466"),
        "{help}"
    );
}

#[test]
fn an_unreachable_address_is_a_failure_naming_it() {
    let addr = format!("127.0.0.1:{}", closed_port());
    let output = parley(&["inspect", "agent", "acme/ana", "--addr", &addr]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains(&format!("cannot reach the router instance at {addr}"))
            && err.contains("PARLEY_ROUTER_ADDR"),
        "{err}"
    );
}

#[test]
fn a_restoring_instance_says_to_retry() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let body = serde_json::json!({
        "error": "restoring",
        "key": "acme/c1",
        "restoring_partitions": [1],
        "owned_partitions": [0, 1],
        "message": "partitions 1 are still restoring: retry once /readyz answers 200",
    })
    .to_string();
    let (address, server) = runtime
        .block_on(parley_runtime::http::serve(
            "127.0.0.1:0".parse().unwrap(),
            move |_| {
                Some((
                    StatusCode::SERVICE_UNAVAILABLE,
                    "application/json",
                    body.clone(),
                ))
            },
        ))
        .unwrap();
    let output = parley(&[
        "inspect",
        "ticket",
        "acme/c1",
        "--addr",
        &address.to_string(),
    ]);
    server.abort();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains(&format!(
            "the tickets instance at {address} cannot answer for ticket acme/c1 yet"
        )) && err.contains("retry once /readyz"),
        "{err}"
    );
}

/// Runs `parley inspect WHAT KEY ARGS` until it exits 0 or the wait runs out; returns the
/// JSON it printed.
fn inspected(what: &str, key: &str, args: &[&str]) -> Value {
    let output = until_found(&[&["inspect", what, key][..], args].concat(), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    serde_json::from_str(&stdout(&output)).unwrap()
}

#[test]
fn inspect_with_brokers_asks_the_instance_that_owns_the_partition() {
    use parley_core::{Status, StatusChange};
    use parley_runtime::partitions::partition_of;
    use parley_testkit::pipeline::{
        ana_online, channel_of, conversation_of, producer as webhooks, read_until, send as send_at,
        webhook_of, Pipeline, PARTITIONS,
    };
    let Some(broker) = parley_testkit::Kafka::single("inspect_owner") else {
        return;
    };
    let brokers = broker.bootstrap_servers();
    let brokers = brokers.as_str();
    let mut pipeline = Pipeline::new(
        env!("CARGO_BIN_EXE_parley"),
        brokers,
        parley_runtime::Guarantee::ExactlyOnce,
        "inspect-owner",
    );
    for name in ["tickets-a", "tickets-b"] {
        pipeline.start(name, "tickets");
    }
    pipeline.start("ingress", "ingress");
    pipeline.start("router", "router");
    // Both instances hold a partition before the first message: each conversation is
    // processed where it stays.
    assert!(
        parley_testkit::wait_for(WAIT, || pipeline.ready("tickets-a")
            && pipeline.ready("tickets-b")),
        "both tickets instances ready"
    );
    let now = || parley_runtime::Clock::now(&parley_runtime::SystemClock);
    ana_online(brokers, 100, now());
    const COUNT: usize = 12;
    let producer = webhooks(brokers);
    for n in 0..COUNT {
        send_at(
            &producer,
            &format!("parley.raw.{}", channel_of(n).as_str()),
            &conversation_of(n),
            &webhook_of(n),
            Some(("parley-account", "acme")),
            now(),
        );
    }
    read_until::<StatusChange>(brokers, "parley.ticket-status-changes", |c| {
        c.iter().filter(|c| c.to == Status::New).count() >= COUNT
    });

    let mut owners = std::collections::BTreeSet::new();
    for n in 0..COUNT {
        let key = format!("acme/{}", conversation_of(n));
        let json = inspected("ticket", &key, &["--brokers", brokers]);
        assert_eq!(json["key"], key.as_str());
        let partition = partition_of(key.as_bytes(), PARTITIONS);
        assert_eq!(json["partition"], partition, "{json}");
        assert_eq!(json["state"]["account"], "acme");
        // Exactly one instance holds the conversation (the other answers 404), the same
        // ticket (its state may have moved on since: the router's offer arrives meanwhile).
        let path = parley_runtime::http::state_path(key.as_bytes());
        let holders: Vec<&str> = ["tickets-a", "tickets-b"]
            .into_iter()
            .filter(|name| {
                pipeline.http_get(name, &path).is_some_and(|(code, body)| {
                    code == 200 && {
                        let held: Value = serde_json::from_str(&body).unwrap();
                        held["state"]["current"]["id"] == json["state"]["current"]["id"]
                    }
                })
            })
            .collect();
        assert_eq!(holders.len(), 1, "{key} on one instance: {holders:?}");
        owners.insert(holders[0]);
    }
    assert_eq!(
        owners.len(),
        2,
        "each instance owns some of the conversations: {owners:?}"
    );

    // The router's owner, for an agent: the partition of the account.
    let ana = inspected("agent", "acme/ana", &["--brokers", brokers]);
    assert_eq!(ana["key"], "acme/agent/ana");
    assert_eq!(ana["partition"], partition_of(b"acme", PARTITIONS));

    // --addr overrides the lookup: the instance that does not own the key says so.
    let key = format!("acme/{}", conversation_of(0));
    let other = ["tickets-a", "tickets-b"]
        .into_iter()
        .find(|name| {
            pipeline
                .http_get(name, &parley_runtime::http::state_path(key.as_bytes()))
                .is_some_and(|(code, _)| code == 404)
        })
        .expect("an instance without the key");
    let output = parley(&[
        "inspect",
        "ticket",
        &key,
        "--brokers",
        brokers,
        "--addr",
        &pipeline.addr(other),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("not found"), "{}", stderr(&output));

    // A group without members: the group, the topic and the partition are named.
    let output = parley(&[
        "inspect",
        "ticket",
        &key,
        "--brokers",
        brokers,
        "--group-id",
        "nobody",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let partition = partition_of(key.as_bytes(), PARTITIONS);
    assert!(
        stderr(&output).contains(&format!(
            "no member of consumer group nobody owns partition {partition} of \
             parley.conversation-events"
        )),
        "{}",
        stderr(&output)
    );
}
