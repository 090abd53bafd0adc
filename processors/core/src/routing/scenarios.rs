//! The data-driven scenario runner: every `testdata/routing/*.txt` file is a script of
//! commands, each followed by `----` and the output it must produce.
//!
//! The runner plays the host: it keeps the timers the engine sets and fires them on
//! `advance`. Each file runs twice, once on one engine and once persisting every step's
//! dirty records to a map and restoring a fresh engine from that map before the next
//! command, and both runs must print the expected output.
//!
//! ```text
//! config offer_timeout=30s returning_grace=10m skills_timeout=1m auto_accept=web mode=round_robin
//!        away_after_offer_timeouts=3 queue_order=sla
//! presence a1 web=online:2 whatsapp=away:1 skills=billing groups=vip
//! enqueue t1 channel=web priority=1 skills=billing group=vip created=5s sla=20m
//! accept t1 a1 | decline t1 a1 | consume t1 a1 | release t1 a1 | assign t1 a1 | close t1
//! update t1 priority=2 sla=none   (new priority or SLA breach time; sla=none: no target)
//! inactive t1 a1        (the conversation went quiet)
//! advance 30s           (fires due timers, prints what they decide)
//! ticket t1             (prints where the ticket is)
//! agent a1 web          (prints the agent's figures on a channel)
//! ```
//!
//! Decisions print as `<kind> <ticket> <agent> <reason>`, rejections as `rejected: <why>`,
//! nothing as `ok`. Set `PARLEY_REWRITE_TESTDATA=1` to rewrite the expected outputs.

use super::*;
use crate::model::*;
use crate::time::{Millis, Timestamp};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const ACCOUNT: &str = "acme";

fn duration(text: &str) -> Millis {
    let (digits, unit): (String, String) = text.chars().partition(|c| c.is_ascii_digit());
    let n: i64 = digits
        .parse()
        .unwrap_or_else(|_| panic!("bad duration {text:?}"));
    match unit.as_str() {
        "" | "ms" => Millis(n),
        "s" => Millis::seconds(n),
        "m" => Millis::minutes(n),
        "h" => Millis::hours(n),
        "d" => Millis::days(n),
        _ => panic!("bad duration unit in {text:?}"),
    }
}

