//! Property tests over random interleavings of presence changes, enqueues, answers,
//! status changes, manual assignments, closes and clock advances.
//!
//! The test plays the ticket processor (it keeps each ticket's status and assignee and
//! applies the router's decisions to them; it changes tickets' priorities and SLA breach
//! times) and the host (it keeps and fires timers), with the queue ordered by priority or
//! by SLA, and after every step checks:
//! - the capacity invariant: each agent's load on a channel equals the number of tickets
//!   assigned to them on that channel in New or Open that are not inactive, its inactive
//!   count the number that are, and the engine's indexes agree with its facts;
//! - no offer or routed assignment goes to an agent who is not eligible, and none of a
//!   custom queue's tickets goes outside its primary group before the queue's secondary
//!   wait;
//! - no queued ticket waits while an eligible agent has free capacity, and no ticket goes
//!   to an agent while one that agent may take waits ahead of it in the queue order;
//! - an agent is set away by the router exactly when its offers on a channel have timed
//!   out `away_after_offer_timeouts` times in a row, and stays so until its next presence;
//! - and, across runs, that the same inputs give identical outputs, also when the engine
//!   is persisted and restored from its records between every two steps.

use super::*;
use crate::model::*;
use crate::time::{Millis, Timestamp};
use proptest::prelude::*;
use std::collections::BTreeMap;

const AGENTS: usize = 4;
const TICKETS: usize = 6;
const CHANNELS: [Channel; 2] = [Channel::Web, Channel::Whatsapp];
const SKILLS: [&str; 2] = ["billing", "german"];
const STATUSES: [AgentStatus; 4] = [
    AgentStatus::Online,
    AgentStatus::Online,
    AgentStatus::Away,
    AgentStatus::Offline,
];

