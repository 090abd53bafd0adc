//! The capacity ledger: release, reopen, manual assignment, inactivity, returning customer.

use super::support::*;
use crate::model::*;
use crate::routing::*;
use crate::time::Timestamp;

#[test]
fn zendesk_pending_on_hold_and_solved_release_capacity_and_keep_the_assignee() {
    // Each of Pending, On-hold and Solved reaches the router as a release.
    let mut h = host("auto_accept=web");
    run(
        &mut h,
        &["presence a1 web=online:1", "enqueue t1", "enqueue t2"],
    );
    assert_eq!(run(&mut h, &["ticket t2"]), "queued");
    assert_eq!(
        run(&mut h, &["release t1 a1"]),
        "assigned t2 a1 auto_accept"
    );
    assert_eq!(run(&mut h, &["ticket t1"]), "assigned a1 released");
    assert!(run(&mut h, &["agent a1 web"]).contains("load=1"));
}

#[test]
fn zendesk_reopen_consumes_capacity_again_even_above_the_limit() {
    let mut h = host("auto_accept=web");
    run(
        &mut h,
        &[
            "presence a1 web=online:1",
            "enqueue t1",
            "release t1 a1",
            "enqueue t2",
        ],
    );
    assert_eq!(run(&mut h, &["consume t1 a1"]), "ok");
    assert!(run(&mut h, &["agent a1 web"]).contains("capacity=1 load=2"));
    assert_eq!(
        run(&mut h, &["enqueue t3"]),
        "ok",
        "over the limit takes nothing new"
    );
}

#[test]
fn the_ledger_never_counts_twice_nor_goes_negative() {
    let mut h = host("auto_accept=web");
    run(&mut h, &["presence a1 web=online:3", "enqueue t1"]);
    run(&mut h, &["consume t1 a1", "consume t1 a1"]);
    assert!(run(&mut h, &["agent a1 web"]).contains("load=1"));
    run(
        &mut h,
        &["release t1 a1", "release t1 a1", "close t1", "close t1"],
    );
    assert!(run(&mut h, &["agent a1 web"]).contains("load=0"));
}

#[test]
fn manual_assignment_moves_the_capacity_to_the_new_assignee() {
    let mut h = host("auto_accept=web");
    run(
        &mut h,
        &[
            "presence a1 web=online:1",
            "presence a2 web=online:1",
            "enqueue t1",
            "enqueue t2",
        ],
    );
    assert_eq!(
        run(&mut h, &["assign t1 a2"]),
        "assigned t1 a2 manual_assignment"
    );
    assert!(run(&mut h, &["agent a2 web"]).contains("load=2"));
    // a1 is free again. The queue is empty now, so it stays free.
    assert!(run(&mut h, &["agent a1 web"]).contains("load=0"));
}

#[test]
fn manual_assignment_of_a_released_ticket_takes_no_capacity() {
    let mut h = host("auto_accept=web");
    run(
        &mut h,
        &["presence a1 web=online:1", "enqueue t1", "release t1 a1"],
    );
    assert_eq!(
        run(&mut h, &["assign t1 a2"]),
        "assigned t1 a2 manual_assignment"
    );
    assert_eq!(run(&mut h, &["ticket t1"]), "assigned a2 released");
}

// ---- messaging inactivity ----

#[test]
fn an_inactive_conversation_frees_capacity_until_the_end_user_writes() {
    let mut h = host("auto_accept=web");
    run(
        &mut h,
        &["presence a1 web=online:1", "enqueue t1", "enqueue t2"],
    );
    assert_eq!(run(&mut h, &["ticket t2"]), "queued");
    assert_eq!(
        run(&mut h, &["inactive t1 a1"]),
        "assigned t2 a1 auto_accept"
    );
    assert_eq!(run(&mut h, &["ticket t1"]), "assigned a1 released inactive");
    // The end user writes: back above the limit.
    run(&mut h, &["consume t1 a1"]);
    let agent = run(&mut h, &["agent a1 web"]);
    assert!(
        agent.contains("capacity=1 load=2") && !agent.contains("inactive"),
        "{agent}"
    );
}

#[test]
fn agent_metrics_count_inactive_conversations_apart_from_load() {
    let config = RoutingConfig {
        auto_accept: vec![Channel::Web],
        ..RoutingConfig::default()
    };
    let mut engine = RoutingEngine::new("acme", config);
    let _ = engine.handle_presence(
        &presence("p1", "a1", &[(Channel::Web, AgentStatus::Online, 2)]),
        Timestamp(0),
    );
    let _ = engine.handle_request(
        &request("t1.r1", "t1", RoutingRequestKind::Enqueue, None),
        Timestamp(1_000),
    );
    let fx = engine.handle_request(
        &request("t1.r2", "t1", RoutingRequestKind::Inactive, Some("a1")),
        Timestamp(2_000),
    );
    let m = &fx.agent_metrics[0];
    assert_eq!((m.load, m.inactive), (0, 1));
    // A manual assignment of a quiet conversation takes the new assignee's capacity.
    let fx = engine.handle_request(
        &request("t1.r3", "t1", RoutingRequestKind::Assign, Some("a2")),
        Timestamp(3_000),
    );
    let figures: Vec<(&str, u32, u32)> = fx
        .agent_metrics
        .iter()
        .map(|m| (m.agent_id.as_str(), m.load, m.inactive))
        .collect();
    assert_eq!(figures, [("a1", 0, 0), ("a2", 1, 0)]);
}

// ---- returning customer ----

#[test]
fn zendesk_returning_customer_goes_back_to_the_same_agent() {
    let mut h = host("auto_accept=web");
    run(
        &mut h,
        &[
            "presence a1 web=online:1",
            "presence a2 web=online:5",
            "enqueue t1",
        ],
    );
    assert_eq!(run(&mut h, &["ticket t1"]), "assigned a2 consuming");
    run(&mut h, &["release t1 a2"]);
    assert_eq!(run(&mut h, &["consume t1 a2"]), "ok");
    assert_eq!(run(&mut h, &["ticket t1"]), "assigned a2 consuming");
}

#[test]
fn a_returning_customer_is_requeued_after_the_grace_if_the_agent_stays_offline() {
    let mut h = host("auto_accept=web returning_grace=5m");
    run(
        &mut h,
        &[
            "presence a1 web=online:1",
            "enqueue t1",
            "release t1 a1",
            "presence a1 web=offline:1",
        ],
    );
    run(&mut h, &["presence a2 web=online:1", "consume t1 a1"]);
    assert_eq!(
        run(&mut h, &["ticket t1"]),
        "assigned a1 consuming in_grace"
    );
    assert_eq!(run(&mut h, &["advance 4m"]), "ok");
    assert_eq!(
        run(&mut h, &["advance 1m"]),
        "unassigned t1 a1 returning_customer_grace_expired\nassigned t1 a2 auto_accept"
    );
    assert!(run(&mut h, &["agent a1 web"]).contains("load=0"));
}

#[test]
fn a_returning_customer_stays_if_the_agent_comes_back_in_time() {
    let mut h = host("auto_accept=web returning_grace=5m");
    run(
        &mut h,
        &[
            "presence a1 web=offline:1",
            "assign t1 a1",
            "release t1 a1",
            "consume t1 a1",
        ],
    );
    run(&mut h, &["advance 4m", "presence a1 web=away:1"]);
    assert_eq!(
        run(&mut h, &["advance 1h", "ticket t1"]),
        "assigned a1 consuming"
    );
}
