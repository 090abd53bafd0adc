//! [`RouterProcessor`]: the accounts of one partition, each a [`RoutingEngine`].

use crate::accounts::{AccountConfigs, SharedAccountConfigs};
use crate::config::RouterTopics;
use crate::queues::{QueueTable, SharedQueueTable};
use parley_core::routing::{
    AgentRecord, QueueDefinition, RoutingConfig, RoutingEffects, RoutingEngine, RoutingInput,
    RoutingTimer, RoutingTimerCommand, TicketRecord,
};
use parley_core::topics::conversation_key;
use parley_core::{
    AccountRoutingConfig, AgentMetrics, AgentPresence, RoutingDecision, RoutingRequest, Timestamp,
};
use parley_runtime::codec::AvroCodec;
use parley_runtime::{DecodeError, Effects, InputRecord, KeyedProcessor, Rejection, RestoreError};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// The codecs of every record the router reads or writes.
#[derive(Debug)]
pub struct RouterCodecs {
    /// `routing-requests`.
    pub routing_requests: AvroCodec<RoutingRequest>,
    /// `agent-presence`.
    pub agent_presence: AvroCodec<AgentPresence>,
    /// `routing-decisions`.
    pub routing_decisions: AvroCodec<RoutingDecision>,
    /// `agent-metrics`.
    pub agent_metrics: AvroCodec<AgentMetrics>,
    /// `routing-config`.
    pub routing_config: AvroCodec<AccountRoutingConfig>,
    /// `routing-queues`.
    pub routing_queues: AvroCodec<QueueDefinition>,
}

impl RouterCodecs {
    /// Every codec in Avro single-object encoding (no schema registry).
    pub fn single_object() -> RouterCodecs {
        RouterCodecs {
            routing_requests: AvroCodec::single_object(),
            agent_presence: AvroCodec::single_object(),
            routing_decisions: AvroCodec::single_object(),
            agent_metrics: AvroCodec::single_object(),
            routing_config: AvroCodec::single_object(),
            routing_queues: AvroCodec::single_object(),
        }
    }
}

/// The state key of an agent: `account/agent/<id>`.
pub fn agent_key(account: &str, agent_id: &str) -> Vec<u8> {
    format!("{account}/agent/{agent_id}").into_bytes()
}

/// The state key of a ticket: `account/ticket/<id>`.
pub fn ticket_key(account: &str, ticket_id: &str) -> Vec<u8> {
    format!("{account}/ticket/{ticket_id}").into_bytes()
}

/// What a state key names.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Entity {
    Agent,
    Ticket,
}

/// The account and the kind of entity of a state key.
pub(crate) fn parse_state_key(key: &str) -> Option<(&str, Entity)> {
    let (account, rest) = key.split_once('/')?;
    if rest.starts_with("agent/") {
        Some((account, Entity::Agent))
    } else if rest.starts_with("ticket/") {
        Some((account, Entity::Ticket))
    } else {
        None
    }
}

/// The tables every partition's processor reads, each filled by a reader of its compacted
/// topic.
#[derive(Clone, Debug)]
pub struct RouterTables {
    /// Each account's settings (`routing-config`).
    pub configs: SharedAccountConfigs,
    /// Each account's custom queues (`routing-queues`).
    pub queues: SharedQueueTable,
}

impl RouterTables {
    /// Tables with no record yet: every account routed with `process` (the router's
    /// flags), through the standard queue; values decode with `codecs`.
    pub fn empty(process: RoutingConfig, codecs: &RouterCodecs) -> RouterTables {
        RouterTables {
            configs: Arc::new(RwLock::new(AccountConfigs::new(
                process,
                codecs.routing_config.clone(),
            ))),
            queues: Arc::new(RwLock::new(QueueTable::new(codecs.routing_queues.clone()))),
        }
    }
}

/// One partition's accounts: one [`RoutingEngine`] per account (the record key), its
/// agents and tickets stored entity by entity under `account/agent/<id>` and
/// `account/ticket/<id>`. Each account is routed with its settings in the shared
/// routing-config table ([`AccountConfigs`](crate::accounts::AccountConfigs)): the process's
/// flags with the account's record laid over them; and with its custom queues in the
/// routing-queues table ([`QueueTable`](crate::queues::QueueTable)). A changed record
/// applies from the account's next input.
///
/// Refusals (to the DLQ): `wrong_key` when the record key is not the record's account,
/// `routing_refused` when the engine refuses the request or presence (the detail is the
/// engine's reason).
#[derive(Debug)]
pub struct RouterProcessor {
    topics: Arc<RouterTopics>,
    codecs: Arc<RouterCodecs>,
    tables: RouterTables,
    /// The routing-config table's version the engines' settings were last read at.
    configs_version: u64,
    /// The routing-queues table's version the engines' queues were last read at.
    queues_version: u64,
    engines: HashMap<String, RoutingEngine>,
    /// Records read by `restore`, turned into engines before the first input.
    restored: HashMap<String, (Vec<AgentRecord>, Vec<TicketRecord>)>,
}

