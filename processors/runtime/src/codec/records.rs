//! The hand-written Avro body of every record of `schemas/`, field by field in `.avsc` order.
//!
//! A record's codec is its list of fields in schema order ([`avro_record!`]); each field's
//! Rust type gives its Avro encoding ([`AvroField`]), and each enum's symbol indexes are
//! spelled out once ([`avro_enum!`]). A field missing from a list does not compile (the
//! reader builds the struct); a field out of order, or a schema that changed, fails
//! `tests/avro_fast_path.rs`, which pins each schema's fingerprint and compares the bytes
//! with apache-avro's for every record.

use super::binary::{long, AvroEnum, AvroField, BodyReader};
use super::schemas::*;
use crate::error::CodecError;
use parley_core::routing::{QueueConditions, QueueDefinition, QueueOrder, RoutingMode};
use parley_core::sla::{
    BusinessInterval, Schedule, SlaConditions, SlaEvent, SlaEventKind, SlaMetric, SlaMetricOutcome,
    SlaOutcome, SlaPolicy, SlaPriority, SlaTarget, Weekday,
};
use parley_core::AccountRoutingConfig;
use parley_core::{
    ActorKind, AgentAction, AgentActionKind, AgentMetrics, AgentPresence, AgentStatus, Attachment,
    AttachmentKind, Channel, ChannelPresence, ConversationEvent, InactivityReminder,
    InactivityReminderStep, ReplyHandle, RoutingDecision, RoutingDecisionKind, RoutingRequest,
    RoutingRequestKind, Status, StatusChange, Style, StyleConfig, TicketMetrics,
};

