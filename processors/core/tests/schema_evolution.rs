//! BACKWARD evolution of the schemas that grew for routing by SLA and agent-set priority:
//! a reader with today's schema reads every record written with the schema before, and
//! the new fields come out empty.

use apache_avro::schema_compatibility::SchemaCompatibility;
use apache_avro::types::{Record, Value};
use apache_avro::{from_avro_datum, from_value, to_avro_datum, Schema};
use parley_core::*;
use std::path::PathBuf;

fn text(file: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../schemas")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Today's schema of `file`, and the one before: without the field `field` and without
/// the symbol `symbol` of the enum named `enum_name` (if given).
fn schemas(file: &str, field: &str, symbol: Option<(&str, &str)>) -> (Schema, Schema) {
    let new = Schema::parse_str(&text(file)).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text(file)).unwrap();
    let fields = json["fields"].as_array_mut().unwrap();
    let before = fields.len();
    fields.retain(|f| f["name"] != field);
    assert_eq!(before - fields.len(), 1, "{file} has {field}");
    if let Some((enum_name, symbol)) = symbol {
        let kind = fields
            .iter_mut()
            .find(|f| f["type"]["name"] == enum_name)
            .unwrap_or_else(|| panic!("{file} has the enum {enum_name}"));
        let symbols = kind["type"]["symbols"].as_array_mut().unwrap();
        assert_eq!(symbols.last().unwrap(), symbol, "a new symbol goes last");
        symbols.pop();
    }
    let old = Schema::parse(&json).unwrap();
    assert!(
        SchemaCompatibility::can_read(&old, &new).is_ok(),
        "{file}: BACKWARD: a reader with the new schema reads records written with the old one"
    );
    (old, new)
}

fn read_with_new<T: serde::de::DeserializeOwned>(old: &Schema, new: &Schema, record: Record) -> T {
    let bytes = to_avro_datum(old, record).unwrap();
    let read = from_avro_datum(old, &mut bytes.as_slice(), Some(new)).unwrap();
    from_value(&read).unwrap()
}

fn null() -> Value {
    Value::Union(0, Box::new(Value::Null))
}

#[test]
fn a_routing_request_written_before_sla_breach_at_reads_without_one() {
    let (old, new) = schemas(
        "routing_request.avsc",
        "sla_breach_at",
        Some(("RoutingRequestKind", "update")),
    );
    let mut written = Record::new(&old).unwrap();
    for (name, value) in [
        ("request_id", Value::from("t-1.r1")),
        ("account", "acme".into()),
        ("conversation", "c1".into()),
        ("ticket_id", "t-1".into()),
        ("kind", Value::Enum(0, "enqueue".into())),
        ("agent_id", null()),
        ("channel", Value::Enum(3, "whatsapp".into())),
        ("priority", Value::Int(1)),
        ("required_skills", Value::Array(vec![])),
        ("group", null()),
        ("brand", null()),
        ("created_at", Value::TimestampMillis(5)),
        ("at", Value::TimestampMillis(6)),
    ] {
        written.put(name, value);
    }
    let request: RoutingRequest = read_with_new(&old, &new, written);
    assert_eq!(request.kind, RoutingRequestKind::Enqueue);
    assert_eq!(request.priority, 1);
    assert_eq!(request.sla_breach_at, None);
}

#[test]
fn an_agent_action_written_before_set_priority_reads_without_a_priority() {
    let (old, new) = schemas(
        "agent_action.avsc",
        "priority",
        Some(("AgentActionKind", "set_priority")),
    );
    let mut written = Record::new(&old).unwrap();
    for (name, value) in [
        ("action_id", Value::from("a-1")),
        ("account", "acme".into()),
        ("conversation", "c1".into()),
        ("agent_id", "ana".into()),
        ("kind", Value::Enum(2, "reply".into())),
        ("status", null()),
        ("at", Value::TimestampMillis(7)),
    ] {
        written.put(name, value);
    }
    let action: AgentAction = read_with_new(&old, &new, written);
    assert_eq!(action.kind, AgentActionKind::Reply);
    assert_eq!(action.priority, None);
}

#[test]
fn a_routing_config_written_before_queue_order_keeps_the_router_order() {
    let (old, new) = schemas("account_routing_config.avsc", "queue_order", None);
    let mut written = Record::new(&old).unwrap();
    written.put("account", "acme");
    for field in [
        "auto_accept",
        "offer_timeout_ms",
        "skills_timeout_ms",
        "returning_grace_ms",
        "mode",
        "away_after_offer_timeouts",
    ] {
        written.put(field, null());
    }
    written.put("updated_at", Value::TimestampMillis(8));
    let config: AccountRoutingConfig = read_with_new(&old, &new, written);
    assert_eq!(config.queue_order, None);
    let process = routing::RoutingConfig::default();
    assert_eq!(
        process.overlay(&config).unwrap().queue_order,
        routing::QueueOrder::Priority
    );
}
