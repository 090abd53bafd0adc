//! The router on librdkafka's mock cluster: offers and assignments keyed by conversation,
//! the agents' load surviving a restart, and an account's settings read from
//! routing-config.
//!
//! The mock keeps about 5 MiB per partition and does not implement transactions faithfully,
//! so these tests run `at_least_once` with a handful of records.

use parley_core::routing::RoutingConfig;
use parley_core::*;
use parley_routing::{RouterCodecs, RouterTopics};
use parley_runtime::{Clock, ManualClock, Metrics};
use parley_testkit::*;
use std::sync::Arc;
use std::time::Duration;

/// Partitions of every test topic.
const PARTITIONS: i32 = 4;
/// How long a test waits for an expected record.
const WAIT: Duration = Duration::from_secs(60);

fn router_host(
    brokers: &str,
    prefix: &str,
    state_dir: std::path::PathBuf,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
) -> parley_runtime::Host<parley_routing::RouterProcessor> {
    init_tracing();
    let config = runtime_config(
        brokers,
        &format!("{prefix}router"),
        &format!("{prefix}router-changelog"),
        &format!("{prefix}dlq"),
        state_dir,
    );
    parley_routing::host(
        config,
        prefix,
        RoutingConfig::default(),
        RouterCodecs::single_object(),
        clock,
        metrics,
    )
    .unwrap()
}

fn presence(id: &str, capacity: u32) -> AgentPresence {
    AgentPresence {
        presence_id: id.into(),
        account: "acme".into(),
        agent_id: "agent-1".into(),
        channels: vec![ChannelPresence {
            channel: Channel::Whatsapp,
            status: AgentStatus::Online,
            capacity,
        }],
        skills: Vec::new(),
        groups: Vec::new(),
        at: T0,
    }
}

fn request(conversation: &str, kind: RoutingRequestKind, agent: Option<&str>) -> RoutingRequest {
    RoutingRequest {
        request_id: format!("{conversation}-{kind:?}").into(),
        account: "acme".into(),
        conversation: conversation.into(),
        ticket_id: format!("acme/{conversation}/1").into(),
        kind,
        agent_id: agent.map(str::to_owned),
        channel: Channel::Whatsapp,
        priority: 0,
        required_skills: Vec::new(),
        group: None,
        brand: None,
        created_at: T0,
        sla_breach_at: None,
        at: T0,
    }
}

fn decisions(brokers: &str, t: &RouterTopics, n: usize) -> Vec<(String, RoutingDecision)> {
    read_records::<RoutingDecision>(brokers, &t.routing_decisions, WAIT, |r| r.len() >= n)
}

fn kinds(decisions: &[(String, RoutingDecision)]) -> Vec<(&str, &str, RoutingDecisionKind)> {
    decisions
        .iter()
        .map(|(key, d)| (key.as_str(), d.conversation.as_str(), d.kind))
        .collect()
}

/// A mock cluster with every topic the router under `prefix` reads and writes: its
/// inputs, outputs, changelog, DLQ and the two tables.
fn router_cluster(prefix: &str, t: &RouterTopics) -> parley_testkit::mock::Mock {
    let mut all = t.inputs();
    all.extend(t.outputs());
    all.extend([
        format!("{prefix}router-changelog"),
        format!("{prefix}dlq"),
        t.routing_config.clone(),
        t.routing_queues.clone(),
    ]);
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    parley_testkit::mock::cluster(&refs, PARTITIONS)
}

