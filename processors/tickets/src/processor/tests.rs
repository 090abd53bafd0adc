//! Unit tests of the ticket processor: outputs, state, restore and timers.

use super::*;
use crate::sla_tables::{ScheduleRecords, SlaPolicyRecords, SlaTables};
use crate::StyleRecords;
use parley_core::sla::SlaEvent;
use parley_core::timer_id::{ConversationTimer, TimerId};
use parley_core::{AgentAction, Channel, ConversationEvent, Status, TicketInput, Timestamp};
use parley_runtime::codec::AvroCodec;
use parley_runtime::table::TableRecords;
use parley_runtime::{Effects, KeyedProcessor};
use std::sync::{Arc, RwLock};

fn processor() -> TicketProcessor {
    processor_with(Vec::new())
}

/// A processor whose sla-policies table holds `policies`.
fn processor_with(policies: Vec<parley_core::sla::SlaPolicy>) -> TicketProcessor {
    let mut records = SlaPolicyRecords::new(AvroCodec::single_object());
    for policy in policies {
        let key = format!("{}/{}", policy.account, policy.policy_id);
        let value = AvroCodec::single_object().encode(&policy).unwrap();
        records.apply(key.as_bytes(), Some(&value)).unwrap();
    }
    let sla = SlaTables::new(
        Arc::new(RwLock::new(
            ScheduleRecords::new(AvroCodec::single_object()),
        )),
        Arc::new(RwLock::new(records)),
    );
    TicketProcessor::new(
        Arc::new(crate::topics("t.")),
        Arc::new(TicketCodecs::single_object()),
        Arc::new(RwLock::new(StyleRecords::new(AvroCodec::single_object()))),
        sla,
    )
}

#[test]
fn sla_clocks_emit_events_and_breach_on_their_durable_timer() {
    use parley_core::sla::{
        SlaConditions, SlaEventKind, SlaMetric, SlaPolicy, SlaPriority, SlaTarget,
    };
    use parley_runtime::TimerCommand as RuntimeTimer;
    let policy = SlaPolicy {
        account: "acme".into(),
        policy_id: "standard".into(),
        position: 0,
        conditions: SlaConditions::default(),
        schedule_id: None,
        targets: vec![SlaTarget {
            metric: SlaMetric::FirstReplyTime,
            priority: SlaPriority::Normal,
            target_ms: parley_core::Millis::minutes(10),
            business_hours: false,
        }],
        updated_at: Timestamp(0),
    };
    let mut p = processor_with(vec![policy]);
    let mut effects = Effects::default();
    p.handle(
        b"acme/c1",
        TicketInput::Message(message("m1")),
        Timestamp(2_000),
        &mut effects,
    )
    .unwrap();
    let sla: Vec<SlaEvent> = effects
        .outputs
        .iter()
        .filter(|o| o.topic == "t.sla-events")
        .map(|o| {
            assert_eq!(o.key, b"acme/c1");
            p.codecs.sla_events.decode(&o.value).unwrap()
        })
        .collect();
    assert_eq!(sla.len(), 1);
    assert_eq!(sla[0].kind, SlaEventKind::Activated);
    let due = Timestamp(2_000 + 600_000);
    assert_eq!(sla[0].due_at, Some(due));
    let RuntimeTimer::Set {
        key,
        timer: ConversationTimer::Sla(timer),
        due: set,
    } = &effects.timers[0]
    else {
        panic!("{:?}", effects.timers)
    };
    assert_eq!((&key[..], *set, timer.due), (&b"acme/c1"[..], due, due));

    // The state holds the clocks: a restored processor breaches on the same timer.
    let mut restored = processor();
    let state = &effects.state[0];
    restored
        .restore(&state.state_key, state.value.as_deref().unwrap())
        .unwrap();
    assert_eq!(restored.sla_clocks(b"acme/c1"), p.sla_clocks(b"acme/c1"));
    let mut legacy = processor();
    legacy
        .restore(&state.state_key, state.value.as_deref().unwrap())
        .unwrap();
    let mut fired = Effects::default();
    restored.on_timer(
        b"acme/c1",
        ConversationTimer::Sla(timer.clone()),
        due,
        &mut fired,
    );
    let breach = restored
        .codecs
        .sla_events
        .decode(&fired.outputs[0].value)
        .unwrap();
    assert_eq!((breach.kind, breach.at), (SlaEventKind::Breached, due));
    assert_eq!(breach.event_id, format!("{}.l2", breach.ticket_id));
    assert_eq!(fired.state.len(), 1, "the breach is stored");

    // The same timer stored in its earlier text form breaches the same way.
    let stored = format!("sla/{}/{}/{}", due.0, timer.clock, timer.ticket_id);
    let decoded = ConversationTimer::decode(stored.as_bytes()).unwrap();
    let mut fired_legacy = Effects::default();
    legacy.on_timer(b"acme/c1", decoded, due, &mut fired_legacy);
    assert_eq!(fired_legacy, fired);
}

