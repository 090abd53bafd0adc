//! The output of `parley simulate`: every record the stages produced, decoded to JSON lines.

use parley_core::sla::SlaEvent;
use parley_core::*;
use parley_runtime::codec::{AvroCodec, AvroRecord};
use parley_runtime::driver::Record;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The topics the processors write, in the order a step's outputs are written.
pub const OUTPUT_TOPICS: [&str; 9] = [
    "conversation-events",
    "ticket-status-changes",
    "routing-requests",
    "routing-decisions",
    "ticket-metrics",
    "sla-events",
    "inactivity-reminders",
    "agent-metrics",
    "dlq",
];

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

    /// The output record of `record`, produced in the step at `at`, its topic without
    /// `prefix`, its value decoded by `decoder`.
    pub(crate) fn from_record(
        record: Record,
        at: Timestamp,
        prefix: &str,
        decoder: &OutputDecoder,
    ) -> OutputRecord {
        let message = record.message;
        let topic = (message.topic.strip_prefix(prefix))
            .unwrap_or(&message.topic)
            .to_owned();
        OutputRecord {
            at,
            value: decoder.decode(&topic, &message.value),
            topic,
            key: (message.key).map(|k| String::from_utf8_lossy(&k).into_owned()),
            headers: (message.headers.into_iter())
                .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
                .collect(),
            partition: record.partition,
            offset: record.offset,
        }
    }
}

/// Puts one step's outputs in the order they are written: by topic (as in
/// [`OUTPUT_TOPICS`]), then key, then partition and offset.
pub(crate) fn sort_step(outputs: &mut [OutputRecord]) {
    outputs.sort_by(|a, b| {
        let rank = |t: &str| OUTPUT_TOPICS.iter().position(|o| *o == t);
        (rank(&a.topic), &a.key, a.partition, a.offset).cmp(&(
            rank(&b.topic),
            &b.key,
            b.partition,
            b.offset,
        ))
    });
}

/// The codecs of every output topic's records, made once per run (making one parses its
/// schema).
#[derive(Debug)]
pub(crate) struct OutputDecoder {
    conversation_events: AvroCodec<ConversationEvent>,
    routing_requests: AvroCodec<RoutingRequest>,
    routing_decisions: AvroCodec<RoutingDecision>,
    status_changes: AvroCodec<StatusChange>,
    ticket_metrics: AvroCodec<TicketMetrics>,
    agent_metrics: AvroCodec<AgentMetrics>,
    sla_events: AvroCodec<SlaEvent>,
    inactivity_reminders: AvroCodec<InactivityReminder>,
}

impl OutputDecoder {
    /// Every codec, Avro single-object as the pipeline writes.
    pub(crate) fn new() -> OutputDecoder {
        OutputDecoder {
            conversation_events: AvroCodec::single_object(),
            routing_requests: AvroCodec::single_object(),
            routing_decisions: AvroCodec::single_object(),
            status_changes: AvroCodec::single_object(),
            ticket_metrics: AvroCodec::single_object(),
            agent_metrics: AvroCodec::single_object(),
            sla_events: AvroCodec::single_object(),
            inactivity_reminders: AvroCodec::single_object(),
        }
    }

    /// The JSON form of a value of `topic`; a DLQ value (or any other topic's) as text.
    fn decode(&self, topic: &str, bytes: &[u8]) -> Value {
        fn decoded<T: AvroRecord>(codec: &AvroCodec<T>, bytes: &[u8]) -> Value {
            match codec.decode(bytes) {
                Ok(record) => serde_json::to_value(record).expect("records serialise"),
                Err(error) => json!({ "undecodable": error.to_string() }),
            }
        }
        match topic {
            "conversation-events" => decoded(&self.conversation_events, bytes),
            "routing-requests" => decoded(&self.routing_requests, bytes),
            "routing-decisions" => decoded(&self.routing_decisions, bytes),
            "ticket-status-changes" => decoded(&self.status_changes, bytes),
            "ticket-metrics" => decoded(&self.ticket_metrics, bytes),
            "agent-metrics" => decoded(&self.agent_metrics, bytes),
            "sla-events" => decoded(&self.sla_events, bytes),
            "inactivity-reminders" => decoded(&self.inactivity_reminders, bytes),
            _ => Value::String(String::from_utf8_lossy(bytes).into_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_step_is_written_by_topic_then_key_then_offset() {
        let record = |topic: &str, key: &str, offset| OutputRecord {
            at: Timestamp(0),
            topic: topic.into(),
            key: Some(key.into()),
            value: Value::Null,
            headers: BTreeMap::new(),
            partition: 0,
            offset,
        };
        let mut step = vec![
            record("dlq", "a", 0),
            record("ticket-status-changes", "b", 1),
            record("ticket-status-changes", "a", 2),
            record("ticket-status-changes", "a", 0),
            record("conversation-events", "z", 9),
        ];
        sort_step(&mut step);
        let order: Vec<(&str, &str, i64)> = step
            .iter()
            .map(|r| (r.topic.as_str(), r.key.as_deref().unwrap(), r.offset))
            .collect();
        assert_eq!(
            order,
            [
                ("conversation-events", "z", 9),
                ("ticket-status-changes", "a", 0),
                ("ticket-status-changes", "a", 2),
                ("ticket-status-changes", "b", 1),
                ("dlq", "a", 0)
            ]
        );
    }
}
