//! The hand-written Avro body of every record of `schemas/`, field by field in `.avsc` order.
//!
//! Each record's [`AvroRecord`] impl writes and reads its fields with the primitives of
//! [`binary`](super::binary); each enum's symbol indexes are spelled out once, in
//! [`avro_enum!`]. A field added to, removed from or moved in a schema changes the schema's
//! fingerprint, which `tests/avro_fast_path.rs` pins, and the bytes, which it compares with
//! apache-avro's for every record.

use super::binary::{self as avro, AvroEnum, BodyReader};
use super::schemas::*;
use crate::error::CodecError;
use parley_core::{
    ActorKind, AgentAction, AgentActionKind, AgentMetrics, AgentPresence, AgentStatus, Attachment,
    AttachmentKind, Channel, ChannelPresence, ConversationEvent, Millis, ReplyHandle,
    RoutingDecision, RoutingDecisionKind, RoutingRequest, RoutingRequestKind, Status, StatusChange,
    Style, StyleConfig, TicketMetrics, Timestamp,
};

/// Implements [`AvroEnum`] for an enum of `parley_core` from its variants and their symbol
/// indexes in the schema; the `match` is exhaustive, so a new variant does not compile
/// until it has an index here.
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
});
avro_enum!(RoutingRequestKind {
    Enqueue = 0,
    Accept = 1,
    Decline = 2,
    Consume = 3,
    Release = 4,
    Assign = 5,
    Close = 6,
});
avro_enum!(RoutingDecisionKind {
    Offered = 0,
    OfferWithdrawn = 1,
    Assigned = 2,
    Unassigned = 3,
});

fn string(r: &mut BodyReader<'_>, field: &str) -> Result<String, CodecError> {
    r.string(field)
}

fn timestamp(r: &mut BodyReader<'_>, field: &str) -> Result<Timestamp, CodecError> {
    r.long(field).map(Timestamp)
}

fn millis(r: &mut BodyReader<'_>, field: &str) -> Result<Millis, CodecError> {
    r.long(field).map(Millis)
}

fn symbol<E: AvroEnum>(r: &mut BodyReader<'_>, field: &str) -> Result<E, CodecError> {
    r.symbol(field)
}

/// Appends a ConversationEvent's body. It has no field Avro cannot hold, so this cannot
/// fail; ingress calls it on its hot path.
pub fn write_conversation_event(event: &ConversationEvent, out: &mut Vec<u8>) {
    out.reserve(
        64 + event.event_id.len()
            + event.conversation.len()
            + event.text.as_ref().map_or(0, String::len),
    );
    avro::string(out, &event.event_id);
    avro::string(out, &event.account);
    avro::optional_string(out, event.brand.as_deref());
    avro::string(out, &event.conversation);
    avro::symbol(out, event.channel);
    avro::long(out, event.sent_at.0);
    avro::long(out, event.received_at.0);
    avro::optional_string(out, event.text.as_deref());
    if !event.attachments.is_empty() {
        avro::long(out, event.attachments.len() as i64);
        for attachment in &event.attachments {
            avro::symbol(out, attachment.kind);
            avro::optional_string(out, attachment.reference.as_deref());
        }
    }
    avro::long(out, 0);
    avro::optional_string(out, event.author_name.as_deref());
    if !event.reply_handles.is_empty() {
        avro::long(out, event.reply_handles.len() as i64);
        for handle in &event.reply_handles {
            avro::string(out, &handle.name);
            avro::string(out, &handle.value);
        }
    }
    avro::long(out, 0);
}

impl AvroRecord for ConversationEvent {
    const SCHEMA: &'static str = CONVERSATION_EVENT;

    fn write_body(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        write_conversation_event(self, out);
        Ok(())
    }

    fn read_body(r: &mut BodyReader<'_>) -> Result<ConversationEvent, CodecError> {
        Ok(ConversationEvent {
            event_id: r.string("event_id")?,
            account: r.string("account")?,
            brand: r.optional("brand", string)?,
            conversation: r.string("conversation")?,
            channel: r.symbol("channel")?,
            sent_at: timestamp(r, "sent_at")?,
            received_at: timestamp(r, "received_at")?,
            text: r.optional("text", string)?,
            attachments: r.array("attachments", |r, _| {
                Ok(Attachment {
                    kind: r.symbol("attachments.kind")?,
                    reference: r.optional("attachments.reference", string)?,
                })
            })?,
            author_name: r.optional("author_name", string)?,
            reply_handles: r.array("reply_handles", |r, _| {
                Ok(ReplyHandle {
                    name: r.string("reply_handles.name")?,
                    value: r.string("reply_handles.value")?,
                })
            })?,
        })
    }
}

