//! Tests of each metric's clock, driven through a real [`TicketLifecycle`](crate::TicketLifecycle)
//! the way the host drives them: every lifecycle step's SLA inputs, and breach timers fired
//! at their due time by a fake clock ([`Desk`]).

use super::calendar_tests::{at, office};
use super::desk::*;
use super::*;
use crate::lifecycle::TicketInput;
use crate::model::*;
use crate::time::Millis;

#[test]
fn first_reply_time_runs_from_creation_to_the_first_agent_reply() {
    let mut desk = Desk::new(policies(&[(SlaMetric::FirstReplyTime, 10)]));
    desk.message()
        .at(2)
        .assign()
        .at(4)
        .message()
        .at(7)
        .reply()
        .at(9)
        .reply();
    assert_eq!(
        desk.log(SlaMetric::FirstReplyTime),
        ["0 activated 10", "7 achieved 10"]
    );
    assert!(desk.timers.is_empty());
    let event = &desk.events[0];
    assert_eq!(&*event.policy_id, "standard");
    assert_eq!(event.target_ms, Millis::minutes(10));
    assert!(!event.business_hours);
    assert_eq!(event.event_id, format!("{}.l1", event.ticket_id));
}

#[test]
fn first_reply_time_breaches_at_its_due_time_once() {
    let mut desk = Desk::new(policies(&[(SlaMetric::FirstReplyTime, 10)]));
    desk.message().assign().at(25).reply();
    assert_eq!(
        desk.log(SlaMetric::FirstReplyTime),
        ["0 activated 10", "10 breached 10"]
    );
    // A late or duplicate firing of the same timer changes nothing.
    let timer = SlaTimer {
        ticket_id: desk.lifecycle.current().unwrap().id.into(),
        clock: 1,
        due: start() + Millis::minutes(10),
    };
    let fx = desk.clocks.step(
        SlaInput::Timer(&timer),
        SlaConfig {
            policies: &desk.policies,
            schedules: &desk.schedules,
        },
        desk.now,
    );
    assert!(fx.events.is_empty());
}

#[test]
fn next_reply_time_starts_at_the_oldest_unanswered_message() {
    let mut desk = Desk::new(policies(&[(SlaMetric::NextReplyTime, 30)]));
    desk.message().assign().at(1).reply();
    // Two messages: the clock starts at the first and is met by the next reply.
    desk.at(5).message().at(8).message().at(20).reply();
    // Unanswered past the target: breached at 30 + 40, the late reply emits nothing.
    desk.at(40).message().at(90).reply();
    assert_eq!(
        desk.log(SlaMetric::NextReplyTime),
        [
            "5 activated 35",
            "20 achieved 35",
            "40 activated 70",
            "70 breached 70"
        ]
    );
    assert_eq!(desk.clocks.open_clocks(), 0);
}

#[test]
fn a_reopen_starts_a_new_next_reply_clock_and_solved_meets_the_open_one() {
    let mut desk = Desk::new(policies(&[(SlaMetric::NextReplyTime, 30)]));
    desk.message().assign().at(1).reply().at(2).message();
    desk.at(3).set(Status::Solved);
    // The end user comes back: the ticket reopens and waits for a reply again.
    desk.at(50).message();
    assert_eq!(
        desk.log(SlaMetric::NextReplyTime),
        ["2 activated 32", "3 achieved 32", "50 activated 80"]
    );
    // Pending does not stop a reply clock.
    desk.at(51).set(Status::Pending).at(100);
    assert_eq!(
        desk.log(SlaMetric::NextReplyTime).last().unwrap(),
        "80 breached 80"
    );
}

#[test]
fn periodic_update_runs_between_agent_replies_until_solved() {
    let mut desk = Desk::new(policies(&[(SlaMetric::PeriodicUpdate, 60)]));
    desk.message()
        .assign()
        .at(10)
        .reply()
        .at(40)
        .reply()
        .at(130)
        .reply();
    desk.at(150).set(Status::Solved);
    assert_eq!(
        desk.log(SlaMetric::PeriodicUpdate),
        [
            "10 activated 70",
            "40 achieved 70",
            "40 activated 100",
            "100 breached 100",
            "130 activated 190",
            "150 achieved 190",
        ]
    );
    assert!(desk.timers.is_empty());
}

