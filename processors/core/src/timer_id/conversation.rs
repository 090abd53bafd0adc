//! [`ConversationTimer`]: every timer the tickets processor sets on a conversation, and its
//! encoding.

use super::codec::{TimerDecodeError, TimerId, TimerReader, TimerWriter};
use super::legacy;
use crate::sla::SlaTimer;
use crate::{TicketTimer, Timestamp};
use std::fmt;

/// A timer of one conversation (the tickets processor's record key): a wake-up of its
/// ticket lifecycle or the breach of one of its SLA clocks.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConversationTimer {
    /// The lifecycle's timer (solve-to-close or a messaging-inactivity check), fed back as
    /// [`TicketInput::Timer`](crate::TicketInput::Timer).
    Lifecycle(TicketTimer),
    /// An SLA clock's breach, fed back as [`SlaInput::Timer`](crate::sla::SlaInput::Timer).
    Sla(SlaTimer),
}

/// The tag of [`ConversationTimer::Lifecycle`]: then the due time and the ticket id.
const LIFECYCLE: u8 = 0x01;
/// The tag of [`ConversationTimer::Sla`]: then the due time, the clock and the ticket id.
const SLA: u8 = 0x02;

impl ConversationTimer {
    /// When the timer is due.
    pub fn due(&self) -> Timestamp {
        match self {
            ConversationTimer::Lifecycle(timer) => timer.due,
            ConversationTimer::Sla(timer) => timer.due,
        }
    }
}

impl TimerId for ConversationTimer {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ConversationTimer::Lifecycle(timer) => {
                TimerWriter::start(out, LIFECYCLE, timer.due).str(&timer.ticket_id);
            }
            ConversationTimer::Sla(timer) => {
                TimerWriter::start(out, SLA, timer.due)
                    .u32(timer.clock)
                    .str(&timer.ticket_id);
            }
        }
    }

    fn decode(bytes: &[u8]) -> Result<ConversationTimer, TimerDecodeError> {
        let (tag, mut fields) = TimerReader::start(bytes)?;
        // A struct expression evaluates its fields in the order written: the encoding's.
        let timer = match tag {
            LIFECYCLE => ConversationTimer::Lifecycle(TicketTimer {
                due: fields.due()?,
                ticket_id: fields.str("ticket_id")?.to_owned(),
            }),
            SLA => ConversationTimer::Sla(SlaTimer {
                due: fields.due()?,
                clock: fields.u32("clock")?,
                ticket_id: fields.str("ticket_id")?.into(),
            }),
            legacy::CLOSE_START => return legacy::close(bytes).map(ConversationTimer::Lifecycle),
            legacy::SLA_START => return legacy::sla(bytes).map(ConversationTimer::Sla),
            tag => return Err(TimerDecodeError::UnknownTag { tag }),
        };
        fields.finish()?;
        Ok(timer)
    }
}

/// `lifecycle ticket <id> due <ms>` or `sla ticket <id> clock <n> due <ms>`, for logs and
/// people.
impl fmt::Display for ConversationTimer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConversationTimer::Lifecycle(timer) => {
                write!(
                    f,
                    "lifecycle ticket {} due {}",
                    timer.ticket_id, timer.due.0
                )
            }
            ConversationTimer::Sla(timer) => write!(
                f,
                "sla ticket {} clock {} due {}",
                timer.ticket_id, timer.clock, timer.due.0
            ),
        }
    }
}
