//! Every file in `schemas/` parses, and a value of every record type round-trips through
//! Apache Avro with it: the schema files and the Rust types cannot drift apart.

use apache_avro::schema_compatibility::SchemaCompatibility;
use apache_avro::types::{Record, Value};
use apache_avro::{from_avro_datum, from_value, to_avro_datum, to_value, Schema};
use parley_core::*;
use serde::{de::DeserializeOwned, Serialize};
use std::fmt::Debug;
use std::path::PathBuf;

fn schema(file: &str) -> Schema {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../schemas")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Schema::parse_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(file: &str, value: &T) {
    let schema = schema(file);
    let avro = to_value(value)
        .unwrap()
        .resolve(&schema)
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    let bytes = to_avro_datum(&schema, avro).unwrap_or_else(|e| panic!("{file}: {e}"));
    let decoded = from_avro_datum(&schema, &mut bytes.as_slice(), None).unwrap();
    let back: T = from_value(&decoded).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!(&back, value, "{file}");
}

#[test]
fn every_schema_file_parses_and_is_in_namespace_parley() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "avsc") {
            let schema = schema(path.file_name().unwrap().to_str().unwrap());
            let Schema::Record(record) = schema else {
                panic!("{} is not a record", path.display())
            };
            assert_eq!(
                record.name.namespace.as_deref(),
                Some("parley"),
                "{}",
                path.display()
            );
            assert!(record.doc.is_some(), "{} has no doc", path.display());
            for field in &record.fields {
                assert!(
                    field.doc.is_some(),
                    "{}: field {} has no doc",
                    path.display(),
                    field.name
                );
            }
            count += 1;
        }
    }
    assert_eq!(
        count, 15,
        "one schema per record of ARCHITECTURE.md and the SLA records"
    );
}

#[test]
fn conversation_event_round_trips() {
    round_trip(
        "conversation_event.avsc",
        &ConversationEvent {
            event_id: "wamid.HBgL".into(),
            account: "acme".into(),
            brand: Some("acme-eu".into()),
            conversation: "491701234567".into(),
            channel: Channel::Whatsapp,
            sent_at: Timestamp(1_700_000_000_000),
            received_at: Timestamp(1_700_000_000_250),
            text: Some("Hello, my order is late".into()),
            attachments: vec![
                Attachment {
                    kind: AttachmentKind::Image,
                    reference: Some("media-1".into()),
                },
                Attachment {
                    kind: AttachmentKind::Location,
                    reference: None,
                },
            ],
            author_name: Some("Ana".into()),
            reply_handles: vec![ReplyHandle {
                name: "phone_number_id".into(),
                value: "1234".into(),
            }],
        },
    );
    round_trip(
        "conversation_event.avsc",
        &ConversationEvent {
            event_id: "1".into(),
            account: "a".into(),
            brand: None,
            conversation: "c".into(),
            channel: Channel::X,
            sent_at: Timestamp(0),
            received_at: Timestamp(0),
            text: None,
            attachments: vec![],
            author_name: None,
            reply_handles: vec![],
        },
    );
}

#[test]
fn agent_action_round_trips() {
    for (kind, status, priority) in [
        (AgentActionKind::Accept, None, None),
        (AgentActionKind::SetStatus, Some(Status::OnHold), None),
        (AgentActionKind::Assign, None, None),
        (AgentActionKind::SetPriority, None, Some(2)),
    ] {
        round_trip(
            "agent_action.avsc",
            &AgentAction {
                action_id: "act-1".into(),
                account: "acme".into(),
                conversation: "c1".into(),
                agent_id: "agent-7".into(),
                kind,
                status,
                priority,
                at: Timestamp(42),
            },
        );
    }
}

#[test]
fn agent_presence_round_trips() {
    round_trip(
        "agent_presence.avsc",
        &AgentPresence {
            presence_id: "p-1".into(),
            account: "acme".into(),
            agent_id: "agent-7".into(),
            channels: vec![
                ChannelPresence {
                    channel: Channel::Web,
                    status: AgentStatus::Online,
                    capacity: 3,
                },
                ChannelPresence {
                    channel: Channel::Line,
                    status: AgentStatus::TransfersOnly,
                    capacity: 1,
                },
            ],
            skills: vec!["billing".into(), "german".into()],
            groups: vec!["tier-1".into()],
            at: Timestamp(7),
        },
    );
}