#[derive(Clone, Debug)]
enum Op {
    Presence {
        agent: usize,
        channels: [(usize, u32); 2],
        skills: u8,
        /// Bit 0: in the group `vip`; bit 1: in `tier2`.
        groups: u8,
    },
    Enqueue {
        ticket: usize,
        channel: usize,
        priority: i32,
        skills: u8,
        grouped: bool,
        /// When its next SLA target runs out, in minutes from now; none without one.
        sla: Option<i64>,
    },
    /// The ticket processor sends a new priority and SLA breach time.
    Update {
        ticket: usize,
        priority: i32,
        sla: Option<i64>,
    },
    Accept {
        ticket: usize,
        agent: Option<usize>,
    },
    Decline {
        ticket: usize,
        agent: Option<usize>,
    },
    Release {
        ticket: usize,
        to: Status,
    },
    Reopen {
        ticket: usize,
    },
    /// The conversation goes quiet (messaging inactivity).
    Quiet {
        ticket: usize,
    },
    Assign {
        ticket: usize,
        agent: usize,
    },
    Close {
        ticket: usize,
    },
    Advance {
        ms: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let agent = 0..AGENTS;
    let ticket = 0..TICKETS;
    prop_oneof![
        3 => (agent.clone(), [(0..4usize, 0..3u32), (0..4usize, 0..3u32)], 0..4u8, 0..4u8)
            .prop_map(|(agent, channels, skills, groups)| Op::Presence { agent, channels, skills, groups }),
        4 => (ticket.clone(), 0..2usize, 0..3i32, 0..4u8, prop::bool::weighted(0.2), sla())
            .prop_map(|(ticket, channel, priority, skills, grouped, sla)| Op::Enqueue { ticket, channel, priority, skills, grouped, sla }),
        1 => (ticket.clone(), 0..3i32, sla()).prop_map(|(ticket, priority, sla)| Op::Update { ticket, priority, sla }),
        3 => (ticket.clone(), prop::option::weighted(0.2, agent.clone())).prop_map(|(ticket, agent)| Op::Accept { ticket, agent }),
        2 => (ticket.clone(), prop::option::weighted(0.2, agent.clone())).prop_map(|(ticket, agent)| Op::Decline { ticket, agent }),
        2 => (ticket.clone(), prop::sample::select(vec![Status::Pending, Status::OnHold, Status::Solved]))
            .prop_map(|(ticket, to)| Op::Release { ticket, to }),
        2 => ticket.clone().prop_map(|ticket| Op::Reopen { ticket }),
        2 => ticket.clone().prop_map(|ticket| Op::Quiet { ticket }),
        1 => (ticket.clone(), agent).prop_map(|(ticket, agent)| Op::Assign { ticket, agent }),
        1 => ticket.prop_map(|ticket| Op::Close { ticket }),
        2 => (0..90_000i64).prop_map(|ms| Op::Advance { ms }),
    ]
}

/// A breach time a few minutes either side of now (ties and breaches already past
/// included), or none.
fn sla() -> impl Strategy<Value = Option<i64>> {
    prop::option::weighted(0.7, -2..4i64)
}

fn config(mode: RoutingMode, queue_order: QueueOrder) -> RoutingConfig {
    RoutingConfig {
        auto_accept: vec![Channel::Whatsapp],
        offer_timeout_ms: crate::time::Millis::seconds(30),
        skills_timeout_ms: Some(crate::time::Millis::seconds(60)),
        returning_grace_ms: crate::time::Millis::seconds(45),
        mode,
        away_after_offer_timeouts: std::num::NonZeroU32::new(AWAY_AFTER),
        queue_order,
    }
}

/// What the ticket processor knows of a ticket.
#[derive(Clone, Debug)]
struct ModelTicket {
    request: RoutingRequest,
    status: Status,
    assignee: Option<String>,
    /// Assigned, Open and quiet: it takes no capacity until the end user writes.
    inactive: bool,
}

/// The ticket processor, the agent workspace and the host, around one engine.
struct World {
    engine: RoutingEngine,
    mode: RoutingMode,
    order: QueueOrder,
    /// Restore the engine from its records before every step.
    persisted: bool,
    agents_db: BTreeMap<String, AgentRecord>,
    tickets_db: BTreeMap<String, TicketRecord>,
    now: Timestamp,
    seq: u64,
    timers: BTreeMap<(Timestamp, String), RoutingTimer>,
    presence: BTreeMap<String, AgentPresence>,
    tickets: BTreeMap<String, ModelTicket>,
    offered: BTreeMap<String, String>,
    /// Offer timeouts since the agent's last answer, by agent and channel.
    timeouts_in_row: BTreeMap<(String, Channel), u32>,
    /// Agents and channels the router must have set away for missed offers.
    set_away: BTreeMap<(String, Channel), ()>,
    log: Vec<RoutingEffects>,
}

/// The run of offer timeouts that sets an agent away, as in [`config`].
const AWAY_AFTER: u32 = 2;

fn agent_name(i: usize) -> String {
    format!("a{i}")
}

fn skills_of(mask: u8) -> Vec<String> {
    SKILLS
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, s)| (*s).to_owned())
        .collect()
}

/// The account's custom queues: billing tickets for `vip`, then `tier2` after a minute;
/// WhatsApp tickets for `tier2`, behind billing; the rest in the standard queue.
fn queues() -> QueueRules {
    let queue = |id: &str, position, priority, conditions, primary: &str, secondary: &[&str]| {
        QueueDefinition {
            account: "acme".into(),
            queue_id: id.into(),
            position,
            priority,
            conditions,
            primary_group: primary.into(),
            secondary_groups: secondary.iter().map(|g| (*g).to_owned()).collect(),
            secondary_after_ms: Millis::minutes(1),
            updated_at: Timestamp(0),
        }
    };
    QueueRules::new(vec![
        queue(
            "billing",
            1,
            5,
            QueueConditions {
                skills: vec!["billing".into()],
                ..QueueConditions::default()
            },
            "vip",
            &["tier2"],
        ),
        queue(
            "chat",
            2,
            30,
            QueueConditions {
                channels: vec![Channel::Whatsapp],
                ..QueueConditions::default()
            },
            "tier2",
            &[],
        ),
    ])
}

