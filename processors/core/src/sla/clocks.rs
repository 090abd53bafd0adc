//! The SLA clocks of one conversation's current ticket, as a sans-IO state machine fed by
//! the ticket lifecycle.
//!
//! [`SlaClocks`] follows the lifecycle's status changes, end-user messages and agent
//! replies ([`SlaInput::of_input`] and [`SlaInput::from_step`] turn one lifecycle step into
//! those inputs), starts,
//! pauses, resumes, achieves and breaches a clock per metric, and returns [`SlaEffects`]:
//! the [`SlaEvent`]s to publish and the breach timers to set or cancel, each due at the
//! exact instant its target runs out (through business hours when the target counts
//! them). Event ids are derived from the ticket id and a per-ticket counter, so a replay
//! of the same inputs gives identical events.

use super::calendar::BusinessCalendar;
use super::outcome::{EndedClock, SlaOutcomes};
use super::policy::{SlaConfig, SlaMetric, SlaPolicy, SlaPriority, SlaTicket};
use crate::ids::record_id;
use crate::lifecycle::{TicketEffects, TicketInput};
use crate::model::{AgentActionKind, Channel, Status, StatusChange, TicketMetrics};
use crate::time::{Millis, Timestamp};
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::sync::Arc;

/// Serde for the shared names (`Arc<str>`): a string, as a `String` would be.
mod shared_str {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::sync::Arc;

    pub(super) fn serialize<S: Serializer>(value: &Arc<str>, to: S) -> Result<S::Ok, S::Error> {
        to.serialize_str(value)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(from: D) -> Result<Arc<str>, D::Error> {
        String::deserialize(from).map(Arc::from)
    }
}

/// What happened to a clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaEventKind {
    /// The clock started, or its target changed (a priority change) while it runs.
    Activated,
    /// The clock stopped counting for a while (a status that does not count), or its
    /// target changed while it is paused.
    Paused,
    /// The clock counts again.
    Resumed,
    /// The metric was met within its target.
    Achieved,
    /// The target ran out before the metric was met.
    Breached,
}

impl SlaEventKind {
    /// The schema symbol.
    pub const fn as_str(self) -> &'static str {
        match self {
            SlaEventKind::Activated => "activated",
            SlaEventKind::Paused => "paused",
            SlaEventKind::Resumed => "resumed",
            SlaEventKind::Achieved => "achieved",
            SlaEventKind::Breached => "breached",
        }
    }
}

/// One thing that happened to one SLA clock: the record on the `sla-events` topic, key
/// `account/conversation`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaEvent {
    /// `<ticket id>.l<n>`: the ticket's `n`-th SLA event.
    pub event_id: String,
    /// The ticket. This and the other names are shared with the clocks that emit the
    /// event, not copied: a clock change costs one allocation, its id.
    #[serde(with = "shared_str")]
    pub ticket_id: Arc<str>,
    /// The tenant.
    #[serde(with = "shared_str")]
    pub account: Arc<str>,
    /// The conversation.
    #[serde(with = "shared_str")]
    pub conversation: Arc<str>,
    /// What the clock measures.
    pub metric: SlaMetric,
    /// The policy that was in force when the clock started.
    #[serde(with = "shared_str")]
    pub policy_id: Arc<str>,
    /// The clock's target.
    pub target_ms: Millis,
    /// When the target runs out, while the clock runs (for `achieved` and `breached`, the
    /// instant it was running toward); none while it is paused.
    pub due_at: Option<Timestamp>,
    /// What happened.
    pub kind: SlaEventKind,
    /// When it happened; a breach happens at its due time.
    pub at: Timestamp,
    /// Whether the clock counts business hours (else calendar hours).
    pub business_hours: bool,
}

/// A breach timer: one clock's due time.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SlaTimer {
    /// The ticket (shared with its clocks).
    #[serde(with = "shared_str")]
    pub ticket_id: Arc<str>,
    /// The clock within the ticket (a per-ticket serial number).
    pub clock: u32,
    /// When it is due.
    pub due: Timestamp,
}

/// A breach timer to set or cancel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SlaTimerCommand {
    /// Keep this timer and feed it back as [`SlaInput::Timer`] once due.
    Set(SlaTimer),
    /// Drop this timer: it must not fire.
    Cancel(SlaTimer),
}

