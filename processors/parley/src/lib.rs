//! `parley`: runs the ingress, tickets and router roles and manages topics, styles and schemas.
//!
//! The binary is a thin `main` over [`main`]; [`embedded`] runs the whole pipeline in one
//! process over librdkafka's mock cluster (for `parley demo`, tests and benchmarks), and
//! [`simulate`] runs its processors on the runtime's synchronous driver, without a broker.
//!
//! Exit codes: 0 success, 1 runtime failure (brokers unreachable, a check that found
//! differences, a role that stopped with an error), 2 usage error (a bad flag, environment
//! variable or config file value, a style that breaks a rule).

mod demo;
pub mod embedded;
mod inspect;
mod options;
mod rescale;
mod roles;
mod routing_config;
mod schemas;
pub mod simulate;
mod sla_config;
mod style;
mod topics;
mod usage;

pub use usage::UsageError;

use clap::{Parser, Subcommand};
use options::{parse_channel, parse_duration, ConfigFile, KafkaOptions, RoleOptions};
use parley_core::sla::SlaPriority;
use parley_core::{Channel, Millis, Style};
use roles::Role;
use sla_config::{parse_hours, parse_priority, parse_target, Hours, Target};
use std::process::ExitCode;

/// Customer-support messaging on Kafka: ingress, tickets and routing.
///
/// Every option can also be set with its environment variable or in the TOML file given
/// with --config (keys are the long option names with `_`). Precedence: flag, environment,
/// config file, default. Exit codes: 0 success, 1 runtime failure, 2 usage error.
#[derive(Debug, Parser)]
#[command(name = "parley", version)]
struct Cli {
    /// TOML config file; keys are the long option names with `_` (e.g. `topic_prefix`).
    #[arg(long, env = "PARLEY_CONFIG", value_name = "FILE", global = true)]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the ingress role: raw webhooks to conversation events.
    Ingress(RoleOptions),
    /// Run the ticket processor role.
    Tickets(RoleOptions),
    /// Run the router role.
    Router(RoleOptions),
    /// Run every role in one process (metrics on --metrics-addr's port and the next two).
    Run(RoleOptions),
    /// Run timestamped input records (JSON lines) through every role's processor in-process,
    /// without a broker, on a clock moved from input to input and timer to timer; write every
    /// output record as a JSON line.
    Simulate(SimulateArgs),
    /// Create or check the topics.
    #[command(subcommand)]
    Topics(TopicsCommand),
    /// Take a drained and stopped pipeline to more partitions, moving every key's state and
    /// timers to its new partition (see the README, Operations: Partitions).
    Rescale(RescaleArgs),
    /// Write configuration records.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage Avro schemas in the schema registry.
    #[command(subcommand)]
    Schemas(SchemasCommand),
    /// Print a ticket's or an agent's state, read from a running instance's /state endpoint.
    #[command(subcommand)]
    Inspect(InspectCommand),
    /// Run the whole pipeline in-process on simulated traffic, with a live view and a
    /// closing summary (no broker needed; finishes by itself).
    Demo(demo::DemoArgs),
}

