//! How the router's state reads on the `/state/<key>` endpoint of a running instance
//! (`parley inspect agent ACCOUNT/AGENT`).

use crate::processor::{parse_state_key, Entity};
use parley_core::routing::{AgentRecord, TicketRecord, TicketRecordState};
use parley_core::Channel;
use parley_runtime::state::PartitionView;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Renders a router state entry as JSON.
///
/// - An agent (`account/agent/<id>`): its stored record (`agent_id`, `channels`, `skills`,
///   `groups`, `last_assigned_seq`), each channel with two figures added, `load` (tickets
///   assigned to the agent that take its capacity) and `offered` (offers awaiting an answer,
///   each reserving a unit), and `tickets`: the records of every ticket offered or assigned
///   to the agent, oldest first. Those come from a scan of the account's tickets
///   (`account/ticket/`) in the same partition: cost in proportion to the account's open
///   tickets, read just after the agent (a batch committed in between shows in the tickets).
/// - A ticket (`account/ticket/<id>`): its stored record.
pub fn render_state(
    state_key: &[u8],
    value: &[u8],
    partition: &PartitionView,
) -> Result<Value, String> {
    let key = std::str::from_utf8(state_key)
        .map_err(|_| format!("state key {state_key:02x?} is not UTF-8"))?;
    let bad = |e: serde_json::Error| format!("state entry {key:?}: {e}");
    match parse_state_key(key) {
        Some((account, Entity::Agent)) => {
            let agent: AgentRecord = serde_json::from_slice(value).map_err(bad)?;
            let prefix = format!("{account}/ticket/");
            let entries = partition
                .scan_prefix(prefix.as_bytes())
                .map_err(|e| format!("the tickets of account {account:?}: {e}"))?;
            let mut tickets = Vec::new();
            for (ticket_key, ticket_value) in entries {
                let ticket: TicketRecord = serde_json::from_slice(&ticket_value).map_err(|e| {
                    format!(
                        "state entry {:?}: {e}",
                        String::from_utf8_lossy(&ticket_key)
                    )
                })?;
                if holder(&ticket) == Some(agent.agent_id.as_str()) {
                    tickets.push(ticket);
                }
            }
            tickets.sort_by(|a, b| (a.created_at, &a.ticket_id).cmp(&(b.created_at, &b.ticket_id)));
            agent_json(&agent, &tickets).map_err(bad)
        }
        Some((_, Entity::Ticket)) => {
            let ticket: TicketRecord = serde_json::from_slice(value).map_err(bad)?;
            serde_json::to_value(ticket).map_err(bad)
        }
        None => Err(format!(
            "state key {key:?} is neither account/agent/<id> nor account/ticket/<id>"
        )),
    }
}

/// The agent a ticket is offered or assigned to.
fn holder(ticket: &TicketRecord) -> Option<&str> {
    match &ticket.state {
        TicketRecordState::Queued => None,
        TicketRecordState::Offered { agent_id, .. }
        | TicketRecordState::Assigned { agent_id, .. } => Some(agent_id),
    }
}

