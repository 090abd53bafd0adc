//! `parley demo`: the whole pipeline on librdkafka's mock cluster, driven by simulated
//! customers and agents on an accelerated clock, with a live view and a closing summary.
//!
//! Three accounts, one per conversational style, take messages on five channels as the
//! channels' own webhook bodies (`raw.<channel>`, through ingress). Agents go online and
//! offline, answer offers, reply, park tickets in Pending or On-hold and solve them;
//! customers write back, return to a solved ticket (a reopen) or after it closed (a
//! follow-up). Everything the demo produces carries the scaled clock's time, which is also
//! the tickets and router hosts' processing clock.
//!
//! The simulated people act only on what the pipeline has published (status changes and
//! routing decisions), the way an agent workspace would, so nothing they send is refused:
//! an offer is answered only once the tickets processor has committed past it, an agent
//! acts only on a ticket it is the assignee of, one status change at a time, and takes a
//! break only with no offer open and shorter than the returning-customer grace.
//!
//! - `run`: the flags, the embedded pipeline's start and stop, the traffic loop.
//! - `script`: the accounts, the cast's names and lines, the timeline, the webhook bodies.
//! - `people`: the customers and agents, and the events they schedule.
//! - `world`: everything the run holds, set up and configured before the traffic.
//! - `behaviour`: what the people do when their events come due.
//! - `outputs`: the pipeline's outputs read back into what the people see.
//! - `view` and `summary`: the live view and the closing summary.

mod behaviour;
mod outputs;
mod people;
mod run;
mod script;
mod summary;
mod view;
mod world;

pub(crate) use run::{run, DemoArgs};
