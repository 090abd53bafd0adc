//! Service level agreements: business-hours schedules and their arithmetic.
//!
//! - [`schedule`]: [`Schedule`], the configured weekly hours, time zone and holidays, and
//!   its validation.
//! - [`calendar`]: [`BusinessCalendar`], a compiled schedule: due times and business time
//!   between instants, through weekends, holidays and daylight-saving changes.

pub mod calendar;
pub mod schedule;

#[cfg(test)]
mod calendar_proptests;
#[cfg(test)]
mod calendar_tests;

pub use calendar::{BusinessCalendar, OutOfRange, HORIZON_DAYS};
pub use schedule::{BusinessInterval, Schedule, ScheduleError, Weekday};
