//! Avro encode and decode of every record on a topic, apache-avro's serde path against the
//! hand-written codecs the runtime's `AvroCodec` uses, in records per second on one core.
//!
//! Both sides write and read the single-object framing (`C3 01`, fingerprint, body); the
//! serde side is what `AvroCodec` did before its codecs were written by hand: `to_value`,
//! resolve, `to_avro_datum`, and `from_avro_datum`, `from_value`.
//!
//! `cargo bench -p parley-benches --bench codec`; short runs while developing:
//! `cargo bench -p parley-benches --bench codec -- --warm-up-time 1 --measurement-time 3`.

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use apache_avro::{from_avro_datum, from_value, to_avro_datum, to_value, Schema};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use parley_core::*;
use parley_runtime::codec::{AvroCodec, AvroRecord};
use std::fmt::Debug;
use std::hint::black_box;

/// The allocator the `parley` binary ships with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const AT: Timestamp = Timestamp(1_732_147_200_000);

/// apache-avro's serde path with the single-object framing.
struct SerdePath {
    schema: Schema,
    fingerprint: [u8; 8],
}

impl SerdePath {
    fn new(text: &str) -> SerdePath {
        let schema = Schema::parse_str(text).unwrap();
        let fingerprint =
            parley_runtime::codec::canonical::single_object_fingerprint(text).unwrap();
        SerdePath {
            schema,
            fingerprint,
        }
    }

    fn encode<T: AvroRecord>(&self, value: &T) -> Vec<u8> {
        let avro = to_value(value).unwrap().resolve(&self.schema).unwrap();
        let body = to_avro_datum(&self.schema, avro).unwrap();
        let mut out = Vec::with_capacity(body.len() + 10);
        out.extend_from_slice(&[0xC3, 0x01]);
        out.extend_from_slice(&self.fingerprint);
        out.extend_from_slice(&body);
        out
    }

    fn decode<T: AvroRecord>(&self, bytes: &[u8]) -> T {
        let value = from_avro_datum(&self.schema, &mut &bytes[10..], None).unwrap();
        from_value(&value).unwrap()
    }
}

fn compare<T: AvroRecord + PartialEq + Debug>(c: &mut Criterion, name: &str, value: T) {
    let serde = SerdePath::new(T::SCHEMA);
    let codec = AvroCodec::<T>::single_object();
    let bytes = codec.encode(&value).unwrap();
    assert_eq!(bytes, serde.encode(&value), "{name}: the two paths differ");
    assert_eq!(serde.decode::<T>(&bytes), value);
    assert_eq!(codec.decode(&bytes).unwrap(), value);

    let mut group = c.benchmark_group(format!("codec/{name}"));
    group.throughput(Throughput::Elements(1));
    group.bench_function("encode/serde", |b| {
        b.iter(|| serde.encode(black_box(&value)))
    });
    group.bench_function("encode/fast", |b| {
        b.iter(|| codec.encode(black_box(&value)).unwrap())
    });
    group.bench_function("decode/serde", |b| {
        b.iter(|| serde.decode::<T>(black_box(&bytes)))
    });
    group.bench_function("decode/fast", |b| {
        b.iter(|| codec.decode(black_box(&bytes)).unwrap())
    });
    group.finish();
}