impl RouterProcessor {
    /// A processor for one partition, writing to `topics` with `codecs`, each account
    /// routed with its settings in `configs`.
    pub fn new(
        topics: Arc<RouterTopics>,
        codecs: Arc<RouterCodecs>,
        tables: RouterTables,
    ) -> RouterProcessor {
        let configs_version = tables.configs.read().expect("not poisoned").version();
        let queues_version = tables.queues.read().expect("not poisoned").version();
        RouterProcessor {
            topics,
            codecs,
            tables,
            configs_version,
            queues_version,
            engines: HashMap::new(),
            restored: HashMap::new(),
        }
    }

    /// The engine of an account, once it has seen an input or was restored.
    pub fn engine(&mut self, account: &str) -> Option<&RoutingEngine> {
        self.finish_restore();
        self.engines.get(account)
    }

    fn finish_restore(&mut self) {
        if self.restored.is_empty() {
            return;
        }
        let configs = self.tables.configs.read().expect("not poisoned");
        let queues = self.tables.queues.read().expect("not poisoned");
        for (account, (agents, tickets)) in self.restored.drain() {
            let config = configs.config_for(&account).clone();
            let mut engine = RoutingEngine::restore(&account, config, agents, tickets);
            engine.set_queues(queues.rules_for(&account));
            self.engines.insert(account, engine);
        }
    }

    /// Gives every engine its account's settings and queues if their tables changed since
    /// last time.
    fn sync_tables(&mut self) {
        let configs = self.tables.configs.read().expect("not poisoned");
        if configs.version() != self.configs_version {
            for (account, engine) in &mut self.engines {
                let config = configs.config_for(account);
                if engine.config() != config {
                    engine.set_config(config.clone());
                }
            }
            self.configs_version = configs.version();
        }
        let queues = self.tables.queues.read().expect("not poisoned");
        if queues.version() != self.queues_version {
            for (account, engine) in &mut self.engines {
                let rules = queues.rules_for(account);
                if *engine.queues() != rules {
                    engine.set_queues(rules);
                }
            }
            self.queues_version = queues.version();
        }
    }

    fn step(
        &mut self,
        account: &str,
        input: &RoutingInput,
        now: Timestamp,
        effects: &mut Effects<RoutingTimer>,
    ) -> Result<(), Rejection> {
        self.finish_restore();
        self.sync_tables();
        let engine = match self.engines.entry(account.to_owned()) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                let config = self.tables.configs.read().expect("not poisoned");
                let mut engine = RoutingEngine::new(account, config.config_for(account).clone());
                let queues = self.tables.queues.read().expect("not poisoned");
                engine.set_queues(queues.rules_for(account));
                entry.insert(engine)
            }
        };
        let fx = engine.step(input, now);
        self.apply(account, fx, effects)
    }

    fn apply(
        &mut self,
        account: &str,
        fx: RoutingEffects,
        effects: &mut Effects<RoutingTimer>,
    ) -> Result<(), Rejection> {
        if fx.decisions.is_empty() && !fx.rejections.is_empty() {
            let detail = fx
                .rejections
                .iter()
                .map(|r| format!("{}: {}", r.input_id, r.reason))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(Rejection {
                reason: "routing_refused",
                detail,
            });
        }
        for decision in &fx.decisions {
            let value = self
                .codecs
                .routing_decisions
                .encode(decision)
                .expect("a routing decision encodes");
            effects.emit(
                self.topics.routing_decisions.clone(),
                conversation_key(&decision.account, &decision.conversation),
                value,
            );
        }
        for metrics in &fx.agent_metrics {
            let value = self
                .codecs
                .agent_metrics
                .encode(metrics)
                .expect("agent metrics encode");
            effects.emit(
                self.topics.agent_metrics.clone(),
                metrics.account.clone(),
                value,
            );
        }
        for command in fx.timers {
            match command {
                RoutingTimerCommand::Set(timer) => {
                    let due = timer.due();
                    effects.set_timer(account, timer, due)
                }
                RoutingTimerCommand::Cancel(timer) => effects.cancel_timer(account, timer),
            }
        }
        // Taken only for an accepted input: a refused one changed nothing.
        let engine = self.engines.get_mut(account).expect("stepped just now");
        let dirty = engine.take_dirty();
        for agent in &dirty.agents {
            let key = agent_key(account, agent);
            match engine.agent_record(agent) {
                Some(record) => effects.put(
                    key,
                    serde_json::to_vec(&record).expect("an agent record serialises"),
                ),
                None => effects.delete(key),
            }
        }
        for ticket in &dirty.tickets {
            let key = ticket_key(account, ticket);
            match engine.ticket_record(ticket) {
                Some(record) => effects.put(
                    key,
                    serde_json::to_vec(&record).expect("a ticket record serialises"),
                ),
                None => effects.delete(key),
            }
        }
        Ok(())
    }
}

