//! Events per second through `TicketLifecycle` on one core, over a realistic mix of the
//! three conversational styles.
//!
//! The input stream is recorded once from scripted conversations (routing, replies,
//! Pending, reopens, Solved, the solve-to-close timer, a duplicate delivery), interleaved
//! across conversations as a partition would see them, then replayed into fresh
//! lifecycles for each measurement.

#![allow(missing_docs)] // criterion_group! generates an undocumented pub fn.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use parley_core::*;

/// The allocator the `parley` binary ships with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CONVERSATIONS: usize = 3_000;

struct Recorded {
    styles: [StyleSettings; 3],
    inputs: Vec<(usize, TicketInput, Timestamp)>,
}

fn style_of(conversation: usize) -> usize {
    conversation % 3
}

/// Plays a scripted story per conversation through recording lifecycles (so decisions and
/// timers carry real ticket ids), interleaving the conversations one event at a time.
fn record() -> Recorded {
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

fn lifecycle_throughput(c: &mut Criterion) {
    let recorded = record();
    let mut group = c.benchmark_group("lifecycle");
    group.throughput(Throughput::Elements(recorded.inputs.len() as u64));
    group.bench_function("mixed_styles", |b| {
        b.iter_batched(
            || {
                let lifecycles: Vec<TicketLifecycle> = (0..CONVERSATIONS)
                    .map(|c| TicketLifecycle::new("acme", format!("conv-{c}")))
                    .collect();
                (lifecycles, recorded.inputs.clone())
            },
            |(mut lifecycles, inputs)| {
                let mut changes = 0usize;
                for (c, input, now) in inputs {
                    let effects = lifecycles[c].step(input, &recorded.styles[style_of(c)], now);
                    changes += effects.status_changes.len();
                }
                changes
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, lifecycle_throughput);
criterion_main!(benches);
