//! Routing decisions per second for one account, at queue lengths of 1k, 10k and 100k
//! tickets with a tenth as many agents, under a churn of status and presence events.
//!
//! Every agent is full (capacity 3 on web) and the queue holds `n` tickets in a few
//! routing classes (no skill, `billing`, `german`; priorities 0 to 2). One iteration is ten
//! cycles on successive agents; a cycle releases one of the agent's tickets (Pending), which
//! offers the agent the head of the queue, the agent accepts, the released ticket closes
//! and a new ticket is queued. Every tenth cycle the agent also goes offline while the offer
//! is pending (withdrawn, requeued) and comes back (offered again). Ten cycles make 22
//! decisions (offered, assigned, offer_withdrawn), plus the agent metrics of every step;
//! the figure is decisions per second of that whole stream (requests built and fed,
//! effects returned, the dirty set taken).
//!
//! At 10,000 agents the same churn runs again with 20 custom queues configured: 19 that
//! match on a brand no ticket has, then one that takes every ticket for the group `all`,
//! which every agent is in; so each new ticket is matched against all 20 queues and routed
//! by group (`decisions_20_queues`).
//!
//! Two groups: `routing_churn` is criterion's usual wall-clock measurement;
//! `routing_churn_cpu` measures the same work in the thread's CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`), which is the cost on one core and stays meaningful on a
//! machine shared with other work.
//!
//! `cargo bench -p parley-benches --bench routing`

// criterion's macros define undocumented public functions.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use parley_core::routing::{
    QueueConditions, QueueDefinition, QueueRules, RoutingConfig, RoutingEngine,
};
use parley_core::{
    AgentPresence, AgentStatus, Channel, ChannelPresence, Millis, RoutingDecision,
    RoutingDecisionKind, RoutingRequest, RoutingRequestKind, Timestamp,
};
use std::collections::VecDeque;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The allocator the `parley` binary ships with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CAPACITY: u32 = 3;
const DECISIONS_PER_ITERATION: u64 = 22;

/// One account's router with every agent full and `queued` tickets waiting.
struct Churn {
    engine: RoutingEngine,
    agents: Vec<String>,
    held: Vec<VecDeque<String>>,
    next_ticket: u64,
    next_agent: usize,
    now: i64,
    seq: u64,
}

fn agent_skills(i: usize) -> Vec<String> {
    match i % 4 {
        0 => vec![],
        1 => vec!["billing".into()],
        2 => vec!["german".into()],
        _ => vec!["billing".into(), "german".into()],
    }
}

impl Churn {
    fn new(agents: usize, queued: usize, queues: bool) -> Churn {
        let mut engine = RoutingEngine::new("acme", RoutingConfig::default());
        if queues {
            engine.set_queues(twenty_queues());
        }
        let mut churn = Churn {
            engine,
            agents: (0..agents).map(|i| format!("agent-{i:06}")).collect(),
            held: vec![VecDeque::new(); agents],
            next_ticket: 0,
            next_agent: 0,
            now: 1_000_000,
            seq: 0,
        };
        for i in 0..agents {
            let _ = churn.presence(i, AgentStatus::Online);
        }
        // Fill every agent: each new ticket is offered to someone with room; accept it.
        for _ in 0..agents * CAPACITY as usize {
            let ticket = churn.new_ticket_id();
            let decisions = churn.request(&ticket, RoutingRequestKind::Enqueue, None);
            let agent = decisions[0].agent_id.clone().expect("an agent has room");
            let a: usize = agent["agent-".len()..].parse().unwrap();
            let _ = churn.request(&ticket, RoutingRequestKind::Accept, Some(a));
            churn.held[a].push_back(ticket);
        }
        for _ in 0..queued {
            let ticket = churn.new_ticket_id();
            assert!(churn
                .request(&ticket, RoutingRequestKind::Enqueue, None)
                .is_empty());
        }
        assert_eq!(churn.engine.queue().len(), queued);
        churn
    }

    fn new_ticket_id(&mut self) -> String {
        self.next_ticket += 1;
        format!("ticket-{:09}", self.next_ticket)
    }

    fn presence(&mut self, agent: usize, status: AgentStatus) -> Vec<RoutingDecision> {
        self.seq += 1;
        self.now += 1;
        let presence = AgentPresence {
            presence_id: format!("p{}", self.seq),
            account: "acme".into(),
            agent_id: self.agents[agent].clone(),
            channels: vec![ChannelPresence {
                channel: Channel::Web,
                status,
                capacity: CAPACITY,
            }],
            skills: agent_skills(agent),
            groups: vec!["all".into()],
            at: Timestamp(self.now),
        };
        self.engine
            .handle_presence(&presence, Timestamp(self.now))
            .decisions
    }

