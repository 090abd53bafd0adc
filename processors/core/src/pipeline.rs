//! The ticket processor and the router together on a fake clock: what a partition of each
//! does, with the Kafka topics between them replaced by in-memory queues.
//!
//! An input goes to its processor; the routing requests it causes go to the account's
//! [`RoutingEngine`], whose decisions go back to the conversations' lifecycles, and so on
//! until nothing is left in flight (the pipeline is idle). Moving the clock fires the
//! timers of both, in due order, each settled before the next.

use crate::lifecycle::TicketInput;
use crate::model::*;
use crate::routing::{
    RoutingConfig, RoutingEffects, RoutingEngine, RoutingInput, RoutingRejection, RoutingTimer,
    RoutingTimerCommand,
};
use crate::sim::TicketSim;
use crate::style::StyleTable;
use crate::time::{Millis, Timestamp};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// What the routers emitted, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouterLog {
    /// Routing decisions.
    pub decisions: Vec<RoutingDecision>,
    /// Agent metrics.
    pub agent_metrics: Vec<AgentMetrics>,
    /// Refused requests and presence updates.
    pub rejections: Vec<RoutingRejection>,
}

/// The ticket lifecycles of many conversations and the routers of their accounts, wired
/// together on a fake clock.
#[derive(Debug)]
pub struct PipelineSim {
    tickets: TicketSim,
    routing_config: RoutingConfig,
    routers: BTreeMap<String, RoutingEngine>,
    router_timers: BTreeSet<(Timestamp, String, RoutingTimer)>,
    /// What the routers emitted; the ticket side's log is [`PipelineSim::tickets`].
    pub router_log: RouterLog,
    next_presence: u64,
}

impl PipelineSim {
    /// A pipeline whose clock starts at `start`, every account routed with `routing_config`.
    pub fn new(start: Timestamp, routing_config: RoutingConfig) -> PipelineSim {
        PipelineSim {
            tickets: TicketSim::new(start),
            routing_config,
            routers: BTreeMap::new(),
            router_timers: BTreeSet::new(),
            router_log: RouterLog::default(),
            next_presence: 0,
        }
    }

    /// The ticket side: lifecycles, their timers and everything they emitted.
    pub fn tickets(&self) -> &TicketSim {
        &self.tickets
    }

    /// The style configurations in force.
    pub fn styles_mut(&mut self) -> &mut StyleTable {
        &mut self.tickets.styles
    }

    /// The account's router, once it has seen an input.
    pub fn router(&self, account: &str) -> Option<&RoutingEngine> {
        self.routers.get(account)
    }

    /// The simulated time.
    pub fn now(&self) -> Timestamp {
        self.tickets.now()
    }

    /// An agent's whole presence record, as the agent workspace would publish it.
    pub fn presence(&mut self, presence: AgentPresence) {
        let account = presence.account.clone();
        let effects = self.router_step(&account, &RoutingInput::Presence(presence));
        self.settle(effects);
    }

    /// `agent` of `account` is online on `channels` with the given capacities and skills.
    pub fn agent_online(
        &mut self,
        account: &str,
        agent: &str,
        channels: &[(Channel, u32)],
        skills: &[&str],
    ) {
        self.agent_status(account, agent, channels, skills, AgentStatus::Online);
    }

    /// `agent` of `account` has `status` on `channels`, with the given capacities and skills.
    pub fn agent_status(
        &mut self,
        account: &str,
        agent: &str,
        channels: &[(Channel, u32)],
        skills: &[&str],
        status: AgentStatus,
    ) {
        self.next_presence += 1;
        self.presence(AgentPresence {
            presence_id: format!("presence-{}", self.next_presence),
            account: account.to_owned(),
            agent_id: agent.to_owned(),
            channels: channels
                .iter()
                .map(|&(channel, capacity)| ChannelPresence {
                    channel,
                    status,
                    capacity,
                })
                .collect(),
            skills: skills.iter().map(|s| (*s).to_owned()).collect(),
            groups: Vec::new(),
            at: self.now(),
        });
    }

