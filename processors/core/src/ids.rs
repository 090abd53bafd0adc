//! Stable hashing and the deterministic ids that outputs carry.
//!
//! Ids are derived from input alone, so a replay after a failure produces byte-identical
//! records. The hash is FNV-1a 64: stable across builds and platforms, unlike `std`'s.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::sync::Arc;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64 of byte strings, each followed by a separator so `("ab", "c") != ("a", "bc")`.
pub fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut hash = FNV_OFFSET;
    for part in parts {
        for byte in part.iter().chain(std::iter::once(&0xff)) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(FNV_PRIME);
        }
    }
    hash
}

/// The id of a conversation's `ordinal`-th ticket: `<16 hex digits of the key's hash>-<ordinal>`.
/// Written by hand into one buffer, then one allocation of the right size: every new
/// ticket calls it, and `format!` of a padded hex number costs ten times as much.
pub fn ticket_id(account: &str, conversation: &str, ordinal: u32) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hash = stable_hash(&[account.as_bytes(), conversation.as_bytes()]);
    let (digits, start) = decimal(ordinal);
    let mut id = [0u8; 16 + 1 + 10];
    for (nibble, byte) in id[..16].iter_mut().rev().enumerate() {
        *byte = HEX[(hash >> (nibble * 4)) as usize & 0xf];
    }
    id[16] = b'-';
    let len = 17 + digits.len() - start;
    id[17..len].copy_from_slice(&digits[start..]);
    String::from_utf8(id[..len].to_vec()).expect("hex digits, a dash and decimal digits")
}

/// The id of a ticket's `ordinal`-th output record of a kind (`s` status change, `r`
/// routing request, `m` metrics, `i` inactivity reminder, `l` SLA event), spelled
/// `<ticket id>.<kind><ordinal>`. It is kept as its parts and spelled out only where it is
/// written: a record that carries one costs a shared ticket id, not an allocation. Any
/// other text read back is kept as it is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RecordId {
    /// `<ticket>.<kind><ordinal>`.
    Parts {
        /// The ticket id, shared with the record's other fields.
        ticket: Arc<str>,
        /// The record kind (`l` an SLA event).
        kind: char,
        /// The ticket's record number of that kind.
        ordinal: u32,
    },
    /// Text read back that is not in that form.
    Text(String),
}

impl RecordId {
    /// The id of ticket `ticket`'s `ordinal`-th record of `kind`.
    pub fn new(ticket: &Arc<str>, kind: char, ordinal: u32) -> RecordId {
        RecordId::Parts {
            ticket: Arc::clone(ticket),
            kind,
            ordinal,
        }
    }

    /// An id read back: its parts when `text` is in the form a `Parts` id spells, else the
    /// text as it is. Spelling the result gives `text` again.
    pub fn parse(text: &str) -> RecordId {
        let parts = text.rsplit_once('.').and_then(|(ticket, rest)| {
            let mut chars = rest.chars();
            let kind = chars.next()?;
            let digits = chars.as_str();
            let canonical = !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit())
                && (digits == "0" || !digits.starts_with('0'))
                && !kind.is_ascii_digit();
            let ordinal = digits.parse().ok().filter(|_| canonical)?;
            Some(RecordId::Parts {
                ticket: Arc::from(ticket),
                kind,
                ordinal,
            })
        });
        parts.unwrap_or_else(|| RecordId::Text(text.to_owned()))
    }

    /// The length of the spelled id in bytes.
    pub fn len(&self) -> usize {
        match self {
            RecordId::Parts {
                ticket,
                kind,
                ordinal,
            } => {
                let (digits, start) = decimal(*ordinal);
                ticket.len() + 1 + kind.len_utf8() + digits.len() - start
            }
            RecordId::Text(text) => text.len(),
        }
    }

    /// Whether the spelled id is empty (only a `Text` can be).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The spelled id, in one allocation of its length.
    pub fn spelled(&self) -> String {
        match self {
            RecordId::Text(text) => text.clone(),
            RecordId::Parts { .. } => {
                let mut out = Vec::with_capacity(self.len());
                self.spell_into(&mut out);
                String::from_utf8(out).expect("a ticket id, a char and ASCII digits are UTF-8")
            }
        }
    }

    /// Appends the spelled id to `out`.
    pub fn spell_into(&self, out: &mut Vec<u8>) {
        match self {
            RecordId::Parts {
                ticket,
                kind,
                ordinal,
            } => {
                out.extend_from_slice(ticket.as_bytes());
                out.push(b'.');
                out.extend_from_slice(kind.encode_utf8(&mut [0; 4]).as_bytes());
                let (digits, start) = decimal(*ordinal);
                out.extend_from_slice(&digits[start..]);
            }
            RecordId::Text(text) => out.extend_from_slice(text.as_bytes()),
        }
    }
}