#[test]
fn offers_assignments_and_an_agents_load_survive_a_restart() {
    let prefix = "router.";
    let t = parley_routing::topics(prefix);
    let cluster = router_cluster(prefix, &t);
    let brokers = cluster.bootstrap_servers();
    let dir = temp_dir("router");
    let clock = ManualClock::new(T0);

    let host = RunningHost::start(router_host(
        &brokers,
        prefix,
        dir.clone(),
        Arc::new(clock.clone()),
        Arc::new(Metrics::new()),
    ));
    produce(&brokers, &t.agent_presence, "acme", &presence("p1", 1));
    // Topics are not ordered with each other: the request goes once the agent is known.
    let metrics = read_records::<AgentMetrics>(&brokers, &t.agent_metrics, WAIT, |r| !r.is_empty());
    assert_eq!(metrics[0].0, "acme", "agent metrics are keyed by account");
    produce(
        &brokers,
        &t.routing_requests,
        "acme",
        &request("c1", RoutingRequestKind::Enqueue, None),
    );
    let found = decisions(&brokers, &t, 1);
    assert_eq!(
        kinds(&found),
        [("acme/c1", "c1", RoutingDecisionKind::Offered)]
    );
    assert_eq!(found[0].1.agent_id.as_deref(), Some("agent-1"));
    produce(
        &brokers,
        &t.routing_requests,
        "acme",
        &request("c1", RoutingRequestKind::Accept, Some("agent-1")),
    );
    let found = decisions(&brokers, &t, 2);
    assert_eq!(
        kinds(&found)[1],
        ("acme/c1", "c1", RoutingDecisionKind::Assigned)
    );
    host.stop().unwrap();

    // Restarted on the same state: agent-1 is full (capacity 1, one ticket), so a second
    // ticket waits in the queue.
    let metrics = Arc::new(Metrics::new());
    let host = RunningHost::start(router_host(
        &brokers,
        prefix,
        dir,
        Arc::new(clock.clone()),
        metrics.clone(),
    ));
    produce(
        &brokers,
        &t.routing_requests,
        "acme",
        &request("c2", RoutingRequestKind::Enqueue, None),
    );
    assert!(
        wait_for(|| metrics
            .records_in
            .with_label_values(&[t.routing_requests.as_str()])
            .get()
            >= 1
            && metrics.batches.get() >= 1),
        "the second request was processed"
    );
    let found = read_records::<RoutingDecision>(
        &brokers,
        &t.routing_decisions,
        std::time::Duration::from_secs(2),
        |_| false,
    );
    assert_eq!(found.len(), 2, "c2 is not offered: {:?}", kinds(&found));

    // With room for a second ticket, the queued c2 is offered: it was queued, not lost.
    produce(&brokers, &t.agent_presence, "acme", &presence("p2", 2));
    let found = decisions(&brokers, &t, 3);
    // Decisions of different conversations may sit on different partitions: no order.
    assert!(
        kinds(&found).contains(&("acme/c2", "c2", RoutingDecisionKind::Offered)),
        "{:?}",
        kinds(&found)
    );
    // The agent's counters came through the restart: a fresh engine would count one offer
    // and no assignment.
    let metrics = read_records::<AgentMetrics>(&brokers, &t.agent_metrics, WAIT, |r| {
        r.last().is_some_and(|(_, m)| m.offers_made == 2)
    });
    let (_, last) = metrics.last().unwrap();
    assert_eq!((last.offers_made, last.assignments), (2, 1), "{last:?}");
    host.stop().unwrap();
}

fn wait_for(condition: impl Fn() -> bool) -> bool {
    let deadline = std::time::Instant::now() + WAIT;
    while std::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    condition()
}

#[test]
fn an_unanswered_offer_is_withdrawn_by_the_runtime_timer() {
    let prefix = "offer-timeout.";
    let t = parley_routing::topics(prefix);
    let cluster = router_cluster(prefix, &t);
    let brokers = cluster.bootstrap_servers();
    let clock = ManualClock::new(T0);
    let metrics = Arc::new(Metrics::new());
    let host = RunningHost::start(router_host(
        &brokers,
        prefix,
        temp_dir("offer-timeout"),
        Arc::new(clock.clone()),
        metrics.clone(),
    ));
    produce(&brokers, &t.agent_presence, "acme", &presence("p1", 1));
    read_records::<AgentMetrics>(&brokers, &t.agent_metrics, WAIT, |r| !r.is_empty());
    produce(
        &brokers,
        &t.routing_requests,
        "acme",
        &request("c1", RoutingRequestKind::Enqueue, None),
    );
    assert_eq!(
        kinds(&decisions(&brokers, &t, 1)),
        [("acme/c1", "c1", RoutingDecisionKind::Offered)]
    );
    assert!(
        wait_for(|| metrics.timers_pending.get() >= 1),
        "the offer timeout is durable"
    );

    clock.advance(RoutingConfig::default().offer_timeout_ms.0 + 1_000);
    let found = decisions(&brokers, &t, 2);
    assert_eq!(
        kinds(&found)[1],
        ("acme/c1", "c1", RoutingDecisionKind::OfferWithdrawn)
    );
    let agent = read_records::<AgentMetrics>(&brokers, &t.agent_metrics, WAIT, |r| {
        r.last().is_some_and(|(_, m)| m.offers_timed_out == 1)
    });
    assert_eq!(agent.last().unwrap().1.offers_timed_out, 1);
    host.stop().unwrap();
}

#[test]
fn an_account_is_routed_with_its_routing_config_record() {
    let prefix = "per-account.";
    let t = parley_routing::topics(prefix);
    let cluster = router_cluster(prefix, &t);
    let brokers = cluster.bootstrap_servers();
    // acme auto-accepts WhatsApp; the process's flags (the defaults) do not.
    produce(
        &brokers,
        &t.routing_config,
        "acme",
        &AccountRoutingConfig {
            account: "acme".into(),
            auto_accept: Some(vec![Channel::Whatsapp]),
            offer_timeout_ms: None,
            skills_timeout_ms: None,
            returning_grace_ms: None,
            mode: None,
            away_after_offer_timeouts: None,
            queue_order: None,
            updated_at: T0,
        },
    );
    let host = RunningHost::start(router_host(
        &brokers,
        prefix,
        temp_dir("per-account"),
        Arc::new(ManualClock::new(T0)),
        Arc::new(Metrics::new()),
    ));
    produce(&brokers, &t.agent_presence, "acme", &presence("p1", 1));
    produce(
        &brokers,
        &t.routing_requests,
        "acme",
        &request("c1", RoutingRequestKind::Enqueue, None),
    );
    let found = decisions(&brokers, &t, 1);
    assert_eq!(
        (found[0].1.kind, found[0].1.reason.as_str()),
        (RoutingDecisionKind::Assigned, "auto_accept")
    );
    host.stop().unwrap();
}