#[derive(Debug, Subcommand)]
enum InspectCommand {
    /// Print a conversation's ticket lifecycle, from the tickets instance that owns it
    /// (exit 1 if it holds no such conversation). With --brokers, the owner is the member of
    /// the tickets group assigned the conversation's partition of conversation-events.
    Ticket {
        /// The conversation: its account, a `/`, then its id (e.g. acme/491701234567).
        #[arg(value_name = "ACCOUNT/CONVERSATION", value_parser = inspect::parse_conversation)]
        conversation: inspect::AccountId,
        /// The tickets instance's --metrics-addr, overriding the owner's lookup [default:
        /// with brokers, the owner; without, 127.0.0.1:9465, `parley run`'s tickets port].
        #[arg(long, env = "PARLEY_TICKETS_ADDR", value_name = "HOST:PORT", value_parser = inspect::parse_addr)]
        addr: Option<String>,
        /// The tickets role's consumer group [default: parley-tickets; `parley run
        /// --group-id G` makes it G-tickets].
        #[arg(long, value_name = "GROUP")]
        group_id: Option<String>,
        #[command(flatten)]
        kafka: KafkaOptions,
    },
    /// Print an agent's state with its load, pending offers and tickets, from the router
    /// instance that owns its account (exit 1 if it holds no such agent). With --brokers, the
    /// owner is the member of the router group assigned the account's partition of
    /// routing-requests.
    Agent {
        /// The agent: its account, a `/`, then its id (e.g. acme/ana).
        #[arg(value_name = "ACCOUNT/AGENT", value_parser = inspect::parse_agent)]
        agent: inspect::AccountId,
        /// The router instance's --metrics-addr, overriding the owner's lookup [default:
        /// with brokers, the owner; without, 127.0.0.1:9466, `parley run`'s router port].
        #[arg(long, env = "PARLEY_ROUTER_ADDR", value_name = "HOST:PORT", value_parser = inspect::parse_addr)]
        addr: Option<String>,
        /// The router role's consumer group [default: parley-router; `parley run
        /// --group-id G` makes it G-router].
        #[arg(long, value_name = "GROUP")]
        group_id: Option<String>,
        #[command(flatten)]
        kafka: KafkaOptions,
    },
}

#[derive(Debug, clap::Args)]
struct SimulateArgs {
    /// The input records, one JSON object per line: {"at", "topic", "key", "headers", "value"}.
    #[arg(long, value_name = "FILE.jsonl")]
    input: std::path::PathBuf,
    /// Write the outputs here instead of standard output.
    #[arg(long, value_name = "FILE")]
    output: Option<std::path::PathBuf>,
    /// Write only this output topic, repeated (e.g. ticket-status-changes) [default: all].
    #[arg(long = "topic", value_name = "TOPIC")]
    topics: Vec<String>,
    /// Partitions of every topic.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..=64))]
    partitions: i32,
    /// After the last input, keep firing timers due up to this long after it.
    #[arg(long, default_value = "30d", value_parser = parse_duration, value_name = "DURATION")]
    run_after: Millis,
    /// After the last input, stop after this many timer steps (each moves the clock to the
    /// next due timer).
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
    max_steps: u64,
    #[command(flatten)]
    routing: options::RoutingOptions,
}

#[derive(Debug, clap::Args)]
struct Layout {
    #[command(flatten)]
    kafka: KafkaOptions,
    /// Partitions of every topic.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(i32).range(1..))]
    partitions: i32,
    /// Replication factor of every topic (create only).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..))]
    replication_factor: i32,
}

/// `parley rescale`.
#[derive(Debug, clap::Args)]
struct RescaleArgs {
    #[command(flatten)]
    kafka: KafkaOptions,
    /// The new partition count of every topic but style-config; greater than the current one.
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..))]
    partitions: i32,
    /// Print what would move (keys, timers, bytes per old and new partition) and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// The pipeline's consumer group base, as given to `parley run` [default: the roles'
    /// parley-ingress, parley-tickets, parley-router]: G stands for G-ingress, G-tickets,
    /// G-router.
    #[arg(long, env = "PARLEY_GROUP_ID", value_name = "GROUP")]
    group_id: Option<String>,
}

#[derive(Debug, Subcommand)]
enum TopicsCommand {
    /// Create every topic (an existing topic is left as it is).
    Create(Layout),
    /// Report, per topic, a missing topic or a differing partition count or cleanup policy;
    /// exit 1 if anything differs.
    Check(Layout),
}

