//! `parley demo` through the real binary: a short run closes tickets in every style, shows
//! their SLA achievement and sends nothing to the DLQ; refused flag values name the flag,
//! the value and the rule.

use std::process::{Command, Output};

fn parley_demo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parley"))
        .arg("demo")
        .args(args)
        .env_remove("PARLEY_CONFIG")
        .env("RUST_LOG", "warn,librdkafka=error")
        .output()
        .expect("parley runs")
}

/// The summary's row for `style`: created, solved, closed, reopens, follow-ups, one-touch.
fn style_row(summary: &str, style: &str) -> Vec<u64> {
    let line = summary
        .lines()
        .find(|line| line.split_whitespace().next() == Some(style))
        .unwrap_or_else(|| panic!("no {style} row in\n{summary}"));
    line.split_whitespace()
        .skip(1)
        .take(6)
        .map(|n| n.parse().unwrap_or_else(|_| panic!("{line}")))
        .collect()
}

/// The SLA table's row for `style`: per metric, clocks achieved and breached, or `None`
/// for a metric without clocks (`-`).
fn sla_row(summary: &str, style: &str) -> Vec<Option<(u64, u64)>> {
    let mut lines = summary
        .lines()
        .skip_while(|line| line.split_whitespace().next() != Some("sla"));
    assert!(lines.next().is_some(), "no SLA table in\n{summary}");
    let line = lines
        .find(|line| line.split_whitespace().next() == Some(style))
        .unwrap_or_else(|| panic!("no {style} row in the SLA table of\n{summary}"));
    let mut cells = Vec::new();
    let mut words = line.split_whitespace().skip(1);
    while let Some(word) = words.next() {
        if word == "-" {
            cells.push(None);
            continue;
        }
        let (achieved, breached) = word.split_once('/').unwrap_or_else(|| panic!("{line}"));
        let percent = words.next().unwrap_or_else(|| panic!("{line}"));
        let (achieved, breached): (u64, u64) =
            (achieved.parse().unwrap(), breached.parse().unwrap());
        assert_eq!(
            percent,
            format!("{}%", achieved * 100 / (achieved + breached)),
            "{line}"
        );
        cells.push(Some((achieved, breached)));
    }
    assert_eq!(cells.len(), 6, "one cell per metric: {line}");
    cells
}

#[test]
fn a_short_demo_closes_tickets_in_every_style_and_sends_nothing_to_the_dlq() {
    let output = parley_demo(&[
        "--duration",
        "10s",
        "--speed",
        "180",
        "--customers",
        "60",
        "--agents",
        "6",
        "--seed",
        "7",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    // Not a terminal: the live view is plain periodic lines.
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with('[') && l.contains("records/s")),
        "{stdout}"
    );
    for style in ["live_chat", "live_chat_returning", "social_messaging"] {
        let row = style_row(&stdout, style);
        let (created, solved, closed) = (row[0], row[1], row[2]);
        assert!(created > 0, "{style}: no ticket created\n{stdout}");
        assert!(solved > 0, "{style}: no ticket solved\n{stdout}");
        assert!(closed > 0, "{style}: no ticket closed\n{stdout}");
        assert!(closed <= solved && solved <= created, "{style}: {row:?}");
        // Every solved ticket had one first-reply and one resolution clock under the policy.
        let sla = sla_row(&stdout, style);
        for (metric, cell) in [(0, "first reply"), (5, "resolution")] {
            let (achieved, breached) =
                sla[metric].unwrap_or_else(|| panic!("{style}: no {cell} clocks\n{stdout}"));
            assert_eq!(achieved + breached, solved, "{style} {cell}: {sla:?}");
        }
    }
    assert!(
        stdout.lines().any(|l| l == "dlq records: 0"),
        "records went to the DLQ:\n{stdout}\n{stderr}"
    );
    let agents = stdout
        .lines()
        .find(|l| l.starts_with("agents: offers"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(!agents.contains(" 0 assignments"), "{agents}");
}

#[test]
fn bad_flag_values_exit_2_naming_the_flag_the_value_and_the_rule() {
    for (args, flag, value, rule) in [
        (&["--customers", "0"][..], "--customers", "0", "1..=100000"),
        (&["--agents", "2"][..], "--agents", "2", "3..=1000"),
        (&["--speed", "0"][..], "--speed", "0", "1..=600"),
        (&["--speed", "fast"][..], "--speed", "fast", "invalid digit"),
        (&["--partitions", "0"][..], "--partitions", "0", "1..=64"),
        (
            &["--duration", "2s"][..],
            "--duration",
            "2s",
            "between 5s and 1h",
        ),
        (
            &["--duration", "ten"][..],
            "--duration",
            "ten",
            "ms, s, m, h or d",
        ),
    ] {
        let output = parley_demo(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        for part in [flag, value, rule] {
            assert!(stderr.contains(part), "{args:?}: {part:?} not in {stderr}");
        }
    }
}
