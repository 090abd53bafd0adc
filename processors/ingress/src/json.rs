//! Borrowing JSON building blocks for the adapters: strings, ids that are numbers or
//! strings, and the mapping of parser errors to DLQ reasons.
//!
//! Ids are never read through `f64`: an integer id (a Viber `message_token`, a Telegram
//! `chat.id`) is read as `u64`/`i64` and printed back in decimal, so ids above 2^53 keep
//! every digit. A number with a fraction or beyond 64 bits is refused, never rounded.

use crate::error::IngressError;
use parley_core::Channel;
use serde::de::{self, Deserialize, Deserializer, Visitor};
use std::borrow::Cow;
use std::fmt;

/// A JSON string, borrowed from the body when it has no escapes.
///
/// `Option<Cow<str>>` never borrows through serde (its `Deserialize` always owns); this does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Str<'a>(pub(crate) Cow<'a, str>);

impl Str<'_> {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn to_owned_string(&self) -> String {
        self.0.as_ref().to_owned()
    }
}

impl std::borrow::Borrow<str> for Str<'_> {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor;
        impl<'de> Visitor<'de> for StrVisitor {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(StrVisitor)
    }
}

/// An id or a timestamp that a channel sends as a JSON string or a JSON integer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scalar<'a> {
    /// Sent as a string.
    Text(Cow<'a, str>),
    /// Sent as a non-negative integer.
    Unsigned(u64),
    /// Sent as a negative integer.
    Signed(i64),
}

impl Scalar<'_> {
    /// The value as an id: the string itself, or the integer in decimal.
    pub(crate) fn to_id(&self) -> String {
        match self {
            Scalar::Text(text) => text.as_ref().to_owned(),
            Scalar::Unsigned(n) => n.to_string(),
            Scalar::Signed(n) => n.to_string(),
        }
    }

    /// The value as an integer, if it is one or is a string of decimal digits (with an
    /// optional leading `-`) that fits in an `i64`.
    pub(crate) fn to_i64(&self) -> Option<i64> {
        match self {
            Scalar::Text(text) => parse_decimal_i64(text),
            Scalar::Unsigned(n) => i64::try_from(*n).ok(),
            Scalar::Signed(n) => Some(*n),
        }
    }

    /// True for an empty string: channels sometimes send `""` for an absent id.
    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, Scalar::Text(text) if text.is_empty())
    }

    /// A short rendering for error messages.
    pub(crate) fn describe(&self) -> String {
        shorten(&self.to_id())
    }
}

/// Parses `-?[0-9]+` into an `i64`; nothing else (no `+`, no spaces, no fraction).
pub(crate) fn parse_decimal_i64(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// At most 64 characters of `text`, for error messages.
pub(crate) fn shorten(text: &str) -> String {
    match text.char_indices().nth(64) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an integer of at most 64 bits")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Scalar::Text(Cow::Owned(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Scalar::Unsigned(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(if v < 0 {
                    Scalar::Signed(v)
                } else {
                    Scalar::Unsigned(v as u64)
                })
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

/// Parses a JSON body into an adapter's borrowed shape, mapping parser errors to reasons:
/// syntax errors are `malformed_json`; a top-level value that is not an object is
/// `wrong_channel`; a field of the wrong type is `invalid_field`, with its path.
pub(crate) fn parse<'a, T: Deserialize<'a>>(
    channel: Channel,
    body: &'a str,
) -> Result<T, IngressError> {
    // Serde's derived structs also accept a JSON array (fields by position): refuse any
    // top-level value that is not an object before that can happen.
    if body
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .as_bytes()
        .first()
        != Some(&b'{')
    {
        return Err(match serde_json::from_str::<de::IgnoredAny>(body) {
            Ok(_) => IngressError::WrongChannel {
                channel,
                detail: "the body is JSON but not an object".into(),
            },
            Err(error) => IngressError::MalformedJson {
                channel,
                detail: error.to_string(),
            },
        });
    }
    match serde_json::from_str(body) {
        Ok(value) => Ok(value),
        Err(error) if error.classify() == serde_json::error::Category::Data => {
            Err(data_error::<T>(channel, body, error))
        }
        Err(error) => Err(IngressError::MalformedJson {
            channel,
            detail: error.to_string(),
        }),
    }
}

/// Parses again, tracking the path, to say which field had the wrong type. Only runs on
/// the error path, so the fast path pays nothing for it.
#[cold]
fn data_error<'a, T: Deserialize<'a>>(
    channel: Channel,
    body: &'a str,
    error: serde_json::Error,
) -> IngressError {
    let mut deserializer = serde_json::Deserializer::from_str(body);
    let (path, detail) = match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
        Err(tracked) => (tracked.path().to_string(), tracked.inner().to_string()),
        Ok(_) => (String::from("."), error.to_string()),
    };
    if path == "." {
        return IngressError::WrongChannel {
            channel,
            detail: format!("the body must be a JSON object: {detail}"),
        };
    }
    IngressError::InvalidField {
        channel,
        field: path,
        value: None,
        rule: detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_above_2_pow_53_keep_every_digit() {
        let id: Scalar<'_> = serde_json::from_str("4912661846655238145").unwrap();
        assert_eq!(id.to_id(), "4912661846655238145");
        let id: Scalar<'_> = serde_json::from_str("18446744073709551615").unwrap();
        assert_eq!(id.to_id(), "18446744073709551615");
        assert!(serde_json::from_str::<Scalar<'_>>("18446744073709551616").is_err());
        assert!(serde_json::from_str::<Scalar<'_>>("1.5").is_err());
        let id: Scalar<'_> = serde_json::from_str("-1001234567890").unwrap();
        assert_eq!(id.to_id(), "-1001234567890");
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let text: Str<'_> = serde_json::from_str(r#""plain""#).unwrap();
        assert!(matches!(text.0, Cow::Borrowed("plain")));
        let text: Str<'_> = serde_json::from_str(r#""a\nb""#).unwrap();
        assert_eq!(text.as_str(), "a\nb");
    }

    #[test]
    fn decimal_strings_only() {
        assert_eq!(parse_decimal_i64("1516403560557"), Some(1_516_403_560_557));
        assert_eq!(parse_decimal_i64("-5"), Some(-5));
        for bad in ["", "-", "+5", " 5", "5.0", "1e3", "99999999999999999999"] {
            assert_eq!(parse_decimal_i64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn shorten_cuts_on_a_char_boundary() {
        let long = "é".repeat(100);
        let short = shorten(&long);
        assert_eq!(short.chars().count(), 67);
        assert_eq!(shorten("abc"), "abc");
    }
}
