//! `parley demo`: the whole pipeline on librdkafka's mock cluster, driven by simulated
//! customers and agents on an accelerated clock, with a live view and a closing summary.
//!
//! Three accounts, one per conversational style, take messages on five channels as the
//! channels' own webhook bodies (`raw.<channel>`, through ingress). Agents go online and
//! offline, answer offers, reply, park tickets in Pending or On-hold and solve them;
//! customers write back, return to a solved ticket (a reopen) or after it closed (a
//! follow-up). Everything the demo produces carries the scaled clock's time, which is also
//! the tickets and router hosts' processing clock.
//!
//! The simulated people act only on what the pipeline has published (status changes and
//! routing decisions), the way an agent workspace would, so nothing they send is refused:
//! an offer is answered only once the tickets processor has committed past it, an agent
//! acts only on a ticket it is the assignee of, one status change at a time, and takes a
//! break only with no offer open and shorter than the returning-customer grace.

use crate::embedded::{Embedded, EmbeddedOptions, Observed, StateDir};
use crate::options::parse_duration;
use anyhow::{anyhow, Context};
use parley_core::routing::RoutingConfig;
use parley_core::*;
use parley_runtime::clock::ScaledClock;
use parley_runtime::codec::{AvroCodec, AvroRecord};
use parley_runtime::{Clock, SystemClock};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::DefaultProducerContext;
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
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

/// One demo account: its style and the channels its customers write on.
#[derive(Clone, Copy, Debug)]
struct AccountPlan {
    account: &'static str,
    style: Style,
    channels: &'static [Channel],
    /// Share of the customers, in percent.
    share: u32,
}

const ACCOUNTS: [AccountPlan; 3] = [
    AccountPlan {
        account: "bikeshop",
        style: Style::LiveChat,
        channels: &[Channel::Web, Channel::Messenger],
        share: 30,
    },
    AccountPlan {
        account: "travelco",
        style: Style::LiveChatReturning,
        channels: &[Channel::Web, Channel::Whatsapp, Channel::Line],
        share: 30,
    },
    AccountPlan {
        account: "telco",
        style: Style::SocialMessaging,
        channels: &[
            Channel::Whatsapp,
            Channel::Messenger,
            Channel::Telegram,
            Channel::Line,
        ],
        share: 40,
    },
];

/// Every agent's capacity on each of its account's channels.
const CAPACITY: u32 = 2;

const FIRST_NAMES: [&str; 26] = [
    "ana", "ben", "chloe", "dev", "eli", "fay", "gus", "hana", "ivan", "jo", "kai", "lea", "max",
    "nia", "omar", "pia", "quinn", "rui", "sam", "tara", "uma", "vic", "wen", "xia", "yuri", "zoe",
];

const CUSTOMER_NAMES: [&str; 12] = [
    "Ana Souza",
    "Lena Fischer",
    "Mila Novak",
    "Kenji Sato",
    "Priya Nair",
    "Tom Baker",
    "Ines Garcia",
    "Omar Haddad",
    "Sofia Rossi",
    "Jonas Berg",
    "Aiko Tanaka",
    "Lucas Martin",
];

const OPENERS: [&str; 8] = [
    "Hi, my order 4417 has not arrived yet",
    "Hello, can I change my booking to Friday?",
    "My invoice shows the wrong amount",
    "The app keeps logging me out",
    "Do you ship to Portugal?",
    "I was charged twice this month",
    "How do I reset my password?",
    "Is the store open on Sunday?",
];

const REPLIES: [&str; 6] = [
    "Thanks, here is the number you asked for: 88213",
    "Yes, that is right",
    "I tried that and it still does not work",
    "OK, I will wait",
    "It was yesterday around 5pm",
    "Great, that fixed it, thank you!",
];

/// The simulated time scale of a run, all in simulated milliseconds.
#[derive(Clone, Copy, Debug)]
struct Timeline {
    /// The whole run.
    span: i64,
    /// New customers and returns start only before this.
    traffic_end: i64,
    /// live_chat_returning's solved-to-closed gap.
    returning_gap: Millis,
    /// social_messaging's solved-to-closed gap.
    social_gap: Millis,
    /// The router's offer timeout: long enough that the pipeline's latency never makes an
    /// answer late.
    offer_timeout: Millis,
    /// The router's returning-customer grace: longer than any break plus the latency.
    returning_grace: Millis,
}

