//! Agents and presence: created, replaced, refused, and an agent going offline.

use super::support::*;
use crate::model::*;
use crate::routing::*;
use crate::time::Timestamp;

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
