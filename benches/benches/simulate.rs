//! `parley simulate` on the runtime's synchronous driver: one record, and a generated day of
//! one account's traffic, 2,000 conversations (about 20,000 input records at as many distinct
//! times, plus the solve-to-close timers), through the real processors, sled and codecs.
//!
//! Before criterion's measurements it prints its own figures: the wall time of the day and
//! its input records per second through the whole simulation (every output decoded and
//! written as a JSON line, as `parley simulate` writes it; the input is parsed beforehand),
//! whether two runs wrote byte-identical outputs, and the same day through the driver alone
//! ([`run_steps`], outputs counted but not decoded).
//!
//! `cargo bench -p parley-benches --bench simulate`; short runs while developing:
//! `cargo bench -p parley-benches --bench simulate -- --warm-up-time 1 --measurement-time 3`.

#![allow(missing_docs)] // criterion_group! generates an undocumented pub fn.

use criterion::{criterion_group, BatchSize, Criterion, Throughput};
use parley::simulate::{parse_input, run_steps, simulate, ScenarioRecord, SimulateOptions};
use parley_benches::measure::grouped;
use parley_core::rng::SeededRng;
use parley_core::routing::RoutingConfig;
use parley_core::{Channel, Millis, Timestamp};
use serde_json::json;
use std::time::{Duration, Instant};

/// The allocator the `parley` binary ships with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// 2026-01-05T00:00:00Z.
const MIDNIGHT: i64 = 1_767_571_200_000;
const CONVERSATIONS: usize = 2_000;
const AGENTS: usize = 80;
const CHANNELS: [&str; 3] = ["whatsapp", "web", "ios"];

/// A day of the account `acme` as simulate input lines, the same on every call: its style
/// (live chat with a returning customer, an hour from Solved to Closed) and 80 agents online
/// from 08:00, then 2,000 conversations starting between 08:00 and 20:00. In each, the
/// ticket is assigned at once (auto-accept) and then taken by hand by the conversation's
/// agent, who answers three or four customer messages and sets Solved; one in four customers
/// returns within the hour, which reopens the ticket, solved again. Tickets close an hour
/// after their last Solved.
fn day() -> String {
    let mut rng = SeededRng::new(2026);
    let at = |ms: i64| json!(ms);
    let start = MIDNIGHT + Millis::hours(8).0;
    let mut lines = vec![json!({
        "at": at(start), "topic": "style-config",
        "value": {"account": "acme", "style": "live_chat_returning", "solved_to_closed_ms": 3_600_000}
    })];
    for agent in 0..AGENTS {
        let channels: Vec<_> = CHANNELS
            .iter()
            .map(|c| json!({"channel": c, "status": "online", "capacity": 3}))
            .collect();
        lines.push(json!({
            "at": at(start), "topic": "agent-presence",
            "value": {"account": "acme", "agent_id": format!("agent-{agent}"), "channels": channels}
        }));
    }
    let seconds = |rng: &mut SeededRng, low: u64, high: u64| {
        (1_000 * (low + rng.below(high - low))) as i64 + rng.below(1_000) as i64
    };
    for c in 0..CONVERSATIONS {
        let conversation = format!("c-{c:05}");
        let channel = CHANNELS[c % CHANNELS.len()];
        let agent = format!("agent-{}", rng.below(AGENTS as u64));
        let mut t = start + seconds(&mut rng, 0, 12 * 3_600);
        let message = |t: i64, text: &str| {
            json!({"at": t, "topic": "conversation-events", "value": {
                "account": "acme", "conversation": conversation, "channel": channel, "text": text}})
        };
        let action = |t: i64, kind: &str, status: Option<&str>| {
            json!({"at": t, "topic": "agent-actions", "value": {
                "account": "acme", "conversation": conversation, "agent_id": agent,
                "kind": kind, "status": status}})
        };
        lines.push(message(t, "Hello, I need help"));
        t += seconds(&mut rng, 5, 20);
        lines.push(action(t, "assign", None));
        for round in 0..3 + rng.below(2) {
            t += seconds(&mut rng, 20, 120);
            lines.push(action(t, "reply", None));
            t += seconds(&mut rng, 30, 300);
            lines.push(message(t, &format!("Follow-up {round}")));
        }
        t += seconds(&mut rng, 60, 600);
        lines.push(action(t, "set_status", Some("solved")));
        if rng.below(4) == 0 {
            t += seconds(&mut rng, 300, 3_000);
            lines.push(message(t, "One more thing"));
            t += seconds(&mut rng, 120, 600);
            lines.push(action(t, "set_status", Some("solved")));
        }
    }
    let mut text = String::new();
    for line in lines {
        text.push_str(&line.to_string());
        text.push('\n');
    }
    text
}

