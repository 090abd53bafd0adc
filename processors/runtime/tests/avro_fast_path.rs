//! The hand-written Avro codecs against apache-avro: byte-identical bodies, equal decodes,
//! the same refusals of corrupt bodies, and guards that fail when a schema drifts away from
//! what the codecs were written for.

use apache_avro::{from_avro_datum, from_value, to_avro_datum, to_value, Schema};
use parley_core::routing::{QueueConditions, QueueDefinition, QueueOrder, RoutingMode};
use parley_core::sla::*;
use parley_core::*;
use parley_runtime::codec::binary::{AvroEnum, BodyReader};
use parley_runtime::codec::schemas::*;
use parley_runtime::codec::{AvroCodec, AvroRecord};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestCaseError;
use std::fmt::Debug;
use std::path::PathBuf;

/// apache-avro's serde path: `to_value`, resolve, `to_avro_datum`.
fn apache_body<T: AvroRecord>(schema: &Schema, value: &T) -> Result<Vec<u8>, String> {
    to_value(value)
        .and_then(|v| v.resolve(schema))
        .and_then(|v| to_avro_datum(schema, v))
        .map_err(|e| e.to_string())
}

/// apache-avro's serde path back: `from_avro_datum`, `from_value`.
fn apache_read<T: AvroRecord>(schema: &Schema, body: &[u8]) -> Result<T, String> {
    from_avro_datum(schema, &mut &body[..], None)
        .map_err(|e| e.to_string())
        .and_then(|v| from_value(&v).map_err(|e| e.to_string()))
}

fn fast_body<T: AvroRecord>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    value.write_body(&mut out).unwrap();
    out
}

/// The body is apache-avro's byte for byte, both decoders read it back to `value` (the fast
/// one to its last byte), and the codec's framing round-trips it.
fn agrees_with_apache<T: AvroRecord + PartialEq + Debug>(value: &T) -> Result<(), TestCaseError> {
    let schema = Schema::parse_str(T::SCHEMA).unwrap();
    let theirs = apache_body(&schema, value).map_err(TestCaseError::fail)?;
    let ours = fast_body(value);
    prop_assert_eq!(&ours, &theirs);
    let mut reader = BodyReader::new(&theirs);
    let fast = T::read_body(&mut reader).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(reader.remaining().is_empty(), "left unread");
    let slow: T = apache_read(&schema, &theirs).map_err(TestCaseError::fail)?;
    prop_assert_eq!(&fast, &slow);
    prop_assert_eq!(&fast, value);
    let codec = AvroCodec::<T>::single_object();
    let framed = codec.encode(value).unwrap();
    prop_assert_eq!(&framed[10..], &theirs[..]);
    prop_assert_eq!(&codec.decode(&framed).unwrap(), value);
    Ok(())
}

fn text() -> BoxedStrategy<String> {
    // Short ones, and ones long enough for a length of two varint bytes; any non-control
    // character, so multi-byte UTF-8 too.
    prop_oneof![4 => "\\PC{0,12}", 1 => "\\PC{40,120}"].boxed()
}

fn optional_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(text())
}

fn texts() -> BoxedStrategy<Vec<String>> {
    prop_oneof![
        4 => proptest::collection::vec(text(), 0..4),
        1 => proptest::collection::vec("[a-z_]{1,10}", 64..200),
    ]
    .boxed()
}

fn symbol<E: AvroEnum + Debug + 'static>() -> impl Strategy<Value = E> {
    proptest::sample::select(
        (0..E::SYMBOLS)
            .map(|i| E::from_index(i).unwrap())
            .collect::<Vec<E>>(),
    )
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    prop_oneof![any::<i64>(), 1_600_000_000_000i64..1_900_000_000_000].prop_map(Timestamp)
}

fn millis() -> impl Strategy<Value = Millis> {
    prop_oneof![any::<i64>(), -100i64..100_000].prop_map(Millis)
}

fn count32() -> impl Strategy<Value = u32> {
    prop_oneof![0u32..200, 0..=i32::MAX as u32]
}

fn count64() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..200, 0..=i64::MAX as u64]
}

fn conversation_event() -> impl Strategy<Value = ConversationEvent> {
    let attachment =
        || (symbol(), optional_text()).prop_map(|(kind, reference)| Attachment { kind, reference });
    let handle = (text(), text()).prop_map(|(name, value)| ReplyHandle { name, value });
    (
        (text(), text(), optional_text(), text(), symbol()),
        (timestamp(), timestamp(), optional_text(), optional_text()),
        prop_oneof![
            4 => proptest::collection::vec(attachment(), 0..4),
            1 => proptest::collection::vec(attachment(), 64..100),
        ],
        proptest::collection::vec(handle, 0..3),
    )
        .prop_map(
            |(
                (event_id, account, brand, conversation, channel),
                (sent_at, received_at, text, author_name),
                attachments,
                reply_handles,
            )| ConversationEvent {
                event_id,
                account,
                brand,
                conversation,
                channel,
                sent_at,
                received_at,
                text,
                attachments,
                author_name,
                reply_handles,
            },
        )
}