#[test]
fn requester_wait_time_pauses_while_pending() {
    let mut desk = Desk::new(policies(&[(SlaMetric::RequesterWaitTime, 120)]));
    desk.message().at(10).assign().at(30).set(Status::Pending);
    // 30 minutes counted; the end user answers after 60, 90 minutes are left.
    desk.at(90)
        .message()
        .at(100)
        .set(Status::OnHold)
        .at(110)
        .set(Status::Solved);
    desk.at(200).message().at(500);
    assert_eq!(
        desk.log(SlaMetric::RequesterWaitTime),
        [
            "0 activated 120",
            "30 paused -",
            "90 resumed 180",
            // On-hold counts for the requester: nothing to say at 100.
            "110 achieved 180",
            // Reopened with 120 - 50 = 70 minutes left.
            "200 resumed 270",
            "270 breached 270",
        ]
    );
}

#[test]
fn agent_work_time_counts_new_and_open_only() {
    let mut desk = Desk::new(policies(&[(SlaMetric::AgentWorkTime, 60)]));
    desk.message().at(10).assign().at(20).set(Status::OnHold);
    desk.at(40).set(Status::Open).at(50).set(Status::Pending);
    desk.at(70).message().at(80).set(Status::Solved);
    assert_eq!(
        desk.log(SlaMetric::AgentWorkTime),
        [
            "0 activated 60",
            "20 paused -",
            "40 resumed 80",
            "50 paused -",
            // 30 minutes counted before: due 30 minutes after 70.
            "70 resumed 100",
            "80 achieved 100",
        ]
    );
}

#[test]
fn total_resolution_time_counts_every_unsolved_status() {
    let mut desk = Desk::new(policies(&[(SlaMetric::TotalResolutionTime, 240)]));
    desk.message()
        .assign()
        .at(60)
        .set(Status::Pending)
        .at(120)
        .set(Status::OnHold);
    desk.at(180).set(Status::Solved).at(300).message().at(400);
    assert_eq!(
        desk.log(SlaMetric::TotalResolutionTime),
        [
            "0 activated 240",
            "180 achieved 240",
            "300 resumed 360",
            "360 breached 360",
        ]
    );
    // Closed ends everything, and a follow-up ticket gets clocks of its own.
    desk.at(400).set(Status::Solved);
    let closes = desk.lifecycle.current().unwrap().close_due.unwrap();
    let timer = crate::lifecycle::TicketTimer {
        ticket_id: desk.lifecycle.current().unwrap().id.into(),
        due: closes,
    };
    desk.now = closes;
    desk.feed(TicketInput::Timer(timer));
    assert_eq!(desk.clocks.ticket_id(), None);
    desk.message();
    let follow_up = desk.events.last().unwrap();
    assert_eq!(follow_up.kind, SlaEventKind::Activated);
    assert!(follow_up.ticket_id.ends_with("-2"));
    assert_eq!(follow_up.event_id, format!("{}.l1", follow_up.ticket_id));
}

#[test]
fn a_clock_keeps_the_policy_in_force_when_it_started() {
    let mut desk = Desk::new(policies(&[
        (SlaMetric::FirstReplyTime, 10),
        (SlaMetric::NextReplyTime, 30),
    ]));
    desk.message();
    // The policy changes while the first-reply clock runs.
    let mut stricter = policy(
        "standard",
        &[
            (SlaMetric::FirstReplyTime, 5),
            (SlaMetric::NextReplyTime, 15),
        ],
        SlaPriority::Normal,
    );
    stricter.policy_id = "stricter".into();
    stricter.position = -1;
    desk.policies.upsert(stricter).unwrap();
    desk.at(8).reply().at(9).message();
    assert_eq!(
        desk.log(SlaMetric::FirstReplyTime),
        ["0 activated 10", "8 achieved 10"]
    );
    assert_eq!(desk.log(SlaMetric::NextReplyTime), ["9 activated 24"]);
    assert_eq!(&*desk.events[0].policy_id, "standard");
    assert_eq!(&*desk.events.last().unwrap().policy_id, "stricter");
}

