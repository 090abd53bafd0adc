//! The ticket lifecycle and the routing engine together: the stories of
//! `reference/conversational-styles.txt` with real routing, through the pipeline simulation.

use parley_core::pipeline::PipelineSim;
use parley_core::routing::{RoutingConfig, RoutingTicketView};
use parley_core::*;

const ACME: &str = "acme";
const T0: Timestamp = Timestamp(1_700_000_000_000);

fn pipeline(style: Style, gap: Option<Millis>) -> PipelineSim {
    let mut sim = PipelineSim::new(T0, RoutingConfig::default());
    sim.styles_mut()
        .upsert(&StyleConfig {
            account: ACME.into(),
            brand: None,
            channel: None,
            style,
            solved_to_closed_ms: gap,
            priority: 0,
            required_skills: vec![],
            group: None,
            inactivity_ms: None,
            inactivity_reminders: Vec::new(),
            updated_at: T0,
        })
        .unwrap();
    sim
}

fn status(sim: &PipelineSim, conversation: &str) -> Option<(Status, Option<String>)> {
    let lifecycle = sim.tickets().conversation(ACME, conversation)?;
    lifecycle
        .current()
        .map(|t| (t.status, t.assignee.map(str::to_owned)))
}

fn ticket_id(sim: &PipelineSim, conversation: &str) -> String {
    sim.tickets()
        .conversation(ACME, conversation)
        .unwrap()
        .current()
        .unwrap()
        .id
        .to_owned()
}

fn load(sim: &PipelineSim, agent: &str, channel: Channel) -> u32 {
    sim.router(ACME)
        .unwrap()
        .agent_channel(agent, channel)
        .unwrap()
        .load
}

fn offered_to(sim: &PipelineSim, conversation: &str) -> Option<String> {
    match sim
        .router(ACME)?
        .ticket_view(&ticket_id(sim, conversation))?
    {
        RoutingTicketView::Offered { agent_id } => Some(agent_id),
        _ => None,
    }
}

fn accept(sim: &mut PipelineSim, conversation: &str, agent: &str) {
    sim.agent_does(ACME, conversation, agent, AgentActionKind::Accept, None);
}

#[test]
fn live_chat_routed_to_the_best_agent_accepted_solved_and_closed() {
    let mut sim = pipeline(Style::LiveChat, None);
    sim.agent_online(ACME, "ana", &[(Channel::Web, 2)], &[]);
    sim.agent_online(ACME, "bob", &[(Channel::Web, 3)], &[]);
    sim.end_user_writes(ACME, "c1", Channel::Web, "m1");
    assert_eq!(
        offered_to(&sim, "c1").as_deref(),
        Some("bob"),
        "the agent with the most free capacity"
    );
    assert_eq!(
        status(&sim, "c1"),
        Some((Status::New, None)),
        "an offer is not an assignment"
    );

    sim.advance(Millis::seconds(5));
    accept(&mut sim, "c1", "bob");
    assert_eq!(status(&sim, "c1"), Some((Status::Open, Some("bob".into()))));
    assert_eq!(load(&sim, "bob", Channel::Web), 1);

    sim.agent_sets(ACME, "c1", "bob", Status::Solved);
    assert_eq!(status(&sim, "c1"), None, "closed at once");
    assert_eq!(
        load(&sim, "bob", Channel::Web),
        0,
        "solving frees the capacity"
    );
    assert_eq!(
        sim.router(ACME).unwrap().ticket_count(),
        0,
        "the router forgot the closed ticket"
    );

    sim.end_user_writes(ACME, "c1", Channel::Web, "m2");
    assert_eq!(
        status(&sim, "c1"),
        Some((Status::New, None)),
        "a returning customer gets a new ticket"
    );
    assert!(offered_to(&sim, "c1").is_some(), "routed afresh");
}