fn records(c: &mut Criterion) {
    compare(
        c,
        "ConversationEvent",
        ConversationEvent {
            event_id: "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=".into(),
            account: "acme".into(),
            brand: Some("acme-eu".into()),
            conversation: "4917012345678".into(),
            channel: Channel::Whatsapp,
            sent_at: AT,
            received_at: Timestamp(AT.0 + 250),
            text: Some("Hi, my order #48213 has not arrived yet, can you check?".into()),
            attachments: Vec::new(),
            author_name: Some("Jana Novak".into()),
            reply_handles: vec![ReplyHandle {
                name: "phone_number_id".into(),
                value: "106540352242922".into(),
            }],
        },
    );
    compare(
        c,
        "AgentAction",
        AgentAction {
            action_id: "act-5f1c2e".into(),
            account: "acme".into(),
            conversation: "4917012345678".into(),
            agent_id: "agent-0042".into(),
            kind: AgentActionKind::SetStatus,
            status: Some(Status::Solved),
            priority: None,
            at: AT,
        },
    );
    compare(
        c,
        "AgentPresence",
        AgentPresence {
            presence_id: "pres-77a1".into(),
            account: "acme".into(),
            agent_id: "agent-0042".into(),
            channels: vec![
                ChannelPresence {
                    channel: Channel::Whatsapp,
                    status: AgentStatus::Online,
                    capacity: 3,
                },
                ChannelPresence {
                    channel: Channel::Web,
                    status: AgentStatus::Away,
                    capacity: 2,
                },
            ],
            skills: vec!["billing".into(), "german".into()],
            groups: vec!["tier-1".into()],
            at: AT,
        },
    );
    compare(
        c,
        "StyleConfig",
        StyleConfig {
            account: "acme".into(),
            brand: Some("acme-eu".into()),
            channel: Some(Channel::Whatsapp),
            style: Style::SocialMessaging,
            solved_to_closed_ms: Some(Millis::hours(96)),
            priority: 2,
            required_skills: vec!["german".into()],
            group: Some("tier-1".into()),
            inactivity_ms: None,
            inactivity_reminders: Vec::new(),
            updated_at: AT,
        },
    );
    compare(
        c,
        "RoutingRequest",
        RoutingRequest {
            request_id: "acme/4917012345678/1732147200000/3".into(),
            account: "acme".into(),
            conversation: "4917012345678".into(),
            ticket_id: "acme/4917012345678/1732147200000".into(),
            kind: RoutingRequestKind::Enqueue,
            agent_id: None,
            channel: Channel::Whatsapp,
            priority: 2,
            required_skills: vec!["german".into()],
            group: Some("tier-1".into()),
            brand: Some("shoes".into()),
            created_at: AT,
            sla_breach_at: None,
            at: Timestamp(AT.0 + 10),
        },
    );
    compare(
        c,
        "RoutingDecision",
        RoutingDecision {
            decision_id: "acme/4917012345678/1732147200000/offer/1".into(),
            account: "acme".into(),
            conversation: "4917012345678".into(),
            ticket_id: "acme/4917012345678/1732147200000".into(),
            kind: RoutingDecisionKind::Offered,
            agent_id: Some("agent-0042".into()),
            reason: "best_match".into(),
            at: AT,
        },
    );
    compare(
        c,
        "StatusChange",
        StatusChange {
            change_id: "acme/4917012345678/1732147200000/2".into(),
            ticket_id: "acme/4917012345678/1732147200000".into(),
            account: "acme".into(),
            brand: Some("acme-eu".into()),
            conversation: "4917012345678".into(),
            channel: Channel::Whatsapp,
            style: Style::SocialMessaging,
            from: Some(Status::New),
            to: Status::Open,
            actor_kind: ActorKind::Routing,
            actor_id: Some("agent-0042".into()),
            reason: "assigned".into(),
            assignee: Some("agent-0042".into()),
            predecessor_ticket_id: None,
            at: AT,
        },
    );
    compare(
        c,
        "TicketMetrics",
        TicketMetrics {
            metrics_id: "acme/4917012345678/1732147200000/m1".into(),
            ticket_id: "acme/4917012345678/1732147200000".into(),
            account: "acme".into(),
            brand: Some("acme-eu".into()),
            conversation: "4917012345678".into(),
            channel: Channel::Whatsapp,
            style: Style::SocialMessaging,
            status: Status::Solved,
            assignee: Some("agent-0042".into()),
            group: Some("tier-1".into()),
            predecessor_ticket_id: None,
            created_at: AT,
            first_assigned_at: Some(Timestamp(AT.0 + 40_000)),
            first_agent_reply_at: Some(Timestamp(AT.0 + 95_000)),
            first_solved_at: Some(Timestamp(AT.0 + 900_000)),
            last_solved_at: Some(Timestamp(AT.0 + 900_000)),
            closed_at: None,
            first_reply_time_ms: Some(Millis(95_000)),
            first_resolution_time_ms: Some(Millis(900_000)),
            full_resolution_time_ms: Some(Millis(900_000)),
            requester_wait_time_ms: Millis(900_000),
            agent_wait_time_ms: Millis(0),
            on_hold_time_ms: Millis(0),
            solved_time_ms: Millis(0),
            agent_work_time_ms: Millis(860_000),
            time_in_queue_ms: Some(Millis(40_000)),
            offer_acceptance_time_ms: Some(Millis(12_000)),
            reopens: 0,
            agent_replies: 4,
            end_user_messages: 5,
            assignee_stations: 1,
            group_stations: 1,
            one_touch: false,
            inactivity_periods: 0,
            sla_first_reply_time: None,
            sla_next_reply_time: None,
            sla_periodic_update: None,
            sla_requester_wait_time: None,
            sla_agent_work_time: None,
            sla_total_resolution_time: None,
            at: Timestamp(AT.0 + 900_000),
        },
    );
    compare(
        c,
        "AgentMetrics",
        AgentMetrics {
            metrics_id: "acme/agent-0042/whatsapp/1732147200000".into(),
            account: "acme".into(),
            agent_id: "agent-0042".into(),
            channel: Channel::Whatsapp,
            status: AgentStatus::Online,
            capacity: 3,
            load: 2,
            offers_made: 118,
            offers_accepted: 109,
            offers_declined: 6,
            offers_timed_out: 3,
            assignments: 109,
            online_ms: Millis(25_200_000),
            away_ms: Millis(1_800_000),
            transfers_only_ms: Millis(0),
            offline_ms: Millis(59_400_000),
            at: AT,
            inactive: 0,
            status_reason: None,
        },
    );
}

criterion_group!(benches, records);
criterion_main!(benches);