/// The effects of one step, to be applied by the host before the next step.
#[must_use = "effects must be applied by the host"]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaEffects {
    /// Events to publish, in order.
    pub events: Vec<SlaEvent>,
    /// Breach timers to set or cancel, in order.
    pub timers: Vec<SlaTimerCommand>,
}

/// What [`SlaClocks`] is fed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlaInput<'a> {
    /// A status change of the lifecycle; `priority` (the ticket's routing priority) is
    /// read when the change creates the ticket.
    Status {
        /// The change.
        change: &'a StatusChange,
        /// The ticket's routing priority.
        priority: i32,
    },
    /// An end-user message on the current ticket (after the status change it caused).
    EndUserMessage,
    /// An agent reply on the current ticket.
    AgentReply,
    /// The current ticket's routing priority changed.
    PriorityChanged(i32),
    /// A breach timer came due.
    Timer(&'a SlaTimer),
}

impl<'a> SlaInput<'a> {
    /// What a lifecycle input is to the SLA clocks if the lifecycle applies it: an
    /// end-user message, an agent reply, a priority change, or nothing. Taken before the lifecycle step
    /// consumes the input, and handed to [`from_step`](Self::from_step) after it.
    pub fn of_input(input: &TicketInput) -> Option<SlaInput<'static>> {
        match input {
            TicketInput::Message(_) => Some(SlaInput::EndUserMessage),
            TicketInput::Action(action) if action.kind == AgentActionKind::Reply => {
                Some(SlaInput::AgentReply)
            }
            TicketInput::Action(action) if action.kind == AgentActionKind::SetPriority => {
                action.priority.map(SlaInput::PriorityChanged)
            }
            _ => None,
        }
    }

    /// The SLA inputs one [`TicketLifecycle`](crate::TicketLifecycle) step amounts to, in
    /// order: its status changes, then `input` (what [`of_input`](Self::of_input) said of
    /// the step's input). Nothing for a refused input or a duplicate delivery. `priority`
    /// is the current ticket's routing priority after the step.
    pub fn from_step(
        input: Option<SlaInput<'static>>,
        effects: &'a TicketEffects,
        priority: i32,
    ) -> impl Iterator<Item = SlaInput<'a>> {
        let applied = effects.rejections.is_empty() && effects.duplicates == 0;
        effects
            .status_changes
            .iter()
            .filter(move |_| applied)
            .map(move |change| SlaInput::Status { change, priority })
            .chain(input.filter(|_| applied))
    }
}

