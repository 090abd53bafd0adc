//! `parley simulate`: timestamped input records through the real processors on a controlled
//! clock, every output record written as a JSON line.
//!
//! The input is JSON lines `{"at", "topic", "key", "headers", "value"}` (see the README).
//! The pipeline is [`Embedded`] on a [`ManualClock`]. The driver moves the clock to the
//! next input's `at` or the next due timer, whichever is first; produces the input; then
//! waits until the pipeline is *settled*. Settled means every group has committed every
//! input record, the output reader has read every output record, both hosts have finished
//! a loop at the new time with no open batch and no timer due, and the style table holds
//! every style record. The outputs read in that step are written with the step's time.

use crate::embedded::{Embedded, EmbeddedOptions, Observed, StateDir, PREFIX};
use crate::usage::UsageError;
use anyhow::{anyhow, Context};
use parley_core::routing::RoutingConfig;
use parley_core::sla::{Schedule, SlaEvent, SlaPolicy};
use parley_core::topics::account_name_key;
use parley_core::*;
use parley_ingress::IngressConfig;
use parley_runtime::codec::{AvroCodec, AvroRecord};
use parley_runtime::ManualClock;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The header that marks a record the driver produced, so the reader does not echo it.
const INPUT_HEADER: &str = "parley-simulate-input";

/// How long one step may take to settle before the run fails.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Timers are all held in memory: no simulated run spans more than this.
const TIMER_HORIZON_MS: u64 = 400 * 86_400_000;

/// The topics the processors write, in the order a step's outputs are written.
pub const OUTPUT_TOPICS: [&str; 8] = [
    "conversation-events",
    "ticket-status-changes",
    "routing-requests",
    "routing-decisions",
    "ticket-metrics",
    "sla-events",
    "agent-metrics",
    "dlq",
];

/// The config tables' topics, in the order of [`Driver::config_produced`].
const CONFIG_TOPICS: [&str; 3] = ["style-config", "schedules", "sla-policies"];

/// The topics an input record may name, besides `raw.<channel>`.
const AVRO_INPUT_TOPICS: [&str; 8] = [
    "conversation-events",
    "agent-actions",
    "agent-presence",
    "style-config",
    "schedules",
    "sla-policies",
    "routing-requests",
    "routing-decisions",
];

/// How a simulation runs.
#[derive(Clone, Debug)]
pub struct SimulateOptions {
    /// The input file.
    pub input: PathBuf,
    /// Where to write the outputs; standard output if none.
    pub output: Option<PathBuf>,
    /// Only these output topics are written; every one if empty.
    pub topics: Vec<String>,
    /// Partitions of every topic.
    pub partitions: i32,
    /// After the last input, timers keep firing up to this long after it.
    pub run_after: Millis,
    /// After the last input, at most this many timer steps run.
    pub max_steps: u64,
    /// The router's settings.
    pub routing: RoutingConfig,
    /// The normaliser's settings.
    pub ingress: IngressConfig,
}

/// One line of the input, checked and ready to produce.
#[derive(Clone, Debug, PartialEq)]
pub struct InputRecord {
    /// The line number, from 1.
    pub line: usize,
    /// When it is produced (the clock is moved here first).
    pub at: Timestamp,
    /// The topic, without prefix.
    pub topic: String,
    /// The record key.
    pub key: Option<String>,
    /// Record headers.
    pub headers: BTreeMap<String, String>,
    /// The value's bytes: Avro single-object for the schema topics, the body for `raw.*`.
    pub value: Vec<u8>,
}

/// One output record as it is written.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputRecord {
    /// The step's time.
    pub at: Timestamp,
    /// The topic, without prefix.
    pub topic: String,
    /// The key.
    pub key: Option<String>,
    /// The value in its JSON form.
    pub value: Value,
    /// The headers (only DLQ records have any).
    pub headers: BTreeMap<String, String>,
    partition: i32,
    offset: i64,
}