#[test]
fn an_unanswered_offer_times_out_and_goes_to_the_next_agent() {
    let mut sim = pipeline(Style::LiveChat, None);
    sim.agent_online(ACME, "ana", &[(Channel::Web, 3)], &[]);
    sim.agent_online(ACME, "bob", &[(Channel::Web, 2)], &[]);
    sim.end_user_writes(ACME, "c1", Channel::Web, "m1");
    assert_eq!(offered_to(&sim, "c1").as_deref(), Some("ana"));
    sim.advance(RoutingConfig::default().offer_timeout_ms);
    assert_eq!(offered_to(&sim, "c1").as_deref(), Some("bob"));
    accept(&mut sim, "c1", "bob");
    assert_eq!(status(&sim, "c1"), Some((Status::Open, Some("bob".into()))));
    let metrics_offer_time = {
        sim.agent_sets(ACME, "c1", "bob", Status::Solved);
        sim.tickets().log.ticket_metrics[0].offer_acceptance_time_ms
    };
    assert_eq!(
        metrics_offer_time,
        Some(RoutingConfig::default().offer_timeout_ms)
    );
}

#[test]
fn auto_accept_opens_the_ticket_without_waiting_for_the_agent() {
    let config = RoutingConfig {
        auto_accept: vec![Channel::Whatsapp],
        ..RoutingConfig::default()
    };
    let mut sim = PipelineSim::new(T0, config);
    sim.agent_online(ACME, "ana", &[(Channel::Whatsapp, 1)], &[]);
    sim.end_user_writes(ACME, "c1", Channel::Whatsapp, "wamid.1");
    assert_eq!(status(&sim, "c1"), Some((Status::Open, Some("ana".into()))));
    let opened = sim.tickets().log.status_changes.last().unwrap();
    assert_eq!(opened.actor_kind, ActorKind::Routing);
}

#[test]
fn skills_route_a_ticket_only_to_an_agent_who_has_them() {
    let mut sim = PipelineSim::new(T0, RoutingConfig::default());
    sim.styles_mut()
        .upsert(&StyleConfig {
            account: ACME.into(),
            brand: None,
            channel: Some(Channel::Line),
            style: Style::SocialMessaging,
            solved_to_closed_ms: None,
            priority: 0,
            required_skills: vec!["japanese".into()],
            group: None,
            inactivity_ms: None,
            inactivity_reminders: Vec::new(),
            updated_at: T0,
        })
        .unwrap();
    sim.agent_online(ACME, "ana", &[(Channel::Line, 5)], &[]);
    sim.end_user_writes(ACME, "c1", Channel::Line, "m1");
    assert_eq!(offered_to(&sim, "c1"), None, "ana lacks the skill");
    sim.agent_online(ACME, "kenji", &[(Channel::Line, 1)], &["japanese"]);
    assert_eq!(
        offered_to(&sim, "c1").as_deref(),
        Some("kenji"),
        "queued until an agent with the skill is online"
    );
}

#[test]
fn social_messaging_pending_frees_capacity_for_the_next_ticket_and_a_reply_takes_it_back_above_the_limit(
) {
    let mut sim = pipeline(Style::SocialMessaging, None);
    sim.agent_online(ACME, "ana", &[(Channel::Messenger, 1)], &[]);
    sim.end_user_writes(ACME, "c1", Channel::Messenger, "m1");
    accept(&mut sim, "c1", "ana");
    sim.end_user_writes(ACME, "c2", Channel::Messenger, "m2");
    assert_eq!(offered_to(&sim, "c2"), None, "ana is at capacity: c2 waits");

    sim.agent_sets(ACME, "c1", "ana", Status::Pending);
    assert_eq!(
        offered_to(&sim, "c2").as_deref(),
        Some("ana"),
        "Pending freed her capacity"
    );
    accept(&mut sim, "c2", "ana");
    assert_eq!(load(&sim, "ana", Channel::Messenger), 1);

    sim.end_user_writes(ACME, "c1", Channel::Messenger, "m3");
    assert_eq!(
        status(&sim, "c1"),
        Some((Status::Open, Some("ana".into()))),
        "same agent, no queue"
    );
    assert_eq!(
        load(&sim, "ana", Channel::Messenger),
        2,
        "the reopen consumes capacity even above the limit"
    );

    for parked in [Status::OnHold, Status::Solved] {
        sim.agent_sets(ACME, "c1", "ana", parked);
        assert_eq!(
            load(&sim, "ana", Channel::Messenger),
            1,
            "{parked} frees capacity"
        );
        sim.end_user_writes(ACME, "c1", Channel::Messenger, &format!("after-{parked}"));
        assert_eq!(
            load(&sim, "ana", Channel::Messenger),
            2,
            "a reply on {parked} consumes it again"
        );
    }
}

