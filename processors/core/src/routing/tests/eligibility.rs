//! Who may take a ticket (channel, capacity, skills, group) and which agent is chosen.

use super::support::*;

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