impl OutputRecord {
    /// The JSON line: `{"at", "topic", "key", "value"}`, plus `headers` when there are any.
    pub fn to_json(&self) -> Value {
        let mut line = json!({
            "at": self.at.to_rfc3339(),
            "topic": self.topic,
            "key": self.key,
            "value": self.value,
        });
        if !self.headers.is_empty() {
            line["headers"] = json!(self.headers);
        }
        line
    }
}

/// Reads and checks the input file: every error names the line, the field, the value and
/// the rule. Records come back in time order (equal times in file order).
pub fn parse_input(text: &str) -> Result<Vec<InputRecord>, UsageError> {
    let mut records = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        records
            .push(parse_line(number, line).map_err(|e| UsageError(format!("line {number}: {e}")))?);
    }
    records.sort_by_key(|r| r.at);
    Ok(records)
}

fn parse_line(number: usize, line: &str) -> Result<InputRecord, String> {
    let object: Map<String, Value> = match serde_json::from_str(line) {
        Ok(Value::Object(object)) => object,
        Ok(_) => return Err("expected a JSON object".into()),
        Err(error) => return Err(format!("not JSON: {error}")),
    };
    for field in object.keys() {
        if !["at", "topic", "key", "headers", "value"].contains(&field.as_str()) {
            return Err(format!(
                "unknown field {field:?}: expected at, topic, key, headers and value"
            ));
        }
    }
    let at = match object.get("at") {
        Some(Value::String(text)) => Timestamp::parse_rfc3339(text).ok_or_else(|| {
            format!("at {text:?}: expected an RFC 3339 time such as 2026-01-05T09:00:00Z")
        })?,
        Some(Value::Number(n)) => Timestamp(
            n.as_i64()
                .ok_or_else(|| format!("at {n}: expected whole milliseconds since the epoch"))?,
        ),
        Some(other) => {
            return Err(format!(
                "at {other}: expected an RFC 3339 string or milliseconds"
            ))
        }
        None => return Err("at is required".into()),
    };
    let topic = match object.get("topic") {
        Some(Value::String(topic)) => topic.clone(),
        _ => return Err("topic is required and must be a string".into()),
    };
    let key = match object.get("key") {
        None | Some(Value::Null) => None,
        Some(Value::String(key)) => Some(key.clone()),
        Some(other) => return Err(format!("key {other}: expected a string")),
    };
    let mut headers = BTreeMap::new();
    match object.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (name, value) in map {
                let Value::String(value) = value else {
                    return Err(format!("headers.{name} {value}: expected a string"));
                };
                headers.insert(name.clone(), value.clone());
            }
        }
        Some(other) => return Err(format!("headers {other}: expected an object of strings")),
    }
    let value = object.get("value").cloned().unwrap_or(Value::Null);
    let (key, value) = if let Some(channel) = topic.strip_prefix("raw.") {
        if Channel::parse(channel).is_none() {
            return Err(format!(
                "topic {topic:?}: no such channel; {}",
                topic_rule()
            ));
        }
        let body = match value {
            Value::String(text) => text.into_bytes(),
            Value::Null => return Err("value is required: the channel's webhook body".into()),
            other => serde_json::to_vec(&other).expect("a JSON value serialises"),
        };
        (key, body)
    } else {
        encode_record(&topic, key, value, at, number)?
    };
    Ok(InputRecord {
        line: number,
        at,
        topic,
        key,
        headers,
        value,
    })
}

fn topic_rule() -> String {
    format!(
        "expected raw.<channel> or one of {}",
        AVRO_INPUT_TOPICS.join(", ")
    )
}