fn agent_action() -> impl Strategy<Value = AgentAction> {
    (
        text(),
        text(),
        text(),
        text(),
        symbol(),
        proptest::option::of(symbol()),
        proptest::option::of(any::<i32>()),
        timestamp(),
    )
        .prop_map(
            |(action_id, account, conversation, agent_id, kind, status, priority, at)| {
                AgentAction {
                    action_id,
                    account,
                    conversation,
                    agent_id,
                    kind,
                    status,
                    priority,
                    at,
                }
            },
        )
}

fn agent_presence() -> impl Strategy<Value = AgentPresence> {
    let channel =
        (symbol(), symbol(), count32()).prop_map(|(channel, status, capacity)| ChannelPresence {
            channel,
            status,
            capacity,
        });
    (
        text(),
        text(),
        text(),
        proptest::collection::vec(channel, 0..12),
        texts(),
        texts(),
        timestamp(),
    )
        .prop_map(
            |(presence_id, account, agent_id, channels, skills, groups, at)| AgentPresence {
                presence_id,
                account,
                agent_id,
                channels,
                skills,
                groups,
                at,
            },
        )
}

fn style_config() -> impl Strategy<Value = StyleConfig> {
    (
        text(),
        optional_text(),
        proptest::option::of(symbol()),
        symbol(),
        proptest::option::of(millis()),
        any::<i32>(),
        texts(),
        optional_text(),
        proptest::collection::vec(reminder_step(), 0..4),
        timestamp(),
    )
        .prop_map(
            |(
                account,
                brand,
                channel,
                style,
                solved_to_closed_ms,
                priority,
                required_skills,
                group,
                inactivity_reminders,
                updated_at,
            )| StyleConfig {
                account,
                brand,
                channel,
                style,
                solved_to_closed_ms,
                priority,
                required_skills,
                inactivity_ms: solved_to_closed_ms,
                inactivity_reminders,
                group,
                updated_at,
            },
        )
}

fn reminder_step() -> impl Strategy<Value = InactivityReminderStep> {
    (millis(), proptest::option::of(symbol::<Status>())).prop_map(|(after_ms, set_status)| {
        InactivityReminderStep {
            after_ms,
            set_status,
        }
    })
}

fn inactivity_reminder() -> impl Strategy<Value = InactivityReminder> {
    (
        (text(), text(), text(), text()),
        (
            symbol::<Channel>(),
            any::<i32>(),
            proptest::option::of(symbol::<Status>()),
            timestamp(),
        ),
    )
        .prop_map(
            |((reminder_id, account, conversation, ticket_id), (channel, step, set_status, at))| {
                InactivityReminder {
                    reminder_id: reminder_id.into(),
                    account: account.into(),
                    conversation: conversation.into(),
                    ticket_id: ticket_id.into(),
                    channel,
                    step,
                    set_status,
                    at,
                }
            },
        )
}

fn routing_request() -> impl Strategy<Value = RoutingRequest> {
    (
        (text(), text(), text(), text(), symbol(), optional_text()),
        (
            symbol(),
            any::<i32>(),
            texts(),
            optional_text(),
            optional_text(),
            timestamp(),
            proptest::option::of(timestamp()),
            timestamp(),
        ),
    )
        .prop_map(
            |(
                (request_id, account, conversation, ticket_id, kind, agent_id),
                (channel, priority, required_skills, group, brand, created_at, sla_breach_at, at),
            )| RoutingRequest {
                request_id: request_id.into(),
                account: account.into(),
                conversation: conversation.into(),
                ticket_id: ticket_id.into(),
                kind,
                agent_id,
                channel,
                priority,
                required_skills,
                group,
                brand,
                created_at,
                sla_breach_at,
                at,
            },
        )
}

fn routing_decision() -> impl Strategy<Value = RoutingDecision> {
    (
        text(),
        text(),
        text(),
        text(),
        symbol(),
        optional_text(),
        text(),
        timestamp(),
    )
        .prop_map(
            |(decision_id, account, conversation, ticket_id, kind, agent_id, reason, at)| {
                RoutingDecision {
                    decision_id,
                    account,
                    conversation,
                    ticket_id,
                    kind,
                    agent_id,
                    reason,
                    at,
                }
            },
        )
}