fn list(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn channel(text: &str) -> Channel {
    Channel::parse(text).unwrap_or_else(|| panic!("unknown channel {text:?}"))
}

fn agent_status(text: &str) -> AgentStatus {
    match text {
        "online" => AgentStatus::Online,
        "away" => AgentStatus::Away,
        "transfers_only" => AgentStatus::TransfersOnly,
        "offline" => AgentStatus::Offline,
        _ => panic!("unknown agent status {text:?}"),
    }
}

/// The routing attributes of a ticket, remembered from its first mention.
#[derive(Clone, Debug)]
struct TicketAttrs {
    channel: Channel,
    priority: i32,
    skills: Vec<String>,
    group: Option<String>,
    brand: Option<String>,
    created_at: Timestamp,
    sla_breach_at: Option<Timestamp>,
}

/// Where the engine lives between commands.
#[derive(Debug)]
enum Host {
    /// One engine for the whole run.
    Live(Box<RoutingEngine>),
    /// Records only: a fresh engine is restored for every command.
    Persisted {
        config: RoutingConfig,
        agents: BTreeMap<String, AgentRecord>,
        tickets: BTreeMap<String, TicketRecord>,
    },
}

/// The host side of a scenario: clock, timers, ticket attributes, and the engine.
#[derive(Debug)]
pub(crate) struct ScenarioHost {
    host: Host,
    now: Timestamp,
    timers: BTreeMap<(Timestamp, u64), RoutingTimer>,
    timer_seq: u64,
    attrs: BTreeMap<String, TicketAttrs>,
    ordinal: u64,
    /// The account's custom queues, as `queue` commands defined them.
    queues: Vec<QueueDefinition>,
}

impl ScenarioHost {
    pub(crate) fn new(config: RoutingConfig, persisted: bool) -> ScenarioHost {
        let host = if persisted {
            Host::Persisted {
                config,
                agents: BTreeMap::new(),
                tickets: BTreeMap::new(),
            }
        } else {
            Host::Live(Box::new(RoutingEngine::new(ACCOUNT, config)))
        };
        ScenarioHost {
            host,
            now: Timestamp(0),
            timers: BTreeMap::new(),
            timer_seq: 0,
            attrs: BTreeMap::new(),
            ordinal: 0,
            queues: Vec::new(),
        }
    }

    /// Runs `f` on the engine (restoring it first and persisting after, if persisted).
    pub(crate) fn with_engine<T>(&mut self, f: impl FnOnce(&mut RoutingEngine) -> T) -> T {
        match &mut self.host {
            Host::Live(engine) => {
                engine.set_queues(QueueRules::new(self.queues.clone()));
                let out = f(engine);
                engine
                    .audit()
                    .unwrap_or_else(|e| panic!("audit after a step: {e}"));
                out
            }
            Host::Persisted {
                config,
                agents,
                tickets,
            } => {
                let mut engine = RoutingEngine::restore(
                    ACCOUNT,
                    config.clone(),
                    agents.values().cloned(),
                    tickets.values().cloned(),
                );
                engine.set_queues(QueueRules::new(self.queues.clone()));
                let out = f(&mut engine);
                let dirty = engine.take_dirty();
                for id in dirty.agents {
                    match engine.agent_record(&id) {
                        Some(record) => agents.insert(id, record),
                        None => agents.remove(&id),
                    };
                }
                for id in dirty.tickets {
                    match engine.ticket_record(&id) {
                        Some(record) => tickets.insert(id, record),
                        None => tickets.remove(&id),
                    };
                }
                out
            }
        }
    }

    fn apply(&mut self, effects: &RoutingEffects, out: &mut String) {
        for command in &effects.timers {
            match command {
                RoutingTimerCommand::Set(timer) => {
                    self.timer_seq += 1;
                    self.timers
                        .insert((timer.due(), self.timer_seq), timer.clone());
                }
                RoutingTimerCommand::Cancel(timer) => {
                    self.timers.retain(|_, t| t != timer);
                }
            }
        }
        for d in &effects.decisions {
            let kind = match d.kind {
                RoutingDecisionKind::Offered => "offered",
                RoutingDecisionKind::OfferWithdrawn => "offer_withdrawn",
                RoutingDecisionKind::Assigned => "assigned",
                RoutingDecisionKind::Unassigned => "unassigned",
            };
            let agent = d.agent_id.as_deref().unwrap_or("-");
            writeln!(out, "{kind} {} {agent} {}", d.ticket_id, d.reason).unwrap();
        }
        for r in &effects.rejections {
            writeln!(out, "rejected: {}", r.reason).unwrap();
        }
    }

    /// Fires every timer due up to `until`, then sets the clock to `until`.
    pub(crate) fn advance_to(&mut self, until: Timestamp, out: &mut String) {
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > until {
                break;
            }
            let ((due, _), timer) = entry.remove_entry();
            self.now = self.now.max(due);
            let now = self.now;
            let effects = self.with_engine(|e| e.handle_timer(&timer, now));
            self.apply(&effects, out);
        }
        self.now = until;
    }

    fn request(
        &mut self,
        kind: RoutingRequestKind,
        ticket: &str,
        agent: Option<&str>,
        args: &[(&str, &str)],
    ) -> RoutingRequest {
        let now = self.now;
        let attrs = self
            .attrs
            .entry(ticket.to_owned())
            .or_insert_with(|| TicketAttrs {
                channel: Channel::Web,
                priority: 0,
                skills: Vec::new(),
                group: None,
                brand: None,
                created_at: now,
                sla_breach_at: None,
            });
        for (key, value) in args {
            match *key {
                "channel" => attrs.channel = channel(value),
                "priority" => attrs.priority = value.parse().expect("priority"),
                "skills" => attrs.skills = list(value),
                "group" => attrs.group = Some((*value).to_owned()),
                "brand" => attrs.brand = Some((*value).to_owned()),
                "created" => attrs.created_at = Timestamp(duration(value).0),
                "sla" => {
                    attrs.sla_breach_at = (*value != "none").then(|| Timestamp(duration(value).0))
                }
                _ => panic!("unknown ticket attribute {key:?}"),
            }
        }
        self.ordinal += 1;
        RoutingRequest {
            request_id: format!("{ticket}.r{}", self.ordinal).into(),
            account: ACCOUNT.into(),
            conversation: format!("conv-{ticket}").into(),
            ticket_id: ticket.into(),
            kind,
            agent_id: agent.map(str::to_owned),
            channel: attrs.channel,
            priority: attrs.priority,
            required_skills: attrs.skills.clone(),
            group: attrs.group.clone(),
            brand: attrs.brand.clone(),
            created_at: attrs.created_at,
            sla_breach_at: attrs.sla_breach_at,
            at: now,
        }
    }

    /// Runs one command line and returns what it printed.
    pub(crate) fn run(&mut self, line: &str) -> String {
        let mut out = String::new();
        let words: Vec<&str> = line.split_whitespace().collect();
        let args: Vec<(&str, &str)> = words
            .iter()
            .skip(1)
            .filter_map(|w| w.split_once('='))
            .collect();
        let plain: Vec<&str> = words
            .iter()
            .skip(1)
            .filter(|w| !w.contains('='))
            .copied()
            .collect();
        let now = self.now;
        match words[0] {
            "presence" => {
                let agent = plain[0];
                let mut channels = Vec::new();
                let mut skills = Vec::new();
                let mut groups = Vec::new();
                for (key, value) in &args {
                    match *key {
                        "skills" => skills = list(value),
                        "groups" => groups = list(value),
                        ch => {
                            let (status, capacity) = value.split_once(':').unwrap_or((value, "0"));
                            channels.push(ChannelPresence {
                                channel: channel(ch),
                                status: agent_status(status),
                                capacity: capacity.parse().expect("capacity"),
                            });
                        }
                    }
                }
                self.ordinal += 1;
                let presence = AgentPresence {
                    presence_id: format!("{agent}.p{}", self.ordinal),
                    account: ACCOUNT.to_owned(),
                    agent_id: agent.to_owned(),
                    channels,
                    skills,
                    groups,
                    at: now,
                };
                let effects = self.with_engine(|e| e.handle_presence(&presence, now));
                self.apply(&effects, &mut out);
            }
            verb @ ("enqueue" | "accept" | "decline" | "consume" | "release" | "assign"
            | "close" | "inactive" | "update") => {
                let kind = match verb {
                    "enqueue" => RoutingRequestKind::Enqueue,
                    "accept" => RoutingRequestKind::Accept,
                    "decline" => RoutingRequestKind::Decline,
                    "consume" => RoutingRequestKind::Consume,
                    "release" => RoutingRequestKind::Release,
                    "assign" => RoutingRequestKind::Assign,
                    "inactive" => RoutingRequestKind::Inactive,
                    "update" => RoutingRequestKind::Update,
                    _ => RoutingRequestKind::Close,
                };
                let request = self.request(kind, plain[0], plain.get(1).copied(), &args);
                let effects = self.with_engine(|e| e.handle_request(&request, now));
                self.apply(&effects, &mut out);
            }
            "queue" => {
                let mut queue = QueueDefinition {
                    account: ACCOUNT.to_owned(),
                    queue_id: plain[0].to_owned(),
                    position: 0,
                    priority: 50,
                    conditions: QueueConditions::default(),
                    primary_group: String::new(),
                    secondary_groups: Vec::new(),
                    secondary_after_ms: Millis::ZERO,
                    updated_at: now,
                };
                for (key, value) in &args {
                    match *key {
                        "position" => queue.position = value.parse().expect("position"),
                        "priority" => queue.priority = value.parse().expect("priority"),
                        "primary" => queue.primary_group = (*value).to_owned(),
                        "secondary" => queue.secondary_groups = list(value),
                        "after" => queue.secondary_after_ms = duration(value),
                        "channels" => {
                            queue.conditions.channels =
                                list(value).iter().map(|c| channel(c)).collect()
                        }
                        "brands" => queue.conditions.brands = list(value),
                        "min_priority" => {
                            queue.conditions.min_priority =
                                Some(value.parse().expect("min_priority"))
                        }
                        "skills" => queue.conditions.skills = list(value),
                        other => panic!("queue: unknown argument {other}"),
                    }
                }
                queue.validate().unwrap_or_else(|e| panic!("queue: {e}"));
                self.queues.retain(|q| q.queue_id != queue.queue_id);
                self.queues.push(queue);
                writeln!(out, "ok").unwrap();
            }
            "advance" => {
                let until = now + duration(plain[0]);
                self.advance_to(until, &mut out);
            }
            "ticket" => {
                let view = self.with_engine(|e| e.ticket_view(plain[0]));
                match view {
                    None => writeln!(out, "unknown").unwrap(),
                    Some(RoutingTicketView::Queued { skills_relaxed }) => writeln!(
                        out,
                        "queued{}",
                        if skills_relaxed {
                            " skills_relaxed"
                        } else {
                            ""
                        }
                    )
                    .unwrap(),
                    Some(RoutingTicketView::Offered { agent_id }) => {
                        writeln!(out, "offered {agent_id}").unwrap()
                    }
                    Some(RoutingTicketView::Assigned {
                        agent_id,
                        consuming,
                        in_grace,
                        inactive,
                    }) => writeln!(
                        out,
                        "assigned {agent_id}{}{}{}",
                        if consuming { " consuming" } else { " released" },
                        if in_grace { " in_grace" } else { "" },
                        if inactive { " inactive" } else { "" }
                    )
                    .unwrap(),
                }
            }
            "agent" => {
                let (agent, ch) = (plain[0], channel(plain[1]));
                let (view, record) =
                    self.with_engine(|e| (e.agent_channel(agent, ch), e.agent_record(agent)));
                match (view, record) {
                    (Some(v), Some(r)) => {
                        let c = r
                            .channels
                            .iter()
                            .find(|c| c.channel == ch)
                            .map(|c| c.counters.clone())
                            .unwrap_or_default();
                        writeln!(
                            out,
                            "status={:?} capacity={} load={} offered={} offers={} accepted={} declined={} timed_out={} assignments={}",
                            v.status, v.capacity, v.load, v.offered, c.offers_made, c.offers_accepted,
                            c.offers_declined, c.offers_timed_out, c.assignments
                        )
                        .unwrap();
                        if v.inactive > 0 {
                            out.insert_str(out.len() - 1, &format!(" inactive={}", v.inactive));
                        }
                        if let Some(reason) = v.status_reason {
                            out.insert_str(out.len() - 1, &format!(" status_reason={reason}"));
                        }
                    }
                    _ => writeln!(out, "unknown").unwrap(),
                }
            }
            other => panic!("unknown command {other:?}"),
        }
        if out.is_empty() {
            out.push_str("ok\n");
        }
        out
    }
}

