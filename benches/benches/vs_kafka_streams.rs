//! parley beside Kafka Streams, on one Apache Kafka 4.4.0 broker, the same input and the same
//! work: `cargo bench -p parley-benches --bench vs_kafka_streams`.
//!
//! The workload (`stateful`), per input record: a read-modify-write of the key's 200-byte
//! state (count, first and last timestamps, the timer's due time, an FNV-1a hash of every
//! value, the last value), one output record (the new state, carrying the input's timestamp),
//! and the key's durable timer (re)set to the input's timestamp plus one hour; a timer that
//! comes due emits the key's state with the header `bench.timer`. parley runs it as a
//! [`KeyedProcessor`] on the runtime (state in sled and its changelog, the timer in the
//! runtime's timer index); the peer, `benches/peer/kafka-streams` (Kafka Streams 4.4.0,
//! Processor API, Java 17), keeps the state in a persistent RocksDB store with changelog
//! logging and the timer as a due-time entry in a second one, scanned every second by a
//! wall-clock punctuator. Both compute the same bytes: the last output of every key must be
//! identical on every run, which the bench checks. Every write reaches a changelog on both
//! sides (the Processor API's stores have no cache by default): per input, parley writes two
//! changelog records (the state, the timer) and a seal per partition and batch; Kafka Streams
//! three (the state, the old timer entry's tombstone, the new entry). `passthrough` forwards
//! each input unchanged (parley: a processor without state or timers; it still seals its
//! batches).
//!
//! Each run is a process of its own (parley: this executable with `--parley-child`; the
//! peer: `java -jar`), reading the same preloaded input (`PARLEY_BENCH_RECORDS`, default
//! 100 000, over 10 000 keys, 100-byte values, 4 partitions) with a group of its own. A run
//! is timed from its first input processed to the moment its group's committed offsets cover
//! every input; CPU is the process's user and system time over the same span; peak RSS is the
//! process's VmHWM when the run is done. Kafka Streams commits every `commit.interval.ms`
//! (its defaults: 30 s under `at_least_once`, 100 ms under `exactly_once_v2`); once every
//! input is processed the peer requests a commit, so no run waits out an interval. parley
//! commits a batch at `batch_size` records or `commit_interval_ms` (defaults 10,000 and 100 ms);
//! the "100 ms" lines run it with batches cut by time alone, every 100 ms, beside Kafka
//! Streams committing every 100 ms.
//!
//! Latency (`PARLEY_BENCH_LATENCY=0` skips it): for each guarantee, records are produced at
//! half the slower side's `stateful` throughput for `PARLEY_BENCH_LATENCY_SECS` (default 20)
//! onto a fresh topic, each stamped with its send time; a `read_committed` consumer of the
//! output takes arrival minus that timestamp (outputs carry their input's timestamp), after a
//! warm-up of the first quarter. A baseline line reads the paced records straight back from
//! their own topic: what the producer (librdkafka, `linger.ms` 5), the broker and the reader
//! add, on this machine, at that moment.
//!
//! Smoke mode: with fewer than 10 000 records (`PARLEY_BENCH_RECORDS=300`) only the default
//! `stateful` lines run, no latency; the output checks still apply, and any failure exits
//! non-zero. The peer is built with Maven when its jar is missing or older than its sources;
//! `PARLEY_BENCH_JVM_OPTS` passes options to its JVM (none by default: the JVM's ergonomics),
//! `PARLEY_BENCH_LIBRDKAFKA=name=value,...` librdkafka settings to parley, and
//! `PARLEY_BENCH_TIMER_MS` sets the timer delay of both sides (default one hour: no timer
//! comes due during a run).

use parley_core::{Millis, Timestamp};
use parley_runtime::{
    DecodeError, Effects, Guarantee, Host, InputRecord, KeyedProcessor, Metrics, Rejection,
    RestoreError, RuntimeConfig, Shutdown, SystemClock, TimerDecodeError, TimerId,
};
use parley_testkit::kafka::{in_ci, workspace_root};
use parley_testkit::Kafka;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PARTITIONS: i32 = 4;
const KEYS: usize = 10_000;
const PAYLOAD: usize = 100;
const STATE_SIZE: usize = 200;
/// Where the last input value starts in the state.
const TAIL: usize = 40;
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;
/// The header of a fired timer's output.
const TIMER_HEADER: &str = "bench.timer";
/// The first argument that makes this executable a parley run.
const CHILD: &str = "--parley-child";
const DEFAULT_TIMER_MS: i64 = 3_600_000;

// ---------------------------------------------------------------------------------------------
// The work, on parley
// ---------------------------------------------------------------------------------------------

