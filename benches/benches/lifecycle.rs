//! Events per second through `TicketLifecycle` on one core, over a realistic mix of the
//! three conversational styles.
//!
//! The workload is [`parley_benches::lifecycle`]'s: an input stream recorded once from
//! scripted conversations, replayed into fresh lifecycles for each measurement.
//! `mixed_styles_with_sla` replays the same inputs with each conversation's SLA clocks
//! fed after every step, as the tickets processor does, under a policy with a target for
//! every metric.

#![allow(missing_docs)] // criterion_group! generates an undocumented pub fn.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use parley_benches::lifecycle::{
    conversations, lifecycles, record, replay, replay_with_sla, sla_config,
};
use parley_core::sla::SlaConfig;

/// The allocator the `parley` binary ships with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn lifecycle_throughput(c: &mut Criterion) {
    let recorded = record();
    let mut group = c.benchmark_group("lifecycle");
    group.throughput(Throughput::Elements(recorded.inputs.len() as u64));
    group.bench_function("mixed_styles", |b| {
        b.iter_batched(
            || (lifecycles(), recorded.inputs.clone()),
            |(lifecycles, inputs)| replay(&recorded.styles, lifecycles, inputs),
            BatchSize::LargeInput,
        )
    });
    let (policies, schedules) = sla_config();
    let config = SlaConfig {
        policies: &policies,
        schedules: &schedules,
    };
    group.bench_function("mixed_styles_with_sla", |b| {
        b.iter_batched(
            || (conversations(), recorded.inputs.clone()),
            |(conversations, inputs)| {
                replay_with_sla(&recorded.styles, config, conversations, inputs)
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, lifecycle_throughput);
criterion_main!(benches);