#[test]
fn style_config_round_trips() {
    round_trip(
        "style_config.avsc",
        &StyleConfig {
            account: "acme".into(),
            brand: Some("b".into()),
            channel: Some(Channel::Telegram),
            style: Style::LiveChatReturning,
            solved_to_closed_ms: Some(Millis::hours(1)),
            priority: 2,
            required_skills: vec!["vip".into()],
            group: Some("tier-2".into()),
            inactivity_ms: Some(Millis::minutes(15)),
            inactivity_reminders: vec![
                InactivityReminderStep {
                    after_ms: Millis::minutes(5),
                    set_status: None,
                },
                InactivityReminderStep {
                    after_ms: Millis::minutes(30),
                    set_status: Some(Status::Solved),
                },
            ],
            updated_at: Timestamp(9),
        },
    );
}

#[test]
fn account_routing_config_round_trips() {
    round_trip(
        "account_routing_config.avsc",
        &AccountRoutingConfig {
            account: "acme".into(),
            auto_accept: Some(vec![Channel::Whatsapp, Channel::Web]),
            offer_timeout_ms: Some(Millis::seconds(45)),
            skills_timeout_ms: None,
            returning_grace_ms: Some(Millis::minutes(5)),
            mode: Some(parley_core::routing::RoutingMode::RoundRobin),
            away_after_offer_timeouts: Some(3),
            queue_order: Some(parley_core::routing::QueueOrder::Sla),
            updated_at: Timestamp(9),
        },
    );
}

#[test]
fn queue_definition_round_trips() {
    round_trip(
        "queue_definition.avsc",
        &parley_core::routing::QueueDefinition {
            account: "acme".into(),
            queue_id: "vip".into(),
            position: -2,
            priority: 10,
            conditions: parley_core::routing::QueueConditions {
                channels: vec![Channel::Whatsapp],
                brands: vec!["shoes".into()],
                min_priority: Some(5),
                skills: vec!["billing".into()],
            },
            primary_group: "tier1".into(),
            secondary_groups: vec!["tier2".into(), "tier3".into()],
            secondary_after_ms: Millis::minutes(2),
            updated_at: Timestamp(9),
        },
    );
}

#[test]
fn routing_request_round_trips() {
    round_trip(
        "routing_request.avsc",
        &RoutingRequest {
            request_id: "t-1.r1".into(),
            account: "acme".into(),
            conversation: "c1".into(),
            ticket_id: "t-1".into(),
            kind: RoutingRequestKind::Consume,
            agent_id: Some("agent-7".into()),
            channel: Channel::Instagram,
            priority: -1,
            required_skills: vec!["spanish".into()],
            group: None,
            brand: Some("shoes".into()),
            created_at: Timestamp(1),
            sla_breach_at: Some(Timestamp(600_001)),
            at: Timestamp(2),
        },
    );
}

#[test]
fn routing_decision_round_trips() {
    round_trip(
        "routing_decision.avsc",
        &RoutingDecision {
            decision_id: "d-1".into(),
            account: "acme".into(),
            conversation: "c1".into(),
            ticket_id: "t-1".into(),
            kind: RoutingDecisionKind::OfferWithdrawn,
            agent_id: Some("agent-7".into()),
            reason: "offer_timeout".into(),
            at: Timestamp(3),
        },
    );
}

#[test]
fn status_change_round_trips() {
    round_trip(
        "status_change.avsc",
        &StatusChange {
            change_id: "t-2.s1".into(),
            ticket_id: "t-2".into(),
            account: "acme".into(),
            brand: None,
            conversation: "c1".into(),
            channel: Channel::Wechat,
            style: Style::LiveChat,
            from: None,
            to: Status::New,
            actor_kind: ActorKind::EndUser,
            actor_id: None,
            reason: "end_user_message".into(),
            assignee: None,
            predecessor_ticket_id: Some("t-1".into()),
            at: Timestamp(4),
        },
    );
}