fn engine(mode: RoutingMode, order: QueueOrder) -> RoutingEngine {
    let mut engine = RoutingEngine::new("acme", config(mode, order));
    engine.set_queues(queues());
    engine
}

impl World {
    fn new(persisted: bool, mode: RoutingMode, order: QueueOrder) -> World {
        World {
            engine: engine(mode, order),
            mode,
            order,
            persisted,
            agents_db: BTreeMap::new(),
            tickets_db: BTreeMap::new(),
            now: Timestamp(0),
            seq: 0,
            timers: BTreeMap::new(),
            presence: BTreeMap::new(),
            tickets: BTreeMap::new(),
            offered: BTreeMap::new(),
            timeouts_in_row: BTreeMap::new(),
            set_away: BTreeMap::new(),
            log: Vec::new(),
        }
    }

    fn next_id(&mut self, prefix: &str) -> String {
        self.seq += 1;
        format!("{prefix}.{}", self.seq)
    }

    fn request(
        &mut self,
        ticket: &str,
        kind: RoutingRequestKind,
        agent: Option<String>,
    ) -> Result<(), TestCaseError> {
        let mut request = self.tickets[ticket].request.clone();
        request.request_id = self.next_id(ticket).into();
        request.kind = kind;
        request.agent_id = agent;
        request.at = self.now;
        self.step(RoutingInput::Request(request))
    }

