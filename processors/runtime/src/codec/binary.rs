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
use parley_core::{Millis, Timestamp};

/// Appends a long (or an int widened to one) as a zigzag varint.
pub fn long(out: &mut Vec<u8>, value: i64) {
    let mut n = ((value << 1) ^ (value >> 63)) as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn out_of_range(field: &str, value: impl std::fmt::Display, kind: &str, max: u64) -> CodecError {
    CodecError::Avro(format!(
        "field {field} = {value}: an Avro {kind} holds at most {max}"
    ))
}

/// Appends a string: its byte length, then its UTF-8 bytes.
pub fn string(out: &mut Vec<u8>, value: &str) {
    long(out, value.len() as i64);
    out.extend_from_slice(value.as_bytes());
}

/// A Rust type of the records with the one Avro type the schemas give it: `String` (or a
/// shared `Arc<str>`) a string, `i32` an int, `u32` an int (at most `i32::MAX`), `u64` a long (at most
/// `i64::MAX`), `bool` a boolean, `Timestamp` and `Millis` a long, `Option<T>` the union
/// `["null", T]`, `Vec<T>` an array of `T`; the enums and nested records of
/// `parley_core::model` implement it in the codec's `records` module.
pub trait AvroField: Sized {
    /// Appends the value; `field` names it in an error.
    fn write(&self, out: &mut Vec<u8>, field: &str) -> Result<(), CodecError>;
    /// Reads a value; `field` names it in an error.
    fn read(reader: &mut BodyReader<'_>, field: &str) -> Result<Self, CodecError>;
}

impl AvroField for String {
    fn write(&self, out: &mut Vec<u8>, _: &str) -> Result<(), CodecError> {
        string(out, self);
        Ok(())
    }

    fn read(reader: &mut BodyReader<'_>, field: &str) -> Result<String, CodecError> {
        reader.string(field)
    }
}

/// A string shared with its producer (the SLA records' names).
impl AvroField for std::sync::Arc<str> {
    fn write(&self, out: &mut Vec<u8>, _: &str) -> Result<(), CodecError> {
        string(out, self);
        Ok(())
    }

    fn read(reader: &mut BodyReader<'_>, field: &str) -> Result<std::sync::Arc<str>, CodecError> {
        reader.string(field).map(std::sync::Arc::from)
    }
}

/// A record id kept as its parts, spelled straight into the body: a string.
impl AvroField for parley_core::ids::RecordId {
    fn write(&self, out: &mut Vec<u8>, _: &str) -> Result<(), CodecError> {
        long(out, self.len() as i64);
        self.spell_into(out);
        Ok(())
    }

    fn read(
        reader: &mut BodyReader<'_>,
        field: &str,
    ) -> Result<parley_core::ids::RecordId, CodecError> {
        reader.string(field).map(parley_core::ids::RecordId::from)
    }
}

impl AvroField for i32 {
    fn write(&self, out: &mut Vec<u8>, _: &str) -> Result<(), CodecError> {
        long(out, i64::from(*self));
        Ok(())
    }

    fn read(reader: &mut BodyReader<'_>, field: &str) -> Result<i32, CodecError> {
        reader.int(field)
    }
}

impl AvroField for u32 {
    fn write(&self, out: &mut Vec<u8>, field: &str) -> Result<(), CodecError> {
        if *self > i32::MAX as u32 {
            return Err(out_of_range(field, self, "int", i32::MAX as u64));
        }
        long(out, i64::from(*self));
        Ok(())
    }

    fn read(reader: &mut BodyReader<'_>, field: &str) -> Result<u32, CodecError> {
        reader.int_u32(field)
    }
}

impl AvroField for u16 {
    fn write(&self, out: &mut Vec<u8>, _: &str) -> Result<(), CodecError> {
        long(out, i64::from(*self));
        Ok(())
    }

    fn read(reader: &mut BodyReader<'_>, field: &str) -> Result<u16, CodecError> {
        let value = reader.int(field)?;
        u16::try_from(value)
            .map_err(|_| BodyReader::error(field, format!("int {value} is not a u16")))
    }
}

impl AvroField for u64 {
    fn write(&self, out: &mut Vec<u8>, field: &str) -> Result<(), CodecError> {
        let Ok(value) = i64::try_from(*self) else {
            return Err(out_of_range(field, self, "long", i64::MAX as u64));
        };
        long(out, value);
        Ok(())
    }

    fn read(reader: &mut BodyReader<'_>, field: &str) -> Result<u64, CodecError> {
        reader.long_u64(field)
    }
}

impl AvroField for bool {
    fn write(&self, out: &mut Vec<u8>, _: &str) -> Result<(), CodecError> {
        out.push(u8::from(*self));
        Ok(())
    }

    fn read(reader: &mut BodyReader<'_>, field: &str) -> Result<bool, CodecError> {
        reader.boolean(field)
    }
}

impl AvroField for Timestamp {
    fn write(&self, out: &mut Vec<u8>, _: &str) -> Result<(), CodecError> {
        long(out, self.0);
        Ok(())
    }

    fn read(reader: &mut BodyReader<'_>, field: &str) -> Result<Timestamp, CodecError> {
        reader.long(field).map(Timestamp)
    }
}

impl AvroField for Millis {
    fn write(&self, out: &mut Vec<u8>, _: &str) -> Result<(), CodecError> {
        long(out, self.0);
        Ok(())
    }

    fn read(reader: &mut BodyReader<'_>, field: &str) -> Result<Millis, CodecError> {
        reader.long(field).map(Millis)
    }
}

impl<T: AvroField> AvroField for Option<T> {
    fn write(&self, out: &mut Vec<u8>, field: &str) -> Result<(), CodecError> {
        match self {
            None => {
                long(out, 0);
                Ok(())
            }
            Some(value) => {
                long(out, 1);
                value.write(out, field)
            }
        }
    }

    fn read(reader: &mut BodyReader<'_>, field: &str) -> Result<Option<T>, CodecError> {
        reader.optional(field, T::read)
    }
}

impl<T: AvroField> AvroField for Vec<T> {
    /// One block (count, items) unless empty, then the zero count.
    fn write(&self, out: &mut Vec<u8>, field: &str) -> Result<(), CodecError> {
        if !self.is_empty() {
            long(out, self.len() as i64);
            for item in self {
                item.write(out, field)?;
            }
        }
        long(out, 0);
        Ok(())
    }

    fn read(reader: &mut BodyReader<'_>, field: &str) -> Result<Vec<T>, CodecError> {
        reader.array(field, T::read)
    }
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
        let error = u32::MAX.write(&mut out, "capacity").unwrap_err();
        assert_eq!(
            error.to_string(),
            "avro: field capacity = 4294967295: an Avro int holds at most 2147483647"
        );
        assert!(u64::MAX.write(&mut out, "offers_made").is_err());
        assert!(out.is_empty(), "nothing written for a refused value");
        (i32::MAX as u32).write(&mut out, "capacity").unwrap();
        (i64::MAX as u64).write(&mut out, "offers_made").unwrap();
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
        true.write(&mut out, "one_touch").unwrap();
        false.write(&mut out, "one_touch").unwrap();
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
        items.write(&mut ours, "skills").unwrap();
        assert_eq!(
            Vec::<String>::read(&mut BodyReader::new(&ours), "skills").unwrap(),
            items
        );
        let mut empty = Vec::new();
        Vec::<String>::new().write(&mut empty, "skills").unwrap();
        assert_eq!(empty, [0]);
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
        None::<String>.write(&mut out, "brand").unwrap();
        Some("x".to_owned()).write(&mut out, "brand").unwrap();
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