impl AvroRecord for AgentAction {
    const SCHEMA: &'static str = AGENT_ACTION;

    fn write_body(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        avro::string(out, &self.action_id);
        avro::string(out, &self.account);
        avro::string(out, &self.conversation);
        avro::string(out, &self.agent_id);
        avro::symbol(out, self.kind);
        avro::optional_symbol(out, self.status);
        avro::long(out, self.at.0);
        Ok(())
    }

    fn read_body(r: &mut BodyReader<'_>) -> Result<AgentAction, CodecError> {
        Ok(AgentAction {
            action_id: r.string("action_id")?,
            account: r.string("account")?,
            conversation: r.string("conversation")?,
            agent_id: r.string("agent_id")?,
            kind: r.symbol("kind")?,
            status: r.optional("status", symbol)?,
            at: timestamp(r, "at")?,
        })
    }
}

impl AvroRecord for AgentPresence {
    const SCHEMA: &'static str = AGENT_PRESENCE;

    fn write_body(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        avro::string(out, &self.presence_id);
        avro::string(out, &self.account);
        avro::string(out, &self.agent_id);
        avro::array(out, &self.channels, |out, presence| {
            avro::symbol(out, presence.channel);
            avro::symbol(out, presence.status);
            avro::int_u32(out, "channels.capacity", presence.capacity)
        })?;
        avro::string_array(out, &self.skills);
        avro::string_array(out, &self.groups);
        avro::long(out, self.at.0);
        Ok(())
    }

    fn read_body(r: &mut BodyReader<'_>) -> Result<AgentPresence, CodecError> {
        Ok(AgentPresence {
            presence_id: r.string("presence_id")?,
            account: r.string("account")?,
            agent_id: r.string("agent_id")?,
            channels: r.array("channels", |r, _| {
                Ok(ChannelPresence {
                    channel: r.symbol("channels.channel")?,
                    status: r.symbol("channels.status")?,
                    capacity: r.int_u32("channels.capacity")?,
                })
            })?,
            skills: r.array("skills", string)?,
            groups: r.array("groups", string)?,
            at: timestamp(r, "at")?,
        })
    }
}

impl AvroRecord for StyleConfig {
    const SCHEMA: &'static str = STYLE_CONFIG;

    fn write_body(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        avro::string(out, &self.account);
        avro::optional_string(out, self.brand.as_deref());
        avro::optional_symbol(out, self.channel);
        avro::symbol(out, self.style);
        avro::optional_long(out, self.solved_to_closed_ms.map(|m| m.0));
        avro::long(out, i64::from(self.priority));
        avro::string_array(out, &self.required_skills);
        avro::optional_string(out, self.group.as_deref());
        avro::long(out, self.updated_at.0);
        Ok(())
    }

    fn read_body(r: &mut BodyReader<'_>) -> Result<StyleConfig, CodecError> {
        Ok(StyleConfig {
            account: r.string("account")?,
            brand: r.optional("brand", string)?,
            channel: r.optional("channel", symbol)?,
            style: r.symbol("style")?,
            solved_to_closed_ms: r.optional("solved_to_closed_ms", millis)?,
            priority: r.int("priority")?,
            required_skills: r.array("required_skills", string)?,
            group: r.optional("group", string)?,
            updated_at: timestamp(r, "updated_at")?,
        })
    }
}

impl AvroRecord for RoutingRequest {
    const SCHEMA: &'static str = ROUTING_REQUEST;

    fn write_body(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        avro::string(out, &self.request_id);
        avro::string(out, &self.account);
        avro::string(out, &self.conversation);
        avro::string(out, &self.ticket_id);
        avro::symbol(out, self.kind);
        avro::optional_string(out, self.agent_id.as_deref());
        avro::symbol(out, self.channel);
        avro::long(out, i64::from(self.priority));
        avro::string_array(out, &self.required_skills);
        avro::optional_string(out, self.group.as_deref());
        avro::long(out, self.created_at.0);
        avro::long(out, self.at.0);
        Ok(())
    }

    fn read_body(r: &mut BodyReader<'_>) -> Result<RoutingRequest, CodecError> {
        Ok(RoutingRequest {
            request_id: r.string("request_id")?,
            account: r.string("account")?,
            conversation: r.string("conversation")?,
            ticket_id: r.string("ticket_id")?,
            kind: r.symbol("kind")?,
            agent_id: r.optional("agent_id", string)?,
            channel: r.symbol("channel")?,
            priority: r.int("priority")?,
            required_skills: r.array("required_skills", string)?,
            group: r.optional("group", string)?,
            created_at: timestamp(r, "created_at")?,
            at: timestamp(r, "at")?,
        })
    }
}

