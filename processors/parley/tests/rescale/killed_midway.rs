//! A pipeline taken from 2 to 4 partitions by a rescale killed midway and run again.

use super::*;

#[test]
fn a_rescale_killed_midway_and_run_again_moves_every_ticket_timer_and_agent() {
    let Some(broker) = Kafka::single("rescale_moves") else {
        return;
    };
    let brokers = broker.bootstrap_servers();
    let brokers = brokers.as_str();
    let mut pipeline = Pipeline::new(PARLEY, brokers, Guarantee::ExactlyOnce, "rescale");
    // Telegram closes a minute after Solved, Messenger an hour after: both pending across the
    // rescale.
    for (channel, style, gap) in [
        ("telegram", "live_chat_returning", "60s"),
        ("messenger", "social_messaging", "1h"),
    ] {
        let args = [
            "config",
            "set-style",
            "--account",
            "acme",
            "--channel",
            channel,
        ];
        let args = [&args[..], &["--style", style, "--solved-to-closed", gap]].concat();
        assert!(parley(brokers, &args, &[]).status.success());
    }
    pipeline.start_all();
    let now = || parley_runtime::Clock::now(&parley_runtime::SystemClock);
    ana_online(brokers, 10_000, now());
    let producer = producer(brokers);
    const COUNT: usize = 12;
    for n in 0..COUNT {
        let topic = format!("parley.raw.{}", channel_of(n).as_str());
        send(
            &producer,
            &topic,
            &conversation_of(n),
            &webhook_of(n),
            Some(("parley-account", "acme")),
            now(),
        );
    }
    let statuses = "parley.ticket-status-changes";
    let count = |c: &[StatusChange], to: Status| c.iter().filter(|c| c.to == to).count();
    read_until::<RoutingDecision>(brokers, "parley.routing-decisions", |d| {
        d.iter()
            .filter(|d| d.kind == RoutingDecisionKind::Offered)
            .count()
            >= COUNT * 2 / 3
    });
    read_until::<StatusChange>(brokers, statuses, |c| count(c, Status::New) >= COUNT);
    for n in (0..COUNT).filter(|n| channel_of(*n) != Channel::Whatsapp) {
        act(&producer, n, AgentActionKind::Accept, None, now());
    }
    read_until::<StatusChange>(brokers, statuses, |c| count(c, Status::Open) >= COUNT);
    // When each status was set.
    let mut solved_at = HashMap::new();
    for n in (0..COUNT).filter(|n| channel_of(*n) != Channel::Whatsapp) {
        let at = now();
        solved_at.insert(conversation_of(n), at);
        act(
            &producer,
            n,
            AgentActionKind::SetStatus,
            Some(Status::Solved),
            at,
        );
    }
    let before = read_until::<StatusChange>(brokers, statuses, |c| {
        count(c, Status::Solved) >= solved_at.len()
    });
    for role in ["ingress", "tickets", "router"] {
        pipeline.stop(role);
    }
    groups_empty(brokers);
    let tickets = changelog_state(brokers, "parley.tickets-changelog", 2);
    let router = changelog_state(brokers, "parley.router-changelog", 2);
    let timers = tickets
        .values()
        .filter(|(_, op)| matches!(op, ChangelogOp::Timer { .. }))
        .count();
    assert_eq!(timers, solved_at.len(), "a close timer per solved ticket");

    let dry = parley(brokers, &["rescale", "--partitions", "4", "--dry-run"], &[]);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let printed = String::from_utf8_lossy(&dry.stdout);
    assert!(
        printed.contains("parley.tickets-changelog: 2 -> 4 partitions"),
        "{printed}"
    );
    assert!(printed.contains("dry run: nothing written"), "{printed}");
    assert_eq!(
        parley_testkit::partition_count(brokers, "parley.tickets-changelog"),
        2
    );

    // Killed after three records of the first transaction: partitions added, nothing moved.
    let killed = parley(
        brokers,
        &["rescale", "--partitions", "4"],
        &[(ABORT_AFTER_ENV, "3")],
    );
    assert!(!killed.status.success(), "the rescale was killed");
    assert_eq!(
        parley_testkit::partition_count(brokers, "parley.tickets-changelog"),
        4
    );
    let half = changelog_state(brokers, "parley.tickets-changelog", 4);
    assert_eq!(half, tickets, "the aborted transaction moved nothing");

    let again = parley(brokers, &["rescale", "--partitions", "4"], &[]);
    let printed = String::from_utf8_lossy(&again.stdout);
    assert!(
        again.status.success(),
        "{printed} {}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(
        printed.contains("done: every topic has 4 partitions"),
        "{printed}"
    );
    refused(
        &parley(brokers, &["rescale", "--partitions", "4"], &[]),
        &["already has 4 partitions"],
    );
    for topic in [
        "parley.conversation-events",
        "parley.raw.whatsapp",
        "parley.agent-metrics",
        "parley.dlq",
    ] {
        assert_eq!(
            parley_testkit::partition_count(brokers, topic),
            4,
            "{topic}"
        );
    }
    assert_eq!(
        parley_testkit::partition_count(brokers, "parley.style-config"),
        2
    );

    for (topic, before, router) in [
        ("parley.tickets-changelog", &tickets, false),
        ("parley.router-changelog", &router, true),
    ] {
        let after = changelog_state(brokers, topic, 4);
        assert_eq!(after.len(), before.len(), "{topic}: every entry kept");
        for (key, (partition, op)) in &after {
            assert_eq!(&before[key].1, op, "{topic}: the same value and due time");
            assert_eq!(
                *partition,
                partition_of(&record_key(op, router), 4),
                "{topic}: on its partition"
            );
        }
    }

    pipeline.start_all();
    // Open WhatsApp tickets and solved Messenger ones get a reply: the same tickets go on.
    for n in (0..COUNT).filter(|n| channel_of(*n) != Channel::Telegram) {
        let topic = format!("parley.raw.{}", channel_of(n).as_str());
        send(
            &producer,
            &topic,
            &conversation_of(n),
            &reply_of(n),
            Some(("parley-account", "acme")),
            now(),
        );
    }
    let messenger = (0..COUNT)
        .filter(|n| channel_of(*n) == Channel::Messenger)
        .count();
    let telegram = (0..COUNT)
        .filter(|n| channel_of(*n) == Channel::Telegram)
        .count();
    let after = read_until::<StatusChange>(brokers, statuses, |c| {
        count(c, Status::Closed) >= telegram
            && c.iter()
                .filter(|c| c.from == Some(Status::Solved) && c.to != Status::Closed)
                .count()
                >= messenger
    });
    assert_eq!(
        count(&after, Status::New),
        COUNT,
        "no reply started a new ticket"
    );
    let ticket_of: HashMap<&str, &str> = before
        .iter()
        .map(|c| (&*c.conversation, &*c.ticket_id))
        .collect();
    let seen: std::collections::HashSet<_> = before.iter().map(|c| &c.change_id).collect();
    for change in after.iter().filter(|c| !seen.contains(&c.change_id)) {
        assert_eq!(
            ticket_of[&*change.conversation], &*change.ticket_id,
            "the same ticket: {change:?}"
        );
        if change.to == Status::Closed {
            assert_eq!(
                channel_of_conversation(&change.conversation),
                Channel::Telegram
            );
            assert_eq!(
                change.at,
                solved_at[&*change.conversation] + Millis(60_000),
                "closed at its due time"
            );
        } else {
            assert_eq!(
                (change.channel, change.from),
                (Channel::Messenger, Some(Status::Solved)),
                "{change:?}"
            );
        }
    }
    let dlq = parley_testkit::read_until(brokers, "parley.dlq", Duration::from_secs(3), |r| {
        !r.is_empty()
    });
    assert!(
        dlq.is_empty(),
        "nothing in the DLQ: {:?}",
        dlq.first().map(|r| &r.headers)
    );
}

fn channel_of_conversation(conversation: &str) -> Channel {
    channel_of(conversation[conversation.len() - 3..].parse().unwrap())
}