#[test]
fn a_priority_change_retargets_open_clocks() {
    let mut desk = Desk::new(by_priority());
    desk.message().at(5).assign().priority(2);
    desk.at(10).set(Status::Pending);
    // A paused clock takes the new target too, and says so.
    desk.at(30).priority(0).priority(2);
    desk.at(40).message().at(60);
    assert_eq!(
        desk.log(SlaMetric::FirstReplyTime),
        ["0 activated 60", "5 activated 15", "15 breached 15"]
    );
    assert_eq!(
        desk.log(SlaMetric::RequesterWaitTime),
        [
            "0 activated 600",
            "5 activated 20",
            "10 paused -",
            "30 paused -",
            "30 paused -",
            // 10 minutes counted, 10 left.
            "40 resumed 50",
            "50 breached 50",
        ]
    );
    // The replaced timers were cancelled: nothing is left to fire.
    assert!(desk.timers.is_empty());
}

#[test]
fn a_stricter_target_already_passed_is_breached_at_once() {
    let mut desk = Desk::new(by_priority());
    desk.message().at(17).priority(2);
    assert_eq!(
        desk.log(SlaMetric::FirstReplyTime),
        ["0 activated 60", "17 activated 15", "17 breached 15"]
    );
    assert_eq!(
        desk.log(SlaMetric::RequesterWaitTime),
        ["0 activated 600", "17 activated 20"]
    );
    assert_eq!(desk.timers.len(), 1, "only requester wait's timer is left");
}

#[test]
fn a_business_hours_target_runs_across_the_weekend() {
    let mut table = SlaPolicies::new();
    let mut business = policy(
        "office",
        &[(SlaMetric::FirstReplyTime, 60)],
        SlaPriority::Normal,
    );
    business.schedule_id = Some("support".into());
    business.targets[0].business_hours = true;
    table.upsert(business).unwrap();
    let mut desk = Desk::new(table);
    desk.schedules.upsert(&office(BERLIN, &[])).unwrap();
    // Friday 16:30: half an hour on Friday, half an hour on Monday morning.
    desk.now = at(BERLIN, "2026-03-27T16:30");
    desk.message();
    let event = &desk.events[0];
    assert!(event.business_hours);
    assert_eq!(event.due_at, Some(at(BERLIN, "2026-03-30T09:30")));
    assert_eq!(desk.timers[0].due, at(BERLIN, "2026-03-30T09:30"));
    // Until then the clock is open; at the due time it is breached, to the millisecond.
    desk.at((at(BERLIN, "2026-03-30T09:29") - start()).0 / 60_000);
    assert_eq!(desk.events.len(), 1);
    desk.at((at(BERLIN, "2026-03-30T09:30") - start()).0 / 60_000);
    assert_eq!(desk.events[1].kind, SlaEventKind::Breached);
    assert_eq!(desk.events[1].at, at(BERLIN, "2026-03-30T09:30"));
}

#[test]
fn a_paused_business_hours_clock_counts_only_business_time() {
    let mut table = SlaPolicies::new();
    let mut business = policy(
        "office",
        &[(SlaMetric::AgentWorkTime, 600)],
        SlaPriority::Normal,
    );
    business.schedule_id = Some("support".into());
    business.targets[0].business_hours = true;
    table.upsert(business).unwrap();
    let mut desk = Desk::new(table);
    desk.schedules.upsert(&office(BERLIN, &[])).unwrap();
    // Monday 09:00 to 13:00 counts 4 hours; 6 are left when the ticket is Open again on
    // Friday 15:00: 2 on Friday, 4 on Monday, due Monday 13:00.
    desk.message().assign().at(240).set(Status::Pending);
    desk.now = at(BERLIN, "2026-03-27T15:00");
    desk.message();
    assert_eq!(
        desk.events.last().unwrap().due_at,
        Some(at(BERLIN, "2026-03-30T13:00"))
    );
}

#[test]
fn no_matching_policy_means_no_clocks() {
    let mut table = SlaPolicies::new();
    let mut web_only = policy(
        "web",
        &[(SlaMetric::FirstReplyTime, 10)],
        SlaPriority::Normal,
    );
    web_only.conditions.channels = vec![Channel::Web];
    table.upsert(web_only).unwrap();
    let mut desk = Desk::new(table);
    desk.message().at(100).reply();
    assert!(desk.events.is_empty());
    assert!(desk.timers.is_empty());
}

