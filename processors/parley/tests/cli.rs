//! The `parley` binary as a person runs it: help, refused values, exit codes, and commands
//! against librdkafka's mock cluster (or Apache Kafka where the mock lacks an API).

use parley_core::routing::QueueDefinition;
use parley_core::{AccountRoutingConfig, Channel, Style, StyleConfig};
use parley_runtime::codec::AvroCodec;
use parley_testkit::mock::parley_topics as mock_topics;
use parley_testkit::Kafka;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::{Message, Offset, TopicPartitionList};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn parley(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(args)
        .env_remove("PARLEY_BROKERS")
        .env_remove("PARLEY_CONFIG")
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

fn mock() -> MockCluster<'static, rdkafka::producer::DefaultProducerContext> {
    MockCluster::new(1).unwrap()
}

#[test]
fn help_lists_every_subcommand_and_option() {
    let top = stdout(&parley(&["--help"]));
    for command in [
        "ingress", "tickets", "router", "run", "topics", "config", "schemas", "simulate", "demo",
        "inspect",
    ] {
        assert!(top.contains(&format!("  {command} ")), "{command} in {top}");
    }
    let run = stdout(&parley(&["run", "--help"]));
    for (option, env) in [
        ("--config", "PARLEY_CONFIG"),
        ("--brokers", "PARLEY_BROKERS"),
        ("--topic-prefix", "PARLEY_TOPIC_PREFIX"),
        ("--group-id", "PARLEY_GROUP_ID"),
        ("--state-dir", "PARLEY_STATE_DIR"),
        ("--guarantee", "PARLEY_GUARANTEE"),
        ("--registry-url", "PARLEY_REGISTRY_URL"),
        ("--metrics-addr", "PARLEY_METRICS_ADDR"),
        ("--instance-id", "PARLEY_INSTANCE_ID"),
        ("--auto-accept", "PARLEY_AUTO_ACCEPT"),
        ("--offer-timeout", "PARLEY_OFFER_TIMEOUT"),
        ("--returning-grace", "PARLEY_RETURNING_GRACE"),
        ("--skills-timeout", "PARLEY_SKILLS_TIMEOUT"),
        ("--routing-mode", "PARLEY_ROUTING_MODE"),
        ("--queue-order", "PARLEY_QUEUE_ORDER"),
        ("--librdkafka", "PARLEY_LIBRDKAFKA"),
    ] {
        assert!(run.contains(option), "{option} in {run}");
        assert!(run.contains(env), "{env} in {run}");
    }
    let simulate = stdout(&parley(&["simulate", "--help"]));
    for option in [
        "--input",
        "--output",
        "--topic",
        "--partitions",
        "--run-after",
        "--max-steps",
        "--auto-accept",
        "--offer-timeout",
    ] {
        assert!(simulate.contains(option), "{option} in {simulate}");
    }
    let create = stdout(&parley(&["topics", "create", "--help"]));
    assert!(create.contains("--partitions") && create.contains("--replication-factor"));
    let style = stdout(&parley(&["config", "set-style", "--help"]));
    for option in [
        "--account",
        "--brand",
        "--channel",
        "--style",
        "--solved-to-closed",
        "--priority",
        "--skill",
        "--group",
    ] {
        assert!(style.contains(option), "{option} in {style}");
    }
    assert!(stdout(&parley(&["schemas", "register", "--help"])).contains("--registry-url"));
}

#[test]
fn a_misspelt_guarantee_names_the_option_the_value_and_the_choices() {
    let output = parley(&["tickets", "--brokers", "x:1", "--guarantee", "exactly-once"]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("--guarantee")
            && err.contains("'exactly-once'")
            && err.contains("exactly_once, at_least_once"),
        "{err}"
    );
}

#[test]
fn a_bad_duration_names_the_option_the_value_and_the_units() {
    let output = parley(&["router", "--brokers", "x:1", "--offer-timeout", "5x"]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("--offer-timeout") && err.contains("'5x'") && err.contains("ms, s, m, h or d"),
        "{err}"
    );
}

