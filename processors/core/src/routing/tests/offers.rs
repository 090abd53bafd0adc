//! Offers: accept, decline, auto-accept, timeouts, and agents set away for missed offers.

use super::support::*;
use crate::model::*;
use crate::routing::*;
use crate::time::{Millis, Timestamp};

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