    /// The end user of `account/conversation` writes on `channel`.
    pub fn end_user_writes(
        &mut self,
        account: &str,
        conversation: &str,
        channel: Channel,
        message_id: &str,
    ) {
        let effects = self
            .tickets
            .end_user_writes(account, conversation, channel, message_id);
        self.route(effects.routing_requests);
    }

    /// An agent acts on the conversation's current ticket.
    pub fn agent_does(
        &mut self,
        account: &str,
        conversation: &str,
        agent: &str,
        kind: AgentActionKind,
        status: Option<Status>,
    ) {
        let effects = self
            .tickets
            .agent_does(account, conversation, agent, kind, status);
        self.route(effects.routing_requests);
    }

    /// The assignee sets the ticket's status.
    pub fn agent_sets(&mut self, account: &str, conversation: &str, agent: &str, status: Status) {
        self.agent_does(
            account,
            conversation,
            agent,
            AgentActionKind::SetStatus,
            Some(status),
        );
    }

    /// Moves the clock forward by `span`.
    pub fn advance(&mut self, span: Millis) {
        self.advance_to(self.now() + span);
    }

    /// Moves the clock to `target`, firing the timers of both sides due on the way in due
    /// order (ticket timers first at equal times), each settled before the next.
    pub fn advance_to(&mut self, target: Timestamp) {
        loop {
            let ticket_due = self.tickets.next_due().filter(|due| *due <= target);
            let router_due = self
                .router_timers
                .first()
                .map(|t| t.0)
                .filter(|due| *due <= target);
            match (ticket_due, router_due) {
                (Some(t), r) if r.is_none_or(|r| t <= r) => {
                    if let Some(effects) = self.tickets.fire_next(t) {
                        self.route(effects.routing_requests);
                    }
                }
                (_, Some(_)) => {
                    let (due, account, timer) =
                        self.router_timers.pop_first().expect("a due router timer");
                    self.tickets.set_now(due);
                    let effects = self.router_step(&account, &RoutingInput::Timer(timer));
                    self.settle(effects);
                }
                _ => break,
            }
        }
        self.tickets.set_now(target);
    }

    fn router_step(&mut self, account: &str, input: &RoutingInput) -> RoutingEffects {
        let now = self.now();
        let config = &self.routing_config;
        let router = self
            .routers
            .entry(account.to_owned())
            .or_insert_with(|| RoutingEngine::new(account, config.clone()));
        let effects = router.step(input, now);
        for command in &effects.timers {
            match command {
                RoutingTimerCommand::Set(timer) => {
                    self.router_timers
                        .insert((timer.due(), account.to_owned(), timer.clone()));
                }
                RoutingTimerCommand::Cancel(timer) => {
                    self.router_timers
                        .remove(&(timer.due(), account.to_owned(), timer.clone()));
                }
            }
        }
        self.router_log
            .agent_metrics
            .extend_from_slice(&effects.agent_metrics);
        self.router_log
            .rejections
            .extend_from_slice(&effects.rejections);
        effects
    }

    /// Sends requests to their routers and the decisions back, until idle.
    fn route(&mut self, requests: Vec<RoutingRequest>) {
        self.settle_queue(requests.into(), VecDeque::new());
    }

    fn settle(&mut self, effects: RoutingEffects) {
        self.settle_queue(VecDeque::new(), effects.decisions.into());
    }

    fn settle_queue(
        &mut self,
        mut requests: VecDeque<RoutingRequest>,
        mut decisions: VecDeque<RoutingDecision>,
    ) {
        loop {
            if let Some(decision) = decisions.pop_front() {
                self.router_log.decisions.push(decision.clone());
                let effects = self.tickets.feed(TicketInput::Decision(decision));
                requests.extend(effects.routing_requests);
            } else if let Some(request) = requests.pop_front() {
                let account = request.account.clone();
                let effects = self.router_step(&account, &RoutingInput::Request(request));
                decisions.extend(effects.decisions);
            } else {
                break;
            }
        }
    }
}
