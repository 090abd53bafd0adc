//! `parley demo`'s flags and its run: the embedded pipeline started, the world driven
//! through the traffic on a blocking thread, the summary printed.

use super::script::Timeline;
use super::summary::summarise;
use super::view::LiveView;
use super::world::World;
use crate::embedded::{Embedded, EmbeddedOptions, Observed, StateDir};
use crate::options::parse_duration;
use anyhow::anyhow;
use parley_core::routing::RoutingConfig;
use parley_core::*;
use parley_runtime::clock::ScaledClock;
use parley_runtime::{Clock, SystemClock};
use rdkafka::producer::Producer;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The flags of `parley demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Customers (end users) who write in over the run; some come back.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    customers: u32,
    /// Agents, spread over the three demo accounts (at least one each).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(3..=1_000))]
    agents: u32,
    /// How long the demo runs by the wall clock, from 5s to 1h (e.g. 60s, 2m).
    #[arg(long, default_value = "60s", value_parser = parse_run_duration, value_name = "DURATION")]
    duration: Millis,
    /// How many times faster than the wall clock simulated time runs.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=600))]
    speed: u32,
    /// Seed of the traffic's random choices: the same seed plans the same customers.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Partitions of every topic.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(i32).range(1..=64))]
    partitions: i32,
}

/// A run's wall-clock length: a duration between 5 seconds and an hour.
fn parse_run_duration(text: &str) -> Result<Millis, String> {
    let duration = parse_duration(text)?;
    if duration < Millis::seconds(5) || duration > Millis::hours(1) {
        return Err("must be between 5s and 1h".to_owned());
    }
    Ok(duration)
}

/// Runs `parley demo`.
pub(crate) async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let timeline = Timeline::new(args.duration, args.speed);
    let state = StateDir::create("demo")?;
    let clock = ScaledClock::new(SystemClock.now(), args.speed);
    let mut options = EmbeddedOptions::new(state.path.clone(), Arc::new(clock));
    options.partitions = args.partitions;
    options.routing = RoutingConfig {
        auto_accept: vec![Channel::Web],
        offer_timeout_ms: timeline.offer_timeout,
        returning_grace_ms: timeline.returning_grace,
        ..RoutingConfig::default()
    };
    eprintln!(
        "starting the mock cluster and every role ({} partitions)...",
        args.partitions
    );
    let embedded = Embedded::start(options).await?;
    let result = drive(&embedded, &args, clock, timeline).await;
    let stopped = embedded.stop().await;
    drop(state);
    let summary = result?;
    stopped?;
    println!("{summary}");
    Ok(())
}

/// Configures the accounts, brings the agents online, runs the traffic and returns the
/// closing summary.
async fn drive(
    embedded: &Embedded,
    args: &DemoArgs,
    clock: ScaledClock,
    timeline: Timeline,
) -> anyhow::Result<String> {
    let brokers = embedded.brokers().to_owned();
    let observed = embedded.observed().clone();
    let (customers, agents, seed, partitions, duration) = (
        args.customers,
        args.agents,
        args.seed,
        args.partitions,
        args.duration,
    );
    let abort = Arc::new(AtomicBool::new(false));
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let interrupted = interrupted.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                interrupted.store(true, Ordering::SeqCst);
            }
        });
    }
    let world = {
        let (abort, interrupted) = (abort.clone(), interrupted.clone());
        tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
            let mut world = World::new(
                &brokers, clock, timeline, partitions, customers, agents, seed,
            )?;
            world.configure(&observed)?;
            world.run(
                &observed,
                Duration::from_millis(duration.0 as u64),
                &abort,
                &interrupted,
            )?;
            Ok(summarise(&world))
        })
    };
    tokio::pin!(world);
    loop {
        tokio::select! {
            result = &mut world => {
                return result.map_err(|e| anyhow!("the demo's driver failed: {e}"))?;
            }
            _ = tokio::time::sleep(Duration::from_millis(200)) => {
                if embedded.has_stopped() {
                    abort.store(true, Ordering::SeqCst);
                }
            }
        }
    }
}

impl World {
    /// Runs the traffic for `duration` of wall-clock time, then waits for the pipeline to
    /// settle.
    fn run(
        &mut self,
        observed: &Observed,
        duration: Duration,
        abort: &AtomicBool,
        interrupted: &AtomicBool,
    ) -> anyhow::Result<()> {
        let started = Instant::now();
        let mut view = LiveView::new(std::io::stdout().is_terminal());
        while started.elapsed() < duration && !interrupted.load(Ordering::SeqCst) {
            if abort.load(Ordering::SeqCst) {
                return Err(anyhow!("a role of the embedded pipeline stopped"));
            }
            self.read_outputs()?;
            let now = self.now();
            while let Some(entry) = self.schedule.first_entry() {
                if entry.key().0 > now.0 {
                    break;
                }
                let event = entry.remove();
                self.handle(event, now)?;
            }
            view.tick(self, observed, started.elapsed(), duration, false);
            std::thread::sleep(Duration::from_millis(10));
        }
        // Settle: read until the outputs have been quiet for a while.
        self.producer.flush(Duration::from_secs(10))?;
        let settle = Instant::now();
        let mut quiet_since = Instant::now();
        while settle.elapsed() < Duration::from_secs(20)
            && quiet_since.elapsed() < Duration::from_millis(1_500)
        {
            if abort.load(Ordering::SeqCst) {
                return Err(anyhow!("a role of the embedded pipeline stopped"));
            }
            let before = self.read.records;
            self.read_outputs()?;
            if self.read.records != before
                || observed.tickets.has_open_batch()
                || observed.router.has_open_batch()
            {
                quiet_since = Instant::now();
            }
            view.tick(self, observed, started.elapsed(), duration, false);
            std::thread::sleep(Duration::from_millis(20));
        }
        view.tick(self, observed, started.elapsed(), duration, true);
        Ok(())
    }
}
