//! What the routing tests share: a scenario host, its runner, presences and requests.

use crate::model::*;
use crate::routing::scenarios::{parse_config, ScenarioHost};
use crate::time::Timestamp;

/// A host with the given `config ...` line (may be empty for the defaults).
pub(super) fn host(config: &str) -> ScenarioHost {
    ScenarioHost::new(parse_config(&format!("config {config}")), false)
}

/// Runs each line and returns the output of the last.
pub(super) fn run(host: &mut ScenarioHost, lines: &[&str]) -> String {
    let mut last = String::new();
    for line in lines {
        last = host.run(line);
    }
    last.trim_end().to_owned()
}

pub(super) fn presence(
    id: &str,
    agent: &str,
    channels: &[(Channel, AgentStatus, u32)],
) -> AgentPresence {
    AgentPresence {
        presence_id: id.into(),
        account: "acme".into(),
        agent_id: agent.into(),
        channels: channels
            .iter()
            .map(|(channel, status, capacity)| ChannelPresence {
                channel: *channel,
                status: *status,
                capacity: *capacity,
            })
            .collect(),
        skills: vec![],
        groups: vec![],
        at: Timestamp(0),
    }
}

pub(super) fn request(
    id: &str,
    ticket: &str,
    kind: RoutingRequestKind,
    agent: Option<&str>,
) -> RoutingRequest {
    RoutingRequest {
        request_id: id.into(),
        account: "acme".into(),
        conversation: format!("conv-{ticket}").into(),
        ticket_id: ticket.into(),
        kind,
        agent_id: agent.map(Into::into),
        channel: Channel::Web,
        priority: 0,
        required_skills: vec![],
        group: None,
        brand: None,
        created_at: Timestamp(0),
        sla_breach_at: None,
        at: Timestamp(0),
    }
}