#[test]
fn duplicates_and_refused_inputs_feed_nothing() {
    let mut desk = Desk::new(policies(&[(SlaMetric::NextReplyTime, 30)]));
    desk.message().assign().at(1).reply();
    desk.at(2).message().at(3).reply();
    // The message of minute 2 (input 4) delivered again: not a new unanswered message.
    desk.inputs = 3;
    desk.at(4).message();
    assert_eq!(
        desk.log(SlaMetric::NextReplyTime),
        ["2 activated 32", "3 achieved 32"]
    );
    // Solved without assignee is refused by the lifecycle: no SLA input either.
    let mut lonely = Desk::new(policies(&[(SlaMetric::RequesterWaitTime, 30)]));
    lonely.message().at(5).set(Status::Solved);
    assert_eq!(lonely.log(SlaMetric::RequesterWaitTime), ["0 activated 30"]);
}

#[test]
fn a_replay_gives_identical_events_and_timers() {
    let run = || {
        let mut desk = Desk::new(policies(&[
            (SlaMetric::FirstReplyTime, 10),
            (SlaMetric::NextReplyTime, 30),
            (SlaMetric::PeriodicUpdate, 60),
            (SlaMetric::RequesterWaitTime, 120),
            (SlaMetric::AgentWorkTime, 90),
            (SlaMetric::TotalResolutionTime, 240),
        ]));
        desk.message()
            .at(3)
            .assign()
            .at(12)
            .reply()
            .at(20)
            .message();
        desk.at(30)
            .set(Status::Pending)
            .at(90)
            .message()
            .at(400)
            .set(Status::Solved);
        (desk.events, desk.timers, desk.clocks)
    };
    let (first, second) = (run(), run());
    assert_eq!(first, second);
    assert!(first.0.len() > 15);
}

/// `(outcome, achieved, breached, elapsed minutes)` of one metric in a metrics record.
fn outcome(metrics: &TicketMetrics, metric: SlaMetric) -> Option<(SlaOutcome, u32, u32, i64)> {
    let field = match metric {
        SlaMetric::FirstReplyTime => &metrics.sla_first_reply_time,
        SlaMetric::NextReplyTime => &metrics.sla_next_reply_time,
        SlaMetric::PeriodicUpdate => &metrics.sla_periodic_update,
        SlaMetric::RequesterWaitTime => &metrics.sla_requester_wait_time,
        SlaMetric::AgentWorkTime => &metrics.sla_agent_work_time,
        SlaMetric::TotalResolutionTime => &metrics.sla_total_resolution_time,
    };
    field
        .as_ref()
        .map(|o| (o.outcome, o.achieved, o.breached, o.elapsed_ms.0 / 60_000))
}

