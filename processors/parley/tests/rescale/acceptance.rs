//! The acceptance test: 6 to 12 partitions under 1,000 conversations of two accounts in
//! every status, compared whole with an undisturbed run of the same inputs.

use super::*;

/// The accounts of the acceptance test, each with its one agent, and the first of its
/// conversations (`conversation_of(n)` for n in `first..first + PER_ACCOUNT`).
const ACCOUNTS: [(&str, &str, usize); 2] = [("acme", "ana", 0), ("globex", "gil", PER_ACCOUNT)];
/// Conversations per account.
const PER_ACCOUNT: usize = 500;
/// Each agent's WhatsApp capacity: the first this many WhatsApp tickets of an account are
/// assigned at once (WhatsApp auto-accepts), the others queue.
const WHATSAPP_CAPACITY: u32 = 60;
/// Telegram's solve-to-close gap in the acceptance test: long enough for the stop, the
/// rescale and the start to happen before the timers are due.
const TELEGRAM_CLOSE: Millis = Millis(45_000);

/// Where the acceptance test takes conversation `n` before the rescale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Planned {
    /// WhatsApp, assigned on arrival: Open.
    Assigned,
    /// WhatsApp, after the agent's capacity is full: New and queued.
    Queued,
    /// Offered to the agent, not answered: New with a pending offer.
    Offered,
    /// Accepted: Open.
    Open,
    /// Accepted, then Pending.
    Pending,
    /// Accepted, then On-hold.
    OnHold,
    /// Accepted, then Solved: on Telegram it closes on its timer after the rescale, on
    /// Messenger (closing after an hour) the customer replies after the rescale.
    Solved,
}

/// Conversation `n`'s account (with its agent) and plan.
fn planned(n: usize) -> ((&'static str, &'static str), Planned) {
    let (account, agent, first) = ACCOUNTS[n / PER_ACCOUNT];
    let rank = (n - first) / 3;
    let plan = match channel_of(n) {
        Channel::Whatsapp if rank < WHATSAPP_CAPACITY as usize => Planned::Assigned,
        Channel::Whatsapp => Planned::Queued,
        _ => match rank % 5 {
            0 => Planned::Offered,
            1 => Planned::Open,
            2 => Planned::Pending,
            3 => Planned::OnHold,
            _ => Planned::Solved,
        },
    };
    ((account, agent), plan)
}

/// Every conversation of the acceptance test.
fn all_conversations() -> std::ops::Range<usize> {
    0..ACCOUNTS.len() * PER_ACCOUNT
}

/// The conversations planned `plan`, on `channel` if given.
fn with_plan(plan: Planned, channel: Option<Channel>) -> Vec<usize> {
    all_conversations()
        .filter(|n| planned(*n).1 == plan && channel.is_none_or(|c| channel_of(*n) == c))
        .collect()
}

/// The times of the acceptance test's phases: taken from the wall clock by the first run,
/// and given again to the second, so that both handle the same inputs at the same times.
#[derive(Debug, Default)]
struct PhaseTimes {
    times: Vec<Timestamp>,
    next: usize,
}

impl PhaseTimes {
    /// The next phase's time: now (after the last one) in the first run, the first run's in
    /// a replay.
    fn next(&mut self) -> Timestamp {
        if self.next == self.times.len() {
            let now = parley_runtime::Clock::now(&parley_runtime::SystemClock);
            let after = self.times.last().map_or(now, |t| *t + Millis(1_000));
            self.times.push(now.max(after));
        }
        self.next += 1;
        self.times[self.next - 1]
    }

    /// The same times again, from the first phase.
    fn replay(&mut self) {
        self.next = 0;
    }
}

/// Conversation `n`'s message (`reply_of` for a second one) at `at`, on its channel and
/// account, [`queue`]d.
fn message(producer: &rdkafka::producer::BaseProducer, n: usize, body: &[u8], at: Timestamp) {
    let topic = format!("parley.raw.{}", channel_of(n).as_str());
    let account = planned(n).0 .0;
    let header = Some(("parley-account", account));
    queue(producer, &topic, &conversation_of(n), body, header, at);
}

