//! [`TicketProcessor`]: the conversations of one partition, each a
//! [`TicketLifecycle`](parley_core::TicketLifecycle) with the SLA clocks of its current ticket.
//!
//! - [`ticket_processor`]: [`TicketProcessor`] and [`TicketCodecs`], the runtime's
//!   `KeyedProcessor` for one partition.
//! - [`conversation`]: [`Conversation`], what is stored per record key.

pub mod conversation;
pub mod ticket_processor;

#[cfg(test)]
mod tests;

pub use conversation::Conversation;
pub use ticket_processor::{TicketCodecs, TicketProcessor};
