//! The scenario files of `tests/scenarios/` through `parley simulate`.
//!
//! Each `NAME.jsonl` is a simulate input whose comment lines tell the story (a `# args:`
//! line adds flags). `NAME.expected` holds the status changes and routing decisions it must
//! produce, one per line in a compact form:
//!
//! ```text
//! 2026-01-05T09:01:10Z acme/c1 #1 new -> open  routing:ana (accepted) assignee=ana live_chat
//! 2026-01-05T09:01:00Z acme/c1 #1 offered ana (best_match)
//! ```
//!
//! SLA events read `<at> <key> #n sla <metric> <kind> due=<due_at> (<policy> <target> ms
//! business|calendar)`, for scenarios that ask for `--topic sla-events` on their `# args:`
//! line. Ticket metrics, for scenarios that ask for `--topic ticket-metrics`, read as their
//! SLA outcomes, one line per metric: `<at> <key> #n metrics <status> sla <metric>
//! <outcome> <achieved>/<breached> elapsed=<ms> (<policy> <target> ms business|calendar)`,
//! or `... sla none`.
//!
//! Inactivity reminders read `<at> <key> #n reminder <step> [sets <status>]`, for scenarios
//! that ask for `--topic inactivity-reminders`; routing requests `<at> <account> #n request
//! <kind> agent=<agent> priority=<priority> sla_breach_at=<time>`, for those that ask for
//! `--topic routing-requests`.
//!
//! `#n` is the ticket's ordinal in its conversation. DLQ records are rendered with the
//! stage and reason headers: `2026-01-05T09:01:00Z dlq acme ingress malformed_json`.
//! `PARLEY_BLESS=1` rewrites the expected files from the actual outputs; review the diff
//! before committing.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/scenarios")
}

/// `<hash>-<n>` as `#n`.
fn ordinal(ticket: &Value) -> String {
    let id = ticket.as_str().unwrap_or("?");
    format!("#{}", id.rsplit('-').next().unwrap_or(id))
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("-")
}

fn compact(line: &Value) -> String {
    let (at, key, value) = (text(&line["at"]), text(&line["key"]), &line["value"]);
    match text(&line["topic"]) {
        "ticket-status-changes" => {
            let actor = match value["actor_id"].as_str() {
                Some(id) => format!("{}:{id}", text(&value["actor_kind"])),
                None => text(&value["actor_kind"]).to_owned(),
            };
            let follows = match value["predecessor_ticket_id"] {
                Value::Null => String::new(),
                ref id => format!(" follows {}", ordinal(id)),
            };
            format!(
                "{at} {key} {} {} -> {}  {actor} ({}) assignee={} {}{follows}",
                ordinal(&value["ticket_id"]),
                text(&value["from"]),
                text(&value["to"]),
                text(&value["reason"]),
                text(&value["assignee"]),
                text(&value["style"]),
            )
        }
        "routing-decisions" => format!(
            "{at} {key} {} {} {} ({})",
            ordinal(&value["ticket_id"]),
            text(&value["kind"]),
            text(&value["agent_id"]),
            text(&value["reason"]),
        ),
        "sla-events" => {
            let due = match value["due_at"].as_i64() {
                Some(ms) => parley_core::Timestamp(ms).to_rfc3339(),
                None => "-".to_owned(),
            };
            let hours = if value["business_hours"] == true {
                "business"
            } else {
                "calendar"
            };
            format!(
                "{at} {key} {} sla {} {} due={due} ({} {} ms {hours})",
                ordinal(&value["ticket_id"]),
                text(&value["metric"]),
                text(&value["kind"]),
                text(&value["policy_id"]),
                value["target_ms"],
            )
        }
        "routing-requests" => {
            let breach = match value["sla_breach_at"].as_i64() {
                Some(ms) => parley_core::Timestamp(ms).to_rfc3339(),
                None => "-".to_owned(),
            };
            format!(
                "{at} {key} {} request {} agent={} priority={} sla_breach_at={breach}",
                ordinal(&value["ticket_id"]),
                text(&value["kind"]),
                text(&value["agent_id"]),
                value["priority"],
            )
        }
        "inactivity-reminders" => {
            let sets = match value["set_status"].as_str() {
                Some(status) => format!(" sets {status}"),
                None => String::new(),
            };
            format!(
                "{at} {key} {} reminder {}{sets}",
                ordinal(&value["ticket_id"]),
                value["step"],
            )
        }
        "ticket-metrics" => {
            let lines: Vec<String> = [
                "first_reply_time",
                "next_reply_time",
                "periodic_update",
                "requester_wait_time",
                "agent_work_time",
                "total_resolution_time",
            ]
            .iter()
            .filter_map(|metric| {
                let outcome = &value[format!("sla_{metric}")];
                (!outcome.is_null()).then(|| {
                    let hours = if outcome["business_hours"] == true {
                        "business"
                    } else {
                        "calendar"
                    };
                    format!(
                        "{at} {key} {} metrics {} sla {metric} {} {}/{} elapsed={} ({} {} ms {hours})",
                        ordinal(&value["ticket_id"]),
                        text(&value["status"]),
                        text(&outcome["outcome"]),
                        outcome["achieved"],
                        outcome["breached"],
                        outcome["elapsed_ms"],
                        text(&outcome["policy_id"]),
                        outcome["target_ms"],
                    )
                })
            })
            .collect();
            if lines.is_empty() {
                format!(
                    "{at} {key} {} metrics {} sla none",
                    ordinal(&value["ticket_id"]),
                    text(&value["status"]),
                )
            } else {
                lines.join("\n")
            }
        }
        "dlq" => format!(
            "{at} dlq {key} {} {}",
            text(&line["headers"]["parley.dlq.stage"]),
            text(&line["headers"]["parley.dlq.reason"]),
        ),
        other => panic!("unexpected topic {other}"),
    }
}