/// The SLA clocks of one conversation's current ticket.
///
/// Calling contract:
/// - call [`step`](Self::step) (or [`step_into`](Self::step_into), to collect them in one
///   batch) with the inputs of each lifecycle step in the order [`SlaInput::from_step`]
///   gives them, right after the lifecycle step, with the same `now`, and with the SLA
///   configuration in force ([`SlaConfig`]); a clock takes the policy that matches when
///   it starts;
/// - apply the returned [`SlaEffects`] before the next step;
/// - time only moves forward: an earlier `now` than a previous step's is taken as that
///   previous time;
/// - feed each breach timer back as [`SlaInput::Timer`] once due; a timer that was
///   cancelled or replaced in the meantime is ignored, so a late or duplicate firing is
///   harmless;
/// - after the inputs of a lifecycle step that emitted [`TicketMetrics`], write the
///   outcome of the ticket's clocks into them with [`fill_metrics`](Self::fill_metrics)
///   (a ticket just Closed keeps its outcomes until the conversation's next ticket).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaClocks {
    #[serde(with = "shared_str")]
    account: Arc<str>,
    #[serde(with = "shared_str")]
    conversation: Arc<str>,
    ticket: Option<TicketClocks>,
    clock: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct TicketClocks {
    #[serde(with = "shared_str")]
    id: Arc<str>,
    channel: Channel,
    brand: Option<String>,
    priority: SlaPriority,
    status: Status,
    /// An agent replied, or the ticket was solved: end-user messages start next-reply
    /// clocks from now on.
    first_reply_done: bool,
    clocks: Vec<Clock>,
    /// Serial number of the next clock.
    next_clock: u32,
    /// Events emitted for this ticket.
    events: u32,
    /// What the clocks that are gone came to: met or breached reply clocks, and every
    /// clock once the ticket is Closed.
    #[serde(default, skip_serializing_if = "SlaOutcomes::is_empty")]
    ended: SlaOutcomes,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Clock {
    serial: u32,
    metric: SlaMetric,
    #[serde(with = "shared_str")]
    policy_id: Arc<str>,
    target: Millis,
    /// The schedule whose business hours count; none for calendar hours.
    schedule: Option<String>,
    /// Time counted before the current running stretch (once breached, the time counted
    /// before the current overdue stretch).
    elapsed: Millis,
    phase: Phase,
    /// While breached and still counting (the metric is not met and the status counts):
    /// since when. The time counted after a breach is the metric's, not the target's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    overdue_since: Option<Timestamp>,
    /// Once breached: the due time it ran out at (none in state stored before it was
    /// kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    breached_at: Option<Timestamp>,
}

impl Clock {
    /// What the clock came to, if it was met or breached.
    fn ended(&self) -> Option<EndedClock<'_>> {
        let breached = match self.phase {
            Phase::Achieved => false,
            Phase::Breached => true,
            Phase::Running { .. } | Phase::Paused => return None,
        };
        Some(EndedClock {
            metric: self.metric,
            policy_id: &self.policy_id,
            target_ms: self.target,
            business_hours: self.schedule.is_some(),
            elapsed_ms: self.elapsed,
            breached,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Phase {
    Running { since: Timestamp, due: Timestamp },
    Paused,
    Achieved,
    Breached,
}

/// Whether a metric's clock counts while the ticket is in `status`. Reply and update
/// clocks count in every status until they are met or the ticket is solved.
const fn counts(metric: SlaMetric, status: Status) -> bool {
    match metric {
        SlaMetric::FirstReplyTime | SlaMetric::NextReplyTime | SlaMetric::PeriodicUpdate => {
            !matches!(status, Status::Solved | Status::Closed)
        }
        SlaMetric::RequesterWaitTime => {
            matches!(status, Status::New | Status::Open | Status::OnHold)
        }
        SlaMetric::AgentWorkTime => matches!(status, Status::New | Status::Open),
        SlaMetric::TotalResolutionTime => matches!(
            status,
            Status::New | Status::Open | Status::Pending | Status::OnHold
        ),
    }
}

/// Whether a metric is met by a reply (and ends there), rather than at Solved.
const fn is_reply_metric(metric: SlaMetric) -> bool {
    matches!(
        metric,
        SlaMetric::FirstReplyTime | SlaMetric::NextReplyTime | SlaMetric::PeriodicUpdate
    )
}

/// What one step works with besides the ticket.
struct Step<'a> {
    account: &'a Arc<str>,
    conversation: &'a Arc<str>,
    config: SlaConfig<'a>,
    now: Timestamp,
    fx: SlaEffects,
    /// The policy that matches the ticket, once looked up: what it matches on does not
    /// change within a step, and a new ticket starts four clocks.
    matched: Option<Option<&'a SlaPolicy>>,
    /// The calendar last looked up, by schedule id: a ticket's clocks share a policy, so
    /// they share its schedule.
    calendar: Cell<Option<(&'a str, &'a BusinessCalendar)>>,
}

impl<'a> Step<'a> {
    /// The due time after `span` of the clock's time from `from`.
    fn due(&self, clock: &Clock, from: Timestamp, span: Millis) -> Timestamp {
        match self.calendar(clock) {
            Some(calendar) => calendar.due_at(from, span).unwrap_or(from + span),
            None => from + span,
        }
    }

    /// The clock's time from `from` to `to`.
    fn measure(&self, clock: &Clock, from: Timestamp, to: Timestamp) -> Millis {
        match self.calendar(clock) {
            Some(calendar) => calendar
                .business_time(from, to)
                .unwrap_or_else(|_| to.since(from)),
            None => to.since(from),
        }
    }

    fn calendar(&self, clock: &Clock) -> Option<&'a BusinessCalendar> {
        self.calendar_of(clock.schedule.as_deref()?)
    }

    fn calendar_of(&self, schedule: &str) -> Option<&'a BusinessCalendar> {
        if let Some((id, calendar)) = self.calendar.get() {
            if id == schedule {
                return Some(calendar);
            }
        }
        let (id, calendar) = self
            .config
            .schedules
            .calendar_entry(self.account, schedule)?;
        self.calendar.set(Some((id, calendar)));
        Some(calendar)
    }

    /// The policy that matches the ticket now.
    fn policy(&mut self, ticket: &TicketClocks) -> Option<&'a SlaPolicy> {
        *self.matched.get_or_insert_with(|| {
            let facts = SlaTicket {
                priority: ticket.priority,
                channel: ticket.channel,
                brand: ticket.brand.as_deref(),
            };
            self.config.policies.matching(self.account, &facts)
        })
    }

    fn emit(
        &mut self,
        ticket: &mut TicketClocks,
        index: usize,
        kind: SlaEventKind,
        due_at: Option<Timestamp>,
        at: Timestamp,
    ) {
        ticket.events += 1;
        let clock = &ticket.clocks[index];
        self.fx.events.push(SlaEvent {
            event_id: record_id(&ticket.id, 'l', ticket.events),
            ticket_id: ticket.id.clone(),
            account: self.account.clone(),
            conversation: self.conversation.clone(),
            metric: clock.metric,
            policy_id: clock.policy_id.clone(),
            target_ms: clock.target,
            due_at,
            kind,
            at,
            business_hours: clock.schedule.is_some(),
        });
    }

    fn set_timer(&mut self, ticket_id: &Arc<str>, clock: u32, due: Timestamp) {
        self.fx.timers.push(SlaTimerCommand::Set(SlaTimer {
            ticket_id: ticket_id.clone(),
            clock,
            due,
        }));
    }

    fn cancel_timer(&mut self, ticket_id: &Arc<str>, clock: u32, due: Timestamp) {
        self.fx.timers.push(SlaTimerCommand::Cancel(SlaTimer {
            ticket_id: ticket_id.clone(),
            clock,
            due,
        }));
    }

    /// Starts a clock for `metric` under the policy that matches the ticket now, if that
    /// policy has a target for the metric at the ticket's priority.
    fn start(&mut self, ticket: &mut TicketClocks, metric: SlaMetric) {
        let Some(policy) = self.policy(ticket) else {
            return;
        };
        let Some(target) = policy.target(metric, ticket.priority) else {
            return;
        };
        let schedule = (policy.schedule_id.as_deref())
            .filter(|id| target.business_hours && self.calendar_of(id).is_some())
            .map(str::to_owned);
        ticket.next_clock += 1;
        let mut clock = Clock {
            serial: ticket.next_clock,
            metric,
            // The ticket's clocks of one policy share its id.
            policy_id: (ticket.clocks.iter())
                .find(|c| *c.policy_id == *policy.policy_id)
                .map_or_else(
                    || Arc::from(policy.policy_id.as_str()),
                    |c| c.policy_id.clone(),
                ),
            target: target.target_ms,
            schedule,
            elapsed: Millis::ZERO,
            phase: Phase::Paused,
            overdue_since: None,
            breached_at: None,
        };
        let due = self.due(&clock, self.now, clock.target);
        clock.phase = Phase::Running {
            since: self.now,
            due,
        };
        ticket.clocks.push(clock);
        let index = ticket.clocks.len() - 1;
        self.emit(ticket, index, SlaEventKind::Activated, Some(due), self.now);
        self.set_timer(&ticket.id, ticket.next_clock, due);
    }

    /// Stops a running clock's count; returns the due time it was running toward.
    fn stop(&mut self, ticket: &mut TicketClocks, index: usize) -> Option<Timestamp> {
        let Phase::Running { since, due } = ticket.clocks[index].phase else {
            return None;
        };
        let counted = self.measure(&ticket.clocks[index], since, self.now);
        let clock = &mut ticket.clocks[index];
        clock.elapsed = clock.elapsed + counted;
        clock.phase = Phase::Paused;
        let serial = clock.serial;
        self.cancel_timer(&ticket.id, serial, due);
        Some(due)
    }

    fn pause(&mut self, ticket: &mut TicketClocks, index: usize) {
        self.stop(ticket, index);
        ticket.clocks[index].phase = Phase::Paused;
        self.emit(ticket, index, SlaEventKind::Paused, None, self.now);
    }

    /// Runs a paused or achieved clock again toward what is left of its target.
    fn resume(&mut self, ticket: &mut TicketClocks, index: usize, kind: SlaEventKind) {
        let clock = &ticket.clocks[index];
        let due = self.due(clock, self.now, clock.target - clock.elapsed);
        let serial = clock.serial;
        ticket.clocks[index].phase = Phase::Running {
            since: self.now,
            due,
        };
        self.emit(ticket, index, kind, Some(due), self.now);
        if due <= self.now {
            ticket.clocks[index].phase = Phase::Breached;
            ticket.clocks[index].overdue_since = Some(self.now);
            ticket.clocks[index].breached_at = Some(due);
            self.emit(ticket, index, SlaEventKind::Breached, Some(due), self.now);
        } else {
            self.set_timer(&ticket.id, serial, due);
        }
    }

    fn achieve(&mut self, ticket: &mut TicketClocks, index: usize) {
        let due = self.stop(ticket, index);
        ticket.clocks[index].phase = Phase::Achieved;
        self.emit(ticket, index, SlaEventKind::Achieved, due, self.now);
    }

    /// Stops a breached clock's count of overdue time, if it counts.
    fn stop_overdue(&self, clock: &mut Clock) {
        if let Some(since) = clock.overdue_since.take() {
            let counted = self.measure(clock, since, self.now);
            clock.elapsed = clock.elapsed + counted;
        }
    }

    /// Ends the reply clocks of `metrics`: achieved if not breached, then forgotten but
    /// for their outcome.
    fn end_replies(&mut self, ticket: &mut TicketClocks, metrics: &[SlaMetric]) {
        for index in 0..ticket.clocks.len() {
            let clock = &ticket.clocks[index];
            if !metrics.contains(&clock.metric) {
                continue;
            }
            if clock.phase == Phase::Breached {
                self.stop_overdue(&mut ticket.clocks[index]);
            } else {
                self.achieve(ticket, index);
            }
            if let Some(ended) = ticket.clocks[index].ended() {
                ticket.ended.add(ended);
            }
        }
        ticket.clocks.retain(|c| !metrics.contains(&c.metric));
    }
}

