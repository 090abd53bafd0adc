//! The world of the demo: its people, their schedule, the clients it talks to the pipeline
//! with, and what the pipeline has shown; set up and configured before the traffic starts.

use super::people::{Agent, Customer, Event, Phase};
use super::script::{
    conversation_id, sla_policy, sla_schedule, Timeline, ACCOUNTS, CUSTOMER_NAMES, FIRST_NAMES,
};
use crate::embedded::{Embedded, Observed};
use anyhow::{anyhow, Context};
use parley_core::rng::SeededRng;
use parley_core::topics::{account_name_key, conversation_key};
use parley_core::*;
use parley_runtime::clock::ScaledClock;
use parley_runtime::codec::AvroCodec;
use parley_runtime::Clock;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::DefaultProducerContext;
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the demo has produced.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Produced {
    pub(super) webhooks: u64,
    pub(super) redeliveries: u64,
    pub(super) actions: u64,
    pub(super) presences: u64,
}

/// What the demo has read from the output topics.
#[derive(Debug, Default)]
pub(super) struct Read {
    pub(super) status_changes: Vec<StatusChange>,
    pub(super) ticket_metrics: Vec<TicketMetrics>,
    pub(super) agent_metrics: Vec<AgentMetrics>,
    pub(super) dlq_reasons: BTreeMap<String, u64>,
    pub(super) records: u64,
}

impl Read {
    pub(super) fn dlq(&self) -> u64 {
        self.dlq_reasons.values().sum()
    }
}

/// The output topics the demo reads.
pub(super) const READ_TOPICS: [&str; 5] = [
    "ticket-status-changes",
    "routing-decisions",
    "ticket-metrics",
    "agent-metrics",
    "dlq",
];

/// An offer seen on `routing-decisions`, where it sits.
#[derive(Debug)]
pub(super) struct Offer {
    pub(super) agent: String,
    pub(super) customer: usize,
    pub(super) partition: i32,
    pub(super) offset: i64,
    pub(super) seen: Timestamp,
}

/// The simulation: customers, agents, their schedule and what the pipeline has shown.
pub(super) struct World {
    pub(super) clock: ScaledClock,
    pub(super) t0: Timestamp,
    pub(super) timeline: Timeline,
    pub(super) partitions: i32,
    pub(super) seed: u64,
    pub(super) customers: Vec<Customer>,
    pub(super) by_key: HashMap<String, usize>,
    pub(super) agents: Vec<Agent>,
    pub(super) agent_index: HashMap<String, usize>,
    pub(super) schedule: BTreeMap<(i64, u64), Event>,
    pub(super) seq: u64,
    pub(super) offers: HashMap<String, Offer>,
    pub(super) tickets: HashMap<String, (Style, Status)>,
    pub(super) latest_agents: HashMap<(String, Channel), AgentMetrics>,
    pub(super) producer: ThreadedProducer<DefaultProducerContext>,
    pub(super) reader: BaseConsumer,
    pub(super) committed_reader: BaseConsumer,
    /// The tickets processor's committed offset on each routing-decisions partition.
    pub(super) committed: Vec<i64>,
    pub(super) committed_at: Instant,
    pub(super) produced: Produced,
    pub(super) read: Read,
    pub(super) messages: u64,
    pub(super) actions: u64,
    pub(super) presences: u64,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("customers", &self.customers.len())
            .field("agents", &self.agents.len())
            .finish_non_exhaustive()
    }
}

pub(super) fn send_with_retry(
    producer: &ThreadedProducer<DefaultProducerContext>,
    mut record: BaseRecord<'_, str, [u8]>,
) -> anyhow::Result<()> {
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err((error, back)) => {
                return Err(anyhow!("producing to {}: {error}", back.topic));
            }
        }
    }
}