/// `ordinal` in decimal ASCII digits: the buffer and where the digits start in it.
fn decimal(ordinal: u32) -> ([u8; 10], usize) {
    let mut digits = [0u8; 10];
    let mut start = digits.len();
    let mut rest = ordinal;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    (digits, start)
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordId::Parts {
                ticket,
                kind,
                ordinal,
            } => write!(f, "{ticket}.{kind}{ordinal}"),
            RecordId::Text(text) => f.write_str(text),
        }
    }
}

impl From<&str> for RecordId {
    fn from(text: &str) -> RecordId {
        RecordId::parse(text)
    }
}

impl From<String> for RecordId {
    fn from(text: String) -> RecordId {
        RecordId::parse(&text)
    }
}

impl PartialEq<str> for RecordId {
    fn eq(&self, other: &str) -> bool {
        match self {
            RecordId::Text(text) => text == other,
            RecordId::Parts {
                ticket,
                kind,
                ordinal,
            } => {
                let (digits, start) = decimal(*ordinal);
                (other.strip_prefix(&**ticket))
                    .and_then(|rest| rest.strip_prefix('.'))
                    .and_then(|rest| rest.strip_prefix(*kind))
                    .is_some_and(|rest| rest.as_bytes() == &digits[start..])
            }
        }
    }
}

impl PartialEq<&str> for RecordId {
    fn eq(&self, other: &&str) -> bool {
        self == *other
    }
}

impl PartialEq<String> for RecordId {
    fn eq(&self, other: &String) -> bool {
        self == other.as_str()
    }
}

impl Serialize for RecordId {
    fn serialize<S: Serializer>(&self, to: S) -> Result<S::Ok, S::Error> {
        to.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RecordId {
    fn deserialize<D: Deserializer<'de>>(from: D) -> Result<RecordId, D::Error> {
        String::deserialize(from).map(RecordId::from)
    }
}

/// Serde for the shared names (`Arc<str>`): a string, as a `String` would be.
pub(crate) mod shared_str {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::sync::Arc;

