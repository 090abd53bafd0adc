//! ConversationEvent in Avro single-object encoding, on ingress's hot path.
//!
//! Ingress writes every event it makes, so encoding sits on its hot path: it appends to a
//! buffer reused from record to record, with the body written by the runtime's hand-written
//! codec ([`parley_runtime::codec::write_conversation_event`], the one the other stages'
//! [`AvroCodec`](parley_runtime::codec::AvroCodec) uses), checked byte for byte against
//! apache-avro there and in this crate's tests.

use parley_core::ConversationEvent;

/// The Avro single-object marker.
pub const SINGLE_OBJECT_MAGIC: [u8; 2] = [0xC3, 0x01];

/// The CRC-64-AVRO (Rabin) fingerprint of the parsing canonical form of
/// `schemas/conversation_event.avsc`, as the single-object header carries it
/// (little-endian). A test recomputes it from the schema file.
pub const CONVERSATION_EVENT_FINGERPRINT: [u8; 8] =
    [0x80, 0x31, 0xc9, 0x12, 0x5a, 0x2d, 0x58, 0xde];

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
    parley_runtime::codec::write_conversation_event(event, out);
}
