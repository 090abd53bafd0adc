//! The live terminal view of a demo run.

use super::world::World;
use crate::embedded::Observed;
use parley_core::*;
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `ms` as `1h02m03s`, `4m05s` or `17s`.
pub(super) fn clock_span(ms: i64) -> String {
    let s = ms.max(0) / 1_000;
    match (s / 3_600, s % 3_600 / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, s) => format!("{h}h{m:02}m{s:02}s"),
    }
}

/// Sums every sample of the metric `name` in a Prometheus text exposition.
fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .fold(0.0, |sum, value| sum + value)
}

/// The live terminal view: a redrawn block on a terminal, a plain line every five seconds
/// otherwise.
#[derive(Debug)]
pub(super) struct LiveView {
    terminal: bool,
    drawn_lines: usize,
    last: Option<Instant>,
    last_in: f64,
    last_webhooks: u64,
    every: Duration,
}

impl LiveView {
    pub(super) fn new(terminal: bool) -> LiveView {
        LiveView {
            terminal,
            drawn_lines: 0,
            last: None,
            last_in: 0.0,
            last_webhooks: 0,
            every: if terminal {
                Duration::from_secs(1)
            } else {
                Duration::from_secs(5)
            },
        }
    }

    pub(super) fn tick(
        &mut self,
        world: &World,
        observed: &Observed,
        elapsed: Duration,
        total: Duration,
        last: bool,
    ) {
        let since = self.last.map(|t| t.elapsed());
        if !last && since.is_some_and(|s| s < self.every) {
            return;
        }
        let seconds = since.map_or(1.0, |s| s.as_secs_f64().max(0.001));
        self.last = Some(Instant::now());
        let rendered = |m: &std::sync::OnceLock<Arc<parley_runtime::Metrics>>| {
            m.get().map(|m| m.render()).unwrap_or_default()
        };
        let (tickets_text, router_text) = (
            rendered(&observed.tickets_metrics),
            rendered(&observed.router_metrics),
        );
        let records_in = metric_sum(&tickets_text, "parley_records_in_total")
            + metric_sum(&router_text, "parley_records_in_total");
        let rate = (records_in - self.last_in) / seconds;
        let webhooks_rate = (world.produced.webhooks - self.last_webhooks) as f64 / seconds;
        self.last_in = records_in;
        self.last_webhooks = world.produced.webhooks;
        let timers = (
            metric_sum(&tickets_text, "parley_timers_pending"),
            metric_sum(&router_text, "parley_timers_pending"),
        );
        let counts = world.status_counts();
        let count = |s: Status| counts.get(&s).copied().unwrap_or(0);
        let (load, capacity) = world.utilisation();
        let online = world.agents.iter().filter(|a| a.online).count();
        let simulated = world.now().since(world.t0).0;
        let lines = [
            format!(
                "parley demo  simulated {} of {} (x{})  wall {:.0}s of {}s",
                clock_span(simulated),
                clock_span(world.timeline.span),
                world.clock.speed(),
                elapsed.as_secs_f64().min(total.as_secs_f64()),
                total.as_secs()
            ),
            format!(
                "tickets    new {}  open {}  pending {}  on-hold {}  solved {}  closed {}  (total {})",
                count(Status::New),
                count(Status::Open),
                count(Status::Pending),
                count(Status::OnHold),
                count(Status::Solved),
                count(Status::Closed),
                world.tickets.len()
            ),
            format!(
                "throughput pipeline {rate:.1} records/s  webhooks {webhooks_rate:.1}/s  (sent {} webhooks, {} agent actions, {} presence updates)",
                world.produced.webhooks, world.produced.actions, world.produced.presences
            ),
            format!(
                "routing    queue {}  offers open {}  agents online {}/{}  utilisation {}% (load {load} of capacity {capacity})",
                world.queue_length(),
                world.offers.len(),
                online,
                world.agents.len(),
                (load * 100).checked_div(capacity).unwrap_or(0),
            ),
            format!(
                "timers     pending: tickets {:.0} (solved-to-closed)  router {:.0} (offers, grace)",
                timers.0, timers.1
            ),
            format!("dlq        {} records", world.read.dlq()),
        ];
        let mut out = std::io::stdout().lock();
        if self.terminal {
            if self.drawn_lines > 0 {
                let _ = write!(out, "\x1b[{}A\x1b[J", self.drawn_lines);
            }
            for line in &lines {
                let _ = writeln!(out, "{line}");
            }
            self.drawn_lines = lines.len();
        } else {
            let _ = writeln!(
                out,
                "[{}] {} | {rate:.1} records/s | {} | {} | dlq {}",
                clock_span(simulated),
                lines[1].trim_start_matches("tickets").trim(),
                lines[3].trim_start_matches("routing").trim(),
                lines[4].trim_start_matches("timers").trim(),
                world.read.dlq()
            );
        }
        let _ = out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_sums_add_every_labelled_sample() {
        let text = "# HELP x\nparley_records_in_total{topic=\"a\"} 3\nparley_records_in_total{topic=\"b\"} 4\nparley_timers_pending 5\nparley_timers_pending_other 9\n";
        assert_eq!(metric_sum(text, "parley_records_in_total"), 7.0);
        assert_eq!(metric_sum(text, "parley_timers_pending"), 5.0);
    }
}