fn status_change() -> impl Strategy<Value = StatusChange> {
    (
        (
            text(),
            text(),
            text(),
            optional_text(),
            text(),
            symbol(),
            symbol(),
        ),
        (
            proptest::option::of(symbol()),
            symbol(),
            symbol(),
            optional_text(),
            text(),
            optional_text(),
            optional_text(),
            timestamp(),
        ),
    )
        .prop_map(
            |(
                (change_id, ticket_id, account, brand, conversation, channel, style),
                (from, to, actor_kind, actor_id, reason, assignee, predecessor_ticket_id, at),
            )| StatusChange {
                change_id: change_id.into(),
                ticket_id: ticket_id.into(),
                account: account.into(),
                brand,
                conversation: conversation.into(),
                channel,
                style,
                from,
                to,
                actor_kind,
                actor_id,
                reason,
                assignee,
                predecessor_ticket_id,
                at,
            },
        )
}

fn sla_metric_outcome() -> impl Strategy<Value = SlaMetricOutcome> {
    (
        text(),
        millis(),
        any::<bool>(),
        millis(),
        symbol(),
        count32(),
        count32(),
    )
        .prop_map(
            |(policy_id, target_ms, business_hours, elapsed_ms, outcome, achieved, breached)| {
                SlaMetricOutcome {
                    policy_id,
                    target_ms,
                    business_hours,
                    elapsed_ms,
                    outcome,
                    achieved,
                    breached,
                }
            },
        )
}

fn ticket_metrics() -> impl Strategy<Value = TicketMetrics> {
    let instant = || proptest::option::of(timestamp());
    let span = || proptest::option::of(millis());
    let outcome = || proptest::option::of(sla_metric_outcome());
    (
        (
            text(),
            text(),
            text(),
            optional_text(),
            text(),
            symbol(),
            symbol(),
            symbol(),
            optional_text(),
            optional_text(),
            optional_text(),
            timestamp(),
        ),
        (instant(), instant(), instant(), instant(), instant()),
        (span(), span(), span()),
        (millis(), millis(), millis(), millis(), millis()),
        (span(), span()),
        (
            count32(),
            count32(),
            count32(),
            count32(),
            count32(),
            any::<bool>(),
            timestamp(),
        ),
        (
            outcome(),
            outcome(),
            outcome(),
            outcome(),
            outcome(),
            outcome(),
        ),
    )
        .prop_map(
            |(
                (
                    metrics_id,
                    ticket_id,
                    account,
                    brand,
                    conversation,
                    channel,
                    style,
                    status,
                    assignee,
                    group,
                    predecessor_ticket_id,
                    created_at,
                ),
                (
                    first_assigned_at,
                    first_agent_reply_at,
                    first_solved_at,
                    last_solved_at,
                    closed_at,
                ),
                (first_reply_time_ms, first_resolution_time_ms, full_resolution_time_ms),
                (
                    requester_wait_time_ms,
                    agent_wait_time_ms,
                    on_hold_time_ms,
                    solved_time_ms,
                    agent_work_time_ms,
                ),
                (time_in_queue_ms, offer_acceptance_time_ms),
                (
                    reopens,
                    agent_replies,
                    end_user_messages,
                    assignee_stations,
                    group_stations,
                    one_touch,
                    at,
                ),
                (
                    sla_first_reply_time,
                    sla_next_reply_time,
                    sla_periodic_update,
                    sla_requester_wait_time,
                    sla_agent_work_time,
                    sla_total_resolution_time,
                ),
            )| TicketMetrics {
                metrics_id: metrics_id.into(),
                ticket_id: ticket_id.into(),
                account: account.into(),
                brand,
                conversation: conversation.into(),
                channel,
                style,
                status,
                assignee,
                group,
                predecessor_ticket_id,
                created_at,
                first_assigned_at,
                first_agent_reply_at,
                first_solved_at,
                last_solved_at,
                closed_at,
                first_reply_time_ms,
                first_resolution_time_ms,
                full_resolution_time_ms,
                requester_wait_time_ms,
                agent_wait_time_ms,
                on_hold_time_ms,
                solved_time_ms,
                agent_work_time_ms,
                time_in_queue_ms,
                offer_acceptance_time_ms,
                reopens,
                agent_replies,
                end_user_messages,
                assignee_stations,
                group_stations,
                one_touch,
                inactivity_periods: reopens / 2,
                sla_first_reply_time,
                sla_next_reply_time,
                sla_periodic_update,
                sla_requester_wait_time,
                sla_agent_work_time,
                sla_total_resolution_time,
                at,
            },
        )
}