fn message(id: &str) -> ConversationEvent {
    ConversationEvent {
        event_id: id.into(),
        account: "acme".into(),
        brand: None,
        conversation: "c1".into(),
        channel: Channel::Whatsapp,
        sent_at: Timestamp(1_000),
        received_at: Timestamp(1_000),
        text: Some("hi".into()),
        attachments: Vec::new(),
        author_name: None,
        reply_handles: Vec::new(),
    }
}

#[test]
fn a_message_emits_new_and_a_request_keyed_by_account_and_state_restores() {
    let mut p = processor();
    let mut effects = Effects::default();
    p.handle(
        b"acme/c1",
        TicketInput::Message(message("m1")),
        Timestamp(2_000),
        &mut effects,
    )
    .unwrap();
    let topics: Vec<(&str, &[u8])> = effects
        .outputs
        .iter()
        .map(|o| (o.topic.as_str(), o.key.as_slice()))
        .collect();
    assert_eq!(
        topics,
        [
            ("t.ticket-status-changes", &b"acme/c1"[..]),
            ("t.routing-requests", &b"acme"[..])
        ]
    );
    let change = p
        .codecs
        .status_changes
        .decode(&effects.outputs[0].value)
        .unwrap();
    assert_eq!(change.to, Status::New);
    assert_eq!(effects.state.len(), 1);

    // A duplicate delivery writes nothing.
    let mut again = Effects::default();
    p.handle(
        b"acme/c1",
        TicketInput::Message(message("m1")),
        Timestamp(3_000),
        &mut again,
    )
    .unwrap();
    assert!(again.is_empty());

    let mut restored = processor();
    let state = &effects.state[0];
    restored
        .restore(&state.state_key, state.value.as_deref().unwrap())
        .unwrap();
    assert_eq!(
        restored.conversation(b"acme/c1"),
        p.conversation(b"acme/c1")
    );
}

#[test]
fn a_decision_stamped_before_the_conversation_time_is_stamped_with_the_time_it_carries() {
    // After a restart the router may read an agent's presence after the requests it had
    // read before it, and assign a queued ticket at the presence's earlier time. The
    // lifecycle handles the decision at the conversation's latest time; its outputs must
    // carry that time as record timestamp too, as in a run without the restart.
    let mut p = processor();
    let mut effects = Effects::default();
    p.handle(
        b"acme/c1",
        TicketInput::Message(message("m1")),
        Timestamp(2_000),
        &mut effects,
    )
    .unwrap();
    assert_eq!(effects.at, Some(Timestamp(2_000)));
    let new = p
        .codecs
        .status_changes
        .decode(&effects.outputs[0].value)
        .unwrap();
    let decision = parley_core::RoutingDecision {
        decision_id: "d1".into(),
        account: "acme".into(),
        conversation: "c1".into(),
        ticket_id: String::from(&*new.ticket_id),
        kind: parley_core::RoutingDecisionKind::Assigned,
        agent_id: Some("ana".into()),
        reason: "auto_accept".into(),
        at: Timestamp(1_500),
    };
    let mut effects = Effects::default();
    p.handle(
        b"acme/c1",
        TicketInput::Decision(decision),
        Timestamp(1_500),
        &mut effects,
    )
    .unwrap();
    let open = p
        .codecs
        .status_changes
        .decode(&effects.outputs[0].value)
        .unwrap();
    assert_eq!((open.to, open.at), (Status::Open, Timestamp(2_000)));
    assert_eq!(
        effects.at,
        Some(Timestamp(2_000)),
        "the runtime stamps the outputs with the time they carry"
    );
}

