//! The Avro binary encoding written and read by hand: the primitives the record codecs are made of.
//!
//! Longs and ints are zigzag varints (an int is a long in range), booleans one byte,
//! strings a length then their UTF-8 bytes, enums the symbol's index in the schema, a
//! `["null", T]` union the branch index (0 or 1) then the value, and arrays blocks of a
//! count then that many items, ended by a zero count. The writer writes an array as one
//! block (as apache-avro does); the reader also takes several blocks and the negative
//! counts followed by a byte size that other writers may use. No schema of `schemas/` has a
//! map, fixed, float or bytes field, so neither side has them.
//!
//! Reading follows apache-avro 0.21 where the spec leaves room: a varint longer than ten
//! bytes is refused, and bytes after the last field are left unread.

use crate::error::CodecError;

/// Appends a long (or an int widened to one) as a zigzag varint.
pub fn long(out: &mut Vec<u8>, value: i64) {
    let mut n = ((value << 1) ^ (value >> 63)) as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Appends `value` as an Avro int; `field` names it if it is above `i32::MAX`.
pub fn int_u32(out: &mut Vec<u8>, field: &str, value: u32) -> Result<(), CodecError> {
    if value > i32::MAX as u32 {
        return Err(out_of_range(field, value, "int", i32::MAX as u64));
    }
    long(out, i64::from(value));
    Ok(())
}

/// Appends `value` as an Avro long; `field` names it if it is above `i64::MAX`.
pub fn long_u64(out: &mut Vec<u8>, field: &str, value: u64) -> Result<(), CodecError> {
    let Ok(value) = i64::try_from(value) else {
        return Err(out_of_range(field, value, "long", i64::MAX as u64));
    };
    long(out, value);
    Ok(())
}

fn out_of_range(field: &str, value: impl std::fmt::Display, kind: &str, max: u64) -> CodecError {
    CodecError::Avro(format!(
        "field {field} = {value}: an Avro {kind} holds at most {max}"
    ))
}

/// Appends a boolean: one byte, 0 or 1.
pub fn boolean(out: &mut Vec<u8>, value: bool) {
    out.push(u8::from(value));
}

/// Appends a string: its byte length, then its UTF-8 bytes.
pub fn string(out: &mut Vec<u8>, value: &str) {
    long(out, value.len() as i64);
    out.extend_from_slice(value.as_bytes());
}

/// Appends a `["null", "string"]` union.
pub fn optional_string(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        None => long(out, 0),
        Some(value) => {
            long(out, 1);
            string(out, value);
        }
    }
}

/// Appends a `["null", "long"]` union (logical types on the long included).
pub fn optional_long(out: &mut Vec<u8>, value: Option<i64>) {
    match value {
        None => long(out, 0),
        Some(value) => {
            long(out, 1);
            long(out, value);
        }
    }
}

/// Appends an array of strings as one block.
pub fn string_array(out: &mut Vec<u8>, items: &[String]) {
    if !items.is_empty() {
        long(out, items.len() as i64);
        for item in items {
            string(out, item);
        }
    }
    long(out, 0);
}

/// Appends an array as one block, each item written by `item`.
pub fn array<T>(
    out: &mut Vec<u8>,
    items: &[T],
    mut item: impl FnMut(&mut Vec<u8>, &T) -> Result<(), CodecError>,
) -> Result<(), CodecError> {
    if !items.is_empty() {
        long(out, items.len() as i64);
        for value in items {
            item(out, value)?;
        }
    }
    long(out, 0);
    Ok(())
}

/// An Avro enum of the schemas: each variant's index is its symbol's position in the
/// `.avsc`.
pub trait AvroEnum: Copy + Sized {
    /// How many symbols the schema's enum has.
    const SYMBOLS: usize;
    /// The variant's symbol index.
    fn index(self) -> i64;
    /// The variant at a symbol index, if the enum has that many symbols.
    fn from_index(index: usize) -> Option<Self>;
}

/// Appends an enum's symbol index.
pub fn symbol<E: AvroEnum>(out: &mut Vec<u8>, value: E) {
    long(out, value.index());
}

/// Appends a `["null", <enum>]` union.
pub fn optional_symbol<E: AvroEnum>(out: &mut Vec<u8>, value: Option<E>) {
    match value {
        None => long(out, 0),
        Some(value) => {
            long(out, 1);
            symbol(out, value);
        }
    }
}

/// Reads an Avro binary body front to back; every read names the field for its error.
#[derive(Debug)]
pub struct BodyReader<'a> {
    bytes: &'a [u8],
}

impl<'a> BodyReader<'a> {
    /// A reader of `bytes`, the body without any framing.
    pub fn new(bytes: &'a [u8]) -> BodyReader<'a> {
        BodyReader { bytes }
    }

    /// The bytes not read yet.
    pub fn remaining(&self) -> &'a [u8] {
        self.bytes
    }