#[test]
fn returning_customer_reopens_with_the_same_agent_within_the_gap() {
    let mut sim = pipeline(Style::LiveChatReturning, Some(Millis::hours(1)));
    sim.agent_online(ACME, "ana", &[(Channel::Web, 1)], &[]);
    sim.agent_online(ACME, "bob", &[(Channel::Web, 1)], &[]);
    sim.end_user_writes(ACME, "c1", Channel::Web, "m1");
    let first = offered_to(&sim, "c1").unwrap();
    accept(&mut sim, "c1", &first);
    sim.agent_sets(ACME, "c1", &first, Status::Solved);
    let decisions = sim.router_log.decisions.len();

    sim.advance(Millis::minutes(30));
    sim.end_user_writes(ACME, "c1", Channel::Web, "m2");
    assert_eq!(
        status(&sim, "c1"),
        Some((Status::Open, Some(first.clone())))
    );
    assert_eq!(
        sim.router_log.decisions.len(),
        decisions,
        "no new offer: the customer does not queue again"
    );

    sim.agent_sets(ACME, "c1", &first, Status::Solved);
    sim.advance(Millis::hours(1));
    assert_eq!(
        status(&sim, "c1"),
        None,
        "closed an hour after the last Solved"
    );
}

#[test]
fn returning_customer_whose_agent_is_offline_goes_back_to_the_queue_after_the_grace() {
    let mut sim = pipeline(Style::SocialMessaging, None);
    sim.agent_online(ACME, "ana", &[(Channel::Telegram, 2)], &[]);
    sim.end_user_writes(ACME, "c1", Channel::Telegram, "m1");
    accept(&mut sim, "c1", "ana");
    sim.agent_sets(ACME, "c1", "ana", Status::Pending);
    sim.agent_status(
        ACME,
        "ana",
        &[(Channel::Telegram, 2)],
        &[],
        AgentStatus::Offline,
    );
    sim.agent_online(ACME, "bob", &[(Channel::Telegram, 2)], &[]);

    sim.end_user_writes(ACME, "c1", Channel::Telegram, "m2");
    assert_eq!(
        status(&sim, "c1"),
        Some((Status::Open, Some("ana".into()))),
        "it stays with ana for now"
    );
    sim.advance(RoutingConfig::default().returning_grace_ms);
    assert_eq!(
        status(&sim, "c1"),
        Some((Status::Open, None)),
        "unassigned after the grace period"
    );
    assert_eq!(
        offered_to(&sim, "c1").as_deref(),
        Some("bob"),
        "and offered to an online agent"
    );
    accept(&mut sim, "c1", "bob");
    assert_eq!(status(&sim, "c1"), Some((Status::Open, Some("bob".into()))));
    assert_eq!(load(&sim, "ana", Channel::Telegram), 0);
}

#[test]
fn an_inactive_conversation_frees_its_agent_until_the_end_user_writes_again() {
    let mut sim = pipeline(Style::SocialMessaging, None);
    sim.agent_online(ACME, "ana", &[(Channel::Whatsapp, 1)], &[]);
    sim.end_user_writes(ACME, "c1", Channel::Whatsapp, "m1");
    accept(&mut sim, "c1", "ana");
    sim.end_user_writes(ACME, "c2", Channel::Whatsapp, "m2");
    assert_eq!(offered_to(&sim, "c2"), None, "ana is full");

    // The end user waits on ana: however long, c1 stays active.
    sim.advance(Millis::minutes(30));
    assert_eq!(load(&sim, "ana", Channel::Whatsapp), 1);
    // ana replies; ten minutes without an answer make c1 inactive, and c2 goes to ana.
    sim.agent_does(ACME, "c1", "ana", AgentActionKind::Reply, None);
    sim.advance(Millis::minutes(9));
    assert_eq!(offered_to(&sim, "c2"), None);
    sim.advance(Millis::minutes(1));
    assert_eq!(offered_to(&sim, "c2").as_deref(), Some("ana"));
    accept(&mut sim, "c2", "ana");
    let view = sim
        .router(ACME)
        .unwrap()
        .agent_channel("ana", Channel::Whatsapp)
        .unwrap();
    assert_eq!((view.load, view.inactive), (1, 1));
    assert_eq!(
        status(&sim, "c1"),
        Some((Status::Open, Some("ana".into()))),
        "still Open and ana's"
    );

    // The end user of c1 writes again: active, and counted above the limit.
    sim.end_user_writes(ACME, "c1", Channel::Whatsapp, "m3");
    let view = sim
        .router(ACME)
        .unwrap()
        .agent_channel("ana", Channel::Whatsapp)
        .unwrap();
    assert_eq!((view.capacity, view.load, view.inactive), (1, 2, 0));
    sim.agent_sets(ACME, "c1", "ana", Status::Solved);
    let metrics = sim.tickets().log.ticket_metrics.last().unwrap();
    assert_eq!(metrics.inactivity_periods, 1);
}