/// A key's next state after `value` at `timestamp`; the layout is the peer's `BenchState`.
fn next_state(
    old: Option<&[u8; STATE_SIZE]>,
    value: &[u8],
    timestamp: i64,
    delay: i64,
) -> [u8; STATE_SIZE] {
    let field = |state: &[u8; STATE_SIZE], at: usize| {
        u64::from_be_bytes(state[at..at + 8].try_into().expect("8 bytes"))
    };
    let (count, first, mut hash) = match old {
        Some(old) => (
            field(old, 0).wrapping_add(1),
            field(old, 8) as i64,
            field(old, 32),
        ),
        None => (1, timestamp, FNV_OFFSET),
    };
    for &b in value {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    let mut next = [0; STATE_SIZE];
    next[0..8].copy_from_slice(&count.to_be_bytes());
    next[8..16].copy_from_slice(&first.to_be_bytes());
    next[16..24].copy_from_slice(&timestamp.to_be_bytes());
    next[24..32].copy_from_slice(&timestamp.wrapping_add(delay).to_be_bytes());
    next[32..40].copy_from_slice(&hash.to_be_bytes());
    let tail = value.len().min(STATE_SIZE - TAIL);
    next[TAIL..TAIL + tail].copy_from_slice(&value[..tail]);
    next
}

/// The `stateful` workload's one timer per key, stored as `due`.
struct Due;

impl TimerId for Due {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"due");
    }

    fn decode(bytes: &[u8]) -> Result<Due, TimerDecodeError> {
        match bytes {
            b"due" => Ok(Due),
            [] => Err(TimerDecodeError::Empty),
            [tag, ..] => Err(TimerDecodeError::UnknownTag { tag: *tag }),
        }
    }
}

/// The timers of a workload that sets none: there are no values.
enum NoTimer {}

impl TimerId for NoTimer {
    fn encode(&self, _: &mut Vec<u8>) {
        match *self {}
    }

    fn decode(bytes: &[u8]) -> Result<NoTimer, TimerDecodeError> {
        Err(match bytes.first() {
            None => TimerDecodeError::Empty,
            Some(tag) => TimerDecodeError::UnknownTag { tag: *tag },
        })
    }
}

/// The `stateful` workload: see the module doc.
struct Stateful {
    output: String,
    delay: Millis,
    states: HashMap<Vec<u8>, [u8; STATE_SIZE]>,
}

impl KeyedProcessor for Stateful {
    type Input = Vec<u8>;
    type Timer = Due;

    fn restore(&mut self, state_key: &[u8], value: &[u8]) -> Result<(), RestoreError> {
        let state = value.try_into().map_err(|_| {
            RestoreError::value(state_key, format_args!("a state of {} bytes", value.len()))
        })?;
        self.states.insert(state_key.to_vec(), state);
        Ok(())
    }

    fn decode(&self, record: &InputRecord<'_>) -> Result<Vec<u8>, DecodeError> {
        Ok(record.value.to_vec())
    }

    fn handle(
        &mut self,
        key: &[u8],
        value: Vec<u8>,
        now: Timestamp,
        effects: &mut Effects<Due>,
    ) -> Result<(), Rejection> {
        let next = match self.states.get_mut(key) {
            Some(state) => {
                *state = next_state(Some(state), &value, now.0, self.delay.0);
                *state
            }
            None => {
                let state = next_state(None, &value, now.0, self.delay.0);
                self.states.insert(key.to_vec(), state);
                state
            }
        };
        effects.put(key, next.to_vec());
        effects.emit(self.output.clone(), key, next.to_vec());
        effects.set_timer(key, Due, now + self.delay);
        Ok(())
    }

    fn on_timer(&mut self, key: &[u8], _: Due, _now: Timestamp, effects: &mut Effects<Due>) {
        if let Some(state) = self.states.get(key) {
            effects.emit(self.output.clone(), key, state.to_vec());
            let output = effects.outputs.last_mut().expect("just pushed");
            output.headers.push((TIMER_HEADER.into(), b"1".to_vec()));
        }
    }
}

/// The `passthrough` workload: every input out unchanged.
struct Passthrough {
    output: String,
}

impl KeyedProcessor for Passthrough {
    type Input = Vec<u8>;
    type Timer = NoTimer;

    fn restore(&mut self, _state_key: &[u8], _value: &[u8]) -> Result<(), RestoreError> {
        Ok(())
    }

    fn decode(&self, record: &InputRecord<'_>) -> Result<Vec<u8>, DecodeError> {
        Ok(record.value.to_vec())
    }

    fn handle(
        &mut self,
        key: &[u8],
        value: Vec<u8>,
        _now: Timestamp,
        effects: &mut Effects<NoTimer>,
    ) -> Result<(), Rejection> {
        effects.emit(self.output.clone(), key, value);
        Ok(())
    }

    fn on_timer(
        &mut self,
        _key: &[u8],
        timer: NoTimer,
        _now: Timestamp,
        _effects: &mut Effects<NoTimer>,
    ) {
        match timer {}
    }
}

// ---------------------------------------------------------------------------------------------
// A parley run: this executable with `--parley-child CONFIG.json WORKLOAD OUTPUT EXPECTED TIMER_MS`
// ---------------------------------------------------------------------------------------------

/// The user and system CPU time of this process, in seconds.
fn cpu_seconds() -> f64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Runs one parley run and exits: prints `ready` once every partition is assigned and
/// restored, then `result records=N seconds=S cpu_seconds=C timers_fired=T`, the peer's line.
fn child(args: &[String]) -> ! {
    let [config, workload, output, expected, timer_ms] = args else {
        eprintln!("usage: {CHILD} CONFIG.json stateful|passthrough OUTPUT EXPECTED TIMER_MS");
        std::process::exit(2);
    };
    let text = std::fs::read_to_string(config).expect("the config is readable");
    let config = RuntimeConfig::from_json(&text).expect("the config is valid");
    let expected: usize = expected.parse().expect("EXPECTED is a count");
    let delay = Millis(timer_ms.parse().expect("TIMER_MS is a number"));
    let metrics = Arc::new(Metrics::new());
    let output = output.clone();
    let code = match workload.as_str() {
        "stateful" => serve(
            Host::new(
                config.clone(),
                move |_| Stateful {
                    output: output.clone(),
                    delay,
                    states: HashMap::new(),
                },
                Arc::new(SystemClock),
                metrics.clone(),
            )
            .expect("a valid host"),
            &config,
            &metrics,
            expected,
        ),
        "passthrough" => serve(
            Host::new(
                config.clone(),
                move |_| Passthrough {
                    output: output.clone(),
                },
                Arc::new(SystemClock),
                metrics.clone(),
            )
            .expect("a valid host"),
            &config,
            &metrics,
            expected,
        ),
        other => {
            eprintln!("unknown workload {other}");
            2
        }
    };
    std::process::exit(code)
}

