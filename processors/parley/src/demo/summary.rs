//! The closing summary of a demo run.

use super::script::{ACCOUNTS, SLA_POLICY, SLA_SCHEDULE};
use super::view::clock_span;
use super::world::World;
use parley_core::sla::{SlaMetric, SlaMetricOutcome};
use parley_core::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The `p`th percentile (nearest rank) of `values`, sorted in place.
fn percentile(values: &mut [i64], p: u32) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = (values.len() * p as usize).div_ceil(100).max(1);
    Some(values[rank - 1])
}

fn span_or_dash(ms: Option<i64>) -> String {
    ms.map_or_else(|| "-".to_owned(), clock_span)
}

/// A ticket's outcome on one SLA metric.
fn outcome(metrics: &TicketMetrics, metric: SlaMetric) -> Option<&SlaMetricOutcome> {
    match metric {
        SlaMetric::FirstReplyTime => metrics.sla_first_reply_time.as_ref(),
        SlaMetric::NextReplyTime => metrics.sla_next_reply_time.as_ref(),
        SlaMetric::PeriodicUpdate => metrics.sla_periodic_update.as_ref(),
        SlaMetric::RequesterWaitTime => metrics.sla_requester_wait_time.as_ref(),
        SlaMetric::AgentWorkTime => metrics.sla_agent_work_time.as_ref(),
        SlaMetric::TotalResolutionTime => metrics.sla_total_resolution_time.as_ref(),
    }
}

/// SLA achievement per style: for each metric, the clocks of the solved tickets (each
/// ticket's latest metrics) achieved and breached, and the share achieved.
fn sla_table(out: &mut String, latest: &BTreeMap<&str, &TicketMetrics>) {
    const COLUMNS: [(SlaMetric, &str); 6] = [
        (SlaMetric::FirstReplyTime, "first reply"),
        (SlaMetric::NextReplyTime, "next reply"),
        (SlaMetric::PeriodicUpdate, "update"),
        (SlaMetric::RequesterWaitTime, "requester wait"),
        (SlaMetric::AgentWorkTime, "agent work"),
        (SlaMetric::TotalResolutionTime, "resolution"),
    ];
    let _ = writeln!(
        out,
        "
SLA clocks achieved/breached (achieved %), policy {SLA_POLICY}: replies and updates in the business hours of {SLA_SCHEDULE}, resolutions in calendar hours"
    );
    let _ = write!(out, "{:<20}", "sla");
    for (_, label) in COLUMNS {
        let _ = write!(out, " {label:>15}");
    }
    let _ = writeln!(out);
    for style in [
        Style::LiveChat,
        Style::LiveChatReturning,
        Style::SocialMessaging,
    ] {
        let _ = write!(out, "{:<20}", style.as_str());
        for (metric, _) in COLUMNS {
            let (achieved, breached) = latest
                .values()
                .filter(|m| m.style == style)
                .filter_map(|m| outcome(m, metric))
                .fold((0u64, 0u64), |(a, b), o| {
                    (a + u64::from(o.achieved), b + u64::from(o.breached))
                });
            let cell = match (achieved * 100).checked_div(achieved + breached) {
                Some(percent) => format!("{achieved}/{breached} {percent}%"),
                None => "-".to_owned(),
            };
            let _ = write!(out, " {cell:>15}");
        }
        let _ = writeln!(out);
    }
}

