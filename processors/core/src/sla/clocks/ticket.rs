//! The clocks of one ticket as they are stored: one [`Clock`] per metric that runs, and
//! which metrics count in which status.

use crate::model::{Channel, Status};
use crate::sla::outcome::{EndedClock, SlaOutcomes};
use crate::sla::policy::{SlaMetric, SlaPriority};
use crate::time::{Millis, Timestamp};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::ids::shared_str;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct TicketClocks {
    #[serde(with = "shared_str")]
    pub(super) id: Arc<str>,
    pub(super) channel: Channel,
    pub(super) brand: Option<String>,
    pub(super) priority: SlaPriority,
    pub(super) status: Status,
    /// An agent replied, or the ticket was solved: end-user messages start next-reply
    /// clocks from now on.
    pub(super) first_reply_done: bool,
    pub(super) clocks: Vec<Clock>,
    /// Serial number of the next clock.
    pub(super) next_clock: u32,
    /// Events emitted for this ticket.
    pub(super) events: u32,
    /// What the clocks that are gone came to: met or breached reply clocks, and every
    /// clock once the ticket is Closed.
    #[serde(default, skip_serializing_if = "SlaOutcomes::is_empty")]
    pub(super) ended: SlaOutcomes,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Clock {
    pub(super) serial: u32,
    pub(super) metric: SlaMetric,
    #[serde(with = "shared_str")]
    pub(super) policy_id: Arc<str>,
    pub(super) target: Millis,
    /// The schedule whose business hours count; none for calendar hours. Shared with the
    /// ticket's other clocks of the same schedule, as the policy id is.
    #[serde(default, with = "shared_str::option")]
    pub(super) schedule: Option<Arc<str>>,
    /// Time counted before the current running stretch (once breached, the time counted
    /// before the current overdue stretch).
    pub(super) elapsed: Millis,
    pub(super) phase: Phase,
    /// While breached and still counting (the metric is not met and the status counts):
    /// since when. The time counted after a breach is the metric's, not the target's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) overdue_since: Option<Timestamp>,
    /// Once breached: the due time it ran out at (none in state stored before it was
    /// kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) breached_at: Option<Timestamp>,
}

impl Clock {
    /// What the clock came to, if it was met or breached.
    pub(super) fn ended(&self) -> Option<EndedClock<'_>> {
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
pub(super) enum Phase {
    Running { since: Timestamp, due: Timestamp },
    Paused,
    Achieved,
    Breached,
}

/// Whether a metric's clock counts while the ticket is in `status`. Reply and update
/// clocks count in every status until they are met or the ticket is solved.
pub(super) const fn counts(metric: SlaMetric, status: Status) -> bool {
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
pub(super) const fn is_reply_metric(metric: SlaMetric) -> bool {
    matches!(
        metric,
        SlaMetric::FirstReplyTime | SlaMetric::NextReplyTime | SlaMetric::PeriodicUpdate
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// State stored when the schedule id was a `String` reads back the same, and is
    /// written as it was: a string, or null for calendar hours.
    #[test]
    fn a_stored_clock_keeps_its_serialized_form() {
        let stored = [
            r#"{"serial":1,"metric":"first_reply_time","policy_id":"standard","target":3600000,"schedule":"office","elapsed":0,"phase":{"Running":{"since":10,"due":3600010}}}"#,
            r#"{"serial":2,"metric":"agent_work_time","policy_id":"standard","target":3600000,"schedule":null,"elapsed":5,"phase":"Paused"}"#,
        ];
        for json in stored {
            let clock: Clock = serde_json::from_str(json).unwrap();
            assert_eq!(serde_json::to_string(&clock).unwrap(), json);
        }
        let clock: Clock = serde_json::from_str(stored[0]).unwrap();
        assert_eq!(clock.schedule.as_deref(), Some("office"));
    }
}