fn run(name: &str) {
    let input = scenarios().join(format!("{name}.jsonl"));
    let source = std::fs::read_to_string(&input).unwrap();
    let args: Vec<String> = source
        .lines()
        .filter_map(|l| l.strip_prefix("# args:"))
        .flat_map(|a| a.split_whitespace().map(str::to_owned))
        .collect();
    let output = Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["simulate", "--topic", "ticket-status-changes"])
        .args(["--topic", "routing-decisions", "--topic", "dlq", "--input"])
        .arg(&input)
        .args(&args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{name}: parley simulate failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let actual: String = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| compact(&serde_json::from_str(l).unwrap()) + "\n")
        .collect();
    let expected_path = scenarios().join(format!("{name}.expected"));
    if std::env::var_os("PARLEY_BLESS").is_some() {
        std::fs::write(&expected_path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
    if actual != expected {
        let mut report = format!("{name}: outputs differ from {name}.expected\n");
        let (a, e): (Vec<&str>, Vec<&str>) = (actual.lines().collect(), expected.lines().collect());
        for i in 0..a.len().max(e.len()) {
            match (e.get(i), a.get(i)) {
                (Some(x), Some(y)) if x == y => report.push_str(&format!("    {x}\n")),
                (x, y) => {
                    if let Some(x) = x {
                        report.push_str(&format!("  - {x}\n"));
                    }
                    if let Some(y) = y {
                        report.push_str(&format!("  + {y}\n"));
                    }
                }
            }
        }
        panic!("{report}");
    }
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run(stringify!($name));
            }
        )*

        #[test]
        fn every_scenario_file_has_a_test() {
            let listed = [$(stringify!($name)),*];
            for entry in std::fs::read_dir(scenarios()).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "jsonl") {
                    let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
                    assert!(listed.contains(&name.as_str()), "{name}.jsonl has no test");
                    assert!(path.with_extension("expected").exists(), "{name}.expected is missing");
                }
            }
        }
    };
}

scenarios! {
    live_chat,
    live_chat_returning,
    social_messaging,
    routing_eligibility,
    routing_queue_order,
    routing_agent_choice,
    routing_offers,
    routing_auto_accept,
    routing_capacity,
    routing_returning_grace,
    routing_skills_timeout,
    routing_agent_offline,
    routing_messaging_inactivity,
    routing_missed_offers,
    routing_queues,
    routing_per_account_config,
    inactivity_reminders,
    styles_per_brand_and_channel,
    style_change,
    solved_to_closed_limit,
    duplicates,
    raw_webhooks,
    sla_reply_times,
    sla_requester_wait_pending,
    sla_business_hours_weekend_and_holiday,
    sla_business_hours_dst,
    routing_by_sla,
    sla_priority_change,
}