#[test]
fn an_inactivity_of_zero_turns_it_off() {
    let mut sim = PipelineSim::new(T0, RoutingConfig::default());
    sim.styles_mut()
        .upsert(&StyleConfig {
            account: ACME.into(),
            brand: None,
            channel: None,
            style: Style::SocialMessaging,
            solved_to_closed_ms: None,
            priority: 0,
            required_skills: vec![],
            group: None,
            inactivity_ms: Some(Millis::ZERO),
            inactivity_reminders: Vec::new(),
            updated_at: T0,
        })
        .unwrap();
    sim.agent_online(ACME, "ana", &[(Channel::Whatsapp, 1)], &[]);
    sim.end_user_writes(ACME, "c1", Channel::Whatsapp, "m1");
    accept(&mut sim, "c1", "ana");
    sim.agent_does(ACME, "c1", "ana", AgentActionKind::Reply, None);
    sim.advance(Millis::hours(2));
    assert_eq!(load(&sim, "ana", Channel::Whatsapp), 1);
}

#[test]
fn an_agent_going_offline_loses_pending_offers_to_the_next_agent_at_once() {
    let mut sim = pipeline(Style::LiveChat, None);
    sim.agent_online(ACME, "ana", &[(Channel::Web, 3)], &[]);
    sim.agent_online(ACME, "bob", &[(Channel::Web, 1)], &[]);
    sim.end_user_writes(ACME, "c1", Channel::Web, "m1");
    assert_eq!(offered_to(&sim, "c1").as_deref(), Some("ana"));
    sim.agent_status(ACME, "ana", &[(Channel::Web, 3)], &[], AgentStatus::Offline);
    assert_eq!(offered_to(&sim, "c1").as_deref(), Some("bob"));
    let fx_rejected = sim.tickets().log.rejections.len();
    accept(&mut sim, "c1", "ana");
    assert_eq!(
        sim.tickets().log.rejections.len(),
        fx_rejected + 1,
        "ana's offer is gone"
    );
}