fn serve<P: KeyedProcessor>(
    host: Host<P>,
    config: &RuntimeConfig,
    metrics: &Metrics,
    expected: usize,
) -> i32 {
    let view = host.state_view();
    let shutdown = Shutdown::new();
    let flag = shutdown.clone();
    let thread = std::thread::spawn(move || host.run(flag));
    let topic = config.input_topics[0].clone();
    let records_in = metrics.records_in.with_label_values(&[&topic]);
    let deadline = Instant::now() + Duration::from_secs(600);
    let stalled = |what: &str| {
        if thread.is_finished() || Instant::now() > deadline {
            eprintln!(
                "parley stopped or stalled while {what}: {} of {expected} inputs read",
                records_in.get()
            );
            true
        } else {
            false
        }
    };
    while view.owned().len() < PARTITIONS as usize || !view.restoring().is_empty() {
        if stalled("joining") {
            return finish(shutdown, thread, 1);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    println!("ready");
    std::io::stdout().flush().ok();
    while records_in.get() == 0 {
        if stalled("waiting for the first input") {
            return finish(shutdown, thread, 1);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let (first, first_cpu) = (Instant::now(), cpu_seconds());
    while (records_in.get() as usize) < expected {
        if stalled("processing") {
            return finish(shutdown, thread, 1);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let offsets: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &config.brokers)
        .set("group.id", &config.group_id)
        .set("enable.auto.commit", "false")
        .create()
        .expect("a consumer");
    while committed(&offsets, &topic) < expected as i64 {
        if stalled("committing") {
            return finish(shutdown, thread, 1);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let seconds = first.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - first_cpu;
    let commit = metrics
        .commit_latency
        .with_label_values(&[config.guarantee.as_str()]);
    println!(
        "result records={} seconds={seconds:.6} cpu_seconds={cpu:.6} timers_fired={} commits={} commit_ms={:.3}",
        records_in.get(),
        metrics.timers_fired.get(),
        commit.get_sample_count(),
        commit.get_sample_sum() * 1e3 / commit.get_sample_count().max(1) as f64,
    );
    std::io::stdout().flush().ok();
    finish(shutdown, thread, 0)
}

fn finish(
    shutdown: Shutdown,
    thread: std::thread::JoinHandle<Result<(), parley_runtime::RuntimeError>>,
    code: i32,
) -> i32 {
    shutdown.trigger();
    match thread.join() {
        Ok(Ok(())) => code,
        Ok(Err(error)) => {
            eprintln!("parley: {error}");
            1
        }
        Err(_) => 1,
    }
}

/// The sum of the group's committed offsets over `topic`'s partitions (each starts at 0).
fn committed(consumer: &BaseConsumer, topic: &str) -> i64 {
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(topic, p);
    }
    let Ok(committed) = consumer.committed_offsets(tpl, Duration::from_secs(5)) else {
        return 0;
    };
    committed
        .elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(o) => o,
            _ => 0,
        })
        .sum()
}

// ---------------------------------------------------------------------------------------------
// The runner
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Workload {
    Stateful,
    Passthrough,
}

impl Workload {
    fn as_str(self) -> &'static str {
        match self {
            Workload::Stateful => "stateful",
            Workload::Passthrough => "passthrough",
        }
    }
}

/// How a run commits: parley's batch size and interval, or Kafka Streams' `commit.interval.ms`
/// (`None`: its default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Parley { batch_size: usize, interval_ms: u64 },
    Streams { commit_interval_ms: Option<u64> },
}

/// parley's defaults: 10,000 records or 100 ms (`parley_runtime::config`).
const PARLEY_DEFAULT: Side = Side::Parley {
    batch_size: 10_000,
    interval_ms: 100,
};
/// parley with batches cut by time alone, every 100 ms (Kafka Streams' EOS interval).
const PARLEY_100MS: Side = Side::Parley {
    batch_size: 1_000_000,
    interval_ms: 100,
};
const STREAMS_DEFAULT: Side = Side::Streams {
    commit_interval_ms: None,
};
const STREAMS_100MS: Side = Side::Streams {
    commit_interval_ms: Some(100),
};

impl Side {
    fn is_parley(self) -> bool {
        matches!(self, Side::Parley { .. })
    }

    /// How it commits, for the table.
    fn commits(self, guarantee: Guarantee) -> String {
        match self {
            Side::Parley {
                batch_size,
                interval_ms,
            } if batch_size >= 1_000_000 => format!("every {interval_ms} ms"),
            Side::Parley {
                batch_size,
                interval_ms,
            } => format!("{batch_size} or {interval_ms} ms"),
            Side::Streams {
                commit_interval_ms: Some(ms),
            } => format!("every {ms} ms"),
            Side::Streams {
                commit_interval_ms: None,
            } => match guarantee {
                Guarantee::AtLeastOnce => "every 30 s (default)".into(),
                Guarantee::ExactlyOnce => "every 100 ms (default)".into(),
            },
        }
    }
}

/// What one run measured.
#[derive(Clone, Debug, Default)]
struct Measured {
    records: f64,
    seconds: f64,
    cpu_seconds: f64,
    timers_fired: f64,
    /// Commits (batches, or Kafka Streams' commits of the stream thread) and their mean time.
    commits: f64,
    commit_ms: f64,
    /// VmHWM when the run was done, KiB.
    peak_rss_kib: u64,
    /// From the process's start to its result line: start-up, group join and the run.
    to_result: f64,
    /// User and system CPU of the whole process, start to exit.
    cpu_total: f64,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.records / self.seconds
    }

    fn cpu_per_million(&self) -> f64 {
        self.cpu_seconds * 1e6 / self.records
    }

    fn rss_mib(&self) -> f64 {
        self.peak_rss_kib as f64 / 1024.0
    }
}

/// The broker and what every run needs to start.
struct Bench {
    brokers: String,
    jar: PathBuf,
    jvm_opts: Vec<String>,
    /// Extra librdkafka settings for parley (`PARLEY_BENCH_LIBRDKAFKA=name=value,...`).
    librdkafka: std::collections::BTreeMap<String, String>,
    timer_ms: i64,
    runs: usize,
}

/// A run's process: its stdout lines arrive on `lines`.
struct Proc {
    name: String,
    child: Child,
    lines: mpsc::Receiver<String>,
    started: Instant,
    state_dir: PathBuf,
}

impl Proc {
    fn spawn(name: String, mut command: Command, state_dir: PathBuf) -> Proc {
        command.stdout(Stdio::piped()).stderr(Stdio::inherit());
        // The run dies with the bench, even when the bench is killed.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let started = Instant::now();
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: cannot start: {e}"));
        let stdout = child.stdout.take().expect("piped");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Proc {
            name,
            child,
            lines,
            started,
            state_dir,
        }
    }

    /// The first stdout line starting with `prefix`; panics if the process ends first.
    fn line(&self, prefix: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(line) => eprintln!("{}: {line}", self.name),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("{}: no {prefix:?} line within {timeout:?}", self.name)
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("{}: exited before its {prefix:?} line", self.name)
                }
            }
        }
    }

    /// Waits for the result line, reads the peak RSS, reaps the process.
    fn finish(mut self) -> Measured {
        let result = self.line("result ", Duration::from_secs(900));
        let to_result = self.started.elapsed().as_secs_f64();
        let peak_rss_kib = vm_hwm_kib(self.child.id()).unwrap_or(0);
        let fields: HashMap<&str, f64> = result
            .split_whitespace()
            .filter_map(|field| field.split_once('='))
            .filter_map(|(k, v)| Some((k, v.parse().ok()?)))
            .collect();
        let field = |k: &str| {
            *fields
                .get(k)
                .unwrap_or_else(|| panic!("{}: no {k} in {result:?}", self.name))
        };
        let (status, usage) = reap(&mut self.child, Duration::from_secs(90));
        assert!(
            status == 0,
            "{}: exited with status {status} after its result",
            self.name
        );
        let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        let _ = std::fs::remove_dir_all(&self.state_dir);
        Measured {
            records: field("records"),
            seconds: field("seconds"),
            cpu_seconds: field("cpu_seconds"),
            timers_fired: field("timers_fired"),
            commits: field("commits"),
            commit_ms: field("commit_ms"),
            peak_rss_kib,
            to_result,
            cpu_total: seconds(usage.ru_utime) + seconds(usage.ru_stime),
        }
    }
}

