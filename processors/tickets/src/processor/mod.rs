//! [`TicketProcessor`]: the conversations of one partition, each a
//! [`TicketLifecycle`](parley_core::TicketLifecycle) with the SLA clocks of its current ticket.
//!
//! - [`ticket_processor`]: [`TicketProcessor`] and [`TicketCodecs`], the runtime's
//!   `KeyedProcessor` for one partition.
//! - [`conversation`]: [`Conversation`], what is stored per record key.
//! - [`timer_ids`]: the runtime timer ids of solve-to-close and SLA breach timers.

pub mod conversation;
pub mod ticket_processor;
pub mod timer_ids;

#[cfg(test)]
mod tests;

pub use conversation::Conversation;
pub use ticket_processor::{TicketCodecs, TicketProcessor};
pub use timer_ids::{parse_sla_timer_id, parse_timer_id, sla_timer_id, timer_id};
