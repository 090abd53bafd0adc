//! [`Conversation`]: what the ticket processor stores per record key.

use parley_core::sla::SlaClocks;
use parley_core::TicketLifecycle;
use serde::{Deserialize, Serialize};

/// What the processor keeps per record key: the lifecycle and its SLA clocks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    /// The conversation's tickets.
    pub lifecycle: TicketLifecycle,
    /// The SLA clocks of its current ticket.
    pub sla: SlaClocks,
}

impl Conversation {
    pub(super) fn new(account: &str, conversation: &str) -> Conversation {
        Conversation {
            lifecycle: TicketLifecycle::new(account, conversation),
            sla: SlaClocks::new(account, conversation),
        }
    }

    /// Reads a stored entry: a [`Conversation`], or a lone [`TicketLifecycle`] as stored
    /// before SLA clocks existed (its SLA clocks start empty).
    pub fn from_stored(value: &[u8]) -> Result<Conversation, serde_json::Error> {
        serde_json::from_slice(value).or_else(|error| {
            let lifecycle: TicketLifecycle = serde_json::from_slice(value).map_err(|_| error)?;
            let sla = SlaClocks::new(lifecycle.account(), lifecycle.conversation());
            Ok(Conversation { lifecycle, sla })
        })
    }
}