    fn step(&mut self, input: RoutingInput) -> Result<(), TestCaseError> {
        if self.persisted {
            self.engine = RoutingEngine::restore(
                "acme",
                config(self.mode, self.order),
                self.agents_db.values().cloned(),
                self.tickets_db.values().cloned(),
            );
            self.engine.set_queues(queues());
        }
        let now = match &input {
            RoutingInput::Timer(timer) => timer.due(),
            _ => self.now,
        };
        let effects = self.engine.step(&input, now);
        if self.persisted {
            let dirty = self.engine.take_dirty();
            for id in dirty.agents {
                match self.engine.agent_record(&id) {
                    Some(r) => self.agents_db.insert(id, r),
                    None => self.agents_db.remove(&id),
                };
            }
            for id in dirty.tickets {
                match self.engine.ticket_record(&id) {
                    Some(r) => self.tickets_db.insert(id, r),
                    None => self.tickets_db.remove(&id),
                };
            }
        }
        for command in &effects.timers {
            match command {
                RoutingTimerCommand::Set(t) => {
                    self.timers.insert((t.due(), t.firing_id()), t.clone());
                }
                RoutingTimerCommand::Cancel(t) => {
                    self.timers.remove(&(t.due(), t.firing_id()));
                }
            }
        }
        self.check_routed_agents_were_eligible(&effects)?;
        self.check_no_higher_ordered_ticket_was_skipped(&effects)?;
        self.follow_missed_offers(&effects);
        for d in &effects.decisions {
            let agent = d.agent_id.clone().unwrap();
            match d.kind {
                RoutingDecisionKind::Offered => {
                    self.offered.insert(d.ticket_id.clone(), agent);
                }
                RoutingDecisionKind::OfferWithdrawn => {
                    self.offered.remove(&d.ticket_id);
                }
                RoutingDecisionKind::Assigned => {
                    self.offered.remove(&d.ticket_id);
                    let t = self.tickets.get_mut(&d.ticket_id).unwrap();
                    t.assignee = Some(agent);
                    t.inactive = false;
                    if t.status == Status::New {
                        t.status = Status::Open;
                    }
                }
                RoutingDecisionKind::Unassigned => {
                    let t = self.tickets.get_mut(&d.ticket_id).unwrap();
                    t.assignee = None;
                    t.inactive = false;
                }
            }
        }
        self.log.push(effects);
        self.check_invariants()
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match op.clone() {
            Op::Presence {
                agent,
                channels,
                skills,
                groups,
            } => {
                let agent_id = agent_name(agent);
                let presence = AgentPresence {
                    presence_id: self.next_id(&agent_id),
                    account: "acme".into(),
                    agent_id: agent_id.clone(),
                    channels: CHANNELS
                        .iter()
                        .zip(channels)
                        .map(|(channel, (status, capacity))| ChannelPresence {
                            channel: *channel,
                            status: STATUSES[status],
                            capacity,
                        })
                        .collect(),
                    skills: skills_of(skills),
                    groups: [(1, "vip"), (2, "tier2")]
                        .into_iter()
                        .filter(|(bit, _)| groups & bit != 0)
                        .map(|(_, g)| g.to_owned())
                        .collect(),
                    at: self.now,
                };
                self.set_away.retain(|(agent, _), _| *agent != agent_id);
                self.presence.insert(agent_id, presence.clone());
                self.step(RoutingInput::Presence(presence))?;
            }
            Op::Enqueue {
                ticket,
                channel,
                priority,
                skills,
                grouped,
                sla,
            } => {
                let id = format!("t{ticket}");
                if self.tickets.contains_key(&id) {
                    return Ok(());
                }
                let request = RoutingRequest {
                    request_id: String::new().into(),
                    account: "acme".into(),
                    conversation: format!("c{ticket}").into(),
                    ticket_id: id.as_str().into(),
                    kind: RoutingRequestKind::Enqueue,
                    agent_id: None,
                    channel: CHANNELS[channel],
                    priority,
                    required_skills: skills_of(skills),
                    group: grouped.then(|| "vip".to_owned()),
                    brand: None,
                    created_at: self.now,
                    sla_breach_at: sla.map(|m| self.now + Millis::minutes(m)),
                    at: self.now,
                };
                self.tickets.insert(
                    id.clone(),
                    ModelTicket {
                        request,
                        status: Status::New,
                        assignee: None,
                        inactive: false,
                    },
                );
                self.request(&id, RoutingRequestKind::Enqueue, None)?;
            }
            Op::Update {
                ticket,
                priority,
                sla,
            } => {
                let id = format!("t{ticket}");
                let now = self.now;
                let Some(t) = self.tickets.get_mut(&id) else {
                    return Ok(());
                };
                t.request.priority = priority;
                t.request.sla_breach_at = sla.map(|m| now + Millis::minutes(m));
                self.request(&id, RoutingRequestKind::Update, None)?;
            }
            Op::Accept { ticket, agent } | Op::Decline { ticket, agent } => {
                let id = format!("t{ticket}");
                if !self.tickets.contains_key(&id) {
                    return Ok(());
                }
                let who = match agent {
                    Some(a) => agent_name(a),
                    None => match self.offered.get(&id) {
                        Some(a) => a.clone(),
                        None => return Ok(()),
                    },
                };
                let kind = if matches!(op, Op::Accept { .. }) {
                    RoutingRequestKind::Accept
                } else {
                    RoutingRequestKind::Decline
                };
                self.request(&id, kind, Some(who))?;
            }
            Op::Release { ticket, to } => {
                let id = format!("t{ticket}");
                let Some(t) = self.tickets.get_mut(&id) else {
                    return Ok(());
                };
                let Some(assignee) = t.assignee.clone() else {
                    return Ok(());
                };
                if t.status == to {
                    return Ok(());
                }
                let was_consuming = t.status.consumes_capacity();
                t.status = to;
                t.inactive = false;
                if was_consuming {
                    self.request(&id, RoutingRequestKind::Release, Some(assignee))?;
                }
            }
            Op::Reopen { ticket } => {
                let id = format!("t{ticket}");
                let Some(t) = self.tickets.get_mut(&id) else {
                    return Ok(());
                };
                let Some(assignee) = t.assignee.clone() else {
                    return Ok(());
                };
                // A reopen, or the end user of a quiet conversation writing again.
                if t.status.consumes_capacity() && !t.inactive {
                    return Ok(());
                }
                t.status = Status::Open;
                t.inactive = false;
                self.request(&id, RoutingRequestKind::Consume, Some(assignee))?;
            }
            Op::Quiet { ticket } => {
                let id = format!("t{ticket}");
                let Some(t) = self.tickets.get_mut(&id) else {
                    return Ok(());
                };
                let Some(assignee) = t.assignee.clone() else {
                    return Ok(());
                };
                if !t.status.consumes_capacity() || t.inactive {
                    return Ok(());
                }
                t.inactive = true;
                self.request(&id, RoutingRequestKind::Inactive, Some(assignee))?;
            }
            Op::Assign { ticket, agent } => {
                let id = format!("t{ticket}");
                let Some(t) = self.tickets.get_mut(&id) else {
                    return Ok(());
                };
                if t.status == Status::New {
                    t.status = Status::Open;
                }
                t.assignee = Some(agent_name(agent));
                t.inactive = false;
                self.request(&id, RoutingRequestKind::Assign, Some(agent_name(agent)))?;
            }
            Op::Close { ticket } => {
                let id = format!("t{ticket}");
                if !self.tickets.contains_key(&id) {
                    return Ok(());
                }
                // The ticket processor forgets the ticket as it sends the close.
                let mut request = self.tickets.remove(&id).unwrap().request;
                request.request_id = self.next_id(&id).into();
                request.kind = RoutingRequestKind::Close;
                request.at = self.now;
                self.offered.remove(&id);
                self.step(RoutingInput::Request(request))?;
            }
            Op::Advance { ms } => {
                let until = self.now + crate::time::Millis(ms);
                while let Some(entry) = self.timers.first_entry() {
                    if entry.key().0 > until {
                        break;
                    }
                    let timer = entry.remove();
                    self.now = self.now.max(timer.due());
                    self.step(RoutingInput::Timer(timer))?;
                }
                self.now = until;
            }
        }
        Ok(())
    }

