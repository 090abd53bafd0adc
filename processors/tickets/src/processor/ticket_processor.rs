//! [`TicketProcessor`]: the runtime's `KeyedProcessor` for one partition of the ticket
//! processor's inputs.

use super::conversation::Conversation;
use crate::config::TicketTopics;
use crate::sla_tables::SlaTables;
use crate::styles::SharedStyles;
use parley_core::sla::{SlaClocks, SlaEffects, SlaEvent, SlaInput, SlaTimer, SlaTimerCommand};
use parley_core::timer_id::ConversationTimer;
use parley_core::topics::conversation_key;
use parley_core::{
    AgentAction, Channel, ConversationEvent, InactivityReminder, RoutingDecision, RoutingRequest,
    StatusChange, TicketInput, TicketLifecycle, TicketMetrics, TicketTimerCommand, Timestamp,
};
use parley_runtime::codec::{AvroCodec, AvroRecord};
use parley_runtime::{DecodeError, Effects, InputRecord, KeyedProcessor, Rejection, RestoreError};
use std::collections::HashMap;
use std::sync::Arc;

/// The codecs of every record the ticket processor reads or writes.
#[derive(Debug)]
pub struct TicketCodecs {
    /// `conversation-events`.
    pub conversation_events: AvroCodec<ConversationEvent>,
    /// `agent-actions`.
    pub agent_actions: AvroCodec<AgentAction>,
    /// `routing-decisions`.
    pub routing_decisions: AvroCodec<RoutingDecision>,
    /// `ticket-status-changes`.
    pub status_changes: AvroCodec<StatusChange>,
    /// `ticket-metrics`.
    pub ticket_metrics: AvroCodec<TicketMetrics>,
    /// `routing-requests`.
    pub routing_requests: AvroCodec<RoutingRequest>,
    /// `sla-events`.
    pub sla_events: AvroCodec<SlaEvent>,
    /// `inactivity-reminders`.
    pub inactivity_reminders: AvroCodec<InactivityReminder>,
}

impl TicketCodecs {
    /// Every codec in Avro single-object encoding (no schema registry).
    pub fn single_object() -> TicketCodecs {
        TicketCodecs {
            conversation_events: AvroCodec::single_object(),
            agent_actions: AvroCodec::single_object(),
            routing_decisions: AvroCodec::single_object(),
            status_changes: AvroCodec::single_object(),
            ticket_metrics: AvroCodec::single_object(),
            routing_requests: AvroCodec::single_object(),
            sla_events: AvroCodec::single_object(),
            inactivity_reminders: AvroCodec::single_object(),
        }
    }
}

/// One partition's conversations: one [`Conversation`] (lifecycle and SLA clocks) per
/// record key (`account/conversation`), stored under the record key as JSON after every
/// step that was neither refused nor a duplicate delivery. After each lifecycle step the
/// SLA clocks get what the step amounts to ([`SlaInput::from_step`]) under the SLA
/// configuration in force, their events go to `sla-events` and their breach timers to
/// the runtime's durable timers.
///
/// A refused input goes to the DLQ with the lifecycle's reason code
/// ([`RejectionKind::code`](parley_core::lifecycle::RejectionKind::code), e.g. `no_ticket`)
/// and leaves the state as it was; a conversation first seen in a refused input is not kept.
#[derive(Debug)]
pub struct TicketProcessor {
    topics: Arc<TicketTopics>,
    pub(super) codecs: Arc<TicketCodecs>,
    styles: SharedStyles,
    sla: SlaTables,
    conversations: HashMap<Vec<u8>, Conversation>,
    /// The SLA effects of the step being handled: one batch, cleared once applied, so that
    /// a step allocates nothing for them.
    sla_batch: SlaEffects,
}

