//! [`SlaClocks`]: the SLA clocks of one conversation's current ticket, stepped by what the
//! lifecycle's steps amount to and by breach timers.

use super::effects::{SlaEffects, SlaEventKind, SlaInput};
use super::step::*;
use super::ticket::*;
use crate::ids::shared_str;
use crate::model::{Status, TicketMetrics};
use crate::sla::outcome::SlaOutcomes;
use crate::sla::policy::{SlaConfig, SlaMetric, SlaPriority};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::sync::Arc;

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
        let mut fx = SlaEffects::default();
        self.run(input, config, now, &mut fx);
        fx
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
        self.run(input, config, now, fx);
    }

    fn run(
        &mut self,
        input: SlaInput<'_>,
        config: SlaConfig<'_>,
        now: Timestamp,
        fx: &mut SlaEffects,
    ) {
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
                    id: Arc::clone(&change.ticket_id),
                    channel: change.channel,
                    brand: change.brand.clone(),
                    priority: SlaPriority::from_routing(priority),
                    status: change.to,
                    first_reply_done: false,
                    // Room for a clock per metric: four start now, a reply and an update
                    // clock come and go.
                    clocks: Vec::with_capacity(SlaMetric::ALL.len()),
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
                return;
            }
        }
        let Some(ticket) = self.ticket.as_mut().filter(|t| t.status != Status::Closed) else {
            return;
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
    }
}
