//! The SLA clocks of one conversation's current ticket, as a sans-IO state machine fed by
//! the ticket lifecycle.
//!
//! [`SlaClocks`] follows the lifecycle's status changes, end-user messages and agent
//! replies ([`SlaInput::of_input`] and [`SlaInput::from_step`] turn one lifecycle step into
//! those inputs), starts,
//! pauses, resumes, achieves and breaches a clock per metric, and returns [`SlaEffects`]:
//! the [`SlaEvent`]s to publish and the breach timers to set or cancel, each due at the
//! exact instant its target runs out (through business hours when the target counts
//! them). Event ids are derived from the ticket id and a per-ticket counter, so a replay
//! of the same inputs gives identical events.
//!
//! - `effects`: what the clocks are fed ([`SlaInput`]) and what a step returns
//!   ([`SlaEffects`], [`SlaEvent`], [`SlaTimer`]).
//! - `machine`: [`SlaClocks`], the state machine and its calling contract.
//! - `ticket`: the stored clocks of the current ticket, and which metrics count in which
//!   status.
//! - `step`: what each clock does on a step, and the events and timers that go with it.

mod effects;
mod machine;
mod step;
mod ticket;

pub use effects::{SlaEffects, SlaEvent, SlaEventKind, SlaInput, SlaTimer, SlaTimerCommand};
pub use machine::SlaClocks;