#[test]
fn ticket_metrics_round_trips() {
    round_trip(
        "ticket_metrics.avsc",
        &TicketMetrics {
            metrics_id: "t-1.m1".into(),
            ticket_id: "t-1".into(),
            account: "acme".into(),
            brand: Some("b".into()),
            conversation: "c1".into(),
            channel: Channel::Messenger,
            style: Style::SocialMessaging,
            status: Status::Solved,
            assignee: Some("agent-7".into()),
            group: Some("tier-1".into()),
            predecessor_ticket_id: None,
            created_at: Timestamp(0),
            first_assigned_at: Some(Timestamp(10)),
            first_agent_reply_at: Some(Timestamp(20)),
            first_solved_at: Some(Timestamp(30)),
            last_solved_at: Some(Timestamp(30)),
            closed_at: None,
            first_reply_time_ms: Some(Millis(20)),
            first_resolution_time_ms: Some(Millis(30)),
            full_resolution_time_ms: Some(Millis(30)),
            requester_wait_time_ms: Millis(30),
            agent_wait_time_ms: Millis::ZERO,
            on_hold_time_ms: Millis::ZERO,
            solved_time_ms: Millis::ZERO,
            agent_work_time_ms: Millis(30),
            time_in_queue_ms: Some(Millis(10)),
            offer_acceptance_time_ms: Some(Millis(4)),
            reopens: 0,
            agent_replies: 1,
            end_user_messages: 2,
            assignee_stations: 1,
            group_stations: 1,
            one_touch: true,
            inactivity_periods: 1,
            sla_first_reply_time: Some(sla::SlaMetricOutcome {
                policy_id: "standard".into(),
                target_ms: Millis(600_000),
                business_hours: true,
                elapsed_ms: Millis(20),
                outcome: sla::SlaOutcome::Achieved,
                achieved: 1,
                breached: 0,
            }),
            sla_next_reply_time: Some(sla::SlaMetricOutcome {
                policy_id: "vip".into(),
                target_ms: Millis(900_000),
                business_hours: false,
                elapsed_ms: Millis(2_400_000),
                outcome: sla::SlaOutcome::Breached,
                achieved: 2,
                breached: 1,
            }),
            sla_periodic_update: None,
            sla_requester_wait_time: None,
            sla_agent_work_time: None,
            sla_total_resolution_time: None,
            at: Timestamp(30),
        },
    );
}

/// The `TicketMetrics` schema before the SLA fields: today's without them.
fn ticket_metrics_before_sla() -> Schema {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/ticket_metrics.avsc");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let fields = json["fields"].as_array_mut().unwrap();
    let before = fields.len();
    fields.retain(|f| !f["name"].as_str().unwrap().starts_with("sla_"));
    assert_eq!(before - fields.len(), 6, "one field per SLA metric");
    Schema::parse(&json).unwrap()
}

