//! The input of `parley simulate`: JSON lines `{"at", "topic", "key", "headers", "value"}`,
//! checked, completed and encoded as the topics' records.

use crate::UsageError;
use parley_core::routing::QueueDefinition;
use parley_core::sla::{Schedule, SlaPolicy};
use parley_core::topics::account_name_key;
use parley_core::*;
use parley_runtime::codec::{AvroCodec, AvroRecord};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The topics an input record may name, besides `raw.<channel>`.
const AVRO_INPUT_TOPICS: [&str; 10] = [
    "conversation-events",
    "agent-actions",
    "agent-presence",
    "style-config",
    "schedules",
    "sla-policies",
    "routing-config",
    "routing-queues",
    "routing-requests",
    "routing-decisions",
];

/// One line of the input, checked and ready to pipe in.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioRecord {
    /// The line number, from 1.
    pub line: usize,
    /// When it is piped in (the clock is moved here first); also its record timestamp.
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

/// Reads and checks the input file: every error names the line, the field, the value and
/// the rule. Records come back in time order (equal times in file order).
pub fn parse_input(text: &str) -> Result<Vec<ScenarioRecord>, UsageError> {
    let encoders = Encoders::new();
    let mut records = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        records.push(
            parse_line(&encoders, number, line)
                .map_err(|e| UsageError(format!("line {number}: {e}")))?,
        );
    }
    records.sort_by_key(|r| r.at);
    Ok(records)
}

fn parse_line(encoders: &Encoders, number: usize, line: &str) -> Result<ScenarioRecord, String> {
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
        encode_record(encoders, &topic, key, value, at, number)?
    };
    Ok(ScenarioRecord {
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
    encoders: &Encoders,
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
        "routing-config" => fill("updated_at", json!(at.0)),
        "routing-queues" => {
            fill("position", json!(0));
            fill("conditions", json!({}));
            fill("secondary_groups", json!([]));
            fill("secondary_after_ms", json!(0));
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
            Ok((Some(key), encode(&encoders.conversation_events, &record)?))
        }
        "agent-actions" => {
            let record: AgentAction = from_json(topic, value)?;
            let key = key.unwrap_or_else(|| text(&record.account, &record.conversation));
            Ok((Some(key), encode(&encoders.agent_actions, &record)?))
        }
        "agent-presence" => {
            let record: AgentPresence = from_json(topic, value)?;
            let key = key.unwrap_or_else(|| record.account.clone());
            Ok((Some(key), encode(&encoders.agent_presence, &record)?))
        }
        "style-config" => {
            let record: StyleConfig = from_json(topic, value)?;
            let key = key.unwrap_or_else(|| crate::style::key(&record));
            Ok((Some(key), encode(&encoders.style_config, &record)?))
        }
        "schedules" => {
            let record: Schedule = from_json(topic, value)?;
            let key = key.unwrap_or_else(|| account_name_key(&record.account, &record.schedule_id));
            Ok((Some(key), encode(&encoders.schedules, &record)?))
        }
        "sla-policies" => {
            let record: SlaPolicy = from_json(topic, value)?;
            let key = key.unwrap_or_else(|| account_name_key(&record.account, &record.policy_id));
            Ok((Some(key), encode(&encoders.sla_policies, &record)?))
        }
        "routing-config" => {
            let record: AccountRoutingConfig = from_json(topic, value)?;
            let key = key.unwrap_or_else(|| record.account.clone());
            Ok((Some(key), encode(&encoders.routing_config, &record)?))
        }
        "routing-queues" => {
            let record: QueueDefinition = from_json(topic, value)?;
            let key = key.unwrap_or_else(|| record.key());
            Ok((Some(key), encode(&encoders.routing_queues, &record)?))
        }
        "routing-requests" => {
            let record: RoutingRequest = from_json(topic, value)?;
            let key = key.unwrap_or_else(|| String::from(&*record.account));
            Ok((Some(key), encode(&encoders.routing_requests, &record)?))
        }
        _ => {
            let record: RoutingDecision = from_json(topic, value)?;
            let key = key.unwrap_or_else(|| text(&record.account, &record.conversation));
            Ok((Some(key), encode(&encoders.routing_decisions, &record)?))
        }
    }
}

fn from_json<T: serde::de::DeserializeOwned>(topic: &str, value: Value) -> Result<T, String> {
    serde_json::from_value(value).map_err(|e| format!("value is not a {topic} record: {e}"))
}

fn encode<T: AvroRecord>(codec: &AvroCodec<T>, record: &T) -> Result<Vec<u8>, String> {
    (codec.encode(record)).map_err(|e| format!("value cannot be encoded: {e}"))
}

/// The codec of every input topic's records, made once per file (making one parses its
/// schema).
struct Encoders {
    conversation_events: AvroCodec<ConversationEvent>,
    agent_actions: AvroCodec<AgentAction>,
    agent_presence: AvroCodec<AgentPresence>,
    style_config: AvroCodec<StyleConfig>,
    schedules: AvroCodec<Schedule>,
    sla_policies: AvroCodec<SlaPolicy>,
    routing_config: AvroCodec<AccountRoutingConfig>,
    routing_queues: AvroCodec<QueueDefinition>,
    routing_requests: AvroCodec<RoutingRequest>,
    routing_decisions: AvroCodec<RoutingDecision>,
}

impl Encoders {
    fn new() -> Encoders {
        Encoders {
            conversation_events: AvroCodec::single_object(),
            agent_actions: AvroCodec::single_object(),
            agent_presence: AvroCodec::single_object(),
            style_config: AvroCodec::single_object(),
            schedules: AvroCodec::single_object(),
            sla_policies: AvroCodec::single_object(),
            routing_config: AvroCodec::single_object(),
            routing_queues: AvroCodec::single_object(),
            routing_requests: AvroCodec::single_object(),
            routing_decisions: AvroCodec::single_object(),
        }
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
}