/// The peak resident set size of process `pid` (VmHWM), KiB.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Waits for `child` to exit (killing it after `timeout`): its exit status and resource usage.
fn reap(child: &mut Child, timeout: Duration) -> (i32, libc::rusage) {
    let pid = child.id() as libc::pid_t;
    let deadline = Instant::now() + timeout;
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if reaped == pid {
            let code = if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                128 + libc::WTERMSIG(status)
            };
            return (code, usage);
        }
        assert!(reaped == 0, "wait4: {}", std::io::Error::last_os_error());
        if Instant::now() > deadline {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The topics of one run: its output, and parley's changelog and DLQ.
struct RunTopics {
    output: String,
    changelog: String,
    dlq: String,
}

impl RunTopics {
    fn new(tag: &str) -> RunTopics {
        RunTopics {
            output: format!("{tag}.out"),
            changelog: format!("{tag}.changelog"),
            dlq: format!("{tag}.dlq"),
        }
    }
}

impl Bench {
    /// Starts one run of `workload` on `side` over the `expected` records of `input`; its
    /// topics must exist.
    fn start(
        &self,
        tag: &str,
        side: Side,
        workload: Workload,
        guarantee: Guarantee,
        input: &str,
        expected: usize,
    ) -> Proc {
        let topics = RunTopics::new(tag);
        match side {
            Side::Parley {
                batch_size,
                interval_ms,
            } => {
                let state_dir = state_dir(tag);
                let config = RuntimeConfig {
                    brokers: self.brokers.clone(),
                    group_id: tag.to_owned(),
                    instance_id: "0".to_owned(),
                    input_topics: vec![input.to_owned()],
                    changelog_topic: topics.changelog.clone(),
                    dlq_topic: topics.dlq.clone(),
                    state_dir: state_dir.join("sled"),
                    guarantee,
                    registry_url: None,
                    batch_size,
                    commit_interval_ms: interval_ms,
                    timer_horizon_ms: 3_600_000,
                    metrics_address: None,
                    advertised_state_address: None,
                    librdkafka: self.librdkafka.clone(),
                    time: Default::default(),
                };
                let config_path = state_dir.join("config.json");
                std::fs::write(&config_path, serde_json::to_vec(&config).unwrap()).unwrap();
                let mut command = Command::new(std::env::current_exe().expect("this executable"));
                command
                    .arg(CHILD)
                    .arg(&config_path)
                    .arg(workload.as_str())
                    .arg(&topics.output)
                    .arg(expected.to_string())
                    .arg(self.timer_ms.to_string());
                Proc::spawn(tag.to_owned(), command, state_dir)
            }
            Side::Streams { commit_interval_ms } => {
                let state_dir = state_dir(tag);
                let mut command = Command::new("java");
                command
                    .args(&self.jvm_opts)
                    .arg("-jar")
                    .arg(&self.jar)
                    .arg(&self.brokers)
                    .arg(workload.as_str())
                    .arg(match guarantee {
                        Guarantee::AtLeastOnce => "at_least_once",
                        Guarantee::ExactlyOnce => "exactly_once_v2",
                    })
                    .arg(input)
                    .arg(&topics.output)
                    .arg(tag)
                    .arg(&state_dir)
                    .arg(expected.to_string())
                    .arg(format!("timer.delay.ms={}", self.timer_ms));
                if let Some(ms) = commit_interval_ms {
                    command.arg(format!("commit.interval.ms={ms}"));
                }
                Proc::spawn(tag.to_owned(), command, state_dir)
            }
        }
    }

    /// A tag no other run of this bench uses, for group, application id and topics.
    fn tag(&mut self, side: Side, workload: Workload, guarantee: Guarantee) -> String {
        self.runs += 1;
        format!(
            "vs{}-{}-{}-{}",
            self.runs,
            if side.is_parley() {
                "parley"
            } else {
                "streams"
            },
            workload.as_str(),
            match guarantee {
                Guarantee::AtLeastOnce => "alo",
                Guarantee::ExactlyOnce => "eos",
            }
        )
    }
}

/// A fresh directory for a run's state, under the build's temp dir (the same disk for both
/// sides), removed when the run is done.
fn state_dir(tag: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "{tag}-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn records() -> usize {
    std::env::var("PARLEY_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

fn key(i: usize) -> String {
    format!("key-{}", i % KEYS)
}

fn value(i: usize) -> Vec<u8> {
    let mut value = format!("value-{i:012}-").into_bytes();
    value.resize(PAYLOAD, b'.');
    value
}

/// A producer that puts keys where parley and the Java clients do (`murmur2_random`):
/// parley refuses a keyed record on another partition than its key's as `wrong_partition`.
fn producer(brokers: &str, linger_ms: &str) -> ThreadedProducer<DefaultProducerContext> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("partitioner", "murmur2_random")
        .set("linger.ms", linger_ms)
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .expect("a producer")
}

fn send(producer: &ThreadedProducer<DefaultProducerContext>, topic: &str, i: usize) {
    let (key, value) = (key(i), value(i));
    let mut record = BaseRecord::<str, [u8]>::to(topic).key(&key).payload(&value);
    loop {
        match producer.send(record) {
            Ok(()) => return,
            Err((_, back)) => {
                record = back;
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

/// Produces `n` records to `topic` as fast as the producer takes them.
fn preload(brokers: &str, topic: &str, n: usize) {
    let producer = producer(brokers, "5");
    for i in 0..n {
        send(&producer, topic, i);
    }
    producer
        .flush(Duration::from_secs(120))
        .expect("the preload is acknowledged");
}

/// The last output value of each key.
type LastPerKey = HashMap<Vec<u8>, Vec<u8>>;

/// What a run wrote to its output topic, read back with `read_committed`.
#[derive(Debug, Default)]
struct Outputs {
    per_input: usize,
    timers: usize,
    last: LastPerKey,
}

fn read_outputs(brokers: &str, topic: &str) -> Outputs {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "vs-reader")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", "read_committed")
        .create()
        .expect("a consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut outputs = Outputs::default();
    let mut eof = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while eof.len() < PARTITIONS as usize && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(m)) => {
                if is_timer(&m) {
                    outputs.timers += 1;
                } else {
                    outputs.per_input += 1;
                    outputs.last.insert(
                        m.key().unwrap_or_default().to_vec(),
                        m.payload().unwrap_or_default().to_vec(),
                    );
                }
            }
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                eof.insert(partition);
            }
            _ => {}
        }
    }
    outputs
}

fn is_timer<M: Message>(m: &M) -> bool {
    m.headers()
        .is_some_and(|h| h.iter().any(|header| header.key == TIMER_HEADER))
}

/// One line of the table: parley and Kafka Streams on one workload and guarantee.
struct Line {
    workload: Workload,
    guarantee: Guarantee,
    parley: (Side, usize),
    streams: (Side, usize),
}

fn ratio(a: f64, b: f64) -> String {
    format!("{:.2}", a / b)
}

fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn guarantee_name(guarantee: Guarantee, side: Side) -> &'static str {
    match (guarantee, side.is_parley()) {
        (Guarantee::AtLeastOnce, _) => "at_least_once",
        (Guarantee::ExactlyOnce, true) => "exactly_once",
        (Guarantee::ExactlyOnce, false) => "exactly_once_v2",
    }
}

fn run_bench(bench: &mut Bench, kafka: &Kafka, n: usize, smoke: bool) -> Vec<String> {
    let mut failures = Vec::new();
    let input = "vs.in".to_owned();
    kafka.create_topics(&[&input], &[], PARTITIONS);
    let began = Instant::now();
    preload(&bench.brokers, &input, n);
    println!(
        "preloaded {n} records ({KEYS} keys, {PAYLOAD}-byte values, {PARTITIONS} partitions) in {:.1} s",
        began.elapsed().as_secs_f64()
    );

    // The lines, in the order they run; a Kafka Streams run shared by two lines runs once.
    use Guarantee::{AtLeastOnce as Alo, ExactlyOnce as Eos};
    use Workload::{Passthrough as Pass, Stateful as State};
    let mut plan: Vec<(Workload, Guarantee, Side, Side)> = vec![
        (State, Alo, PARLEY_DEFAULT, STREAMS_DEFAULT),
        (State, Eos, PARLEY_DEFAULT, STREAMS_DEFAULT),
    ];
    if !smoke {
        plan = vec![
            (State, Alo, PARLEY_DEFAULT, STREAMS_DEFAULT),
            (State, Alo, PARLEY_100MS, STREAMS_100MS),
            (State, Eos, PARLEY_DEFAULT, STREAMS_DEFAULT),
            (State, Eos, PARLEY_100MS, STREAMS_DEFAULT),
            (Pass, Alo, PARLEY_DEFAULT, STREAMS_DEFAULT),
            (Pass, Alo, PARLEY_100MS, STREAMS_100MS),
            (Pass, Eos, PARLEY_DEFAULT, STREAMS_DEFAULT),
            (Pass, Eos, PARLEY_100MS, STREAMS_DEFAULT),
        ];
    }
    // Every distinct run, measured once.
    struct Done {
        workload: Workload,
        guarantee: Guarantee,
        side: Side,
        tag: String,
        measured: Measured,
    }
    let mut done: Vec<Done> = Vec::new();
    let mut lines = Vec::new();
    for (workload, guarantee, parley, streams) in plan {
        let mut indices = [0; 2];
        for (slot, side) in [parley, streams].into_iter().enumerate() {
            if let Some(i) = done
                .iter()
                .position(|d| d.workload == workload && d.guarantee == guarantee && d.side == side)
            {
                indices[slot] = i;
                continue;
            }
            let tag = bench.tag(side, workload, guarantee);
            let topics = RunTopics::new(&tag);
            kafka.create_topics(
                &[&topics.output, &topics.changelog, &topics.dlq],
                &[&topics.changelog],
                PARTITIONS,
            );
            let measured = bench
                .start(&tag, side, workload, guarantee, &input, n)
                .finish();
            println!(
                "{tag}: {} {} ({}): {} records/s over {:.2} s, {:.1} CPU s per million, peak RSS {:.0} MiB; \
                 {} commits of {:.1} ms on average; result {:.1} s after start, whole-process CPU {:.1} s, {} timers fired",
                workload.as_str(),
                guarantee_name(guarantee, side),
                side.commits(guarantee),
                thousands(measured.rate()),
                measured.seconds,
                measured.cpu_per_million(),
                measured.rss_mib(),
                measured.commits,
                measured.commit_ms,
                measured.to_result,
                measured.cpu_total,
                measured.timers_fired,
            );
            indices[slot] = done.len();
            done.push(Done {
                workload,
                guarantee,
                side,
                tag,
                measured,
            });
        }
        lines.push(Line {
            workload,
            guarantee,
            parley: (parley, indices[0]),
            streams: (streams, indices[1]),
        });
    }

    // Every run must have emitted one output per input; every stateful run the same final
    // state per key.
    let mut reference: Option<(String, LastPerKey)> = None;
    for run in &done {
        let outputs = read_outputs(&bench.brokers, &RunTopics::new(&run.tag).output);
        if outputs.timers > 0 {
            println!("{}: {} outputs of fired timers", run.tag, outputs.timers);
        }
        if outputs.per_input != n {
            failures.push(format!(
                "{}: {} outputs for {n} inputs",
                run.tag, outputs.per_input
            ));
        }
        if run.workload == Workload::Stateful {
            match &reference {
                None => {
                    if outputs.last.len() != n.min(KEYS) {
                        failures.push(format!(
                            "{}: {} keys in the outputs, {} expected",
                            run.tag,
                            outputs.last.len(),
                            n.min(KEYS)
                        ));
                    }
                    reference = Some((run.tag.clone(), outputs.last));
                }
                Some((first, last)) => {
                    if *last != outputs.last {
                        let differ = last
                            .iter()
                            .filter(|(k, v)| outputs.last.get(*k) != Some(v))
                            .count();
                        failures.push(format!(
                            "{}: the last output of {differ} keys differs from {first}'s",
                            run.tag
                        ));
                    }
                }
            }
        }
    }
    println!(
        "outputs checked: {} runs, one output per input{}",
        done.len(),
        if reference.is_some() {
            ", the same final state of every key in every stateful run"
        } else {
            ""
        }
    );

    println!();
    println!(
        "{n} records, {KEYS} keys, {PARTITIONS} partitions; ratio = parley / Kafka Streams \
         (records/s: above 1, parley is faster; RSS and CPU: below 1, parley uses less)"
    );
    println!();
    println!("| workload | guarantee | parley commits | Kafka Streams commits | parley records/s | Kafka Streams records/s | ratio | parley peak RSS MiB | Kafka Streams peak RSS MiB | ratio | parley CPU s per 1M | Kafka Streams CPU s per 1M | ratio |");
    println!("|---|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for line in &lines {
        let p = &done[line.parley.1].measured;
        let s = &done[line.streams.1].measured;
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.0} | {:.0} | {} | {:.1} | {:.1} | {} |",
            line.workload.as_str(),
            line.guarantee.as_str(),
            line.parley.0.commits(line.guarantee),
            line.streams.0.commits(line.guarantee),
            thousands(p.rate()),
            thousands(s.rate()),
            ratio(p.rate(), s.rate()),
            p.rss_mib(),
            s.rss_mib(),
            ratio(p.rss_mib(), s.rss_mib()),
            p.cpu_per_million(),
            s.cpu_per_million(),
            ratio(p.cpu_per_million(), s.cpu_per_million()),
        );
    }
    println!();

    let latency = std::env::var("PARLEY_BENCH_LATENCY").map_or(true, |v| v != "0");
    if !smoke && latency {
        let rate_of = |guarantee: Guarantee, side: Side| {
            done.iter()
                .find(|d| {
                    d.workload == Workload::Stateful && d.guarantee == guarantee && d.side == side
                })
                .map(|d| d.measured.rate())
        };
        let mut rows = Vec::new();
        for guarantee in [Guarantee::AtLeastOnce, Guarantee::ExactlyOnce] {
            let (Some(p), Some(s)) = (
                rate_of(guarantee, PARLEY_DEFAULT),
                rate_of(guarantee, STREAMS_DEFAULT),
            ) else {
                continue;
            };
            let rate = 0.5 * p.min(s);
            for side in [
                None,
                Some(PARLEY_DEFAULT),
                Some(PARLEY_100MS),
                Some(STREAMS_DEFAULT),
            ] {
                let row = paced(bench, kafka, side, guarantee, rate);
                rows.push((guarantee, side, rate, row));
            }
        }
        let secs = latency_secs();
        println!(
            "Latency, stateful: records paced at half the slower side's throughput for {secs} s, \
             output arrival (read_committed) minus the input's send time, after a {:.0} s warm-up",
            secs / 4.0
        );
        println!();
        println!(
            "| guarantee | side | commits | paced records/s | p50 ms | p99 ms | max ms | CPU s per 1M |"
        );
        println!("|---|---|---|--:|--:|--:|--:|--:|");
        for (guarantee, side, rate, (latencies, measured)) in rows {
            let (name, commits) = match side {
                Some(side) if side.is_parley() => ("parley", side.commits(guarantee)),
                Some(side) => ("Kafka Streams", side.commits(guarantee)),
                None => ("none: the paced input read back", "-".to_owned()),
            };
            println!(
                "| {} | {name} | {commits} | {} | {:.1} | {:.1} | {:.1} | {} |",
                guarantee_name(guarantee, side.unwrap_or(PARLEY_DEFAULT)),
                thousands(rate),
                percentile(&latencies, 0.50),
                percentile(&latencies, 0.99),
                latencies.last().copied().unwrap_or(f64::NAN),
                measured.map_or("-".to_owned(), |m| format!("{:.1}", m.cpu_per_million())),
            );
        }
        println!();
    }
    failures
}

