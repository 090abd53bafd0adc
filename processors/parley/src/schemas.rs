//! `parley schemas register`: every Avro schema under `<prefix><topic>-value`.

use anyhow::anyhow;
use parley_runtime::codec::{schemas, RegistryClient};

/// Every schema with the topic (after the prefix) whose values it describes.
pub(crate) const SCHEMAS: [(&str, &str, &str); 9] = [
    (
        "conversation_event.avsc",
        "conversation-events",
        schemas::CONVERSATION_EVENT,
    ),
    ("agent_action.avsc", "agent-actions", schemas::AGENT_ACTION),
    (
        "agent_presence.avsc",
        "agent-presence",
        schemas::AGENT_PRESENCE,
    ),
    ("style_config.avsc", "style-config", schemas::STYLE_CONFIG),
    (
        "routing_request.avsc",
        "routing-requests",
        schemas::ROUTING_REQUEST,
    ),
    (
        "routing_decision.avsc",
        "routing-decisions",
        schemas::ROUTING_DECISION,
    ),
    (
        "status_change.avsc",
        "ticket-status-changes",
        schemas::STATUS_CHANGE,
    ),
    (
        "ticket_metrics.avsc",
        "ticket-metrics",
        schemas::TICKET_METRICS,
    ),
    (
        "agent_metrics.avsc",
        "agent-metrics",
        schemas::AGENT_METRICS,
    ),
];

/// Registers every schema, printing `subject: id N` or the registry's refusal (which
/// carries its compatibility message); fails if any was refused.
pub(crate) async fn register(url: &str, prefix: &str) -> anyhow::Result<()> {
    let client = RegistryClient::new(url);
    let mut refused = 0;
    for (file, topic, schema) in SCHEMAS {
        let subject = format!("{prefix}{topic}-value");
        match client.register(&subject, schema).await {
            Ok(id) => println!("{subject}: id {id} ({file})"),
            Err(error) => {
                println!("{subject}: refused ({file}): {error}");
                refused += 1;
            }
        }
    }
    if refused == 0 {
        Ok(())
    } else {
        Err(anyhow!("{refused} schemas were not registered"))
    }
}
