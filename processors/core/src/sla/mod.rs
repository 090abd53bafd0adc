//! Service level agreements: business-hours schedules, policies and the clocks of a ticket.
//!
//! - [`schedule`]: [`Schedule`], the configured weekly hours, time zone and holidays, and
//!   its validation.
//! - [`calendar`]: [`BusinessCalendar`], a compiled schedule: due times and business time
//!   between instants, through weekends, holidays and daylight-saving changes.
//! - [`policy`]: [`SlaPolicy`], targets per metric and priority for the tickets that match
//!   its conditions; [`SlaPolicies`] and [`Schedules`], every account's policies and
//!   compiled schedules.
//! - [`clocks`]: [`SlaClocks`], the sans-IO state machine that runs a ticket's clocks from
//!   the lifecycle's status changes and messages and emits [`SlaEvent`]s and breach timers.
//! - [`outcome`]: [`SlaMetricOutcome`], what a ticket's clocks of one metric came to, as
//!   its [`TicketMetrics`](crate::TicketMetrics) carry it.

pub mod calendar;
pub mod clocks;
pub mod outcome;
pub mod policy;
pub mod schedule;

#[cfg(test)]
mod calendar_proptests;
#[cfg(test)]
mod calendar_tests;
#[cfg(test)]
mod clock_tests;
#[cfg(test)]
mod desk;
#[cfg(test)]
mod routing_tests;

pub use calendar::{BusinessCalendar, OutOfRange, HORIZON_DAYS};
pub use clocks::{
    SlaClocks, SlaEffects, SlaEvent, SlaEventKind, SlaInput, SlaTimer, SlaTimerCommand,
};
pub use outcome::{SlaMetricOutcome, SlaOutcome, SlaOutcomes};
pub use policy::{
    Schedules, SlaConditions, SlaConfig, SlaMetric, SlaPolicies, SlaPolicy, SlaPolicyError,
    SlaPriority, SlaTarget, SlaTicket,
};
pub use schedule::{BusinessInterval, Schedule, ScheduleError, Weekday};
