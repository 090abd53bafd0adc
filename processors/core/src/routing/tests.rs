//! Named tests, one or more per routing rule, and the persistence round trip.

use super::scenarios::{parse_config, ScenarioHost};
use super::*;
use crate::model::*;
use crate::time::{Millis, Timestamp};
use std::collections::BTreeMap;

/// A host with the given `config ...` line (may be empty for the defaults).
fn host(config: &str) -> ScenarioHost {
    ScenarioHost::new(parse_config(&format!("config {config}")), false)
}

/// Runs each line and returns the output of the last.
fn run(host: &mut ScenarioHost, lines: &[&str]) -> String {
    let mut last = String::new();
    for line in lines {
        last = host.run(line);
    }
    last.trim_end().to_owned()
}

// ---- agents and presence ----

#[test]
fn an_unknown_agent_is_created_by_its_first_presence() {
    let mut h = host("");
    assert_eq!(run(&mut h, &["agent a1 web"]), "unknown");
    assert_eq!(
        run(&mut h, &["presence a1 web=online:2", "agent a1 web"]),
        "status=Online capacity=2 load=0 offered=0 offers=0 accepted=0 declined=0 timed_out=0 assignments=0"
    );
}

#[test]
fn a_presence_without_an_agent_or_with_a_channel_twice_is_refused() {
    let mut engine = RoutingEngine::new("acme", RoutingConfig::default());
    let nameless = presence("p-1", "", &[(Channel::Whatsapp, AgentStatus::Online, 2)]);
    let fx = engine.handle_presence(&nameless, Timestamp(0));
    assert_eq!(fx.rejections.len(), 1, "{fx:?}");
    assert!(fx.rejections[0].reason.contains("agent_id \"\" is empty"));
    let twice = presence(
        "p-2",
        "ana",
        &[
            (Channel::Whatsapp, AgentStatus::Online, 2),
            (Channel::Whatsapp, AgentStatus::Away, 1),
        ],
    );
    let fx = engine.handle_presence(&twice, Timestamp(0));
    assert_eq!(fx.rejections.len(), 1, "{fx:?}");
    assert!(fx.rejections[0]
        .reason
        .contains("channels lists whatsapp twice"));
    assert!(fx.agent_metrics.is_empty() && fx.decisions.is_empty());
    assert_eq!(engine.agent_count(), 0, "nothing was applied");
}

#[test]
fn a_presence_replaces_the_whole_record() {
    let mut h = host("");
    run(
        &mut h,
        &["presence a1 web=online:2 whatsapp=online:1 skills=billing groups=g1"],
    );
    // The next record lists neither whatsapp nor the skill nor the group.
    run(&mut h, &["presence a1 web=online:2"]);
    assert!(run(&mut h, &["agent a1 whatsapp"]).starts_with("status=Offline capacity=0"));
    assert_eq!(run(&mut h, &["enqueue t1 skills=billing"]), "ok");
    assert_eq!(run(&mut h, &["enqueue t2 group=g1"]), "ok");
    assert_eq!(run(&mut h, &["enqueue t3 channel=whatsapp"]), "ok");
    assert_eq!(run(&mut h, &["enqueue t4"]), "offered t4 a1 best_match");
}

// ---- queue ----

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

// ---- eligibility ----

#[test]
fn only_agents_online_for_the_channel_are_offered() {
    for status in ["away", "transfers_only", "offline"] {
        let mut h = host("");
        run(
            &mut h,
            &[&format!("presence a1 web={status}:5 whatsapp=online:5")],
        );
        assert_eq!(run(&mut h, &["enqueue t1 channel=web"]), "ok", "{status}");
    }
}

#[test]
fn an_agent_without_free_capacity_is_not_offered() {
    let mut h = host("");
    run(&mut h, &["presence a1 web=online:1", "enqueue t1"]);
    assert_eq!(
        run(&mut h, &["enqueue t2"]),
        "ok",
        "the pending offer reserves the only unit"
    );
    assert_eq!(
        run(&mut h, &["presence a2 web=online:0", "enqueue t3"]),
        "ok"
    );
}

#[test]
fn an_agent_needs_every_required_skill() {
    let mut h = host("");
    run(&mut h, &["presence a1 web=online:5 skills=billing"]);
    assert_eq!(run(&mut h, &["enqueue t1 skills=billing,german"]), "ok");
    assert_eq!(
        run(
            &mut h,
            &["presence a2 web=online:5 skills=german,billing,french"]
        ),
        "offered t1 a2 best_match"
    );
}

