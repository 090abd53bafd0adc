//! [`Desk`], the test bench of the SLA clocks: a real [`TicketLifecycle`] and its clocks,
//! driven the way the host drives them (every lifecycle step's SLA inputs, the next breach
//! time noted back to the lifecycle, breach timers fired at their due time by a fake
//! clock), and the policies the tests use.

use super::calendar_tests::at;
use super::*;
use crate::lifecycle::{TicketInput, TicketLifecycle};
use crate::model::*;
use crate::style::StyleSettings;
use crate::time::{Millis, Timestamp};

pub(super) const BERLIN: &str = "Europe/Berlin";

/// Monday 2026-03-23 09:00 in Berlin: minute 0 of every test.
pub(super) fn start() -> Timestamp {
    at(BERLIN, "2026-03-23T09:00")
}

pub(super) fn target(metric: SlaMetric, priority: SlaPriority, minutes: i64) -> SlaTarget {
    SlaTarget {
        metric,
        priority,
        target_ms: Millis::minutes(minutes),
        business_hours: false,
    }
}

/// One policy for every ticket, with `targets` at normal priority.
pub(super) fn policies(targets: &[(SlaMetric, i64)]) -> SlaPolicies {
    let mut table = SlaPolicies::new();
    table
        .upsert(policy("standard", targets, SlaPriority::Normal))
        .unwrap();
    table
}

pub(super) fn policy(id: &str, targets: &[(SlaMetric, i64)], priority: SlaPriority) -> SlaPolicy {
    SlaPolicy {
        account: "acme".into(),
        policy_id: id.into(),
        position: 0,
        conditions: SlaConditions::default(),
        schedule_id: None,
        targets: targets
            .iter()
            .map(|&(metric, minutes)| target(metric, priority, minutes))
            .collect(),
        updated_at: Timestamp(0),
    }
}

/// A conversation's lifecycle and SLA clocks, with a fake clock that fires breach
/// timers at their due time.
pub(super) struct Desk {
    pub(super) lifecycle: TicketLifecycle,
    pub(super) clocks: SlaClocks,
    pub(super) policies: SlaPolicies,
    pub(super) schedules: Schedules,
    pub(super) style: StyleSettings,
    pub(super) now: Timestamp,
    pub(super) timers: Vec<SlaTimer>,
    pub(super) events: Vec<SlaEvent>,
    /// Ticket metrics with their SLA outcomes filled in, as the host emits them.
    pub(super) metrics: Vec<TicketMetrics>,
    /// Routing requests, with the next breach time the host notes on them.
    pub(super) requests: Vec<RoutingRequest>,
    pub(super) inputs: u32,
}

impl Desk {
    pub(super) fn new(policies: SlaPolicies) -> Desk {
        Desk {
            lifecycle: TicketLifecycle::new("acme", "c1"),
            clocks: SlaClocks::new("acme", "c1"),
            policies,
            schedules: Schedules::new(),
            style: StyleSettings::default(),
            now: start(),
            timers: Vec::new(),
            events: Vec::new(),
            metrics: Vec::new(),
            requests: Vec::new(),
            inputs: 0,
        }
    }

    /// Moves the clock to `minute`, firing the breach timers due until then, in order.
    pub(super) fn at(&mut self, minute: i64) -> &mut Desk {
        let target = start() + Millis::minutes(minute);
        while let Some(next) = self.timers.iter().min_by_key(|t| t.due).cloned() {
            if next.due > target {
                break;
            }
            self.timers.retain(|t| *t != next);
            self.now = next.due;
            let fx = self.clocks.step(
                SlaInput::Timer(&next),
                SlaConfig {
                    policies: &self.policies,
                    schedules: &self.schedules,
                },
                next.due,
            );
            self.apply(fx);
            let mut ticket_fx = crate::lifecycle::TicketEffects::default();
            self.note_sla_breach(&mut ticket_fx);
            self.requests.extend(ticket_fx.routing_requests);
        }
        self.now = target;
        self
    }

    pub(super) fn apply(&mut self, fx: SlaEffects) {
        for command in fx.timers {
            match command {
                SlaTimerCommand::Set(timer) => self.timers.push(timer),
                SlaTimerCommand::Cancel(timer) => {
                    let before = self.timers.len();
                    self.timers.retain(|t| *t != timer);
                    assert_eq!(self.timers.len() + 1, before, "cancelled an unknown timer");
                }
            }
        }
        self.events.extend(fx.events);
    }

    /// Tells the lifecycle the current ticket's next breach time, as the host does.
    pub(super) fn note_sla_breach(&mut self, fx: &mut crate::lifecycle::TicketEffects) {
        let breach = (self.lifecycle.current()).and_then(|t| self.clocks.next_breach_at(t.id));
        self.lifecycle.note_sla_breach(breach, fx);
    }

