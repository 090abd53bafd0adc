//! Every behaviour of `reference/conversational-styles.txt` and the ticket rules of SPEC.md,
//! one named test each, driven through the deterministic simulation harness.

use parley_core::lifecycle::RejectionKind;
use parley_core::sim::TicketSim;
use parley_core::*;
use Status::*;

const ACME: &str = "acme";
const T0: Timestamp = Timestamp(1_700_000_000_000);

fn sim_with(style: Style, gap: Option<Millis>) -> TicketSim {
    let mut sim = TicketSim::new(T0);
    sim.styles
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

fn current(sim: &TicketSim, conversation: &str) -> Option<(String, Status, Option<String>)> {
    sim.conversation(ACME, conversation)?
        .current()
        .map(|t| (t.id.to_owned(), t.status, t.assignee.map(str::to_owned)))
}

fn requests(sim: &TicketSim) -> Vec<(RoutingRequestKind, Option<String>)> {
    sim.log
        .routing_requests
        .iter()
        .map(|r| (r.kind, r.agent_id.clone()))
        .collect()
}

fn agent(name: &str) -> Option<String> {
    Some(name.to_owned())
}

#[test]
fn live_chat_full_story_new_routed_open_solved_closed_at_once() {
    let mut sim = sim_with(Style::LiveChat, None);
    let fx = sim.end_user_writes(ACME, "c1", Channel::Web, "m1");
    assert_eq!(
        fx.status_changes[0].to, New,
        "the first message creates a New ticket"
    );
    assert_eq!(
        fx.routing_requests[0].kind,
        RoutingRequestKind::Enqueue,
        "and asks routing for an agent"
    );

    sim.advance(Millis::seconds(20));
    sim.route_to(ACME, "c1", "ana");
    assert_eq!(
        current(&sim, "c1").unwrap().1,
        Open,
        "accepting makes the ticket Open"
    );

    sim.advance(Millis::seconds(10));
    let _ = sim.agent_does(ACME, "c1", "ana", AgentActionKind::Reply, None);
    let _ = sim.end_user_writes(ACME, "c1", Channel::Web, "m2");
    sim.advance(Millis::minutes(5));
    let fx = sim.agent_sets(ACME, "c1", "ana", Solved);

    let changes: Vec<_> = fx
        .status_changes
        .iter()
        .map(|c| (c.from, c.to, c.actor_kind))
        .collect();
    assert_eq!(
        changes,
        vec![
            (Some(Open), Solved, ActorKind::Agent),
            (Some(Solved), Closed, ActorKind::Timer)
        ],
        "live chat's Solved then Closed is two records"
    );
    assert_eq!(
        fx.ticket_metrics.len(),
        2,
        "metrics at Solved and at Closed"
    );
    assert!(
        !fx.timers
            .iter()
            .any(|t| matches!(t, TicketTimerCommand::Set(_))),
        "no solve-to-close timer for live chat (the inactivity check is called off)"
    );
    assert_eq!(current(&sim, "c1"), None);
    assert_eq!(sim.timers_pending(), 0);
    assert_eq!(
        sim.transitions(ACME, "c1"),
        vec![
            (None, New),
            (Some(New), Open),
            (Some(Open), Solved),
            (Some(Solved), Closed)
        ]
    );
}

#[test]
fn live_chat_returning_end_user_gets_a_new_ticket_that_follows_up() {
    let mut sim = sim_with(Style::LiveChat, None);
    let _ = sim.end_user_writes(ACME, "c1", Channel::Ios, "m1");
    sim.route_to(ACME, "c1", "ana");
    let _ = sim.agent_sets(ACME, "c1", "ana", Solved);
    let first = sim
        .conversation(ACME, "c1")
        .unwrap()
        .last_closed()
        .unwrap()
        .to_owned();

    sim.advance(Millis::minutes(1));
    let fx = sim.end_user_writes(ACME, "c1", Channel::Ios, "m2");
    let created = &fx.status_changes[0];
    assert_eq!((created.from, created.to), (None, New));
    assert_ne!(
        &*created.ticket_id, first,
        "no overlap between the first and the next conversation"
    );
    assert_eq!(
        created.predecessor_ticket_id.as_deref(),
        Some(first.as_str())
    );
    assert_eq!(created.reason, "follow_up");
    assert_eq!(
        fx.routing_requests[0].kind,
        RoutingRequestKind::Enqueue,
        "the new ticket is routed afresh"
    );
}

#[test]
fn live_chat_solve_releases_the_agent_and_close_tells_the_router() {
    let mut sim = sim_with(Style::LiveChat, None);
    let _ = sim.end_user_writes(ACME, "c1", Channel::Web, "m1");
    sim.route_to(ACME, "c1", "ana");
    let _ = sim.agent_sets(ACME, "c1", "ana", Solved);
    assert_eq!(
        requests(&sim),
        vec![
            (RoutingRequestKind::Enqueue, None),
            (RoutingRequestKind::Accept, agent("ana")),
            (RoutingRequestKind::Release, agent("ana")),
            (RoutingRequestKind::Close, agent("ana")),
        ]
    );
}

#[test]
fn returning_customer_within_the_gap_reopens_the_same_ticket_with_the_same_agent() {
    let mut sim = sim_with(Style::LiveChatReturning, Some(Millis::hours(1)));
    let _ = sim.end_user_writes(ACME, "c1", Channel::Web, "m1");
    sim.route_to(ACME, "c1", "ana");
    let fx = sim.agent_sets(ACME, "c1", "ana", Solved);
    let (ticket, status, _) = current(&sim, "c1").unwrap();
    assert_eq!(status, Solved, "not closed at once: there is a gap");
    assert_eq!(
        fx.timers,
        vec![TicketTimerCommand::Set(TicketTimer {
            ticket_id: ticket.clone(),
            due: sim.now() + Millis::hours(1)
        })]
    );

    sim.advance(Millis::minutes(40));
    let fx = sim.end_user_writes(ACME, "c1", Channel::Web, "m2");
    assert_eq!(
        current(&sim, "c1"),
        Some((ticket.clone(), Open, agent("ana"))),
        "same ticket, same agent"
    );
    assert_eq!(fx.status_changes[0].actor_kind, ActorKind::EndUser);
    assert_eq!(fx.status_changes[0].reason, "end_user_reply");
    assert!(
        matches!(fx.timers[..], [TicketTimerCommand::Cancel(_)]),
        "the close is called off"
    );
    assert_eq!(
        fx.routing_requests[0].kind,
        RoutingRequestKind::Consume,
        "back on the agent's capacity"
    );
    assert_eq!(
        fx.routing_requests[0].agent_id,
        agent("ana"),
        "no queue again: same agent"
    );

    sim.advance(Millis::hours(2));
    assert_eq!(
        current(&sim, "c1").unwrap().1,
        Open,
        "a cancelled timer never fires"
    );
}

#[test]
fn returning_customer_can_reopen_many_times_before_the_ticket_closes() {
    let mut sim = sim_with(Style::LiveChatReturning, Some(Millis::hours(1)));
    let _ = sim.end_user_writes(ACME, "c1", Channel::Web, "m1");
    sim.route_to(ACME, "c1", "ana");
    let ticket = current(&sim, "c1").unwrap().0;
    for round in 0..3 {
        let _ = sim.agent_sets(ACME, "c1", "ana", Solved);
        sim.advance(Millis::minutes(59));
        let _ = sim.end_user_writes(ACME, "c1", Channel::Web, &format!("again-{round}"));
        assert_eq!(
            current(&sim, "c1").unwrap(),
            (ticket.clone(), Open, agent("ana"))
        );
    }
    let fx = sim.agent_sets(ACME, "c1", "ana", Solved);
    assert_eq!(fx.ticket_metrics[0].reopens, 3);
}

#[test]
fn returning_customer_after_the_gap_gets_a_new_ticket() {
    let mut sim = sim_with(Style::LiveChatReturning, Some(Millis::hours(1)));
    let _ = sim.end_user_writes(ACME, "c1", Channel::Web, "m1");
    sim.route_to(ACME, "c1", "ana");
    let _ = sim.agent_sets(ACME, "c1", "ana", Solved);
    let solved_at = sim.now();
    let ticket = current(&sim, "c1").unwrap().0;

    sim.advance(Millis::hours(1));
    let closed = sim.log.status_changes.last().unwrap();
    assert_eq!(
        (closed.from, closed.to, closed.actor_kind),
        (Some(Solved), Closed, ActorKind::Timer)
    );
    assert_eq!(
        closed.at,
        solved_at + Millis::hours(1),
        "closed exactly when the gap runs out"
    );
    assert_eq!(closed.reason, "solved_to_closed");

    let fx = sim.end_user_writes(ACME, "c1", Channel::Web, "m2");
    assert_eq!(fx.status_changes[0].to, New);
    assert_eq!(
        fx.status_changes[0].predecessor_ticket_id.as_deref(),
        Some(ticket.as_str())
    );
}

#[test]
fn the_solve_to_close_timer_starts_again_at_the_next_solved() {
    let mut sim = sim_with(Style::LiveChatReturning, Some(Millis::hours(1)));
    let _ = sim.end_user_writes(ACME, "c1", Channel::Web, "m1");
    sim.route_to(ACME, "c1", "ana");
    let _ = sim.agent_sets(ACME, "c1", "ana", Solved);
    sim.advance(Millis::minutes(30));
    let _ = sim.end_user_writes(ACME, "c1", Channel::Web, "m2");
    sim.advance(Millis::minutes(20));
    let _ = sim.agent_sets(ACME, "c1", "ana", Solved);
    let second_solve = sim.now();

    sim.advance(Millis::minutes(59));
    assert_eq!(
        current(&sim, "c1").unwrap().1,
        Solved,
        "the first solve's deadline has passed: nothing happens"
    );
    sim.advance(Millis::minutes(1));
    assert_eq!(current(&sim, "c1"), None);
    assert_eq!(
        sim.log.status_changes.last().unwrap().at,
        second_solve + Millis::hours(1)
    );
}

#[test]
fn social_messaging_is_the_default_and_closes_four_days_after_solved() {
    let mut sim = TicketSim::new(T0);
    let fx = sim.end_user_writes(ACME, "c1", Channel::Whatsapp, "wamid.1");
    assert_eq!(fx.status_changes[0].style, Style::SocialMessaging);
    sim.route_to(ACME, "c1", "ana");
    let _ = sim.agent_sets(ACME, "c1", "ana", Solved);
    sim.advance(Millis::days(4) - Millis(1));
    assert_eq!(current(&sim, "c1").unwrap().1, Solved);
    sim.advance(Millis(1));
    assert_eq!(current(&sim, "c1"), None, "closed 4 days after solved");
}

#[test]
fn social_messaging_pending_on_hold_and_solved_free_capacity_and_a_reply_takes_it_again() {
    let mut sim = TicketSim::new(T0);
    let _ = sim.end_user_writes(ACME, "c1", Channel::Messenger, "m1");
    sim.route_to(ACME, "c1", "ana");
    let mut seen = requests(&sim).len();
    for (n, parked) in [Pending, OnHold, Solved].into_iter().enumerate() {
        let _ = sim.agent_sets(ACME, "c1", "ana", parked);
        let _ = sim.end_user_writes(ACME, "c1", Channel::Messenger, &format!("reply-{n}"));
        assert_eq!(
            current(&sim, "c1").unwrap().1,
            Open,
            "a customer reply on {parked} sends the ticket back to Open"
        );
        assert_eq!(
            requests(&sim)[seen..],
            [
                (RoutingRequestKind::Release, agent("ana")),
                (RoutingRequestKind::Consume, agent("ana"))
            ],
            "{parked} frees the agent's capacity; the reply consumes it again"
        );
        seen = requests(&sim).len();
    }
    assert_eq!(
        sim.transitions(ACME, "c1"),
        vec![
            (None, New),
            (Some(New), Open),
            (Some(Open), Pending),
            (Some(Pending), Open),
            (Some(Open), OnHold),
            (Some(OnHold), Open),
            (Some(Open), Solved),
            (Some(Solved), Open),
        ]
    );
}

#[test]
fn social_messaging_moving_between_parked_statuses_changes_no_capacity() {
    let mut sim = TicketSim::new(T0);
    let _ = sim.end_user_writes(ACME, "c1", Channel::Line, "m1");
    sim.route_to(ACME, "c1", "ana");
    let _ = sim.agent_sets(ACME, "c1", "ana", Pending);
    let fx = sim.agent_sets(ACME, "c1", "ana", OnHold);
    assert!(fx.routing_requests.is_empty());
    let fx = sim.agent_sets(ACME, "c1", "ana", Solved);
    assert!(fx.routing_requests.is_empty());
    let fx = sim.agent_sets(ACME, "c1", "ana", Open);
    assert_eq!(
        fx.routing_requests[0].kind,
        RoutingRequestKind::Consume,
        "the agent reopening takes capacity again"
    );
}

#[test]
fn social_messaging_twenty_eight_days_in_solved_then_closed_and_a_new_ticket_after() {
    let mut sim = sim_with(Style::SocialMessaging, Some(Millis::days(28)));
    let _ = sim.end_user_writes(ACME, "c1", Channel::Instagram, "m1");
    sim.route_to(ACME, "c1", "ana");
    let _ = sim.agent_sets(ACME, "c1", "ana", Solved);
    sim.advance(Millis::days(27));
    assert_eq!(current(&sim, "c1").unwrap().1, Solved);
    sim.advance(Millis::days(1));
    assert_eq!(current(&sim, "c1"), None);
    let fx = sim.end_user_writes(ACME, "c1", Channel::Instagram, "m2");
    assert_eq!(
        fx.status_changes[0].to, New,
        "a customer responding after this gets a new ticket"
    );
}

#[test]
fn every_ticket_closes_at_most_28_days_after_solved_whatever_the_settings_say() {
    let mut sim = TicketSim::new(T0);
    let mut style = StyleSettings::of(Style::SocialMessaging);
    style.solved_to_closed = Millis::days(60);
    let mut lifecycle = TicketLifecycle::new(ACME, "c1");
    let message = |id: &str| ConversationEvent {
        event_id: id.into(),
        account: ACME.into(),
        brand: None,
        conversation: "c1".into(),
        channel: Channel::Telegram,
        sent_at: T0,
        received_at: T0,
        text: None,
        attachments: vec![],
        author_name: None,
        reply_handles: vec![],
    };
    let _ = lifecycle.step(TicketInput::Message(message("m1")), &style, T0);
    let id = lifecycle.current().unwrap().id.to_owned();
    let assign = RoutingDecision {
        decision_id: "d1".into(),
        account: ACME.into(),
        conversation: "c1".into(),
        ticket_id: id.clone(),
        kind: RoutingDecisionKind::Assigned,
        agent_id: Some("ana".into()),
        reason: "auto_accept".into(),
        at: T0,
    };
    let _ = lifecycle.step(TicketInput::Decision(assign), &style, T0);
    let solve = AgentAction {
        action_id: "a1".into(),
        account: ACME.into(),
        conversation: "c1".into(),
        agent_id: "ana".into(),
        kind: AgentActionKind::SetStatus,
        status: Some(Solved),
        priority: None,
        at: T0,
    };
    let fx = lifecycle.step(TicketInput::Action(solve), &style, T0);
    assert_eq!(
        fx.timers,
        vec![TicketTimerCommand::Set(TicketTimer {
            ticket_id: id,
            due: T0 + Millis::days(28)
        })]
    );
    // And a configuration that says more is refused before it gets that far.
    let refused = sim.styles.upsert(&StyleConfig {
        account: ACME.into(),
        brand: None,
        channel: None,
        style: Style::SocialMessaging,
        solved_to_closed_ms: Some(Millis::days(29)),
        priority: 0,
        required_skills: vec![],
        group: None,
        inactivity_ms: None,
        inactivity_reminders: Vec::new(),
        updated_at: T0,
    });
    assert!(matches!(refused, Err(StyleConfigError::GapTooLong { .. })));
}

#[test]
fn a_style_change_applies_to_tickets_created_after_it() {
    let mut sim = sim_with(Style::SocialMessaging, None);
    let _ = sim.end_user_writes(ACME, "old", Channel::Web, "m1");
    sim.route_to(ACME, "old", "ana");
    sim.styles
        .upsert(&StyleConfig {
            account: ACME.into(),
            brand: None,
            channel: None,
            style: Style::LiveChat,
            solved_to_closed_ms: None,
            priority: 0,
            required_skills: vec![],
            group: None,
            inactivity_ms: None,
            inactivity_reminders: Vec::new(),
            updated_at: T0,
        })
        .unwrap();
    let fx = sim.end_user_writes(ACME, "new", Channel::Web, "m2");
    assert_eq!(fx.status_changes[0].style, Style::LiveChat);

    let fx = sim.agent_sets(ACME, "old", "ana", Solved);
    assert_eq!(
        fx.status_changes.len(),
        1,
        "the open ticket keeps social messaging: no close at once"
    );
    assert_eq!(fx.status_changes[0].style, Style::SocialMessaging);
    assert_eq!(current(&sim, "old").unwrap().1, Solved);
}

#[test]
fn new_becomes_open_only_by_assignment_and_never_returns_to_new() {
    let mut sim = TicketSim::new(T0);
    let _ = sim.end_user_writes(ACME, "c1", Channel::Web, "m1");
    let fx = sim.router_decides(
        ACME,
        "c1",
        RoutingDecisionKind::Offered,
        "ana",
        "best_match",
    );
    assert!(
        fx.status_changes.is_empty(),
        "an offer is not an assignment"
    );
    let fx = sim.router_decides(
        ACME,
        "c1",
        RoutingDecisionKind::Assigned,
        "ana",
        "auto_accept",
    );
    let change = &fx.status_changes[0];
    assert_eq!(
        (change.from, change.to, change.actor_kind),
        (Some(New), Open, ActorKind::Routing)
    );
    assert_eq!(change.reason, "auto_accept");
    assert_eq!(change.assignee, agent("ana"));
    let fx = sim.agent_sets(ACME, "c1", "ana", New);
    assert_eq!(fx.rejections[0].kind, RejectionKind::StatusNotSettable);
}

#[test]
fn solved_needs_an_assignee() {
    let mut sim = TicketSim::new(T0);
    let _ = sim.end_user_writes(ACME, "c1", Channel::Web, "m1");
    let fx = sim.agent_sets(ACME, "c1", "ana", Solved);
    assert_eq!(fx.rejections.len(), 1);
    assert_eq!(fx.rejections[0].kind, RejectionKind::SolvedWithoutAssignee);
    assert!(
        fx.rejections[0].detail.contains("assignee"),
        "{}",
        fx.rejections[0]
    );
    assert_eq!(current(&sim, "c1").unwrap().1, New);
}

#[test]
fn only_the_assignee_sets_the_status() {
    let mut sim = TicketSim::new(T0);
    let _ = sim.end_user_writes(ACME, "c1", Channel::Web, "m1");
    sim.route_to(ACME, "c1", "ana");
    let fx = sim.agent_sets(ACME, "c1", "bob", Pending);
    assert_eq!(fx.rejections[0].kind, RejectionKind::NotAssignee);
    assert_eq!(current(&sim, "c1").unwrap().1, Open);
}

#[test]
fn setting_the_status_a_ticket_already_has_is_a_no_op() {
    let mut sim = TicketSim::new(T0);
    let _ = sim.end_user_writes(ACME, "c1", Channel::Web, "m1");
    sim.route_to(ACME, "c1", "ana");
    let _ = sim.agent_sets(ACME, "c1", "ana", Pending);
    let fx = sim.agent_sets(ACME, "c1", "ana", Pending);
    assert!(fx.is_empty(), "no change, no error: {fx:?}");
}

#[test]
fn closed_is_final() {
    let mut sim = sim_with(Style::LiveChat, None);
    let _ = sim.end_user_writes(ACME, "c1", Channel::Web, "m1");
    sim.route_to(ACME, "c1", "ana");
    let _ = sim.agent_sets(ACME, "c1", "ana", Solved);
    let changes = sim.log.status_changes.len();

    let fx = sim.agent_sets(ACME, "c1", "ana", Open);
    assert_eq!(fx.rejections[0].kind, RejectionKind::NoTicket);
    assert!(
        fx.rejections[0].detail.contains("closed"),
        "{}",
        fx.rejections[0]
    );
    let fx = sim.router_decides(
        ACME,
        "c1",
        RoutingDecisionKind::Assigned,
        "bob",
        "best_match",
    );
    assert_eq!(fx.rejections[0].kind, RejectionKind::StaleDecision);
    assert_eq!(
        sim.log.status_changes.len(),
        changes,
        "nothing changed the closed ticket"
    );
}

#[test]
fn agent_messages_never_change_the_status() {
    let mut sim = TicketSim::new(T0);
    let _ = sim.end_user_writes(ACME, "c1", Channel::Web, "m1");
    sim.route_to(ACME, "c1", "ana");
    let _ = sim.agent_sets(ACME, "c1", "ana", Pending);
    let fx = sim.agent_does(ACME, "c1", "ana", AgentActionKind::Reply, None);
    assert!(fx.is_empty());
    assert_eq!(current(&sim, "c1").unwrap().1, Pending);
    let _ = sim.agent_sets(ACME, "c1", "ana", Solved);
    assert_eq!(
        sim.log.ticket_metrics[0].agent_replies, 1,
        "but they are recorded"
    );
}

#[test]
fn duplicate_deliveries_of_a_channel_message_are_applied_once() {
    let mut sim = TicketSim::new(T0);
    let _ = sim.end_user_writes(ACME, "c1", Channel::Whatsapp, "wamid.A");
    let fx = sim.end_user_writes(ACME, "c1", Channel::Whatsapp, "wamid.A");
    assert!(fx.is_empty());
    assert_eq!(fx.duplicates, 1);
    sim.route_to(ACME, "c1", "ana");
    let _ = sim.agent_sets(ACME, "c1", "ana", Pending);
    let _ = sim.end_user_writes(ACME, "c1", Channel::Whatsapp, "wamid.B");
    let _ = sim.agent_sets(ACME, "c1", "ana", Pending);
    let fx = sim.end_user_writes(ACME, "c1", Channel::Whatsapp, "wamid.B");
    assert!(
        fx.is_empty(),
        "a redelivered reply does not reopen the ticket"
    );
    assert_eq!(current(&sim, "c1").unwrap().1, Pending);
}

#[test]
fn dedup_memory_is_bounded_per_conversation() {
    let mut sim = TicketSim::new(T0);
    for n in 0..(lifecycle::DEDUP_WINDOW + 1) {
        let _ = sim.end_user_writes(ACME, "c1", Channel::Web, &format!("m{n}"));
    }
    // The oldest id fell out of the window: it counts as a new message again.
    let fx = sim.end_user_writes(ACME, "c1", Channel::Web, "m0");
    assert_eq!(fx.duplicates, 0);
    let fx = sim.end_user_writes(
        ACME,
        "c1",
        Channel::Web,
        &format!("m{}", lifecycle::DEDUP_WINDOW),
    );
    assert_eq!(fx.duplicates, 1);
}

#[test]
fn accept_and_decline_are_forwarded_only_for_the_agent_offered() {
    let mut sim = TicketSim::new(T0);
    let _ = sim.end_user_writes(ACME, "c1", Channel::Web, "m1");
    let fx = sim.agent_does(ACME, "c1", "ana", AgentActionKind::Accept, None);
    assert_eq!(fx.rejections[0].kind, RejectionKind::NoOfferToAgent);
    let _ = sim.router_decides(
        ACME,
        "c1",
        RoutingDecisionKind::Offered,
        "ana",
        "best_match",
    );
    let fx = sim.agent_does(ACME, "c1", "bob", AgentActionKind::Decline, None);
    assert_eq!(fx.rejections[0].kind, RejectionKind::NoOfferToAgent);
    let fx = sim.agent_does(ACME, "c1", "ana", AgentActionKind::Decline, None);
    assert_eq!(fx.routing_requests[0].kind, RoutingRequestKind::Decline);
    assert_eq!(fx.routing_requests[0].agent_id, agent("ana"));
}

#[test]
fn an_action_on_a_conversation_without_ticket_is_rejected() {
    let mut sim = TicketSim::new(T0);
    let fx = sim.agent_does(ACME, "nobody", "ana", AgentActionKind::Reply, None);
    assert_eq!(fx.rejections[0].kind, RejectionKind::NoTicket);
}

#[test]
fn a_reopened_ticket_whose_agent_was_unassigned_goes_back_to_the_queue() {
    let mut sim = TicketSim::new(T0);
    let _ = sim.end_user_writes(ACME, "c1", Channel::Web, "m1");
    sim.route_to(ACME, "c1", "ana");
    let _ = sim.agent_sets(ACME, "c1", "ana", Pending);
    let _ = sim.router_decides(
        ACME,
        "c1",
        RoutingDecisionKind::Unassigned,
        "ana",
        "returning_customer_grace_expired",
    );
    let fx = sim.end_user_writes(ACME, "c1", Channel::Web, "m2");
    assert_eq!(fx.routing_requests[0].kind, RoutingRequestKind::Enqueue);
    let fx = sim.router_decides(
        ACME,
        "c1",
        RoutingDecisionKind::Assigned,
        "bob",
        "best_match",
    );
    assert!(
        fx.status_changes.is_empty(),
        "already Open: a new assignee is no status change"
    );
    let fx = sim.agent_sets(ACME, "c1", "bob", Solved);
    assert_eq!(fx.ticket_metrics[0].assignee_stations, 2);
}

#[test]
fn ticket_metrics_at_solved_and_closed() {
    let mut sim = sim_with(Style::LiveChatReturning, Some(Millis::hours(1)));
    let _ = sim.end_user_writes(ACME, "c1", Channel::Web, "m1");
    sim.advance(Millis::seconds(30));
    let _ = sim.router_decides(
        ACME,
        "c1",
        RoutingDecisionKind::Offered,
        "ana",
        "best_match",
    );
    sim.advance(Millis::seconds(10));
    let _ = sim.agent_does(ACME, "c1", "ana", AgentActionKind::Accept, None);
    let _ = sim.router_decides(ACME, "c1", RoutingDecisionKind::Assigned, "ana", "accepted");
    sim.advance(Millis::seconds(20));
    let _ = sim.agent_does(ACME, "c1", "ana", AgentActionKind::Reply, None);
    sim.advance(Millis::minutes(4));
    let _ = sim.agent_sets(ACME, "c1", "ana", Solved);
    sim.advance(Millis::hours(1));

    let [solved, closed] = &sim.log.ticket_metrics[..] else {
        panic!("{:?}", sim.log.ticket_metrics)
    };
    assert_eq!(solved.status, Solved);
    assert_eq!(solved.time_in_queue_ms, Some(Millis::seconds(40)));
    assert_eq!(solved.offer_acceptance_time_ms, Some(Millis::seconds(10)));
    assert_eq!(solved.first_reply_time_ms, Some(Millis::seconds(60)));
    assert_eq!(solved.first_resolution_time_ms, Some(Millis::seconds(300)));
    assert_eq!(solved.full_resolution_time_ms, Some(Millis::seconds(300)));
    assert_eq!(solved.requester_wait_time_ms, Millis::seconds(300));
    assert_eq!(solved.agent_work_time_ms, Millis::seconds(300));
    assert_eq!(solved.solved_time_ms, Millis::ZERO);
    assert_eq!(solved.closed_at, None);
    assert!(solved.one_touch);
    assert_eq!(
        (
            solved.agent_replies,
            solved.end_user_messages,
            solved.assignee_stations
        ),
        (1, 1, 1)
    );

    assert_eq!(closed.status, Closed);
    assert_eq!(closed.closed_at, Some(closed.at));
    assert_eq!(closed.solved_time_ms, Millis::hours(1));
    assert_eq!(closed.metrics_id, format!("{}.m2", closed.ticket_id));
    assert_eq!(
        closed.requester_wait_time_ms.0 + closed.agent_wait_time_ms.0 + closed.solved_time_ms.0,
        (closed.at - closed.created_at).0,
        "the durations add up to the ticket's lifetime"
    );
}

#[test]
fn one_touch_is_lost_by_pending_or_a_reopen() {
    let mut sim = TicketSim::new(T0);
    let _ = sim.end_user_writes(ACME, "c1", Channel::Web, "m1");
    sim.route_to(ACME, "c1", "ana");
    let _ = sim.agent_does(ACME, "c1", "ana", AgentActionKind::Reply, None);
    let _ = sim.agent_sets(ACME, "c1", "ana", Pending);
    let _ = sim.agent_sets(ACME, "c1", "ana", Solved);
    assert!(!sim.log.ticket_metrics[0].one_touch);
    assert!(sim.log.ticket_metrics[0].agent_wait_time_ms >= Millis::ZERO);
}

#[test]
fn first_reply_counts_any_agent_and_one_touch_needs_the_solver_alone() {
    let mut sim = TicketSim::new(T0);
    let _ = sim.end_user_writes(ACME, "c1", Channel::Web, "m1");
    sim.advance(Millis::seconds(20));
    // Bob answers before the ticket is assigned to anyone.
    let _ = sim.agent_does(ACME, "c1", "bob", AgentActionKind::Reply, None);
    sim.route_to(ACME, "c1", "ana");
    let _ = sim.agent_does(ACME, "c1", "ana", AgentActionKind::Reply, None);
    let _ = sim.agent_sets(ACME, "c1", "ana", Solved);
    let solved = &sim.log.ticket_metrics[0];
    assert_eq!(solved.first_reply_time_ms, Some(Millis::seconds(20)));
    assert_eq!(solved.agent_replies, 2);
    assert!(!solved.one_touch, "Bob replied, Ana solved");

    let _ = sim.end_user_writes(ACME, "c2", Channel::Web, "m2");
    sim.route_to(ACME, "c2", "ana");
    let _ = sim.agent_does(ACME, "c2", "ana", AgentActionKind::Reply, None);
    let _ = sim.agent_does(ACME, "c2", "ana", AgentActionKind::Reply, None);
    let _ = sim.agent_sets(ACME, "c2", "ana", Solved);
    assert!(
        sim.log.ticket_metrics[1].one_touch,
        "Ana alone replied and solved"
    );
}

#[test]
fn same_inputs_give_identical_outputs_and_ids() {
    let run = || {
        let mut sim = sim_with(Style::LiveChatReturning, None);
        for c in ["c1", "c2"] {
            let _ = sim.end_user_writes(ACME, c, Channel::Web, "m1");
            sim.route_to(ACME, c, "ana");
            let _ = sim.agent_sets(ACME, c, "ana", Solved);
        }
        sim.advance(Millis::hours(2));
        let _ = sim.end_user_writes(ACME, "c1", Channel::Web, "m2");
        sim.log
    };
    let (a, b) = (run(), run());
    assert_eq!(a, b);
    let ids: std::collections::BTreeSet<_> = a
        .status_changes
        .iter()
        .map(|c| c.change_id.spelled())
        .collect();
    assert_eq!(
        ids.len(),
        a.status_changes.len(),
        "every status change has its own id"
    );
    let c1: std::collections::BTreeSet<_> = a
        .status_changes
        .iter()
        .filter(|c| &*c.conversation == "c1")
        .map(|c| &c.ticket_id)
        .collect();
    assert_eq!(c1.len(), 2, "the follow-up has a new id");
}