    /// Counts each agent's run of offer timeouts from the decisions; at the limit the agent
    /// is away on the channel, for the eligibility checks too.
    fn follow_missed_offers(&mut self, effects: &RoutingEffects) {
        for d in &effects.decisions {
            let Some(ticket) = self.tickets.get(&d.ticket_id) else {
                continue;
            };
            let key = (d.agent_id.clone().unwrap(), ticket.request.channel);
            match (d.kind, d.reason.as_str()) {
                (RoutingDecisionKind::OfferWithdrawn, "offer_timeout") => {
                    let run = self.timeouts_in_row.entry(key.clone()).or_default();
                    *run += 1;
                    if *run == AWAY_AFTER {
                        *run = 0;
                        self.set_away.insert(key.clone(), ());
                        let presence = self.presence.get_mut(&key.0).unwrap();
                        for c in &mut presence.channels {
                            if c.channel == key.1 {
                                c.status = AgentStatus::Away;
                            }
                        }
                    }
                }
                (RoutingDecisionKind::OfferWithdrawn, "declined")
                | (RoutingDecisionKind::Assigned, "accepted") => {
                    self.timeouts_in_row.remove(&key);
                }
                _ => {}
            }
        }
    }

    /// Whether the agent, by the presence the workspace sent, may take the ticket
    /// (capacity aside).
    fn qualifies(&self, agent: &str, ticket: &RoutingRequest, skills_relaxed: bool) -> bool {
        self.qualifies_in_queue(
            agent,
            ticket,
            skills_relaxed,
            self.secondary_open(&ticket.ticket_id),
        )
    }

    /// Whether the engine opened the ticket to its queue's secondary groups.
    fn secondary_open(&self, ticket: &str) -> bool {
        self.engine
            .ticket_record(ticket)
            .is_some_and(|r| r.secondary_open)
    }

