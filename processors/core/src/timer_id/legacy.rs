//! The timer encodings written before [`TimerId`](super::TimerId), decoded only: timers set
//! then are still stored in sled and in compacted changelogs, and must still fire.
//!
//! - the tickets processor's lifecycle timers, `close/<due ms>/<ticket id>`;
//! - its SLA breach timers, `sla/<due ms>/<clock>/<ticket id>`;
//! - the router's timers, as the JSON of [`RoutingTimer`].

use super::codec::TimerDecodeError;
use crate::routing::RoutingTimer;
use crate::sla::SlaTimer;
use crate::{TicketTimer, Timestamp};

/// The first byte of a lifecycle timer in its text form.
pub(super) const CLOSE_START: u8 = b'c';
/// The first byte of an SLA breach timer in its text form.
pub(super) const SLA_START: u8 = b's';
/// The first byte of a router timer in its JSON form.
pub(super) const JSON_START: u8 = b'{';

const CLOSE_FORMAT: &str = "close/<due>/<ticket id>";
const SLA_FORMAT: &str = "sla/<due>/<clock>/<ticket id>";

/// A lifecycle timer written as `close/<due ms>/<ticket id>` (the ticket id may hold `/`).
pub(super) fn close(bytes: &[u8]) -> Result<TicketTimer, TimerDecodeError> {
    let broken = |field| TimerDecodeError::LegacyText {
        format: CLOSE_FORMAT,
        field,
    };
    let text = std::str::from_utf8(bytes).map_err(|_| TimerDecodeError::NotUtf8 {
        field: "close timer",
    })?;
    let rest = text.strip_prefix("close/").ok_or(broken("prefix"))?;
    let (due, ticket_id) = rest.split_once('/').ok_or(broken("due"))?;
    Ok(TicketTimer {
        ticket_id: ticket_id.to_owned(),
        due: Timestamp(due.parse().map_err(|_| broken("due"))?),
    })
}

/// An SLA breach timer written as `sla/<due ms>/<clock>/<ticket id>` (the ticket id may hold
/// `/`).
pub(super) fn sla(bytes: &[u8]) -> Result<SlaTimer, TimerDecodeError> {
    let broken = |field| TimerDecodeError::LegacyText {
        format: SLA_FORMAT,
        field,
    };
    let text =
        std::str::from_utf8(bytes).map_err(|_| TimerDecodeError::NotUtf8 { field: "sla timer" })?;
    let rest = text.strip_prefix("sla/").ok_or(broken("prefix"))?;
    let (due, rest) = rest.split_once('/').ok_or(broken("due"))?;
    let (clock, ticket_id) = rest.split_once('/').ok_or(broken("clock"))?;
    Ok(SlaTimer {
        ticket_id: ticket_id.into(),
        clock: clock.parse().map_err(|_| broken("clock"))?,
        due: Timestamp(due.parse().map_err(|_| broken("due"))?),
    })
}

/// A router timer written as its JSON (`{"offer_timeout":{"ticket_id":..}}`).
pub(super) fn routing_json(bytes: &[u8]) -> Result<RoutingTimer, TimerDecodeError> {
    serde_json::from_slice(bytes).map_err(|e| TimerDecodeError::LegacyJson {
        reason: e.to_string(),
    })
}