#[test]
fn an_agent_must_be_in_the_tickets_group() {
    let mut h = host("");
    run(&mut h, &["presence a1 web=online:5 groups=g2"]);
    assert_eq!(run(&mut h, &["enqueue t1 group=g1"]), "ok");
    assert_eq!(
        run(&mut h, &["presence a2 web=online:5 groups=g1,g2"]),
        "offered t1 a2 best_match"
    );
}

#[test]
fn the_skills_timeout_relaxes_required_skills() {
    let mut h = host("skills_timeout=90s");
    run(
        &mut h,
        &["presence a1 web=online:1", "enqueue t1 skills=german"],
    );
    assert_eq!(run(&mut h, &["advance 89s"]), "ok");
    assert_eq!(run(&mut h, &["advance 1s"]), "offered t1 a1 skills_relaxed");
}

#[test]
fn without_a_skills_timeout_skills_are_never_relaxed() {
    let mut h = host("");
    run(
        &mut h,
        &["presence a1 web=online:1", "enqueue t1 skills=german"],
    );
    assert_eq!(run(&mut h, &["advance 30d", "ticket t1"]), "queued");
}

#[test]
fn the_skills_timeout_keeps_the_group() {
    let mut h = host("skills_timeout=1m");
    run(
        &mut h,
        &[
            "presence outsider web=online:1",
            "enqueue t1 skills=german group=g1",
        ],
    );
    assert_eq!(
        run(&mut h, &["advance 1m", "ticket t1"]),
        "queued skills_relaxed"
    );
    assert_eq!(
        run(&mut h, &["presence member web=online:1 groups=g1"]),
        "offered t1 member skills_relaxed"
    );
}

// ---- choice ----

#[test]
fn the_agent_with_the_most_free_capacity_is_chosen() {
    let mut h = host("");
    run(
        &mut h,
        &[
            "presence a1 web=online:2",
            "presence a2 web=online:4",
            "presence a3 web=online:3",
        ],
    );
    assert_eq!(run(&mut h, &["enqueue t1"]), "offered t1 a2 best_match");
}

#[test]
fn a_tie_goes_to_the_agent_waiting_longest_since_an_assignment() {
    let mut h = host("auto_accept=web");
    run(
        &mut h,
        &["presence b web=online:3", "presence a web=online:3"],
    );
    assert_eq!(run(&mut h, &["enqueue t1"]), "assigned t1 a auto_accept");
    assert_eq!(run(&mut h, &["enqueue t2"]), "assigned t2 b auto_accept");
    // Both at 2 free: a was assigned first, so a has waited longer.
    assert_eq!(run(&mut h, &["enqueue t3"]), "assigned t3 a auto_accept");
}

#[test]
fn round_robin_ignores_free_capacity() {
    let mut h = host("mode=round_robin auto_accept=web");
    run(
        &mut h,
        &["presence a web=online:9", "presence b web=online:1"],
    );
    assert_eq!(run(&mut h, &["enqueue t1"]), "assigned t1 a auto_accept");
    assert_eq!(run(&mut h, &["enqueue t2"]), "assigned t2 b auto_accept");
    assert_eq!(run(&mut h, &["enqueue t3"]), "assigned t3 a auto_accept");
    // b is full, so a again even though b has waited longer.
    assert_eq!(run(&mut h, &["enqueue t4"]), "assigned t4 a auto_accept");
}

// ---- offers ----

#[test]
fn auto_accept_assigns_at_once_on_its_channels_only() {
    let mut h = host("auto_accept=whatsapp");
    run(&mut h, &["presence a1 web=online:1 whatsapp=online:1"]);
    assert_eq!(
        run(&mut h, &["enqueue t1 channel=whatsapp"]),
        "assigned t1 a1 auto_accept"
    );
    assert_eq!(
        run(&mut h, &["enqueue t2 channel=web"]),
        "offered t2 a1 best_match"
    );
}

#[test]
fn accept_assigns_the_ticket() {
    let mut h = host("");
    run(&mut h, &["presence a1 web=online:1", "enqueue t1"]);
    assert_eq!(run(&mut h, &["accept t1 a1"]), "assigned t1 a1 accepted");
    assert_eq!(run(&mut h, &["ticket t1"]), "assigned a1 consuming");
    assert_eq!(
        run(&mut h, &["advance 1h", "ticket t1"]),
        "assigned a1 consuming",
        "the offer timer was cancelled"
    );
}