impl SlaClocks {
    /// A conversation with no ticket yet.
    pub fn new(account: impl Into<String>, conversation: impl Into<String>) -> SlaClocks {
        SlaClocks {
            account: Arc::from(account.into()),
            conversation: Arc::from(conversation.into()),
            ticket: None,
            clock: Timestamp(i64::MIN),
        }
    }

    /// The ticket whose clocks are kept, if it is not Closed.
    pub fn ticket_id(&self) -> Option<&str> {
        self.open_ticket().map(|t| &*t.id)
    }

    fn open_ticket(&self) -> Option<&TicketClocks> {
        self.ticket.as_ref().filter(|t| t.status != Status::Closed)
    }

    /// What the clocks of ticket `ticket_id` have come to so far, if it is the current
    /// ticket or the one just Closed: per metric, the clocks met or breached.
    pub fn outcomes(&self, ticket_id: &str) -> Option<SlaOutcomes> {
        let ticket = self.ticket.as_ref().filter(|t| *t.id == *ticket_id)?;
        let mut outcomes = ticket.ended.clone();
        for ended in ticket.clocks.iter().filter_map(Clock::ended) {
            outcomes.add(ended);
        }
        Some(outcomes)
    }

    /// Writes the outcomes of a ticket metrics record's ticket into its SLA fields; leaves
    /// them as they are if these clocks do not know the ticket.
    pub fn fill_metrics(&self, metrics: &mut TicketMetrics) {
        if let Some(outcomes) = self.outcomes(&metrics.ticket_id) {
            outcomes.fill(metrics);
        }
    }

