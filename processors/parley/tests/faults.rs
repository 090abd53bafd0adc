//! Faults on a three-node Apache Kafka cluster (replication factor 3, `min.insync.replicas`
//! 2) under the whole pipeline, every role a process of its own in parley's default
//! `exactly_once`: the broker leading the input partitions killed, a frozen tickets instance
//! replaced and then woken (a zombie), every broker down for 30 s, a rolling restart.
//!
//! Each test plays the conversations script of `parley_testkit::pipeline` and disturbs the
//! cluster or the processes part way through the webhooks, while the pipeline is still
//! working on the earlier ones. Every status change and ticket-metrics record BI then reads
//! with `read_committed` must equal an undisturbed run's, every field and record timestamp,
//! with no record read twice.
//!
//! The tests run one at a time (each takes [`serial`]): three brokers and the pipeline
//! already fill two cores. The undisturbed reference runs once per binary, on one node.

use parley_core::*;
use parley_runtime::Guarantee;
use parley_testkit::pipeline::{
    assert_script_outputs, conversations, read_until, script_base, Pipeline, Run, WAIT,
};
use parley_testkit::Kafka;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// Conversations per run: four per channel, enough for every fault to land while earlier
/// webhooks are still being processed.
const CONVERSATIONS: usize = 12;

const STATUSES: &str = "parley.ticket-status-changes";

/// The roles every test starts, one instance each.
const ROLES: [&str; 3] = ["ingress", "router", "tickets"];

/// One test at a time in this binary, even after one of them failed.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The script's inputs start here in every run of this test binary.
fn base() -> Timestamp {
    static BASE: OnceLock<Timestamp> = OnceLock::new();
    *BASE.get_or_init(script_base)
}

/// The reference: the script through an undisturbed pipeline on a broker of its own,
/// computed once for the tests that compare with it.
fn undisturbed() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let broker =
            Kafka::single("faults-undisturbed").expect("Apache Kafka for the reference run");
        let mut pipeline = Pipeline::new(
            env!("CARGO_BIN_EXE_parley"),
            &broker.bootstrap_servers(),
            Guarantee::ExactlyOnce,
            "faults-undisturbed",
        );
        pipeline.start_all();
        let run = conversations(&mut pipeline, CONVERSATIONS, base(), |_, _| {});
        assert_script_outputs(&run, CONVERSATIONS, base());
        assert_eq!((run.duplicate_changes, run.duplicate_metrics), (0, 0));
        run
    })
}

/// A three-node cluster with every topic replicated three times and every role started, or
/// `None` when Kafka cannot start outside CI.
fn cluster(test: &str) -> Option<(Kafka, Pipeline)> {
    let kafka = Kafka::cluster(test)?;
    let mut pipeline = Pipeline::replicated(
        env!("CARGO_BIN_EXE_parley"),
        &kafka.bootstrap_servers(),
        Guarantee::ExactlyOnce,
        test,
        3,
    );
    pipeline.start_all();
    Some((kafka, pipeline))
}

/// Waits until at least `count` tickets exist (their New status change is committed).
fn tickets_made(pipeline: &Pipeline, count: usize) {
    let made = read_until::<StatusChange>(pipeline.brokers(), STATUSES, |changes| {
        changes.iter().filter(|c| c.to == Status::New).count() >= count
    });
    assert!(
        made.iter().filter(|c| c.to == Status::New).count() >= count,
        "{count} tickets made before the fault"
    );
}

/// Whether `condition` holds before `timeout` runs out, checked every 200 ms.
fn until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Asserts that none of `names` has exited.
fn still_running(pipeline: &mut Pipeline, names: &[&str]) {
    for name in names {
        assert_eq!(
            pipeline.exited(name),
            None,
            "{name} is still running; its log:\n{}",
            pipeline.log(name)
        );
    }
}

/// Prints how often each of `names` started its host again in its process, how many times
/// it lost its partitions, and why.
fn report(pipeline: &Pipeline, names: &[&str]) {
    for name in names {
        eprintln!(
            "{name}: host restarts {}, partitions lost {}{}",
            counter(pipeline, name, "parley_host_restarts_total"),
            counter(pipeline, name, "parley_rebalances_total{kind=\"lost\"}"),
            failures(&pipeline.log(name))
        );
    }
}

/// The lines of a log that say why a host started again or stopped.
fn failures(log: &str) -> String {
    log.lines()
        .filter(|line| {
            ["host failed", "fenced", "role stopped", "partitions lost"]
                .iter()
                .any(|said| line.contains(said))
        })
        .map(|line| format!("\n  {line}"))
        .collect()
}

/// The partitions the instance `name` says it owns (from a `/state` miss), if it answers.
fn owned(pipeline: &Pipeline, name: &str) -> Option<Vec<i64>> {
    let (_, body) = pipeline.http_get(name, "/state/no-such-key")?;
    let body: serde_json::Value = serde_json::from_str(&body).ok()?;
    body["owned_partitions"]
        .as_array()?
        .iter()
        .map(serde_json::Value::as_i64)
        .collect()
}

/// A counter of the instance `name`'s `/metrics` (0 when absent or unanswered).
fn counter(pipeline: &Pipeline, name: &str, series: &str) -> f64 {
    pipeline
        .http_get(name, "/metrics")
        .and_then(|(_, body)| {
            body.lines()
                .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        })
        .unwrap_or(0.0)
}