impl TicketProcessor {
    /// A processor for one partition, writing to `topics` with `codecs`, resolving styles in
    /// the shared `styles` table and SLA policies and schedules in the shared `sla` tables.
    pub fn new(
        topics: Arc<TicketTopics>,
        codecs: Arc<TicketCodecs>,
        styles: SharedStyles,
        sla: SlaTables,
    ) -> TicketProcessor {
        TicketProcessor {
            topics,
            codecs,
            styles,
            sla,
            conversations: HashMap::new(),
            sla_batch: SlaEffects::default(),
        }
    }

    /// The lifecycle of a record key, if it has seen an input.
    pub fn conversation(&self, key: &[u8]) -> Option<&TicketLifecycle> {
        self.conversations.get(key).map(|c| &c.lifecycle)
    }

    /// The SLA clocks of a record key, if it has seen an input.
    pub fn sla_clocks(&self, key: &[u8]) -> Option<&SlaClocks> {
        self.conversations.get(key).map(|c| &c.sla)
    }

    /// How many conversations the partition holds.
    pub fn len(&self) -> usize {
        self.conversations.len()
    }

    /// Whether the partition holds no conversation.
    pub fn is_empty(&self) -> bool {
        self.conversations.is_empty()
    }

    fn step(
        &mut self,
        key: &[u8],
        input: TicketInput,
        now: Timestamp,
        effects: &mut Effects<ConversationTimer>,
    ) -> Result<(), Rejection> {
        let (account, conversation) = match &input {
            TicketInput::Message(e) => (&e.account, &e.conversation),
            TicketInput::Action(a) => (&a.account, &a.conversation),
            TicketInput::Decision(d) => (&d.account, &d.conversation),
            TicketInput::Timer(_) => {
                let Some(conversation) = self.conversations.get_mut(key) else {
                    return Ok(());
                };
                effects.at = Some(conversation.lifecycle.time().max(now));
                let mut fx = conversation.lifecycle.step(input, &Default::default(), now);
                let sla = self.step_sla(key, None, &mut fx, now);
                return self.apply(key, fx, sla, effects);
            }
        };
        // Styles matter only when a message creates a ticket; the ticket keeps them.
        let style = {
            let records = self.styles.read().expect("not poisoned");
            let table = records.table();
            match &input {
                TicketInput::Message(e) => table.resolve(&e.account, e.brand.as_deref(), e.channel),
                _ => table.resolve(account, None, Channel::Web),
            }
        };
        let known = self.conversations.contains_key(key);
        let entry = self
            .conversations
            .entry(key.to_vec())
            .or_insert_with(|| Conversation::new(account, conversation));
        // The lifecycle handles the input at the conversation's latest time if it is stamped
        // earlier (after a restart, inputs of different topics may come in another order):
        // its outputs carry that time, and so must their record timestamps.
        effects.at = Some(entry.lifecycle.time().max(now));
        let applied = SlaInput::of_input(&input);
        let mut fx = entry.lifecycle.step(input, &style, now);
        if !fx.rejections.is_empty() && !known {
            self.conversations.remove(key);
        }
        let sla = self.step_sla(key, applied, &mut fx, now);
        self.apply(key, fx, sla, effects)
    }

    /// Feeds a conversation's SLA clocks what one lifecycle step amounts to, then writes
    /// the outcome of the ticket's clocks into the ticket metrics the step emits and tells
    /// the lifecycle the ticket's next breach time (for the router's queue order).
    fn step_sla(
        &mut self,
        key: &[u8],
        applied: Option<SlaInput<'static>>,
        fx: &mut parley_core::TicketEffects,
        now: Timestamp,
    ) -> SlaEffects {
        let mut out = std::mem::take(&mut self.sla_batch);
        let Some(conversation) = self.conversations.get_mut(key) else {
            return out;
        };
        let priority = conversation.lifecycle.current().map_or(0, |t| t.priority);
        let inputs = SlaInput::from_step(applied, fx, priority);
        self.sla.with(|config| {
            for input in inputs {
                conversation.sla.step_into(input, config, now, &mut out);
            }
        });
        for metrics in &mut fx.ticket_metrics {
            conversation.sla.fill_metrics(metrics);
        }
        note_sla_breach(conversation, fx);
        out
    }

