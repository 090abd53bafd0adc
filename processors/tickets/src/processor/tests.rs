//! Unit tests of the ticket processor: outputs, state, restore and timers.

use super::*;
use crate::sla_tables::{ScheduleRecords, SlaPolicyRecords, SlaTables};
use crate::StyleRecords;
use parley_core::sla::{SlaEvent, SlaTimer};
use parley_core::{
    AgentAction, Channel, ConversationEvent, Status, TicketInput, TicketTimer, Timestamp,
};
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
fn sla_timer_ids_round_trip_and_differ_from_close_timers() {
    let timer = SlaTimer {
        ticket_id: "acme/c1/3".into(),
        clock: 7,
        due: Timestamp(1_700_000_000_123),
    };
    let id = sla_timer_id(&timer);
    assert_eq!(parse_sla_timer_id(&id), Some(timer));
    assert_eq!(parse_timer_id(&id), None);
    assert_eq!(parse_sla_timer_id(b"close/1/t"), None);
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
        timer_id, due: set, ..
    } = &effects.timers[0]
    else {
        panic!("{:?}", effects.timers)
    };
    assert_eq!(*set, due);

    // The state holds the clocks: a restored processor breaches on the same timer.
    let mut restored = processor();
    let state = &effects.state[0];
    restored
        .restore(&state.state_key, state.value.as_deref().unwrap())
        .unwrap();
    assert_eq!(restored.sla_clocks(b"acme/c1"), p.sla_clocks(b"acme/c1"));
    let mut fired = Effects::default();
    restored.on_timer(b"acme/c1", timer_id, due, &mut fired);
    let breach = restored
        .codecs
        .sla_events
        .decode(&fired.outputs[0].value)
        .unwrap();
    assert_eq!((breach.kind, breach.at), (SlaEventKind::Breached, due));
    assert_eq!(breach.event_id, format!("{}.l2", breach.ticket_id));
    assert_eq!(fired.state.len(), 1, "the breach is stored");
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
fn timer_ids_round_trip_with_slashes_in_ticket_ids() {
    let timer = TicketTimer {
        ticket_id: "acme/c1/3".into(),
        due: Timestamp(1_700_000_000_123),
    };
    assert_eq!(parse_timer_id(&timer_id(&timer)), Some(timer));
    assert_eq!(parse_timer_id(b"close/x/t"), None);
    assert_eq!(parse_timer_id(b"other/1/t"), None);
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
        ticket_id: new.ticket_id,
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