fn agent_metrics() -> impl Strategy<Value = AgentMetrics> {
    (
        (
            text(),
            text(),
            text(),
            symbol(),
            symbol(),
            count32(),
            count32(),
        ),
        (count64(), count64(), count64(), count64(), count64()),
        (millis(), millis(), millis(), millis(), timestamp()),
    )
        .prop_map(
            |(
                (metrics_id, account, agent_id, channel, status, capacity, load),
                (offers_made, offers_accepted, offers_declined, offers_timed_out, assignments),
                (online_ms, away_ms, transfers_only_ms, offline_ms, at),
            )| AgentMetrics {
                metrics_id,
                account,
                agent_id,
                channel,
                status,
                capacity,
                load,
                offers_made,
                offers_accepted,
                offers_declined,
                offers_timed_out,
                assignments,
                online_ms,
                away_ms,
                transfers_only_ms,
                offline_ms,
                at,
                inactive: load / 2,
                status_reason: (status == AgentStatus::Away).then(|| "missed_offers".to_owned()),
            },
        )
}

fn queue_definition() -> impl Strategy<Value = QueueDefinition> {
    (
        (text(), text(), any::<i32>(), any::<i32>()),
        (
            proptest::collection::vec(symbol::<Channel>(), 0..4),
            texts(),
            proptest::option::of(any::<i32>()),
            texts(),
        ),
        (text(), texts(), millis(), timestamp()),
    )
        .prop_map(
            |(
                (account, queue_id, position, priority),
                (channels, brands, min_priority, skills),
                (primary_group, secondary_groups, secondary_after_ms, updated_at),
            )| QueueDefinition {
                account,
                queue_id,
                position,
                priority,
                conditions: QueueConditions {
                    channels,
                    brands,
                    min_priority,
                    skills,
                },
                primary_group,
                secondary_groups,
                secondary_after_ms,
                updated_at,
            },
        )
}

fn account_routing_config() -> impl Strategy<Value = AccountRoutingConfig> {
    (
        text(),
        proptest::option::of(proptest::collection::vec(symbol::<Channel>(), 0..4)),
        proptest::option::of(millis()),
        proptest::option::of(millis()),
        proptest::option::of(millis()),
        proptest::option::of(symbol::<RoutingMode>()),
        proptest::option::of(0..i32::MAX as u32),
        proptest::option::of(symbol::<QueueOrder>()),
        timestamp(),
    )
        .prop_map(
            |(
                account,
                auto_accept,
                offer_timeout_ms,
                skills_timeout_ms,
                returning_grace_ms,
                mode,
                away_after_offer_timeouts,
                queue_order,
                updated_at,
            )| AccountRoutingConfig {
                account,
                auto_accept,
                offer_timeout_ms,
                skills_timeout_ms,
                returning_grace_ms,
                mode,
                away_after_offer_timeouts,
                queue_order,
                updated_at,
            },
        )
}

fn sla_event() -> impl Strategy<Value = SlaEvent> {
    (
        (text(), text(), text(), text(), symbol(), text()),
        (
            millis(),
            proptest::option::of(timestamp()),
            symbol(),
            timestamp(),
            any::<bool>(),
        ),
        (any::<bool>(), any::<u32>()),
    )
        .prop_map(
            |(
                (event_id, ticket_id, account, conversation, metric, policy_id),
                (target_ms, due_at, kind, at, business_hours),
                (as_parts, ordinal),
            )| SlaEvent {
                // The clocks' ids are kept as parts; one read back may be any text.
                event_id: if as_parts {
                    parley_core::ids::RecordId::new(&ticket_id.as_str().into(), 'l', ordinal)
                } else {
                    event_id.into()
                },
                ticket_id: ticket_id.into(),
                account: account.into(),
                conversation: conversation.into(),
                metric,
                policy_id: policy_id.into(),
                target_ms,
                due_at,
                kind,
                at,
                business_hours,
            },
        )
}

fn schedule() -> impl Strategy<Value = Schedule> {
    let interval =
        (symbol(), any::<u16>(), any::<u16>()).prop_map(|(day, start, end)| BusinessInterval {
            day,
            start_minute: start,
            end_minute: end,
        });
    (
        text(),
        text(),
        text(),
        proptest::collection::vec(interval, 0..10),
        texts(),
        timestamp(),
    )
        .prop_map(
            |(account, schedule_id, time_zone, intervals, holidays, updated_at)| Schedule {
                account,
                schedule_id,
                time_zone,
                intervals,
                holidays,
                updated_at,
            },
        )
}

