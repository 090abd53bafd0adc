//! A deterministic simulation harness: a fake clock, the ticket lifecycles of many
//! conversations, their timers, and a log of everything they emitted.
//!
//! Tests and benchmarks drive parley's rules through it without Kafka: feed inputs at the
//! current simulated time, move the clock, and every timer due on the way fires in due
//! order, each applied before the next, until the simulation is idle at the target time.

use crate::lifecycle::{
    TicketEffects, TicketInput, TicketLifecycle, TicketRejection, TicketTimer, TicketTimerCommand,
};
use crate::model::*;
use crate::style::StyleTable;
use crate::time::{Millis, Timestamp};
use std::collections::{BTreeMap, BTreeSet};

/// Everything the simulated processors emitted, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimLog {
    /// Status changes.
    pub status_changes: Vec<StatusChange>,
    /// Routing requests.
    pub routing_requests: Vec<RoutingRequest>,
    /// Ticket metrics.
    pub ticket_metrics: Vec<TicketMetrics>,
    /// Refused inputs.
    pub rejections: Vec<TicketRejection>,
    /// Duplicate deliveries dropped.
    pub duplicates: u32,
}

/// The ticket processor's rules over many conversations, on a fake clock.
#[derive(Clone, Debug)]
pub struct TicketSim {
    /// The style configurations in force; change them with [`StyleTable::upsert`].
    pub styles: StyleTable,
    conversations: BTreeMap<(String, String), TicketLifecycle>,
    /// Pending timers by (due, account, conversation, ticket).
    timers: BTreeSet<(Timestamp, String, String, String)>,
    now: Timestamp,
    /// What was emitted so far.
    pub log: SimLog,
    next_id: u64,
}

impl TicketSim {
    /// A simulation whose clock starts at `start`, with the default style everywhere.
    pub fn new(start: Timestamp) -> TicketSim {
        TicketSim {
            styles: StyleTable::new(),
            conversations: BTreeMap::new(),
            timers: BTreeSet::new(),
            now: start,
            log: SimLog::default(),
            next_id: 0,
        }
    }

    /// The simulated time.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// A conversation's lifecycle, if it has seen any input.
    pub fn conversation(&self, account: &str, conversation: &str) -> Option<&TicketLifecycle> {
        self.conversations
            .get(&(account.to_owned(), conversation.to_owned()))
    }

    /// Every conversation's lifecycle, by account and conversation.
    pub fn conversations(&self) -> impl Iterator<Item = &TicketLifecycle> {
        self.conversations.values()
    }

    /// How many timers are pending.
    pub fn timers_pending(&self) -> usize {
        self.timers.len()
    }

    /// Feeds one input at the current time and applies its effects.
    pub fn feed(&mut self, input: TicketInput) -> TicketEffects {
        let (account, conversation, brand, channel) = match &input {
            TicketInput::Message(e) => (
                e.account.clone(),
                e.conversation.clone(),
                e.brand.clone(),
                Some(e.channel),
            ),
            TicketInput::Action(a) => (a.account.clone(), a.conversation.clone(), None, None),
            TicketInput::Decision(d) => (d.account.clone(), d.conversation.clone(), None, None),
            TicketInput::Timer(_) => unreachable!("timers are fed by the clock"),
        };
        let style =
            self.styles
                .resolve(&account, brand.as_deref(), channel.unwrap_or(Channel::Web));
        let key = (account.clone(), conversation.clone());
        let lifecycle = self
            .conversations
            .entry(key)
            .or_insert_with(|| TicketLifecycle::new(account.clone(), conversation.clone()));
        let effects = lifecycle.step(input, &style, self.now);
        self.apply(&account, &conversation, &effects);
        effects
    }

    /// Moves the clock forward by `span`, firing every timer due on the way.
    pub fn advance(&mut self, span: Millis) {
        self.advance_to(self.now + span);
    }

    /// Moves the clock to `target` (never backwards), firing every timer due on the way in
    /// due order, each at its due time, until none is due at `target`.
    pub fn advance_to(&mut self, target: Timestamp) {
        while self.fire_next(target).is_some() {}
        self.set_now(target);
    }