    /// When ticket `ticket_id`'s next SLA target runs out: the earliest due time of its
    /// clocks that are running, or breached and not yet met (a breached one ran out at its
    /// due time, so it comes first); `None` when it has none (no policy, every clock met
    /// or paused, or another ticket). What the router orders its queue by when it routes
    /// by SLA.
    pub fn next_breach_at(&self, ticket_id: &str) -> Option<Timestamp> {
        let ticket = self.open_ticket().filter(|t| *t.id == *ticket_id)?;
        (ticket.clocks.iter())
            .filter_map(|c| match c.phase {
                Phase::Running { due, .. } => Some(due),
                Phase::Breached => c.breached_at,
                Phase::Paused | Phase::Achieved => None,
            })
            .min()
    }

    /// How many clocks the current ticket has that are neither met nor breached.
    pub fn open_clocks(&self) -> usize {
        self.ticket.as_ref().map_or(0, |t| {
            t.clocks
                .iter()
                .filter(|c| matches!(c.phase, Phase::Running { .. } | Phase::Paused))
                .count()
        })
    }

    /// Applies one input at `now` under the SLA configuration `config`.
    pub fn step(
        &mut self,
        input: SlaInput<'_>,
        config: SlaConfig<'_>,
        now: Timestamp,
    ) -> SlaEffects {
        self.run(input, config, now, SlaEffects::default())
    }