/// `parley inspect agent ACCOUNT/AGENT --brokers`, asked until the owner answers: the
/// agent's state.
fn agent_state(brokers: &str, account: &str, agent: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let key = format!("{account}/{agent}");
        let output = parley(brokers, &["inspect", "agent", &key], &[]);
        if output.status.success() {
            let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
            return json["state"].clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "inspect agent {key}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Whether `group` has processed every record of `topic`, a topic written in transactions:
/// on each partition its committed offset leaves at most the last commit marker.
fn caught_up(brokers: &str, group: &str, topic: &str) -> bool {
    let consumer: BaseConsumer = client(brokers).set("group.id", group).create().unwrap();
    let mut partitions = rdkafka::TopicPartitionList::new();
    for partition in 0..parley_testkit::partition_count(brokers, topic) {
        partitions.add_partition(topic, partition);
    }
    let timeout = Duration::from_secs(10);
    let Ok(committed) = consumer.committed_offsets(partitions, timeout) else {
        return false;
    };
    committed.elements().iter().all(|element| {
        let next = match element.offset() {
            rdkafka::Offset::Offset(offset) => offset,
            _ => 0,
        };
        consumer
            .fetch_watermarks(topic, element.partition(), timeout)
            .is_ok_and(|(_, high)| high - next <= 1)
    })
}

/// The router's queue, from its changelog: every queued ticket's state entry.
fn queued(brokers: &str, partitions: i32) -> std::collections::BTreeMap<Vec<u8>, Vec<u8>> {
    changelog_state(brokers, "parley.router-changelog", partitions)
        .into_iter()
        .filter_map(|(key, (_, op))| match op {
            ChangelogOp::State {
                value: Some(value), ..
            } => {
                let record: serde_json::Value = serde_json::from_slice(&value).ok()?;
                (record["state"] == "queued").then_some((key, value))
            }
            _ => None,
        })
        .collect()
}

/// What BI read from a run of the acceptance test: the records of each conversation
/// (`account/conversation`), each with its record timestamp, in one order (by their debug
/// form), so that two runs compare as multisets of records per conversation.
type ByConversation<T> = std::collections::BTreeMap<String, Vec<(T, Option<i64>)>>;

fn by_conversation<T: std::fmt::Debug + Clone>(
    records: &[(T, Option<i64>)],
    key: impl Fn(&T) -> String,
) -> ByConversation<T> {
    let mut by = ByConversation::<T>::new();
    for (record, timestamp) in records {
        by.entry(key(record))
            .or_default()
            .push((record.clone(), *timestamp));
    }
    for records in by.values_mut() {
        records.sort_by_cached_key(|(record, timestamp)| (format!("{record:?}"), *timestamp));
    }
    by
}

/// The outputs of one run of the acceptance test.
#[derive(Debug)]
struct Outputs {
    changes: ByConversation<StatusChange>,
    metrics: ByConversation<TicketMetrics>,
}

/// Plays the acceptance test's inputs on `pipeline` (6 partitions, every role started),
/// phase by phase, each phase at its time from `times`; with `rescale`, the pipeline is
/// stopped after the statuses are set, taken to 12 partitions and started again, and what
/// must survive the rescale is checked. Returns what BI read.
fn acceptance_run(pipeline: &mut Pipeline, times: &mut PhaseTimes, rescale: bool) -> Outputs {
    let brokers = pipeline.brokers().to_owned();
    let brokers = brokers.as_str();
    let producer = producer(brokers);
    let statuses = "parley.ticket-status-changes";
    let count = |c: &[StatusChange], to: Status| c.iter().filter(|c| c.to == to).count();
    let ms = |i: usize| Millis(i as i64);
    let clock = std::time::Instant::now();
    let lap = |what: &str| eprintln!("{:6.1} s: {what}", clock.elapsed().as_secs_f64());
    let flush = || rdkafka::producer::Producer::flush(&producer, Duration::from_secs(60)).unwrap();
    let agent_channels = [
        (Channel::Whatsapp, WHATSAPP_CAPACITY),
        (Channel::Telegram, 1_000),
        (Channel::Messenger, 1_000),
    ];

    // The agents first: every ticket finds its agent online.
    let at = times.next();
    for (account, agent, _) in ACCOUNTS {
        agent_online(brokers, account, agent, &agent_channels, at);
    }
    for (account, agent, _) in ACCOUNTS {
        agent_state(brokers, account, agent);
    }

    // The tickets that find capacity: WhatsApp up to the capacity (assigned at once), every
    // Telegram and Messenger one (offered).
    let at = times.next();
    let first: Vec<usize> = all_conversations()
        .filter(|n| planned(*n).1 != Planned::Queued)
        .collect();
    for (i, n) in first.iter().enumerate() {
        message(&producer, *n, &webhook_of(*n), at + ms(i));
    }
    flush();
    let assigned = with_plan(Planned::Assigned, None).len();
    let offers = first.len() - assigned;
    read_until::<StatusChange>(brokers, statuses, |c| {
        count(c, Status::New) >= first.len() && count(c, Status::Open) >= assigned
    });
    read_until::<RoutingDecision>(brokers, "parley.routing-decisions", |d| {
        d.iter()
            .filter(|d| d.kind == RoutingDecisionKind::Offered)
            .map(|d| (&d.account, &d.conversation))
            .collect::<std::collections::HashSet<_>>()
            .len()
            >= offers
    });
    lap("offered or assigned");

    // WhatsApp tickets beyond the capacity queue; the agents accept all offers but one in
    // five.
    let at = times.next();
    let queued_tickets = with_plan(Planned::Queued, None);
    for (i, n) in queued_tickets.iter().enumerate() {
        message(&producer, *n, &webhook_of(*n), at + ms(i));
    }
    let accepted: Vec<usize> = all_conversations()
        .filter(|n| {
            !matches!(
                planned(*n).1,
                Planned::Assigned | Planned::Queued | Planned::Offered
            )
        })
        .collect();
    for (i, n) in accepted.iter().enumerate() {
        let ((account, agent), _) = planned(*n);
        let kind = AgentActionKind::Accept;
        agent_action(&producer, account, agent, *n, kind, None, at + ms(i));
    }
    flush();
    read_until::<StatusChange>(brokers, statuses, |c| {
        count(c, Status::New) >= all_conversations().len()
            && count(c, Status::Open) >= assigned + accepted.len()
    });
    lap("queued and accepted");

    // Pending, On-hold, Solved.
    let at = times.next();
    // When each status was set.
    let mut set_at = HashMap::new();
    let set = [
        (Planned::Pending, Status::Pending),
        (Planned::OnHold, Status::OnHold),
        (Planned::Solved, Status::Solved),
    ];
    let mut i = 0;
    for (plan, status) in set {
        for n in with_plan(plan, None) {
            let ((account, agent), _) = planned(n);
            let kind = AgentActionKind::SetStatus;
            agent_action(&producer, account, agent, n, kind, Some(status), at + ms(i));
            set_at.insert(n, at + ms(i));
            i += 1;
        }
    }
    flush();
    read_until::<StatusChange>(brokers, statuses, |c| {
        set.iter()
            .all(|(plan, status)| count(c, *status) >= with_plan(*plan, None).len())
    });
    lap("statuses set");
    let closing = with_plan(Planned::Solved, Some(Channel::Telegram));
    let reopening = with_plan(Planned::Solved, Some(Channel::Messenger));

    let mut arrivals = None;
    if rescale {
        // Drained: the router has every release, the tickets every decision. Only then is
        // the agents' state the one the rescale must keep.
        assert!(
            parley_testkit::wait_for(Duration::from_secs(60), || {
                caught_up(brokers, "parley-router", "parley.routing-requests")
                    && caught_up(brokers, "parley-tickets", "parley.routing-decisions")
            }),
            "the pipeline drained"
        );
        lap("drained");
        let agents_before: Vec<serde_json::Value> = ACCOUNTS
            .iter()
            .map(|(account, agent, _)| agent_state(brokers, account, agent))
            .collect();
        for role in ["ingress", "tickets", "router"] {
            pipeline.stop(role);
        }
        groups_empty(brokers);
        lap("stopped");
        let timers = changelog_state(brokers, "parley.tickets-changelog", 6)
            .values()
            .filter(|(_, op)| matches!(op, ChangelogOp::Timer { .. }))
            .count();
        assert_eq!(
            timers,
            closing.len() + reopening.len(),
            "a close timer per solved ticket"
        );
        let queue = queued(brokers, 6);
        assert_eq!(queue.len(), queued_tickets.len(), "the queued tickets");

        let started = std::time::Instant::now();
        let output = parley(brokers, &["rescale", "--partitions", "12"], &[]);
        assert!(
            output.status.success(),
            "{} {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        eprintln!(
            "rescale 6 -> 12: {:.1} s\n{}",
            started.elapsed().as_secs_f64(),
            String::from_utf8_lossy(&output.stdout)
        );
        assert_eq!(
            queued(brokers, 12),
            queue,
            "the queue, on its new partitions"
        );

        pipeline.start_all();
        let first_due = closing.iter().map(|n| set_at[n]).min().unwrap() + TELEGRAM_CLOSE;
        let restarted = parley_runtime::Clock::now(&parley_runtime::SystemClock);
        assert!(
            restarted < first_due,
            "the pipeline started again {} ms before the first close timer was due",
            first_due.0 - restarted.0
        );
        // Every Closed status change, with the time it was read.
        let reader = {
            let (brokers, expected) = (brokers.to_owned(), closing.len());
            std::thread::spawn(move || {
                read_received_until::<StatusChange>(&brokers, statuses, |r| {
                    r.iter().filter(|r| r.value.to == Status::Closed).count() >= expected
                })
            })
        };
        arrivals = Some(reader);
        for ((account, agent, _), before) in ACCOUNTS.iter().zip(&agents_before) {
            assert_eq!(
                &agent_state(brokers, account, agent),
                before,
                "{account}/{agent}: the same load, offers and tickets after the rescale"
            );
        }
        lap("started again, agents compared");
    }

    // The customers of the Messenger tickets solved before the rescale reply.
    let at = times.next();
    for (i, n) in reopening.iter().enumerate() {
        message(&producer, *n, &reply_of(*n), at + ms(i));
    }
    flush();
    let reopened = |c: &[StatusChange]| {
        c.iter()
            .filter(|c| c.from == Some(Status::Solved) && c.to == Status::Open)
            .count()
    };
    read_until::<StatusChange>(brokers, statuses, |c| {
        count(c, Status::Closed) >= closing.len() && reopened(c) >= reopening.len()
    });
    lap("closed and reopened");

    if let Some(reader) = arrivals {
        let mut latest = i64::MIN;
        for received in reader.join().unwrap() {
            let change = received.value;
            if change.to != Status::Closed {
                continue;
            }
            let n = all_conversations()
                .find(|n| {
                    *conversation_of(*n) == *change.conversation
                        && *planned(*n).0 .0 == *change.account
                })
                .unwrap();
            let due = set_at[&n] + TELEGRAM_CLOSE;
            assert_eq!(change.at, due, "closed at its due time: {change:?}");
            // The record's time is its due time, exactly (above). When it reaches a reader
            // depends on the machine's load and the commit interval: printed below, and
            // only a timer left unfired for many seconds fails here.
            let late = received.received.0 - due.0;
            assert!(
                (-50..=10_000).contains(&late),
                "{}/{}: the close timer fired {late} ms after its due time",
                change.account,
                change.conversation
            );
            latest = latest.max(late);
        }
        eprintln!(
            "{} close timers fired, the latest read {latest} ms after its due time",
            closing.len()
        );
    }

    // Every status change and ticket-metrics record the plan makes.
    let changes_per = |n: usize| match planned(n).1 {
        Planned::Queued | Planned::Offered => 1,
        Planned::Assigned | Planned::Open => 2,
        Planned::Pending | Planned::OnHold => 3,
        Planned::Solved => 4,
    };
    let expected_changes: usize = all_conversations().map(changes_per).sum();
    let expected_metrics = 2 * closing.len() + reopening.len();
    let changes =
        read_timed_until::<StatusChange>(brokers, statuses, |c| c.len() >= expected_changes);
    let metrics = read_timed_until::<TicketMetrics>(brokers, "parley.ticket-metrics", |m| {
        m.len() >= expected_metrics
    });
    assert_eq!(changes.len(), expected_changes, "every status change once");
    assert_eq!(
        metrics.len(),
        expected_metrics,
        "every ticket-metrics record once"
    );
    let ticket_of: HashMap<(&str, &str), &str> = changes
        .iter()
        .filter(|(c, _)| c.to == Status::New)
        .map(|(c, _)| ((&*c.account, &*c.conversation), &*c.ticket_id))
        .collect();
    assert_eq!(
        ticket_of.len(),
        all_conversations().len(),
        "one ticket each"
    );
    for (change, _) in &changes {
        assert_eq!(
            ticket_of[&(&*change.account, &*change.conversation)],
            &*change.ticket_id,
            "no follow-up ticket: {change:?}"
        );
    }
    let dlq = parley_testkit::read_until(brokers, "parley.dlq", Duration::from_secs(2), |r| {
        !r.is_empty()
    });
    assert!(
        dlq.is_empty(),
        "nothing in the DLQ: {:?}",
        dlq.first().map(|r| &r.headers)
    );
    let key = |account: &str, conversation: &str| format!("{account}/{conversation}");
    Outputs {
        changes: by_conversation(&changes, |c| key(&c.account, &c.conversation)),
        metrics: by_conversation(&metrics, |m| key(&m.account, &m.conversation)),
    }
}

/// A pipeline on `brokers` with 6 partitions, both accounts' styles, every role started.
fn acceptance_pipeline(brokers: &str, name: &str) -> Pipeline {
    let mut pipeline = Pipeline::layout(PARLEY, brokers, Guarantee::ExactlyOnce, name, 6, 1);
    // After the rescale an instance restores all 12 partitions of its role inside one
    // rebalance callback, longer than the fault tests' 10 s poll interval allows.
    pipeline.librdkafka("max.poll.interval.ms=60000");
    // A fetch that finds nothing waits 50 ms, not 500: each hop between roles is faster.
    pipeline.librdkafka("fetch.wait.max.ms=50");
    for (account, _, _) in ACCOUNTS {
        for (channel, style, gap) in [
            ("whatsapp", "live_chat", None),
            ("telegram", "live_chat_returning", Some("45s")),
            ("messenger", "social_messaging", Some("1h")),
        ] {
            let mut args = vec!["config", "set-style", "--account", account];
            args.extend(["--channel", channel, "--style", style]);
            if let Some(gap) = gap {
                args.extend(["--solved-to-closed", gap]);
            }
            pipeline.parley_ok(&args);
        }
    }
    pipeline.start_all();
    pipeline
}

/// The acceptance test of `parley rescale`: 6 → 12 partitions under 1,000 conversations of two accounts
/// in every status (New with a pending offer or queued, Open, Pending, On-hold, Solved with a
/// pending close timer), with one agent an account whose WhatsApp capacity is full so that
/// tickets queue. After the rescale: each agent's load, offers and tickets and the queue are
/// the same, every close timer fires at its due time (within a second, by the time a reader
/// receives the Closed change), customers' replies reopen their Solved tickets (no
/// follow-up), nothing goes to the DLQ; and every status change and ticket-metrics record
/// equals, per conversation, a run of the same inputs at the same times on a pipeline that is
/// never stopped.
///
/// No field needs setting aside: parley takes each record's time from its timestamp and a
/// timer's from its due time, never from the wall clock, so the two runs agree on every
/// field and record timestamp though their wall clocks differ (in the undisturbed run, which
/// comes second, the close timers are already due when they are set; they still close at
/// their due time). What the wall clock does decide, when a timer's record is written, is
/// checked against the due time instead.
#[test]
fn a_rescale_from_6_to_12_partitions_changes_nothing_bi_reads() {
    let started = std::time::Instant::now();
    let mut times = PhaseTimes::default();
    let rescaled = {
        let Some(broker) = Kafka::single("rescale_acceptance") else {
            return;
        };
        let brokers = broker.bootstrap_servers();
        let mut pipeline = acceptance_pipeline(&brokers, "rescale-acceptance");
        acceptance_run(&mut pipeline, &mut times, true)
    };
    eprintln!("rescaled run: {:.1} s", started.elapsed().as_secs_f64());
    times.replay();
    let undisturbed = {
        let broker = Kafka::single("rescale_acceptance_undisturbed").expect("a second broker");
        let brokers = broker.bootstrap_servers();
        let mut pipeline = acceptance_pipeline(&brokers, "rescale-undisturbed");
        acceptance_run(&mut pipeline, &mut times, false)
    };
    assert_eq!(
        rescaled.changes.len(),
        all_conversations().len(),
        "status changes of every conversation"
    );
    for (conversation, changes) in &undisturbed.changes {
        assert_eq!(
            rescaled.changes.get(conversation),
            Some(changes),
            "{conversation}: the status changes of the undisturbed run"
        );
    }
    assert_eq!(rescaled.changes, undisturbed.changes);
    for (conversation, metrics) in &undisturbed.metrics {
        assert_eq!(
            rescaled.metrics.get(conversation),
            Some(metrics),
            "{conversation}: the ticket metrics of the undisturbed run"
        );
    }
    assert_eq!(rescaled.metrics, undisturbed.metrics);
    eprintln!("acceptance test: {:.1} s", started.elapsed().as_secs_f64());
}
