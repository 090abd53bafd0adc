//! The timing wheel against a binary heap: insert, cancel and expiry rates and bytes per
//! pending timer, at 10 thousand, 1 million and 10 million pending timers.
//!
//! `cargo bench -p parley-benches --bench timer_wheel` prints one table. Keys are `u64`,
//! dues are spread uniformly over 28 days at millisecond precision. Both structures fire
//! a timer on the first whole second at or after its due, so they do the same work:
//!
//! - insert: `n` timers into an empty structure (growth included);
//! - cancel: all `n` timers, in random order;
//! - expire, host loop: `while let Some(at) = poll_at() { advance_into(at, buf) }` until
//!   empty, the way the runtime drives its timers (one wake per occupied second);
//! - expire, one jump: a single `advance_into(start + 30 days)`;
//! - expire near: 10,000 of the `n` timers are due within the first hour and the rest from
//!   day 1 to day 28 (mixed at random in insertion order); the host loop runs through the
//!   first hour only. The work is the same 10,000 timers at every `n`: what changes is
//!   how many others are pending.
//! - bytes/timer: heap bytes held by the structure after the inserts, plus its own size,
//!   divided by `n` (from a counting global allocator over mimalloc).
//!
//! The machine may be shared: each figure is the best of 5 runs at 10 thousand timers and
//! of 3 at 1 million (one run at 10 million), which also keeps the allocator's first-use
//! costs out of the smallest size.
//!
//! The heap baseline is `BinaryHeap<Reverse<(due, key)>>` with lazy cancellation: a
//! `HashMap<key, due>` of live timers; cancel removes from the map only, and a popped entry
//! that no longer matches the map is skipped.

use parley_benches::measure::{grouped, millions_per_second, nanos_each, CountingAllocator};
use parley_core::rng::SeededRng;
use parley_core::timer_wheel::TimerWheel;
use parley_core::Timestamp;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// mimalloc, as in the binary and the other benchmarks, with a count of live bytes.
#[global_allocator]
static ALLOCATOR: CountingAllocator<mimalloc::MiMalloc> =
    CountingAllocator::new(mimalloc::MiMalloc);

/// Where time starts: 2023-11-14.
const START: i64 = 1_700_000_000_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
/// About how many timers are due within the first hour in the "expire near" figure.
const NEAR: usize = 10_000;
/// Dues are spread over this span after `START`.
const SPREAD: i64 = 28 * DAY;

/// What the benchmark needs of a timer structure.
trait Timers {
    const NAME: &'static str;
    fn new(now: Timestamp) -> Self;
    fn insert(&mut self, key: u64, due: Timestamp);
    fn cancel(&mut self, key: &u64);
    fn poll_at(&mut self) -> Option<Timestamp>;
    fn advance_into(&mut self, now: Timestamp, out: &mut Vec<(u64, Timestamp)>);
    fn len(&self) -> usize;
}

impl Timers for TimerWheel<u64> {
    const NAME: &'static str = "TimerWheel";
    fn new(now: Timestamp) -> Self {
        TimerWheel::new(now)
    }
    fn insert(&mut self, key: u64, due: Timestamp) {
        TimerWheel::insert(self, key, due);
    }
    fn cancel(&mut self, key: &u64) {
        TimerWheel::cancel(self, key);
    }
    fn poll_at(&mut self) -> Option<Timestamp> {
        TimerWheel::poll_at(self)
    }
    fn advance_into(&mut self, now: Timestamp, out: &mut Vec<(u64, Timestamp)>) {
        TimerWheel::advance_into(self, now, out);
    }
    fn len(&self) -> usize {
        TimerWheel::len(self)
    }
}

/// The baseline: a binary heap with lazy cancellation.
struct HeapTimers {
    heap: BinaryHeap<Reverse<(i64, u64)>>,
    live: HashMap<u64, i64>,
    now: i64,
}

/// The whole second at or after `ms`, in milliseconds.
fn ceil_to_second(ms: i64) -> i64 {
    ms.div_euclid(1_000) * 1_000 + if ms.rem_euclid(1_000) == 0 { 0 } else { 1_000 }
}

impl HeapTimers {
    /// Drops stale entries from the top of the heap.
    fn skip_stale(&mut self) {
        while let Some(Reverse((due, key))) = self.heap.peek() {
            if self.live.get(key) == Some(due) {
                return;
            }
            self.heap.pop();
        }
    }
}