/// Fills what a scenario author may leave out, then encodes the record: ids default to
/// `line-<n>`, times to the line's `at`, lists to empty, the priority to 0; the key to the
/// record's documented key.
fn encode_record(
    topic: &str,
    key: Option<String>,
    value: Value,
    at: Timestamp,
    line: usize,
) -> Result<(Option<String>, Vec<u8>), String> {
    let Value::Object(mut value) = value else {
        return Err(format!("value of a {topic} record must be a JSON object"));
    };
    let mut fill = |field: &str, default: Value| {
        value.entry(field).or_insert(default);
    };
    let id = json!(format!("line-{line}"));
    match topic {
        "conversation-events" => {
            fill("event_id", id);
            fill("sent_at", json!(at.0));
            fill("received_at", json!(at.0));
            fill("attachments", json!([]));
            fill("reply_handles", json!([]));
        }
        "agent-actions" => {
            fill("action_id", id);
            fill("at", json!(at.0));
        }
        "agent-presence" => {
            fill("presence_id", id);
            fill("skills", json!([]));
            fill("groups", json!([]));
            fill("at", json!(at.0));
        }
        "style-config" => {
            fill("priority", json!(0));
            fill("required_skills", json!([]));
            fill("updated_at", json!(at.0));
        }
        "schedules" => {
            fill("holidays", json!([]));
            fill("updated_at", json!(at.0));
        }
        "sla-policies" => {
            fill("position", json!(0));
            fill("updated_at", json!(at.0));
        }
        "routing-requests" | "routing-decisions" => {}
        _ => return Err(format!("topic {topic:?}: {}", topic_rule())),
    }
    let value = Value::Object(value);
    let text = |account: &str, rest: &str| format!("{account}/{rest}");
    match topic {
        "conversation-events" => {
            let record: ConversationEvent = from_json(topic, value)?;
            let key = key.unwrap_or_else(|| text(&record.account, &record.conversation));
            Ok((Some(key), single_object(&record)?))
        }
        "agent-actions" => {
            let record: AgentAction = from_json(topic, value)?;
            let key = key.unwrap_or_else(|| text(&record.account, &record.conversation));
            Ok((Some(key), single_object(&record)?))
        }
        "agent-presence" => {
            let record: AgentPresence = from_json(topic, value)?;
            let key = key.unwrap_or_else(|| record.account.clone());
            Ok((Some(key), single_object(&record)?))
        }
        "style-config" => {
            let record: StyleConfig = from_json(topic, value)?;
            let key = key.unwrap_or_else(|| crate::style::key(&record));
            Ok((Some(key), single_object(&record)?))
        }
        "schedules" => {
            let record: Schedule = from_json(topic, value)?;
            let key = key.unwrap_or_else(|| account_name_key(&record.account, &record.schedule_id));
            Ok((Some(key), single_object(&record)?))
        }
        "sla-policies" => {
            let record: SlaPolicy = from_json(topic, value)?;
            let key = key.unwrap_or_else(|| account_name_key(&record.account, &record.policy_id));
            Ok((Some(key), single_object(&record)?))
        }
        "routing-requests" => {
            let record: RoutingRequest = from_json(topic, value)?;
            let key = key.unwrap_or_else(|| record.account.clone());
            Ok((Some(key), single_object(&record)?))
        }
        _ => {
            let record: RoutingDecision = from_json(topic, value)?;
            let key = key.unwrap_or_else(|| text(&record.account, &record.conversation));
            Ok((Some(key), single_object(&record)?))
        }
    }
}

fn from_json<T: serde::de::DeserializeOwned>(topic: &str, value: Value) -> Result<T, String> {
    serde_json::from_value(value).map_err(|e| format!("value is not a {topic} record: {e}"))
}

fn single_object<T: AvroRecord>(record: &T) -> Result<Vec<u8>, String> {
    AvroCodec::<T>::single_object()
        .encode(record)
        .map_err(|e| format!("value cannot be encoded: {e}"))
}

/// Decodes an output record's value into its JSON form.
fn decode_output(topic: &str, bytes: &[u8]) -> Value {
    fn decoded<T: AvroRecord>(bytes: &[u8]) -> Value {
        match AvroCodec::<T>::single_object().decode(bytes) {
            Ok(record) => serde_json::to_value(record).expect("records serialise"),
            Err(error) => json!({ "undecodable": error.to_string() }),
        }
    }
    match topic {
        "conversation-events" => decoded::<ConversationEvent>(bytes),
        "routing-requests" => decoded::<RoutingRequest>(bytes),
        "routing-decisions" => decoded::<RoutingDecision>(bytes),
        "ticket-status-changes" => decoded::<StatusChange>(bytes),
        "ticket-metrics" => decoded::<TicketMetrics>(bytes),
        "agent-metrics" => decoded::<AgentMetrics>(bytes),
        "sla-events" => decoded::<SlaEvent>(bytes),
        _ => Value::String(String::from_utf8_lossy(bytes).into_owned()),
    }
}

