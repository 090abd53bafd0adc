//! The lifecycle bench's workload, shared by the criterion bench (`benches/lifecycle.rs`)
//! and the instruction-count harness (`examples/lifecycle_instructions.rs`).
//!
//! The input stream is recorded once from scripted conversations (routing, replies,
//! Pending, reopens, Solved, the solve-to-close timer, a duplicate delivery), interleaved
//! across conversations as a partition would see them; [`replay`] and
//! [`replay_with_sla`] feed it into fresh conversations, the second with each
//! conversation's SLA clocks fed after every step, as the tickets processor does, under
//! [`sla_config`]: a target for every metric, the reply and update targets in business
//! hours (a Berlin office week), the resolution targets in calendar hours.

use parley_core::sla::*;
use parley_core::*;

/// Conversations in the recorded stream.
pub const CONVERSATIONS: usize = 3_000;

/// The recorded stream and the style settings of its conversations.
#[derive(Debug)]
pub struct Recorded {
    /// The settings of the three styles, indexed by [`style_of`].
    pub styles: [StyleSettings; 3],
    /// Per input: its conversation, the input, and the time it is fed at.
    pub inputs: Vec<(usize, TicketInput, Timestamp)>,
}

/// The style of a conversation: an index into [`Recorded::styles`].
pub fn style_of(conversation: usize) -> usize {
    conversation % 3
}

/// Plays a scripted story per conversation through recording lifecycles (so decisions and
/// timers carry real ticket ids), interleaving the conversations one event at a time.
pub fn record() -> Recorded {
    let styles = [
        StyleSettings::of(Style::LiveChat),
        StyleSettings::of(Style::LiveChatReturning),
        StyleSettings::of(Style::SocialMessaging),
    ];
    let mut lifecycles: Vec<TicketLifecycle> = (0..CONVERSATIONS)
        .map(|c| TicketLifecycle::new("acme", format!("conv-{c}")))
        .collect();
    let mut pending_timer: Vec<Option<TicketTimer>> = vec![None; CONVERSATIONS];
    let mut inputs = Vec::new();
    let mut now = Timestamp(1_700_000_000_000);
    for step in 0..16 {
        for c in 0..CONVERSATIONS {
            now = now + Millis(50);
            let lifecycle = &mut lifecycles[c];
            let style = &styles[style_of(c)];
            let Some(input) = script(step, c, lifecycle, &mut pending_timer[c], now) else {
                continue;
            };
            let effects = lifecycle.step(input.clone(), style, now);
            for timer in effects.timers {
                if let TicketTimerCommand::Set(t) = timer {
                    pending_timer[c] = Some(t);
                }
            }
            inputs.push((c, input, now));
        }
    }
    Recorded { styles, inputs }
}

fn script(
    step: usize,
    c: usize,
    lifecycle: &TicketLifecycle,
    timer: &mut Option<TicketTimer>,
    now: Timestamp,
) -> Option<TicketInput> {
    let account = "acme".to_owned();
    let conversation = format!("conv-{c}");
    let agent = format!("agent-{}", c % 97);
    let ticket = lifecycle
        .current()
        .map(|t| t.id.to_owned())
        .unwrap_or_default();
    let message = |id: String| {
        TicketInput::Message(ConversationEvent {
            event_id: id,
            account: account.clone(),
            brand: None,
            conversation: conversation.clone(),
            channel: Channel::ALL[c % Channel::ALL.len()],
            sent_at: now,
            received_at: now,
            text: Some("Where is my order?".into()),
            attachments: vec![],
            author_name: None,
            reply_handles: vec![],
        })
    };
    let decision = |kind, reason: &str| {
        TicketInput::Decision(RoutingDecision {
            decision_id: format!("d-{c}-{step}"),
            account: account.clone(),
            conversation: conversation.clone(),
            ticket_id: ticket.clone(),
            kind,
            agent_id: Some(agent.clone()),
            reason: reason.into(),
            at: now,
        })
    };
    let action = |kind, status| {
        TicketInput::Action(AgentAction {
            action_id: format!("a-{c}-{step}"),
            account: account.clone(),
            conversation: conversation.clone(),
            agent_id: agent.clone(),
            kind,
            status,
            priority: None,
            at: now,
        })
    };
    let parked = if style_of(c) == 2 {
        Status::Pending
    } else {
        Status::Solved
    };
    Some(match step {
        0 => message(format!("m-{c}-0")),
        1 => decision(RoutingDecisionKind::Offered, "best_match"),
        2 => action(AgentActionKind::Accept, None),
        3 => decision(RoutingDecisionKind::Assigned, "accepted"),
        4 | 7 | 11 => action(AgentActionKind::Reply, None),
        5 => message(format!("m-{c}-1")),
        6 => message(format!("m-{c}-1")), // a duplicate delivery
        8 => action(AgentActionKind::SetStatus, Some(parked)),
        9 => message(format!("m-{c}-2")), // reopens, or a new ticket after live chat closed
        10 => message(format!("m-{c}-3")),
        12 if lifecycle.current().is_some_and(|t| t.assignee.is_some()) => {
            action(AgentActionKind::SetStatus, Some(Status::Solved))
        }
        12 => decision(RoutingDecisionKind::Assigned, "best_match"),
        13 => action(AgentActionKind::SetStatus, Some(Status::Solved)),
        14 => TicketInput::Timer(timer.take()?),
        _ => message(format!("m-{c}-{step}")),
    })
}

