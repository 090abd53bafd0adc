//! Running a simulation: inputs piped into the pipeline in time order, the clock moved from
//! input to input and timer to timer, each step's outputs written.

use super::input::ScenarioRecord;
use super::output::{sort_step, OutputDecoder, OutputRecord, OUTPUT_TOPICS};
use super::pipeline::{pipeline, PREFIX};
use crate::embedded::StateDir;
use crate::UsageError;
use anyhow::Context;
use parley_core::routing::RoutingConfig;
use parley_core::{Millis, Timestamp};
use parley_ingress::IngressConfig;
use parley_runtime::driver::{Message, Record};
use std::io::Write;
use std::path::PathBuf;

/// How a simulation runs.
#[derive(Clone, Debug)]
pub struct SimulateOptions {
    /// The input file.
    pub input: PathBuf,
    /// Where to write the outputs; standard output if none.
    pub output: Option<PathBuf>,
    /// Only these output topics are written; every one if empty.
    pub topics: Vec<String>,
    /// Partitions of every topic.
    pub partitions: i32,
    /// After the last input, timers keep firing up to this long after it.
    pub run_after: Millis,
    /// After the last input, at most this many timer steps run.
    pub max_steps: u64,
    /// The router's settings.
    pub routing: RoutingConfig,
    /// The normaliser's settings.
    pub ingress: IngressConfig,
}

/// Runs the simulation the options describe and writes its outputs.
pub fn run(options: SimulateOptions) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&options.input).map_err(|e| {
        UsageError(format!(
            "--input {}: cannot read: {e}",
            options.input.display()
        ))
    })?;
    let inputs = super::parse_input(&text)?;
    for topic in &options.topics {
        if !OUTPUT_TOPICS.contains(&topic.as_str()) {
            return Err(UsageError(format!(
                "--topic {topic:?}: expected one of {}",
                OUTPUT_TOPICS.join(", ")
            ))
            .into());
        }
    }
    let mut out: Box<dyn Write> = match &options.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("--output {}: cannot create", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let wanted = options.topics.clone();
    simulate(&options, inputs, |record| {
        if wanted.is_empty() || wanted.contains(&record.topic) {
            serde_json::to_writer(&mut out, &record.to_json())?;
            out.write_all(b"\n")?;
        }
        Ok(())
    })?;
    out.flush()?;
    Ok(())
}

/// Runs `inputs` (in time order, as [`parse_input`](super::parse_input) returns them) through
/// the pipeline and hands every output record to `emit`, as `parley simulate` writes them:
/// each step's records with the step's time, ordered by topic, then key, then offset (see
/// [`run_steps`]). The same inputs give the same outputs on every run.
pub fn simulate(
    options: &SimulateOptions,
    inputs: Vec<ScenarioRecord>,
    mut emit: impl FnMut(OutputRecord) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let decoder = OutputDecoder::new();
    let mut outputs = Vec::new();
    run_steps(options, inputs, |at, records| {
        outputs.extend(
            (records.into_iter())
                .map(|record| OutputRecord::from_record(record, at, PREFIX, &decoder)),
        );
        sort_step(&mut outputs);
        outputs.drain(..).try_for_each(&mut emit)
    })
}

/// Runs `inputs` (in time order) through the pipeline on the runtime's synchronous driver,
/// handing each step's time and the records the stages produced in it (in the order they
/// were appended) to `on_step`.
///
/// Each step moves the clock to the next input's `at` or the next due timer, whichever is
/// first (a timer due at an input's time goes first), pipes the input in, and runs until
/// nothing is left to do at that time. After the last input, timers fire up to
/// `options.run_after` past it, for at most `options.max_steps` steps.
pub fn run_steps(
    options: &SimulateOptions,
    inputs: Vec<ScenarioRecord>,
    mut on_step: impl FnMut(Timestamp, Vec<Record>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let state = StateDir::create("simulate")?;
    let start = inputs.first().map_or(Timestamp(0), |r| r.at);
    let last = inputs.last().map_or(Timestamp(0), |r| r.at);
    let mut driver = pipeline(
        &state.path,
        options.partitions,
        start,
        options.routing.clone(),
        options.ingress.clone(),
    )?;
    let mut inputs = inputs.into_iter().peekable();
    let mut steps_after_last = 0;
    loop {
        let next_timer = driver.next_due();
        let next_input = inputs.peek().map(|r| r.at);
        let now = match (next_input, next_timer) {
            (Some(at), timer) if timer.is_none_or(|due| at < due) => {
                let record = inputs.next().expect("peeked");
                driver.pipe(record.into());
                at
            }
            (_, Some(due)) if next_input.is_some() || due <= last + options.run_after => {
                if next_input.is_none() {
                    steps_after_last += 1;
                    if steps_after_last > options.max_steps {
                        tracing::warn!(
                            next = %due.to_rfc3339(),
                            "stopped after --max-steps {} timer steps past the last input with timers still due (an offer nobody answers is made again every offer timeout)",
                            options.max_steps
                        );
                        break;
                    }
                }
                due
            }
            _ => break,
        };
        let records = driver.step(now)?;
        on_step(driver.now(), records)?;
    }
    driver.commit()?;
    Ok(())
}

impl From<ScenarioRecord> for Message {
    /// The driver's record of an input line.
    fn from(record: ScenarioRecord) -> Message {
        Message {
            topic: format!("{PREFIX}{}", record.topic),
            key: record.key.map(String::into_bytes),
            value: record.value,
            headers: (record.headers.into_iter())
                .map(|(name, value)| (name, value.into_bytes()))
                .collect(),
            timestamp: record.at,
        }
    }
}