    pub(super) fn feed(&mut self, input: TicketInput) -> &mut Desk {
        let applied = SlaInput::of_input(&input);
        let mut fx = self.lifecycle.step(input, &self.style, self.now);
        let priority = self.lifecycle.current().map_or(0, |t| t.priority);
        for sla in SlaInput::from_step(applied, &fx, priority) {
            let effects = self.clocks.step(
                sla,
                SlaConfig {
                    policies: &self.policies,
                    schedules: &self.schedules,
                },
                self.now,
            );
            self.apply(effects);
        }
        self.note_sla_breach(&mut fx);
        self.requests.extend(fx.routing_requests);
        for mut metrics in fx.ticket_metrics {
            self.clocks.fill_metrics(&mut metrics);
            self.metrics.push(metrics);
        }
        self
    }

    pub(super) fn message(&mut self) -> &mut Desk {
        self.inputs += 1;
        self.feed(TicketInput::Message(ConversationEvent {
            event_id: format!("m{}", self.inputs),
            account: "acme".into(),
            brand: None,
            conversation: "c1".into(),
            channel: Channel::Whatsapp,
            sent_at: self.now,
            received_at: self.now,
            text: Some("hello".into()),
            attachments: Vec::new(),
            author_name: None,
            reply_handles: Vec::new(),
        }))
    }

    pub(super) fn action(&mut self, kind: AgentActionKind, status: Option<Status>) -> &mut Desk {
        self.inputs += 1;
        self.feed(TicketInput::Action(AgentAction {
            action_id: format!("a{}", self.inputs),
            account: "acme".into(),
            conversation: "c1".into(),
            agent_id: "ann".into(),
            kind,
            status,
            priority: None,
            at: self.now,
        }))
    }

    /// An agent sets the ticket's routing priority through the lifecycle.
    pub(super) fn set_priority(&mut self, priority: i32) -> &mut Desk {
        self.inputs += 1;
        self.feed(TicketInput::Action(AgentAction {
            action_id: format!("a{}", self.inputs),
            account: "acme".into(),
            conversation: "c1".into(),
            agent_id: "bob".into(),
            kind: AgentActionKind::SetPriority,
            status: None,
            priority: Some(priority),
            at: self.now,
        }))
    }

    pub(super) fn reply(&mut self) -> &mut Desk {
        self.action(AgentActionKind::Reply, None)
    }

    pub(super) fn set(&mut self, status: Status) -> &mut Desk {
        self.action(AgentActionKind::SetStatus, Some(status))
    }

    pub(super) fn assign(&mut self) -> &mut Desk {
        self.inputs += 1;
        let ticket_id = self.lifecycle.current().unwrap().id.to_owned();
        self.feed(TicketInput::Decision(RoutingDecision {
            decision_id: format!("d{}", self.inputs),
            account: "acme".into(),
            conversation: "c1".into(),
            ticket_id,
            kind: RoutingDecisionKind::Assigned,
            agent_id: Some("ann".into()),
            reason: "best_match".into(),
            at: self.now,
        }))
    }

    pub(super) fn priority(&mut self, priority: i32) -> &mut Desk {
        let fx = self.clocks.step(
            SlaInput::PriorityChanged(priority),
            SlaConfig {
                policies: &self.policies,
                schedules: &self.schedules,
            },
            self.now,
        );
        self.apply(fx);
        self
    }

    /// The events of `metric` as `"<minute> <kind> <due minute or ->"`.
    pub(super) fn log(&self, metric: SlaMetric) -> Vec<String> {
        let minute = |t: Timestamp| (t - start()).0 / 60_000;
        self.events
            .iter()
            .filter(|e| e.metric == metric)
            .map(|e| {
                let due = e.due_at.map_or("-".into(), |d| minute(d).to_string());
                format!("{} {} {due}", minute(e.at), e.kind.as_str())
            })
            .collect()
    }
}

/// Normal: first reply 60 minutes, requester wait 600; urgent: 15 and 20.
pub(super) fn by_priority() -> SlaPolicies {
    let mut table = SlaPolicies::new();
    let mut both = policy(
        "standard",
        &[
            (SlaMetric::FirstReplyTime, 60),
            (SlaMetric::RequesterWaitTime, 600),
        ],
        SlaPriority::Normal,
    );
    both.targets
        .push(target(SlaMetric::FirstReplyTime, SlaPriority::Urgent, 15));
    both.targets.push(target(
        SlaMetric::RequesterWaitTime,
        SlaPriority::Urgent,
        20,
    ));
    table.upsert(both).unwrap();
    table
}