impl AvroRecord for RoutingDecision {
    const SCHEMA: &'static str = ROUTING_DECISION;

    fn write_body(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        avro::string(out, &self.decision_id);
        avro::string(out, &self.account);
        avro::string(out, &self.conversation);
        avro::string(out, &self.ticket_id);
        avro::symbol(out, self.kind);
        avro::optional_string(out, self.agent_id.as_deref());
        avro::string(out, &self.reason);
        avro::long(out, self.at.0);
        Ok(())
    }

    fn read_body(r: &mut BodyReader<'_>) -> Result<RoutingDecision, CodecError> {
        Ok(RoutingDecision {
            decision_id: r.string("decision_id")?,
            account: r.string("account")?,
            conversation: r.string("conversation")?,
            ticket_id: r.string("ticket_id")?,
            kind: r.symbol("kind")?,
            agent_id: r.optional("agent_id", string)?,
            reason: r.string("reason")?,
            at: timestamp(r, "at")?,
        })
    }
}

impl AvroRecord for StatusChange {
    const SCHEMA: &'static str = STATUS_CHANGE;

    fn write_body(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        avro::string(out, &self.change_id);
        avro::string(out, &self.ticket_id);
        avro::string(out, &self.account);
        avro::optional_string(out, self.brand.as_deref());
        avro::string(out, &self.conversation);
        avro::symbol(out, self.channel);
        avro::symbol(out, self.style);
        avro::optional_symbol(out, self.from);
        avro::symbol(out, self.to);
        avro::symbol(out, self.actor_kind);
        avro::optional_string(out, self.actor_id.as_deref());
        avro::string(out, &self.reason);
        avro::optional_string(out, self.assignee.as_deref());
        avro::optional_string(out, self.predecessor_ticket_id.as_deref());
        avro::long(out, self.at.0);
        Ok(())
    }

    fn read_body(r: &mut BodyReader<'_>) -> Result<StatusChange, CodecError> {
        Ok(StatusChange {
            change_id: r.string("change_id")?,
            ticket_id: r.string("ticket_id")?,
            account: r.string("account")?,
            brand: r.optional("brand", string)?,
            conversation: r.string("conversation")?,
            channel: r.symbol("channel")?,
            style: r.symbol("style")?,
            from: r.optional("from", symbol)?,
            to: r.symbol("to")?,
            actor_kind: r.symbol("actor_kind")?,
            actor_id: r.optional("actor_id", string)?,
            reason: r.string("reason")?,
            assignee: r.optional("assignee", string)?,
            predecessor_ticket_id: r.optional("predecessor_ticket_id", string)?,
            at: timestamp(r, "at")?,
        })
    }
}

impl AvroRecord for TicketMetrics {
    const SCHEMA: &'static str = TICKET_METRICS;

    fn write_body(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        let instant = |t: Option<Timestamp>| t.map(|t| t.0);
        let span = |m: Option<Millis>| m.map(|m| m.0);
        avro::string(out, &self.metrics_id);
        avro::string(out, &self.ticket_id);
        avro::string(out, &self.account);
        avro::optional_string(out, self.brand.as_deref());
        avro::string(out, &self.conversation);
        avro::symbol(out, self.channel);
        avro::symbol(out, self.style);
        avro::symbol(out, self.status);
        avro::optional_string(out, self.assignee.as_deref());
        avro::optional_string(out, self.group.as_deref());
        avro::optional_string(out, self.predecessor_ticket_id.as_deref());
        avro::long(out, self.created_at.0);
        avro::optional_long(out, instant(self.first_assigned_at));
        avro::optional_long(out, instant(self.first_agent_reply_at));
        avro::optional_long(out, instant(self.first_solved_at));
        avro::optional_long(out, instant(self.last_solved_at));
        avro::optional_long(out, instant(self.closed_at));
        avro::optional_long(out, span(self.first_reply_time_ms));
        avro::optional_long(out, span(self.first_resolution_time_ms));
        avro::optional_long(out, span(self.full_resolution_time_ms));
        avro::long(out, self.requester_wait_time_ms.0);
        avro::long(out, self.agent_wait_time_ms.0);
        avro::long(out, self.on_hold_time_ms.0);
        avro::long(out, self.solved_time_ms.0);
        avro::long(out, self.agent_work_time_ms.0);
        avro::optional_long(out, span(self.time_in_queue_ms));
        avro::optional_long(out, span(self.offer_acceptance_time_ms));
        avro::int_u32(out, "reopens", self.reopens)?;
        avro::int_u32(out, "agent_replies", self.agent_replies)?;
        avro::int_u32(out, "end_user_messages", self.end_user_messages)?;
        avro::int_u32(out, "assignee_stations", self.assignee_stations)?;
        avro::int_u32(out, "group_stations", self.group_stations)?;
        avro::boolean(out, self.one_touch);
        avro::long(out, self.at.0);
        Ok(())
    }

