//! Determinism and persistence: same inputs, same bytes; a restored engine acts the same.

use super::support::*;
use crate::model::*;
use crate::routing::*;
use crate::time::{Millis, Timestamp};
use std::collections::BTreeMap;

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
