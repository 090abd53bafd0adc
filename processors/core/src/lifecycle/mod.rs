//! One conversation's tickets through their lifecycle: New, Open, Pending, On-hold, Solved
//! and Closed, under the conversational style each ticket was created with.
//!
//! [`TicketLifecycle`] is a sans-IO state machine in the manner of `quinn-proto`: the host
//! feeds it inputs with the current time and applies the [`TicketEffects`] it returns (records to
//! produce, timers to set or cancel, rejections for the DLQ) before the next step. It never
//! reads a clock; every id it writes is derived from its inputs, so replaying the same
//! inputs gives byte-identical effects.
//!
//! Messaging inactivity lives here because the lifecycle sees the messages: an assigned,
//! Open conversation whose end user has not answered an agent's reply for the style's
//! `inactivity` becomes inactive, and the lifecycle asks the router to free its assignee's
//! capacity (`inactive`) until the end user writes again (`consume`).
//!
//! - `machine`: [`TicketLifecycle`], the state machine: its steps and transitions.
//! - `effects`: what it is fed ([`TicketInput`]) and what a step returns
//!   ([`TicketEffects`]: records, timers, rejections), and [`TicketView`].
//! - `ticket`: the current ticket's state, and the records built from it (status
//!   changes, routing requests, ticket metrics).

mod effects;
mod machine;
mod ticket;

#[cfg(test)]
mod tests;

pub use effects::{
    RejectionKind, TicketEffects, TicketInput, TicketRejection, TicketTimer, TicketTimerCommand,
    TicketView, DEDUP_WINDOW,
};
pub use machine::TicketLifecycle;
