//! `parley inspect ticket|agent`: reads one conversation's or agent's state from a running
//! instance's `/state/<key>` endpoint (served beside `/metrics`) and prints it as JSON.
//!
//! The instance is the one given (`--addr`, its environment variable or the config file's
//! key), else, with brokers, the member of the role's consumer group that owns the key's
//! partition of the role's first input (found with [`parley_runtime::owners`]: murmur2 over
//! the partition count, then the group's assignment and the `/state` address each member
//! advertises in its client id), else `parley run`'s port for the role.

use crate::options::{ConfigFile, Connection, DEFAULT_METRICS_ADDR};
use crate::roles::{client_config, group_id, Role};
use crate::usage::UsageError;
use anyhow::anyhow;
use parley_core::topics::{conversation_key, Topic};
use parley_runtime::http::{self, StatusCode};
use parley_runtime::owners::{owner_of_key, Owner};
use serde_json::Value;
use std::time::Duration;

/// How long the metadata and DescribeGroups requests of the owner's lookup may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a request may take, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// `ACCOUNT/ID`: an account and, after the first `/`, an id that may itself hold `/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AccountId {
    /// The account.
    pub(crate) account: String,
    /// The conversation or agent id.
    pub(crate) id: String,
}

impl std::fmt::Display for AccountId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.account, self.id)
    }
}

/// Parses `ACCOUNT/CONVERSATION`.
pub(crate) fn parse_conversation(text: &str) -> Result<AccountId, String> {
    parse_account_id(text, "CONVERSATION", "conversation id", "acme/491701234567")
}

/// Parses `ACCOUNT/AGENT`.
pub(crate) fn parse_agent(text: &str) -> Result<AccountId, String> {
    parse_account_id(text, "AGENT", "agent id", "acme/ana")
}

fn parse_account_id(
    text: &str,
    upper: &str,
    what: &str,
    example: &str,
) -> Result<AccountId, String> {
    let rule = || {
        format!(
            "expected ACCOUNT/{upper}: an account, a `/`, then the {what}, neither empty nor \
             surrounded by spaces (e.g. {example})"
        )
    };
    if text.trim() != text {
        return Err(rule());
    }
    match text.split_once('/') {
        Some((account, id)) if !account.is_empty() && !id.is_empty() => Ok(AccountId {
            account: account.to_owned(),
            id: id.to_owned(),
        }),
        _ => Err(rule()),
    }
}

/// Parses `HOST:PORT` (a name or an address, and a port number).
pub(crate) fn parse_addr(text: &str) -> Result<String, String> {
    let rule = "expected HOST:PORT, the instance's --metrics-addr (e.g. 127.0.0.1:9465)";
    let (host, port) = text.rsplit_once(':').ok_or(rule)?;
    if host.is_empty() || host.contains('/') || port.parse::<u16>().is_err() {
        return Err(rule.to_owned());
    }
    Ok(text.to_owned())
}

/// What is inspected, and where it lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// A conversation's ticket lifecycle, on a tickets instance.
    Ticket,
    /// An agent, on a router instance.
    Agent,
}

impl Target {
    /// The role whose instances hold the state.
    fn role(self) -> &'static str {
        match self {
            Target::Ticket => "tickets",
            Target::Agent => "router",
        }
    }

    /// The `--addr` environment variable.
    pub(crate) const fn env(self) -> &'static str {
        match self {
            Target::Ticket => "PARLEY_TICKETS_ADDR",
            Target::Agent => "PARLEY_ROUTER_ADDR",
        }
    }

    /// The config file's key for `--addr`.
    fn file_key(self) -> &'static str {
        match self {
            Target::Ticket => "tickets_addr",
            Target::Agent => "router_addr",
        }
    }

    /// The state key: the record key `account/conversation` for a ticket,
    /// `account/agent/<id>` for an agent.
    fn state_key(self, id: &AccountId) -> String {
        match self {
            Target::Ticket => conversation_key(&id.account, &id.id),
            Target::Agent => format!("{}/agent/{}", id.account, id.id),
        }
    }

    /// The keyed role whose group owns the state.
    fn keyed_role(self) -> Role {
        match self {
            Target::Ticket => Role::Tickets,
            Target::Agent => Role::Router,
        }
    }

    /// The role's first input, whose partition of the record key is the state's.
    fn input(self) -> Topic {
        match self {
            Target::Ticket => Topic::ConversationEvents,
            Target::Agent => Topic::RoutingRequests,
        }
    }

    /// The record key whose partition holds the state: the conversation key for a ticket,
    /// the account for an agent (the router is keyed by account).
    fn record_key(self, id: &AccountId) -> String {
        match self {
            Target::Ticket => conversation_key(&id.account, &id.id),
            Target::Agent => id.account.clone(),
        }
    }

    /// `parley run`'s address of the role: 127.0.0.1 and the default metrics port + 1
    /// (tickets) or + 2 (router).
    pub(crate) fn default_addr(self) -> String {
        let base: std::net::SocketAddr = DEFAULT_METRICS_ADDR.parse().expect("a valid address");
        let offset = match self {
            Target::Ticket => 1,
            Target::Agent => 2,
        };
        format!("127.0.0.1:{}", base.port() + offset)
    }
}

