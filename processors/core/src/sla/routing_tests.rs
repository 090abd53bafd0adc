//! What the router learns of a ticket's SLA clocks: the next breach time
//! ([`SlaClocks::next_breach_at`]) on the routing requests, `update` requests when it
//! changes while the ticket waits for an agent, and an agent's priority change re-targeting
//! the clocks.

use super::desk::*;
use super::*;
use crate::lifecycle::TicketInput;
use crate::model::*;
use crate::time::Millis;

/// Each request as `"<kind> <priority> <breach minute or ->"`.
fn requests(desk: &Desk) -> Vec<String> {
    desk.requests
        .iter()
        .map(|r| {
            let due = r
                .sla_breach_at
                .map_or("-".into(), |d| ((d - start()).0 / 60_000).to_string());
            format!("{:?} {} {due}", r.kind, r.priority)
        })
        .collect()
}

fn breach_minute(desk: &Desk) -> Option<i64> {
    let ticket = desk.lifecycle.current()?.id;
    (desk.clocks.next_breach_at(ticket)).map(|d| (d - start()).0 / 60_000)
}

#[test]
fn the_next_breach_is_the_earliest_running_or_breached_clock() {
    let mut desk = Desk::new(policies(&[
        (SlaMetric::FirstReplyTime, 10),
        (SlaMetric::RequesterWaitTime, 30),
        (SlaMetric::PeriodicUpdate, 45),
    ]));
    desk.message();
    assert_eq!(breach_minute(&desk), Some(10));
    // Breached, the first reply stays the next breach: the ticket is overdue since then.
    desk.at(12);
    assert_eq!(breach_minute(&desk), Some(10));
    desk.assign().at(15).reply();
    assert_eq!(
        breach_minute(&desk),
        Some(30),
        "requester wait, not the update at 60"
    );
    // Paused clocks have no due time.
    desk.set(Status::Pending);
    assert_eq!(
        breach_minute(&desk),
        Some(60),
        "the periodic update still runs"
    );
    desk.set(Status::Solved);
    assert_eq!(breach_minute(&desk), None);
}

#[test]
fn every_request_carries_the_breach_time_after_the_step() {
    let mut desk = Desk::new(policies(&[(SlaMetric::FirstReplyTime, 10)]));
    desk.message().at(2).assign().at(3).set(Status::Pending);
    assert_eq!(requests(&desk), ["Enqueue 0 10", "Release 0 10"]);
}

#[test]
fn a_waiting_ticket_whose_breach_time_changes_sends_an_update() {
    let mut desk = Desk::new(policies(&[
        (SlaMetric::FirstReplyTime, 10),
        (SlaMetric::AgentWorkTime, 120),
    ]));
    // An agent answers the queued ticket: its next breach moves from 10 to 120.
    desk.message().at(4).reply();
    assert_eq!(requests(&desk), ["Enqueue 0 10", "Update 0 120"]);
    // A breach keeps the due time as the next: nothing to tell.
    desk.at(130);
    assert_eq!(requests(&desk).len(), 2);
}

#[test]
fn an_assigned_ticket_tells_the_router_only_with_its_next_request() {
    let mut desk = Desk::new(policies(&[
        (SlaMetric::FirstReplyTime, 10),
        (SlaMetric::AgentWorkTime, 120),
    ]));
    desk.message().at(2).assign().at(4).reply();
    assert_eq!(requests(&desk), ["Enqueue 0 10"], "assigned: no update");
    // Unassigned (back in the queue), it waits again: the router learns the new time.
    desk.inputs += 1;
    let ticket_id = desk.lifecycle.current().unwrap().id.to_owned();
    desk.feed(TicketInput::Decision(RoutingDecision {
        decision_id: format!("d{}", desk.inputs),
        account: "acme".into(),
        conversation: "c1".into(),
        ticket_id,
        kind: RoutingDecisionKind::Unassigned,
        agent_id: Some("ann".into()),
        reason: "returning_customer_grace_expired".into(),
        at: desk.now,
    }));
    assert_eq!(requests(&desk), ["Enqueue 0 10", "Update 0 120"]);
}

#[test]
fn an_agent_setting_the_priority_retargets_the_clocks_and_updates_the_router() {
    let mut desk = Desk::new(by_priority());
    desk.message().at(5).set_priority(2);
    assert_eq!(
        desk.log(SlaMetric::FirstReplyTime),
        ["0 activated 60", "5 activated 15"]
    );
    assert_eq!(requests(&desk), ["Enqueue 0 60", "Update 2 15"]);
    assert_eq!(desk.lifecycle.current().unwrap().priority, 2);
    // The breach fires at the new due time.
    desk.at(20);
    assert_eq!(
        desk.log(SlaMetric::FirstReplyTime),
        ["0 activated 60", "5 activated 15", "15 breached 15"]
    );
    // The priority it already has: no request, no event.
    let events = desk.events.len();
    desk.set_priority(2);
    assert_eq!(requests(&desk).len(), 2);
    assert_eq!(desk.events.len(), events);
}

#[test]
fn an_assigned_ticket_gets_an_update_of_its_priority_too() {
    let mut desk = Desk::new(by_priority());
    desk.message().at(2).assign().at(5).set_priority(2);
    // The router keeps it for when the ticket is queued again.
    assert_eq!(requests(&desk), ["Enqueue 0 60", "Update 2 15"]);
}

#[test]
fn a_set_priority_without_a_priority_is_refused() {
    let mut desk = Desk::new(by_priority());
    desk.message();
    let fx = desk.lifecycle.step(
        TicketInput::Action(AgentAction {
            action_id: "a-none".into(),
            account: "acme".into(),
            conversation: "c1".into(),
            agent_id: "bob".into(),
            kind: AgentActionKind::SetPriority,
            status: None,
            priority: None,
            at: desk.now,
        }),
        &desk.style,
        desk.now + Millis::minutes(1),
    );
    assert_eq!(fx.rejections.len(), 1);
    assert_eq!(fx.rejections[0].kind.code(), "no_priority");
    assert!(fx.rejections[0].detail.contains("names no priority"));
}