    /// Feeds a breach timer back to the clocks of its conversation.
    fn sla_timer(
        &mut self,
        key: &[u8],
        timer: &SlaTimer,
        now: Timestamp,
        effects: &mut Effects<ConversationTimer>,
    ) {
        let Some(conversation) = self.conversations.get_mut(key) else {
            return;
        };
        effects.at = Some(conversation.lifecycle.time().max(now));
        let mut fx = std::mem::take(&mut self.sla_batch);
        self.sla.with(|config| {
            (conversation.sla).step_into(SlaInput::Timer(timer), config, now, &mut fx)
        });
        // A breach keeps the clock's due time as the ticket's next, so this asks nothing
        // of the router unless that is gone from state stored before it was kept.
        let mut ticket_fx = parley_core::TicketEffects::default();
        note_sla_breach(conversation, &mut ticket_fx);
        if let Err(rejection) = self.apply(key, ticket_fx, fx, effects) {
            tracing::warn!(
                key = %String::from_utf8_lossy(key),
                reason = %rejection.reason,
                detail = %rejection.detail,
                "SLA timer refused"
            );
        }
    }

    /// Applies a step's effects, then keeps its SLA batch, emptied, for the next step.
    fn apply(
        &mut self,
        key: &[u8],
        fx: parley_core::TicketEffects,
        mut sla: SlaEffects,
        effects: &mut Effects<ConversationTimer>,
    ) -> Result<(), Rejection> {
        let applied = self.apply_effects(key, fx, &mut sla, effects);
        sla.clear();
        self.sla_batch = sla;
        applied
    }

    fn apply_effects(
        &self,
        key: &[u8],
        fx: parley_core::TicketEffects,
        sla: &mut SlaEffects,
        effects: &mut Effects<ConversationTimer>,
    ) -> Result<(), Rejection> {
        if let Some(first) = fx.rejections.first() {
            let detail = fx
                .rejections
                .iter()
                .map(|r| r.detail.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(Rejection {
                reason: first.kind.code(),
                detail,
            });
        }
        if fx.duplicates > 0 {
            return Ok(());
        }
        let topics = &self.topics;
        emit_encoded(
            effects,
            &self.codecs.status_changes,
            &topics.status_changes,
            &fx.status_changes,
            "status change",
            |c| conversation_key(&c.account, &c.conversation),
        )?;
        emit_encoded(
            effects,
            &self.codecs.ticket_metrics,
            &topics.ticket_metrics,
            &fx.ticket_metrics,
            "ticket metrics",
            |m| conversation_key(&m.account, &m.conversation),
        )?;
        emit_encoded(
            effects,
            &self.codecs.routing_requests,
            &topics.routing_requests,
            &fx.routing_requests,
            "routing request",
            |r| String::from(&*r.account),
        )?;
        emit_encoded(
            effects,
            &self.codecs.inactivity_reminders,
            &topics.inactivity_reminders,
            &fx.reminders,
            "inactivity reminder",
            |r| conversation_key(&r.account, &r.conversation),
        )?;
        emit_encoded(
            effects,
            &self.codecs.sla_events,
            &topics.sla_events,
            &sla.events,
            "SLA event",
            |e| conversation_key(&e.account, &e.conversation),
        )?;
        for command in sla.timers.drain(..) {
            match command {
                SlaTimerCommand::Set(timer) => {
                    let due = timer.due;
                    effects.set_timer(key, ConversationTimer::Sla(timer), due)
                }
                SlaTimerCommand::Cancel(timer) => {
                    effects.cancel_timer(key, ConversationTimer::Sla(timer))
                }
            }
        }
        for command in fx.timers {
            match command {
                TicketTimerCommand::Set(timer) => {
                    let due = timer.due;
                    effects.set_timer(key, ConversationTimer::Lifecycle(timer), due)
                }
                TicketTimerCommand::Cancel(timer) => {
                    effects.cancel_timer(key, ConversationTimer::Lifecycle(timer))
                }
            }
        }
        if let Some(conversation) = self.conversations.get(key) {
            let value =
                serde_json::to_vec(conversation).expect("a conversation serialises to JSON");
            effects.put(key, value);
        }
        Ok(())
    }
}

impl KeyedProcessor for TicketProcessor {
    type Input = TicketInput;
    type Timer = ConversationTimer;