#[test]
fn one_offer_at_a_time() {
    let mut h = host("");
    run(
        &mut h,
        &[
            "presence a1 web=online:5",
            "presence a2 web=online:5",
            "enqueue t1",
        ],
    );
    assert_eq!(run(&mut h, &["ticket t1"]), "offered a1");
    assert!(run(&mut h, &["agent a2 web"]).contains("offered=0 offers=0"));
}

#[test]
fn decline_goes_to_the_next_eligible_agent() {
    let mut h = host("");
    run(
        &mut h,
        &[
            "presence a1 web=online:2",
            "presence a2 web=online:1",
            "enqueue t1",
        ],
    );
    assert_eq!(
        run(&mut h, &["decline t1 a1"]),
        "offer_withdrawn t1 a1 declined\noffered t1 a2 best_match"
    );
}

#[test]
fn an_offer_timeout_goes_to_the_next_eligible_agent() {
    let mut h = host("offer_timeout=20s");
    run(
        &mut h,
        &[
            "presence a1 web=online:2",
            "presence a2 web=online:1",
            "enqueue t1",
        ],
    );
    assert_eq!(run(&mut h, &["advance 19s"]), "ok");
    assert_eq!(
        run(&mut h, &["advance 1s"]),
        "offer_withdrawn t1 a1 offer_timeout\noffered t1 a2 best_match"
    );
    assert!(run(&mut h, &["agent a1 web"]).contains("timed_out=1"));
}

// ---- agents who ignore offers ----

#[test]
fn offer_timeouts_in_a_row_set_the_agent_away_on_that_channel() {
    let mut h = host("offer_timeout=10s away_after_offer_timeouts=2");
    run(
        &mut h,
        &[
            "presence a1 web=online:2 whatsapp=online:1",
            "enqueue t1",
            "enqueue t2",
        ],
    );
    // Both offers run out together: the first timeout counts one, the second sets a1 away
    // (t2 is only requeued once the first has gone back to a1).
    assert_eq!(
        run(&mut h, &["advance 10s"]),
        "offer_withdrawn t1 a1 offer_timeout\noffered t1 a1 best_match\n\
         offer_withdrawn t2 a1 offer_timeout\noffer_withdrawn t1 a1 missed_offers"
    );
    assert!(run(&mut h, &["agent a1 web"]).starts_with("status=Away capacity=2 load=0 offered=0"));
    assert!(run(&mut h, &["agent a1 web"]).ends_with("status_reason=missed_offers"));
    assert!(run(&mut h, &["agent a1 whatsapp"]).starts_with("status=Online"));
    assert_eq!(run(&mut h, &["ticket t1"]), "queued");
    assert_eq!(run(&mut h, &["ticket t2"]), "queued");
    // Their own presence brings them back and clears the reason.
    let back = run(&mut h, &["presence a1 web=online:2 whatsapp=online:1"]);
    assert_eq!(back, "offered t1 a1 best_match\noffered t2 a1 best_match");
    assert!(!run(&mut h, &["agent a1 web"]).contains("status_reason"));
}

#[test]
fn an_answer_ends_the_run_of_offer_timeouts() {
    let mut h = host("offer_timeout=10s away_after_offer_timeouts=2");
    run(&mut h, &["presence a1 web=online:1", "enqueue t1"]);
    run(&mut h, &["advance 10s"]); // one timeout; offered again
    run(&mut h, &["decline t1 a1"]); // an answer: the run is over
    assert_eq!(
        run(&mut h, &["advance 10s"]),
        "offer_withdrawn t1 a1 offer_timeout\noffered t1 a1 best_match"
    );
    assert!(run(&mut h, &["agent a1 web"]).starts_with("status=Online"));
}

#[test]
fn without_the_setting_offer_timeouts_never_set_an_agent_away() {
    let mut h = host("offer_timeout=10s");
    run(&mut h, &["presence a1 web=online:1", "enqueue t1"]);
    for _ in 0..5 {
        run(&mut h, &["advance 10s"]);
    }
    let agent = run(&mut h, &["agent a1 web"]);
    assert!(
        agent.starts_with("status=Online") && agent.contains("timed_out=5"),
        "{agent}"
    );
}