impl Timeline {
    fn new(duration: Millis, speed: u32) -> Timeline {
        let speed = i64::from(speed);
        let span = duration.0 * speed;
        let whole_seconds = |ms: i64| Millis(ms / 1_000 * 1_000);
        Timeline {
            span,
            traffic_end: span * 7 / 10,
            returning_gap: whole_seconds((span / 24).max(30_000)),
            social_gap: whole_seconds((span / 8).max(60_000)),
            offer_timeout: Millis((4_000 * speed).max(120_000)),
            returning_grace: Millis(600_000 + 2_000 * speed),
        }
    }

    fn gap(&self, style: Style) -> Option<Millis> {
        match style {
            Style::LiveChat => None,
            Style::LiveChatReturning => Some(self.returning_gap),
            Style::SocialMessaging => Some(self.social_gap),
        }
    }
}

/// A small deterministic random source (xorshift64*, seeded through splitmix64).
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo).max(0) as u64 + 1) as i64
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// Where a customer's current episode stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Not waiting on anything.
    Idle,
    /// The customer wrote last: the assignee replies next.
    AgentTurn,
    /// The agent replied and the customer will write back.
    CustomerTurn,
    /// The agent replied last and will solve.
    Wrapping,
    /// The agent put the ticket on hold and will come back to solve it.
    Held,
}

/// A ticket as the status changes show it.
#[derive(Clone, Debug)]
struct Seen {
    id: String,
    style: Style,
    status: Status,
    assignee: Option<String>,
}

#[derive(Debug)]
struct Customer {
    account: usize,
    channel: Channel,
    conversation: String,
    name: &'static str,
    rng: Rng,
    phase: Phase,
    rounds_left: u32,
    held: bool,
    ticket: Option<Seen>,
    /// A status the assignee set that the status changes do not show yet.
    in_flight: Option<Status>,
    work_scheduled: bool,
}

#[derive(Debug)]
struct Agent {
    id: String,
    account: usize,
    online: bool,
    /// Offers the agent will answer.
    answering: u32,
    /// Offers accepted and not yet seen assigned, by ticket, with when.
    accepting: HashMap<String, Timestamp>,
    rng: Rng,
}

/// An offer seen on `routing-decisions`, where it sits.
#[derive(Debug)]
struct Offer {
    agent: String,
    customer: usize,
    partition: i32,
    offset: i64,
    seen: Timestamp,
}

/// Something a simulated person does at a simulated time.
#[derive(Debug)]
enum Event {
    /// The customer writes a message.
    Write { customer: usize },
    /// The assignee takes the next step on the customer's ticket.
    Work { customer: usize, ticket: String },
    /// An agent answers an offer.
    Answer {
        agent: usize,
        ticket: String,
        accept: bool,
    },
    /// An agent goes offline for a break.
    Break { agent: usize },
    /// An agent comes (back) online.
    Online { agent: usize },
}

/// What the demo has produced.
#[derive(Clone, Copy, Debug, Default)]
struct Produced {
    webhooks: u64,
    redeliveries: u64,
    actions: u64,
    presences: u64,
}

/// What the demo has read from the output topics.
#[derive(Debug, Default)]
struct Read {
    status_changes: Vec<StatusChange>,
    ticket_metrics: Vec<TicketMetrics>,
    agent_metrics: Vec<AgentMetrics>,
    dlq_reasons: BTreeMap<String, u64>,
    records: u64,
}

impl Read {
    fn dlq(&self) -> u64 {
        self.dlq_reasons.values().sum()
    }
}

/// The output topics the demo reads.
const READ_TOPICS: [&str; 5] = [
    "ticket-status-changes",
    "routing-decisions",
    "ticket-metrics",
    "agent-metrics",
    "dlq",
];

/// The simulation: customers, agents, their schedule and what the pipeline has shown.
struct World {
    clock: ScaledClock,
    t0: Timestamp,
    timeline: Timeline,
    partitions: i32,
    seed: u64,
    customers: Vec<Customer>,
    by_key: HashMap<String, usize>,
    agents: Vec<Agent>,
    agent_index: HashMap<String, usize>,
    schedule: BTreeMap<(i64, u64), Event>,
    seq: u64,
    offers: HashMap<String, Offer>,
    tickets: HashMap<String, (Style, Status)>,
    latest_agents: HashMap<(String, Channel), AgentMetrics>,
    producer: ThreadedProducer<DefaultProducerContext>,
    reader: BaseConsumer,
    committed_reader: BaseConsumer,
    /// The tickets processor's committed offset on each routing-decisions partition.
    committed: Vec<i64>,
    committed_at: Instant,
    produced: Produced,
    read: Read,
    messages: u64,
    actions: u64,
    presences: u64,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("customers", &self.customers.len())
            .field("agents", &self.agents.len())
            .finish_non_exhaustive()
    }
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
            Ok(world.summary())
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