/// The options of the day: one partition as `parley simulate`'s default, every channel of the
/// day auto-accepting.
fn options() -> SimulateOptions {
    SimulateOptions {
        input: "day.jsonl".into(),
        output: None,
        topics: Vec::new(),
        partitions: 1,
        run_after: Millis::days(30),
        max_steps: 1_000,
        routing: RoutingConfig {
            auto_accept: vec![Channel::Whatsapp, Channel::Web, Channel::Ios],
            ..RoutingConfig::default()
        },
        ingress: Default::default(),
    }
}

/// Runs `inputs` and returns every output line, as `parley simulate` writes them.
fn run(inputs: Vec<ScenarioRecord>) -> Vec<u8> {
    let mut out = Vec::new();
    simulate(&options(), inputs, |record| {
        serde_json::to_writer(&mut out, &record.to_json())?;
        out.push(b'\n');
        Ok(())
    })
    .expect("the simulation runs");
    out
}

/// Runs `inputs` through the driver alone (outputs counted, not decoded) and returns how many
/// records the stages produced.
fn drive(inputs: Vec<ScenarioRecord>) -> usize {
    let mut produced = 0;
    run_steps(&options(), inputs, |_, records| {
        produced += records.len();
        Ok(())
    })
    .expect("the simulation runs");
    produced
}

/// The figures of the module doc, printed before criterion's.
fn figures() {
    let text = day();
    let inputs = parse_input(&text).expect("the day parses");
    let times: std::collections::BTreeSet<Timestamp> = inputs.iter().map(|r| r.at).collect();
    let count = inputs.len();
    let mut runs: Vec<(Duration, Vec<u8>)> = Vec::new();
    for _ in 0..2 {
        let started = Instant::now();
        let out = run(inputs.clone());
        runs.push((started.elapsed(), out));
    }
    let identical = runs[0].1 == runs[1].1;
    let lines = runs[0].1.iter().filter(|b| **b == b'\n').count();
    let best = runs.iter().map(|(t, _)| *t).min().expect("two runs");
    println!(
        "simulate, a day of 2,000 conversations: {} input records at {} distinct times, {} output records",
        grouped(count),
        grouped(times.len()),
        grouped(lines)
    );
    let mut topics = std::collections::BTreeMap::<String, usize>::new();
    for line in runs[0].1.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let line: serde_json::Value = serde_json::from_slice(line).expect("output lines are JSON");
        *topics
            .entry(line["topic"].as_str().unwrap_or("?").to_owned())
            .or_default() += 1;
    }
    let topics: Vec<String> = topics
        .iter()
        .map(|(topic, n)| format!("{topic} {}", grouped(*n)))
        .collect();
    println!("  outputs by topic: {}", topics.join(", "));
    for (i, (elapsed, _)) in runs.iter().enumerate() {
        println!(
            "  run {}: {:.2} s, {} input records/s",
            i + 1,
            elapsed.as_secs_f64(),
            grouped((count as f64 / elapsed.as_secs_f64()) as usize)
        );
    }
    println!(
        "  best: {:.2} s; outputs of the two runs byte-identical: {}",
        best.as_secs_f64(),
        if identical { "yes" } else { "NO" }
    );
    assert!(
        identical,
        "two runs of the same day wrote different outputs"
    );
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let produced = drive(inputs.clone());
        best = best.min(started.elapsed());
        assert_eq!(produced, lines);
    }
    println!(
        "  through the driver alone (outputs not decoded), best of 3: {:.2} s, {} input records/s",
        best.as_secs_f64(),
        grouped((count as f64 / best.as_secs_f64()) as usize)
    );
    println!();
}

fn benches(c: &mut Criterion) {
    let one = parse_input(
        r#"{"at": "2026-01-05T09:00:00Z", "topic": "conversation-events", "value": {"account": "acme", "conversation": "c1", "channel": "whatsapp", "text": "Hi"}}"#,
    )
    .expect("the record parses");
    let mut group = c.benchmark_group("simulate");
    group.throughput(Throughput::Elements(1));
    group.bench_function("one_record", |b| {
        b.iter_batched(|| one.clone(), run, BatchSize::SmallInput)
    });
    let day = parse_input(&day()).expect("the day parses");
    group.throughput(Throughput::Elements(day.len() as u64));
    group.sample_size(10);
    group.bench_function("day_2000_conversations", |b| {
        b.iter_batched(|| day.clone(), run, BatchSize::LargeInput)
    });
    group.bench_function("day_2000_conversations_driver_only", |b| {
        b.iter_batched(|| day.clone(), drive, BatchSize::LargeInput)
    });
    group.finish();
}

criterion_group!(simulate_benches, benches);

fn main() {
    figures();
    simulate_benches();
    Criterion::default().configure_from_args().final_summary();
}