#[test]
fn a_refused_action_leaves_no_conversation_behind() {
    let mut p = processor();
    let action = AgentAction {
        action_id: "a1".into(),
        account: "acme".into(),
        conversation: "c1".into(),
        agent_id: "agent-1".into(),
        kind: parley_core::AgentActionKind::SetStatus,
        status: Some(Status::Solved),
        priority: None,
        at: Timestamp(1_000),
    };
    let mut effects = Effects::default();
    let err = p
        .handle(
            b"acme/c1",
            TicketInput::Action(action),
            Timestamp(1_000),
            &mut effects,
        )
        .unwrap_err();
    assert_eq!(err.reason, "no_ticket");
    assert!(p.is_empty());
    assert!(effects.is_empty());
}

#[test]
fn ticket_metrics_carry_the_sla_outcomes_at_solved_and_at_closed() {
    use parley_core::sla::{
        SlaConditions, SlaMetric, SlaOutcome, SlaPolicy, SlaPriority, SlaTarget,
    };
    use parley_core::{
        AgentActionKind, Millis, RoutingDecision, RoutingDecisionKind, TicketMetrics,
    };
    let target = |metric, minutes| SlaTarget {
        metric,
        priority: SlaPriority::Normal,
        target_ms: Millis::minutes(minutes),
        business_hours: false,
    };
    let policy = SlaPolicy {
        account: "acme".into(),
        policy_id: "standard".into(),
        position: 0,
        conditions: SlaConditions::default(),
        schedule_id: None,
        targets: vec![
            target(SlaMetric::FirstReplyTime, 10),
            target(SlaMetric::TotalResolutionTime, 15),
        ],
        updated_at: Timestamp(0),
    };
    let mut p = processor_with(vec![policy]);
    let t0 = 1_000;
    let minute = |m: i64| Timestamp(t0 + m * 60_000);
    let step = |p: &mut TicketProcessor, input: TicketInput, at: Timestamp| {
        let mut effects = Effects::default();
        p.handle(b"acme/c1", input, at, &mut effects).unwrap();
        effects
    };
    let created = step(&mut p, TicketInput::Message(message("m1")), minute(0));
    let ticket_id = p
        .codecs
        .status_changes
        .decode(&created.outputs[0].value)
        .unwrap()
        .ticket_id;
    let decision = RoutingDecision {
        decision_id: "d1".into(),
        account: "acme".into(),
        conversation: "c1".into(),
        ticket_id: String::from(&*ticket_id),
        kind: RoutingDecisionKind::Assigned,
        agent_id: Some("ana".into()),
        reason: "auto_accept".into(),
        at: minute(1),
    };
    let _ = step(&mut p, TicketInput::Decision(decision), minute(1));
    let action = |id: &str, kind, status, at| {
        TicketInput::Action(AgentAction {
            action_id: id.into(),
            account: "acme".into(),
            conversation: "c1".into(),
            agent_id: "ana".into(),
            kind,
            status,
            priority: None,
            at,
        })
    };
    let _ = step(
        &mut p,
        action("a1", AgentActionKind::Reply, None, minute(4)),
        minute(4),
    );
    // The runtime fires total resolution's breach timer at minute 15.
    let breach = created
        .timers
        .iter()
        .find_map(|t| match t {
            parley_runtime::TimerCommand::Set { timer, due, .. } if *due == minute(15) => {
                Some(timer.clone())
            }
            _ => None,
        })
        .expect("a breach timer at minute 15");
    let mut breached = Effects::default();
    p.on_timer(b"acme/c1", breach, minute(15), &mut breached);
    let solved = step(
        &mut p,
        action(
            "a2",
            AgentActionKind::SetStatus,
            Some(Status::Solved),
            minute(20),
        ),
        minute(20),
    );
    let metrics_of = |p: &TicketProcessor, effects: &Effects<ConversationTimer>| -> TicketMetrics {
        let out = effects
            .outputs
            .iter()
            .find(|o| o.topic == "t.ticket-metrics")
            .expect("a ticket metrics record");
        p.codecs.ticket_metrics.decode(&out.value).unwrap()
    };
    let at_solved = metrics_of(&p, &solved);
    let first = at_solved.sla_first_reply_time.clone().unwrap();
    assert_eq!(
        (first.outcome, first.elapsed_ms, first.target_ms),
        (
            SlaOutcome::Achieved,
            Millis::minutes(4),
            Millis::minutes(10)
        )
    );
    let resolution = at_solved.sla_total_resolution_time.clone().unwrap();
    assert_eq!(
        (
            resolution.outcome,
            resolution.elapsed_ms,
            resolution.breached
        ),
        (SlaOutcome::Breached, Millis::minutes(20), 1)
    );
    assert_eq!(at_solved.sla_next_reply_time, None);

    // The close timer: the Closed emission carries the same outcomes.
    let close = parley_core::TicketTimer {
        ticket_id: String::from(&*at_solved.ticket_id),
        due: p
            .conversation(b"acme/c1")
            .unwrap()
            .current()
            .unwrap()
            .close_due
            .unwrap(),
    };
    // Stored in its earlier text form, it still closes the ticket.
    let stored = format!("close/{}/{}", close.due.0, close.ticket_id);
    let decoded = ConversationTimer::decode(stored.as_bytes()).unwrap();
    assert_eq!(decoded, ConversationTimer::Lifecycle(close.clone()));
    let mut closed = Effects::default();
    p.on_timer(b"acme/c1", decoded, close.due, &mut closed);
    let at_closed = metrics_of(&p, &closed);
    assert_eq!(at_closed.status, Status::Closed);
    assert_eq!(
        at_closed.sla_first_reply_time,
        at_solved.sla_first_reply_time
    );
    assert_eq!(
        at_closed.sla_total_resolution_time,
        at_solved.sla_total_resolution_time
    );
}