/// Where the instance to ask comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// An address: the flag, its environment variable, the config file's key or `parley
    /// run`'s port for the role.
    Given(String),
    /// The member of `group` that owns the key's partition, asked of the brokers.
    Owner {
        /// The brokers and the topic prefix.
        connection: Connection,
        /// The role's consumer group.
        group: String,
    },
}

/// The instance to ask: the flag (or its environment variable), else the config file's key,
/// else the owner in `group` (default the role's, `parley-tickets` or `parley-router`) when
/// `connection` names brokers, else `parley run`'s port for the role.
pub(crate) fn resolve_source(
    target: Target,
    flag: Option<&str>,
    file: &ConfigFile,
    connection: Option<Connection>,
    group: Option<&str>,
) -> Result<Source, UsageError> {
    if let Some(addr) = flag {
        return Ok(Source::Given(addr.to_owned()));
    }
    let from_file = match target {
        Target::Ticket => file.tickets_addr.as_deref(),
        Target::Agent => file.router_addr.as_deref(),
    };
    match (from_file, connection) {
        (Some(addr), _) => parse_addr(addr).map(Source::Given).map_err(|rule| {
            UsageError(format!(
                "config file: {} = {addr:?}: {rule}",
                target.file_key()
            ))
        }),
        (None, Some(connection)) => Ok(Source::Owner {
            connection,
            group: group
                .map(str::to_owned)
                .unwrap_or_else(|| group_id(target.keyed_role(), None, false)),
        }),
        (None, None) => Ok(Source::Given(target.default_addr())),
    }
}

/// The owner of `id`'s partition in `group`, asked of the brokers.
pub(crate) async fn find_owner(
    target: Target,
    id: &AccountId,
    connection: &Connection,
    group: &str,
) -> anyhow::Result<Owner> {
    let client = client_config(connection);
    let topic = target.input().with_prefix(&connection.topic_prefix);
    let key = target.record_key(id);
    let group = group.to_owned();
    let owner = tokio::task::spawn_blocking(move || {
        owner_of_key(&client, &group, &topic, key.as_bytes(), LOOKUP_TIMEOUT)
    })
    .await??;
    tracing::info!(
        partition = owner.partition,
        member = owner.member.client_id,
        address = owner.state_address,
        "owner found"
    );
    Ok(owner)
}