/// Implements [`AvroEnum`] and [`AvroField`] for an enum of `parley_core` from its variants
/// and their symbol indexes in the schema; the `match` is exhaustive, so a new variant
/// does not compile until it has an index here.
macro_rules! avro_enum {
    ($ty:ident { $($variant:ident = $index:literal),+ $(,)? }) => {
        impl AvroEnum for $ty {
            const SYMBOLS: usize = [$($index),+].len();

            fn index(self) -> i64 {
                match self {
                    $($ty::$variant => $index,)+
                }
            }

            fn from_index(index: usize) -> Option<$ty> {
                match index {
                    $($index => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }

        impl AvroField for $ty {
            fn write(&self, out: &mut Vec<u8>, _: &str) -> Result<(), CodecError> {
                long(out, self.index());
                Ok(())
            }

            fn read(reader: &mut BodyReader<'_>, field: &str) -> Result<$ty, CodecError> {
                reader.symbol(field)
            }
        }
    };
}

/// Writes the fields of `$value` in the order given, then reads them back into `$ty`.
macro_rules! fields {
    (write $value:ident, $out:ident: $($field:ident),+) => {{
        $($value.$field.write($out, stringify!($field))?;)+
        Ok(())
    }};
    (read $ty:ident, $reader:ident: $($field:ident),+) => {
        Ok($ty {
            $($field: AvroField::read($reader, stringify!($field))?,)+
        })
    };
}

/// Implements [`AvroField`] for a record nested in another (an array's items).
macro_rules! avro_nested_record {
    ($ty:ident { $($field:ident),+ $(,)? }) => {
        impl AvroField for $ty {
            fn write(&self, out: &mut Vec<u8>, _: &str) -> Result<(), CodecError> {
                fields!(write self, out: $($field),+)
            }

            fn read(reader: &mut BodyReader<'_>, _: &str) -> Result<$ty, CodecError> {
                fields!(read $ty, reader: $($field),+)
            }
        }
    };
}

/// Implements [`AvroRecord`] for a record of `schemas/` from its fields in schema order.
macro_rules! avro_record {
    ($ty:ident = $schema:ident { $($field:ident),+ $(,)? }) => {
        impl AvroRecord for $ty {
            const SCHEMA: &'static str = $schema;

            fn write_body(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
                fields!(write self, out: $($field),+)
            }

            fn read_body(reader: &mut BodyReader<'_>) -> Result<$ty, CodecError> {
                fields!(read $ty, reader: $($field),+)
            }
        }
    };
}

avro_enum!(Channel {
    Web = 0,
    Ios = 1,
    Android = 2,
    Whatsapp = 3,
    Messenger = 4,
    Instagram = 5,
    Line = 6,
    Telegram = 7,
    Viber = 8,
    X = 9,
    Wechat = 10,
});
avro_enum!(Status {
    New = 0,
    Open = 1,
    Pending = 2,
    OnHold = 3,
    Solved = 4,
    Closed = 5,
});
avro_enum!(Style {
    LiveChat = 0,
    LiveChatReturning = 1,
    SocialMessaging = 2,
});
avro_enum!(ActorKind {
    EndUser = 0,
    Agent = 1,
    Routing = 2,
    Timer = 3,
});
avro_enum!(RoutingMode {
    BestAvailable = 0,
    RoundRobin = 1,
});
avro_enum!(QueueOrder {
    Priority = 0,
    Sla = 1,
});
avro_enum!(AgentStatus {
    Online = 0,
    Away = 1,
    TransfersOnly = 2,
    Offline = 3,
});
avro_enum!(AttachmentKind {
    Image = 0,
    Video = 1,
    Audio = 2,
    File = 3,
    Location = 4,
    Sticker = 5,
    Contact = 6,
    Other = 7,
});
avro_enum!(AgentActionKind {
    Accept = 0,
    Decline = 1,
    Reply = 2,
    SetStatus = 3,
    Assign = 4,
    SetPriority = 5,
});
avro_enum!(RoutingRequestKind {
    Enqueue = 0,
    Accept = 1,
    Decline = 2,
    Consume = 3,
    Release = 4,
    Assign = 5,
    Close = 6,
    Inactive = 7,
    Update = 8,
});
avro_enum!(RoutingDecisionKind {
    Offered = 0,
    OfferWithdrawn = 1,
    Assigned = 2,
    Unassigned = 3,
});

avro_nested_record!(Attachment { kind, reference });
avro_nested_record!(ReplyHandle { name, value });
avro_nested_record!(ChannelPresence {
    channel,
    status,
    capacity,
});
avro_enum!(SlaOutcome {
    Achieved = 0,
    Breached = 1,
});
avro_nested_record!(SlaMetricOutcome {
    policy_id,
    target_ms,
    business_hours,
    elapsed_ms,
    outcome,
    achieved,
    breached,
});

avro_record!(
    ConversationEvent = CONVERSATION_EVENT {
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
    }
);

avro_record!(
    AgentAction = AGENT_ACTION {
        action_id,
        account,
        conversation,
        agent_id,
        kind,
        status,
        priority,
        at,
    }
);

avro_record!(
    AgentPresence = AGENT_PRESENCE {
        presence_id,
        account,
        agent_id,
        channels,
        skills,
        groups,
        at,
    }
);

avro_record!(
    StyleConfig = STYLE_CONFIG {
        account,
        brand,
        channel,
        style,
        solved_to_closed_ms,
        priority,
        required_skills,
        group,
        inactivity_ms,
        inactivity_reminders,
        updated_at,
    }
);

avro_nested_record!(InactivityReminderStep {
    after_ms,
    set_status
});

avro_record!(
    InactivityReminder = INACTIVITY_REMINDER {
        reminder_id,
        account,
        conversation,
        ticket_id,
        channel,
        step,
        set_status,
        at,
    }
);

avro_record!(
    RoutingRequest = ROUTING_REQUEST {
        request_id,
        account,
        conversation,
        ticket_id,
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
    }
);

avro_record!(
    RoutingDecision = ROUTING_DECISION {
        decision_id,
        account,
        conversation,
        ticket_id,
        kind,
        agent_id,
        reason,
        at,
    }
);

avro_record!(
    StatusChange = STATUS_CHANGE {
        change_id,
        ticket_id,
        account,
        brand,
        conversation,
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
    }
);

avro_record!(
    TicketMetrics = TICKET_METRICS {
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
        inactivity_periods,
        sla_first_reply_time,
        sla_next_reply_time,
        sla_periodic_update,
        sla_requester_wait_time,
        sla_agent_work_time,
        sla_total_resolution_time,
        at,
    }
);

avro_record!(
    AgentMetrics = AGENT_METRICS {
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
        inactive,
        status_reason,
        at,
    }
);

avro_enum!(SlaMetric {
    FirstReplyTime = 0,
    NextReplyTime = 1,
    PeriodicUpdate = 2,
    RequesterWaitTime = 3,
    AgentWorkTime = 4,
    TotalResolutionTime = 5,
});
avro_enum!(SlaPriority {
    Low = 0,
    Normal = 1,
    High = 2,
    Urgent = 3,
});
avro_enum!(SlaEventKind {
    Activated = 0,
    Paused = 1,
    Resumed = 2,
    Achieved = 3,
    Breached = 4,
});
avro_enum!(Weekday {
    Monday = 0,
    Tuesday = 1,
    Wednesday = 2,
    Thursday = 3,
    Friday = 4,
    Saturday = 5,
    Sunday = 6,
});
avro_nested_record!(BusinessInterval {
    day,
    start_minute,
    end_minute
});
avro_nested_record!(SlaConditions {
    priorities,
    channels,
    brands
});
avro_nested_record!(SlaTarget {
    metric,
    priority,
    target_ms,
    business_hours
});

avro_record!(
    SlaEvent = SLA_EVENT {
        event_id,
        ticket_id,
        account,
        conversation,
        metric,
        policy_id,
        target_ms,
        due_at,
        kind,
        at,
        business_hours,
    }
);

avro_record!(
    Schedule = SCHEDULE {
        account,
        schedule_id,
        time_zone,
        intervals,
        holidays,
        updated_at,
    }
);

avro_record!(
    SlaPolicy = SLA_POLICY {
        account,
        policy_id,
        position,
        conditions,
        schedule_id,
        targets,
        updated_at,
    }
);

avro_record!(
    AccountRoutingConfig = ACCOUNT_ROUTING_CONFIG {
        account,
        auto_accept,
        offer_timeout_ms,
        skills_timeout_ms,
        returning_grace_ms,
        mode,
        away_after_offer_timeouts,
        queue_order,
        updated_at,
    }
);

avro_nested_record!(QueueConditions {
    channels,
    brands,
    min_priority,
    skills
});

avro_record!(
    QueueDefinition = QUEUE_DEFINITION {
        account,
        queue_id,
        position,
        priority,
        conditions,
        primary_group,
        secondary_groups,
        secondary_after_ms,
        updated_at,
    }
);

/// Appends a ConversationEvent's body, as [`AvroRecord::write_body`] does. Ingress calls it
/// on its hot path, with no error to handle: a ConversationEvent has only strings, enums,
/// timestamps and unions and arrays of them, which every value of fits in Avro.
pub fn write_conversation_event(event: &ConversationEvent, out: &mut Vec<u8>) {
    event
        .write_body(out)
        .expect("every ConversationEvent field value fits its Avro type");
}