/// Runs the simulation the options describe and writes its outputs.
pub async fn run(options: SimulateOptions) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&options.input).map_err(|e| {
        UsageError(format!(
            "--input {}: cannot read: {e}",
            options.input.display()
        ))
    })?;
    let inputs = parse_input(&text)?;
    for topic in &options.topics {
        if !OUTPUT_TOPICS.contains(&topic.as_str()) {
            return Err(UsageError(format!(
                "--topic {topic:?}: expected one of {}",
                OUTPUT_TOPICS.join(", ")
            ))
            .into());
        }
    }
    let mut out: Box<dyn Write + Send> = match &options.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("--output {}: cannot create", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let wanted = options.topics.clone();
    simulate(&options, inputs, move |record| {
        if wanted.is_empty() || wanted.contains(&record.topic) {
            serde_json::to_writer(&mut out, &record.to_json())?;
            out.write_all(b"\n")?;
            out.flush()?;
        }
        Ok(())
    })
    .await
}

/// Runs `inputs` through an embedded pipeline and hands every output record to `emit`, in
/// step order.
pub async fn simulate(
    options: &SimulateOptions,
    inputs: Vec<InputRecord>,
    emit: impl FnMut(OutputRecord) -> anyhow::Result<()> + Send + 'static,
) -> anyhow::Result<()> {
    let state = StateDir::create("simulate")?;
    let start = inputs.first().map_or(Timestamp(0), |r| r.at);
    let clock = ManualClock::new(start);
    let mut embedded_options = EmbeddedOptions::new(state.path.clone(), Arc::new(clock.clone()));
    embedded_options.partitions = options.partitions;
    embedded_options.routing = options.routing.clone();
    embedded_options.ingress = options.ingress.clone();
    embedded_options.commit_interval_ms = 5;
    embedded_options.timer_horizon_ms = TIMER_HORIZON_MS;
    let embedded = Embedded::start(embedded_options).await?;
    let driver = Driver::new(&embedded, clock, options.run_after, options.max_steps)?;
    let observed = embedded.observed().clone();
    let result = tokio::task::spawn_blocking(move || driver.run(&observed, inputs, emit))
        .await
        .map_err(|e| anyhow!("the simulation driver failed: {e}"))
        .and_then(|r| r);
    let stopped = embedded.stop().await;
    drop(state);
    result.and(stopped)
}

/// The consumer groups and the topics each reads (and commits).
fn groups() -> Vec<(String, Vec<String>)> {
    let raw = Channel::ALL
        .iter()
        .map(|c| format!("{PREFIX}raw.{}", c.as_str()))
        .collect();
    vec![
        (Embedded::group("ingress"), raw),
        (
            Embedded::group("tickets"),
            parley_tickets::topics(PREFIX).inputs(),
        ),
        (
            Embedded::group("router"),
            parley_routing::topics(PREFIX).inputs(),
        ),
        (
            crate::roles::style_dlq_group(&Embedded::group("tickets")),
            vec![parley_tickets::topics(PREFIX).style_config],
        ),
        (
            crate::roles::sla_dlq_group(&Embedded::group("tickets"), "schedules"),
            vec![parley_tickets::topics(PREFIX).schedules],
        ),
        (
            crate::roles::sla_dlq_group(&Embedded::group("tickets"), "sla-policies"),
            vec![parley_tickets::topics(PREFIX).sla_policies],
        ),
    ]
}

/// The blocking side: produces inputs, moves the clock, reads outputs.
struct Driver {
    clock: ManualClock,
    run_after: Millis,
    max_steps: u64,
    producer: BaseProducer,
    reader: BaseConsumer,
    /// Asks for watermarks: a client that never fetches, so its requests never wait
    /// behind a fetch.
    watermarks: BaseConsumer,
    /// Per group, a consumer that only fetches the group's committed offsets.
    groups: Vec<(BaseConsumer, TopicPartitionList)>,
    /// The next offset to read, per output topic partition.
    read: BTreeMap<(String, i32), i64>,
    /// Records produced to each config table's topic (`style-config`, `schedules`,
    /// `sla-policies`), to wait until the tables have read them.
    config_produced: [u64; 3],
}