    fn error(field: &str, what: impl std::fmt::Display) -> CodecError {
        CodecError::Avro(format!("field {field}: {what}"))
    }

    /// A long (zigzag varint of at most ten bytes).
    pub fn long(&mut self, field: &str) -> Result<i64, CodecError> {
        let mut n = 0u64;
        for (i, &byte) in self.bytes.iter().enumerate().take(10) {
            n |= u64::from(byte & 0x7F) << (i * 7);
            if byte & 0x80 == 0 {
                self.bytes = &self.bytes[i + 1..];
                return Ok(((n >> 1) as i64) ^ -((n & 1) as i64));
            }
        }
        Err(if self.bytes.len() >= 10 {
            Self::error(field, "varint longer than ten bytes")
        } else {
            Self::error(field, "the body ends inside a varint")
        })
    }

    /// An int: a long in `i32` range.
    pub fn int(&mut self, field: &str) -> Result<i32, CodecError> {
        let value = self.long(field)?;
        i32::try_from(value).map_err(|_| Self::error(field, format!("{value} is not an Avro int")))
    }

    /// An int read into a `u32`: negative values are refused.
    pub fn int_u32(&mut self, field: &str) -> Result<u32, CodecError> {
        let value = self.int(field)?;
        u32::try_from(value)
            .map_err(|_| Self::error(field, format!("{value} is negative, the field is unsigned")))
    }

    /// A long read into a `u64`: negative values are refused.
    pub fn long_u64(&mut self, field: &str) -> Result<u64, CodecError> {
        let value = self.long(field)?;
        u64::try_from(value)
            .map_err(|_| Self::error(field, format!("{value} is negative, the field is unsigned")))
    }

    /// A boolean: the byte 0 or 1.
    pub fn boolean(&mut self, field: &str) -> Result<bool, CodecError> {
        let Some((&byte, rest)) = self.bytes.split_first() else {
            return Err(Self::error(field, "the body ends before the boolean"));
        };
        self.bytes = rest;
        match byte {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(Self::error(
                field,
                format!("byte {other} is not a boolean (0 or 1)"),
            )),
        }
    }