#[test]
fn the_pipeline_is_deterministic() {
    let run = || {
        let mut sim = pipeline(Style::LiveChatReturning, None);
        sim.agent_online(ACME, "ana", &[(Channel::Web, 2)], &[]);
        sim.agent_online(ACME, "bob", &[(Channel::Web, 2)], &[]);
        for c in 0..5 {
            sim.end_user_writes(ACME, &format!("c{c}"), Channel::Web, "m1");
        }
        sim.advance(Millis::minutes(2));
        (sim.tickets().log.clone(), sim.router_log.clone())
    };
    assert_eq!(run(), run());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    const AGENTS: [&str; 3] = ["ana", "bob", "eve"];
    const CHANNELS: [Channel; 2] = [Channel::Web, Channel::Whatsapp];
    const CONVERSATIONS: usize = 6;

    #[derive(Clone, Debug)]
    enum Op {
        Presence {
            agent: usize,
            status: AgentStatus,
            capacity: u32,
        },
        Write {
            conversation: usize,
            message: u8,
        },
        AcceptOffer {
            conversation: usize,
        },
        DeclineOffer {
            conversation: usize,
        },
        Set {
            conversation: usize,
            status: Status,
        },
        Reply {
            conversation: usize,
        },
        Advance(Millis),
    }

    fn op() -> impl Strategy<Value = Op> {
        let status = prop::sample::select(vec![
            Status::Open,
            Status::Pending,
            Status::OnHold,
            Status::Solved,
        ]);
        let agent_status = prop::sample::select(vec![
            AgentStatus::Online,
            AgentStatus::Online,
            AgentStatus::Away,
            AgentStatus::Offline,
        ]);
        prop_oneof![
            2 => (0..AGENTS.len(), agent_status, 0u32..4).prop_map(|(agent, status, capacity)| Op::Presence { agent, status, capacity }),
            4 => (0..CONVERSATIONS, 0u8..30).prop_map(|(conversation, message)| Op::Write { conversation, message }),
            3 => (0..CONVERSATIONS).prop_map(|conversation| Op::AcceptOffer { conversation }),
            1 => (0..CONVERSATIONS).prop_map(|conversation| Op::DeclineOffer { conversation }),
            3 => (0..CONVERSATIONS, status).prop_map(|(conversation, status)| Op::Set { conversation, status }),
            2 => (0..CONVERSATIONS).prop_map(|conversation| Op::Reply { conversation }),
            2 => prop_oneof![(0i64..60_000).prop_map(Millis), (0i64..Millis::hours(3).0).prop_map(Millis)].prop_map(Op::Advance),
        ]
    }

    fn channel(conversation: usize) -> Channel {
        CHANNELS[conversation % CHANNELS.len()]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        /// The router's capacity ledger and the ticket lifecycles agree after every step:
        /// an agent's load on a channel is the number of that channel's tickets assigned to
        /// them in New or Open that are not inactive, and its inactive count the number
        /// that are.
        #[test]
        fn router_load_matches_the_tickets_assigned_in_new_or_open(ops in prop::collection::vec(op(), 1..80)) {
            let mut sim = pipeline(Style::LiveChatReturning, Some(Millis::minutes(30)));
            for op in &ops {
                match op {
                    Op::Presence { agent, status, capacity } => {
                        let channels: Vec<_> = CHANNELS.iter().map(|c| (*c, *capacity)).collect();
                        sim.agent_status(ACME, AGENTS[*agent], &channels, &[], *status);
                    }
                    Op::Write { conversation, message } => {
                        sim.end_user_writes(ACME, &format!("c{conversation}"), channel(*conversation), &format!("m{message}"));
                    }
                    Op::AcceptOffer { conversation } | Op::DeclineOffer { conversation } => {
                        let name = format!("c{conversation}");
                        let offered = sim.tickets().conversation(ACME, &name).and_then(|c| c.current()).and_then(|t| t.offered_to.map(str::to_owned));
                        if let Some(agent) = offered {
                            let kind = if matches!(op, Op::AcceptOffer { .. }) { AgentActionKind::Accept } else { AgentActionKind::Decline };
                            sim.agent_does(ACME, &name, &agent, kind, None);
                        }
                    }
                    Op::Set { conversation, status } => {
                        let name = format!("c{conversation}");
                        let assignee = sim.tickets().conversation(ACME, &name).and_then(|c| c.current()).and_then(|t| t.assignee.map(str::to_owned));
                        if let Some(agent) = assignee {
                            sim.agent_sets(ACME, &name, &agent, *status);
                        }
                    }
                    Op::Reply { conversation } => {
                        let name = format!("c{conversation}");
                        let assignee = sim.tickets().conversation(ACME, &name).and_then(|c| c.current()).and_then(|t| t.assignee.map(str::to_owned));
                        if let Some(agent) = assignee {
                            sim.agent_does(ACME, &name, &agent, AgentActionKind::Reply, None);
                        }
                    }
                    Op::Advance(span) => sim.advance(*span),
                }
                let Some(router) = sim.router(ACME) else { continue };
                for agent in AGENTS {
                    for ch in CHANNELS {
                        let count = |inactive: bool| (0..CONVERSATIONS)
                            .filter(|c| channel(*c) == ch)
                            .filter_map(|c| sim.tickets().conversation(ACME, &format!("c{c}")).and_then(|l| l.current()))
                            .filter(|t| t.assignee == Some(agent) && t.status.consumes_capacity() && t.inactive == inactive)
                            .count() as u32;
                        let view = router.agent_channel(agent, ch);
                        prop_assert_eq!(view.map_or(0, |v| v.load), count(false), "load of {} on {} after {:?}", agent, ch, op);
                        prop_assert_eq!(view.map_or(0, |v| v.inactive), count(true), "inactive of {} on {} after {:?}", agent, ch, op);
                    }
                }
            }
            prop_assert!(sim.router_log.rejections.is_empty(), "{:?}", sim.router_log.rejections);
        }
    }
}
