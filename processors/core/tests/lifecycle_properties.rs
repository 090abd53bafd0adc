//! Property tests: random sequences of inputs and clock advances over a few conversations,
//! checked against the invariants of SPEC.md.

use parley_core::sim::TicketSim;
use parley_core::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

const ACME: &str = "acme";
const CONVERSATIONS: usize = 4;
const AGENTS: [&str; 3] = ["ana", "bob", "eve"];

#[derive(Clone, Debug)]
enum Op {
    Write {
        conversation: usize,
        message: u8,
    },
    Decide {
        conversation: usize,
        agent: usize,
        kind: RoutingDecisionKind,
    },
    Act {
        conversation: usize,
        agent: usize,
        kind: AgentActionKind,
        status: Option<Status>,
    },
    Advance(Millis),
}

fn status() -> impl Strategy<Value = Status> {
    prop::sample::select(vec![
        Status::New,
        Status::Open,
        Status::Pending,
        Status::OnHold,
        Status::Solved,
        Status::Closed,
    ])
}

fn op() -> impl Strategy<Value = Op> {
    let conversation = 0..CONVERSATIONS;
    let agent = 0..AGENTS.len();
    prop_oneof![
        4 => (conversation.clone(), 0u8..24).prop_map(|(conversation, message)| Op::Write { conversation, message }),
        3 => (conversation.clone(), agent.clone(), prop::sample::select(vec![
            RoutingDecisionKind::Offered,
            RoutingDecisionKind::OfferWithdrawn,
            RoutingDecisionKind::Assigned,
            RoutingDecisionKind::Unassigned,
        ])).prop_map(|(conversation, agent, kind)| Op::Decide { conversation, agent, kind }),
        5 => (conversation, agent, prop::sample::select(vec![
            AgentActionKind::Accept,
            AgentActionKind::Decline,
            AgentActionKind::Reply,
            AgentActionKind::SetStatus,
            AgentActionKind::SetStatus,
            AgentActionKind::SetStatus,
            AgentActionKind::Assign,
        ]), prop::option::weighted(0.95, status()))
            .prop_map(|(conversation, agent, kind, status)| Op::Act { conversation, agent, kind, status }),
        3 => prop_oneof![
            (0i64..120_000).prop_map(Millis),
            (0i64..(3 * 3_600_000)).prop_map(Millis),
            (0i64..(30 * 86_400_000)).prop_map(Millis),
        ].prop_map(Op::Advance),
    ]
}

/// A style per conversation's channel: (style, configured gap).
fn styles() -> impl Strategy<Value = Vec<(Style, Option<Millis>)>> {
    let one = prop_oneof![
        Just((Style::LiveChat, None)),
        Just((Style::LiveChatReturning, None)),
        (1i64..=(3 * 3_600_000)).prop_map(|g| (Style::LiveChatReturning, Some(Millis(g)))),
        Just((Style::SocialMessaging, None)),
        (1i64..=Millis::days(28).0).prop_map(|g| (Style::SocialMessaging, Some(Millis(g)))),
    ];
    prop::collection::vec(one, CONVERSATIONS)
}

fn channel(conversation: usize) -> Channel {
    Channel::ALL[conversation]
}

fn run(styles: &[(Style, Option<Millis>)], ops: &[Op]) -> TicketSim {
    let mut sim = TicketSim::new(Timestamp(1_700_000_000_000));
    for (n, (style, gap)) in styles.iter().enumerate() {
        sim.styles
            .upsert(&StyleConfig {
                account: ACME.into(),
                brand: None,
                channel: Some(channel(n)),
                style: *style,
                solved_to_closed_ms: *gap,
                priority: 0,
                required_skills: vec![],
                group: None,
                inactivity_ms: None,
                inactivity_reminders: Vec::new(),
                updated_at: Timestamp(0),
            })
            .unwrap();
    }
    for op in ops {
        let _ = match op {
            Op::Write {
                conversation,
                message,
            } => sim.end_user_writes(
                ACME,
                &format!("c{conversation}"),
                channel(*conversation),
                &format!("m{message}"),
            ),
            Op::Decide {
                conversation,
                agent,
                kind,
            } => sim.router_decides(
                ACME,
                &format!("c{conversation}"),
                *kind,
                AGENTS[*agent],
                "best_match",
            ),
            Op::Act {
                conversation,
                agent,
                kind,
                status,
            } => sim.agent_does(
                ACME,
                &format!("c{conversation}"),
                AGENTS[*agent],
                *kind,
                *status,
            ),
            Op::Advance(span) => {
                sim.advance(*span);
                continue;
            }
        };
    }
    sim
}

