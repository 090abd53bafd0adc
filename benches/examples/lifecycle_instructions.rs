//! The lifecycle bench's two replays once each, for counting instructions rather than
//! timing them (steady on a loaded machine):
//!
//! ```text
//! cargo build --profile bench -p parley-benches --example lifecycle_instructions
//! valgrind --tool=callgrind --callgrind-out-file=lifecycle.cg \
//!     target/release/examples/lifecycle_instructions
//! callgrind_annotate --inclusive=yes lifecycle.cg | grep replay
//! ```
//!
//! The inclusive counts of `replay` and `replay_with_sla` are the work the bench's
//! `mixed_styles` and `mixed_styles_with_sla` time per iteration; their ratio is the
//! inverse of the throughput ratio the bench would show on an idle machine.

use parley_benches::lifecycle::{
    conversations, lifecycles, record, replay, replay_with_sla, sla_config,
};
use parley_core::sla::SlaConfig;

/// The allocator the `parley` binary ships with, as in the bench.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let recorded = record();
    let (policies, schedules) = sla_config();
    let config = SlaConfig {
        policies: &policies,
        schedules: &schedules,
    };
    let changes = replay(&recorded.styles, lifecycles(), recorded.inputs.clone());
    let events = replay_with_sla(
        &recorded.styles,
        config,
        conversations(),
        recorded.inputs.clone(),
    );
    println!(
        "{} inputs: {changes} status changes, {events} SLA events",
        recorded.inputs.len()
    );
}