fn latency_secs() -> f64 {
    std::env::var("PARLEY_BENCH_LATENCY_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20.0)
}

/// `sorted`'s `q` quantile (nearest rank).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1e3
}

/// One paced run: records at `rate` per second onto a fresh topic once the run is ready;
/// returns the latencies after the warm-up, sorted, in ms, and what the run measured. Without
/// a side, the baseline: the paced records are read back from their own topic, no processor
/// between (what the producer, the broker and the reader add).
fn paced(
    bench: &mut Bench,
    kafka: &Kafka,
    side: Option<Side>,
    guarantee: Guarantee,
    rate: f64,
) -> (Vec<f64>, Option<Measured>) {
    let secs = latency_secs();
    let count = (rate * secs).round().max(1.0) as usize;
    let tag = match side {
        Some(side) => format!("{}-paced", bench.tag(side, Workload::Stateful, guarantee)),
        None => {
            bench.runs += 1;
            format!("vs{}-baseline-paced", bench.runs)
        }
    };
    let topics = RunTopics::new(&tag);
    let input = format!("{tag}.in");
    kafka.create_topics(
        &[&input, &topics.output, &topics.changelog, &topics.dlq],
        &[&topics.changelog],
        PARTITIONS,
    );
    let run = side.map(|side| {
        let run = bench.start(&tag, side, Workload::Stateful, guarantee, &input, count);
        run.line("ready", Duration::from_secs(180));
        run
    });
    let read = if side.is_some() {
        topics.output.clone()
    } else {
        input.clone()
    };

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bench.brokers)
        .set("group.id", "vs-latency")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("fetch.wait.max.ms", "10")
        .create()
        .expect("a consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(&read, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let warm_until = now_ms() + secs * 1e3 / 4.0;
    let reader = std::thread::spawn(move || {
        let mut latencies = Vec::with_capacity(count);
        let mut seen = 0;
        let deadline = Instant::now() + Duration::from_secs_f64(secs * 3.0 + 60.0);
        while seen < count && Instant::now() < deadline {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                let arrived = now_ms();
                if is_timer(&m) {
                    continue;
                }
                seen += 1;
                let sent = m.timestamp().to_millis().unwrap_or(0) as f64;
                if sent >= warm_until {
                    latencies.push(arrived - sent);
                }
            }
        }
        latencies
    });

    let producer = producer(&bench.brokers, "5");
    let started = Instant::now();
    for i in 0..count {
        let at = Duration::from_secs_f64(i as f64 / rate);
        if let Some(wait) = at.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
        send(&producer, &input, i);
    }
    producer
        .flush(Duration::from_secs(60))
        .expect("the paced records are acknowledged");
    let sent = Instant::now();
    let measured = run.map(|run| {
        let spawned = run.started;
        let measured = run.finish();
        // How long the run took, after the last record was sent, to have processed and
        // committed every input: beyond a commit interval, it had fallen behind the pace.
        let drain = (spawned + Duration::from_secs_f64(measured.to_result))
            .saturating_duration_since(sent)
            .as_secs_f64();
        (measured, drain)
    });
    let mut latencies = reader.join().expect("the reader");
    latencies.sort_by(f64::total_cmp);
    println!(
        "{tag}: {} records at {} /s (sent in {:.1} s){}; \
         {} latencies after the warm-up: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        count,
        thousands(rate),
        (sent - started).as_secs_f64(),
        match &measured {
            Some((_, drain)) => format!(", all committed {drain:.2} s after the last"),
            None => String::new(),
        },
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN)
    );
    (latencies, measured.map(|(measured, _)| measured))
}