    /// When the earliest pending timer is due.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.timers.first().map(|t| t.0)
    }

    /// Fires the earliest pending timer if it is due at or before `limit`, moving the clock
    /// to its due time, and returns what it caused.
    pub fn fire_next(&mut self, limit: Timestamp) -> Option<TicketEffects> {
        if self.timers.first()?.0 > limit {
            return None;
        }
        let (due, account, conversation, ticket_id) = self.timers.pop_first()?;
        self.set_now(due);
        let lifecycle = self
            .conversations
            .get_mut(&(account.clone(), conversation.clone()))
            .expect("a timer belongs to a known conversation");
        let effects = lifecycle.step(
            TicketInput::Timer(TicketTimer { ticket_id, due }),
            &Default::default(),
            self.now,
        );
        self.apply(&account, &conversation, &effects);
        Some(effects)
    }

    /// Moves the clock to `at` without firing anything (never backwards).
    pub fn set_now(&mut self, at: Timestamp) {
        self.now = self.now.max(at);
    }

    fn apply(&mut self, account: &str, conversation: &str, effects: &TicketEffects) {
        for command in &effects.timers {
            match command {
                TicketTimerCommand::Set(t) => {
                    self.timers.insert((
                        t.due,
                        account.to_owned(),
                        conversation.to_owned(),
                        t.ticket_id.clone(),
                    ));
                }
                TicketTimerCommand::Cancel(t) => {
                    self.timers.remove(&(
                        t.due,
                        account.to_owned(),
                        conversation.to_owned(),
                        t.ticket_id.clone(),
                    ));
                }
            }
        }
        self.log
            .status_changes
            .extend_from_slice(&effects.status_changes);
        self.log
            .routing_requests
            .extend_from_slice(&effects.routing_requests);
        self.log
            .ticket_metrics
            .extend_from_slice(&effects.ticket_metrics);
        self.log.rejections.extend_from_slice(&effects.rejections);
        self.log.duplicates += effects.duplicates;
    }

    fn fresh_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}-{}", self.next_id)
    }

    /// The end user of `account/conversation` writes on `channel`; the message id is given
    /// so tests can redeliver it.
    pub fn end_user_writes(
        &mut self,
        account: &str,
        conversation: &str,
        channel: Channel,
        message_id: &str,
    ) -> TicketEffects {
        let event = ConversationEvent {
            event_id: message_id.to_owned(),
            account: account.to_owned(),
            brand: None,
            conversation: conversation.to_owned(),
            channel,
            sent_at: self.now,
            received_at: self.now,
            text: Some(format!("message {message_id}")),
            attachments: Vec::new(),
            author_name: None,
            reply_handles: Vec::new(),
        };
        self.feed(TicketInput::Message(event))
    }

    /// An agent acts on the conversation's current ticket.
    pub fn agent_does(
        &mut self,
        account: &str,
        conversation: &str,
        agent: &str,
        kind: AgentActionKind,
        status: Option<Status>,
    ) -> TicketEffects {
        let action = AgentAction {
            action_id: self.fresh_id("action"),
            account: account.to_owned(),
            conversation: conversation.to_owned(),
            agent_id: agent.to_owned(),
            kind,
            status,
            priority: None,
            at: self.now,
        };
        self.feed(TicketInput::Action(action))
    }

    /// An agent sets the current ticket's routing priority.
    pub fn agent_sets_priority(
        &mut self,
        account: &str,
        conversation: &str,
        agent: &str,
        priority: i32,
    ) -> TicketEffects {
        let action = AgentAction {
            action_id: self.fresh_id("action"),
            account: account.to_owned(),
            conversation: conversation.to_owned(),
            agent_id: agent.to_owned(),
            kind: AgentActionKind::SetPriority,
            status: None,
            priority: Some(priority),
            at: self.now,
        };
        self.feed(TicketInput::Action(action))
    }

    /// The agent sets the current ticket's status.
    pub fn agent_sets(
        &mut self,
        account: &str,
        conversation: &str,
        agent: &str,
        status: Status,
    ) -> TicketEffects {
        self.agent_does(
            account,
            conversation,
            agent,
            AgentActionKind::SetStatus,
            Some(status),
        )
    }

    /// The router decides about the conversation's current ticket (or, if it has none, a
    /// ticket id that does not exist).
    pub fn router_decides(
        &mut self,
        account: &str,
        conversation: &str,
        kind: RoutingDecisionKind,
        agent: &str,
        reason: &str,
    ) -> TicketEffects {
        let ticket_id = self
            .conversation(account, conversation)
            .and_then(|c| c.current().map(|t| t.id.to_owned()))
            .unwrap_or_else(|| "no-ticket".to_owned());
        let decision = RoutingDecision {
            decision_id: self.fresh_id("decision"),
            account: account.to_owned(),
            conversation: conversation.to_owned(),
            ticket_id,
            kind,
            agent_id: Some(agent.to_owned()),
            reason: reason.to_owned(),
            at: self.now,
        };
        self.feed(TicketInput::Decision(decision))
    }

    /// Offers the current ticket to `agent` and has them accept it: the router's answer to
    /// the accept is an assignment.
    pub fn route_to(&mut self, account: &str, conversation: &str, agent: &str) {
        let _ = self.router_decides(
            account,
            conversation,
            RoutingDecisionKind::Offered,
            agent,
            "best_match",
        );
        let _ = self.agent_does(account, conversation, agent, AgentActionKind::Accept, None);
        let _ = self.router_decides(
            account,
            conversation,
            RoutingDecisionKind::Assigned,
            agent,
            "accepted",
        );
    }

    /// The status changes of one conversation as `from -> to` pairs, in order.
    pub fn transitions(&self, account: &str, conversation: &str) -> Vec<(Option<Status>, Status)> {
        self.log
            .status_changes
            .iter()
            .filter(|c| *c.account == *account && *c.conversation == *conversation)
            .map(|c| (c.from, c.to))
            .collect()
    }
}
