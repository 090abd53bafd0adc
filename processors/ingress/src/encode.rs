//! A hand-rolled Avro binary encoder for ConversationEvent, in single-object encoding.
//!
//! Ingress writes every event it makes, so encoding sits on its hot path. apache-avro's
//! serde path builds a generic `Value` tree per record first; this writes the bytes
//! directly, field by field in `schemas/conversation_event.avsc` order: strings and bytes
//! as a zigzag-varint length then the bytes, longs and enum indexes as zigzag varints,
//! unions as the branch index then the value, arrays as one block (count, items) then a
//! zero. Tests decode its output with apache-avro against the schema file, so the two
//! cannot drift apart.

use parley_core::{AttachmentKind, Channel, ConversationEvent};

/// The Avro single-object marker.
pub const SINGLE_OBJECT_MAGIC: [u8; 2] = [0xC3, 0x01];

/// The CRC-64-AVRO (Rabin) fingerprint of the parsing canonical form of
/// `schemas/conversation_event.avsc`, as the single-object header carries it
/// (little-endian). A test recomputes it from the schema file.
pub const CONVERSATION_EVENT_FINGERPRINT: [u8; 8] =
    [0xf0, 0xc9, 0x8d, 0xde, 0x39, 0x23, 0x58, 0x53];

/// Appends `event` in Avro single-object encoding: `C3 01`, the schema fingerprint, then
/// the Avro binary datum.
pub fn encode_single_object(event: &ConversationEvent, out: &mut Vec<u8>) {
    out.extend_from_slice(&SINGLE_OBJECT_MAGIC);
    out.extend_from_slice(&CONVERSATION_EVENT_FINGERPRINT);
    encode_datum(event, out);
}

/// Appends `event` as a bare Avro binary datum (no header), e.g. after a Confluent
/// wire-format prefix.
pub fn encode_datum(event: &ConversationEvent, out: &mut Vec<u8>) {
    out.reserve(
        64 + event.event_id.len()
            + event.conversation.len()
            + event.text.as_ref().map_or(0, String::len),
    );
    string(out, &event.event_id);
    string(out, &event.account);
    optional_string(out, event.brand.as_deref());
    string(out, &event.conversation);
    long(out, channel_index(event.channel));
    long(out, event.sent_at.0);
    long(out, event.received_at.0);
    optional_string(out, event.text.as_deref());
    if !event.attachments.is_empty() {
        long(out, event.attachments.len() as i64);
        for attachment in &event.attachments {
            long(out, attachment_kind_index(attachment.kind));
            optional_string(out, attachment.reference.as_deref());
        }
    }
    long(out, 0);
    optional_string(out, event.author_name.as_deref());
    if !event.reply_handles.is_empty() {
        long(out, event.reply_handles.len() as i64);
        for handle in &event.reply_handles {
            string(out, &handle.name);
            string(out, &handle.value);
        }
    }
    long(out, 0);
}

/// A long (or int) as a zigzag varint.
fn long(out: &mut Vec<u8>, value: i64) {
    let mut n = ((value << 1) ^ (value >> 63)) as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn string(out: &mut Vec<u8>, value: &str) {
    long(out, value.len() as i64);
    out.extend_from_slice(value.as_bytes());
}

/// A `["null", "string"]` union.
fn optional_string(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        None => long(out, 0),
        Some(value) => {
            long(out, 1);
            string(out, value);
        }
    }
}

/// The symbol's index in the schema's `Channel` enum.
fn channel_index(channel: Channel) -> i64 {
    match channel {
        Channel::Web => 0,
        Channel::Ios => 1,
        Channel::Android => 2,
        Channel::Whatsapp => 3,
        Channel::Messenger => 4,
        Channel::Instagram => 5,
        Channel::Line => 6,
        Channel::Telegram => 7,
        Channel::Viber => 8,
        Channel::X => 9,
        Channel::Wechat => 10,
    }
}

/// The symbol's index in the schema's `AttachmentKind` enum.
fn attachment_kind_index(kind: AttachmentKind) -> i64 {
    match kind {
        AttachmentKind::Image => 0,
        AttachmentKind::Video => 1,
        AttachmentKind::Audio => 2,
        AttachmentKind::File => 3,
        AttachmentKind::Location => 4,
        AttachmentKind::Sticker => 5,
        AttachmentKind::Contact => 6,
        AttachmentKind::Other => 7,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_varints_match_the_spec_examples() {
        // The Avro specification's table: 0 -> 00, -1 -> 01, 1 -> 02, -2 -> 03, 2 -> 04,
        // -64 -> 7f, 64 -> 80 01.
        for (value, bytes) in [
            (0i64, &[0x00u8][..]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (-2, &[0x03]),
            (2, &[0x04]),
            (-64, &[0x7f]),
            (64, &[0x80, 0x01]),
        ] {
            let mut out = Vec::new();
            long(&mut out, value);
            assert_eq!(out, bytes, "{value}");
        }
        let mut out = Vec::new();
        long(&mut out, i64::MIN);
        assert_eq!(
            out,
            [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
        );
    }
}