/// Reads `id`'s state from the instance at `addr` and returns it as pretty JSON:
/// `{"key", "partition", "state"}`.
pub(crate) async fn inspect(target: Target, id: &AccountId, addr: &str) -> anyhow::Result<String> {
    let key = target.state_key(id);
    let role = target.role();
    let what = match target {
        Target::Ticket => "ticket",
        Target::Agent => "agent",
    };
    let path = http::state_path(key.as_bytes());
    let (status, body) = http::get(addr, &path, REQUEST_TIMEOUT)
        .await
        .map_err(|error| {
            anyhow!(
                "cannot reach the {role} instance at {addr}: {error} (is `parley run` or `parley \
                 {role}` serving its metrics there? set --addr, {} or `{}` in the config file)",
                target.env(),
                target.file_key()
            )
        })?;
    let json: Option<Value> = serde_json::from_str(&body).ok();
    let message = json
        .as_ref()
        .and_then(|j| j.get("message"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    match (status, json, message) {
        (StatusCode::OK, Some(json), _) => Ok(serde_json::to_string_pretty(&json)?),
        (StatusCode::NOT_FOUND, Some(_), Some(message)) => Err(anyhow!(
            "{what} {id} not found at the {role} instance at {addr}: {message}"
        )),
        (StatusCode::NOT_FOUND, _, _) => Err(anyhow!(
            "{addr} does not serve /state/ (HTTP 404 for {path}): is it a {role} instance's \
             metrics address? `parley run` serves the tickets role on its --metrics-addr port + 1 \
             and the router on + 2"
        )),
        (StatusCode::SERVICE_UNAVAILABLE, _, Some(message)) => Err(anyhow!(
            "the {role} instance at {addr} cannot answer for {what} {id} yet: {message}"
        )),
        (status, _, message) => Err(anyhow!(
            "the {role} instance at {addr} answered {status} for {what} {id}: {}",
            message.unwrap_or_else(|| body.trim().to_owned())
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_split_at_the_first_slash_and_refuse_empty_parts() {
        assert_eq!(
            parse_conversation("acme/c/1"),
            Ok(AccountId {
                account: "acme".into(),
                id: "c/1".into()
            })
        );
        for bad in ["acme", "acme/", "/c1", "", " acme/c1"] {
            let error = parse_conversation(bad).unwrap_err();
            assert!(
                error.starts_with("expected ACCOUNT/CONVERSATION"),
                "{error}"
            );
        }
        assert!(parse_agent("acme").unwrap_err().contains("ACCOUNT/AGENT"));
    }

    #[test]
    fn addresses_need_a_host_and_a_port() {
        assert_eq!(
            parse_addr("tickets-0:9464").as_deref(),
            Ok("tickets-0:9464")
        );
        assert!(parse_addr("[::1]:9465").is_ok());
        for bad in ["9465", ":9465", "host:", "host:99999", "http://host:9465/x"] {
            assert!(parse_addr(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn record_keys_follow_the_roles_keys() {
        let id = AccountId {
            account: "acme".into(),
            id: "491701234567".into(),
        };
        assert_eq!(Target::Ticket.record_key(&id), "acme/491701234567");
        assert_eq!(Target::Agent.record_key(&id), "acme");
        assert_eq!(
            Target::Agent.input().with_prefix("parley."),
            "parley.routing-requests"
        );
    }

    #[test]
    fn state_keys_and_default_addresses_follow_the_roles() {
        let id = AccountId {
            account: "acme".into(),
            id: "ana".into(),
        };
        assert_eq!(Target::Ticket.state_key(&id), "acme/ana");
        assert_eq!(Target::Agent.state_key(&id), "acme/agent/ana");
        assert_eq!(Target::Ticket.default_addr(), "127.0.0.1:9465");
        assert_eq!(Target::Agent.default_addr(), "127.0.0.1:9466");
    }

    #[test]
    fn the_address_comes_from_the_flag_then_the_file_then_the_owner_then_the_default() {
        let given = |addr: &str| Source::Given(addr.to_owned());
        let connection = Connection {
            brokers: "kafka-0:9092".into(),
            topic_prefix: "parley.".into(),
            registry_url: None,
            librdkafka: Default::default(),
        };
        let owner = |group: &str| Source::Owner {
            connection: connection.clone(),
            group: group.to_owned(),
        };
        let mut file = ConfigFile::default();
        let resolve = |target, flag, file: &ConfigFile, brokers: bool, group| {
            resolve_source(
                target,
                flag,
                file,
                brokers.then(|| connection.clone()),
                group,
            )
        };
        assert_eq!(
            resolve(Target::Agent, None, &file, false, None).unwrap(),
            given("127.0.0.1:9466")
        );
        assert_eq!(
            resolve(Target::Agent, None, &file, true, None).unwrap(),
            owner("parley-router")
        );
        assert_eq!(
            resolve(Target::Ticket, None, &file, true, Some("eu-tickets")).unwrap(),
            owner("eu-tickets")
        );
        file.router_addr = Some("router-0:9464".into());
        assert_eq!(
            resolve(Target::Agent, None, &file, true, None).unwrap(),
            given("router-0:9464")
        );
        assert_eq!(
            resolve(Target::Agent, Some("x:1"), &file, true, None).unwrap(),
            given("x:1")
        );
        file.tickets_addr = Some("nonsense".into());
        let error = resolve(Target::Ticket, None, &file, false, None).unwrap_err();
        assert!(
            error.0.contains("tickets_addr = \"nonsense\"") && error.0.contains("HOST:PORT"),
            "{}",
            error.0
        );
    }
}