#[test]
fn requests_carry_the_next_breach_and_a_priority_change_updates_router_and_clocks() {
    use parley_core::sla::{
        SlaConditions, SlaEventKind, SlaMetric, SlaPolicy, SlaPriority, SlaTarget,
    };
    use parley_core::{AgentActionKind, Millis, RoutingRequest, RoutingRequestKind};
    let target = |priority, minutes| SlaTarget {
        metric: SlaMetric::FirstReplyTime,
        priority,
        target_ms: Millis::minutes(minutes),
        business_hours: false,
    };
    let policy = SlaPolicy {
        account: "acme".into(),
        policy_id: "standard".into(),
        position: 0,
        conditions: SlaConditions::default(),
        schedule_id: None,
        targets: vec![
            target(SlaPriority::Normal, 60),
            target(SlaPriority::Urgent, 10),
        ],
        updated_at: Timestamp(0),
    };
    let mut p = processor_with(vec![policy]);
    let requests =
        |p: &TicketProcessor, effects: &Effects<ConversationTimer>| -> Vec<RoutingRequest> {
            (effects.outputs.iter())
                .filter(|o| o.topic == "t.routing-requests")
                .map(|o| p.codecs.routing_requests.decode(&o.value).unwrap())
                .collect()
        };
    let mut created = Effects::default();
    let message = TicketInput::Message(message("m1"));
    p.handle(b"acme/c1", message, Timestamp(0), &mut created)
        .unwrap();
    let enqueue = &requests(&p, &created)[0];
    assert_eq!(enqueue.kind, RoutingRequestKind::Enqueue);
    assert_eq!(
        enqueue.sla_breach_at,
        Some(Timestamp(0) + Millis::minutes(60))
    );

    let mut changed = Effects::default();
    let action = AgentAction {
        action_id: "a1".into(),
        account: "acme".into(),
        conversation: "c1".into(),
        agent_id: "bob".into(),
        kind: AgentActionKind::SetPriority,
        status: None,
        priority: Some(2),
        at: Timestamp(0),
    };
    let at = Timestamp(0) + Millis::minutes(4);
    p.handle(b"acme/c1", TicketInput::Action(action), at, &mut changed)
        .unwrap();
    let update = &requests(&p, &changed)[0];
    assert_eq!(
        (update.kind, update.priority),
        (RoutingRequestKind::Update, 2)
    );
    let due = Timestamp(0) + Millis::minutes(10);
    assert_eq!(update.sla_breach_at, Some(due));
    let event: SlaEvent = (changed.outputs.iter())
        .find(|o| o.topic == "t.sla-events")
        .map(|o| p.codecs.sla_events.decode(&o.value).unwrap())
        .unwrap();
    assert_eq!(
        (event.kind, event.target_ms, event.due_at),
        (SlaEventKind::Activated, Millis::minutes(10), Some(due))
    );
    assert_eq!(
        p.conversation(b"acme/c1")
            .unwrap()
            .current()
            .unwrap()
            .priority,
        2
    );
}