#[test]
fn agent_metrics_say_why_the_router_set_an_agent_away() {
    let config = RoutingConfig {
        away_after_offer_timeouts: std::num::NonZeroU32::new(1),
        ..RoutingConfig::default()
    };
    let mut engine = RoutingEngine::new("acme", config);
    let _ = engine.handle_presence(
        &presence("p1", "a1", &[(Channel::Web, AgentStatus::Online, 1)]),
        Timestamp(0),
    );
    let offered = engine.handle_request(
        &request("t1.r1", "t1", RoutingRequestKind::Enqueue, None),
        Timestamp(1_000),
    );
    assert_eq!(offered.agent_metrics[0].status_reason, None);
    let RoutingTimerCommand::Set(timer) = offered.timers[0].clone() else {
        panic!("an offer timer: {offered:?}");
    };
    let fired = engine.handle_timer(&timer, timer.due());
    let m = &fired.agent_metrics[0];
    assert_eq!(m.status, AgentStatus::Away);
    assert_eq!(m.status_reason.as_deref(), Some(MISSED_OFFERS));
    assert_eq!(m.offers_timed_out, 1);
    assert_eq!(m.online_ms, Millis(31_000));
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

#[test]
fn a_decliner_is_not_offered_the_ticket_again_while_others_are_eligible() {
    let mut h = host("");
    run(
        &mut h,
        &[
            "presence a1 web=online:9",
            "presence a2 web=online:1",
            "enqueue t1",
            "decline t1 a1",
        ],
    );
    // a2 declines too: a1 has far more room, but a3 has not declined.
    run(&mut h, &["presence a3 web=online:1"]);
    assert_eq!(
        run(&mut h, &["decline t1 a2"]),
        "offer_withdrawn t1 a2 declined\noffered t1 a3 best_match"
    );
    // Everyone has declined: the oldest refusal gets it back.
    assert_eq!(
        run(&mut h, &["decline t1 a3"]),
        "offer_withdrawn t1 a3 declined\noffered t1 a1 best_match"
    );
}

#[test]
fn a_stale_answer_is_rejected_with_a_reason() {
    let mut h = host("");
    run(&mut h, &["presence a1 web=online:1", "enqueue t1"]);
    let out = run(&mut h, &["decline t1 a2"]);
    assert!(
        out.starts_with("rejected:") && out.contains("\"a2\"") && out.contains("offered to \"a1\""),
        "{out}"
    );
    let out = run(&mut h, &["accept t1 a1", "accept t1 a1"]);
    assert!(out.contains("already assigned"), "{out}");
}

// ---- capacity ledger (Zendesk) ----

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

// ---- agent offline ----

#[test]
fn an_agent_going_offline_loses_offers_at_once_and_keeps_assigned_tickets() {
    let mut h = host("");
    run(
        &mut h,
        &[
            "presence a1 web=online:2",
            "enqueue t1",
            "accept t1 a1",
            "enqueue t2",
        ],
    );
    run(&mut h, &["presence a2 web=online:1"]);
    assert_eq!(run(&mut h, &["ticket t2"]), "offered a1");
    assert_eq!(
        run(&mut h, &["presence a1 web=offline:2"]),
        "offer_withdrawn t2 a1 agent_offline\noffered t2 a2 best_match"
    );
    assert_eq!(run(&mut h, &["ticket t1"]), "assigned a1 consuming");
}

// ---- decisions, metrics, ids ----

fn presence(id: &str, agent: &str, channels: &[(Channel, AgentStatus, u32)]) -> AgentPresence {
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

fn request(
    id: &str,
    ticket: &str,
    kind: RoutingRequestKind,
    agent: Option<&str>,
) -> RoutingRequest {
    RoutingRequest {
        request_id: id.into(),
        account: "acme".into(),
        conversation: format!("conv-{ticket}"),
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

// ---- determinism and persistence ----

/// A fixed workload touching every request kind, presence changes and timers.
fn workload() -> Vec<(RoutingInput, Timestamp)> {
    use RoutingRequestKind::*;
    let mut inputs = Vec::new();
    let mut t = 0;
    let mut at = |input: RoutingInput| {
        t += 7_000;
        inputs.push((input, Timestamp(t)));
    };
    for a in 0..6 {
        let cap = 1 + a % 3;
        at(RoutingInput::Presence(presence(
            &format!("p{a}"),
            &format!("a{a}"),
            &[(Channel::Web, AgentStatus::Online, cap)],
        )));
    }
    for n in 0..40 {
        let ticket = format!("t{n}");
        let mut enqueue = request(&format!("{ticket}.r1"), &ticket, Enqueue, None);
        enqueue.priority = (n % 3) as i32;
        at(RoutingInput::Request(enqueue));
        let agent = format!("a{}", n % 6);
        let kind = [Accept, Decline, Release, Consume, Close, Assign][n % 6];
        at(RoutingInput::Request(request(
            &format!("{ticket}.r2"),
            &ticket,
            kind,
            Some(&agent),
        )));
        if n % 7 == 0 {
            at(RoutingInput::Presence(presence(
                &format!("q{n}"),
                &agent,
                &[(Channel::Web, AgentStatus::Offline, 2)],
            )));
        }
        if n % 7 == 3 {
            at(RoutingInput::Presence(presence(
                &format!("q{n}"),
                &agent,
                &[(Channel::Web, AgentStatus::Online, 2)],
            )));
        }
    }
    inputs
}

/// Runs inputs, firing due timers before each, and returns everything emitted.
fn drive(
    engine: &mut RoutingEngine,
    timers: &mut BTreeMap<(Timestamp, String), RoutingTimer>,
    inputs: &[(RoutingInput, Timestamp)],
) -> Vec<RoutingEffects> {
    let mut out = Vec::new();
    for (input, now) in inputs {
        while let Some(entry) = timers.first_entry() {
            if entry.key().0 > *now {
                break;
            }
            let timer = entry.remove();
            let effects = engine.handle_timer(&timer, timer.due());
            apply_timers(timers, &effects);
            out.push(effects);
        }
        let effects = engine.step(input, *now);
        apply_timers(timers, &effects);
        out.push(effects);
    }
    out
}

fn apply_timers(
    timers: &mut BTreeMap<(Timestamp, String), RoutingTimer>,
    effects: &RoutingEffects,
) {
    for command in &effects.timers {
        match command {
            RoutingTimerCommand::Set(t) => {
                timers.insert((t.due(), t.firing_id()), t.clone());
            }
            RoutingTimerCommand::Cancel(t) => {
                timers.remove(&(t.due(), t.firing_id()));
            }
        }
    }
}

#[test]
fn the_same_inputs_give_byte_identical_outputs() {
    let inputs = workload();
    let run = || {
        let mut engine = RoutingEngine::new("acme", RoutingConfig::default());
        serde_json::to_string(&drive(&mut engine, &mut BTreeMap::new(), &inputs)).unwrap()
    };
    let first = run();
    assert!(first.contains("offered") && first.contains("offer_withdrawn"));
    assert_eq!(first, run());
}

#[test]
fn a_restored_engine_behaves_like_the_original() {
    let inputs = workload();
    let config = RoutingConfig {
        skills_timeout_ms: Some(Millis::seconds(20)),
        ..RoutingConfig::default()
    };
    let mut original = RoutingEngine::new("acme", config.clone());
    let mut timers = BTreeMap::new();
    let mut agents: BTreeMap<String, AgentRecord> = BTreeMap::new();
    let mut tickets: BTreeMap<String, TicketRecord> = BTreeMap::new();
    let half = inputs.len() / 2;
    for step in inputs[..half].chunks(1) {
        let _ = drive(&mut original, &mut timers, step);
        let dirty = original.take_dirty();
        for id in dirty.agents {
            match original.agent_record(&id) {
                Some(r) => agents.insert(id, r),
                None => agents.remove(&id),
            };
        }
        for id in dirty.tickets {
            match original.ticket_record(&id) {
                Some(r) => tickets.insert(id, r),
                None => tickets.remove(&id),
            };
        }
    }
    // The records survive a trip through JSON, as they would through a changelog.
    let agents: Vec<AgentRecord> = agents
        .values()
        .map(|r| serde_json::from_str(&serde_json::to_string(r).unwrap()).unwrap())
        .collect();
    let tickets: Vec<TicketRecord> = tickets
        .values()
        .map(|r| serde_json::from_str(&serde_json::to_string(r).unwrap()).unwrap())
        .collect();
    assert!(!tickets.is_empty());
    let mut restored = RoutingEngine::restore("acme", config, agents, tickets);
    restored.audit().unwrap();
    let mut restored_timers = timers.clone();
    let from_original = drive(&mut original, &mut timers, &inputs[half..]);
    let from_restored = drive(&mut restored, &mut restored_timers, &inputs[half..]);
    assert_eq!(from_original, from_restored);
    assert!(from_original.iter().any(|e| !e.decisions.is_empty()));
}