#[test]
fn a_missing_broker_list_is_a_usage_error() {
    let output = parley(&["tickets"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--brokers is required"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_config_file_with_an_unknown_key_is_refused_naming_it() {
    let dir = std::env::temp_dir().join(format!("parley-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.toml");
    std::fs::write(&path, "brokers = \"x:1\"\nofer_timeout = \"30s\"\n").unwrap();
    let output = parley(&["--config", path.to_str().unwrap(), "router"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("ofer_timeout"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn an_unknown_librdkafka_setting_is_a_usage_error_naming_it() {
    let output = parley(&[
        "run",
        "--brokers",
        "127.0.0.1:1",
        "--librdkafka",
        "nosuch.setting=1",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("--librdkafka nosuch.setting=1")
            && !stderr(&output).contains("cannot reach"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn solved_to_closed_over_28_days_is_refused_with_the_rule() {
    let output = parley(&[
        "config",
        "set-style",
        "--brokers",
        "127.0.0.1:1",
        "--account",
        "acme",
        "--style",
        "live_chat_returning",
        "--solved-to-closed",
        "29d",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("solved_to_closed = 29d") && err.contains("must be at most 28d"),
        "{err}"
    );
}

#[test]
fn an_unreachable_broker_fails_with_exit_1_and_names_the_brokers() {
    let output = parley(&["tickets", "--brokers", "127.0.0.1:1"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("cannot reach the Kafka brokers at 127.0.0.1:1"),
        "{err}"
    );
}

#[test]
fn set_style_writes_a_record_the_tickets_codec_decodes_under_its_key() {
    let cluster = mock();
    let brokers = cluster.bootstrap_servers();
    cluster.create_topic("parley.style-config", 1, 1).unwrap();
    let output = parley(&[
        "config",
        "set-style",
        "--brokers",
        &brokers,
        "--account",
        "acme",
        "--brand",
        "eu",
        "--channel",
        "whatsapp",
        "--style",
        "social_messaging",
        "--solved-to-closed",
        "4d",
        "--priority",
        "3",
        "--skill",
        "spanish",
        "--skill",
        "billing",
        "--group",
        "tier-2",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));

    let (key, value) = first_record(&brokers, "parley.style-config");
    assert_eq!(key, b"acme/eu/whatsapp");
    let config: StyleConfig = AvroCodec::<StyleConfig>::single_object()
        .decode(&value)
        .unwrap();
    assert_eq!(config.account, "acme");
    assert_eq!(config.brand.as_deref(), Some("eu"));
    assert_eq!(config.channel, Some(Channel::Whatsapp));
    assert_eq!(config.style, Style::SocialMessaging);
    assert_eq!(
        config.solved_to_closed_ms,
        Some(parley_core::Millis::days(4))
    );
    assert_eq!(config.priority, 3);
    assert_eq!(config.required_skills, ["spanish", "billing"]);
    assert_eq!(config.group.as_deref(), Some("tier-2"));
}

#[test]
fn set_style_refuses_a_status_before_the_last_reminder_step() {
    let output = parley(&[
        "config",
        "set-style",
        "--brokers",
        "127.0.0.1:1",
        "--account",
        "acme",
        "--style",
        "social_messaging",
        "--inactivity-reminder",
        "5m:solved",
        "--inactivity-reminder",
        "10m",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains(
            "--inactivity-reminder: inactivity_reminders: only the last step may set a status"
        ),
        "{err}"
    );
}

#[test]
fn set_routing_refuses_a_zero_offer_timeout_naming_flag_field_and_rule() {
    let output = parley(&[
        "config",
        "set-routing",
        "--brokers",
        "127.0.0.1:1",
        "--account",
        "acme",
        "--offer-timeout",
        "0s",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("--offer-timeout: offer_timeout_ms = 0 ms: must be longer than zero"),
        "{err}"
    );
}

#[test]
fn set_queue_refuses_a_priority_out_of_range_naming_flag_field_and_rule() {
    let output = parley(&[
        "config",
        "set-queue",
        "--brokers",
        "127.0.0.1:1",
        "--account",
        "acme",
        "--queue",
        "vip",
        "--primary-group",
        "tier1",
        "--priority",
        "0",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("--priority: priority = 0: must be 1 (highest) to 100"),
        "{err}"
    );
}

#[test]
fn set_queue_writes_a_record_the_router_codec_decodes_under_account_and_queue() {
    let cluster = mock();
    let brokers = cluster.bootstrap_servers();
    cluster.create_topic("parley.routing-queues", 1, 1).unwrap();
    let output = parley(&[
        "config",
        "set-queue",
        "--brokers",
        &brokers,
        "--account",
        "acme",
        "--queue",
        "vip",
        "--position",
        "2",
        "--priority",
        "10",
        "--primary-group",
        "tier1",
        "--secondary-group",
        "tier2",
        "--secondary-after",
        "2m",
        "--when-channel",
        "whatsapp",
        "--when-brand",
        "shoes",
        "--when-min-priority",
        "5",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let (key, value) = first_record(&brokers, "parley.routing-queues");
    assert_eq!(key, b"acme/vip");
    let queue: QueueDefinition = AvroCodec::<QueueDefinition>::single_object()
        .decode(&value)
        .unwrap();
    assert_eq!(
        (queue.position, queue.priority, queue.primary_group.as_str()),
        (2, 10, "tier1")
    );
    assert_eq!(queue.secondary_groups, ["tier2"]);
    assert_eq!(queue.secondary_after_ms, parley_core::Millis::minutes(2));
    assert_eq!(queue.conditions.channels, [Channel::Whatsapp]);
    assert_eq!(queue.conditions.brands, ["shoes"]);
    assert_eq!(queue.conditions.min_priority, Some(5));
    assert!(queue.updated_at.0 > 0);
}

#[test]
fn set_routing_writes_a_record_the_router_codec_decodes_under_the_account() {
    let cluster = mock();
    let brokers = cluster.bootstrap_servers();
    cluster.create_topic("parley.routing-config", 1, 1).unwrap();
    let output = parley(&[
        "config",
        "set-routing",
        "--brokers",
        &brokers,
        "--account",
        "acme",
        "--auto-accept",
        "web,whatsapp",
        "--offer-timeout",
        "45s",
        "--routing-mode",
        "round_robin",
        "--away-after-offer-timeouts",
        "3",
        "--queue-order",
        "sla",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let (key, value) = first_record(&brokers, "parley.routing-config");
    assert_eq!(key, b"acme");
    let config: AccountRoutingConfig = AvroCodec::<AccountRoutingConfig>::single_object()
        .decode(&value)
        .unwrap();
    assert_eq!(
        config.auto_accept,
        Some(vec![Channel::Web, Channel::Whatsapp])
    );
    assert_eq!(
        config.offer_timeout_ms,
        Some(parley_core::Millis::seconds(45))
    );
    assert_eq!(
        config.skills_timeout_ms, None,
        "left out: the router's flag"
    );
    assert_eq!(
        config.mode,
        Some(parley_core::routing::RoutingMode::RoundRobin)
    );
    assert_eq!(config.away_after_offer_timeouts, Some(3));
    assert_eq!(
        config.queue_order,
        Some(parley_core::routing::QueueOrder::Sla)
    );
}

#[test]
fn set_routing_refuses_an_unknown_queue_order_naming_the_flag_the_value_and_the_choices() {
    let output = parley(&[
        "config",
        "set-routing",
        "--brokers",
        "127.0.0.1:1",
        "--account",
        "acme",
        "--queue-order",
        "fastest",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("--queue-order") && err.contains("'fastest'") && err.contains("priority, sla"),
        "{err}"
    );
}

#[test]
fn mismatched_partitions_stop_tickets_with_exit_1_and_the_crates_message() {
    let cluster = mock();
    let brokers = cluster.bootstrap_servers();
    for table in ["style-config", "schedules", "sla-policies"] {
        cluster
            .create_topic(&format!("parley.{table}"), 1, 1)
            .unwrap();
    }
    cluster
        .create_topic("parley.conversation-events", 4, 1)
        .unwrap();
    cluster.create_topic("parley.agent-actions", 4, 1).unwrap();
    cluster
        .create_topic("parley.routing-decisions", 2, 1)
        .unwrap();
    cluster
        .create_topic("parley.tickets-changelog", 4, 1)
        .unwrap();
    let state = std::env::temp_dir().join(format!("parley-cli-state-{}", std::process::id()));
    let output = parley(&[
        "tickets",
        "--brokers",
        &brokers,
        "--guarantee",
        "at_least_once",
        "--state-dir",
        state.to_str().unwrap(),
        "--metrics-addr",
        "127.0.0.1:0",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("co-partitioned topics must have equal partition counts")
            && err.contains("parley.routing-decisions = 2"),
        "{err}"
    );
}

#[test]
fn topics_create_then_check_pass_and_a_recreated_topic_fails_check() {
    let Some(broker) = Kafka::single("topics_create_then_check") else {
        return;
    };
    let brokers = broker.bootstrap_servers();
    let brokers = brokers.as_str();
    let created = parley(&[
        "topics",
        "create",
        "--brokers",
        brokers,
        "--partitions",
        "3",
    ]);
    assert!(created.status.success(), "{}", stderr(&created));
    assert!(stdout(&created).contains("parley.router-changelog: created"));
    let again = parley(&[
        "topics",
        "create",
        "--brokers",
        brokers,
        "--partitions",
        "3",
    ]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stdout(&again).contains("parley.router-changelog: exists"));
    let checked = parley(&["topics", "check", "--brokers", brokers, "--partitions", "3"]);
    assert!(
        checked.status.success(),
        "{}{}",
        stdout(&checked),
        stderr(&checked)
    );
    assert_eq!(
        stdout(&checked)
            .lines()
            .filter(|l| l.contains(": ok (3 partitions"))
            .count(),
        29
    );

    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let runtime = tokio_runtime();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    runtime
        .block_on(admin.delete_topics(&["parley.agent-actions"], &options))
        .unwrap()
        .pop()
        .unwrap()
        .unwrap();
    let topic = rdkafka::admin::NewTopic::new(
        "parley.agent-actions",
        5,
        rdkafka::admin::TopicReplication::Fixed(1),
    );
    runtime
        .block_on(admin.create_topics(&[topic], &options))
        .unwrap()
        .pop()
        .unwrap()
        .unwrap();
    // The brokers learn of the new topic from the controller a moment later.
    assert!(parley_testkit::wait_for(Duration::from_secs(30), || {
        parley_testkit::partition_count(brokers, "parley.agent-actions") == 5
    }));
    let checked = parley(&["topics", "check", "--brokers", brokers, "--partitions", "3"]);
    assert_eq!(checked.status.code(), Some(1), "{}", stdout(&checked));
    let out = stdout(&checked);
    assert!(
        out.contains("parley.agent-actions: 5 partitions, expected 3"),
        "{out}"
    );
    assert!(out.contains("parley.agent-actions = 5"), "{out}");
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn schemas_register_prints_ids_and_the_registrys_refusal() {
    use parley_runtime::http::StatusCode;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (address, server) = runtime
        .block_on(parley_runtime::http::serve(
            "127.0.0.1:0".parse().unwrap(),
            |path| match path {
                "/subjects/t.style-config-value/versions" => Some((
                    StatusCode::CONFLICT,
                    "application/json",
                    r#"{"error_code":409,"message":"Schema being registered is incompatible with an earlier schema"}"#.to_owned(),
                )),
                p if p.starts_with("/subjects/t.") && p.ends_with("-value/versions") => {
                    Some((StatusCode::OK, "application/json", r#"{"id":7}"#.to_owned()))
                }
                _ => None,
            },
        ))
        .unwrap();
    let url = format!("http://{address}");
    let output = parley(&[
        "schemas",
        "register",
        "--registry-url",
        &url,
        "--topic-prefix",
        "t.",
    ]);
    server.abort();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(
        out.contains("t.conversation-events-value: id 7 (conversation_event.avsc)"),
        "{out}"
    );
    assert!(out.contains("t.agent-metrics-value: id 7"), "{out}");
    assert!(
        out.contains("t.style-config-value: refused")
            && out.contains("incompatible with an earlier schema"),
        "{out}"
    );
    assert!(stderr(&output).contains("1 schemas were not registered"));
}

#[test]
fn run_stops_every_role_when_one_fails_and_exits_1() {
    let cluster = mock();
    let brokers = cluster.bootstrap_servers();
    mock_topics(&cluster, 3);
    let state = std::env::temp_dir().join(format!("parley-cli-run-{}", std::process::id()));
    let output = parley(&[
        "run",
        "--brokers",
        &brokers,
        "--guarantee",
        "at_least_once",
        "--state-dir",
        state.to_str().unwrap(),
        "--metrics-addr",
        "127.0.0.1:0",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("tickets: co-partitioned topics must have equal partition counts"),
        "{err}"
    );
}

#[test]
fn run_stops_cleanly_on_sigterm() {
    let cluster = mock();
    let brokers = cluster.bootstrap_servers();
    mock_topics(&cluster, 2);
    let state = std::env::temp_dir().join(format!("parley-cli-term-{}", std::process::id()));
    let port = parley_testkit::free_ports(3);
    let mut child = Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["run", "--brokers", &brokers, "--guarantee", "at_least_once"])
        .args(["--state-dir", state.to_str().unwrap()])
        .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The router serves on the third port once its host is built.
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port + 2)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the router never served its endpoint"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "parley run exited early"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn a_reserved_librdkafka_key_is_a_usage_error_naming_it() {
    let output = parley(&[
        "tickets",
        "--brokers",
        "127.0.0.1:1",
        "--librdkafka",
        "isolation.level=read_uncommitted",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("librdkafka = \"isolation.level\"") && err.contains("cannot be overridden"),
        "{err}"
    );
}

#[test]
fn simulate_refuses_a_bad_input_line_a_missing_file_and_an_unknown_topic() {
    let dir = std::env::temp_dir().join(format!("parley-cli-simulate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("bad.jsonl");
    std::fs::write(
        &input,
        "# fine so far\n{\"at\": \"2026-01-05T09:00:00Z\", \"topic\": \"agent-actions\", \"value\": {\"account\": \"acme\", \"conversation\": \"c1\", \"agent_id\": \"ana\", \"kind\": \"shrug\"}}\n",
    )
    .unwrap();
    let output = parley(&["simulate", "--input", input.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("line 2")
            && message.contains("agent-actions")
            && message.contains("shrug"),
        "{message}"
    );

    let missing = dir.join("missing.jsonl");
    let output = parley(&["simulate", "--input", missing.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--input") && stderr(&output).contains("missing.jsonl"));

    std::fs::write(&input, "").unwrap();
    let output = parley(&[
        "simulate",
        "--input",
        input.to_str().unwrap(),
        "--topic",
        "ticket-changes",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--topic \"ticket-changes\": expected one of"),
        "{}",
        stderr(&output)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The first record on `topic` of a mock cluster, as (key, value).
fn first_record(brokers: &str, topic: &str) -> (Vec<u8>, Vec<u8>) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "test")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&assignment).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "no record on {topic}");
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
            return (
                message.key().unwrap().to_vec(),
                message.payload().unwrap().to_vec(),
            );
        }
    }
}

#[test]
fn set_schedule_and_set_sla_write_records_the_tables_decode_under_their_keys() {
    use parley_core::sla::{Schedule, SlaMetric, SlaPolicy, SlaPriority};
    let cluster = mock();
    let brokers = cluster.bootstrap_servers();
    cluster.create_topic("parley.schedules", 1, 1).unwrap();
    cluster.create_topic("parley.sla-policies", 1, 1).unwrap();
    let output = parley(&[
        "config",
        "set-schedule",
        "--brokers",
        &brokers,
        "--account",
        "acme",
        "--schedule",
        "office",
        "--time-zone",
        "Europe/Berlin",
        "--hours",
        "mon-fri 09:00-17:00",
        "--holiday",
        "2026-12-25",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let (key, value) = first_record(&brokers, "parley.schedules");
    assert_eq!(key, b"acme/office");
    let schedule: Schedule = AvroCodec::<Schedule>::single_object()
        .decode(&value)
        .unwrap();
    assert_eq!(schedule.intervals.len(), 5);
    assert_eq!(schedule.holidays, ["2026-12-25"]);

    let output = parley(&[
        "config",
        "set-sla",
        "--brokers",
        &brokers,
        "--account",
        "acme",
        "--policy",
        "vip",
        "--when-priority",
        "urgent",
        "--schedule",
        "office",
        "--target",
        "first_reply_time:urgent=10m",
        "--business-target",
        "total_resolution_time:urgent=8h",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let (key, value) = first_record(&brokers, "parley.sla-policies");
    assert_eq!(key, b"acme/vip");
    let policy: SlaPolicy = AvroCodec::<SlaPolicy>::single_object()
        .decode(&value)
        .unwrap();
    assert_eq!(policy.conditions.priorities, [SlaPriority::Urgent]);
    assert_eq!(policy.targets[1].metric, SlaMetric::TotalResolutionTime);
    assert!(policy.targets[1].business_hours);
}

#[test]
fn set_schedule_and_set_sla_refuse_broken_records_before_connecting() {
    // The brokers are never asked: the values are refused first, with exit 2.
    let output = parley(&[
        "config",
        "set-schedule",
        "--brokers",
        "127.0.0.1:1",
        "--account",
        "acme",
        "--schedule",
        "office",
        "--time-zone",
        "Europe/Berln",
        "--hours",
        "mon-fri 09:00-17:00",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("--time-zone: time_zone = \"Europe/Berln\""),
        "{}",
        stderr(&output)
    );
    let output = parley(&[
        "config",
        "set-sla",
        "--brokers",
        "127.0.0.1:1",
        "--account",
        "acme",
        "--policy",
        "vip",
        "--business-target",
        "first_reply_time:urgent=10m",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("needs the policy's schedule_id"),
        "{}",
        stderr(&output)
    );
}