pub(crate) fn parse_config(line: &str) -> RoutingConfig {
    let mut config = RoutingConfig::default();
    for (key, value) in line
        .split_whitespace()
        .skip(1)
        .filter_map(|w| w.split_once('='))
    {
        match key {
            "offer_timeout" => config.offer_timeout_ms = duration(value),
            "returning_grace" => config.returning_grace_ms = duration(value),
            "skills_timeout" => config.skills_timeout_ms = Some(duration(value)),
            "away_after_offer_timeouts" => {
                config.away_after_offer_timeouts = Some(value.parse().expect("a count above 0"))
            }
            "auto_accept" => config.auto_accept = list(value).iter().map(|c| channel(c)).collect(),
            "queue_order" => {
                config.queue_order = match value {
                    "priority" => QueueOrder::Priority,
                    "sla" => QueueOrder::Sla,
                    _ => panic!("unknown queue order {value:?}"),
                }
            }
            "mode" => {
                config.mode = match value {
                    "best_available" => RoutingMode::BestAvailable,
                    "round_robin" => RoutingMode::RoundRobin,
                    _ => panic!("unknown mode {value:?}"),
                }
            }
            _ => panic!("unknown config key {key:?}"),
        }
    }
    config
}

/// Runs one file; returns the file's text with actual outputs in place of the expected.
fn run_file(path: &Path, persisted: bool) -> (String, String) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut rewritten = String::new();
    let mut expected_all = String::new();
    let mut host: Option<ScenarioHost> = None;
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            rewritten.push_str(line);
            rewritten.push('\n');
            expected_all.push_str(line);
            expected_all.push('\n');
            continue;
        }
        if trimmed.starts_with("config") {
            assert!(host.is_none(), "{}: config must come first", path.display());
            host = Some(ScenarioHost::new(parse_config(trimmed), persisted));
            rewritten.push_str(line);
            rewritten.push('\n');
            expected_all.push_str(line);
            expected_all.push('\n');
            continue;
        }
        let host =
            host.get_or_insert_with(|| ScenarioHost::new(RoutingConfig::default(), persisted));
        let actual = host.run(trimmed);
        assert_eq!(
            lines.next().map(str::trim),
            Some("----"),
            "{}: `----` expected after {line:?}",
            path.display()
        );
        let mut expected = String::new();
        while let Some(next) = lines.peek() {
            if next.trim().is_empty() {
                break;
            }
            expected.push_str(next.trim());
            expected.push('\n');
            lines.next();
        }
        for part in [&mut rewritten, &mut expected_all] {
            part.push_str(line);
            part.push_str("\n----\n");
        }
        rewritten.push_str(&actual);
        expected_all.push_str(&expected);
    }
    (expected_all, rewritten)
}

fn testdata() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/routing");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    files
}

#[test]
fn routing_scenarios_in_testdata() {
    let rewrite = std::env::var_os("PARLEY_REWRITE_TESTDATA").is_some();
    let files = testdata();
    assert!(
        files.len() >= 8,
        "expected the routing scenario files, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for path in &files {
        let (expected, actual) = run_file(path, false);
        if rewrite {
            std::fs::write(path, &actual).unwrap();
        } else if expected != actual {
            failures.push(format!(
                "{}:\n--- expected\n{expected}\n--- actual\n{actual}",
                path.display()
            ));
        }
        let (_, restored) = run_file(path, true);
        if restored != actual {
            failures.push(format!(
                "{}: persisted and restored every step, the run differs:\n{restored}",
                path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