    /// A string: a length, then that many bytes of UTF-8.
    pub fn string(&mut self, field: &str) -> Result<String, CodecError> {
        let len = self.long(field)?;
        let len = usize::try_from(len)
            .map_err(|_| Self::error(field, format!("negative string length {len}")))?;
        if len > self.bytes.len() {
            return Err(Self::error(
                field,
                format!(
                    "string length {len} is past the end of the body ({} bytes left)",
                    self.bytes.len()
                ),
            ));
        }
        let (text, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        std::str::from_utf8(text)
            .map(str::to_owned)
            .map_err(|e| Self::error(field, e))
    }

    /// An enum's symbol index, as the variant.
    pub fn symbol<E: AvroEnum>(&mut self, field: &str) -> Result<E, CodecError> {
        let index = self.int(field)?;
        usize::try_from(index)
            .ok()
            .and_then(E::from_index)
            .ok_or_else(|| {
                Self::error(
                    field,
                    format!("enum index {index} is not in 0..{}", E::SYMBOLS),
                )
            })
    }

    /// A `["null", T]` union: index 0 is none, index 1 is `value` read by `read`.
    pub fn optional<T>(
        &mut self,
        field: &str,
        read: impl FnOnce(&mut Self, &str) -> Result<T, CodecError>,
    ) -> Result<Option<T>, CodecError> {
        match self.long(field)? {
            0 => Ok(None),
            1 => read(self, field).map(Some),
            other => Err(Self::error(
                field,
                format!("union index {other} is not 0 (null) or 1"),
            )),
        }
    }

    /// An array: blocks of items read by `item`, until a zero count.
    pub fn array<T>(
        &mut self,
        field: &str,
        mut item: impl FnMut(&mut Self, &str) -> Result<T, CodecError>,
    ) -> Result<Vec<T>, CodecError> {
        let mut items = Vec::new();
        loop {
            let count = self.long(field)?;
            let count = match count {
                0 => return Ok(items),
                // A negative count is followed by the block's size in bytes.
                count if count < 0 => {
                    self.long(field)?;
                    count.unsigned_abs()
                }
                count => count as u64,
            };
            // Every item takes at least one byte: do not trust the count for the allocation.
            items.reserve(count.min(self.bytes.len() as u64) as usize);
            for _ in 0..count {
                items.push(item(self, field)?);
            }
        }
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
            (
                i64::MIN,
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
        ] {
            let mut out = Vec::new();
            long(&mut out, value);
            assert_eq!(out, bytes, "{value}");
            assert_eq!(BodyReader::new(bytes).long("x").unwrap(), value);
        }
    }

    #[test]
    fn every_long_reads_back() {
        for value in [
            i64::MIN,
            i64::MIN + 1,
            -1 << 40,
            -129,
            127,
            1 << 35,
            i64::MAX,
        ] {
            let mut out = Vec::new();
            long(&mut out, value);
            let mut reader = BodyReader::new(&out);
            assert_eq!(reader.long("x").unwrap(), value);
            assert!(reader.remaining().is_empty());
        }
    }

    #[test]
    fn a_varint_of_eleven_bytes_or_cut_short_is_refused() {
        let eleven = [0x80u8; 11];
        assert!(BodyReader::new(&eleven).long("x").is_err());
        assert!(BodyReader::new(&[0x80, 0x80]).long("x").is_err());
        assert!(BodyReader::new(&[]).long("x").is_err());
    }

    #[test]
    fn unsigned_values_avro_cannot_hold_are_refused_naming_the_field() {
        let mut out = Vec::new();
        let error = int_u32(&mut out, "capacity", u32::MAX).unwrap_err();
        assert_eq!(
            error.to_string(),
            "avro: field capacity = 4294967295: an Avro int holds at most 2147483647"
        );
        assert!(long_u64(&mut out, "offers_made", u64::MAX).is_err());
        assert!(out.is_empty(), "nothing written for a refused value");
        int_u32(&mut out, "capacity", i32::MAX as u32).unwrap();
        long_u64(&mut out, "offers_made", i64::MAX as u64).unwrap();
        let mut reader = BodyReader::new(&out);
        assert_eq!(reader.int_u32("capacity").unwrap(), i32::MAX as u32);
        assert_eq!(reader.long_u64("offers_made").unwrap(), i64::MAX as u64);
    }

    #[test]
    fn negative_values_are_refused_for_unsigned_fields() {
        let mut out = Vec::new();
        long(&mut out, -1);
        assert!(BodyReader::new(&out).int_u32("load").is_err());
        assert!(BodyReader::new(&out).long_u64("assignments").is_err());
        let mut big = Vec::new();
        long(&mut big, i64::from(i32::MAX) + 1);
        assert!(BodyReader::new(&big).int("priority").is_err());
    }

    #[test]
    fn a_string_longer_than_the_body_or_not_utf8_is_refused() {
        let mut out = Vec::new();
        long(&mut out, 10);
        out.extend_from_slice(b"short");
        assert!(BodyReader::new(&out).string("reason").is_err());
        let mut bad = Vec::new();
        long(&mut bad, 2);
        bad.extend_from_slice(&[0xC3, 0x28]);
        assert!(BodyReader::new(&bad).string("reason").is_err());
        let mut negative = Vec::new();
        long(&mut negative, -3);
        assert!(BodyReader::new(&negative).string("reason").is_err());
    }

    #[test]
    fn booleans_are_one_byte_and_only_zero_or_one() {
        let mut out = Vec::new();
        boolean(&mut out, true);
        boolean(&mut out, false);
        assert_eq!(out, [1, 0]);
        let mut reader = BodyReader::new(&out);
        assert!(reader.boolean("one_touch").unwrap());
        assert!(!reader.boolean("one_touch").unwrap());
        assert!(BodyReader::new(&[2]).boolean("one_touch").is_err());
        assert!(BodyReader::new(&[]).boolean("one_touch").is_err());
    }

    #[test]
    fn arrays_in_several_blocks_and_with_byte_sizes_read_as_one() {
        // Block of 2 ("a", "b"), block of -1 with a byte size of 2 ("c"), end.
        let mut out = Vec::new();
        long(&mut out, 2);
        string(&mut out, "a");
        string(&mut out, "b");
        long(&mut out, -1);
        long(&mut out, 2);
        string(&mut out, "c");
        long(&mut out, 0);
        let items = BodyReader::new(&out)
            .array("skills", |r, f| r.string(f))
            .unwrap();
        assert_eq!(items, ["a", "b", "c"]);
        let mut ours = Vec::new();
        string_array(&mut ours, &items);
        assert_eq!(
            BodyReader::new(&ours)
                .array("skills", |r, f| r.string(f))
                .unwrap(),
            items
        );
    }

    #[test]
    fn a_huge_array_count_fails_on_the_data_not_on_the_allocation() {
        let mut out = Vec::new();
        long(&mut out, i64::MAX);
        string(&mut out, "only one");
        assert!(BodyReader::new(&out)
            .array("skills", |r, f| r.string(f))
            .is_err());
    }

    #[test]
    fn union_indexes_other_than_null_or_the_value_are_refused() {
        let mut out = Vec::new();
        optional_string(&mut out, None);
        optional_string(&mut out, Some("x"));
        long(&mut out, 2);
        let mut reader = BodyReader::new(&out);
        assert_eq!(reader.optional("brand", |r, f| r.string(f)).unwrap(), None);
        assert_eq!(
            reader.optional("brand", |r, f| r.string(f)).unwrap(),
            Some("x".to_owned())
        );
        assert!(reader.optional("brand", |r, f| r.string(f)).is_err());
    }
}
