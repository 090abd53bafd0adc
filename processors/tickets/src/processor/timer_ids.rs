//! The runtime timer ids of the ticket processor's timers: `close/<due>/<ticket id>` for a
//! lifecycle timer (solve-to-close or an inactivity check), `sla/<due>/<clock>/<ticket id>`
//! for an SLA breach timer.

use parley_core::sla::SlaTimer;
use parley_core::{TicketTimer, Timestamp};

/// The prefix of the runtime timer ids of lifecycle timers. The lifecycle's solve-to-close
/// and inactivity checks share it (the lifecycle tells them apart by its state); the name
/// predates the inactivity checks and stays so that stored timers still parse.
const CLOSE_TIMER: &str = "close/";

/// The runtime timer id of a lifecycle timer: `close/<due ms>/<ticket id>`.
pub fn timer_id(timer: &TicketTimer) -> Vec<u8> {
    format!("{CLOSE_TIMER}{}/{}", timer.due.0, timer.ticket_id).into_bytes()
}

/// The lifecycle timer of a runtime timer id written by [`timer_id`].
pub fn parse_timer_id(id: &[u8]) -> Option<TicketTimer> {
    let text = std::str::from_utf8(id).ok()?.strip_prefix(CLOSE_TIMER)?;
    let (due, ticket_id) = text.split_once('/')?;
    Some(TicketTimer {
        ticket_id: ticket_id.to_owned(),
        due: Timestamp(due.parse().ok()?),
    })
}

/// The prefix of the runtime timer ids of SLA breach timers.
const SLA_TIMER: &str = "sla/";

/// The runtime timer id of an SLA breach timer: `sla/<due ms>/<clock>/<ticket id>`.
pub fn sla_timer_id(timer: &SlaTimer) -> Vec<u8> {
    format!(
        "{SLA_TIMER}{}/{}/{}",
        timer.due.0, timer.clock, timer.ticket_id
    )
    .into_bytes()
}

/// The SLA breach timer of a runtime timer id written by [`sla_timer_id`].
pub fn parse_sla_timer_id(id: &[u8]) -> Option<SlaTimer> {
    let text = std::str::from_utf8(id).ok()?.strip_prefix(SLA_TIMER)?;
    let (due, rest) = text.split_once('/')?;
    let (clock, ticket_id) = rest.split_once('/')?;
    Some(SlaTimer {
        ticket_id: ticket_id.into(),
        clock: clock.parse().ok()?,
        due: Timestamp(due.parse().ok()?),
    })
}