impl Driver {
    fn new(
        embedded: &Embedded,
        clock: ManualClock,
        run_after: Millis,
        max_steps: u64,
    ) -> anyhow::Result<Driver> {
        let client = |extra: &[(&str, &str)]| {
            let mut config = ClientConfig::new();
            config.set("bootstrap.servers", embedded.brokers());
            for (key, value) in extra {
                config.set(*key, *value);
            }
            config
        };
        let producer: BaseProducer =
            client(&[("partitioner", "murmur2_random"), ("linger.ms", "0")]).create()?;
        let reader: BaseConsumer = client(&[
            ("group.id", "parley-simulate-reader"),
            ("enable.auto.commit", "false"),
            ("fetch.wait.max.ms", "5"),
        ])
        .create()?;
        let metadata = reader.fetch_metadata(
            Some(&embedded.topic(OUTPUT_TOPICS[0])),
            Duration::from_secs(10),
        )?;
        let partitions = metadata.topics()[0].partitions().len() as i32;
        let mut assignment = TopicPartitionList::new();
        let mut read = BTreeMap::new();
        for topic in OUTPUT_TOPICS {
            for partition in 0..partitions {
                assignment.add_partition_offset(
                    &embedded.topic(topic),
                    partition,
                    Offset::Beginning,
                )?;
                read.insert((embedded.topic(topic), partition), 0);
            }
        }
        reader.assign(&assignment)?;
        let watermarks: BaseConsumer =
            client(&[("group.id", "parley-simulate-watermarks")]).create()?;
        let mut group_consumers = Vec::new();
        for (group, topics) in groups() {
            let consumer: BaseConsumer =
                client(&[("group.id", &group), ("enable.auto.commit", "false")]).create()?;
            let mut list = TopicPartitionList::new();
            for topic in &topics {
                for partition in 0..partitions {
                    list.add_partition(topic, partition);
                }
            }
            group_consumers.push((consumer, list));
        }
        Ok(Driver {
            clock,
            run_after,
            max_steps,
            producer,
            reader,
            watermarks,
            groups: group_consumers,
            read,
            config_produced: [0; 3],
        })
    }

    fn run(
        mut self,
        observed: &Observed,
        inputs: Vec<InputRecord>,
        mut emit: impl FnMut(OutputRecord) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let last = inputs.last().map_or(Timestamp(0), |r| r.at);
        let mut inputs = inputs.into_iter().peekable();
        let mut steps_after_last = 0;
        loop {
            for record in self.settle(observed)? {
                emit(record)?;
            }
            let next_timer = [observed.tickets.next_due(), observed.router.next_due()]
                .into_iter()
                .flatten()
                .min();
            let next_input = inputs.peek().map(|r| r.at);
            match (next_input, next_timer) {
                (Some(at), timer) if timer.is_none_or(|due| at < due) => {
                    let record = inputs.next().expect("peeked");
                    self.clock.set(at);
                    self.produce(&record)?;
                }
                (_, Some(due)) if next_input.is_some() || due <= last + self.run_after => {
                    if next_input.is_none() {
                        steps_after_last += 1;
                        if steps_after_last > self.max_steps {
                            tracing::warn!(
                                next = %due.to_rfc3339(),
                                "stopped after --max-steps {} timer steps past the last input with timers still due (an offer nobody answers is made again every offer timeout)",
                                self.max_steps
                            );
                            return Ok(());
                        }
                    }
                    self.clock.set(due);
                }
                _ => return Ok(()),
            }
        }
    }

