//! The queue: its order, and tickets leaving it.

use super::support::*;
use crate::model::RoutingRequestKind;
use crate::time::Timestamp;

#[test]
fn the_queue_orders_by_priority_then_age() {
    let mut h = host("");
    run(
        &mut h,
        &[
            "enqueue low_old created=1s",
            "enqueue low_older created=0s",
            "enqueue high_young priority=3 created=9s",
        ],
    );
    assert_eq!(
        run(&mut h, &["presence a1 web=online:1"]),
        "offered high_young a1 best_match"
    );
    assert_eq!(
        run(&mut h, &["close high_young"]).lines().last().unwrap(),
        "offered low_older a1 best_match"
    );
    assert_eq!(
        run(&mut h, &["close low_older"]).lines().last().unwrap(),
        "offered low_old a1 best_match"
    );
}

#[test]
fn close_withdraws_a_queued_ticket() {
    let mut h = host("");
    run(&mut h, &["enqueue t1", "close t1"]);
    assert_eq!(run(&mut h, &["ticket t1"]), "unknown");
    assert_eq!(run(&mut h, &["presence a1 web=online:1"]), "ok");
}

#[test]
fn manual_assignment_withdraws_a_queued_ticket() {
    let mut h = host("");
    assert_eq!(
        run(&mut h, &["enqueue t1", "assign t1 a9"]),
        "assigned t1 a9 manual_assignment"
    );
    assert_eq!(run(&mut h, &["presence a1 web=online:1"]), "ok");
    assert_eq!(run(&mut h, &["ticket t1"]), "assigned a9 consuming");
}

#[test]
fn a_repeated_enqueue_is_a_no_op() {
    let mut h = host("");
    run(&mut h, &["presence a1 web=online:2", "enqueue t1"]);
    assert_eq!(run(&mut h, &["enqueue t1"]), "ok");
    assert!(run(&mut h, &["agent a1 web"]).contains("offered=1 offers=1"));
}

#[test]
fn a_refused_request_leaves_the_tickets_place_in_the_queue() {
    let mut h = host("");
    run(
        &mut h,
        &["enqueue older created=0s", "enqueue newer created=5s"],
    );
    // A decline without its agent is refused; its higher priority must not move `newer`.
    let mut refused = request("r-refused", "newer", RoutingRequestKind::Decline, None);
    refused.priority = 5;
    let effects = h.with_engine(|engine| engine.handle_request(&refused, Timestamp(6_000)));
    assert_eq!(effects.rejections.len(), 1, "{effects:?}");
    assert_eq!(
        run(&mut h, &["presence a1 web=online:1"]),
        "offered older a1 best_match"
    );
}