#[test]
fn ticket_metrics_carry_each_metrics_outcome_and_the_time_it_counted() {
    use SlaOutcome::{Achieved, Breached};
    let mut desk = Desk::new(policies(&[
        (SlaMetric::FirstReplyTime, 10),
        (SlaMetric::NextReplyTime, 30),
        (SlaMetric::PeriodicUpdate, 60),
        (SlaMetric::RequesterWaitTime, 120),
        (SlaMetric::AgentWorkTime, 90),
    ]));
    // First reply breached at 10 and met at 12: 12 minutes counted. Next reply from 20,
    // breached at 50, met at 100; periodic update from 12, breached at 72, met at 100,
    // then from 100 met by Solved at 110. Requester wait and agent work pause in Pending
    // from 30 to 90: 50 minutes each by 110.
    desk.message()
        .at(3)
        .assign()
        .at(12)
        .reply()
        .at(20)
        .message();
    desk.at(30)
        .set(Status::Pending)
        .at(90)
        .message()
        .at(100)
        .reply();
    desk.at(110).set(Status::Solved);
    let solved = desk.metrics.last().unwrap();
    assert_eq!(solved.status, Status::Solved);
    let first = solved.sla_first_reply_time.as_ref().unwrap();
    assert_eq!(
        (
            first.policy_id.as_str(),
            first.target_ms,
            first.business_hours
        ),
        ("standard", Millis::minutes(10), false)
    );
    let of = |metric| outcome(desk.metrics.last().unwrap(), metric);
    assert_eq!(of(SlaMetric::FirstReplyTime), Some((Breached, 0, 1, 12)));
    assert_eq!(of(SlaMetric::NextReplyTime), Some((Breached, 0, 1, 80)));
    assert_eq!(
        of(SlaMetric::PeriodicUpdate),
        Some((Breached, 1, 1, 88 + 10))
    );
    assert_eq!(of(SlaMetric::RequesterWaitTime), Some((Achieved, 1, 0, 50)));
    assert_eq!(of(SlaMetric::AgentWorkTime), Some((Achieved, 1, 0, 50)));
    assert_eq!(
        of(SlaMetric::TotalResolutionTime),
        None,
        "no target, no clock"
    );

    // A reopen at 200: a new next-reply clock (breached at 230, met at 235); agent work
    // resumes with 40 minutes left, breached at 240 and counts on until Solved at 250.
    // The resolution clocks are one clock each: their latest outcome is the ticket's.
    desk.at(200)
        .message()
        .at(235)
        .reply()
        .at(250)
        .set(Status::Solved);
    let of = |metric| outcome(desk.metrics.last().unwrap(), metric);
    assert_eq!(of(SlaMetric::FirstReplyTime), Some((Breached, 0, 1, 12)));
    assert_eq!(
        of(SlaMetric::NextReplyTime),
        Some((Breached, 0, 2, 80 + 35))
    );
    assert_eq!(
        of(SlaMetric::PeriodicUpdate),
        Some((Breached, 2, 1, 98 + 15))
    );
    assert_eq!(
        of(SlaMetric::RequesterWaitTime),
        Some((Achieved, 1, 0, 100))
    );
    assert_eq!(of(SlaMetric::AgentWorkTime), Some((Breached, 0, 1, 100)));

    // Closed: the clocks are gone, their outcomes are the Closed emission's too.
    let solved = desk.metrics.last().unwrap().clone();
    let closes = desk.lifecycle.current().unwrap().close_due.unwrap();
    let timer = crate::lifecycle::TicketTimer {
        ticket_id: String::from(&*solved.ticket_id),
        due: closes,
    };
    desk.now = closes;
    desk.feed(TicketInput::Timer(timer));
    let closed = desk.metrics.last().unwrap();
    assert_eq!(closed.status, Status::Closed);
    assert_eq!(desk.clocks.ticket_id(), None);
    assert_eq!(desk.clocks.open_clocks(), 0);
    for metric in SlaMetric::ALL {
        assert_eq!(
            outcome(closed, metric),
            outcome(&solved, metric),
            "{metric}"
        );
    }
    // The follow-up ticket starts with no outcomes.
    desk.message();
    let follow_up = desk.lifecycle.current().unwrap().id.to_owned();
    assert!(desk.clocks.outcomes(&follow_up).unwrap().is_empty());
    assert_eq!(desk.clocks.outcomes(&solved.ticket_id), None);
}

#[test]
fn a_business_hours_outcome_counts_business_time() {
    let mut table = SlaPolicies::new();
    let mut business = policy(
        "office",
        &[(SlaMetric::FirstReplyTime, 60)],
        SlaPriority::Normal,
    );
    business.schedule_id = Some("support".into());
    business.targets[0].business_hours = true;
    table.upsert(business).unwrap();
    let mut desk = Desk::new(table);
    desk.schedules.upsert(&office(BERLIN, &[])).unwrap();
    // Friday 16:30, breached Monday 09:30, answered Monday 10:00: 90 business minutes.
    desk.now = at(BERLIN, "2026-03-27T16:30");
    desk.message().assign();
    desk.at((at(BERLIN, "2026-03-30T10:00") - start()).0 / 60_000);
    desk.reply().set(Status::Solved);
    let first = desk.metrics[0].sla_first_reply_time.as_ref().unwrap();
    assert!(first.business_hours);
    assert_eq!(first.target_ms, Millis::minutes(60));
    assert_eq!(first.elapsed_ms, Millis::minutes(90));
    assert_eq!(
        (first.outcome, first.achieved, first.breached),
        (SlaOutcome::Breached, 0, 1)
    );
}
