//! The ingress stage end to end through librdkafka's in-process mock cluster: every golden
//! fixture of every channel in on its raw topic, the golden events out on
//! `conversation-events` with their keys and Java-murmur2 partitions, the unreadable bodies on
//! the DLQ with their headers and original bytes, the metrics, and the committed offsets.
//!
//! The mock keeps about 5 MiB per partition, so volumes stay small.

use apache_avro::{from_avro_datum, from_value, Schema};
use parley_core::{Channel, ConversationEvent};
use parley_ingress::encode::{CONVERSATION_EVENT_FINGERPRINT, SINGLE_OBJECT_MAGIC};
use parley_ingress::stage::{IngressStage, IngressStageConfig, ACCOUNT_HEADER};
use parley_ingress::{IngressConfig, SkipKind};
use parley_runtime::codec::WireFormat;
use parley_runtime::dlq::headers;
use parley_testkit::fixtures::INTEGRATIONS;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const PARTITIONS: i32 = 3;
/// 2024-11-21T00:00:00Z, the timestamp of every raw record (the golden files' `received_at`).
const RECEIVED: i64 = 1_732_147_200_000;
const WAIT: Duration = Duration::from_secs(60);
const MAX_BODY: usize = 64 * 1024;

/// The Java client's partition for a keyed record.
fn java_partition(key: &[u8], partitions: i32) -> i32 {
    parley_runtime::partitions::partition_of(key, partitions)
}

fn schema() -> Schema {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/conversation_event.avsc");
    Schema::parse_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// One raw record to produce and what must come of it.
#[derive(Debug)]
struct Raw {
    name: String,
    channel: Channel,
    body: Vec<u8>,
    header: Option<Vec<u8>>,
    /// Events (serde JSON), or `Err((reason, message))`; the message is checked when known.
    expected: Result<Vec<Value>, (String, Option<String>)>,
    skipped: Vec<SkipKind>,
}

fn fixtures() -> Vec<Raw> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut raws = Vec::new();
    for channel in Channel::ALL {
        let dir = root.join(channel.as_str());
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_str().unwrap();
                !name.ends_with(".expected.json")
                    && (name.ends_with(".json") || name.ends_with(".xml"))
            })
            .collect();
        files.sort();
        for path in files {
            let golden: Value = serde_json::from_str(
                &std::fs::read_to_string(path.with_extension("expected.json")).unwrap(),
            )
            .unwrap();
            let expected = match golden.get("error") {
                Some(code) => Err((
                    code.as_str().unwrap().to_owned(),
                    Some(golden["message"].as_str().unwrap().to_owned()),
                )),
                None => Ok(golden["events"].as_array().unwrap().clone()),
            };
            let skipped = golden
                .get("skipped")
                .map(|s| serde_json::from_value(s.clone()).unwrap())
                .unwrap_or_default();
            raws.push(Raw {
                name: format!(
                    "{}/{}",
                    channel.as_str(),
                    path.file_name().unwrap().to_str().unwrap()
                ),
                channel,
                body: std::fs::read(&path).unwrap(),
                header: matches!(channel, Channel::Telegram | Channel::Viber)
                    .then(|| b"acme/support".to_vec()),
                expected,
                skipped,
            });
        }
    }
    raws
}

/// Bad records beyond the fixtures: too large, no account, a header that is not UTF-8.
fn bad_records() -> Vec<Raw> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let viber_text = std::fs::read(root.join("viber/text.json")).unwrap();
    let telegram_text = std::fs::read(root.join("telegram/text.json")).unwrap();
    let mut oversized = br#"{"object":"whatsapp_business_account","entry":[],"pad":""#.to_vec();
    oversized.resize(MAX_BODY + 1, b'x');
    vec![
        Raw {
            name: "oversized".into(),
            channel: Channel::Whatsapp,
            body: oversized,
            header: None,
            expected: Err((
                "oversized".into(),
                Some(format!(
                    "body is {} bytes, over the limit max_body_bytes = {MAX_BODY}",
                    MAX_BODY + 1
                )),
            )),
            skipped: vec![],
        },
        Raw {
            name: "no-account".into(),
            channel: Channel::Viber,
            body: viber_text,
            header: None,
            expected: Err(("unknown_account".into(), None)),
            skipped: vec![],
        },
        Raw {
            name: "header-not-utf8".into(),
            channel: Channel::Telegram,
            body: telegram_text,
            header: Some(b"acme\xff".to_vec()),
            expected: Err(("invalid_account_header".into(), None)),
            skipped: vec![],
        },
    ]
}

