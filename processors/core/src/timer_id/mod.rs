//! Timers as the ids of the runtime's durable timers: each processor's timer type, encoded
//! once in a compact binary form.
//!
//! A processor's timers are plain data ([`ConversationTimer`] for the tickets processor,
//! [`RoutingTimer`](crate::routing::RoutingTimer) for the router). The runtime stores a
//! timer under `(record key, encoded timer)` and hands the decoded timer back when it fires;
//! [`TimerId`] is what it asks of a timer type.
//!
//! Every encoding here has one shape: a tag byte naming the variant (below `0x20`, so never
//! the first byte of text), the due time as 8 bytes big-endian, then the variant's fields in
//! order: numbers fixed-width big-endian, text as a 4-byte big-endian length and its UTF-8.
//! Nothing is formatted as text or parsed back.
//!
//! Timers written before this encoding are still stored (in sled and in compacted
//! changelogs), so decoding also accepts the earlier forms: the tickets processor's
//! `close/<due>/<ticket id>` and `sla/<due>/<clock>/<ticket id>`, and the router's JSON.
//!
//! - [`codec`]: [`TimerId`], [`TimerDecodeError`], and the reader and writer of the shape.
//! - [`conversation`]: [`ConversationTimer`] and its encoding.
//! - [`routing`]: the encoding of [`RoutingTimer`](crate::routing::RoutingTimer).
//! - [`legacy`]: the earlier forms, decoded only.

pub mod codec;
pub mod conversation;
mod legacy;
mod routing;

#[cfg(test)]
mod tests;

pub use codec::{TimerDecodeError, TimerId};
pub use conversation::ConversationTimer;