    /// Applies one input as [`step`](Self::step) does, appending its effects to `fx`: a
    /// host that feeds the several inputs of one lifecycle step collects their effects in
    /// one batch, without a new one per input.
    pub fn step_into(
        &mut self,
        input: SlaInput<'_>,
        config: SlaConfig<'_>,
        now: Timestamp,
        fx: &mut SlaEffects,
    ) {
        *fx = self.run(input, config, now, std::mem::take(fx));
    }

    fn run(
        &mut self,
        input: SlaInput<'_>,
        config: SlaConfig<'_>,
        now: Timestamp,
        fx: SlaEffects,
    ) -> SlaEffects {
        let now = self.clock.max(now);
        self.clock = now;
        let mut step = Step {
            account: &self.account,
            conversation: &self.conversation,
            config,
            now,
            fx,
            matched: None,
            calendar: Cell::new(None),
        };
        if let SlaInput::Status { change, priority } = input {
            if change.from.is_none() {
                if let Some(old) = self.ticket.take() {
                    cancel_all(&mut step, &old);
                }
                let ticket = self.ticket.insert(TicketClocks {
                    id: Arc::from(change.ticket_id.as_str()),
                    channel: change.channel,
                    brand: change.brand.clone(),
                    priority: SlaPriority::from_routing(priority),
                    status: change.to,
                    first_reply_done: false,
                    clocks: Vec::new(),
                    next_clock: 0,
                    events: 0,
                    ended: SlaOutcomes::default(),
                });
                for metric in [
                    SlaMetric::FirstReplyTime,
                    SlaMetric::RequesterWaitTime,
                    SlaMetric::AgentWorkTime,
                    SlaMetric::TotalResolutionTime,
                ] {
                    step.start(ticket, metric);
                }
                return step.fx;
            }
        }
        let Some(ticket) = self.ticket.as_mut().filter(|t| t.status != Status::Closed) else {
            return step.fx;
        };
        match input {
            SlaInput::Status { change, .. } if *change.ticket_id == *ticket.id => {
                if change.to == Status::Closed {
                    close(&mut step, ticket);
                } else {
                    on_status(&mut step, ticket, change.to);
                }
            }
            SlaInput::Status { .. } => {}
            SlaInput::EndUserMessage => {
                let unanswered = ticket
                    .clocks
                    .iter()
                    .any(|c| c.metric == SlaMetric::NextReplyTime);
                if ticket.first_reply_done
                    && !unanswered
                    && counts(SlaMetric::NextReplyTime, ticket.status)
                {
                    step.start(ticket, SlaMetric::NextReplyTime);
                }
            }
            SlaInput::AgentReply => {
                step.end_replies(
                    ticket,
                    &[
                        SlaMetric::FirstReplyTime,
                        SlaMetric::NextReplyTime,
                        SlaMetric::PeriodicUpdate,
                    ],
                );
                ticket.first_reply_done = true;
                if counts(SlaMetric::PeriodicUpdate, ticket.status) {
                    step.start(ticket, SlaMetric::PeriodicUpdate);
                }
            }
            SlaInput::PriorityChanged(priority) => {
                let priority = SlaPriority::from_routing(priority);
                if priority != ticket.priority {
                    ticket.priority = priority;
                    retarget(&mut step, ticket);
                }
            }
            SlaInput::Timer(timer) if timer.ticket_id == ticket.id => {
                let due = ticket.clocks.iter().position(|c| {
                    c.serial == timer.clock
                        && matches!(c.phase, Phase::Running { due, .. } if due == timer.due)
                });
                if let Some(index) = due {
                    // By its due time the clock has counted its target exactly.
                    let clock = &mut ticket.clocks[index];
                    clock.phase = Phase::Breached;
                    clock.elapsed = clock.target;
                    clock.overdue_since = Some(timer.due);
                    clock.breached_at = Some(timer.due);
                    step.emit(
                        ticket,
                        index,
                        SlaEventKind::Breached,
                        Some(timer.due),
                        timer.due,
                    );
                }
            }
            SlaInput::Timer(_) => {}
        }
        step.fx
    }
}