impl Timers for HeapTimers {
    const NAME: &'static str = "BinaryHeap";
    fn new(now: Timestamp) -> Self {
        HeapTimers {
            heap: BinaryHeap::new(),
            live: HashMap::new(),
            now: now.0,
        }
    }
    fn insert(&mut self, key: u64, due: Timestamp) {
        self.live.insert(key, due.0);
        self.heap.push(Reverse((due.0, key)));
    }
    fn cancel(&mut self, key: &u64) {
        self.live.remove(key);
    }
    fn poll_at(&mut self) -> Option<Timestamp> {
        self.skip_stale();
        self.heap
            .peek()
            .map(|Reverse((due, _))| Timestamp(ceil_to_second(*due)))
    }
    fn advance_into(&mut self, now: Timestamp, out: &mut Vec<(u64, Timestamp)>) {
        self.now = self.now.max(now.0);
        while let Some(Reverse((due, key))) = self.heap.peek() {
            if ceil_to_second(*due) > self.now {
                break;
            }
            let (due, key) = (*due, *key);
            self.heap.pop();
            if self.live.get(&key) == Some(&due) {
                self.live.remove(&key);
                out.push((key, Timestamp(due)));
            }
        }
    }
    fn len(&self) -> usize {
        self.live.len()
    }
}

/// The figures of one structure at one size.
#[derive(Clone, Copy)]
struct Row {
    insert: Duration,
    cancel: Duration,
    host_loop: Duration,
    jump: Duration,
    near: Duration,
    near_count: usize,
    bytes: f64,
}

/// Inserts timer `i` due at `dues[i]` for every `i`; returns the structure, the time taken
/// and the bytes it holds.
fn build<T: Timers>(dues: &[i64]) -> (T, Duration, f64) {
    let before = ALLOCATOR.live_bytes();
    let began = Instant::now();
    let mut timers = T::new(Timestamp(START));
    for (key, due) in dues.iter().enumerate() {
        timers.insert(key as u64, Timestamp(*due));
    }
    let took = began.elapsed();
    let held = (ALLOCATOR.live_bytes() - before) as f64 + std::mem::size_of::<T>() as f64;
    (timers, took, held)
}

fn measure<T: Timers>(dues: &[i64], mixed: &[i64], cancel_order: &[u64]) -> Row {
    let n = dues.len();
    let (mut timers, insert, held) = build::<T>(dues);

    let mut out = Vec::with_capacity(1_024);
    let mut fired = 0;
    let began = Instant::now();
    while let Some(at) = timers.poll_at() {
        out.clear();
        timers.advance_into(at, &mut out);
        fired += out.len();
        black_box(&out);
    }
    let host_loop = began.elapsed();
    assert_eq!(fired, n, "{}: the host loop fired {fired} of {n}", T::NAME);
    drop(timers);

    let (mut timers, _, _) = build::<T>(dues);
    let mut out = Vec::with_capacity(n);
    let began = Instant::now();
    timers.advance_into(Timestamp(START + 30 * DAY), &mut out);
    let jump = began.elapsed();
    assert_eq!(
        out.len(),
        n,
        "{}: the jump fired {} of {n}",
        T::NAME,
        out.len()
    );
    assert!(out.windows(2).all(|pair| pair[0].1 <= pair[1].1));
    drop((timers, out));

    let (mut timers, _, _) = build::<T>(dues);
    let began = Instant::now();
    for key in cancel_order {
        timers.cancel(key);
    }
    let cancel = began.elapsed();
    assert_eq!(timers.len(), 0);
    drop(timers);

    let near_count = mixed.iter().filter(|due| **due <= START + HOUR).count();
    let (mut timers, _, _) = build::<T>(mixed);
    let mut out = Vec::with_capacity(1_024);
    let mut fired = 0;
    let began = Instant::now();
    while let Some(at) = timers.poll_at() {
        if at.0 > START + HOUR {
            break;
        }
        out.clear();
        timers.advance_into(at, &mut out);
        fired += out.len();
        black_box(&out);
    }
    let near = began.elapsed();
    assert_eq!(fired, near_count, "{}: fired {fired} near timers", T::NAME);
    drop(timers);

    Row {
        insert,
        cancel,
        host_loop,
        jump,
        near,
        near_count,
        bytes: held / n as f64,
    }
}