#[test]
fn the_broker_leading_the_input_partitions_killed_mid_stream_loses_nothing() {
    let _serial = serial();
    let Some((mut kafka, mut pipeline)) = cluster("faults-leader-killed") else {
        return;
    };
    let mut killed = None;
    let run = conversations(&mut pipeline, CONVERSATIONS, base(), |pipeline, n| {
        if n == CONVERSATIONS / 2 {
            tickets_made(pipeline, 3);
            let leader = kafka.leader_of("parley.conversation-events", 0);
            eprintln!(
                "killing node {}, leader of conversation-events/0",
                leader + 1
            );
            kafka.kill(leader);
            killed = Some(leader);
        }
        if n == CONVERSATIONS - 2 {
            // Back for the last webhooks, the accepts and the solves.
            kafka.restart(killed.expect("killed at the half"));
        }
    });
    run.assert_same_as(undisturbed(), true);
    still_running(&mut pipeline, &ROLES);
    report(&pipeline, &ROLES);
}

#[test]
fn a_frozen_tickets_instance_replaced_then_woken_is_fenced_and_duplicates_nothing() {
    let _serial = serial();
    let Some((_kafka, mut pipeline)) = cluster("faults-zombie") else {
        return;
    };
    let lost = "parley_rebalances_total{kind=\"lost\"}";
    let run = conversations(&mut pipeline, CONVERSATIONS, base(), |pipeline, n| {
        if n == CONVERSATIONS / 3 {
            tickets_made(pipeline, 2);
        }
        if n == CONVERSATIONS / 3 + 1 {
            // Frozen while it handles the webhook just sent, its batch likely open.
            pipeline.instance("tickets").signal(libc::SIGSTOP);
            pipeline.start("tickets-2", "tickets");
            assert!(
                until(WAIT, || owned(pipeline, "tickets-2") == Some(vec![0, 1])),
                "tickets-2 takes both partitions of the frozen instance: owns {:?}; its log:\n{}",
                owned(pipeline, "tickets-2"),
                pipeline.log("tickets-2")
            );
        }
        if n == 2 * CONVERSATIONS / 3 {
            pipeline.instance("tickets").signal(libc::SIGCONT);
            // Fenced: it stops with an error, or it learns that the group moved on and
            // rejoins, where the range assignor gives it one of the two partitions.
            let settled = until(WAIT, || {
                pipeline.exited("tickets").is_some()
                    || ((counter(pipeline, "tickets", lost) >= 1.0
                        || counter(pipeline, "tickets", "parley_host_restarts_total") >= 1.0)
                        && owned(pipeline, "tickets").is_some_and(|p| p.len() == 1))
            });
            assert!(
                settled,
                "the woken instance neither stopped nor rejoined; its log:\n{}",
                pipeline.log("tickets")
            );
        }
    });
    run.assert_same_as(undisturbed(), true);
    let log = pipeline.log("tickets");
    match pipeline.exited("tickets") {
        Some(status) => {
            assert!(!status.success(), "the zombie stops with an error: {log}");
            assert!(
                log.contains("fenced"),
                "the zombie's error names fencing: {log}"
            );
            eprintln!("the zombie stopped ({status}):{}", failures(&log));
        }
        None => {
            assert!(
                log.contains("fenced") || log.contains("partitions lost"),
                "the zombie learnt that the group moved on: {log}"
            );
            eprintln!("the zombie rejoined:{}", failures(&log));
        }
    }
    still_running(&mut pipeline, &["ingress", "router", "tickets-2"]);
    report(&pipeline, &["ingress", "router", "tickets", "tickets-2"]);
}

#[test]
fn every_broker_down_for_30_s_leaves_parley_up_not_ready_and_then_recovered() {
    let _serial = serial();
    let Some((mut kafka, mut pipeline)) = cluster("faults-all-down") else {
        return;
    };
    let run = conversations(&mut pipeline, CONVERSATIONS, base(), |pipeline, n| {
        if n == CONVERSATIONS / 2 {
            tickets_made(pipeline, 3);
            kafka.stop_all();
            let stopped = Instant::now();
            let mut not_ready = std::collections::BTreeMap::new();
            while stopped.elapsed() < Duration::from_secs(30) {
                for name in ROLES {
                    if let Some((503, body)) = pipeline.http_get(name, "/readyz") {
                        not_ready.entry(name).or_insert((stopped.elapsed(), body));
                    }
                }
                std::thread::sleep(Duration::from_millis(250));
            }
            eprintln!("brokers down 30 s; not ready: {not_ready:?}");
            still_running(pipeline, &ROLES);
            for name in ROLES {
                assert!(
                    not_ready.contains_key(name),
                    "/readyz of {name} answers 503 while no broker is reachable"
                );
            }
            kafka.restart_all();
            assert!(
                until(WAIT, || ROLES.iter().all(|name| pipeline.ready(name))),
                "every role ready again once the brokers are back: {:?}",
                ROLES.map(|name| pipeline.http_get(name, "/readyz"))
            );
            still_running(pipeline, &ROLES);
        }
    });
    run.assert_same_as(undisturbed(), true);
    still_running(&mut pipeline, &ROLES);
    report(&pipeline, &ROLES);
}

#[test]
fn a_rolling_restart_of_the_three_brokers_loses_nothing() {
    let _serial = serial();
    let Some((mut kafka, mut pipeline)) = cluster("faults-rolling") else {
        return;
    };
    // Node i stops before webhook 3i + 2 and is back, every partition in sync again, before
    // webhook 3i + 3: one webhook is produced while it is down.
    let run = conversations(&mut pipeline, CONVERSATIONS, base(), |_, n| {
        if n % 3 == 2 && n / 3 < 3 {
            kafka.stop(n / 3);
        }
        if n % 3 == 0 && (1..=3).contains(&(n / 3)) {
            kafka.restart(n / 3 - 1);
            kafka.wait_in_sync(WAIT);
        }
    });
    run.assert_same_as(undisturbed(), true);
    still_running(&mut pipeline, &ROLES);
    report(&pipeline, &ROLES);
}
