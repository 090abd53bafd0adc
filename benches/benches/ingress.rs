//! Ingress throughput on one core: normalise, and normalise + Avro single-object encode,
//! per channel, in webhook messages per second.
//!
//! `cargo bench -p parley-benches --bench ingress`; short runs while developing:
//! `cargo bench -p parley-benches --bench ingress -- --warm-up-time 1 --measurement-time 3`.

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use apache_avro::{GenericSingleObjectWriter, Schema};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use parley_benches::{normaliser, samples, Sample, RECEIVED};
use parley_ingress::encode::encode_single_object;
use parley_ingress::RawRecord;
use std::hint::black_box;

/// The allocator the `parley` binary ships with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn record(sample: &Sample) -> RawRecord<'_> {
    RawRecord {
        channel: sample.channel,
        payload: &sample.body,
        account_header: sample.header,
        timestamp: RECEIVED,
    }
}

/// How many messages the body holds; 0 for fixtures that go to the DLQ (those are not
/// benchmarked).
fn messages(sample: &Sample) -> u64 {
    normaliser()
        .normalise(&record(sample))
        .map_or(0, |outcome| outcome.events.len() as u64)
}

fn normalise(c: &mut Criterion) {
    let normaliser = normaliser();
    for fixture in ["text", "batch"] {
        let mut group = c.benchmark_group(format!("ingress/normalise/{fixture}"));
        for sample in samples(fixture) {
            let count = messages(&sample);
            if count == 0 {
                continue;
            }
            group.throughput(Throughput::Elements(count));
            group.bench_function(BenchmarkId::from_parameter(sample.channel), |b| {
                b.iter(|| normaliser.normalise(black_box(&record(&sample))).unwrap())
            });
        }
        group.finish();
    }
}

fn normalise_and_encode(c: &mut Criterion) {
    let normaliser = normaliser();
    let mut group = c.benchmark_group("ingress/normalise_encode/text");
    let mut buffer = Vec::with_capacity(4096);
    for sample in samples("text") {
        group.throughput(Throughput::Elements(messages(&sample)));
        group.bench_function(BenchmarkId::from_parameter(sample.channel), |b| {
            b.iter(|| {
                let outcome = normaliser.normalise(black_box(&record(&sample))).unwrap();
                for event in &outcome.events {
                    buffer.clear();
                    encode_single_object(event, &mut buffer);
                    black_box(&buffer);
                }
            })
        });
    }
    group.finish();
}

/// The same with apache-avro's serde path, for comparison (WhatsApp only).
fn normalise_and_encode_with_apache_avro(c: &mut Criterion) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../schemas/conversation_event.avsc"
    );
    let schema = Schema::parse_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut writer = GenericSingleObjectWriter::new_with_capacity(&schema, 1024).unwrap();
    let normaliser = normaliser();
    let sample = samples("text")
        .into_iter()
        .find(|s| s.channel == parley_core::Channel::Whatsapp)
        .unwrap();
    let mut group = c.benchmark_group("ingress/normalise_encode_apache_avro/text");
    group.throughput(Throughput::Elements(messages(&sample)));
    let mut buffer = Vec::with_capacity(4096);
    group.bench_function(BenchmarkId::from_parameter(sample.channel), |b| {
        b.iter(|| {
            let outcome = normaliser.normalise(black_box(&record(&sample))).unwrap();
            for event in &outcome.events {
                buffer.clear();
                let value = apache_avro::to_value(event)
                    .unwrap()
                    .resolve(&schema)
                    .unwrap();
                writer.write_value(value, &mut buffer).unwrap();
                black_box(&buffer);
            }
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    normalise,
    normalise_and_encode,
    normalise_and_encode_with_apache_avro
);
criterion_main!(benches);