fn send_with_retry(
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
    fn new(
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

        let mut rng = Rng::new(seed);
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
                rng: Rng::new(seed ^ index.wrapping_mul(0x9E37_79B9)),
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
                    format!("{}/{}", ACCOUNTS[c.account].account, c.conversation),
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
                    rng: Rng::new(seed ^ 0xA6E7 ^ (plan_agents.len() as u64) << 20),
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

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Writes the accounts' styles and waits until the tickets role has applied them, then
    /// plans the first contacts and the agents' shifts.
    fn configure(&mut self, observed: &Observed) -> anyhow::Result<()> {
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
        self.producer
            .flush(Duration::from_secs(10))
            .context("writing the style configs")?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let applied = observed
                .styles
                .get()
                .map_or(0, |s| s.applied.load(Ordering::SeqCst));
            if applied >= ACCOUNTS.len() as u64 {
                break;
            }
            if Instant::now() > deadline {
                return Err(anyhow!(
                    "the tickets role applied {applied} of {} style configs within 30 s",
                    ACCOUNTS.len()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
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

    fn after(&mut self, ms: i64, event: Event) {
        let at = self.now().0 + ms;
        self.at(at, event);
    }

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

    // ---- reading the pipeline's outputs ----

    fn read_outputs(&mut self) -> anyhow::Result<()> {
        for _ in 0..10_000 {
            let Some(message) = self.reader.poll(Duration::ZERO) else {
                break;
            };
            let message = match message {
                Ok(message) => message,
                Err(error) => {
                    tracing::warn!(%error, "demo reader");
                    continue;
                }
            };
            self.read.records += 1;
            let payload = message.payload().unwrap_or_default();
            match message.topic() {
                "ticket-status-changes" => {
                    let change = decode::<StatusChange>(payload)?;
                    self.observe_change(&change);
                    self.read.status_changes.push(change);
                }
                "routing-decisions" => {
                    let decision = decode::<RoutingDecision>(payload)?;
                    self.observe_decision(&decision, message.partition(), message.offset());
                }
                "ticket-metrics" => self.read.ticket_metrics.push(decode(payload)?),
                "agent-metrics" => {
                    let metrics: AgentMetrics = decode(payload)?;
                    self.latest_agents
                        .insert((metrics.agent_id.clone(), metrics.channel), metrics.clone());
                    self.read.agent_metrics.push(metrics);
                }
                _ => {
                    let reason = message
                        .headers()
                        .and_then(|headers| {
                            headers
                                .iter()
                                .find(|h| h.key == parley_runtime::dlq::headers::REASON)
                                .and_then(|h| h.value)
                                .map(|v| String::from_utf8_lossy(v).into_owned())
                        })
                        .unwrap_or_else(|| "unknown".to_owned());
                    *self.read.dlq_reasons.entry(reason).or_default() += 1;
                }
            }
        }
        Ok(())
    }

    fn observe_change(&mut self, change: &StatusChange) {
        self.tickets
            .insert(change.ticket_id.clone(), (change.style, change.to));
        let key = format!("{}/{}", change.account, change.conversation);
        let Some(&index) = self.by_key.get(&key) else {
            return;
        };
        let customer = &mut self.customers[index];
        if change.to == Status::Closed {
            if customer
                .ticket
                .as_ref()
                .is_some_and(|t| t.id == change.ticket_id)
            {
                customer.ticket = None;
            }
        } else {
            customer.ticket = Some(Seen {
                id: change.ticket_id.clone(),
                style: change.style,
                status: change.to,
                assignee: change.assignee.clone(),
            });
        }
        if customer.in_flight == Some(change.to)
            || (change.to == Status::Closed && customer.in_flight.is_some())
        {
            customer.in_flight = None;
        }
        self.maybe_schedule_work(index);
    }

    /// Schedules the assignee's next step if the customer's episode waits on them and the
    /// ticket shows who they are.
    fn maybe_schedule_work(&mut self, index: usize) {
        let customer = &self.customers[index];
        if customer.work_scheduled || customer.in_flight.is_some() {
            return;
        }
        let Some(ticket) = &customer.ticket else {
            return;
        };
        if ticket.assignee.is_none() {
            return;
        }
        let waits = match customer.phase {
            Phase::AgentTurn => matches!(
                ticket.status,
                Status::Open | Status::Pending | Status::OnHold
            ),
            Phase::Wrapping => ticket.status == Status::Open,
            Phase::Held => ticket.status == Status::OnHold,
            Phase::Idle | Phase::CustomerTurn => false,
        };
        if !waits {
            return;
        }
        let ticket = ticket.id.clone();
        let delay = self.customers[index].rng.between(15_000, 75_000);
        self.customers[index].work_scheduled = true;
        self.after(
            delay,
            Event::Work {
                customer: index,
                ticket,
            },
        );
    }

    fn observe_decision(&mut self, decision: &RoutingDecision, partition: i32, offset: i64) {
        let now = self.now();
        let agent = decision
            .agent_id
            .as_deref()
            .and_then(|id| self.agent_index.get(id).copied());
        match decision.kind {
            RoutingDecisionKind::Offered => {
                let key = format!("{}/{}", decision.account, decision.conversation);
                let (Some(agent), Some(&customer)) = (agent, self.by_key.get(&key)) else {
                    return;
                };
                self.offers.insert(
                    decision.ticket_id.clone(),
                    Offer {
                        agent: self.agents[agent].id.clone(),
                        customer,
                        partition,
                        offset,
                        seen: now,
                    },
                );
                let a = &mut self.agents[agent];
                // An agent on a break does not see offers: the router withdraws them.
                if !a.online || a.rng.chance(0.03) {
                    return;
                }
                let accept = !a.rng.chance(0.06);
                let delay = a.rng.between(3_000, 15_000);
                a.answering += 1;
                self.after(
                    delay,
                    Event::Answer {
                        agent,
                        ticket: decision.ticket_id.clone(),
                        accept,
                    },
                );
            }
            RoutingDecisionKind::OfferWithdrawn | RoutingDecisionKind::Assigned => {
                if self
                    .offers
                    .get(&decision.ticket_id)
                    .is_some_and(|o| Some(o.agent.as_str()) == decision.agent_id.as_deref())
                {
                    self.offers.remove(&decision.ticket_id);
                }
                if let Some(agent) = agent {
                    self.agents[agent].accepting.remove(&decision.ticket_id);
                }
            }
            RoutingDecisionKind::Unassigned => {
                let key = format!("{}/{}", decision.account, decision.conversation);
                if let Some(&index) = self.by_key.get(&key) {
                    if let Some(ticket) = self.customers[index].ticket.as_mut() {
                        if ticket.id == decision.ticket_id {
                            ticket.assignee = None;
                        }
                    }
                }
            }
        }
    }

    /// Whether the tickets processor has committed past `offset` of routing-decisions'
    /// `partition`: then it has applied the decision there.
    fn committed_past(&mut self, partition: i32, offset: i64) -> bool {
        if self.committed[partition as usize] > offset {
            return true;
        }
        if self.committed_at.elapsed() >= Duration::from_millis(50) {
            self.committed_at = Instant::now();
            let mut list = TopicPartitionList::new();
            for p in 0..self.partitions {
                let _ = list.add_partition("routing-decisions", p);
            }
            if let Ok(list) = self
                .committed_reader
                .committed_offsets(list, Duration::from_secs(2))
            {
                for element in list.elements() {
                    if let Offset::Offset(at) = element.offset() {
                        self.committed[element.partition() as usize] = at;
                    }
                }
            }
        }
        self.committed[partition as usize] > offset
    }

    // ---- the simulated people ----

    fn handle(&mut self, event: Event, now: Timestamp) -> anyhow::Result<()> {
        match event {
            Event::Write { customer } => self.write(customer, now),
            Event::Work { customer, ticket } => self.work(customer, &ticket, now),
            Event::Answer {
                agent,
                ticket,
                accept,
            } => self.answer(agent, &ticket, accept, now),
            Event::Break { agent } => self.take_break(agent, now),
            Event::Online { agent } => self.go_online(agent),
        }
    }

    fn write(&mut self, index: usize, now: Timestamp) -> anyhow::Result<()> {
        let customer = &mut self.customers[index];
        let text = match customer.phase {
            Phase::Idle => {
                customer.rounds_left = match customer.rng.below(10) {
                    0..=3 => 0,
                    4..=7 => 1,
                    _ => 2,
                };
                customer.held = false;
                customer.rng.pick(&OPENERS)
            }
            Phase::CustomerTurn => customer.rng.pick(&REPLIES),
            // Already waiting on the agent: nothing new to say.
            Phase::AgentTurn | Phase::Wrapping | Phase::Held => return Ok(()),
        };
        customer.phase = Phase::AgentTurn;
        let redeliver = customer.rng.chance(0.03);
        self.messages += 1;
        let plan = ACCOUNTS[customer.account];
        let body = webhook(
            customer.channel,
            &customer.conversation,
            customer.name,
            self.messages,
            text,
            now,
        );
        let topic = format!("raw.{}", customer.channel.as_str());
        let headers = OwnedHeaders::new().insert(Header {
            key: parley_ingress::stage::ACCOUNT_HEADER,
            value: Some(plan.account),
        });
        for _ in 0..if redeliver { 2 } else { 1 } {
            send_with_retry(
                &self.producer,
                BaseRecord::to(&topic)
                    .key(customer.conversation.as_str())
                    .payload(body.as_bytes())
                    .headers(headers.clone())
                    .timestamp(now.0),
            )?;
        }
        self.produced.webhooks += 1;
        if redeliver {
            self.produced.redeliveries += 1;
        }
        self.maybe_schedule_work(index);
        Ok(())
    }

    fn action(
        &mut self,
        index: usize,
        agent_id: &str,
        kind: AgentActionKind,
        status: Option<Status>,
        now: Timestamp,
    ) -> anyhow::Result<()> {
        self.actions += 1;
        let customer = &self.customers[index];
        let account = ACCOUNTS[customer.account].account;
        let action = AgentAction {
            action_id: format!("demo-action-{}", self.actions),
            account: account.to_owned(),
            conversation: customer.conversation.clone(),
            agent_id: agent_id.to_owned(),
            kind,
            status,
            at: now,
        };
        let value = AvroCodec::<AgentAction>::single_object().encode(&action)?;
        let key = format!("{account}/{}", customer.conversation);
        send_with_retry(
            &self.producer,
            BaseRecord::to("agent-actions")
                .key(key.as_str())
                .payload(value.as_slice())
                .timestamp(now.0),
        )?;
        self.produced.actions += 1;
        if kind == AgentActionKind::SetStatus {
            self.customers[index].in_flight = status;
        }
        Ok(())
    }

    /// The assignee's next step on a customer's ticket.
    fn work(&mut self, index: usize, ticket_id: &str, now: Timestamp) -> anyhow::Result<()> {
        self.customers[index].work_scheduled = false;
        let Some(ticket) = self.customers[index]
            .ticket
            .clone()
            .filter(|t| t.id == ticket_id)
        else {
            return Ok(());
        };
        let Some(agent) = ticket
            .assignee
            .as_deref()
            .and_then(|id| self.agent_index.get(id).copied())
        else {
            return Ok(());
        };
        let retry = |world: &mut World, delay: i64| {
            world.customers[index].work_scheduled = true;
            world.after(
                delay,
                Event::Work {
                    customer: index,
                    ticket: ticket_id.to_owned(),
                },
            );
        };
        if !self.agents[agent].online || self.customers[index].in_flight.is_some() {
            retry(self, 20_000);
            return Ok(());
        }
        let agent_id = self.agents[agent].id.clone();
        let phase = self.customers[index].phase;
        match (ticket.status, phase) {
            (Status::Pending | Status::OnHold, Phase::AgentTurn) => {
                // The customer wrote while the ticket was parked: take it back first.
                self.action(
                    index,
                    &agent_id,
                    AgentActionKind::SetStatus,
                    Some(Status::Open),
                    now,
                )?;
                let delay = self.customers[index].rng.between(5_000, 20_000);
                retry(self, delay);
            }
            (Status::Open, Phase::AgentTurn) => {
                self.action(index, &agent_id, AgentActionKind::Reply, None, now)?;
                let customer = &mut self.customers[index];
                if customer.rounds_left > 0 {
                    customer.rounds_left -= 1;
                    customer.phase = Phase::CustomerTurn;
                    let delay = customer.rng.between(20_000, 150_000);
                    let park = ticket.style == Style::SocialMessaging && customer.rng.chance(0.5);
                    self.after(delay, Event::Write { customer: index });
                    if park {
                        self.action(
                            index,
                            &agent_id,
                            AgentActionKind::SetStatus,
                            Some(Status::Pending),
                            now,
                        )?;
                    }
                } else {
                    customer.phase = Phase::Wrapping;
                    let delay = customer.rng.between(20_000, 90_000);
                    retry(self, delay);
                }
            }
            (Status::Open, Phase::Wrapping) => {
                let customer = &mut self.customers[index];
                if ticket.style != Style::LiveChat && !customer.held && customer.rng.chance(0.2) {
                    customer.held = true;
                    customer.phase = Phase::Held;
                    let delay = customer.rng.between(90_000, 300_000);
                    self.action(
                        index,
                        &agent_id,
                        AgentActionKind::SetStatus,
                        Some(Status::OnHold),
                        now,
                    )?;
                    retry(self, delay);
                } else {
                    self.solve(index, &agent_id, ticket.style, now)?;
                }
            }
            (Status::OnHold, Phase::Held) => {
                self.action(index, &agent_id, AgentActionKind::Reply, None, now)?;
                self.solve(index, &agent_id, ticket.style, now)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn solve(
        &mut self,
        index: usize,
        agent_id: &str,
        style: Style,
        now: Timestamp,
    ) -> anyhow::Result<()> {
        self.action(
            index,
            agent_id,
            AgentActionKind::SetStatus,
            Some(Status::Solved),
            now,
        )?;
        let timeline = self.timeline;
        let customer = &mut self.customers[index];
        customer.phase = Phase::Idle;
        // Some customers come back: within the solved-to-closed gap the ticket reopens,
        // after it a follow-up ticket starts.
        if customer.rng.chance(0.35) {
            let delay = match timeline.gap(style) {
                None => customer.rng.between(60_000, 600_000),
                Some(gap) => customer.rng.between(gap.0 / 4, gap.0 * 5 / 2),
            };
            if now.0 + delay < self.t0.0 + timeline.traffic_end {
                self.after(delay, Event::Write { customer: index });
            }
        }
        Ok(())
    }

    fn answer(
        &mut self,
        agent: usize,
        ticket: &str,
        accept: bool,
        now: Timestamp,
    ) -> anyhow::Result<()> {
        let current = self
            .offers
            .get(ticket)
            .filter(|o| o.agent == self.agents[agent].id)
            .map(|o| (o.customer, o.partition, o.offset, o.seen));
        let Some((customer, partition, offset, seen)) = current else {
            self.agents[agent].answering -= 1;
            return Ok(());
        };
        if !self.committed_past(partition, offset) {
            if now.since(seen).0 < self.timeline.offer_timeout.0 / 2 {
                // The tickets processor has not applied the offer yet: answer a moment later.
                let delay = i64::from(self.clock.speed()) * 100;
                self.after(
                    delay,
                    Event::Answer {
                        agent,
                        ticket: ticket.to_owned(),
                        accept,
                    },
                );
            } else {
                self.agents[agent].answering -= 1;
            }
            return Ok(());
        }
        self.agents[agent].answering -= 1;
        let agent_id = self.agents[agent].id.clone();
        if accept {
            self.agents[agent].accepting.insert(ticket.to_owned(), now);
            self.action(customer, &agent_id, AgentActionKind::Accept, None, now)
        } else {
            self.offers.remove(ticket);
            self.action(customer, &agent_id, AgentActionKind::Decline, None, now)
        }
    }

    fn presence(&mut self, agent: usize, status: AgentStatus) -> anyhow::Result<()> {
        let now = self.now();
        self.presences += 1;
        let a = &self.agents[agent];
        let plan = ACCOUNTS[a.account];
        let presence = AgentPresence {
            presence_id: format!("demo-presence-{}", self.presences),
            account: plan.account.to_owned(),
            agent_id: a.id.clone(),
            channels: plan
                .channels
                .iter()
                .map(|&channel| ChannelPresence {
                    channel,
                    status,
                    capacity: CAPACITY,
                })
                .collect(),
            skills: Vec::new(),
            groups: Vec::new(),
            at: now,
        };
        let value = AvroCodec::<AgentPresence>::single_object().encode(&presence)?;
        send_with_retry(
            &self.producer,
            BaseRecord::to("agent-presence")
                .key(plan.account)
                .payload(value.as_slice())
                .timestamp(now.0),
        )?;
        self.produced.presences += 1;
        Ok(())
    }

    fn go_online(&mut self, agent: usize) -> anyhow::Result<()> {
        self.presence(agent, AgentStatus::Online)?;
        self.agents[agent].online = true;
        let delay = self.agents[agent].rng.between(360_000, 1_080_000);
        self.after(delay, Event::Break { agent });
        Ok(())
    }

    fn take_break(&mut self, agent: usize, now: Timestamp) -> anyhow::Result<()> {
        if now.0 >= self.t0.0 + self.timeline.traffic_end {
            return Ok(());
        }
        let recent = Millis(self.timeline.offer_timeout.0);
        let a = &self.agents[agent];
        let busy = a.answering > 0 || a.accepting.values().any(|at| now.since(*at) < recent);
        if busy {
            self.after(30_000, Event::Break { agent });
            return Ok(());
        }
        self.presence(agent, AgentStatus::Offline)?;
        let a = &mut self.agents[agent];
        a.online = false;
        a.accepting.clear();
        let back = a.rng.between(60_000, 240_000);
        self.after(back, Event::Online { agent });
        Ok(())
    }

    // ---- what the view and the summary show ----

    fn status_counts(&self) -> BTreeMap<Status, usize> {
        let mut counts = BTreeMap::new();
        for (_, status) in self.tickets.values() {
            *counts.entry(*status).or_default() += 1;
        }
        counts
    }

    fn queue_length(&self) -> usize {
        self.tickets
            .iter()
            .filter(|(id, (_, status))| *status == Status::New && !self.offers.contains_key(*id))
            .count()
    }

    /// Load over capacity of every agent online on a channel, from the latest agent metrics.
    fn utilisation(&self) -> (u64, u64) {
        self.latest_agents
            .values()
            .filter(|m| m.status == AgentStatus::Online)
            .fold((0, 0), |(load, capacity), m| {
                (load + u64::from(m.load), capacity + u64::from(m.capacity))
            })
    }

    fn summary(&self) -> String {
        summarise(self)
    }
}

fn decode<T: AvroRecord>(bytes: &[u8]) -> anyhow::Result<T> {
    AvroCodec::<T>::single_object()
        .decode(bytes)
        .map_err(|e| anyhow!("an output record the demo cannot decode: {e}"))
}

/// A customer's id on the channel: the form each channel uses.
fn conversation_id(channel: Channel, index: u64) -> String {
    match channel {
        Channel::Whatsapp => format!("{}", 5_511_900_000_000u64 + index),
        Channel::Messenger => format!("{}", 6_783_920_100_000_000u64 + index),
        Channel::Telegram => format!("{}", 5_000_000_000u64 + index),
        Channel::Line => format!(
            "U{:032x}",
            0xb7c5_a2f4_d3e1_c0b9_a8f7_e6d5_c4b3_0000u128 + u128::from(index)
        ),
        _ => format!("64b7{:020x}", index),
    }
}

/// A text message as `channel` posts it to its webhook, `n` making its ids unique.
fn webhook(
    channel: Channel,
    conversation: &str,
    name: &str,
    n: u64,
    text: &str,
    now: Timestamp,
) -> String {
    let ms = now.0;
    let secs = ms / 1_000;
    match channel {
        Channel::Whatsapp => format!(
            r#"{{"object":"whatsapp_business_account","entry":[{{"id":"102290129340398","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550783881","phone_number_id":"106540352242922"}},"contacts":[{{"profile":{{"name":"{name}"}},"wa_id":"{conversation}"}}],"messages":[{{"from":"{conversation}","id":"wamid.demo{n}","timestamp":"{secs}","text":{{"body":"{text}"}},"type":"text"}}]}}}}]}}]}}"#
        ),
        Channel::Messenger => format!(
            r#"{{"object":"page","entry":[{{"id":"110385718390017","time":{ms},"messaging":[{{"sender":{{"id":"{conversation}"}},"recipient":{{"id":"110385718390017"}},"timestamp":{ms},"message":{{"mid":"m_demo{n}","text":"{text}"}}}}]}}]}}"#
        ),
        Channel::Telegram => format!(
            r#"{{"update_id":{n},"message":{{"message_id":{n},"from":{{"id":{conversation},"is_bot":false,"first_name":"{name}"}},"chat":{{"id":{conversation},"first_name":"{name}","type":"private"}},"date":{secs},"text":"{text}"}}}}"#
        ),
        Channel::Line => format!(
            r#"{{"destination":"U4af4980629e0a1b2c3d4e5f6a7b8c9d0","events":[{{"type":"message","mode":"active","timestamp":{ms},"source":{{"type":"user","userId":"{conversation}"}},"webhookEventId":"demo{n}","deliveryContext":{{"isRedelivery":false}},"replyToken":"token{n}","message":{{"id":"{n}","type":"text","text":"{text}"}}}}]}}"#
        ),
        _ => {
            let at = Timestamp(ms).to_rfc3339();
            format!(
                r#"{{"app":{{"id":"64b7f0c2e4b0a1d2c3e4f5a6"}},"webhook":{{"id":"64b7f0d9e4b0a1d2c3e4f5b7","version":"v2"}},"events":[{{"id":"ev{n}","createdAt":"{at}","type":"conversation:message","payload":{{"conversation":{{"id":"{conversation}","type":"personal"}},"message":{{"id":"demo{n}","received":"{at}","author":{{"type":"user","userId":"u{conversation}","displayName":"{name}","user":{{"id":"u{conversation}"}}}},"content":{{"type":"text","text":"{text}"}},"source":{{"type":"{}","integrationId":"64b7f0c5e4b0a1d2c3e4f5a9"}}}}}}}}]}}"#,
                channel.as_str()
            )
        }
    }
}

/// `ms` as `1h02m03s`, `4m05s` or `17s`.
fn clock_span(ms: i64) -> String {
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
struct LiveView {
    terminal: bool,
    drawn_lines: usize,
    last: Option<Instant>,
    last_in: f64,
    last_webhooks: u64,
    every: Duration,
}

impl LiveView {
    fn new(terminal: bool) -> LiveView {
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

    fn tick(
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

/// The closing summary, from the metrics topics, the status changes and the DLQ.
fn summarise(world: &World) -> String {
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
        let newer = latest.get(metrics.ticket_id.as_str()).is_none_or(|seen| {
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
    fn every_demo_webhook_normalises_to_one_event_of_its_customer() {
        let normaliser = parley_ingress::Normaliser::new(parley_ingress::IngressConfig::default());
        let now = Timestamp(1_732_100_000_125);
        for (index, channel) in [
            Channel::Web,
            Channel::Whatsapp,
            Channel::Messenger,
            Channel::Telegram,
            Channel::Line,
        ]
        .into_iter()
        .enumerate()
        {
            let conversation = conversation_id(channel, index as u64);
            let body = webhook(channel, &conversation, "Ana Souza", 7, "Hello there", now);
            let outcome = normaliser
                .normalise(&parley_ingress::RawRecord {
                    channel,
                    payload: body.as_bytes(),
                    account_header: Some("telco"),
                    timestamp: now,
                })
                .unwrap_or_else(|e| panic!("{channel}: {e}\n{body}"));
            assert_eq!(outcome.events.len(), 1, "{channel}");
            let event = &outcome.events[0];
            assert_eq!(
                (
                    event.account.as_str(),
                    event.conversation.as_str(),
                    event.channel
                ),
                ("telco", conversation.as_str(), channel)
            );
            assert_eq!(event.text.as_deref(), Some("Hello there"));
        }
    }

    #[test]
    fn the_timeline_fits_closes_into_the_run_and_keeps_gaps_legal() {
        let timeline = Timeline::new(Millis::seconds(10), 180);
        assert_eq!(timeline.span, 1_800_000);
        assert!(timeline.social_gap.0 < timeline.span - timeline.traffic_end);
        assert!(timeline.returning_gap < timeline.social_gap);
        for plan in &ACCOUNTS {
            parley_core::style::validate_gap(plan.style, timeline.gap(plan.style)).unwrap();
        }
        // A break (at most 4 minutes) always ends before the returning-customer grace.
        assert!(timeline.returning_grace > Millis::minutes(4));
    }

    #[test]
    fn the_seeded_source_repeats_and_stays_in_range() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..1_000 {
            let x = a.between(3, 9);
            assert_eq!(x, b.between(3, 9));
            assert!((3..=9).contains(&x));
        }
        assert_ne!(Rng::new(1).next(), Rng::new(2).next());
    }

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let mut values = vec![50, 10, 40, 20, 30];
        assert_eq!(percentile(&mut values, 50), Some(30));
        assert_eq!(percentile(&mut values, 90), Some(50));
        assert_eq!(percentile(&mut [], 50), None);
    }

    #[test]
    fn metric_sums_add_every_labelled_sample() {
        let text = "# HELP x\nparley_records_in_total{topic=\"a\"} 3\nparley_records_in_total{topic=\"b\"} 4\nparley_timers_pending 5\nparley_timers_pending_other 9\n";
        assert_eq!(metric_sum(text, "parley_records_in_total"), 7.0);
        assert_eq!(metric_sum(text, "parley_timers_pending"), 5.0);
    }
}
