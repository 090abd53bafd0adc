//! The Avro schemas of `schemas/`, embedded, one constant per record.

/// `ConversationEvent`.
pub const CONVERSATION_EVENT: &str = include_str!("../../../../schemas/conversation_event.avsc");
/// `AgentAction`.
pub const AGENT_ACTION: &str = include_str!("../../../../schemas/agent_action.avsc");
/// `AgentPresence`.
pub const AGENT_PRESENCE: &str = include_str!("../../../../schemas/agent_presence.avsc");
/// `StyleConfig`.
pub const STYLE_CONFIG: &str = include_str!("../../../../schemas/style_config.avsc");
/// `RoutingRequest`.
pub const ROUTING_REQUEST: &str = include_str!("../../../../schemas/routing_request.avsc");
/// `RoutingDecision`.
pub const ROUTING_DECISION: &str = include_str!("../../../../schemas/routing_decision.avsc");
/// `StatusChange`.
pub const STATUS_CHANGE: &str = include_str!("../../../../schemas/status_change.avsc");
/// `TicketMetrics`.
pub const TICKET_METRICS: &str = include_str!("../../../../schemas/ticket_metrics.avsc");
/// `AgentMetrics`.
pub const AGENT_METRICS: &str = include_str!("../../../../schemas/agent_metrics.avsc");
/// `SlaEvent`.
pub const SLA_EVENT: &str = include_str!("../../../../schemas/sla_event.avsc");
/// `Schedule`.
pub const SCHEDULE: &str = include_str!("../../../../schemas/schedule.avsc");
/// `SlaPolicy`.
pub const SLA_POLICY: &str = include_str!("../../../../schemas/sla_policy.avsc");

/// `AccountRoutingConfig`.
pub const ACCOUNT_ROUTING_CONFIG: &str =
    include_str!("../../../../schemas/account_routing_config.avsc");
/// `InactivityReminder`.
pub const INACTIVITY_REMINDER: &str = include_str!("../../../../schemas/inactivity_reminder.avsc");
/// `QueueDefinition`.
pub const QUEUE_DEFINITION: &str = include_str!("../../../../schemas/queue_definition.avsc");

/// Every schema: its file under `schemas/`, its record's name, its text.
pub const ALL: [(&str, &str, &str); 15] = [
    (
        "conversation_event.avsc",
        "ConversationEvent",
        CONVERSATION_EVENT,
    ),
    ("agent_action.avsc", "AgentAction", AGENT_ACTION),
    ("agent_presence.avsc", "AgentPresence", AGENT_PRESENCE),
    ("style_config.avsc", "StyleConfig", STYLE_CONFIG),
    ("routing_request.avsc", "RoutingRequest", ROUTING_REQUEST),
    ("routing_decision.avsc", "RoutingDecision", ROUTING_DECISION),
    ("status_change.avsc", "StatusChange", STATUS_CHANGE),
    ("ticket_metrics.avsc", "TicketMetrics", TICKET_METRICS),
    ("agent_metrics.avsc", "AgentMetrics", AGENT_METRICS),
    ("schedule.avsc", "Schedule", SCHEDULE),
    ("sla_policy.avsc", "SlaPolicy", SLA_POLICY),
    ("sla_event.avsc", "SlaEvent", SLA_EVENT),
    (
        "account_routing_config.avsc",
        "AccountRoutingConfig",
        ACCOUNT_ROUTING_CONFIG,
    ),
    ("queue_definition.avsc", "QueueDefinition", QUEUE_DEFINITION),
    (
        "inactivity_reminder.avsc",
        "InactivityReminder",
        INACTIVITY_REMINDER,
    ),
];

/// The file and text of the schema whose record is named `record`.
pub fn of_record(record: &str) -> Option<(&'static str, &'static str)> {
    ALL.iter()
        .find(|(_, name, _)| *name == record)
        .map(|(file, _, text)| (*file, *text))
}

/// A record type of `parley_core::model` with its Avro schema and a hand-written codec of
/// its body, the Avro binary datum (no framing) in the schema's field order.
///
/// [`AvroCodec`](super::AvroCodec) encodes with [`write_body`](AvroRecord::write_body), and
/// decodes with [`read_body`](AvroRecord::read_body) whenever the writer schema is this one;
/// records written with another schema go through apache-avro's schema resolution. Both are
/// checked byte for byte against apache-avro in `tests/avro_fast_path.rs`.
pub trait AvroRecord: serde::Serialize + serde::de::DeserializeOwned {
    /// The schema text, as in `schemas/`.
    const SCHEMA: &'static str;

    /// Appends the record's Avro body to `out`. Fails, naming the field, only for an
    /// unsigned value the Avro type cannot hold (an `int` above `i32::MAX`, a `long`
    /// above `i64::MAX`); `out` may then hold part of the body.
    fn write_body(&self, out: &mut Vec<u8>) -> Result<(), crate::CodecError>;

    /// Reads the record from an Avro body written with [`SCHEMA`](AvroRecord::SCHEMA).
    fn read_body(reader: &mut super::binary::BodyReader<'_>) -> Result<Self, crate::CodecError>;
}