impl KeyedProcessor for RouterProcessor {
    type Input = RoutingInput;
    type Timer = RoutingTimer;

    /// `account/agent/<id>` and `account/ticket/<id>` belong to the record key `account`.
    fn record_key(state_key: &[u8]) -> Option<&[u8]> {
        let (account, _) = parse_state_key(std::str::from_utf8(state_key).ok()?)?;
        Some(&state_key[..account.len()])
    }

    fn restore(&mut self, state_key: &[u8], value: &[u8]) -> Result<(), RestoreError> {
        const RULE: &str = "the router's state keys are account/agent/<id> and account/ticket/<id>";
        let key_error = || RestoreError::Key {
            key: String::from_utf8_lossy(state_key).into_owned(),
            rule: RULE.into(),
        };
        let key = std::str::from_utf8(state_key).map_err(|_| key_error())?;
        let bad = |e: serde_json::Error| RestoreError::value(state_key, e);
        match parse_state_key(key) {
            Some((account, Entity::Agent)) => {
                let record: AgentRecord = serde_json::from_slice(value).map_err(bad)?;
                self.restored
                    .entry(account.to_owned())
                    .or_default()
                    .0
                    .push(record);
            }
            Some((account, Entity::Ticket)) => {
                let record: TicketRecord = serde_json::from_slice(value).map_err(bad)?;
                self.restored
                    .entry(account.to_owned())
                    .or_default()
                    .1
                    .push(record);
            }
            None => return Err(key_error()),
        }
        Ok(())
    }

    fn decode(&self, record: &InputRecord<'_>) -> Result<RoutingInput, DecodeError> {
        let decoded = if record.topic == self.topics.routing_requests {
            self.codecs
                .routing_requests
                .decode(record.value)
                .map(RoutingInput::Request)
        } else if record.topic == self.topics.agent_presence {
            self.codecs
                .agent_presence
                .decode(record.value)
                .map(RoutingInput::Presence)
        } else {
            return Err(DecodeError::NotAnInput(record.topic.to_owned()));
        };
        Ok(decoded?)
    }

    fn handle(
        &mut self,
        key: &[u8],
        input: RoutingInput,
        now: Timestamp,
        effects: &mut Effects<RoutingTimer>,
    ) -> Result<(), Rejection> {
        let account: &str = match &input {
            RoutingInput::Request(r) => &r.account,
            RoutingInput::Presence(p) => &p.account,
            RoutingInput::Timer(_) => {
                return Err(Rejection {
                    reason: "timer_as_input",
                    detail: "timers come from the runtime, not from a topic".into(),
                })
            }
        };
        if key != account.as_bytes() {
            return Err(Rejection {
                reason: "wrong_key",
                detail: format!(
                    "record key {:?} is not the account {account:?}: the router's inputs are keyed by account",
                    String::from_utf8_lossy(key)
                ),
            });
        }
        self.step(account, &input, now, effects)
    }