fn agent_json(agent: &AgentRecord, tickets: &[TicketRecord]) -> serde_json::Result<Value> {
    let mut load: BTreeMap<Channel, u32> = BTreeMap::new();
    let mut offered: BTreeMap<Channel, u32> = BTreeMap::new();
    for ticket in tickets {
        match ticket.state {
            TicketRecordState::Assigned {
                consuming: true, ..
            } => *load.entry(ticket.channel).or_default() += 1,
            TicketRecordState::Offered { .. } => *offered.entry(ticket.channel).or_default() += 1,
            _ => {}
        }
    }
    let mut json = serde_json::to_value(agent)?;
    if let Some(channels) = json.get_mut("channels").and_then(Value::as_array_mut) {
        for (slot, record) in channels.iter_mut().zip(&agent.channels) {
            if let Some(slot) = slot.as_object_mut() {
                let count = |counts: &BTreeMap<Channel, u32>| {
                    json!(counts.get(&record.channel).copied().unwrap_or(0))
                };
                slot.insert("load".to_owned(), count(&load));
                slot.insert("offered".to_owned(), count(&offered));
            }
        }
    }
    if let Some(object) = json.as_object_mut() {
        object.insert("tickets".to_owned(), serde_json::to_value(tickets)?);
    }
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processor::{agent_key, ticket_key, RouterCodecs, RouterProcessor};
    use parley_core::routing::{RoutingConfig, RoutingInput};
    use parley_core::{
        AgentPresence, AgentStatus, ChannelPresence, RoutingRequest, RoutingRequestKind, Timestamp,
    };
    use parley_runtime::state::{ChangelogOp, PartitionMeta, StateStore};
    use parley_runtime::{Effects, KeyedProcessor};
    use std::sync::Arc;

    fn presence(agent: &str, capacity: u32) -> RoutingInput {
        RoutingInput::Presence(AgentPresence {
            presence_id: format!("p-{agent}"),
            account: "acme".into(),
            agent_id: agent.into(),
            channels: vec![ChannelPresence {
                channel: Channel::Whatsapp,
                status: AgentStatus::Online,
                capacity,
            }],
            skills: Vec::new(),
            groups: Vec::new(),
            at: Timestamp(1_000),
        })
    }

    fn request(conversation: &str, kind: RoutingRequestKind, agent: Option<&str>) -> RoutingInput {
        RoutingInput::Request(RoutingRequest {
            request_id: format!("r-{conversation}-{kind:?}").into(),
            account: "acme".into(),
            conversation: conversation.into(),
            ticket_id: format!("t-{conversation}").into(),
            kind,
            agent_id: agent.map(str::to_owned),
            channel: Channel::Whatsapp,
            priority: 0,
            required_skills: Vec::new(),
            group: None,
            brand: None,
            created_at: Timestamp(1_000),
            sla_breach_at: None,
            at: Timestamp(1_000),
        })
    }

    /// Runs `inputs` through a router and stores its state writes in a partition, as the
    /// runtime would, then hands the partition to `test`.
    fn routed(inputs: Vec<RoutingInput>, test: impl FnOnce(&PartitionView)) {
        let codecs = RouterCodecs::single_object();
        let tables = crate::RouterTables::empty(RoutingConfig::default(), &codecs);
        let mut router =
            RouterProcessor::new(Arc::new(crate::topics("t.")), Arc::new(codecs), tables);
        let mut effects = Effects::default();
        for (i, input) in inputs.into_iter().enumerate() {
            router
                .handle(b"acme", input, Timestamp(2_000 + i as i64), &mut effects)
                .unwrap();
        }
        let ops: Vec<ChangelogOp> = effects
            .state
            .iter()
            .map(|write| ChangelogOp::State {
                key: write.state_key.clone(),
                value: write.value.clone(),
            })
            .collect();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "parley-routing-render-{}-{nanos}",
            std::process::id()
        ));
        let store = StateStore::open(&dir).unwrap().0;
        let partition = store.partition(0).unwrap();
        let _ = partition.apply(&ops, &PartitionMeta::default()).unwrap();
        test(&PartitionView::new(partition));
        drop(store);
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn render(partition: &PartitionView, key: &[u8]) -> Value {
        let value = partition.get(key).unwrap().expect("stored");
        render_state(key, &value, partition).unwrap()
    }

    #[test]
    fn an_agent_renders_with_its_load_its_offers_and_its_tickets() {
        let inputs = vec![
            presence("ana", 2),
            request("c1", RoutingRequestKind::Enqueue, None),
            request("c1", RoutingRequestKind::Accept, Some("ana")),
            request("c2", RoutingRequestKind::Enqueue, None),
            presence("bob", 1),
            request("c3", RoutingRequestKind::Enqueue, None),
        ];
        routed(inputs, |partition| {
            let ana = render(partition, &agent_key("acme", "ana"));
            assert_eq!(ana["agent_id"], "ana");
            let whatsapp = &ana["channels"][0];
            assert_eq!(whatsapp["channel"], "whatsapp");
            assert_eq!(whatsapp["capacity"], 2);
            assert_eq!(
                (&whatsapp["load"], &whatsapp["offered"]),
                (&json!(1), &json!(1))
            );
            let tickets: Vec<(&str, &str)> = ana["tickets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    let state = t["state"].as_object().unwrap().keys().next().unwrap();
                    (t["ticket_id"].as_str().unwrap(), state.as_str())
                })
                .collect();
            assert_eq!(tickets, [("t-c1", "assigned"), ("t-c2", "offered")]);

            // Bob holds the third ticket, and none of Ana's.
            let bob = render(partition, &agent_key("acme", "bob"));
            assert_eq!(bob["tickets"][0]["ticket_id"], "t-c3");
            assert_eq!(bob["tickets"].as_array().unwrap().len(), 1);
            assert_eq!(bob["channels"][0]["offered"], 1);

            let ticket = render(partition, &ticket_key("acme", "t-c2"));
            assert_eq!(ticket["conversation"], "c2");
            assert_eq!(ticket["state"]["offered"]["agent_id"], "ana");
        });
    }

    #[test]
    fn unknown_keys_and_unreadable_entries_are_errors_naming_the_key() {
        routed(Vec::new(), |partition| {
            let error = render_state(b"acme/queue/1", b"{}", partition).unwrap_err();
            assert!(error.contains("\"acme/queue/1\" is neither"), "{error}");
            let error = render_state(b"acme/agent/ana", b"{}", partition).unwrap_err();
            assert!(
                error.starts_with("state entry \"acme/agent/ana\""),
                "{error}"
            );
        });
    }
}
