//! What a step emits: decision ids, agent metrics, rejections; nothing for a stale timer.

use super::support::*;
use crate::model::*;
use crate::routing::*;
use crate::time::{Millis, Timestamp};

#[test]
fn decisions_carry_deterministic_ids_and_the_ticket_key() {
    let mut engine = RoutingEngine::new("acme", RoutingConfig::default());
    let _ = engine.handle_presence(
        &presence("p1", "a1", &[(Channel::Web, AgentStatus::Online, 1)]),
        Timestamp(0),
    );
    let effects = engine.handle_request(
        &request("t1.r1", "t1", RoutingRequestKind::Enqueue, None),
        Timestamp(5),
    );
    assert_eq!(effects.decisions.len(), 1);
    let d = &effects.decisions[0];
    assert_eq!(d.decision_id, "t1.r1.d1");
    assert_eq!(
        (
            d.account.as_str(),
            d.conversation.as_str(),
            d.ticket_id.as_str()
        ),
        ("acme", "conv-t1", "t1")
    );
    assert_eq!(
        (d.kind, d.agent_id.as_deref(), d.reason.as_str()),
        (RoutingDecisionKind::Offered, Some("a1"), "best_match")
    );
    assert_eq!(d.at, Timestamp(5));
    assert_eq!(
        effects.timers,
        vec![RoutingTimerCommand::Set(RoutingTimer::OfferTimeout {
            ticket_id: "t1".into(),
            agent_id: "a1".into(),
            due: Timestamp(30_005),
        })]
    );
    assert_eq!(effects.agent_metrics[0].metrics_id, "t1.r1.m1");
}

#[test]
fn agent_metrics_count_offers_and_time_per_status() {
    let mut engine = RoutingEngine::new("acme", RoutingConfig::default());
    let _ = engine.handle_presence(
        &presence("p1", "a1", &[(Channel::Web, AgentStatus::Online, 2)]),
        Timestamp(0),
    );
    let _ = engine.handle_request(
        &request("t1.r1", "t1", RoutingRequestKind::Enqueue, None),
        Timestamp(1_000),
    );
    let _ = engine.handle_request(
        &request("t1.r2", "t1", RoutingRequestKind::Decline, Some("a1")),
        Timestamp(2_000),
    );
    let effects = engine.handle_presence(
        &presence("p2", "a1", &[(Channel::Web, AgentStatus::Away, 2)]),
        Timestamp(10_000),
    );
    let m = effects
        .agent_metrics
        .iter()
        .find(|m| m.channel == Channel::Web)
        .unwrap();
    assert_eq!((m.status, m.capacity, m.load), (AgentStatus::Away, 2, 0));
    // Offered t1, declined it, offered it again (the only agent), then went away.
    assert_eq!(
        (
            m.offers_made,
            m.offers_declined,
            m.offers_accepted,
            m.offers_timed_out
        ),
        (2, 1, 0, 0)
    );
    assert_eq!((m.online_ms, m.away_ms), (Millis(10_000), Millis(0)));
    let effects = engine.handle_presence(
        &presence("p3", "a1", &[(Channel::Web, AgentStatus::Offline, 2)]),
        Timestamp(15_000),
    );
    let m = &effects.agent_metrics[0];
    assert_eq!(
        (m.online_ms, m.away_ms, m.offline_ms),
        (Millis(10_000), Millis(5_000), Millis(0))
    );
}

#[test]
fn requests_for_another_account_or_without_agent_are_rejected() {
    let mut engine = RoutingEngine::new("acme", RoutingConfig::default());
    let mut other = request("x.r1", "x", RoutingRequestKind::Enqueue, None);
    other.account = "globex".into();
    let effects = engine.handle_request(&other, Timestamp(0));
    assert!(
        effects.rejections[0].reason.contains("\"globex\""),
        "{:?}",
        effects.rejections
    );
    let effects = engine.handle_request(
        &request("t.r1", "t", RoutingRequestKind::Accept, None),
        Timestamp(0),
    );
    assert!(
        effects.rejections[0]
            .reason
            .contains("agent_id is required"),
        "{:?}",
        effects.rejections
    );
    assert_eq!(engine.ticket_count(), 0);
}

#[test]
fn a_stale_timer_is_ignored() {
    let mut engine = RoutingEngine::new("acme", RoutingConfig::default());
    let _ = engine.handle_presence(
        &presence("p1", "a1", &[(Channel::Web, AgentStatus::Online, 1)]),
        Timestamp(0),
    );
    let effects = engine.handle_request(
        &request("t1.r1", "t1", RoutingRequestKind::Enqueue, None),
        Timestamp(0),
    );
    let RoutingTimerCommand::Set(timer) = effects.timers[0].clone() else {
        panic!()
    };
    let _ = engine.handle_request(
        &request("t1.r2", "t1", RoutingRequestKind::Accept, Some("a1")),
        Timestamp(1),
    );
    let effects = engine.handle_timer(&timer, timer.due());
    assert_eq!(effects, RoutingEffects::default());
    assert!(matches!(
        engine.ticket_view("t1"),
        Some(RoutingTicketView::Assigned { .. })
    ));
}