    fn on_timer(
        &mut self,
        key: &[u8],
        timer: RoutingTimer,
        now: Timestamp,
        effects: &mut Effects<RoutingTimer>,
    ) {
        let Ok(account) = std::str::from_utf8(key) else {
            tracing::warn!(
                key = %String::from_utf8_lossy(key),
                ?timer,
                "timer of a key that is not an account, ignored"
            );
            return;
        };
        let account = account.to_owned();
        if let Err(rejection) = self.step(&account, &RoutingInput::Timer(timer), now, effects) {
            tracing::warn!(%account, detail = %rejection.detail, "timer refused");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_core::{
        AgentStatus, Channel, ChannelPresence, RoutingDecisionKind, RoutingRequestKind,
    };
    use parley_runtime::table::TableRecords;
    use parley_runtime::TimerId;

    fn processor(config: RoutingConfig) -> RouterProcessor {
        processor_over(table(config))
    }

    fn table(config: RoutingConfig) -> SharedAccountConfigs {
        Arc::new(std::sync::RwLock::new(AccountConfigs::new(
            config,
            AvroCodec::single_object(),
        )))
    }

    fn processor_over(configs: SharedAccountConfigs) -> RouterProcessor {
        let codecs = RouterCodecs::single_object();
        let tables = RouterTables {
            configs,
            ..RouterTables::empty(RoutingConfig::default(), &codecs)
        };
        RouterProcessor::new(Arc::new(crate::topics("t.")), Arc::new(codecs), tables)
    }

    fn presence(capacity: u32) -> AgentPresence {
        AgentPresence {
            presence_id: "p1".into(),
            account: "acme".into(),
            agent_id: "a1".into(),
            channels: vec![ChannelPresence {
                channel: Channel::Whatsapp,
                status: AgentStatus::Online,
                capacity,
            }],
            skills: Vec::new(),
            groups: Vec::new(),
            at: Timestamp(1_000),
        }
    }

    fn enqueue(conversation: &str) -> RoutingRequest {
        RoutingRequest {
            request_id: format!("r-{conversation}").into(),
            account: "acme".into(),
            conversation: conversation.into(),
            ticket_id: format!("t-{conversation}").into(),
            kind: RoutingRequestKind::Enqueue,
            agent_id: None,
            channel: Channel::Whatsapp,
            priority: 0,
            required_skills: Vec::new(),
            group: None,
            brand: None,
            created_at: Timestamp(1_000),
            sla_breach_at: None,
            at: Timestamp(1_000),
        }
    }

    #[test]
    fn state_keys_parse() {
        assert_eq!(
            parse_state_key("acme/ticket/acme/c/1").map(|(a, e)| (a.to_owned(), e)),
            Some(("acme".to_owned(), Entity::Ticket))
        );
        assert!(parse_state_key("acme/other/1").is_none());
    }

    #[test]
    fn an_offer_sets_a_timer_writes_entities_and_restores() {
        let mut p = processor(RoutingConfig::default());
        let mut effects = Effects::default();
        p.handle(
            b"acme",
            RoutingInput::Presence(presence(1)),
            Timestamp(1_000),
            &mut effects,
        )
        .unwrap();
        p.handle(
            b"acme",
            RoutingInput::Request(enqueue("c1")),
            Timestamp(2_000),
            &mut effects,
        )
        .unwrap();
        let decisions: Vec<RoutingDecision> = effects
            .outputs
            .iter()
            .filter(|o| o.topic == "t.routing-decisions")
            .map(|o| {
                assert_eq!(o.key, b"acme/c1");
                p.codecs.routing_decisions.decode(&o.value).unwrap()
            })
            .collect();
        assert_eq!(decisions.len(), 1);
        assert_eq!(decisions[0].kind, RoutingDecisionKind::Offered);
        assert!(matches!(
            &effects.timers[..],
            [parley_runtime::TimerCommand::Set { key, .. }] if key == b"acme"
        ));

        let mut restored = processor(RoutingConfig::default());
        let mut latest = std::collections::BTreeMap::new();
        for write in &effects.state {
            latest.insert(write.state_key.clone(), write.value.clone());
        }
        for (key, value) in &latest {
            restored.restore(key, value.as_deref().unwrap()).unwrap();
        }
        let original = p.engine("acme").unwrap().ticket_view("t-c1");
        assert_eq!(
            restored.engine("acme").unwrap().ticket_view("t-c1"),
            original
        );
    }

    #[test]
    fn an_offer_timeout_fires_from_its_timer_and_from_the_json_it_was_once_stored_as() {
        let run = |fire: &dyn Fn(&RoutingTimer) -> RoutingTimer| {
            let mut p = processor(RoutingConfig::default());
            let mut effects = Effects::default();
            for (input, at) in [
                (RoutingInput::Presence(presence(1)), 1_000),
                (RoutingInput::Request(enqueue("c1")), 2_000),
            ] {
                p.handle(b"acme", input, Timestamp(at), &mut effects)
                    .unwrap();
            }
            let [parley_runtime::TimerCommand::Set { timer, due, .. }] = &effects.timers[..] else {
                panic!("{:?}", effects.timers)
            };
            assert!(matches!(timer, RoutingTimer::OfferTimeout { .. }));
            let mut fired = Effects::default();
            p.on_timer(b"acme", fire(timer), *due, &mut fired);
            fired
        };
        let typed = run(&|timer| timer.clone());
        let from_json = run(&|timer| {
            let stored = serde_json::to_vec(timer).unwrap();
            assert_eq!(stored.first(), Some(&b'{'));
            RoutingTimer::decode(&stored).unwrap()
        });
        let decisions: Vec<RoutingDecision> = typed
            .outputs
            .iter()
            .filter(|o| o.topic == "t.routing-decisions")
            .map(|o| {
                RouterCodecs::single_object()
                    .routing_decisions
                    .decode(&o.value)
                    .unwrap()
            })
            .collect();
        assert!(
            decisions
                .iter()
                .any(|d| d.kind == RoutingDecisionKind::OfferWithdrawn),
            "{decisions:?}"
        );
        assert_eq!(typed, from_json);
    }

    #[test]
    fn an_accept_without_offer_is_refused_and_writes_nothing() {
        let mut p = processor(RoutingConfig::default());
        let mut effects = Effects::default();
        p.handle(
            b"acme",
            RoutingInput::Request(enqueue("c1")),
            Timestamp(1_000),
            &mut effects,
        )
        .unwrap();
        let mut accept = enqueue("c1");
        accept.request_id = "r-accept".into();
        accept.kind = RoutingRequestKind::Accept;
        accept.agent_id = Some("a1".into());
        let mut refused = Effects::default();
        let err = p
            .handle(
                b"acme",
                RoutingInput::Request(accept),
                Timestamp(2_000),
                &mut refused,
            )
            .unwrap_err();
        assert_eq!(err.reason, "routing_refused");
        assert!(err.detail.contains("r-accept"), "{}", err.detail);
        assert!(refused.is_empty());
    }

    #[test]
    fn each_account_is_routed_with_its_record_over_the_process_settings() {
        let configs = table(RoutingConfig::default());
        let mut p = processor_over(configs.clone());
        let mut effects = Effects::default();
        p.handle(
            b"acme",
            RoutingInput::Presence(presence(1)),
            Timestamp(1_000),
            &mut effects,
        )
        .unwrap();
        assert_eq!(
            p.engine("acme").unwrap().config(),
            &RoutingConfig::default()
        );
        // acme auto-accepts WhatsApp from now on; an engine already running takes it at
        // its next input.
        let record = AccountRoutingConfig {
            account: "acme".into(),
            auto_accept: Some(vec![Channel::Whatsapp]),
            offer_timeout_ms: None,
            skills_timeout_ms: None,
            returning_grace_ms: None,
            mode: None,
            away_after_offer_timeouts: None,
            queue_order: None,
            updated_at: Timestamp(0),
        };
        let value = p.codecs.routing_config.encode(&record).unwrap();
        configs
            .write()
            .unwrap()
            .apply(b"acme", Some(&value))
            .unwrap();
        let mut effects = Effects::default();
        p.handle(
            b"acme",
            RoutingInput::Request(enqueue("c1")),
            Timestamp(2_000),
            &mut effects,
        )
        .unwrap();
        let decision: RoutingDecision = effects
            .outputs
            .iter()
            .find(|o| o.topic == "t.routing-decisions")
            .map(|o| p.codecs.routing_decisions.decode(&o.value).unwrap())
            .unwrap();
        assert_eq!(
            (decision.kind, decision.reason.as_str()),
            (RoutingDecisionKind::Assigned, "auto_accept")
        );
        // Another account keeps the process's settings.
        let mut globex = enqueue("c2");
        globex.account = "globex".into();
        p.handle(
            b"globex",
            RoutingInput::Request(globex),
            Timestamp(3_000),
            &mut Effects::default(),
        )
        .unwrap();
        assert_eq!(
            p.engine("globex").unwrap().config(),
            &RoutingConfig::default()
        );
    }

    #[test]
    fn a_record_keyed_by_another_account_is_refused() {
        let mut p = processor(RoutingConfig::default());
        let err = p
            .handle(
                b"acme/c1",
                RoutingInput::Request(enqueue("c1")),
                Timestamp(1_000),
                &mut Effects::default(),
            )
            .unwrap_err();
        assert_eq!(err.reason, "wrong_key");
    }
}