    pub(crate) fn serialize<S: Serializer>(value: &Arc<str>, to: S) -> Result<S::Ok, S::Error> {
        to.serialize_str(value)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(from: D) -> Result<Arc<str>, D::Error> {
        String::deserialize(from).map(Arc::from)
    }

    /// The same for an optional name: a string or null, as an `Option<String>` would be.
    pub(crate) mod option {
        use serde::{Deserialize, Deserializer, Serializer};
        use std::sync::Arc;

        pub(crate) fn serialize<S: Serializer>(
            value: &Option<Arc<str>>,
            to: S,
        ) -> Result<S::Ok, S::Error> {
            match value {
                Some(value) => to.serialize_some(&**value),
                None => to.serialize_none(),
            }
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            from: D,
        ) -> Result<Option<Arc<str>>, D::Error> {
            Ok(Option::<String>::deserialize(from)?.map(Arc::from))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_separates_parts() {
        assert_ne!(stable_hash(&[b"ab", b"c"]), stable_hash(&[b"a", b"bc"]));
    }

    #[test]
    fn hash_is_stable_across_builds() {
        // Pinned (computed independently from the FNV-1a definition): state on disk and ids in topics depend on this value never changing.
        assert_eq!(stable_hash(&[b"acme", b"conv-1"]), 0xea03_9bd0_031c_3bad);
    }

    #[test]
    fn a_ticket_id_is_the_key_hash_in_16_hex_digits_then_the_ordinal() {
        for (account, conversation) in [("acme", "conv-1"), ("", ""), ("a", "bc")] {
            let hash = stable_hash(&[account.as_bytes(), conversation.as_bytes()]);
            for ordinal in [0, 1, 9, 10, 4_294_967_295] {
                assert_eq!(
                    ticket_id(account, conversation, ordinal),
                    format!("{hash:016x}-{ordinal}")
                );
            }
        }
        assert_eq!(ticket_id("acme", "conv-1", 2), "ea039bd0031c3bad-2");
    }

    #[test]
    fn ticket_ids_differ_by_conversation_and_ordinal() {
        let a = ticket_id("acme", "c1", 1);
        assert_eq!(a, ticket_id("acme", "c1", 1));
        assert_ne!(a, ticket_id("acme", "c1", 2));
        assert_ne!(a, ticket_id("acme", "c2", 1));
        let id = RecordId::new(&Arc::from(a.as_str()), 's', 3);
        assert_eq!(id.spelled(), format!("{a}.s3"));
    }

    #[test]
    fn a_record_id_kept_as_parts_spells_its_parts_and_parses_back() {
        let ticket: Arc<str> = Arc::from("0123456789abcdef-2");
        for (kind, ordinal) in [('l', 0), ('l', 9), ('s', 10), ('m', 4_294_967_295)] {
            let id = RecordId::new(&ticket, kind, ordinal);
            let spelled = format!("{ticket}.{kind}{ordinal}");
            assert_eq!(id.spelled(), spelled);
            let mut bytes = Vec::new();
            id.spell_into(&mut bytes);
            assert_eq!(bytes, spelled.as_bytes());
            assert_eq!(id.len(), spelled.len());
            assert_eq!(id.to_string(), spelled);
            assert_eq!(id, spelled);
            assert_eq!(RecordId::parse(&spelled), id);
        }
        // A ticket id with dots of its own.
        let dotted = RecordId::new(&Arc::from("a.b"), 'l', 3);
        assert_eq!(RecordId::parse("a.b.l3"), dotted);
    }

    #[test]
    fn text_not_in_the_record_id_form_is_kept_as_it_is() {
        for text in [
            "",
            "m7",
            "t.l",
            "t.l01",
            "t.7",
            "t.l-1",
            "t.l99999999999",
            "t..1",
        ] {
            let id = RecordId::parse(text);
            assert_eq!(id, RecordId::Text(text.to_owned()), "{text}");
            assert_eq!(id.to_string(), text);
            assert_eq!(id.len(), text.len());
        }
        assert_eq!(RecordId::parse("t.l0").to_string(), "t.l0");
    }

    #[test]
    fn a_record_id_is_a_string_in_json() {
        let id = RecordId::new(&Arc::from("t"), 'l', 12);
        assert_eq!(serde_json::to_string(&id).unwrap(), r#""t.l12""#);
        let back: RecordId = serde_json::from_str(r#""t.l12""#).unwrap();
        assert_eq!(back, id);
    }

    #[test]
    fn record_ids_spell_the_ordinal_in_decimal() {
        for ordinal in [0, 7, 10, 99, 1_000, 4_294_967_295] {
            assert_eq!(
                RecordId::new(&Arc::from("t-1"), 'l', ordinal).spelled(),
                format!("t-1.l{ordinal}"),
                "{ordinal}"
            );
        }
    }
}
