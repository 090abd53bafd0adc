//! `parley simulate`: timestamped input records through the real processors on a clock that
//! moves only from input to input and timer to timer; every output record written as a JSON
//! line.
//!
//! The processors run on the runtime's synchronous driver
//! ([`parley_runtime::driver::Driver`]), not on Kafka: the stages of `parley run` (the
//! normaliser, the style table, the ticket processor and the router, with their Avro codecs,
//! sled stores and durable timers), records routed between them by topic and partitioned by
//! murmur2 as the producers partition them, no broker.
//!
//! - `input`: the input lines, checked and encoded ([`parse_input`], [`ScenarioRecord`]).
//! - `output`: the output lines ([`OutputRecord`], [`OUTPUT_TOPICS`]).
//! - `pipeline`: which stage reads which topic.
//! - `run`: [`SimulateOptions`], [`run()`], [`simulate`] and [`run_steps`], the step loop.

mod input;
mod output;
mod pipeline;
mod run;

pub use input::{parse_input, ScenarioRecord};
pub use output::{OutputRecord, OUTPUT_TOPICS};
pub use run::{run, run_steps, simulate, SimulateOptions};
