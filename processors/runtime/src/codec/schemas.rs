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

/// The Avro schema of a record type of `parley_core::model`.
pub trait AvroRecord: serde::Serialize + serde::de::DeserializeOwned {
    /// The schema text, as in `schemas/`.
    const SCHEMA: &'static str;
}

macro_rules! avro_record {
    ($($ty:ident => $schema:ident),* $(,)?) => {
        $(impl AvroRecord for parley_core::$ty { const SCHEMA: &'static str = $schema; })*
    };
}

avro_record! {
    ConversationEvent => CONVERSATION_EVENT,
    AgentAction => AGENT_ACTION,
    AgentPresence => AGENT_PRESENCE,
    StyleConfig => STYLE_CONFIG,
    RoutingRequest => ROUTING_REQUEST,
    RoutingDecision => ROUTING_DECISION,
    StatusChange => STATUS_CHANGE,
    TicketMetrics => TICKET_METRICS,
    AgentMetrics => AGENT_METRICS,
}