fn cluster(prefix: &str) -> MockCluster<'static, rdkafka::producer::DefaultProducerContext> {
    let cluster = MockCluster::new(1).unwrap();
    for channel in Channel::ALL {
        cluster
            .create_topic(&format!("{prefix}raw.{channel}"), PARTITIONS, 1)
            .unwrap();
    }
    for name in ["conversation-events", "dlq"] {
        cluster
            .create_topic(&format!("{prefix}{name}"), PARTITIONS, 1)
            .unwrap();
    }
    cluster
}

/// Produces every raw record; returns each one's (topic, partition, offset).
async fn produce(brokers: &str, prefix: &str, raws: &[Raw]) -> Vec<(String, i32, i64)> {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "0")
        .create()
        .unwrap();
    let mut positions = Vec::new();
    for raw in raws {
        let topic = format!("{prefix}raw.{}", raw.channel);
        let mut headers = OwnedHeaders::new();
        if let Some(value) = &raw.header {
            headers = headers.insert(Header {
                key: ACCOUNT_HEADER,
                value: Some(value.as_slice()),
            });
        }
        let delivery = producer
            .send(
                FutureRecord::to(&topic)
                    .key(raw.name.as_str())
                    .payload(raw.body.as_slice())
                    .headers(headers)
                    .timestamp(RECEIVED),
                Duration::from_secs(10),
            )
            .await
            .unwrap_or_else(|(e, _)| panic!("{}: {e}", raw.name));
        positions.push((topic, delivery.partition, delivery.offset));
    }
    positions
}

/// A record read back.
#[derive(Debug, Clone)]
struct Read {
    partition: i32,
    key: Option<Vec<u8>>,
    value: Vec<u8>,
    timestamp: Option<i64>,
    headers: BTreeMap<String, String>,
}

/// Reads `topic` from the beginning until `count` records are in (or `WAIT` passes), and
/// checks that nothing more arrives shortly after.
fn read(brokers: &str, topic: &str, count: usize) -> Vec<Read> {
    read_until(brokers, topic, |records| records.len() >= count, true)
}

/// Reads `topic` from the beginning until `done` holds (or `WAIT` passes); with `exact`,
/// panics if another record arrives shortly after.
fn read_until(
    brokers: &str,
    topic: &str,
    done: impl Fn(&[Read]) -> bool,
    exact: bool,
) -> Vec<Read> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "test-reader")
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
    let deadline = Instant::now() + WAIT;
    let mut records = Vec::new();
    while !done(&records) && Instant::now() < deadline {
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = message.unwrap();
        records.push(Read {
            partition: message.partition(),
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().unwrap_or_default().to_vec(),
            timestamp: message.timestamp().to_millis(),
            headers: message
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| {
                            (
                                h.key.to_owned(),
                                String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
        });
    }
    // Nothing more than expected arrives shortly after.
    if exact && done(&records) {
        if let Some(Ok(extra)) = consumer.poll(Duration::from_millis(500)) {
            panic!("{topic}: an extra record at offset {}", extra.offset());
        }
    }
    records
}

fn stage_config(brokers: &str) -> IngressStageConfig {
    let mut config = IngressStageConfig::new(brokers);
    config.metrics_address = None;
    config.commit_interval_ms = 100;
    config.ingress = IngressConfig {
        max_body_bytes: MAX_BODY,
        integrations: serde_json::from_str::<IngressConfig>(INTEGRATIONS)
            .unwrap()
            .integrations,
        ..IngressConfig::default()
    };
    config
}

/// Every raw partition's committed offset in `group`, and its high watermark.
fn committed_and_end(brokers: &str, group: &str) -> Vec<(String, i32, Offset, i64)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut list = TopicPartitionList::new();
    for channel in Channel::ALL {
        for partition in 0..PARTITIONS {
            list.add_partition(&format!("parley.raw.{channel}"), partition);
        }
    }
    let committed = consumer
        .committed_offsets(list, Duration::from_secs(10))
        .unwrap();
    committed
        .elements()
        .iter()
        .map(|element| {
            let (_, high) = consumer
                .fetch_watermarks(
                    element.topic(),
                    element.partition(),
                    Duration::from_secs(10),
                )
                .unwrap();
            (
                element.topic().to_owned(),
                element.partition(),
                element.offset(),
                high,
            )
        })
        .collect()
}

