//! Named tests of the queue order: by priority (the default) and by SLA, updates of a
//! ticket's priority and breach time, and a change of order.

use super::scenarios::{parse_config, ScenarioHost};
use super::*;
use crate::model::*;
use crate::time::Timestamp;

fn host(config: &str) -> ScenarioHost {
    ScenarioHost::new(parse_config(&format!("config {config}")), false)
}

fn run(host: &mut ScenarioHost, lines: &[&str]) -> String {
    let mut last = String::new();
    for line in lines {
        last = host.run(line);
    }
    last.trim_end().to_owned()
}

/// Two tickets queue behind a busy agent: t1, the older, breaches at 60m; t2 at 10m.
const OLDER_BREACHES_LATER: [&str; 5] = [
    "presence a1 web=online:1",
    "enqueue t0",
    "accept t0 a1",
    "enqueue t1 created=1s sla=60m",
    "enqueue t2 created=2s sla=10m",
];

#[test]
fn by_sla_the_sooner_breach_is_offered_first() {
    let mut h = host("queue_order=sla");
    run(&mut h, &OLDER_BREACHES_LATER);
    assert_eq!(run(&mut h, &["release t0 a1"]), "offered t2 a1 best_match");
}

#[test]
fn by_priority_the_default_ignores_breach_times() {
    let mut h = host("");
    run(&mut h, &OLDER_BREACHES_LATER);
    assert_eq!(run(&mut h, &["release t0 a1"]), "offered t1 a1 best_match");
}

#[test]
fn by_sla_a_custom_queue_priority_still_comes_first() {
    let mut h = host("queue_order=sla");
    run(
        &mut h,
        &[
            "queue vip position=1 priority=5 primary=tier1 brands=vip",
            "presence a1 web=online:1 groups=tier1",
            "enqueue t0",
            "accept t0 a1",
            "enqueue t1 created=1s sla=5m",
            "enqueue t2 created=2s brand=vip sla=60m",
            "enqueue t3 created=3s brand=vip",
        ],
    );
    // The vip queue (priority 5) before the standard queue, whatever the breach times;
    // within it, the ticket with a breach time first.
    assert_eq!(run(&mut h, &["release t0 a1"]), "offered t2 a1 best_match");
    assert_eq!(
        run(&mut h, &["close t2"]),
        "offer_withdrawn t2 a1 ticket_closed\noffered t3 a1 best_match"
    );
    assert_eq!(
        run(&mut h, &["close t3"]),
        "offer_withdrawn t3 a1 ticket_closed\noffered t1 a1 best_match"
    );
}

#[test]
fn by_priority_an_update_of_the_priority_moves_a_queued_ticket() {
    let mut h = host("");
    run(&mut h, &OLDER_BREACHES_LATER);
    assert_eq!(run(&mut h, &["update t2 priority=2"]), "ok");
    assert_eq!(run(&mut h, &["ticket t2"]), "queued");
    assert_eq!(run(&mut h, &["release t0 a1"]), "offered t2 a1 best_match");
}

#[test]
fn an_update_of_a_ticket_the_router_does_not_know_changes_nothing() {
    let mut h = host("queue_order=sla");
    assert_eq!(run(&mut h, &["update t9 priority=2 sla=1m"]), "ok");
    assert_eq!(run(&mut h, &["ticket t9"]), "unknown");
}

fn request(ticket: &str, created: i64, sla: Option<i64>) -> RoutingRequest {
    RoutingRequest {
        request_id: format!("{ticket}.r1").into(),
        account: "acme".into(),
        conversation: format!("conv-{ticket}").into(),
        ticket_id: ticket.into(),
        kind: RoutingRequestKind::Enqueue,
        agent_id: None,
        channel: Channel::Web,
        priority: 0,
        required_skills: vec![],
        group: None,
        brand: None,
        created_at: Timestamp(created),
        sla_breach_at: sla.map(Timestamp),
        at: Timestamp(created),
    }
}

fn online(id: &str) -> AgentPresence {
    AgentPresence {
        presence_id: id.into(),
        account: "acme".into(),
        agent_id: "a1".into(),
        channels: vec![ChannelPresence {
            channel: Channel::Web,
            status: AgentStatus::Online,
            capacity: 1,
        }],
        skills: vec![],
        groups: vec![],
        at: Timestamp(0),
    }
}

fn offered(effects: &RoutingEffects) -> Vec<&str> {
    effects
        .decisions
        .iter()
        .filter(|d| d.kind == RoutingDecisionKind::Offered)
        .map(|d| d.ticket_id.as_str())
        .collect()
}

#[test]
fn a_new_queue_order_reorders_the_tickets_already_queued() {
    let mut engine = RoutingEngine::new("acme", RoutingConfig::default());
    for (ticket, created, sla) in [("t1", 1, Some(600_000)), ("t2", 2, Some(60_000))] {
        let fx = engine.handle_request(&request(ticket, created, sla), Timestamp(created));
        assert!(fx.decisions.is_empty());
    }
    engine.set_config(RoutingConfig {
        queue_order: QueueOrder::Sla,
        ..RoutingConfig::default()
    });
    let fx = engine.handle_presence(&online("p1"), Timestamp(10));
    assert_eq!(offered(&fx), ["t2"], "the sooner breach, though younger");
}

#[test]
fn a_restored_engine_keeps_each_tickets_breach_time() {
    let config = RoutingConfig {
        queue_order: QueueOrder::Sla,
        ..RoutingConfig::default()
    };
    let mut engine = RoutingEngine::new("acme", config.clone());
    for (ticket, created, sla) in [("t1", 1, Some(600_000)), ("t2", 2, Some(60_000))] {
        let _ = engine.handle_request(&request(ticket, created, sla), Timestamp(created));
    }
    let record = engine.ticket_record("t2").unwrap();
    assert_eq!(record.sla_breach_at, Some(Timestamp(60_000)));
    let tickets = ["t1", "t2"].map(|t| engine.ticket_record(t).unwrap());
    let mut restored = RoutingEngine::restore("acme", config, [], tickets);
    let fx = restored.handle_presence(&online("p1"), Timestamp(10));
    assert_eq!(offered(&fx), ["t2"]);
}