fn sla_policy() -> impl Strategy<Value = SlaPolicy> {
    let conditions = (
        proptest::collection::vec(symbol(), 0..4),
        proptest::collection::vec(symbol(), 0..4),
        texts(),
    )
        .prop_map(|(priorities, channels, brands)| SlaConditions {
            priorities,
            channels,
            brands,
        });
    let target = (symbol(), symbol(), millis(), any::<bool>()).prop_map(
        |(metric, priority, target_ms, business_hours)| SlaTarget {
            metric,
            priority,
            target_ms,
            business_hours,
        },
    );
    (
        text(),
        text(),
        any::<i32>(),
        conditions,
        optional_text(),
        proptest::collection::vec(target, 0..30),
        timestamp(),
    )
        .prop_map(
            |(account, policy_id, position, conditions, schedule_id, targets, updated_at)| {
                SlaPolicy {
                    account,
                    policy_id,
                    position,
                    conditions,
                    schedule_id,
                    targets,
                    updated_at,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn conversation_events_agree_with_apache_avro(value in conversation_event()) {
        agrees_with_apache(&value)?;
    }

    #[test]
    fn agent_actions_agree_with_apache_avro(value in agent_action()) {
        agrees_with_apache(&value)?;
    }

    #[test]
    fn agent_presences_agree_with_apache_avro(value in agent_presence()) {
        agrees_with_apache(&value)?;
    }

    #[test]
    fn style_configs_agree_with_apache_avro(value in style_config()) {
        agrees_with_apache(&value)?;
    }

    #[test]
    fn routing_requests_agree_with_apache_avro(value in routing_request()) {
        agrees_with_apache(&value)?;
    }

    #[test]
    fn routing_decisions_agree_with_apache_avro(value in routing_decision()) {
        agrees_with_apache(&value)?;
    }

    #[test]
    fn status_changes_agree_with_apache_avro(value in status_change()) {
        agrees_with_apache(&value)?;
    }

    #[test]
    fn ticket_metrics_agree_with_apache_avro(value in ticket_metrics()) {
        agrees_with_apache(&value)?;
    }

    #[test]
    fn agent_metrics_agree_with_apache_avro(value in agent_metrics()) {
        agrees_with_apache(&value)?;
    }

    #[test]
    fn sla_events_agree_with_apache_avro(value in sla_event()) {
        agrees_with_apache(&value)?;
    }

    #[test]
    fn schedules_agree_with_apache_avro(value in schedule()) {
        agrees_with_apache(&value)?;
    }

    #[test]
    fn sla_policies_agree_with_apache_avro(value in sla_policy()) {
        agrees_with_apache(&value)?;
    }

    #[test]
    fn inactivity_reminders_agree_with_apache_avro(value in inactivity_reminder()) {
        agrees_with_apache(&value)?;
    }

    #[test]
    fn queue_definitions_agree_with_apache_avro(value in queue_definition()) {
        agrees_with_apache(&value)?;
    }

    #[test]
    fn account_routing_configs_agree_with_apache_avro(value in account_routing_config()) {
        agrees_with_apache(&value)?;
    }
}

/// Checks an enum's indexes against the symbols of its definition in a schema: index `i`
/// is the variant serde names `symbols[i]`, and back.
fn symbols_match<E: AvroEnum + serde::de::DeserializeOwned + PartialEq + Debug>(
    name: &str,
    symbols: &[String],
) {
    assert_eq!(E::SYMBOLS, symbols.len(), "{name}: {symbols:?}");
    for (i, symbol) in symbols.iter().enumerate() {
        let variant: E = serde_json::from_value(serde_json::json!(symbol))
            .unwrap_or_else(|e| panic!("{name}: symbol {symbol} is no variant: {e}"));
        assert_eq!(E::from_index(i), Some(variant), "{name}: index {i}");
        assert_eq!(variant.index(), i as i64, "{name}: {symbol}");
    }
    assert_eq!(E::from_index(symbols.len()), None, "{name}");
}

fn schema_files() -> Vec<(PathBuf, serde_json::Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "avsc"))
        .map(|path| {
            let json = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            (path, json)
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

fn enums_in(json: &serde_json::Value, found: &mut Vec<(String, Vec<String>)>) {
    match json {
        serde_json::Value::Object(map) => {
            if map.get("type").and_then(|t| t.as_str()) == Some("enum") {
                let name = map["name"].as_str().unwrap().to_owned();
                let symbols = map["symbols"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_owned())
                    .collect();
                found.push((name, symbols));
            }
            map.values().for_each(|v| enums_in(v, found));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| enums_in(v, found)),
        _ => {}
    }
}

#[test]
fn every_enum_of_every_schema_has_its_symbol_indexes() {
    let mut checked = 0;
    for (path, json) in schema_files() {
        let mut found = Vec::new();
        enums_in(&json, &mut found);
        for (name, symbols) in found {
            match name.as_str() {
                "Channel" => symbols_match::<Channel>(&name, &symbols),
                "Status" => symbols_match::<Status>(&name, &symbols),
                "Style" => symbols_match::<Style>(&name, &symbols),
                "ActorKind" => symbols_match::<ActorKind>(&name, &symbols),
                "AgentStatus" => symbols_match::<AgentStatus>(&name, &symbols),
                "AttachmentKind" => symbols_match::<AttachmentKind>(&name, &symbols),
                "AgentActionKind" => symbols_match::<AgentActionKind>(&name, &symbols),
                "RoutingRequestKind" => symbols_match::<RoutingRequestKind>(&name, &symbols),
                "RoutingDecisionKind" => symbols_match::<RoutingDecisionKind>(&name, &symbols),
                "SlaMetric" => symbols_match::<SlaMetric>(&name, &symbols),
                "SlaPriority" => symbols_match::<SlaPriority>(&name, &symbols),
                "SlaEventKind" => symbols_match::<SlaEventKind>(&name, &symbols),
                "SlaOutcome" => symbols_match::<SlaOutcome>(&name, &symbols),
                "Weekday" => symbols_match::<Weekday>(&name, &symbols),
                "RoutingMode" => symbols_match::<RoutingMode>(&name, &symbols),
                "QueueOrder" => symbols_match::<QueueOrder>(&name, &symbols),
                other => panic!(
                    "{}: enum {other} has no hand-written codec in processors/runtime/src/codec/records.rs",
                    path.display()
                ),
            }
            checked += 1;
        }
    }
    assert!(checked >= 9, "{checked}");
}

/// The CRC-64-AVRO fingerprint of each schema's parsing canonical form (field names, order
/// and types, enum symbols; not docs or defaults) when its hand-written codec was last
/// checked against it.
const WRITTEN_FOR: [(&str, &str, u64); 15] = [
    (
        "AccountRoutingConfig",
        ACCOUNT_ROUTING_CONFIG,
        0x994ca6aa9b4c41ee,
    ),
    ("AgentAction", AGENT_ACTION, 0x5beef79cb3283a39),
    ("AgentMetrics", AGENT_METRICS, 0x893641890f773412),
    ("AgentPresence", AGENT_PRESENCE, 0x1e8a7f935f27004f),
    ("ConversationEvent", CONVERSATION_EVENT, 0xde582d5a12c93180),
    (
        "InactivityReminder",
        INACTIVITY_REMINDER,
        0x4599523530dcf4f3,
    ),
    ("QueueDefinition", QUEUE_DEFINITION, 0xa5e4c34cce850031),
    ("RoutingDecision", ROUTING_DECISION, 0x8bf0d4edb03da0cc),
    ("RoutingRequest", ROUTING_REQUEST, 0x950d9e483e7d2bfd),
    ("Schedule", SCHEDULE, 0xe115db9c75ea3989),
    ("SlaEvent", SLA_EVENT, 0xba14bdfd9287af58),
    ("SlaPolicy", SLA_POLICY, 0x1168432464381796),
    ("StatusChange", STATUS_CHANGE, 0xebb6e0951d2d14c6),
    ("StyleConfig", STYLE_CONFIG, 0x35a07eb1ba7daa1a),
    ("TicketMetrics", TICKET_METRICS, 0xbfb1527d514e3db3),
];

fn fingerprint(text: &str) -> u64 {
    u64::from_le_bytes(parley_runtime::codec::canonical::single_object_fingerprint(text).unwrap())
}

#[test]
fn every_schema_is_the_one_its_hand_written_codec_was_written_for() {
    for (name, text, expected) in WRITTEN_FOR {
        let actual = fingerprint(text);
        assert_eq!(
            actual, expected,
            "schemas of {name} changed ({actual:#x}): update its codec in \
             processors/runtime/src/codec/records.rs and the samples of tests/avro_fast_path.rs, \
             then this fingerprint"
        );
    }
    // A new schema file needs a codec too.
    for (path, json) in schema_files() {
        let name = json["name"].as_str().unwrap();
        assert!(
            WRITTEN_FOR.iter().any(|(known, _, _)| *known == name),
            "{}: record {name} has no hand-written codec",
            path.display()
        );
    }
}

fn agent_metrics_sample() -> AgentMetrics {
    AgentMetrics {
        metrics_id: "m-1".into(),
        account: "acme".into(),
        agent_id: "a1".into(),
        channel: Channel::Viber,
        status: AgentStatus::TransfersOnly,
        capacity: 3,
        load: 1,
        offers_made: 4,
        offers_accepted: 3,
        offers_declined: 1,
        offers_timed_out: 0,
        assignments: 3,
        online_ms: Millis(60_000),
        away_ms: Millis(-1),
        transfers_only_ms: Millis(0),
        offline_ms: Millis(5),
        at: Timestamp(1_700),
        inactive: 2,
        status_reason: Some("missed_offers".into()),
    }
}

#[test]
fn an_unsigned_value_above_the_avro_int_is_refused_where_apache_avro_wraps_it() {
    let schema = Schema::parse_str(AGENT_METRICS).unwrap();
    let value = AgentMetrics {
        capacity: i32::MAX as u32 + 1,
        ..agent_metrics_sample()
    };
    let mut out = Vec::new();
    let error = value.write_body(&mut out).unwrap_err();
    assert!(
        error.to_string().contains("capacity = 2147483648"),
        "{error}"
    );
    // apache-avro writes it as a negative int, which neither decoder reads back.
    let wrapped = apache_body(&schema, &value).unwrap();
    assert!(apache_read::<AgentMetrics>(&schema, &wrapped).is_err());
    assert!(AgentMetrics::read_body(&mut BodyReader::new(&wrapped)).is_err());
    // Above i64::MAX, both refuse.
    let value = AgentMetrics {
        assignments: u64::MAX,
        ..agent_metrics_sample()
    };
    assert!(value.write_body(&mut Vec::new()).is_err());
    assert!(apache_body(&schema, &value).is_err());
}

/// Every truncation of `value`'s body, and every byte of it replaced by a few others: the
/// fast decoder reads what apache-avro reads and refuses what it refuses.
fn corruptions_agree<T: AvroRecord + PartialEq + Debug>(value: &T) {
    let schema = Schema::parse_str(T::SCHEMA).unwrap();
    let body = fast_body(value);
    let mut variants: Vec<Vec<u8>> = (0..body.len()).map(|n| body[..n].to_vec()).collect();
    for i in 0..body.len() {
        for byte in [0x00, 0x01, 0x02, 0x03, 0x05, 0x14, 0x7f, 0x80, 0xff] {
            let mut changed = body.clone();
            changed[i] = byte;
            variants.push(changed);
        }
    }
    for bytes in variants {
        let fast = T::read_body(&mut BodyReader::new(&bytes)).ok();
        let slow = apache_read::<T>(&schema, &bytes).ok();
        assert_eq!(fast, slow, "{bytes:02x?}");
    }
}

#[test]
fn corrupt_bodies_are_read_or_refused_as_apache_avro_does() {
    // ASCII and small numbers keep a corrupted array count small enough for apache-avro,
    // which reserves room for the whole count before reading an item.
    corruptions_agree(&agent_metrics_sample());
    corruptions_agree(&StatusChange {
        change_id: "t/1".into(),
        ticket_id: "t".into(),
        account: "a".into(),
        brand: Some("b".into()),
        conversation: "c".into(),
        channel: Channel::Wechat,
        style: Style::SocialMessaging,
        from: Some(Status::Solved),
        to: Status::Open,
        actor_kind: ActorKind::Agent,
        actor_id: None,
        reason: "r".into(),
        assignee: Some("x".into()),
        predecessor_ticket_id: None,
        at: Timestamp(42),
    });
    corruptions_agree(&AgentPresence {
        presence_id: "p".into(),
        account: "a".into(),
        agent_id: "x".into(),
        channels: vec![ChannelPresence {
            channel: Channel::Line,
            status: AgentStatus::Away,
            capacity: 2,
        }],
        skills: vec!["en".into(), "de".into()],
        groups: vec![],
        at: Timestamp(7),
    });
    corruptions_agree(&TicketMetrics {
        metrics_id: "m".into(),
        ticket_id: "t".into(),
        account: "a".into(),
        brand: None,
        conversation: "c".into(),
        channel: Channel::Web,
        style: Style::LiveChat,
        status: Status::Closed,
        assignee: Some("x".into()),
        group: None,
        predecessor_ticket_id: None,
        created_at: Timestamp(1),
        first_assigned_at: Some(Timestamp(2)),
        first_agent_reply_at: None,
        first_solved_at: Some(Timestamp(3)),
        last_solved_at: None,
        closed_at: Some(Timestamp(4)),
        first_reply_time_ms: None,
        first_resolution_time_ms: Some(Millis(2)),
        full_resolution_time_ms: None,
        requester_wait_time_ms: Millis(1),
        agent_wait_time_ms: Millis(0),
        on_hold_time_ms: Millis(0),
        solved_time_ms: Millis(1),
        agent_work_time_ms: Millis(1),
        time_in_queue_ms: Some(Millis(1)),
        offer_acceptance_time_ms: None,
        reopens: 0,
        agent_replies: 2,
        end_user_messages: 3,
        assignee_stations: 1,
        group_stations: 0,
        one_touch: true,
        inactivity_periods: 2,
        sla_first_reply_time: Some(SlaMetricOutcome {
            policy_id: "p".into(),
            target_ms: Millis(600_000),
            business_hours: true,
            elapsed_ms: Millis(700_000),
            outcome: SlaOutcome::Breached,
            achieved: 0,
            breached: 1,
        }),
        sla_next_reply_time: None,
        sla_periodic_update: None,
        sla_requester_wait_time: None,
        sla_agent_work_time: None,
        sla_total_resolution_time: None,
        at: Timestamp(5),
    });
}

/// fastavro, an independent implementation of the specification: reads parley's framing and
/// bodies, writes its own, and gives every schema's Parsing Canonical Form and fingerprint.
/// Reads `{"schema": TEXT, "hex": BYTES}` lines; answers `{"pcf", "fingerprint", "hex"}`
/// lines, `hex` being fastavro's single-object encoding of what it read. Logical types are
/// left as the longs they are on the wire, so values outside datetime's range pass through.
const FASTAVRO: &str = r#"
import json, sys
import fastavro.read, fastavro.write
from fastavro.schema import parse_schema, to_parsing_canonical_form, fingerprint
from io import BytesIO
fastavro.read.LOGICAL_READERS.clear()
fastavro.write.LOGICAL_WRITERS.clear()
for line in sys.stdin:
    request = json.loads(line)
    schema = parse_schema(json.loads(request["schema"]))
    pcf = to_parsing_canonical_form(schema)
    header = b"\xc3\x01" + bytes.fromhex(fingerprint(pcf, "CRC-64-AVRO"))
    data = bytes.fromhex(request["hex"])
    if data[:10] != header:
        raise SystemExit("header %s is not %s" % (data[:10].hex(), header.hex()))
    body = BytesIO(data[10:])
    value = fastavro.schemaless_reader(body, schema, None)
    if body.read():
        raise SystemExit("bytes left after the datum")
    out = BytesIO()
    fastavro.schemaless_writer(out, schema, value)
    print(json.dumps({"pcf": pcf, "fingerprint": fingerprint(pcf, "CRC-64-AVRO"),
                      "hex": (header + out.getvalue()).hex()}), flush=True)
"#;

/// Whether `python3` can import fastavro; under `CI=true` it must.
fn fastavro_available() -> bool {
    let found = std::process::Command::new("python3")
        .args(["-c", "import fastavro"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            !parley_testkit::kafka::in_ci(),
            "fastavro is needed: python3 -m pip install fastavro==1.13.1"
        );
        eprintln!("SKIPPED: python3 cannot import fastavro (python3 -m pip install fastavro)");
    }
    found
}

/// Sends each of `values`, encoded by parley, through fastavro and decodes fastavro's bytes
/// with parley: the value must come back whole, and fastavro's canonical form and
/// fingerprint must be parley's.
fn through_fastavro<T: AvroRecord + PartialEq + Debug>(values: &[T]) {
    use std::io::{BufRead, Write};
    let codec = AvroCodec::<T>::single_object();
    let mut child = std::process::Command::new("python3")
        .args(["-c", FASTAVRO])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let requests: Vec<String> = values
        .iter()
        .map(|value| {
            let hex: String = codec
                .encode(value)
                .unwrap()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            serde_json::json!({"schema": T::SCHEMA, "hex": hex}).to_string()
        })
        .collect();
    let writer = std::thread::spawn(move || {
        for request in requests {
            writeln!(stdin, "{request}").unwrap();
        }
    });
    let answers: Vec<serde_json::Value> = std::io::BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|line| serde_json::from_str(&line.unwrap()).unwrap())
        .collect();
    writer.join().unwrap();
    assert!(
        child.wait().unwrap().success(),
        "fastavro refused parley's bytes"
    );
    assert_eq!(answers.len(), values.len());
    let pcf = parley_runtime::codec::canonical::parsing_canonical_form(T::SCHEMA).unwrap();
    let ours: String = parley_runtime::codec::canonical::single_object_fingerprint(T::SCHEMA)
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    for (value, answer) in values.iter().zip(&answers) {
        assert_eq!(answer["pcf"], pcf.as_str());
        assert_eq!(answer["fingerprint"], ours.as_str());
        let hex = answer["hex"].as_str().unwrap();
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        assert_eq!(&codec.decode(&bytes).unwrap(), value, "fastavro's bytes");
    }
}

/// `n` values of `strategy`, the same every run.
fn samples<S: Strategy>(strategy: S, n: usize) -> Vec<S::Value> {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    (0..n)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect()
}

#[test]
fn fastavro_reads_parleys_records_and_parley_reads_fastavros() {
    if !fastavro_available() {
        return;
    }
    const N: usize = 64;
    through_fastavro(&samples(conversation_event(), N));
    through_fastavro(&samples(agent_action(), N));
    through_fastavro(&samples(agent_presence(), N));
    through_fastavro(&samples(style_config(), N));
    through_fastavro(&samples(routing_request(), N));
    through_fastavro(&samples(routing_decision(), N));
    through_fastavro(&samples(status_change(), N));
    through_fastavro(&samples(ticket_metrics(), N));
    through_fastavro(&samples(agent_metrics(), N));
    through_fastavro(&samples(sla_event(), N));
    through_fastavro(&samples(schedule(), N));
    through_fastavro(&samples(sla_policy(), N));
}