    fn read_body(r: &mut BodyReader<'_>) -> Result<TicketMetrics, CodecError> {
        Ok(TicketMetrics {
            metrics_id: r.string("metrics_id")?,
            ticket_id: r.string("ticket_id")?,
            account: r.string("account")?,
            brand: r.optional("brand", string)?,
            conversation: r.string("conversation")?,
            channel: r.symbol("channel")?,
            style: r.symbol("style")?,
            status: r.symbol("status")?,
            assignee: r.optional("assignee", string)?,
            group: r.optional("group", string)?,
            predecessor_ticket_id: r.optional("predecessor_ticket_id", string)?,
            created_at: timestamp(r, "created_at")?,
            first_assigned_at: r.optional("first_assigned_at", timestamp)?,
            first_agent_reply_at: r.optional("first_agent_reply_at", timestamp)?,
            first_solved_at: r.optional("first_solved_at", timestamp)?,
            last_solved_at: r.optional("last_solved_at", timestamp)?,
            closed_at: r.optional("closed_at", timestamp)?,
            first_reply_time_ms: r.optional("first_reply_time_ms", millis)?,
            first_resolution_time_ms: r.optional("first_resolution_time_ms", millis)?,
            full_resolution_time_ms: r.optional("full_resolution_time_ms", millis)?,
            requester_wait_time_ms: millis(r, "requester_wait_time_ms")?,
            agent_wait_time_ms: millis(r, "agent_wait_time_ms")?,
            on_hold_time_ms: millis(r, "on_hold_time_ms")?,
            solved_time_ms: millis(r, "solved_time_ms")?,
            agent_work_time_ms: millis(r, "agent_work_time_ms")?,
            time_in_queue_ms: r.optional("time_in_queue_ms", millis)?,
            offer_acceptance_time_ms: r.optional("offer_acceptance_time_ms", millis)?,
            reopens: r.int_u32("reopens")?,
            agent_replies: r.int_u32("agent_replies")?,
            end_user_messages: r.int_u32("end_user_messages")?,
            assignee_stations: r.int_u32("assignee_stations")?,
            group_stations: r.int_u32("group_stations")?,
            one_touch: r.boolean("one_touch")?,
            at: timestamp(r, "at")?,
        })
    }
}

impl AvroRecord for AgentMetrics {
    const SCHEMA: &'static str = AGENT_METRICS;

    fn write_body(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        avro::string(out, &self.metrics_id);
        avro::string(out, &self.account);
        avro::string(out, &self.agent_id);
        avro::symbol(out, self.channel);
        avro::symbol(out, self.status);
        avro::int_u32(out, "capacity", self.capacity)?;
        avro::int_u32(out, "load", self.load)?;
        avro::long_u64(out, "offers_made", self.offers_made)?;
        avro::long_u64(out, "offers_accepted", self.offers_accepted)?;
        avro::long_u64(out, "offers_declined", self.offers_declined)?;
        avro::long_u64(out, "offers_timed_out", self.offers_timed_out)?;
        avro::long_u64(out, "assignments", self.assignments)?;
        avro::long(out, self.online_ms.0);
        avro::long(out, self.away_ms.0);
        avro::long(out, self.transfers_only_ms.0);
        avro::long(out, self.offline_ms.0);
        avro::long(out, self.at.0);
        Ok(())
    }

    fn read_body(r: &mut BodyReader<'_>) -> Result<AgentMetrics, CodecError> {
        Ok(AgentMetrics {
            metrics_id: r.string("metrics_id")?,
            account: r.string("account")?,
            agent_id: r.string("agent_id")?,
            channel: r.symbol("channel")?,
            status: r.symbol("status")?,
            capacity: r.int_u32("capacity")?,
            load: r.int_u32("load")?,
            offers_made: r.long_u64("offers_made")?,
            offers_accepted: r.long_u64("offers_accepted")?,
            offers_declined: r.long_u64("offers_declined")?,
            offers_timed_out: r.long_u64("offers_timed_out")?,
            assignments: r.long_u64("assignments")?,
            online_ms: millis(r, "online_ms")?,
            away_ms: millis(r, "away_ms")?,
            transfers_only_ms: millis(r, "transfers_only_ms")?,
            offline_ms: millis(r, "offline_ms")?,
            at: timestamp(r, "at")?,
        })
    }
}