    fn restore(&mut self, state_key: &[u8], value: &[u8]) -> Result<(), RestoreError> {
        let conversation = Conversation::from_stored(value).map_err(|e| {
            RestoreError::value(state_key, format_args!("not a ticket lifecycle: {e}"))
        })?;
        self.conversations.insert(state_key.to_vec(), conversation);
        Ok(())
    }

    fn decode(&self, record: &InputRecord<'_>) -> Result<TicketInput, DecodeError> {
        let topics = &self.topics;
        let decoded = if record.topic == topics.conversation_events {
            self.codecs
                .conversation_events
                .decode(record.value)
                .map(TicketInput::Message)
        } else if record.topic == topics.agent_actions {
            self.codecs
                .agent_actions
                .decode(record.value)
                .map(TicketInput::Action)
        } else if record.topic == topics.routing_decisions {
            self.codecs
                .routing_decisions
                .decode(record.value)
                .map(TicketInput::Decision)
        } else {
            return Err(DecodeError::NotAnInput(record.topic.to_owned()));
        };
        Ok(decoded?)
    }

    fn handle(
        &mut self,
        key: &[u8],
        input: TicketInput,
        now: Timestamp,
        effects: &mut Effects<ConversationTimer>,
    ) -> Result<(), Rejection> {
        if matches!(input, TicketInput::Timer(_)) {
            return Err(Rejection {
                reason: "timer_as_input",
                detail: "timers come from the runtime, not from a topic".into(),
            });
        }
        self.step(key, input, now, effects)
    }

    fn on_timer(
        &mut self,
        key: &[u8],
        timer: ConversationTimer,
        now: Timestamp,
        effects: &mut Effects<ConversationTimer>,
    ) {
        match timer {
            ConversationTimer::Sla(timer) => self.sla_timer(key, &timer, now, effects),
            ConversationTimer::Lifecycle(timer) => {
                if let Err(rejection) = self.step(key, TicketInput::Timer(timer), now, effects) {
                    tracing::warn!(
                        key = %String::from_utf8_lossy(key),
                        reason = %rejection.reason,
                        detail = %rejection.detail,
                        "timer refused"
                    );
                }
            }
        }
    }
}

/// Tells the conversation's lifecycle its current ticket's next SLA breach time, after
/// the clocks had a step's inputs: the step's routing requests carry it, and a ticket
/// waiting for an agent whose time changed gets an `update` to the router.
fn note_sla_breach(conversation: &mut Conversation, fx: &mut parley_core::TicketEffects) {
    let breach_at = conversation
        .lifecycle
        .current()
        .and_then(|t| conversation.sla.next_breach_at(t.id));
    conversation.lifecycle.note_sla_breach(breach_at, fx);
}

/// Encodes `records` with `codec` and emits each to `topic` under `key(record)`.
fn emit_encoded<T: AvroRecord>(
    effects: &mut Effects<ConversationTimer>,
    codec: &AvroCodec<T>,
    topic: &str,
    records: &[T],
    what: &str,
    key: impl Fn(&T) -> String,
) -> Result<(), Rejection> {
    for record in records {
        let value = codec.encode(record).map_err(|e| Rejection {
            reason: "encode",
            detail: format!("{what} cannot be encoded: {e}"),
        })?;
        effects.emit(topic, key(record), value);
    }
    Ok(())
}