    /// As [`World::qualifies`], with the ticket's custom queue (if any) deciding the groups:
    /// its primary group, and its secondary groups once `secondary_open`.
    fn qualifies_in_queue(
        &self,
        agent: &str,
        ticket: &RoutingRequest,
        skills_relaxed: bool,
        secondary_open: bool,
    ) -> bool {
        let Some(p) = self.presence.get(agent) else {
            return false;
        };
        let online = p
            .channels
            .iter()
            .any(|c| c.channel == ticket.channel && c.status == AgentStatus::Online);
        let skills = skills_relaxed || ticket.required_skills.iter().all(|s| p.skills.contains(s));
        let group = match queues().place(ticket) {
            Some(queue) => {
                p.groups.contains(&queue.primary_group)
                    || secondary_open && queue.secondary_groups.iter().any(|g| p.groups.contains(g))
            }
            None => ticket.group.as_ref().is_none_or(|g| p.groups.contains(g)),
        };
        online && skills && group
    }

    fn free(&self, agent: &str, channel: Channel) -> u32 {
        self.engine
            .agent_channel(agent, channel)
            .map_or(0, |v| v.capacity.saturating_sub(v.load + v.offered))
    }

    fn check_routed_agents_were_eligible(
        &self,
        effects: &RoutingEffects,
    ) -> Result<(), TestCaseError> {
        for d in &effects.decisions {
            let routed = matches!(d.kind, RoutingDecisionKind::Offered)
                || (d.kind == RoutingDecisionKind::Assigned && d.reason == "auto_accept");
            if !routed {
                continue;
            }
            let agent = d.agent_id.as_deref().unwrap();
            let ticket = &self.tickets[&d.ticket_id].request; // routed tickets are open
                                                              // Outside the queue's primary group only after the queue's secondary wait.
            if let Some(queue) = queues().place(ticket) {
                let in_primary = self
                    .presence
                    .get(agent)
                    .is_some_and(|p| p.groups.contains(&queue.primary_group));
                prop_assert!(
                    in_primary || self.now >= ticket.created_at + queue.secondary_after_ms,
                    "{} of queue {} went to {agent} outside {} at {:?}, before its wait",
                    d.ticket_id,
                    queue.queue_id,
                    queue.primary_group,
                    self.now
                );
            }
            prop_assert!(
                self.qualifies(
                    agent,
                    ticket,
                    d.reason == "skills_relaxed"
                        || d.reason == "auto_accept" && self.relaxed(&d.ticket_id)
                ),
                "{} routed to ineligible {agent}: {d:?}",
                d.ticket_id
            );
            let view = self.engine.agent_channel(agent, ticket.channel).unwrap();
            prop_assert!(
                view.load + view.offered <= view.capacity,
                "{agent} over capacity after routing: {view:?}"
            );
        }
        Ok(())
    }

    /// A ticket routed to an agent in this step was the highest-ordered queued ticket that
    /// agent may take: none it qualifies for is still waiting ahead of it.
    fn check_no_higher_ordered_ticket_was_skipped(
        &self,
        effects: &RoutingEffects,
    ) -> Result<(), TestCaseError> {
        let by_sla = self.order == QueueOrder::Sla;
        let order = |r: &RoutingRequest| {
            (
                queues()
                    .place(r)
                    .map_or(STANDARD_QUEUE_PRIORITY, |q| q.priority),
                // With a breach time before without; the sooner first.
                match r.sla_breach_at.filter(|_| by_sla) {
                    Some(at) => (false, at),
                    None => (true, Timestamp(0)),
                },
                std::cmp::Reverse(r.priority),
                r.created_at,
                r.ticket_id.clone(),
            )
        };
        for d in &effects.decisions {
            let routed = d.kind == RoutingDecisionKind::Offered
                || (d.kind == RoutingDecisionKind::Assigned && d.reason == "auto_accept");
            if !routed {
                continue;
            }
            let agent = d.agent_id.as_deref().unwrap();
            let routed_ticket = &self.tickets[&d.ticket_id].request;
            for (id, t) in &self.tickets {
                let Some(RoutingTicketView::Queued { skills_relaxed }) =
                    self.engine.ticket_view(id)
                else {
                    continue;
                };
                if t.request.channel == routed_ticket.channel
                    && self.qualifies(agent, &t.request, skills_relaxed)
                    && order(&t.request) < order(routed_ticket)
                {
                    return Err(TestCaseError::fail(format!(
                        "{} went to {agent} while the higher-ordered {id} waits",
                        d.ticket_id
                    )));
                }
            }
        }
        Ok(())
    }

