//! The encoding of [`RoutingTimer`], the router's timers.

use super::codec::{TimerDecodeError, TimerId, TimerReader, TimerWriter};
use super::legacy;
use crate::routing::RoutingTimer;

/// The tag of [`RoutingTimer::OfferTimeout`]: then the due time, ticket id and agent id.
const OFFER_TIMEOUT: u8 = 0x01;
/// The tag of [`RoutingTimer::SkillsTimeout`]: then the due time and ticket id.
const SKILLS_TIMEOUT: u8 = 0x02;
/// The tag of [`RoutingTimer::SecondaryGroups`]: then the due time and ticket id.
const SECONDARY_GROUPS: u8 = 0x03;
/// The tag of [`RoutingTimer::ReturningGrace`]: then the due time, ticket id and agent id.
const RETURNING_GRACE: u8 = 0x04;

impl TimerId for RoutingTimer {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            RoutingTimer::OfferTimeout {
                ticket_id,
                agent_id,
                due,
            } => {
                TimerWriter::start(out, OFFER_TIMEOUT, *due)
                    .str(ticket_id)
                    .str(agent_id);
            }
            RoutingTimer::SkillsTimeout { ticket_id, due } => {
                TimerWriter::start(out, SKILLS_TIMEOUT, *due).str(ticket_id);
            }
            RoutingTimer::SecondaryGroups { ticket_id, due } => {
                TimerWriter::start(out, SECONDARY_GROUPS, *due).str(ticket_id);
            }
            RoutingTimer::ReturningGrace {
                ticket_id,
                agent_id,
                due,
            } => {
                TimerWriter::start(out, RETURNING_GRACE, *due)
                    .str(ticket_id)
                    .str(agent_id);
            }
        }
    }

    fn decode(bytes: &[u8]) -> Result<RoutingTimer, TimerDecodeError> {
        let (tag, mut fields) = TimerReader::start(bytes)?;
        // A struct expression evaluates its fields in the order written: the encoding's.
        let timer = match tag {
            OFFER_TIMEOUT => RoutingTimer::OfferTimeout {
                due: fields.due()?,
                ticket_id: fields.str("ticket_id")?.to_owned(),
                agent_id: fields.str("agent_id")?.to_owned(),
            },
            SKILLS_TIMEOUT => RoutingTimer::SkillsTimeout {
                due: fields.due()?,
                ticket_id: fields.str("ticket_id")?.to_owned(),
            },
            SECONDARY_GROUPS => RoutingTimer::SecondaryGroups {
                due: fields.due()?,
                ticket_id: fields.str("ticket_id")?.to_owned(),
            },
            RETURNING_GRACE => RoutingTimer::ReturningGrace {
                due: fields.due()?,
                ticket_id: fields.str("ticket_id")?.to_owned(),
                agent_id: fields.str("agent_id")?.to_owned(),
            },
            legacy::JSON_START => return legacy::routing_json(bytes),
            tag => return Err(TimerDecodeError::UnknownTag { tag }),
        };
        fields.finish()?;
        Ok(timer)
    }
}
