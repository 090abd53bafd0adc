//! Ingress configuration: the body size limit, the clock-skew rule and the integration map.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// How ingress reads raw webhook records.
///
/// Every field has a default (the `default_*` functions below), so `{}` is a valid config.
/// Example, as JSON (the binary's config file maps onto the same fields):
///
/// ```
/// # use parley_ingress::IngressConfig;
/// let config: IngressConfig = serde_json::from_str(r#"{
///     "max_body_bytes": 262144,
///     "max_future_skew_ms": 300000,
///     "integrations": {
///         "106540352242922": "acme/eu",
///         "Uab012345678901234567890123456789": "acme"
///     }
/// }"#).unwrap();
/// assert_eq!(config.integrations["106540352242922"].brand.as_deref(), Some("eu"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngressConfig {
    /// The largest body ingress reads, in bytes; a longer one goes to the DLQ as `oversized`.
    /// Meta and LINE batch at most a few hundred messages per call, far below the default.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// How far after the raw record's timestamp a message's own timestamp may lie, in
    /// milliseconds, to allow for clock skew between the channel and Kafka. A later one
    /// (or one before 2000-01-01) goes to the DLQ as `timestamp_out_of_range`.
    #[serde(default = "default_max_future_skew_ms")]
    pub max_future_skew_ms: i64,
    /// Channel integration id to `account` or `account/brand`, used when a record has no
    /// `parley-account` header. The integration id is what the body carries to say which
    /// business it is for: the WhatsApp `phone_number_id`, the Messenger page id, the
    /// Instagram account id, the LINE `destination`, the X `for_user_id`, the WeChat
    /// `ToUserName`, the messaging platform's `app.id`. Telegram and Viber bodies carry no
    /// such id: their records need the header.
    #[serde(default)]
    pub integrations: HashMap<String, AccountRef>,
}

/// The default `max_body_bytes`: 1 MiB.
pub const fn default_max_body_bytes() -> usize {
    1 << 20
}

/// The default `max_future_skew_ms`: one day.
pub const fn default_max_future_skew_ms() -> i64 {
    86_400_000
}

impl Default for IngressConfig {
    fn default() -> Self {
        IngressConfig {
            max_body_bytes: default_max_body_bytes(),
            max_future_skew_ms: default_max_future_skew_ms(),
            integrations: HashMap::new(),
        }
    }
}

/// An account and, optionally, one of its brands: written `account` or `account/brand`
/// in the `parley-account` header and in the integration map.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountRef {
    /// The tenant.
    pub account: String,
    /// The brand, if any.
    pub brand: Option<String>,
}

/// Why a string is not `account` or `account/brand`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountRefError(pub &'static str);

impl fmt::Display for AccountRefError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for AccountRefError {}

impl FromStr for AccountRef {
    type Err = AccountRefError;

    /// Parses `account` or `account/brand`: neither part empty, at most one `/`, no
    /// surrounding whitespace.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        if value.trim() != value {
            return Err(AccountRefError("must not start or end with whitespace"));
        }
        let (account, brand) = match value.split_once('/') {
            None => (value, None),
            Some((account, brand)) => (account, Some(brand)),
        };
        if account.is_empty() {
            return Err(AccountRefError(
                "the account (before any `/`) must not be empty",
            ));
        }
        match brand {
            Some("") => Err(AccountRefError(
                "the brand (after the `/`) must not be empty",
            )),
            Some(brand) if brand.contains('/') => Err(AccountRefError(
                "must be `account` or `account/brand`, with at most one `/`",
            )),
            brand => Ok(AccountRef {
                account: account.to_owned(),
                brand: brand.map(str::to_owned),
            }),
        }
    }
}

impl TryFrom<String> for AccountRef {
    type Error = AccountRefError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<AccountRef> for String {
    fn from(value: AccountRef) -> String {
        value.to_string()
    }
}

impl fmt::Display for AccountRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.brand {
            Some(brand) => write!(f, "{}/{brand}", self.account),
            None => f.write_str(&self.account),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_takes_the_defaults() {
        let config: IngressConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config, IngressConfig::default());
        assert_eq!(config.max_body_bytes, 1_048_576);
        assert_eq!(config.max_future_skew_ms, 86_400_000);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let error = serde_json::from_str::<IngressConfig>(r#"{"max_body_byte": 10}"#).unwrap_err();
        assert!(
            error.to_string().contains("unknown field `max_body_byte`"),
            "{error}"
        );
    }

    #[test]
    fn integration_values_must_be_account_or_account_slash_brand() {
        let error = serde_json::from_str::<IngressConfig>(r#"{"integrations": {"123": "a/b/c"}}"#)
            .unwrap_err();
        assert!(error.to_string().contains("at most one `/`"), "{error}");
        let error = serde_json::from_str::<IngressConfig>(r#"{"integrations": {"123": "/b"}}"#)
            .unwrap_err();
        assert!(
            error.to_string().contains("account (before any `/`)"),
            "{error}"
        );
    }

    #[test]
    fn account_refs_parse_and_print_back() {
        for text in ["acme", "acme/eu"] {
            assert_eq!(text.parse::<AccountRef>().unwrap().to_string(), text);
        }
        assert_eq!(
            "acme/eu".parse::<AccountRef>().unwrap(),
            AccountRef {
                account: "acme".into(),
                brand: Some("eu".into())
            }
        );
        for bad in ["", "acme/", " acme", "a/b/c"] {
            assert!(bad.parse::<AccountRef>().is_err(), "{bad:?}");
        }
    }
}