/// An office schedule (Monday to Friday 09:00-17:00, Europe/Berlin) and one policy with a
/// target for every metric at normal priority.
pub fn sla_config() -> (SlaPolicies, Schedules) {
    let mut schedules = Schedules::new();
    let intervals = Weekday::ALL[..5]
        .iter()
        .map(|&day| BusinessInterval {
            day,
            start_minute: 540,
            end_minute: 1_020,
        })
        .collect();
    schedules
        .upsert(&Schedule {
            account: "acme".into(),
            schedule_id: "office".into(),
            time_zone: "Europe/Berlin".into(),
            intervals,
            holidays: vec!["2023-12-25".into()],
            updated_at: Timestamp(0),
        })
        .expect("a valid schedule");
    let target = |metric, minutes, business_hours| SlaTarget {
        metric,
        priority: SlaPriority::Normal,
        target_ms: Millis::minutes(minutes),
        business_hours,
    };
    let mut policies = SlaPolicies::new();
    policies
        .upsert(SlaPolicy {
            account: "acme".into(),
            policy_id: "standard".into(),
            position: 0,
            conditions: SlaConditions::default(),
            schedule_id: Some("office".into()),
            targets: vec![
                target(SlaMetric::FirstReplyTime, 60, true),
                target(SlaMetric::NextReplyTime, 120, true),
                target(SlaMetric::PeriodicUpdate, 240, true),
                target(SlaMetric::RequesterWaitTime, 480, false),
                target(SlaMetric::AgentWorkTime, 240, false),
                target(SlaMetric::TotalResolutionTime, 1_440, false),
            ],
            updated_at: Timestamp(0),
        })
        .expect("a valid policy");
    (policies, schedules)
}

/// Fresh conversations for [`replay`], one a conversation of the recorded stream.
pub fn lifecycles() -> Vec<TicketLifecycle> {
    (0..CONVERSATIONS)
        .map(|c| TicketLifecycle::new("acme", format!("conv-{c}")))
        .collect()
}

/// Fresh conversations with SLA clocks for [`replay_with_sla`].
pub fn conversations() -> Vec<(TicketLifecycle, SlaClocks)> {
    (0..CONVERSATIONS)
        .map(|c| {
            let name = format!("conv-{c}");
            (
                TicketLifecycle::new("acme", name.clone()),
                SlaClocks::new("acme", name),
            )
        })
        .collect()
}

/// Feeds `inputs` into `lifecycles`; returns the status changes, so that nothing is
/// optimised away. Dropping the conversations is part of the work, as in the bench.
#[inline(never)]
pub fn replay(
    styles: &[StyleSettings; 3],
    mut lifecycles: Vec<TicketLifecycle>,
    inputs: Vec<(usize, TicketInput, Timestamp)>,
) -> usize {
    let mut changes = 0usize;
    for (c, input, now) in inputs {
        let effects = lifecycles[c].step(input, &styles[style_of(c)], now);
        changes += effects.status_changes.len();
    }
    changes
}

/// Feeds `inputs` into `conversations`, each lifecycle step's SLA inputs into the
/// conversation's clocks right after it, as the tickets processor does; returns the SLA
/// events.
#[inline(never)]
pub fn replay_with_sla(
    styles: &[StyleSettings; 3],
    config: SlaConfig<'_>,
    mut conversations: Vec<(TicketLifecycle, SlaClocks)>,
    inputs: Vec<(usize, TicketInput, Timestamp)>,
) -> usize {
    let mut events = 0usize;
    // One batch, cleared after each lifecycle step, as the tickets processor keeps it.
    let mut sla_effects = SlaEffects::default();
    for (c, input, now) in inputs {
        let (lifecycle, clocks) = &mut conversations[c];
        let applied = SlaInput::of_input(&input);
        let effects = lifecycle.step(input, &styles[style_of(c)], now);
        let priority = lifecycle.current().map_or(0, |t| t.priority);
        for sla in SlaInput::from_step(applied, &effects, priority) {
            clocks.step_into(sla, config, now, &mut sla_effects);
        }
        events += sla_effects.events.len();
        sla_effects.clear();
    }
    events
}
