//! [`TicketProcessor`]: the conversations of one partition, each a [`TicketLifecycle`].

use crate::config::TicketTopics;
use crate::styles::SharedStyles;
use parley_core::topics::conversation_key;
use parley_core::{
    AgentAction, Channel, ConversationEvent, RoutingDecision, RoutingRequest, StatusChange,
    TicketInput, TicketLifecycle, TicketMetrics, TicketTimer, Timestamp,
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
        }
    }
}

/// The prefix of the runtime timer ids of lifecycle timers. The lifecycle's solve-to-close
/// and inactivity checks share it (the lifecycle tells them apart by its state); the
/// name predates the inactivity checks and stays so that stored timers still parse.
const CLOSE_TIMER: &str = "close/";

/// The runtime timer id of a lifecycle timer: `close/<due ms>/<ticket id>`.
pub fn timer_id(timer: &TicketTimer) -> Vec<u8> {
    format!("{CLOSE_TIMER}{}/{}", timer.due.0, timer.ticket_id).into_bytes()
}

/// The lifecycle timer of a runtime timer id written by [`timer_id`].
pub fn parse_timer_id(id: &[u8]) -> Option<TicketTimer> {
    let text = std::str::from_utf8(id).ok()?.strip_prefix(CLOSE_TIMER)?;
    let (due, ticket_id) = text.split_once('/')?;
    Some(TicketTimer {
        ticket_id: ticket_id.to_owned(),
        due: Timestamp(due.parse().ok()?),
    })
}

/// One partition's conversations: one [`TicketLifecycle`] per record key
/// (`account/conversation`), stored under the record key as JSON after every step that was
/// neither refused nor a duplicate delivery.
///
/// A refused input goes to the DLQ with the lifecycle's reason code
/// ([`RejectionKind::code`](parley_core::lifecycle::RejectionKind::code), e.g. `no_ticket`)
/// and leaves the state as it was; a conversation first seen in a refused input is not kept.
#[derive(Debug)]
pub struct TicketProcessor {
    topics: Arc<TicketTopics>,
    codecs: Arc<TicketCodecs>,
    styles: SharedStyles,
    conversations: HashMap<Vec<u8>, TicketLifecycle>,
}

impl TicketProcessor {
    /// A processor for one partition, writing to `topics` with `codecs`, resolving styles in
    /// the shared `styles` table.
    pub fn new(
        topics: Arc<TicketTopics>,
        codecs: Arc<TicketCodecs>,
        styles: SharedStyles,
    ) -> TicketProcessor {
        TicketProcessor {
            topics,
            codecs,
            styles,
            conversations: HashMap::new(),
        }
    }

    /// The lifecycle of a record key, if it has seen an input.
    pub fn conversation(&self, key: &[u8]) -> Option<&TicketLifecycle> {
        self.conversations.get(key)
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
        effects: &mut Effects,
    ) -> Result<(), Rejection> {
        let (account, conversation) = match &input {
            TicketInput::Message(e) => (&e.account, &e.conversation),
            TicketInput::Action(a) => (&a.account, &a.conversation),
            TicketInput::Decision(d) => (&d.account, &d.conversation),
            TicketInput::Timer(_) => {
                let Some(lifecycle) = self.conversations.get_mut(key) else {
                    return Ok(());
                };
                effects.at = Some(lifecycle.time().max(now));
                let fx = lifecycle.step(input, &Default::default(), now);
                return self.apply(key, fx, effects);
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
        let lifecycle = self
            .conversations
            .entry(key.to_vec())
            .or_insert_with(|| TicketLifecycle::new(account.clone(), conversation.clone()));
        // The lifecycle handles the input at the conversation's latest time if it is stamped
        // earlier (after a restart, inputs of different topics may come in another order):
        // its outputs carry that time, and so must their record timestamps.
        effects.at = Some(lifecycle.time().max(now));
        let fx = lifecycle.step(input, &style, now);
        if !fx.rejections.is_empty() && !known {
            self.conversations.remove(key);
        }
        self.apply(key, fx, effects)
    }

    fn apply(
        &self,
        key: &[u8],
        fx: parley_core::TicketEffects,
        effects: &mut Effects,
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
            |r| r.account.clone(),
        )?;
        for command in &fx.timers {
            match command {
                parley_core::TicketTimerCommand::Set(timer) => {
                    effects.set_timer(key, timer_id(timer), timer.due)
                }
                parley_core::TicketTimerCommand::Cancel(timer) => {
                    effects.cancel_timer(key, timer_id(timer))
                }
            }
        }
        if let Some(lifecycle) = self.conversations.get(key) {
            let value = serde_json::to_vec(lifecycle).expect("a lifecycle serialises to JSON");
            effects.put(key, value);
        }
        Ok(())
    }
}

impl KeyedProcessor for TicketProcessor {
    type Input = TicketInput;

    fn restore(&mut self, state_key: &[u8], value: &[u8]) -> Result<(), RestoreError> {
        let lifecycle: TicketLifecycle = serde_json::from_slice(value).map_err(|e| {
            RestoreError::value(state_key, format_args!("not a ticket lifecycle: {e}"))
        })?;
        self.conversations.insert(state_key.to_vec(), lifecycle);
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
        effects: &mut Effects,
    ) -> Result<(), Rejection> {
        if matches!(input, TicketInput::Timer(_)) {
            return Err(Rejection {
                reason: "timer_as_input",
                detail: "timers come from the runtime, not from a topic".into(),
            });
        }
        self.step(key, input, now, effects)
    }

    fn on_timer(&mut self, key: &[u8], timer_id: &[u8], now: Timestamp, effects: &mut Effects) {
        let Some(timer) = parse_timer_id(timer_id) else {
            tracing::warn!(
                key = %String::from_utf8_lossy(key),
                timer = %String::from_utf8_lossy(timer_id),
                "unknown timer id, ignored"
            );
            return;
        };
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

/// Encodes `records` with `codec` and emits each to `topic` under `key(record)`.
fn emit_encoded<T: AvroRecord>(
    effects: &mut Effects,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StyleRecords;
    use parley_core::Status;
    use std::sync::RwLock;

    fn processor() -> TicketProcessor {
        TicketProcessor::new(
            Arc::new(crate::topics("t.")),
            Arc::new(TicketCodecs::single_object()),
            Arc::new(RwLock::new(StyleRecords::new(AvroCodec::single_object()))),
        )
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
}