/// The peer's jar, built with Maven when it is missing or older than its sources.
fn peer_jar() -> Result<PathBuf, String> {
    let dir = workspace_root().join("benches/peer/kafka-streams");
    let jar = dir.join("target/parley-peer-kafka-streams.jar");
    let built = std::fs::metadata(&jar).and_then(|m| m.modified()).ok();
    let newest = newest_source(&dir.join("src")).max(
        std::fs::metadata(dir.join("pom.xml"))
            .and_then(|m| m.modified())
            .ok(),
    );
    if built.is_some() && built >= newest && dir.join("target/lib").is_dir() {
        return Ok(jar);
    }
    let began = Instant::now();
    let output = Command::new("mvn")
        .args(["-B", "-q", "-f"])
        .arg(dir.join("pom.xml"))
        .arg("package")
        .output()
        .map_err(|e| format!("mvn: {e} (Maven builds the Kafka Streams peer)"))?;
    if !output.status.success() {
        return Err(format!(
            "mvn package of {} failed: {}{}",
            dir.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    eprintln!(
        "built the Kafka Streams peer with Maven in {:.1} s",
        began.elapsed().as_secs_f64()
    );
    Ok(jar)
}

fn newest_source(dir: &Path) -> Option<SystemTime> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let time = if path.is_dir() {
            newest_source(&path)
        } else {
            entry.metadata().and_then(|m| m.modified()).ok()
        };
        newest = newest.max(time);
    }
    newest
}

fn java_version() -> String {
    Command::new("java")
        .arg("-version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Skips (prints why) outside CI; fails under `CI=true`.
fn cannot(reason: String) {
    if in_ci() {
        panic!("vs_kafka_streams: {reason}");
    }
    println!("vs_kafka_streams: SKIPPED, {reason}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(CHILD) {
        child(&args[2..]);
    }
    if !args.iter().any(|a| a == "--bench") {
        return; // Built or listed by `cargo test`; only `cargo bench` (which passes --bench) runs it.
    }
    let n = records();
    let smoke = n < 10_000;
    let jar = match peer_jar() {
        Ok(jar) => jar,
        Err(reason) => {
            return cannot(format!(
                "the Kafka Streams peer could not be built: {reason}"
            ))
        }
    };
    let kafka = match Kafka::try_single("vs-kafka-streams") {
        Ok(kafka) => kafka,
        Err(reason) => return cannot(format!("Apache Kafka could not start: {reason}")),
    };
    let timer_ms = std::env::var("PARLEY_BENCH_TIMER_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_TIMER_MS);
    let jvm_opts: Vec<String> = std::env::var("PARLEY_BENCH_JVM_OPTS")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    println!(
        "parley vs Kafka Streams 4.4.0 ({}; JVM options: {}) on Apache Kafka 4.4.0, one broker{}",
        java_version(),
        if jvm_opts.is_empty() {
            "none".to_owned()
        } else {
            jvm_opts.join(" ")
        },
        if smoke { "; smoke mode" } else { "" }
    );
    let librdkafka = std::env::var("PARLEY_BENCH_LIBRDKAFKA")
        .unwrap_or_default()
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut bench = Bench {
        brokers: kafka.bootstrap_servers(),
        jar,
        jvm_opts,
        librdkafka,
        timer_ms,
        runs: 0,
    };
    let failures = run_bench(&mut bench, &kafka, n, smoke);
    drop(kafka);
    if !failures.is_empty() {
        for failure in &failures {
            eprintln!("FAILED {failure}");
        }
        std::process::exit(1);
    }
}