#[test]
fn ticket_metrics_written_before_the_sla_fields_read_with_them_empty() {
    let old = ticket_metrics_before_sla();
    let new = schema("ticket_metrics.avsc");
    assert!(
        SchemaCompatibility::can_read(&old, &new).is_ok(),
        "BACKWARD: a reader with the new schema reads records written with the old one"
    );
    let mut written = Record::new(&old).unwrap();
    for (name, value) in [
        ("metrics_id", "t-1.m1".into()),
        ("ticket_id", "t-1".into()),
        ("account", "acme".into()),
        ("conversation", "c1".into()),
        ("channel", Value::Enum(3, "whatsapp".into())),
        ("style", Value::Enum(2, "social_messaging".into())),
        ("status", Value::Enum(4, "solved".into())),
    ] {
        written.put(name, value);
    }
    for name in ["created_at", "at"] {
        written.put(name, Value::TimestampMillis(30));
    }
    for name in [
        "requester_wait_time_ms",
        "agent_wait_time_ms",
        "on_hold_time_ms",
        "solved_time_ms",
        "agent_work_time_ms",
    ] {
        written.put(name, 30i64);
    }
    for name in [
        "reopens",
        "agent_replies",
        "end_user_messages",
        "assignee_stations",
        "group_stations",
        "inactivity_periods",
    ] {
        written.put(name, 1i32);
    }
    written.put("one_touch", false);
    for field in [
        "brand",
        "assignee",
        "group",
        "predecessor_ticket_id",
        "first_assigned_at",
        "first_agent_reply_at",
        "first_solved_at",
        "last_solved_at",
        "closed_at",
        "first_reply_time_ms",
        "first_resolution_time_ms",
        "full_resolution_time_ms",
        "time_in_queue_ms",
        "offer_acceptance_time_ms",
    ] {
        written.put(field, Value::Union(0, Box::new(Value::Null)));
    }
    let bytes = to_avro_datum(&old, written).unwrap();
    let read = from_avro_datum(&old, &mut bytes.as_slice(), Some(&new)).unwrap();
    let metrics: TicketMetrics = from_value(&read).unwrap();
    assert_eq!(&*metrics.ticket_id, "t-1");
    assert_eq!(metrics.inactivity_periods, 1);
    assert_eq!(metrics.at, Timestamp(30));
    for outcome in [
        &metrics.sla_first_reply_time,
        &metrics.sla_next_reply_time,
        &metrics.sla_periodic_update,
        &metrics.sla_requester_wait_time,
        &metrics.sla_agent_work_time,
        &metrics.sla_total_resolution_time,
    ] {
        assert_eq!(outcome, &None);
    }
}

#[test]
fn agent_metrics_round_trips() {
    round_trip(
        "agent_metrics.avsc",
        &AgentMetrics {
            metrics_id: "m-1".into(),
            account: "acme".into(),
            agent_id: "agent-7".into(),
            channel: Channel::Android,
            status: AgentStatus::Away,
            capacity: 3,
            load: 1,
            offers_made: 5,
            offers_accepted: 3,
            offers_declined: 1,
            offers_timed_out: 1,
            assignments: 3,
            online_ms: Millis(100),
            away_ms: Millis(5),
            transfers_only_ms: Millis::ZERO,
            offline_ms: Millis(1),
            at: Timestamp(11),
            inactive: 2,
            status_reason: Some("missed_offers".into()),
        },
    );
}

#[test]
fn sla_event_round_trips() {
    for due_at in [None, Some(Timestamp(1_800_000_000_000))] {
        round_trip(
            "sla_event.avsc",
            &sla::SlaEvent {
                event_id: "t-1.l3".into(),
                ticket_id: "t-1".into(),
                account: "acme".into(),
                conversation: "c1".into(),
                metric: sla::SlaMetric::NextReplyTime,
                policy_id: "standard".into(),
                target_ms: Millis::minutes(30),
                due_at,
                kind: sla::SlaEventKind::Paused,
                at: Timestamp(5),
                business_hours: true,
            },
        );
    }
}

#[test]
fn schedule_round_trips() {
    round_trip(
        "schedule.avsc",
        &sla::Schedule {
            account: "acme".into(),
            schedule_id: "support".into(),
            time_zone: "Europe/Berlin".into(),
            intervals: vec![sla::BusinessInterval {
                day: sla::Weekday::Friday,
                start_minute: 1_320,
                end_minute: 120,
            }],
            holidays: vec!["2026-12-25".into()],
            updated_at: Timestamp(3),
        },
    );
}

#[test]
fn sla_policy_round_trips() {
    round_trip(
        "sla_policy.avsc",
        &sla::SlaPolicy {
            account: "acme".into(),
            policy_id: "vip".into(),
            position: -2,
            conditions: sla::SlaConditions {
                priorities: vec![sla::SlaPriority::Urgent, sla::SlaPriority::High],
                channels: vec![Channel::Whatsapp],
                brands: vec!["b".into()],
            },
            schedule_id: Some("support".into()),
            targets: vec![sla::SlaTarget {
                metric: sla::SlaMetric::AgentWorkTime,
                priority: sla::SlaPriority::Low,
                target_ms: Millis::hours(8),
                business_hours: true,
            }],
            updated_at: Timestamp(4),
        },
    );
}