impl World {
    pub(super) fn new(
        brokers: &str,
        clock: ScaledClock,
        timeline: Timeline,
        partitions: i32,
        customers: u32,
        agents: u32,
        seed: u64,
    ) -> anyhow::Result<World> {
        let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("partitioner", "murmur2_random")
            .set("linger.ms", "2")
            .create()
            .context("the demo's producer")?;
        let reader: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", "parley-demo-reader")
            .set("fetch.wait.max.ms", "10")
            .set("enable.auto.commit", "false")
            .create()
            .context("the demo's reader")?;
        let mut assignment = TopicPartitionList::new();
        for topic in READ_TOPICS {
            for partition in 0..partitions {
                assignment.add_partition_offset(topic, partition, Offset::Beginning)?;
            }
        }
        reader.assign(&assignment)?;
        // Never subscribes: it only reads the tickets processor's committed offsets.
        let committed_reader: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", Embedded::group("tickets"))
            .set("enable.auto.commit", "false")
            .create()
            .context("the demo's offset reader")?;

        let mut rng = SeededRng::new(seed);
        let mut plan_customers = Vec::with_capacity(customers as usize);
        for index in 0..customers as u64 {
            let roll = rng.below(100) as u32;
            let mut account = 0;
            let mut acc = 0;
            for (i, plan) in ACCOUNTS.iter().enumerate() {
                acc += plan.share;
                if roll < acc {
                    account = i;
                    break;
                }
            }
            let channel = rng.pick(ACCOUNTS[account].channels);
            plan_customers.push(Customer {
                account,
                channel,
                conversation: conversation_id(channel, index),
                name: rng.pick(&CUSTOMER_NAMES),
                rng: SeededRng::new(seed ^ index.wrapping_mul(0x9E37_79B9)),
                phase: Phase::Idle,
                rounds_left: 0,
                held: false,
                ticket: None,
                in_flight: None,
                work_scheduled: false,
            });
        }
        let by_key = plan_customers
            .iter()
            .enumerate()
            .map(|(i, c)| {
                (
                    conversation_key(ACCOUNTS[c.account].account, &c.conversation),
                    i,
                )
            })
            .collect();
        // Agents by share, at least one per account.
        let mut per_account = [1u32; 3];
        for n in 0..agents.saturating_sub(3) {
            let roll = (u64::from(n) * 100 / u64::from(agents.saturating_sub(3).max(1))) as u32;
            let mut acc = 0;
            for (i, plan) in ACCOUNTS.iter().enumerate() {
                acc += plan.share;
                if roll < acc {
                    per_account[i] += 1;
                    break;
                }
            }
        }
        let mut plan_agents = Vec::new();
        for (account, count) in per_account.iter().enumerate() {
            for n in 0..*count as usize {
                let name = FIRST_NAMES[n % FIRST_NAMES.len()];
                let id = if n < FIRST_NAMES.len() {
                    format!("{}-{name}", ACCOUNTS[account].account)
                } else {
                    format!(
                        "{}-{name}{}",
                        ACCOUNTS[account].account,
                        n / FIRST_NAMES.len() + 1
                    )
                };
                plan_agents.push(Agent {
                    id,
                    account,
                    online: false,
                    answering: 0,
                    accepting: HashMap::new(),
                    rng: SeededRng::new(seed ^ 0xA6E7 ^ (plan_agents.len() as u64) << 20),
                });
            }
        }
        let agent_index = plan_agents
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i))
            .collect();
        let t0 = clock.now();
        Ok(World {
            clock,
            t0,
            timeline,
            partitions,
            seed,
            customers: plan_customers,
            by_key,
            agents: plan_agents,
            agent_index,
            schedule: BTreeMap::new(),
            seq: 0,
            offers: HashMap::new(),
            tickets: HashMap::new(),
            latest_agents: HashMap::new(),
            producer,
            reader,
            committed_reader,
            committed: vec![-1; partitions as usize],
            committed_at: Instant::now(),
            produced: Produced::default(),
            read: Read::default(),
            messages: 0,
            actions: 0,
            presences: 0,
        })
    }

    pub(super) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Writes the accounts' styles, SLA schedules and SLA policies and waits until the
    /// tickets role has applied them, then plans the first contacts and the agents' shifts.
    pub(super) fn configure(&mut self, observed: &Observed) -> anyhow::Result<()> {
        let now = self.now();
        for plan in &ACCOUNTS {
            let config = StyleConfig {
                account: plan.account.to_owned(),
                brand: None,
                channel: None,
                style: plan.style,
                solved_to_closed_ms: self.timeline.gap(plan.style),
                priority: 0,
                required_skills: Vec::new(),
                group: None,
                inactivity_ms: None,
                inactivity_reminders: Vec::new(),
                updated_at: now,
            };
            crate::style::validate(&config)?;
            let value = AvroCodec::<StyleConfig>::single_object().encode(&config)?;
            let key = crate::style::key(&config);
            send_with_retry(
                &self.producer,
                BaseRecord::to("style-config")
                    .key(key.as_str())
                    .payload(value.as_slice())
                    .timestamp(now.0),
            )?;
        }
        // Every account's SLA schedule and policy.
        for plan in &ACCOUNTS {
            let schedule = sla_schedule(plan.account, now);
            schedule.calendar()?;
            let value = AvroCodec::<sla::Schedule>::single_object().encode(&schedule)?;
            let key = account_name_key(&schedule.account, &schedule.schedule_id);
            send_with_retry(
                &self.producer,
                BaseRecord::to("schedules")
                    .key(key.as_str())
                    .payload(value.as_slice())
                    .timestamp(now.0),
            )?;
            let policy = sla_policy(plan.account, now);
            policy.validate()?;
            let value = AvroCodec::<sla::SlaPolicy>::single_object().encode(&policy)?;
            let key = account_name_key(&policy.account, &policy.policy_id);
            send_with_retry(
                &self.producer,
                BaseRecord::to("sla-policies")
                    .key(key.as_str())
                    .payload(value.as_slice())
                    .timestamp(now.0),
            )?;
        }
        self.producer
            .flush(Duration::from_secs(10))
            .context("writing the style configs and SLA policies")?;
        let deadline = Instant::now() + Duration::from_secs(30);
        for (what, table) in [
            ("style configs", &observed.styles),
            ("SLA schedules", &observed.schedules),
            ("SLA policies", &observed.sla_policies),
        ] {
            loop {
                let applied = table.get().map_or(0, |s| s.applied.load(Ordering::SeqCst));
                if applied >= ACCOUNTS.len() as u64 {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(anyhow!(
                        "the tickets role applied {applied} of {} {what} within 30 s",
                        ACCOUNTS.len()
                    ));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }

        // Both hosts own their partitions before the first customer writes.
        let assigned = |metrics: &std::sync::OnceLock<Arc<parley_runtime::Metrics>>| {
            metrics.get().is_some_and(|m| {
                m.render()
                    .lines()
                    .any(|l| l.starts_with("parley_rebalances_total{kind=\"assigned\"}"))
            })
        };
        while !(assigned(&observed.tickets_metrics) && assigned(&observed.router_metrics)) {
            if Instant::now() > deadline {
                return Err(anyhow!(
                    "the tickets and router hosts were not assigned their partitions within 30 s"
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }

        // The timeline starts now: everything before was start-up.
        self.t0 = self.now();
        let t0 = self.t0.0;
        for agent in 0..self.agents.len() {
            let late = self.agents[agent].rng.chance(0.2);
            if late {
                let at = t0
                    + self.agents[agent]
                        .rng
                        .between(self.timeline.span / 20, self.timeline.span * 3 / 10);
                self.at(at, Event::Online { agent });
            } else {
                self.go_online(agent)?;
            }
        }
        for customer in 0..self.customers.len() {
            let at = t0
                + self.customers[customer]
                    .rng
                    .between(0, self.timeline.traffic_end);
            self.at(at, Event::Write { customer });
        }
        Ok(())
    }

    fn at(&mut self, at: i64, event: Event) {
        self.seq += 1;
        self.schedule.insert((at, self.seq), event);
    }

    pub(super) fn after(&mut self, ms: i64, event: Event) {
        let at = self.now().0 + ms;
        self.at(at, event);
    }

    // ---- what the view and the summary show ----

    pub(super) fn status_counts(&self) -> BTreeMap<Status, usize> {
        let mut counts = BTreeMap::new();
        for (_, status) in self.tickets.values() {
            *counts.entry(*status).or_default() += 1;
        }
        counts
    }

    pub(super) fn queue_length(&self) -> usize {
        self.tickets
            .iter()
            .filter(|(id, (_, status))| *status == Status::New && !self.offers.contains_key(*id))
            .count()
    }

    /// Load over capacity of every agent online on a channel, from the latest agent metrics.
    pub(super) fn utilisation(&self) -> (u64, u64) {
        self.latest_agents
            .values()
            .filter(|m| m.status == AgentStatus::Online)
            .fold((0, 0), |(load, capacity), m| {
                (load + u64::from(m.load), capacity + u64::from(m.capacity))
            })
    }
}
