//! Why a raw record cannot become ConversationEvents: the reason that goes to the DLQ.

use parley_core::Channel;

/// Why ingress sends a raw record to the DLQ instead of turning it into events.
///
/// Every variant has a stable short [`code`](IngressError::code) for the DLQ's `error`
/// header and the `reason` label of the DLQ counter; the `Display` text is for people and
/// names the field, the value and the rule. None of these is worth a retry: the same bytes
/// fail the same way.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IngressError {
    /// The body is longer than the configured limit.
    #[error("body is {size} bytes, over the limit max_body_bytes = {limit}")]
    Oversized {
        /// The body's length in bytes.
        size: usize,
        /// The configured `max_body_bytes`.
        limit: usize,
    },
    /// The body is not UTF-8.
    #[error("body is not valid UTF-8: invalid byte sequence at offset {offset}")]
    InvalidUtf8 {
        /// Where the first invalid sequence starts.
        offset: usize,
    },
    /// The body of a JSON channel is not well-formed JSON.
    #[error("{channel} body is not well-formed JSON: {detail}")]
    MalformedJson {
        /// The channel of the raw topic.
        channel: Channel,
        /// The parser's message, with line and column.
        detail: String,
    },
    /// The WeChat body is not well-formed XML.
    #[error("wechat body is not well-formed XML: {detail}")]
    MalformedXml {
        /// The parser's message, with the position where it can tell.
        detail: String,
    },
    /// The body is well-formed but is not this channel's webhook (another channel's body
    /// on this topic, or something else entirely).
    #[error("{channel} body is not this channel's webhook: {detail}")]
    WrongChannel {
        /// The channel of the raw topic.
        channel: Channel,
        /// What marks this channel's bodies and was not there.
        detail: String,
    },
    /// A field a message needs (its id, its sender, its timestamp) is absent.
    #[error("{channel} webhook has no `{field}`, which every message needs")]
    MissingField {
        /// The channel of the raw topic.
        channel: Channel,
        /// The path of the missing field, e.g. `entry[0].messaging[1].message.mid`.
        field: String,
    },
    /// A field is present but its value breaks the channel's format (wrong JSON type,
    /// a timestamp that is not a number).
    #[error("{channel} webhook field `{field}`{} is invalid: {rule}", found(.value))]
    InvalidField {
        /// The channel of the raw topic.
        channel: Channel,
        /// The path of the field.
        field: String,
        /// The value as found (shortened), when the rule does not already quote it.
        value: Option<String>,
        /// What the value should have been.
        rule: String,
    },
    /// A message's timestamp is before 2000-01-01 or too far after the record's own
    /// timestamp (see [`IngressConfig::max_future_skew_ms`](crate::IngressConfig)).
    #[error(
        "{channel} webhook field `{field}` = {value} ms since the epoch is out of range: \
         it must lie between {min} and {max} (2000-01-01 to the record timestamp plus max_future_skew_ms)"
    )]
    TimestampOutOfRange {
        /// The channel of the raw topic.
        channel: Channel,
        /// The path of the timestamp field.
        field: String,
        /// The timestamp, converted to milliseconds (saturated if it overflowed).
        value: i64,
        /// The earliest accepted instant, in ms.
        min: i64,
        /// The latest accepted instant, in ms.
        max: i64,
    },
    /// Neither a `parley-account` header nor the integration map names the account.
    #[error(
        "no account for this {channel} record: it has no `parley-account` header and {}",
        match .integration {
            Some(id) => format!("integration id {id:?} is not in the `integrations` map"),
            None => "its body carries no integration id to look up".to_owned(),
        }
    )]
    UnknownAccount {
        /// The channel of the raw topic.
        channel: Channel,
        /// The integration id the body carries, if it carries one.
        integration: Option<String>,
    },
    /// The `parley-account` header is present but is not `account` or `account/brand`.
    #[error("`parley-account` header {value:?} is invalid: {rule}")]
    InvalidAccountHeader {
        /// The header's value (lossily decoded if it was not UTF-8).
        value: String,
        /// What is wrong with it.
        rule: &'static str,
    },
}

/// ` = "value"` for a message, or nothing.
fn found(value: &Option<String>) -> String {
    value
        .as_ref()
        .map(|v| format!(" = {v:?}"))
        .unwrap_or_default()
}

impl IngressError {
    /// Every code [`code`](IngressError::code) can return, for registering metric labels up
    /// front.
    pub const CODES: [&'static str; 10] = [
        "oversized",
        "invalid_utf8",
        "malformed_json",
        "malformed_xml",
        "wrong_channel",
        "missing_field",
        "invalid_field",
        "timestamp_out_of_range",
        "unknown_account",
        "invalid_account_header",
    ];

    /// The stable short reason: the DLQ `error` header and the metrics `reason` label.
    pub const fn code(&self) -> &'static str {
        match self {
            IngressError::Oversized { .. } => "oversized",
            IngressError::InvalidUtf8 { .. } => "invalid_utf8",
            IngressError::MalformedJson { .. } => "malformed_json",
            IngressError::MalformedXml { .. } => "malformed_xml",
            IngressError::WrongChannel { .. } => "wrong_channel",
            IngressError::MissingField { .. } => "missing_field",
            IngressError::InvalidField { .. } => "invalid_field",
            IngressError::TimestampOutOfRange { .. } => "timestamp_out_of_range",
            IngressError::UnknownAccount { .. } => "unknown_account",
            IngressError::InvalidAccountHeader { .. } => "invalid_account_header",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_listed_in_codes() {
        let samples = [
            IngressError::Oversized { size: 2, limit: 1 },
            IngressError::InvalidUtf8 { offset: 0 },
            IngressError::MalformedJson {
                channel: Channel::Line,
                detail: String::new(),
            },
            IngressError::MalformedXml {
                detail: String::new(),
            },
            IngressError::WrongChannel {
                channel: Channel::Line,
                detail: String::new(),
            },
            IngressError::MissingField {
                channel: Channel::Line,
                field: "x".into(),
            },
            IngressError::InvalidField {
                channel: Channel::Line,
                field: "x".into(),
                value: None,
                rule: String::new(),
            },
            IngressError::TimestampOutOfRange {
                channel: Channel::Line,
                field: "x".into(),
                value: 0,
                min: 1,
                max: 2,
            },
            IngressError::UnknownAccount {
                channel: Channel::Line,
                integration: None,
            },
            IngressError::InvalidAccountHeader {
                value: String::new(),
                rule: "",
            },
        ];
        for error in &samples {
            assert!(
                IngressError::CODES.contains(&error.code()),
                "{}",
                error.code()
            );
        }
    }

    #[test]
    fn messages_name_the_field() {
        let error = IngressError::MissingField {
            channel: Channel::Messenger,
            field: "entry[0].messaging[1].message.mid".into(),
        };
        assert_eq!(
            error.to_string(),
            "messenger webhook has no `entry[0].messaging[1].message.mid`, which every message needs"
        );
    }
}