    fn relaxed(&self, ticket: &str) -> bool {
        self.engine
            .ticket_record(ticket)
            .is_some_and(|r| r.skills_relaxed)
    }

    fn check_invariants(&self) -> Result<(), TestCaseError> {
        if !self.persisted {
            if let Err(e) = self.engine.audit() {
                return Err(TestCaseError::fail(e));
            }
        }
        // Capacity: load equals the assigned tickets in New or Open that are not inactive;
        // the inactive count, those that are.
        for a in 0..AGENTS {
            let agent = agent_name(a);
            for channel in CHANNELS {
                let count = |inactive: bool| {
                    self.tickets
                        .values()
                        .filter(|t| {
                            t.assignee.as_deref() == Some(&agent)
                                && t.request.channel == channel
                                && t.status.consumes_capacity()
                                && t.inactive == inactive
                        })
                        .count() as u32
                };
                let view = self.engine.agent_channel(&agent, channel);
                let load = view.map_or(0, |v| v.load);
                prop_assert_eq!(load, count(false), "load of {} on {}", agent, channel);
                let quiet = view.map_or(0, |v| v.inactive);
                prop_assert_eq!(quiet, count(true), "inactive of {} on {}", agent, channel);
            }
        }
        // Missed offers: the router set away exactly the agents whose run reached the limit.
        for a in 0..AGENTS {
            let agent = agent_name(a);
            for channel in CHANNELS {
                let view = self.engine.agent_channel(&agent, channel);
                let reason = view.and_then(|v| v.status_reason);
                let expected = self.set_away.contains_key(&(agent.clone(), channel));
                prop_assert_eq!(
                    reason.is_some(),
                    expected,
                    "{} on {} set away by the router: {:?}",
                    agent,
                    channel,
                    view
                );
                if expected {
                    prop_assert_eq!(view.unwrap().status, AgentStatus::Away);
                }
            }
        }
        // No starvation: a queued ticket has no eligible agent with free capacity.
        for (id, t) in &self.tickets {
            if let Some(RoutingTicketView::Queued { skills_relaxed }) = self.engine.ticket_view(id)
            {
                for a in 0..AGENTS {
                    let agent = agent_name(a);
                    let eligible = self.qualifies(&agent, &t.request, skills_relaxed)
                        && self.free(&agent, t.request.channel) > 0;
                    prop_assert!(
                        !eligible,
                        "{} waits while {} is eligible with free capacity",
                        id,
                        agent
                    );
                }
            }
        }
        Ok(())
    }
}

fn mode() -> impl Strategy<Value = RoutingMode> {
    prop_oneof![
        Just(RoutingMode::BestAvailable),
        Just(RoutingMode::RoundRobin)
    ]
}

fn order() -> impl Strategy<Value = QueueOrder> {
    prop_oneof![Just(QueueOrder::Priority), Just(QueueOrder::Sla)]
}

fn run(
    ops: &[Op],
    persisted: bool,
    mode: RoutingMode,
    order: QueueOrder,
) -> Result<Vec<RoutingEffects>, TestCaseError> {
    let mut world = World::new(persisted, mode, order);
    for op in ops {
        world.apply(op)?;
    }
    Ok(world.log)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn capacity_eligibility_and_starvation_hold_under_any_interleaving(
        ops in prop::collection::vec(op(), 1..120),
        mode in mode(),
        order in order(),
    ) {
        run(&ops, false, mode, order)?;
    }

    #[test]
    fn same_inputs_give_identical_outputs_even_across_restores(
        ops in prop::collection::vec(op(), 1..80),
        mode in mode(),
        order in order(),
    ) {
        let first = run(&ops, false, mode, order)?;
        let second = run(&ops, false, mode, order)?;
        prop_assert_eq!(&first, &second);
        let restored = run(&ops, true, mode, order)?;
        prop_assert_eq!(&first, &restored);
    }
}