/// Follows a status change of the current ticket (not its creation, not Closed).
fn on_status(step: &mut Step<'_>, ticket: &mut TicketClocks, to: Status) {
    let from = std::mem::replace(&mut ticket.status, to);
    if from == to {
        return;
    }
    if to == Status::Solved {
        ticket.first_reply_done = true;
        step.end_replies(
            ticket,
            &[
                SlaMetric::FirstReplyTime,
                SlaMetric::NextReplyTime,
                SlaMetric::PeriodicUpdate,
            ],
        );
        for index in 0..ticket.clocks.len() {
            match ticket.clocks[index].phase {
                Phase::Running { .. } | Phase::Paused => step.achieve(ticket, index),
                Phase::Breached => step.stop_overdue(&mut ticket.clocks[index]),
                Phase::Achieved => {}
            }
        }
        return;
    }
    for index in 0..ticket.clocks.len() {
        let metric = ticket.clocks[index].metric;
        if is_reply_metric(metric) {
            continue;
        }
        match (ticket.clocks[index].phase, counts(metric, to)) {
            (Phase::Running { .. }, false) => step.pause(ticket, index),
            (Phase::Paused | Phase::Achieved, true) => {
                step.resume(ticket, index, SlaEventKind::Resumed)
            }
            (Phase::Achieved, false) => {
                ticket.clocks[index].phase = Phase::Paused;
                step.emit(ticket, index, SlaEventKind::Paused, None, step.now);
            }
            // A breached clock says nothing more, but counts on while its status counts.
            (Phase::Breached, true) => {
                let clock = &mut ticket.clocks[index];
                clock.overdue_since.get_or_insert(step.now);
            }
            (Phase::Breached, false) => step.stop_overdue(&mut ticket.clocks[index]),
            _ => {}
        }
    }
}

/// Gives every clock that is not breached its policy's target at the ticket's new
/// priority; a clock whose policy has none there (or is gone) keeps its target.
fn retarget(step: &mut Step<'_>, ticket: &mut TicketClocks) {
    for index in 0..ticket.clocks.len() {
        let clock = &ticket.clocks[index];
        let target = step
            .config
            .policies
            .policy(step.account, &clock.policy_id)
            .and_then(|p| p.target(clock.metric, ticket.priority));
        let Some(target) = target.map(|t| t.target_ms).filter(|t| *t != clock.target) else {
            continue;
        };
        match clock.phase {
            Phase::Running { .. } => {
                step.stop(ticket, index);
                ticket.clocks[index].target = target;
                step.resume(ticket, index, SlaEventKind::Activated);
            }
            Phase::Paused => {
                ticket.clocks[index].target = target;
                step.emit(ticket, index, SlaEventKind::Paused, None, step.now);
            }
            Phase::Achieved => ticket.clocks[index].target = target,
            Phase::Breached => {}
        }
    }
}

/// Ends a Closed ticket's clocks: cancels the running ones' timers and keeps what the
/// met and breached ones came to.
fn close(step: &mut Step<'_>, ticket: &mut TicketClocks) {
    cancel_all(step, ticket);
    for mut clock in std::mem::take(&mut ticket.clocks) {
        step.stop_overdue(&mut clock);
        if let Some(ended) = clock.ended() {
            ticket.ended.add(ended);
        }
    }
    ticket.status = Status::Closed;
}

/// Cancels the timers of every running clock of a ticket that is going away.
fn cancel_all(step: &mut Step<'_>, ticket: &TicketClocks) {
    for clock in &ticket.clocks {
        if let Phase::Running { due, .. } = clock.phase {
            step.cancel_timer(&ticket.id, clock.serial, due);
        }
    }
}