/// The best of each figure over several runs.
fn best(runs: impl Iterator<Item = Row>) -> Row {
    runs.reduce(|a, b| Row {
        insert: a.insert.min(b.insert),
        cancel: a.cancel.min(b.cancel),
        host_loop: a.host_loop.min(b.host_loop),
        jump: a.jump.min(b.jump),
        near: a.near.min(b.near),
        near_count: a.near_count,
        bytes: a.bytes.min(b.bytes),
    })
    .expect("at least one run")
}

fn print_row(n: usize, name: &str, row: &Row) {
    println!(
        "| {:>10} | {:<10} | {:>7.2} | {:>7.2} | {:>12.0} | {:>12.0} | {:>12.0} | {:>11.1} |",
        grouped(n),
        name,
        millions_per_second(n, row.insert),
        millions_per_second(n, row.cancel),
        nanos_each(n, row.host_loop),
        nanos_each(n, row.jump),
        nanos_each(row.near_count, row.near),
        row.bytes,
    );
}

fn main() {
    let began = Instant::now();
    println!("Timers with u64 keys, dues uniform over 28 days; one thread.");
    println!(
        "size_of TimerWheel<u64> = {} bytes, HeapTimers = {} bytes",
        std::mem::size_of::<TimerWheel<u64>>(),
        std::mem::size_of::<HeapTimers>()
    );
    println!();
    println!("insert, cancel: millions per second; expire: nanoseconds per timer fired");
    println!();
    println!(
        "| {:>10} | {:<10} | {:>7} | {:>7} | {:>12} | {:>12} | {:>12} | {:>11} |",
        "pending",
        "structure",
        "insert",
        "cancel",
        "expire loop",
        "expire jump",
        "expire near",
        "bytes/timer"
    );
    println!(
        "|-----------:|:-----------|--------:|--------:|-------------:|-------------:|-------------:|------------:|"
    );
    // Sizes can be given as arguments (`-- 1000000`); `cargo bench` itself passes `--bench`.
    let mut sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|arg| arg.parse().ok())
        .collect();
    if sizes.is_empty() {
        sizes = vec![10_000, 1_000_000, 10_000_000];
    }
    let mut rng = SeededRng::new(0x7061_726c_6579);
    for n in sizes {
        let dues: Vec<i64> = (0..n)
            .map(|_| START + 1 + rng.below(SPREAD as u64) as i64)
            .collect();
        let mut cancel_order: Vec<u64> = (0..n as u64).collect();
        rng.shuffle(&mut cancel_order);
        let mixed: Vec<i64> = (0..n)
            .map(|_| {
                if rng.below(n as u64) < NEAR as u64 {
                    START + 1 + rng.below(HOUR as u64) as i64
                } else {
                    START + DAY + rng.below((SPREAD - DAY) as u64) as i64
                }
            })
            .collect();
        let runs = match n {
            0..=10_000 => 5,
            10_001..=1_000_000 => 3,
            _ => 1,
        };
        print_row(
            n,
            TimerWheel::<u64>::NAME,
            &best((0..runs).map(|_| measure::<TimerWheel<u64>>(&dues, &mixed, &cancel_order))),
        );
        print_row(
            n,
            HeapTimers::NAME,
            &best((0..runs).map(|_| measure::<HeapTimers>(&dues, &mixed, &cancel_order))),
        );
    }

    // The map's table doubles when it passes 7/8 full: just past that point (2^23 * 7/8 + 1
    // timers) the table is least full and the bytes per timer are at their worst.
    let n = (1 << 23) / 8 * 7 + 1;
    let dues: Vec<i64> = (0..n)
        .map(|_| START + 1 + rng.below(SPREAD as u64) as i64)
        .collect();
    let (wheel, _, held) = build::<TimerWheel<u64>>(&dues);
    println!();
    println!(
        "TimerWheel at {} pending (hash table just grown, its emptiest): {:.1} bytes/timer",
        grouped(wheel.len()),
        held / n as f64
    );
    drop(wheel);
    println!("whole run: {:.1} s", began.elapsed().as_secs_f64());
}
