//! One step of [`SlaClocks`](super::SlaClocks): what a clock does when it starts, stops,
//! pauses, resumes, is met, is re-targeted or is closed, and the events and timers that
//! go with it.

use super::effects::{SlaEffects, SlaEvent, SlaEventKind, SlaTimer, SlaTimerCommand};
use super::ticket::*;
use crate::ids::RecordId;
use crate::model::Status;
use crate::sla::calendar::BusinessCalendar;
use crate::sla::policy::{SlaConfig, SlaMetric, SlaPolicy, SlaTicket};
use crate::time::{Millis, Timestamp};
use std::cell::Cell;
use std::sync::Arc;

/// What one step works with besides the ticket.
pub(super) struct Step<'a, 'f> {
    pub(super) account: &'a Arc<str>,
    pub(super) conversation: &'a Arc<str>,
    pub(super) config: SlaConfig<'a>,
    pub(super) now: Timestamp,
    /// The batch the step appends its effects to.
    pub(super) fx: &'f mut SlaEffects,
    /// The policy that matches the ticket (with its id as the policies table shares it),
    /// once looked up: what it matches on does not change within a step, and a new ticket
    /// starts four clocks.
    pub(super) matched: Option<Option<&'a (Arc<str>, SlaPolicy)>>,
    /// The calendar last looked up, by schedule id: a ticket's clocks share a policy, so
    /// they share its schedule.
    pub(super) calendar: Cell<Option<&'a (Arc<str>, BusinessCalendar)>>,
}

impl<'a> Step<'a, '_> {
    /// The due time after `span` of the clock's time from `from`.
    pub(super) fn due(&self, clock: &Clock, from: Timestamp, span: Millis) -> Timestamp {
        match self.calendar(clock) {
            Some(calendar) => calendar.due_at(from, span).unwrap_or(from + span),
            None => from + span,
        }
    }

    /// The clock's time from `from` to `to`.
    pub(super) fn measure(&self, clock: &Clock, from: Timestamp, to: Timestamp) -> Millis {
        match self.calendar(clock) {
            Some(calendar) => calendar
                .business_time(from, to)
                .unwrap_or_else(|_| to.since(from)),
            None => to.since(from),
        }
    }

    pub(super) fn calendar(&self, clock: &Clock) -> Option<&'a BusinessCalendar> {
        self.calendar_of(clock.schedule.as_deref()?).map(|(_, c)| c)
    }

    /// A schedule's calendar, and its id as the schedules table shares it.
    pub(super) fn calendar_of(&self, schedule: &str) -> Option<&'a (Arc<str>, BusinessCalendar)> {
        if let Some(entry) = self.calendar.get() {
            if *entry.0 == *schedule {
                return Some(entry);
            }
        }
        let entry = self
            .config
            .schedules
            .calendar_entry(self.account, schedule)?;
        self.calendar.set(Some(entry));
        Some(entry)
    }

    /// The policy that matches the ticket now, and its shared id.
    pub(super) fn policy(&mut self, ticket: &TicketClocks) -> Option<&'a (Arc<str>, SlaPolicy)> {
        *self.matched.get_or_insert_with(|| {
            let facts = SlaTicket {
                priority: ticket.priority,
                channel: ticket.channel,
                brand: ticket.brand.as_deref(),
            };
            self.config.policies.matching_entry(self.account, &facts)
        })
    }

    pub(super) fn emit(
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
            event_id: RecordId::new(&ticket.id, 'l', ticket.events),
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

    pub(super) fn set_timer(&mut self, ticket_id: &Arc<str>, clock: u32, due: Timestamp) {
        self.fx.timers.push(SlaTimerCommand::Set(SlaTimer {
            ticket_id: ticket_id.clone(),
            clock,
            due,
        }));
    }

    pub(super) fn cancel_timer(&mut self, ticket_id: &Arc<str>, clock: u32, due: Timestamp) {
        self.fx.timers.push(SlaTimerCommand::Cancel(SlaTimer {
            ticket_id: ticket_id.clone(),
            clock,
            due,
        }));
    }

    /// Starts a clock for `metric` under the policy that matches the ticket now, if that
    /// policy has a target for the metric at the ticket's priority.
    pub(super) fn start(&mut self, ticket: &mut TicketClocks, metric: SlaMetric) {
        let Some((policy_id, policy)) = self.policy(ticket) else {
            return;
        };
        let Some(target) = policy.target(metric, ticket.priority) else {
            return;
        };
        // The clocks share the schedule id with the schedules table.
        let schedule = (policy.schedule_id.as_deref())
            .filter(|_| target.business_hours)
            .and_then(|id| self.calendar_of(id))
            .map(|(id, _)| Arc::clone(id));
        ticket.next_clock += 1;
        let mut clock = Clock {
            serial: ticket.next_clock,
            metric,
            // The clocks share the policy id with the policies table.
            policy_id: Arc::clone(policy_id),
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
    pub(super) fn stop(&mut self, ticket: &mut TicketClocks, index: usize) -> Option<Timestamp> {
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

    pub(super) fn pause(&mut self, ticket: &mut TicketClocks, index: usize) {
        self.stop(ticket, index);
        ticket.clocks[index].phase = Phase::Paused;
        self.emit(ticket, index, SlaEventKind::Paused, None, self.now);
    }

    /// Runs a paused or achieved clock again toward what is left of its target.
    pub(super) fn resume(&mut self, ticket: &mut TicketClocks, index: usize, kind: SlaEventKind) {
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

    pub(super) fn achieve(&mut self, ticket: &mut TicketClocks, index: usize) {
        let due = self.stop(ticket, index);
        ticket.clocks[index].phase = Phase::Achieved;
        self.emit(ticket, index, SlaEventKind::Achieved, due, self.now);
    }

    /// Stops a breached clock's count of overdue time, if it counts.
    pub(super) fn stop_overdue(&self, clock: &mut Clock) {
        if let Some(since) = clock.overdue_since.take() {
            let counted = self.measure(clock, since, self.now);
            clock.elapsed = clock.elapsed + counted;
        }
    }

    /// Ends the reply clocks of `metrics`: achieved if not breached, then forgotten but
    /// for their outcome.
    pub(super) fn end_replies(&mut self, ticket: &mut TicketClocks, metrics: &[SlaMetric]) {
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

/// Follows a status change of the current ticket (not its creation, not Closed).
pub(super) fn on_status(step: &mut Step<'_, '_>, ticket: &mut TicketClocks, to: Status) {
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
pub(super) fn retarget(step: &mut Step<'_, '_>, ticket: &mut TicketClocks) {
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
pub(super) fn close(step: &mut Step<'_, '_>, ticket: &mut TicketClocks) {
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
pub(super) fn cancel_all(step: &mut Step<'_, '_>, ticket: &TicketClocks) {
    for clock in &ticket.clocks {
        if let Phase::Running { due, .. } = clock.phase {
            step.cancel_timer(&ticket.id, clock.serial, due);
        }
    }
}