/// The closing summary, from the metrics topics, the status changes and the DLQ.
pub(super) fn summarise(world: &World) -> String {
    let read = &world.read;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nsummary: {} simulated ({} customers, {} agents, seed {}); read back from ticket-status-changes, ticket-metrics, agent-metrics and dlq",
        clock_span(world.now().since(world.t0).0),
        world.customers.len(),
        world.agents.len(),
        world.seed
    );
    for plan in &ACCOUNTS {
        let channels: Vec<&str> = plan.channels.iter().map(|c| c.as_str()).collect();
        let gap = world
            .timeline
            .gap(plan.style)
            .map_or("closes on solve".to_owned(), |g| {
                format!("solved-to-closed {}", clock_span(g.0))
            });
        let _ = writeln!(
            out,
            "  account {:<9} {:<20} {} on {}",
            plan.account,
            plan.style.as_str(),
            gap,
            channels.join(", ")
        );
    }
    // Created tickets and follow-ups, from the status changes.
    let mut created: BTreeMap<Style, (u64, u64)> = BTreeMap::new();
    for change in &read.status_changes {
        if change.from.is_none() {
            let entry = created.entry(change.style).or_default();
            entry.0 += 1;
            entry.1 += u64::from(change.predecessor_ticket_id.is_some());
        }
    }
    // Each ticket's latest metrics: a Closed emission wins over a Solved one.
    let mut latest: BTreeMap<&str, &TicketMetrics> = BTreeMap::new();
    for metrics in &read.ticket_metrics {
        let newer = latest.get(&*metrics.ticket_id).is_none_or(|seen| {
            (metrics.status == Status::Closed, metrics.at)
                >= (seen.status == Status::Closed, seen.at)
        });
        if newer {
            latest.insert(&metrics.ticket_id, metrics);
        }
    }
    let _ = writeln!(
        out,
        "\n{:<20} {:>7} {:>7} {:>7} {:>7} {:>10} {:>9}  {:>17}  {:>17}  {:>17}",
        "style",
        "created",
        "solved",
        "closed",
        "reopens",
        "follow-ups",
        "one-touch",
        "first reply p50/90",
        "resolution p50/90",
        "in queue p50/90"
    );
    for style in [
        Style::LiveChat,
        Style::LiveChatReturning,
        Style::SocialMessaging,
    ] {
        let of_style: Vec<&&TicketMetrics> = latest.values().filter(|m| m.style == style).collect();
        let closed = of_style
            .iter()
            .filter(|m| m.status == Status::Closed)
            .count();
        let reopens: u32 = of_style.iter().map(|m| m.reopens).sum();
        let one_touch = of_style.iter().filter(|m| m.one_touch).count();
        let mut first_reply: Vec<i64> = of_style
            .iter()
            .filter_map(|m| m.first_reply_time_ms.map(|t| t.0))
            .collect();
        let mut resolution: Vec<i64> = of_style
            .iter()
            .filter_map(|m| m.full_resolution_time_ms.map(|t| t.0))
            .collect();
        let mut queue: Vec<i64> = of_style
            .iter()
            .filter_map(|m| m.time_in_queue_ms.map(|t| t.0))
            .collect();
        let pair = |values: &mut Vec<i64>| {
            format!(
                "{}/{}",
                span_or_dash(percentile(values, 50)),
                span_or_dash(percentile(values, 90))
            )
        };
        let (made, follow_ups) = created.get(&style).copied().unwrap_or_default();
        let _ = writeln!(
            out,
            "{:<20} {:>7} {:>7} {:>7} {:>7} {:>10} {:>9}  {:>17}  {:>17}  {:>17}",
            style.as_str(),
            made,
            of_style.len(),
            closed,
            reopens,
            follow_ups,
            one_touch,
            pair(&mut first_reply),
            pair(&mut resolution),
            pair(&mut queue)
        );
    }
    sla_table(&mut out, &latest);
    let counts = world.status_counts();
    let open: Vec<String> = [
        Status::New,
        Status::Open,
        Status::Pending,
        Status::OnHold,
        Status::Solved,
    ]
    .iter()
    .filter_map(|s| counts.get(s).map(|n| format!("{n} {s}")))
    .collect();
    let _ = writeln!(
        out,
        "not closed at the end: {}",
        if open.is_empty() {
            "none".to_owned()
        } else {
            open.join(", ")
        }
    );

    // Agents: totals from each agent and channel's latest figures, and utilisation
    // weighted by time online, from the sequence of emissions.
    let mut latest_agent: BTreeMap<(&str, Channel), &AgentMetrics> = BTreeMap::new();
    let mut series: BTreeMap<(&str, Channel), Vec<&AgentMetrics>> = BTreeMap::new();
    for metrics in &read.agent_metrics {
        latest_agent.insert((&metrics.agent_id, metrics.channel), metrics);
        series
            .entry((&metrics.agent_id, metrics.channel))
            .or_default()
            .push(metrics);
    }
    let total = |f: fn(&AgentMetrics) -> u64| latest_agent.values().map(|m| f(m)).sum::<u64>();
    let end = world.now();
    let (mut load_time, mut capacity_time) = (0i128, 0i128);
    for emissions in series.values_mut() {
        emissions.sort_by_key(|m| m.at);
        for (i, m) in emissions.iter().enumerate() {
            if m.status != AgentStatus::Online {
                continue;
            }
            let until = emissions.get(i + 1).map_or(end, |next| next.at);
            let dt = i128::from(until.since(m.at).0);
            load_time += i128::from(m.load.min(m.capacity)) * dt;
            capacity_time += i128::from(m.capacity) * dt;
        }
    }
    let utilisation = (load_time * 100).checked_div(capacity_time).unwrap_or(0);
    let _ = writeln!(
        out,
        "\nagents: offers {} made, {} accepted, {} declined, {} timed out; {} assignments; utilisation {}% of capacity while online (time-weighted)",
        total(|m| m.offers_made),
        total(|m| m.offers_accepted),
        total(|m| m.offers_declined),
        total(|m| m.offers_timed_out),
        total(|m| m.assignments),
        utilisation
    );
    let _ = writeln!(
        out,
        "traffic: {} webhooks ({} delivered twice), {} agent actions, {} presence updates",
        world.produced.webhooks,
        world.produced.redeliveries,
        world.produced.actions,
        world.produced.presences
    );
    let reasons: Vec<String> = read
        .dlq_reasons
        .iter()
        .map(|(r, n)| format!("{n} {r}"))
        .collect();
    let _ = write!(
        out,
        "dlq records: {}{}",
        read.dlq(),
        if reasons.is_empty() {
            String::new()
        } else {
            format!(" ({})", reasons.join(", "))
        }
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let mut values = vec![50, 10, 40, 20, 30];
        assert_eq!(percentile(&mut values, 50), Some(30));
        assert_eq!(percentile(&mut values, 90), Some(50));
        assert_eq!(percentile(&mut [], 50), None);
    }
}