// The variants are the subcommands' names: `set-style`, `set-schedule`, `set-sla`.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Write a style configuration to <prefix>style-config, key account[/brand][/channel]
    /// (`account//channel` for a channel without a brand).
    SetStyle {
        #[command(flatten)]
        kafka: KafkaOptions,
        /// The account.
        #[arg(long)]
        account: String,
        /// The brand (none for every brand).
        #[arg(long)]
        brand: Option<String>,
        /// The channel (none for every channel).
        #[arg(long, value_parser = parse_channel)]
        channel: Option<Channel>,
        /// live_chat, live_chat_returning or social_messaging.
        #[arg(long, value_parser = parse_style)]
        style: Style,
        /// Solved to Closed (e.g. 4d), at most 28d, not for live_chat [default: the style's].
        #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
        solved_to_closed: Option<Millis>,
        /// Routing priority; higher goes first.
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        priority: i32,
        /// A skill agents need, repeated.
        #[arg(long = "skill", value_name = "SKILL")]
        skills: Vec<String>,
        /// The group whose members may take the tickets.
        #[arg(long)]
        group: Option<String>,
        /// An assigned conversation whose end user has not answered an agent's reply for
        /// this long is inactive and frees the agent's capacity; 0 turns it off
        /// [default: 10m].
        #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
        inactivity: Option<Millis>,
        /// A reminder to an inactive conversation's end user, DURATION[:pending|solved]
        /// after the step before (the first after it went inactive); up to three, the
        /// last may set the ticket Pending or Solved. Repeated [default: none].
        #[arg(long = "inactivity-reminder", value_name = "STEP", value_parser = style::parse_reminder)]
        inactivity_reminders: Vec<parley_core::InactivityReminderStep>,
    },
    /// Write an account's routing settings to <prefix>routing-config, key the account. A
    /// setting left out keeps the router's own (its flags).
    SetRouting {
        #[command(flatten)]
        kafka: KafkaOptions,
        /// The account.
        #[arg(long)]
        account: String,
        /// Channels whose offers are assigned at once.
        #[arg(long, value_name = "CHANNEL,...", value_parser = parse_channel, value_delimiter = ',', conflicts_with = "no_auto_accept")]
        auto_accept: Option<Vec<Channel>>,
        /// No channel auto-accepts, whatever the router's flags say.
        #[arg(long)]
        no_auto_accept: bool,
        /// How long an offer waits for an answer (above zero).
        #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
        offer_timeout: Option<Millis>,
        /// After this long in the queue required skills are relaxed; 0s for never.
        #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
        skills_timeout: Option<Millis>,
        /// How long a reopened ticket waits for its offline assignee.
        #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
        returning_grace: Option<Millis>,
        /// How an agent is chosen among the eligible ones.
        #[arg(long, value_enum)]
        routing_mode: Option<options::RoutingModeArg>,
        /// Offer timeouts in a row that set an agent away on the channel; 0 for never.
        #[arg(long, value_name = "N")]
        away_after_offer_timeouts: Option<u32>,
        /// The queue's order: priority (ticket priority, then age) or sla (the soonest SLA
        /// breach first; tickets without an SLA target after).
        #[arg(long, value_enum)]
        queue_order: Option<options::QueueOrderArg>,
    },
    /// Write a custom routing queue to <prefix>routing-queues, key account/queue. A new
    /// ticket goes to the first queue (by position) whose conditions it meets.
    SetQueue {
        #[command(flatten)]
        kafka: KafkaOptions,
        /// The account.
        #[arg(long)]
        account: String,
        /// The queue's name.
        #[arg(long)]
        queue: String,
        /// Queues are tried in ascending position; the first that matches wins.
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        position: i32,
        /// 1 (highest) to 100: an agent who may take work from several queues gets this
        /// queue's first when its number is lower.
        #[arg(long, default_value_t = 50)]
        priority: i32,
        /// The group whose agents may take the queue's tickets at once.
        #[arg(long)]
        primary_group: String,
        /// A group whose agents may take a ticket after --secondary-after, repeated.
        #[arg(long = "secondary-group", value_name = "GROUP")]
        secondary_groups: Vec<String>,
        /// How long a ticket waits before its secondary groups are eligible.
        #[arg(long, value_parser = parse_duration, value_name = "DURATION", default_value = "0s")]
        secondary_after: Millis,
        /// Matches tickets on this channel, repeated [default: any].
        #[arg(long = "when-channel", value_name = "CHANNEL", value_parser = parse_channel)]
        when_channels: Vec<Channel>,
        /// Matches tickets of this brand, repeated [default: any].
        #[arg(long = "when-brand", value_name = "BRAND")]
        when_brands: Vec<String>,
        /// Matches tickets whose routing priority is at least this.
        #[arg(long, allow_negative_numbers = true)]
        when_min_priority: Option<i32>,
        /// Matches tickets that require this skill, repeated.
        #[arg(long = "when-skill", value_name = "SKILL")]
        when_skills: Vec<String>,
    },
    /// Write a business-hours schedule to <prefix>schedules, key account/schedule.
    SetSchedule {
        #[command(flatten)]
        kafka: KafkaOptions,
        /// The account.
        #[arg(long)]
        account: String,
        /// The schedule's name, as SLA policies name it.
        #[arg(long)]
        schedule: String,
        /// An IANA time zone (e.g. Europe/Berlin); business hours are wall-clock times there.
        #[arg(long)]
        time_zone: String,
        /// Business hours, DAYS HH:MM-HH:MM (e.g. "mon-fri 09:00-17:00", "fri 22:00-02:00"
        /// past midnight), repeated.
        #[arg(long = "hours", value_name = "HOURS", value_parser = parse_hours)]
        hours: Vec<Hours>,
        /// A local date without business hours (YYYY-MM-DD), repeated.
        #[arg(long = "holiday", value_name = "DATE")]
        holidays: Vec<String>,
    },
    /// Write an SLA policy to <prefix>sla-policies, key account/policy.
    SetSla {
        #[command(flatten)]
        kafka: KafkaOptions,
        /// The account.
        #[arg(long)]
        account: String,
        /// The policy's name.
        #[arg(long)]
        policy: String,
        /// Policies are tried in ascending position; the first that matches applies.
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        position: i32,
        /// Applies to tickets of this priority (low, normal, high, urgent), repeated [default: any].
        #[arg(long = "when-priority", value_name = "PRIORITY", value_parser = parse_priority)]
        when_priorities: Vec<SlaPriority>,
        /// Applies to tickets on this channel, repeated [default: any].
        #[arg(long = "when-channel", value_name = "CHANNEL", value_parser = parse_channel)]
        when_channels: Vec<Channel>,
        /// Applies to tickets of this brand, repeated [default: any].
        #[arg(long = "when-brand", value_name = "BRAND")]
        when_brands: Vec<String>,
        /// The schedule whose business hours count for --business-target.
        #[arg(long)]
        schedule: Option<String>,
        /// A target in calendar hours, METRIC:PRIORITY=DURATION (e.g.
        /// first_reply_time:urgent=10m), repeated.
        #[arg(long = "target", value_name = "TARGET", value_parser = parse_target)]
        targets: Vec<Target>,
        /// A target in the schedule's business hours, METRIC:PRIORITY=DURATION, repeated.
        #[arg(long = "business-target", value_name = "TARGET", value_parser = parse_target)]
        business_targets: Vec<Target>,
    },
}