fn decode_single_object(bytes: &[u8], schema: &Schema) -> ConversationEvent {
    assert_eq!(&bytes[..2], SINGLE_OBJECT_MAGIC);
    assert_eq!(&bytes[2..10], CONVERSATION_EVENT_FINGERPRINT);
    from_value(&from_avro_datum(schema, &mut &bytes[10..], None).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_channel_end_to_end_events_dlq_metrics_and_commits() {
    let cluster = cluster("parley.");
    let brokers = cluster.bootstrap_servers();
    let mut raws = fixtures();
    raws.extend(bad_records());
    let positions = produce(&brokers, "parley.", &raws).await;

    let stage = IngressStage::new(stage_config(&brokers)).await.unwrap();
    assert_eq!(stage.framing(), WireFormat::SingleObject);
    let metrics = stage.metrics();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(stage.run(shutdown.clone()));

    // What must come out.
    let mut want_events = Vec::new();
    let mut want_dlq = Vec::new();
    for (raw, (topic, partition, offset)) in raws.iter().zip(&positions) {
        match &raw.expected {
            Ok(events) => {
                for event in events {
                    let key = format!(
                        "{}/{}",
                        event["account"].as_str().unwrap(),
                        event["conversation"].as_str().unwrap()
                    );
                    let partition = java_partition(key.as_bytes(), PARTITIONS);
                    want_events.push((key, partition, event.to_string()));
                }
            }
            Err((reason, message)) => {
                want_dlq.push((raw, reason, message, topic.clone(), *partition, *offset))
            }
        }
    }
    assert!(want_events.len() > 40, "{} events", want_events.len());
    assert!(want_dlq.len() > 20, "{} DLQ records", want_dlq.len());

    let (events, dlq) = {
        let brokers = brokers.clone();
        let (events, dlq) = (want_events.len(), want_dlq.len());
        tokio::task::spawn_blocking(move || {
            (
                read(&brokers, "parley.conversation-events", events),
                read(&brokers, "parley.dlq", dlq),
            )
        })
        .await
        .unwrap()
    };

    // Events: the golden ones, keyed account/conversation, on the Java partitioner's
    // partition, stamped with the raw record's timestamp.
    let schema = schema();
    let mut got_events: Vec<(String, i32, String)> = events
        .iter()
        .map(|record| {
            assert_eq!(record.timestamp, Some(RECEIVED));
            let event = decode_single_object(&record.value, &schema);
            let key = String::from_utf8(record.key.clone().unwrap()).unwrap();
            assert_eq!(key, parley_ingress::event_key(&event));
            (
                key,
                record.partition,
                serde_json::to_value(&event).unwrap().to_string(),
            )
        })
        .collect();
    got_events.sort();
    want_events.sort();
    assert_eq!(got_events, want_events);
    let used: std::collections::BTreeSet<i32> = got_events.iter().map(|e| e.1).collect();
    assert!(used.len() > 1, "events spread over partitions: {used:?}");

    // DLQ: the original key and bytes, headers naming stage, reason, error and source.
    assert_eq!(dlq.len(), want_dlq.len());
    for (raw, reason, message, topic, partition, offset) in &want_dlq {
        let found = dlq
            .iter()
            .find(|r| {
                r.headers.get(headers::TOPIC) == Some(topic)
                    && r.headers.get(headers::PARTITION) == Some(&partition.to_string())
                    && r.headers.get(headers::OFFSET) == Some(&offset.to_string())
            })
            .unwrap_or_else(|| panic!("{}: not on the DLQ", raw.name));
        assert_eq!(found.value, raw.body, "{}", raw.name);
        assert_eq!(found.key.as_deref(), Some(raw.name.as_bytes()));
        assert_eq!(found.timestamp, Some(RECEIVED));
        assert_eq!(found.headers[headers::STAGE], "ingress");
        assert_eq!(&found.headers[headers::REASON], *reason, "{}", raw.name);
        match message {
            Some(message) => assert_eq!(&found.headers[headers::ERROR], message),
            None => assert!(!found.headers[headers::ERROR].is_empty()),
        }
    }

    // Metrics: records in per raw topic, out per topic, DLQ by reason, skipped by kind.
    for channel in Channel::ALL {
        let topic = format!("parley.raw.{channel}");
        let produced = raws.iter().filter(|r| r.channel == channel).count() as u64;
        assert_eq!(metrics.records_in(&topic), produced, "{topic}");
    }
    assert_eq!(
        metrics.records_out("parley.conversation-events"),
        want_events.len() as u64
    );
    assert_eq!(metrics.records_out("parley.dlq"), want_dlq.len() as u64);
    let mut reasons: BTreeMap<&str, u64> = BTreeMap::new();
    for (_, reason, ..) in &want_dlq {
        *reasons.entry(reason.as_str()).or_default() += 1;
    }
    for (reason, count) in &reasons {
        assert_eq!(metrics.dlq_records(reason), *count, "{reason}");
    }
    for reason in [
        "oversized",
        "unknown_account",
        "invalid_account_header",
        "malformed_json",
        "malformed_xml",
    ] {
        assert!(reasons.contains_key(reason), "no {reason} case");
    }
    let mut skipped_total = 0;
    for channel in Channel::ALL {
        for kind in SkipKind::ALL {
            let want = raws
                .iter()
                .filter(|r| r.channel == channel)
                .flat_map(|r| &r.skipped)
                .filter(|k| **k == kind)
                .count() as u64;
            assert_eq!(metrics.skipped(channel, kind), want, "{channel} {kind:?}");
            skipped_total += want;
        }
    }
    assert!(skipped_total > 10, "{skipped_total} skipped items");
    let text = metrics.render();
    assert!(
        text.contains("parley_dlq_records_total{reason=\"oversized\",stage=\"ingress\"} 1"),
        "{text}"
    );

    // The lag of every raw partition is exported, and falls to 0 once offsets are committed.
    let lag_lines: Vec<String> = stage_config(&brokers)
        .raw_topics()
        .iter()
        .flat_map(|topic| {
            (0..PARTITIONS).map(move |p| {
                format!("parley_consumer_lag{{partition=\"{p}\",topic=\"{topic}\"}} 0")
            })
        })
        .collect();
    let deadline = Instant::now() + WAIT;
    while !lag_lines.iter().all(|l| metrics.render().contains(l)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let text = metrics.render();
    let missing: Vec<&String> = lag_lines.iter().filter(|l| !text.contains(*l)).collect();
    assert!(missing.is_empty(), "{missing:?} in {text}");

    // Shutdown commits every raw partition up to its end.
    shutdown.cancel();
    running.await.unwrap().unwrap();
    let offsets = {
        let brokers = brokers.clone();
        tokio::task::spawn_blocking(move || committed_and_end(&brokers, "parley-ingress"))
            .await
            .unwrap()
    };
    for (topic, partition, committed, end) in offsets {
        if end == 0 {
            assert!(
                matches!(committed, Offset::Invalid | Offset::Offset(0)),
                "{topic}/{partition}: {committed:?}"
            );
        } else {
            assert_eq!(committed, Offset::Offset(end), "{topic}/{partition}");
        }
    }
}

/// The events `raws` must produce: (key, Java partition, serde JSON), sorted.
fn expected_events(raws: &[&Raw]) -> Vec<(String, i32, String)> {
    let mut events: Vec<_> = raws
        .iter()
        .filter_map(|raw| raw.expected.as_ref().ok())
        .flatten()
        .map(|event| {
            let key = format!(
                "{}/{}",
                event["account"].as_str().unwrap(),
                event["conversation"].as_str().unwrap()
            );
            (
                key.clone(),
                java_partition(key.as_bytes(), PARTITIONS),
                event.to_string(),
            )
        })
        .collect();
    events.sort();
    events
}

/// Reads `count` events (and checks nothing more arrives) as (key, partition, JSON), sorted.
async fn read_events(brokers: &str, count: usize) -> Vec<(String, i32, String)> {
    let brokers = brokers.to_owned();
    let records =
        tokio::task::spawn_blocking(move || read(&brokers, "parley.conversation-events", count))
            .await
            .unwrap();
    decode_events(&records)
}

/// Events as (key, partition, JSON), sorted.
fn decode_events(records: &[Read]) -> Vec<(String, i32, String)> {
    let schema = schema();
    let mut events: Vec<_> = records
        .iter()
        .map(|record| {
            let event = decode_single_object(&record.value, &schema);
            (
                String::from_utf8(record.key.clone().unwrap()).unwrap(),
                record.partition,
                serde_json::to_value(&event).unwrap().to_string(),
            )
        })
        .collect();
    events.sort();
    events
}

/// Reads `conversation-events` until as many distinct events as `want` has are in
/// (duplicates allowed), as (key, partition, JSON), sorted.
async fn read_at_least(
    brokers: &str,
    want: &[(String, i32, String)],
) -> Vec<(String, i32, String)> {
    let (brokers, distinct) = (brokers.to_owned(), want.len());
    let records = tokio::task::spawn_blocking(move || {
        let enough = |records: &[Read]| {
            let values: std::collections::BTreeSet<&[u8]> =
                records.iter().map(|r| r.value.as_slice()).collect();
            values.len() >= distinct
        };
        read_until(&brokers, "parley.conversation-events", enough, false)
    })
    .await
    .unwrap();
    decode_events(&records)
}

/// A second instance joins the group while the first is running: the first commits the
/// partitions it gives up before they move (periodic commits are effectively off here), so
/// the second starts where the first stopped and no event is produced twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_instance_takes_over_partitions_without_duplicates() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("info")
        .with_test_writer()
        .try_init();
    let cluster = cluster("parley.");
    let brokers = cluster.bootstrap_servers();
    let raws = fixtures();
    let first: Vec<&Raw> = raws.iter().step_by(2).collect();
    let second: Vec<&Raw> = raws.iter().skip(1).step_by(2).collect();
    let mut config = stage_config(&brokers);
    config.commit_interval_ms = 600_000;
    // The mock coordinator waits up to the session timeout for members to rejoin.
    config
        .librdkafka
        .insert("session.timeout.ms".into(), "6000".into());

    let shutdown = CancellationToken::new();
    let a = IngressStage::new(config.clone()).await.unwrap();
    let a_metrics = a.metrics();
    let a = tokio::spawn(a.run(shutdown.clone()));
    let owned: Vec<Raw> = first.iter().map(|r| clone_raw(r)).collect();
    produce(&brokers, "parley.", &owned).await;
    let want = expected_events(&first);
    assert_eq!(read_events(&brokers, want.len()).await, want);

    let b = IngressStage::new(config).await.unwrap();
    let b_metrics = b.metrics();
    let b = tokio::spawn(b.run(shutdown.clone()));
    // Wait until the group has moved partitions from the first instance to the second.
    let deadline = Instant::now() + WAIT;
    while a_metrics.rebalances("revoked") == 0 || b_metrics.rebalances("assigned") == 0 {
        assert!(Instant::now() < deadline, "no rebalance");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let owned: Vec<Raw> = second.iter().map(|r| clone_raw(r)).collect();
    produce(&brokers, "parley.", &owned).await;
    let all: Vec<&Raw> = raws.iter().collect();
    let want = expected_events(&all);
    let read_by = |metrics: &parley_ingress::stage::IngressMetrics| {
        Channel::ALL
            .iter()
            .map(|c| metrics.records_in(&format!("parley.raw.{c}")))
            .sum::<u64>()
    };
    let mut distinct = want.clone();
    distinct.dedup();
    assert_eq!(distinct, want, "the fixtures' events are distinct");
    if a_metrics.rebalances("revoked_uncommitted") == 0 {
        assert_eq!(read_events(&brokers, want.len()).await, want);
        assert!(read_by(&b_metrics) > 0, "the second instance read records");
        assert_eq!(
            read_by(&a_metrics) + read_by(&b_metrics),
            raws.len() as u64,
            "every raw record is read exactly once across the two instances"
        );
    } else {
        // The coordinator refused the commit in the revoke callback (the mock's sometimes
        // does, while it waits for the group to rejoin), and the stage counted it: the
        // second instance reads the first one's records again. At least once: every event
        // is there, and each duplicate is an exact copy.
        let mut events = read_at_least(&brokers, &want).await;
        events.dedup();
        assert_eq!(events, want);
        assert!(read_by(&a_metrics) + read_by(&b_metrics) > raws.len() as u64);
    }

    shutdown.cancel();
    a.await.unwrap().unwrap();
    b.await.unwrap().unwrap();
    let offsets =
        tokio::task::spawn_blocking(move || committed_and_end(&brokers, "parley-ingress"))
            .await
            .unwrap();
    for (topic, partition, committed, end) in offsets {
        if end > 0 {
            assert_eq!(committed, Offset::Offset(end), "{topic}/{partition}");
        }
    }
}

fn clone_raw(raw: &Raw) -> Raw {
    Raw {
        name: raw.name.clone(),
        channel: raw.channel,
        body: raw.body.clone(),
        header: raw.header.clone(),
        expected: raw.expected.clone(),
        skipped: raw.skipped.clone(),
    }
}

/// With a registry, the schema is registered under `<output topic>-value` and events are
/// framed `00`, the 4-byte id, then the Avro datum.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_registry_events_use_the_confluent_wire_format() {
    let (registry, server) =
        parley_runtime::http::serve("127.0.0.1:0".parse().unwrap(), |path| match path {
            "/subjects/parley.conversation-events-value/versions" => Some((
                parley_runtime::http::StatusCode::OK,
                "application/json",
                r#"{"id":7}"#.to_owned(),
            )),
            _ => None,
        })
        .await
        .unwrap();
    let cluster = cluster("parley.");
    let brokers = cluster.bootstrap_servers();
    let raws: Vec<Raw> = fixtures()
        .into_iter()
        .filter(|r| r.name == "whatsapp/text.json")
        .collect();
    produce(&brokers, "parley.", &raws).await;
    let mut config = stage_config(&brokers);
    config.registry_url = Some(format!("http://{registry}"));
    let stage = IngressStage::new(config).await.unwrap();
    assert_eq!(stage.framing(), WireFormat::Confluent { schema_id: 7 });
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(stage.run(shutdown.clone()));

    let records = {
        let brokers = brokers.clone();
        tokio::task::spawn_blocking(move || read(&brokers, "parley.conversation-events", 1))
            .await
            .unwrap()
    };
    assert_eq!(records.len(), 1);
    let value = &records[0].value;
    assert_eq!(&value[..5], &[0, 0, 0, 0, 7]);
    let event: ConversationEvent =
        from_value(&from_avro_datum(&schema(), &mut &value[5..], None).unwrap()).unwrap();
    let want = raws[0].expected.as_ref().unwrap();
    assert_eq!(serde_json::to_value(&event).unwrap(), want[0]);
    shutdown.cancel();
    running.await.unwrap().unwrap();
    server.abort();
}

/// Thousands of records (more than the loop handles in one go, and more than fit in one
/// fetch): every one is read once, produces its event, and is committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_records_are_all_read_produced_and_committed() {
    const N: usize = 3_000;
    let cluster = cluster("parley.");
    let brokers = cluster.bootstrap_servers();
    let text = fixtures()
        .into_iter()
        .find(|r| r.name == "whatsapp/text.json")
        .unwrap();
    let raws: Vec<Raw> = (0..N)
        .map(|i| Raw {
            name: format!("r{i}"),
            ..clone_raw(&text)
        })
        .collect();
    produce(&brokers, "parley.", &raws).await;
    let stage = IngressStage::new(stage_config(&brokers)).await.unwrap();
    let metrics = stage.metrics();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(stage.run(shutdown.clone()));
    let events = {
        let brokers = brokers.clone();
        tokio::task::spawn_blocking(move || read(&brokers, "parley.conversation-events", N))
            .await
            .unwrap()
    };
    assert_eq!(events.len(), N);
    assert_eq!(metrics.records_in("parley.raw.whatsapp"), N as u64);
    assert_eq!(metrics.records_out("parley.conversation-events"), N as u64);
    shutdown.cancel();
    running.await.unwrap().unwrap();
    let offsets =
        tokio::task::spawn_blocking(move || committed_and_end(&brokers, "parley-ingress"))
            .await
            .unwrap();
    let mut total = 0;
    for (topic, partition, committed, end) in offsets {
        if end > 0 {
            assert_eq!(committed, Offset::Offset(end), "{topic}/{partition}");
            total += end;
        }
    }
    assert_eq!(total, N as i64);
}

/// A webhook whose normalised event is larger than the producer's `message.max.bytes`
/// goes to the DLQ as `output_too_large` (without its body, which is too large as well),
/// naming its source; the records around it are produced and everything is committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_too_large_to_produce_goes_to_the_dlq_and_the_stage_goes_on() {
    let cluster = cluster("parley.");
    let brokers = cluster.bootstrap_servers();
    let text = fixtures()
        .into_iter()
        .find(|r| r.name == "whatsapp/text.json")
        .unwrap();
    let long_text = "much to say ".repeat(150);
    let body = String::from_utf8(text.body.clone())
        .unwrap()
        .replace("Oi, meu pedido 4417 ainda não chegou", &long_text);
    assert!(
        body.contains("much to say"),
        "the fixture's text was replaced"
    );
    let raws = vec![
        Raw {
            name: "before".into(),
            ..clone_raw(&text)
        },
        Raw {
            name: "huge".into(),
            body: body.into_bytes(),
            ..clone_raw(&text)
        },
        Raw {
            name: "after".into(),
            ..clone_raw(&text)
        },
    ];
    let positions = produce(&brokers, "parley.", &raws).await;
    let mut config = stage_config(&brokers);
    config
        .librdkafka
        .insert("message.max.bytes".into(), "1000".into());
    let stage = IngressStage::new(config).await.unwrap();
    let metrics = stage.metrics();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(stage.run(shutdown.clone()));
    let (events, dlq) = {
        let brokers = brokers.clone();
        tokio::task::spawn_blocking(move || {
            (
                read(&brokers, "parley.conversation-events", 2),
                read(&brokers, "parley.dlq", 1),
            )
        })
        .await
        .unwrap()
    };
    assert_eq!(
        events.len(),
        2,
        "the records around the huge one are produced"
    );
    assert_eq!(dlq.len(), 1);
    let dead = &dlq[0];
    assert_eq!(dead.headers[headers::REASON], "output_too_large");
    assert!(
        dead.headers[headers::ERROR]
            .contains("an output to parley.conversation-events was refused"),
        "{:?}",
        dead.headers
    );
    assert_eq!(dead.headers[headers::TOPIC], positions[1].0);
    assert_eq!(dead.headers[headers::OFFSET], positions[1].2.to_string());
    assert!(
        dead.value.is_empty(),
        "the raw body is too large for the DLQ too"
    );
    assert_eq!(dead.key.as_deref(), Some(&b"huge"[..]));
    assert_eq!(metrics.dlq_records("output_too_large"), 1);
    shutdown.cancel();
    running.await.unwrap().unwrap();
    let offsets =
        tokio::task::spawn_blocking(move || committed_and_end(&brokers, "parley-ingress"))
            .await
            .unwrap();
    let committed: i64 = offsets
        .iter()
        .filter(|(_, _, _, end)| *end > 0)
        .map(|(topic, partition, committed, end)| {
            assert_eq!(*committed, Offset::Offset(*end), "{topic}/{partition}");
            end
        })
        .sum();
    assert_eq!(committed, 3);
}