    fn request(
        &mut self,
        ticket: &str,
        kind: RoutingRequestKind,
        agent: Option<usize>,
    ) -> Vec<RoutingDecision> {
        self.seq += 1;
        self.now += 1;
        let n: u64 = ticket[7..].parse().unwrap();
        let skills = match n % 20 {
            0..=13 => vec![],
            14..=16 => vec!["billing".to_owned()],
            _ => vec!["german".to_owned()],
        };
        let request = RoutingRequest {
            request_id: format!("{ticket}.r{}", self.seq).into(),
            account: "acme".into(),
            conversation: ticket.into(),
            ticket_id: ticket.into(),
            kind,
            agent_id: agent.map(|a| self.agents[a].clone()),
            channel: Channel::Web,
            priority: (n % 3) as i32,
            required_skills: skills,
            group: None,
            brand: None,
            created_at: Timestamp(self.now),
            sla_breach_at: None,
            at: Timestamp(self.now),
        };
        self.engine
            .handle_request(&request, Timestamp(self.now))
            .decisions
    }

    /// One cycle on the next agent; returns how many decisions it made.
    fn cycle(&mut self, with_presence: bool) -> u64 {
        let a = self.next_agent;
        self.next_agent = (a + 1) % self.agents.len();
        let released = self.held[a].pop_front().expect("the agent is full");
        let mut decisions = self.request(&released, RoutingRequestKind::Release, Some(a));
        let mut count = decisions.len() as u64;
        if with_presence {
            count += self.presence(a, AgentStatus::Offline).len() as u64;
            decisions = self.presence(a, AgentStatus::Online);
            count += decisions.len() as u64;
        }
        let offered = offered_ticket(&decisions);
        count += self
            .request(&offered, RoutingRequestKind::Accept, Some(a))
            .len() as u64;
        self.held[a].push_back(offered);
        count += self
            .request(&released, RoutingRequestKind::Close, None)
            .len() as u64;
        let ticket = self.new_ticket_id();
        count += self
            .request(&ticket, RoutingRequestKind::Enqueue, None)
            .len() as u64;
        count
    }

    /// Ten cycles, the last with a presence change; then the host takes the dirty set, as
    /// it does after each batch to persist what changed.
    fn iteration(&mut self) -> u64 {
        let decisions = (0..10).map(|i| self.cycle(i == 9)).sum();
        black_box(self.engine.take_dirty());
        decisions
    }
}

/// 19 queues on a brand no ticket has, then one for every ticket, served by `all`.
fn twenty_queues() -> QueueRules {
    let queue = |i: i32, brands: Vec<String>| QueueDefinition {
        account: "acme".into(),
        queue_id: format!("queue-{i:02}"),
        position: i,
        priority: 1 + i,
        conditions: QueueConditions {
            brands,
            ..QueueConditions::default()
        },
        primary_group: "all".into(),
        secondary_groups: vec![],
        secondary_after_ms: Millis::ZERO,
        updated_at: Timestamp(0),
    };
    QueueRules::new(
        (0..20)
            .map(|i| {
                queue(
                    i,
                    if i < 19 {
                        vec![format!("brand-{i}")]
                    } else {
                        vec![]
                    },
                )
            })
            .collect(),
    )
}

fn offered_ticket(decisions: &[RoutingDecision]) -> String {
    decisions
        .iter()
        .rev()
        .find(|d| d.kind == RoutingDecisionKind::Offered)
        .expect("the freed agent is offered the head of the queue")
        .ticket_id
        .clone()
}

/// CPU time consumed by this thread so far.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux supports.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn routing_decisions(c: &mut Criterion) {
    let shapes = [
        (1_000usize, false),
        (10_000, false),
        (100_000, false),
        (100_000, true),
    ];
    for (queued, queues) in shapes {
        let agents = queued / 10;
        let mut churn = Churn::new(agents, queued, queues);
        assert_eq!(churn.iteration(), DECISIONS_PER_ITERATION);
        let id = if queues {
            format!("{agents}_agents_{queued}_queued_20_queues")
        } else {
            format!("{agents}_agents_{queued}_queued")
        };

        let mut wall = c.benchmark_group("routing_churn");
        wall.throughput(Throughput::Elements(DECISIONS_PER_ITERATION));
        wall.bench_with_input(BenchmarkId::new("decisions", &id), &queued, |b, _| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(churn.iteration());
                }
                start.elapsed()
            })
        });
        wall.finish();

        let mut cpu = c.benchmark_group("routing_churn_cpu");
        cpu.throughput(Throughput::Elements(DECISIONS_PER_ITERATION));
        cpu.bench_with_input(BenchmarkId::new("decisions", &id), &queued, |b, _| {
            b.iter_custom(|iters| {
                let start = thread_cpu_time();
                for _ in 0..iters {
                    black_box(churn.iteration());
                }
                thread_cpu_time() - start
            })
        });
        cpu.finish();
        assert_eq!(
            churn.engine.queue().len(),
            queued,
            "the churn keeps the queue length"
        );
    }
}

criterion_group!(benches, routing_decisions);
criterion_main!(benches);