#[derive(Debug, Subcommand)]
enum SchemasCommand {
    /// Register every schema under <prefix><topic>-value and print the ids.
    Register {
        /// Confluent schema registry (`http://host:port`) (required).
        #[arg(long, env = "PARLEY_REGISTRY_URL", value_name = "URL")]
        registry_url: Option<String>,
        /// Prepended to every topic name [default: parley.].
        #[arg(long, env = "PARLEY_TOPIC_PREFIX", value_name = "PREFIX")]
        topic_prefix: Option<String>,
    },
}

fn parse_style(text: &str) -> Result<Style, String> {
    Style::parse(text)
        .ok_or_else(|| "expected one of live_chat, live_chat_returning, social_messaging".into())
}

/// Parses the command line, runs the command and maps its outcome to the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo's live view owns the terminal, and a simulate user wants the outputs, not the
    // pipeline's start-up and shutdown: only warnings by default.
    let default_filter = match cli.command {
        Command::Demo(_) | Command::Simulate(_) => "warn,librdkafka=error",
        _ => "info",
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => match error.downcast_ref::<UsageError>() {
            Some(usage) => {
                eprintln!("error: {usage}");
                ExitCode::from(2)
            }
            None => {
                eprintln!("error: {error:#}");
                ExitCode::FAILURE
            }
        },
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    if let Command::Demo(args) = cli.command {
        return demo::run(args).await;
    }
    let file = ConfigFile::load(cli.config.as_deref())?;
    // `schemas register` needs only the registry.
    if let Command::Schemas(SchemasCommand::Register {
        registry_url,
        topic_prefix,
    }) = &cli.command
    {
        let url = registry_url
            .clone()
            .or(file.registry_url.clone())
            .ok_or_else(|| UsageError("--registry-url is required: set the flag, PARLEY_REGISTRY_URL or `registry_url` in the config file".into()))?;
        let prefix = topic_prefix
            .clone()
            .or(file.topic_prefix.clone())
            .unwrap_or_else(|| options::DEFAULT_TOPIC_PREFIX.to_owned());
        return schemas::register(&url, &prefix).await;
    }
    if let Command::Simulate(args) = &cli.command {
        let routing = args.routing.resolve(&file)?;
        return simulate::run(simulate::SimulateOptions {
            input: args.input.clone(),
            output: args.output.clone(),
            topics: args.topics.clone(),
            partitions: args.partitions,
            run_after: args.run_after,
            max_steps: args.max_steps,
            routing,
            ingress: file.ingress.clone().unwrap_or_default(),
        });
    }
    // `inspect` needs the instance's address, or the brokers to find it.
    if let Command::Inspect(command) = &cli.command {
        let (target, id, flag, group, kafka) = match command {
            InspectCommand::Ticket {
                conversation,
                addr,
                group_id,
                kafka,
            } => (inspect::Target::Ticket, conversation, addr, group_id, kafka),
            InspectCommand::Agent {
                agent,
                addr,
                group_id,
                kafka,
            } => (inspect::Target::Agent, agent, addr, group_id, kafka),
        };
        let connection = match kafka.brokers.is_some() || file.brokers.is_some() {
            true => Some(kafka.resolve(&file)?),
            false => None,
        };
        let source =
            inspect::resolve_source(target, flag.as_deref(), &file, connection, group.as_deref())?;
        let addr = match source {
            inspect::Source::Given(addr) => addr,
            inspect::Source::Owner { connection, group } => {
                inspect::find_owner(target, id, &connection, &group)
                    .await?
                    .state_address
            }
        };
        println!("{}", inspect::inspect(target, id, &addr).await?);
        return Ok(());
    }
    let connection = |kafka: &KafkaOptions| kafka.resolve(&file);
    let settings = |role: &RoleOptions| role.resolve(connection(&role.kafka)?, &file);
    match &cli.command {
        Command::Ingress(role) => roles::run(&[Role::Ingress], settings(role)?).await,
        Command::Tickets(role) => roles::run(&[Role::Tickets], settings(role)?).await,
        Command::Router(role) => roles::run(&[Role::Router], settings(role)?).await,
        Command::Run(role) => {
            let every = [Role::Ingress, Role::Tickets, Role::Router];
            roles::run(&every, settings(role)?).await
        }
        Command::Topics(TopicsCommand::Create(layout)) => {
            let connection = connection(&layout.kafka)?;
            topics::create(&connection, layout.partitions, layout.replication_factor).await
        }
        Command::Rescale(args) => {
            rescale::run(rescale::RescaleRequest {
                connection: connection(&args.kafka)?,
                group_id: args.group_id.clone(),
                partitions: args.partitions,
                dry_run: args.dry_run,
            })
            .await
        }
        Command::Topics(TopicsCommand::Check(layout)) => {
            topics::check(&connection(&layout.kafka)?, layout.partitions).await
        }
        Command::Config(ConfigCommand::SetStyle {
            kafka,
            account,
            brand,
            channel,
            style,
            solved_to_closed,
            priority,
            skills,
            group,
            inactivity,
            inactivity_reminders,
        }) => {
            let config = style::record(
                account.clone(),
                brand.clone(),
                *channel,
                *style,
                *solved_to_closed,
                *priority,
                skills.clone(),
                group.clone(),
                *inactivity,
                inactivity_reminders.clone(),
            );
            style::validate(&config)?;
            style::write(&connection(kafka)?, &config).await
        }
        Command::Config(ConfigCommand::SetSchedule {
            kafka,
            account,
            schedule,
            time_zone,
            hours,
            holidays,
        }) => {
            let schedule = sla_config::schedule(account, schedule, time_zone, hours, holidays)?;
            sla_config::write_schedule(&connection(kafka)?, &schedule).await
        }
        Command::Config(ConfigCommand::SetSla {
            kafka,
            account,
            policy,
            position,
            when_priorities,
            when_channels,
            when_brands,
            schedule,
            targets,
            business_targets,
        }) => {
            let policy = sla_config::policy(&sla_config::PolicyFlags {
                account,
                policy_id: policy,
                position: *position,
                priorities: when_priorities,
                channels: when_channels,
                brands: when_brands,
                schedule_id: schedule.as_deref(),
                targets,
                business_targets,
            })?;
            sla_config::write_policy(&connection(kafka)?, &policy).await
        }
        Command::Config(ConfigCommand::SetQueue {
            kafka,
            account,
            queue,
            position,
            priority,
            primary_group,
            secondary_groups,
            secondary_after,
            when_channels,
            when_brands,
            when_min_priority,
            when_skills,
        }) => {
            let queue = parley_core::routing::QueueDefinition {
                account: account.clone(),
                queue_id: queue.clone(),
                position: *position,
                priority: *priority,
                conditions: parley_core::routing::QueueConditions {
                    channels: when_channels.clone(),
                    brands: when_brands.clone(),
                    min_priority: *when_min_priority,
                    skills: when_skills.clone(),
                },
                primary_group: primary_group.clone(),
                secondary_groups: secondary_groups.clone(),
                secondary_after_ms: *secondary_after,
                updated_at: parley_core::Timestamp(0),
            };
            routing_config::validate_queue(&queue)?;
            routing_config::write_queue(&connection(kafka)?, queue).await
        }
        Command::Config(ConfigCommand::SetRouting {
            kafka,
            account,
            auto_accept,
            no_auto_accept,
            offer_timeout,
            skills_timeout,
            returning_grace,
            routing_mode,
            away_after_offer_timeouts,
            queue_order,
        }) => {
            let args = routing_config::RoutingArgs {
                auto_accept: if *no_auto_accept {
                    Some(Vec::new())
                } else {
                    auto_accept.clone()
                },
                offer_timeout: *offer_timeout,
                skills_timeout: *skills_timeout,
                returning_grace: *returning_grace,
                mode: *routing_mode,
                away_after_offer_timeouts: *away_after_offer_timeouts,
                queue_order: *queue_order,
            };
            let record = routing_config::record(account.clone(), args);
            routing_config::validate(&record)?;
            routing_config::write(&connection(kafka)?, &record).await
        }
        Command::Schemas(SchemasCommand::Register { .. })
        | Command::Simulate(_)
        | Command::Inspect(_)
        | Command::Demo(_) => {
            unreachable!("handled above")
        }
    }
}
