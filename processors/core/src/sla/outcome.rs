//! What a ticket's SLA clocks came to per metric: the `SlaMetricOutcome`s that
//! [`TicketMetrics`] carries, one per metric.

use super::policy::SlaMetric;
use crate::model::TicketMetrics;
use crate::time::Millis;
use serde::{Deserialize, Serialize};

/// Whether a ticket met an SLA metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaOutcome {
    /// Every clock of the metric was met within its target.
    Achieved,
    /// At least one clock of the metric ran out before it was met.
    Breached,
}

impl SlaOutcome {
    /// The schema symbol.
    pub const fn as_str(self) -> &'static str {
        match self {
            SlaOutcome::Achieved => "achieved",
            SlaOutcome::Breached => "breached",
        }
    }
}

/// What a ticket's clocks of one metric came to: the record nested in [`TicketMetrics`].
///
/// Next reply and periodic update may run several clocks on a ticket; the other metrics
/// run one, which a reopen resumes, so its latest outcome is the ticket's. Only clocks
/// that were met or breached count; a clock still running or paused does not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaMetricOutcome {
    /// The policy of the metric's latest clock (the policy in force when it started).
    pub policy_id: String,
    /// The latest clock's target.
    pub target_ms: Millis,
    /// Whether the latest clock counts its policy schedule's business hours (else calendar
    /// hours).
    pub business_hours: bool,
    /// Time the clocks counted until the metric was met, in business hours where
    /// `business_hours` (a breached clock counts on until then); the sum over the clocks.
    pub elapsed_ms: Millis,
    /// Breached if any of the metric's clocks ran out before it was met, else achieved.
    pub outcome: SlaOutcome,
    /// Clocks met within their target.
    pub achieved: u32,
    /// Clocks whose target ran out.
    pub breached: u32,
}

/// One ended clock, as it adds to its metric's [`SlaMetricOutcome`].
#[derive(Clone, Copy, Debug)]
pub(super) struct EndedClock<'a> {
    pub(super) metric: SlaMetric,
    pub(super) policy_id: &'a str,
    pub(super) target_ms: Millis,
    pub(super) business_hours: bool,
    pub(super) elapsed_ms: Millis,
    pub(super) breached: bool,
}

impl SlaMetricOutcome {
    fn of_clock(clock: EndedClock<'_>) -> SlaMetricOutcome {
        SlaMetricOutcome {
            policy_id: clock.policy_id.to_owned(),
            target_ms: clock.target_ms,
            business_hours: clock.business_hours,
            elapsed_ms: clock.elapsed_ms,
            outcome: if clock.breached {
                SlaOutcome::Breached
            } else {
                SlaOutcome::Achieved
            },
            achieved: u32::from(!clock.breached),
            breached: u32::from(clock.breached),
        }
    }

    /// Adds a later clock of the same metric: its policy, target and hours become the
    /// latest, its time and its outcome add up.
    fn add(&mut self, later: EndedClock<'_>) {
        if self.policy_id != later.policy_id {
            later.policy_id.clone_into(&mut self.policy_id);
        }
        self.target_ms = later.target_ms;
        self.business_hours = later.business_hours;
        self.elapsed_ms = self.elapsed_ms + later.elapsed_ms;
        if later.breached {
            self.breached += 1;
            self.outcome = SlaOutcome::Breached;
        } else {
            self.achieved += 1;
        }
    }
}

/// A ticket's outcome on every metric, in [`SlaMetric::ALL`] order; `None` where none of
/// the metric's clocks was met or breached.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaOutcomes(pub [Option<SlaMetricOutcome>; 6]);

impl SlaOutcomes {
    /// The outcome on `metric`.
    pub fn get(&self, metric: SlaMetric) -> Option<&SlaMetricOutcome> {
        self.0[metric as usize].as_ref()
    }

    /// Whether no metric has an outcome.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }

    /// Adds an ended clock to its metric's outcome.
    pub(super) fn add(&mut self, clock: EndedClock<'_>) {
        match &mut self.0[clock.metric as usize] {
            Some(outcome) => outcome.add(clock),
            empty => *empty = Some(SlaMetricOutcome::of_clock(clock)),
        }
    }

    /// Writes the outcomes into a ticket metrics record's SLA fields.
    pub fn fill(self, metrics: &mut TicketMetrics) {
        let [first_reply, next_reply, periodic_update, requester_wait, agent_work, resolution] =
            self.0;
        metrics.sla_first_reply_time = first_reply;
        metrics.sla_next_reply_time = next_reply;
        metrics.sla_periodic_update = periodic_update;
        metrics.sla_requester_wait_time = requester_wait;
        metrics.sla_agent_work_time = agent_work;
        metrics.sla_total_resolution_time = resolution;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_clocks_add_up_and_one_breach_breaches_the_metric() {
        let mut outcomes = SlaOutcomes::default();
        let clock = |policy_id, target, elapsed, breached| EndedClock {
            metric: SlaMetric::NextReplyTime,
            policy_id,
            target_ms: Millis::minutes(target),
            business_hours: false,
            elapsed_ms: Millis::minutes(elapsed),
            breached,
        };
        outcomes.add(clock("standard", 30, 10, false));
        outcomes.add(clock("standard", 30, 45, true));
        outcomes.add(clock("vip", 15, 5, false));
        let next = outcomes.get(SlaMetric::NextReplyTime).unwrap();
        assert_eq!(
            (next.policy_id.as_str(), next.target_ms, next.elapsed_ms),
            ("vip", Millis::minutes(15), Millis::minutes(60))
        );
        assert_eq!(
            (next.outcome, next.achieved, next.breached),
            (SlaOutcome::Breached, 2, 1)
        );
        assert_eq!(outcomes.get(SlaMetric::FirstReplyTime), None);
    }
}
