//! `parley inspect ticket|agent`: reads one conversation's or agent's state from a running
//! instance's `/state/<key>` endpoint (served beside `/metrics`) and prints it as JSON.

use crate::options::{ConfigFile, DEFAULT_METRICS_ADDR};
use crate::usage::UsageError;
use anyhow::anyhow;
use parley_core::topics::conversation_key;
use parley_runtime::http::{self, StatusCode};
use serde_json::Value;
use std::time::Duration;

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

/// The address to ask: the flag (or its environment variable), else the config file's key,
/// else `parley run`'s port for the role.
pub(crate) fn resolve_addr(
    target: Target,
    flag: Option<&str>,
    file: &ConfigFile,
) -> Result<String, UsageError> {
    if let Some(addr) = flag {
        return Ok(addr.to_owned());
    }
    let from_file = match target {
        Target::Ticket => file.tickets_addr.as_deref(),
        Target::Agent => file.router_addr.as_deref(),
    };
    match from_file {
        Some(addr) => parse_addr(addr).map_err(|rule| {
            UsageError(format!(
                "config file: {} = {addr:?}: {rule}",
                target.file_key()
            ))
        }),
        None => Ok(target.default_addr()),
    }
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
    fn the_address_comes_from_the_flag_then_the_file_then_the_default() {
        let mut file = ConfigFile::default();
        assert_eq!(
            resolve_addr(Target::Agent, None, &file).unwrap(),
            "127.0.0.1:9466"
        );
        file.router_addr = Some("router-0:9464".into());
        assert_eq!(
            resolve_addr(Target::Agent, None, &file).unwrap(),
            "router-0:9464"
        );
        assert_eq!(
            resolve_addr(Target::Agent, Some("x:1"), &file).unwrap(),
            "x:1"
        );
        file.tickets_addr = Some("nonsense".into());
        let error = resolve_addr(Target::Ticket, None, &file).unwrap_err();
        assert!(
            error.0.contains("tickets_addr = \"nonsense\"") && error.0.contains("HOST:PORT"),
            "{}",
            error.0
        );
    }
}