fn gap_of(styles: &[(Style, Option<Millis>)], change: &StatusChange) -> Millis {
    let n = Channel::ALL
        .iter()
        .position(|c| *c == change.channel)
        .unwrap();
    let (style, configured) = styles[n];
    configured
        .unwrap_or_else(|| style::default_gap(style))
        .min(style::MAX_SOLVED_TO_CLOSED)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn lifecycle_invariants_hold(styles in styles(), ops in prop::collection::vec(op(), 1..120)) {
        let sim = run(&styles, &ops);
        let changes = &sim.log.status_changes;

        // Per conversation: tickets in creation order with their latest status.
        let mut tickets: BTreeMap<&str, Vec<(&str, Status)>> = BTreeMap::new();
        for change in changes {
            let list = tickets.entry(&*change.conversation).or_default();
            match change.from {
                None => {
                    prop_assert!(
                        list.iter().all(|(_, s)| *s == Status::Closed),
                        "at most one ticket per conversation is not Closed: {change:?} while {list:?}"
                    );
                    list.push((&*change.ticket_id, change.to));
                }
                Some(from) => {
                    let entry = list.iter_mut().find(|(id, _)| *id == &*change.ticket_id).expect("known ticket");
                    prop_assert_eq!(entry.1, from, "from is the status the ticket had");
                    prop_assert_ne!(from, Status::Closed, "a Closed ticket never changes again");
                    entry.1 = change.to;
                }
            }
            if change.to == Status::Solved {
                prop_assert!(change.assignee.is_some(), "every Solved ticket has an assignee: {change:?}");
            }
        }

        // Solved at t with gap g closes at t + min(g, 28d) unless something else came first.
        for (i, solved) in changes.iter().enumerate().filter(|(_, c)| c.to == Status::Solved) {
            let due = solved.at + gap_of(&styles, solved);
            match changes[i + 1..].iter().find(|c| c.ticket_id == solved.ticket_id) {
                Some(next) if next.to == Status::Closed => prop_assert_eq!(next.at, due, "closed when due: {:?}", next),
                Some(next) => prop_assert!(next.at < due, "changed after it was due to close: {:?}", next),
                None => prop_assert!(sim.now() < due, "still Solved past its close: {:?}", solved),
            }
        }

        for m in &sim.log.ticket_metrics {
            let lifetime = (m.at - m.created_at).0;
            prop_assert_eq!(m.requester_wait_time_ms.0 + m.agent_wait_time_ms.0 + m.solved_time_ms.0, lifetime);
            prop_assert_eq!(
                m.agent_work_time_ms.0 + m.on_hold_time_ms.0 + m.agent_wait_time_ms.0 + m.solved_time_ms.0,
                lifetime
            );
            prop_assert!(m.status == Status::Solved || m.status == Status::Closed);
        }

        // Same inputs, byte-identical outputs.
        let again = run(&styles, &ops);
        prop_assert_eq!(
            serde_json::to_string(&again.log.status_changes).unwrap(),
            serde_json::to_string(&sim.log.status_changes).unwrap()
        );
        prop_assert_eq!(&again.log, &sim.log);

        // State survives encoding, as the runtime stores it.
        for lifecycle in sim.conversations() {
            let text = serde_json::to_string(lifecycle).unwrap();
            let back: TicketLifecycle = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(&back, lifecycle);
        }
    }
}