    fn produce(&mut self, record: &InputRecord) -> anyhow::Result<()> {
        let topic = format!("{PREFIX}{}", record.topic);
        let mut headers = OwnedHeaders::new().insert(Header {
            key: INPUT_HEADER,
            value: Some(&record.line.to_string()),
        });
        for (name, value) in &record.headers {
            headers = headers.insert(Header {
                key: name,
                value: Some(value),
            });
        }
        let mut base = BaseRecord::to(&topic)
            .payload(&record.value)
            .timestamp(record.at.0)
            .headers(headers);
        if let Some(key) = &record.key {
            base = base.key(key);
        }
        self.producer
            .send(base)
            .map_err(|(e, _)| anyhow!("line {}: cannot produce to {topic}: {e}", record.line))?;
        self.producer.flush(Duration::from_secs(10))?;
        if let Some(table) = CONFIG_TOPICS.iter().position(|t| *t == record.topic) {
            self.config_produced[table] += 1;
        }
        Ok(())
    }

    /// Waits until the pipeline has nothing left to do at the current time and returns the
    /// records it wrote meanwhile, ordered by topic, then key, then offset.
    fn settle(&mut self, observed: &Observed) -> anyhow::Result<Vec<OutputRecord>> {
        let now = parley_runtime::Clock::now(&self.clock);
        let seen = (observed.tickets.iterations(), observed.router.iterations());
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        let mut outputs = Vec::new();
        let mut quiet_checks = 0;
        while quiet_checks < 2 {
            if Instant::now() > deadline {
                return Err(anyhow!(
                    "the pipeline did not settle within {} s at {}",
                    SETTLE_TIMEOUT.as_secs(),
                    now.to_rfc3339()
                ));
            }
            self.drain(now, &mut outputs)?;
            let moved_on = observed.tickets.iterations() > seen.0 + 1
                && observed.router.iterations() > seen.1 + 1;
            let idle = |a: &parley_runtime::Activity| {
                !a.has_open_batch() && a.next_due().is_none_or(|due| due > now)
            };
            let tables = [
                &observed.styles,
                &observed.schedules,
                &observed.sla_policies,
            ];
            let styles_read = tables
                .iter()
                .zip(self.config_produced)
                .all(|(table, produced)| {
                    table.get().is_some_and(|stats| {
                        use std::sync::atomic::Ordering::SeqCst;
                        stats.applied.load(SeqCst) + stats.refused() >= produced
                    })
                });
            if moved_on
                && idle(&observed.tickets)
                && idle(&observed.router)
                && styles_read
                && self.all_read()?
                && self.all_committed()?
            {
                quiet_checks += 1;
            } else {
                quiet_checks = 0;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        outputs.sort_by(|a, b| {
            let rank = |t: &str| OUTPUT_TOPICS.iter().position(|o| *o == t);
            (rank(&a.topic), &a.key, a.partition, a.offset).cmp(&(
                rank(&b.topic),
                &b.key,
                b.partition,
                b.offset,
            ))
        });
        Ok(outputs)
    }

    fn drain(&mut self, now: Timestamp, outputs: &mut Vec<OutputRecord>) -> anyhow::Result<()> {
        while let Some(message) = self.reader.poll(Duration::ZERO) {
            let message = message?;
            let topic = message.topic().to_owned();
            self.read
                .insert((topic.clone(), message.partition()), message.offset() + 1);
            let mut headers = BTreeMap::new();
            let mut echo = false;
            if let Some(list) = message.headers() {
                for header in list.iter() {
                    if header.key == INPUT_HEADER {
                        echo = true;
                    }
                    let value = header
                        .value
                        .map(String::from_utf8_lossy)
                        .unwrap_or_default();
                    headers.insert(header.key.to_owned(), value.into_owned());
                }
            }
            if echo {
                continue;
            }
            let name = topic.strip_prefix(PREFIX).unwrap_or(&topic).to_owned();
            outputs.push(OutputRecord {
                at: now,
                value: decode_output(&name, message.payload().unwrap_or_default()),
                topic: name,
                key: message
                    .key()
                    .map(|k| String::from_utf8_lossy(k).into_owned()),
                headers,
                partition: message.partition(),
                offset: message.offset(),
            });
        }
        Ok(())
    }

    fn all_read(&self) -> anyhow::Result<bool> {
        for ((topic, partition), next) in &self.read {
            let (_, high) =
                (self.watermarks).fetch_watermarks(topic, *partition, Duration::from_secs(5))?;
            if high > *next {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn all_committed(&self) -> anyhow::Result<bool> {
        for (consumer, list) in &self.groups {
            let committed = consumer.committed_offsets(list.clone(), Duration::from_secs(5))?;
            for element in committed.elements() {
                let (_, high) = self.watermarks.fetch_watermarks(
                    element.topic(),
                    element.partition(),
                    Duration::from_secs(5),
                )?;
                let done = match element.offset() {
                    Offset::Offset(offset) => offset >= high,
                    _ => high == 0,
                };
                if !done {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_fill_ids_times_and_keys_and_sort_by_time() {
        let text = r#"
# agents first
{"at": "2026-01-05T09:00:10Z", "topic": "agent-actions", "value": {"account": "acme", "conversation": "c1", "agent_id": "ana", "kind": "accept"}}
{"at": "2026-01-05T09:00:00Z", "topic": "agent-presence", "value": {"account": "acme", "agent_id": "ana", "channels": [{"channel": "whatsapp", "status": "online", "capacity": 2}]}}
{"at": 1767603600000, "topic": "raw.whatsapp", "headers": {"parley-account": "acme"}, "value": {"object": "whatsapp_business_account"}}
"#;
        let records = parse_input(text).unwrap();
        assert_eq!(
            records
                .iter()
                .map(|r| (r.line, r.topic.as_str()))
                .collect::<Vec<_>>(),
            // Line 1 is the empty line after `r#"`.
            [
                (4, "agent-presence"),
                (5, "raw.whatsapp"),
                (3, "agent-actions")
            ]
        );
        assert_eq!(records[0].key.as_deref(), Some("acme"));
        assert_eq!(records[2].key.as_deref(), Some("acme/c1"));
        let action = AvroCodec::<AgentAction>::single_object()
            .decode(&records[2].value)
            .unwrap();
        assert_eq!(action.action_id, "line-3");
        assert_eq!(
            action.at,
            Timestamp::parse_rfc3339("2026-01-05T09:00:10Z").unwrap()
        );
        assert_eq!(records[1].headers["parley-account"], "acme");
        assert_eq!(
            records[1].value,
            br#"{"object":"whatsapp_business_account"}"#
        );
    }

    #[test]
    fn errors_name_the_line_the_field_and_the_rule() {
        let cases = [
            (
                r#"{"at": "yesterday", "topic": "agent-actions", "value": {}}"#,
                "line 1: at \"yesterday\": expected an RFC 3339 time",
            ),
            (
                r#"{"at": 1, "topic": "tickets", "value": {}}"#,
                "line 1: topic \"tickets\": expected raw.<channel> or one of",
            ),
            (
                r#"{"at": 1, "topic": "raw.pigeon", "value": {}}"#,
                "line 1: topic \"raw.pigeon\": no such channel",
            ),
            (
                r#"{"at": 1, "topic": "agent-actions", "value": {"account": "acme"}}"#,
                "line 1: value is not a agent-actions record: missing field",
            ),
            (
                r#"{"at": 1, "topic": "agent-actions", "valeu": {}}"#,
                "line 1: unknown field \"valeu\"",
            ),
            (r#"{"topic": "agent-actions"}"#, "line 1: at is required"),
            ("[1, 2]", "line 1: expected a JSON object"),
        ];
        for (line, expected) in cases {
            let error = parse_input(line).unwrap_err().to_string();
            assert!(
                error.starts_with(expected),
                "{line}\n  gave {error}\n  want {expected}"
            );
        }
    }

    #[test]
    fn outputs_are_written_with_rfc_3339_times_and_headers_only_when_present() {
        let record = OutputRecord {
            at: Timestamp(1_767_603_600_000),
            topic: "ticket-status-changes".into(),
            key: Some("acme/c1".into()),
            value: json!({"to": "new"}),
            headers: BTreeMap::new(),
            partition: 0,
            offset: 0,
        };
        assert_eq!(
            record.to_json(),
            json!({"at": "2026-01-05T09:00:00Z", "topic": "ticket-status-changes", "key": "acme/c1", "value": {"to": "new"}})
        );
    }
}
