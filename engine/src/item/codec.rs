//! The binary encoding of items, used in WAL records (and, later, SSTables).
//!
//! # Format (version 1)
//!
//! ```text
//! item    := varint(count) (name value)*         names in ascending order
//! name    := varint(len) utf8-bytes
//! value   := tag payload
//!   0x01 S     varint(len) utf8-bytes
//!   0x02 N     number
//!   0x03 B     varint(len) bytes
//!   0x04 BOOL false    0x05 BOOL true    0x06 NULL     (no payload)
//!   0x07 L     varint(count) value*
//!   0x08 M     varint(count) (name value)*
//!   0x09 SS    varint(count) (varint(len) utf8-bytes)*
//!   0x0A NS    varint(count) number*
//!   0x0B BS    varint(count) (varint(len) bytes)*
//! number  := sign-byte (0 or 1) zigzag-varint(exponent) varint(mantissa)
//! ```
//!
//! Varints are LEB128 (7 bits a byte, low first). Decoding checks everything and returns
//! an error, never panics, on bytes it did not write (the WAL's checksums catch damage
//! first; this is the second line).

use super::number::Number;
use super::value::{AttributeValue, Item};
use std::collections::BTreeMap;

/// Deepest nesting decoding accepts: validated items nest at most 32 levels; anything
/// deeper is damage, and refusing it keeps recursion bounded.
const DECODE_DEPTH_MAX: usize = 64;

/// Why bytes do not decode as an item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid item encoding at byte {offset}: {reason}")]
pub struct DecodeError {
    /// Where decoding failed.
    pub offset: usize,
    /// What was wrong.
    pub reason: &'static str,
}

fn put_varint(out: &mut Vec<u8>, mut value: u128) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u128);
    out.extend_from_slice(bytes);
}

fn put_number(out: &mut Vec<u8>, number: &Number) {
    let (negative, mantissa, exponent) = number.to_parts();
    out.push(u8::from(negative));
    let zigzag = ((exponent << 1) ^ (exponent >> 31)) as u32;
    put_varint(out, u128::from(zigzag));
    put_varint(out, mantissa);
}

fn put_value(out: &mut Vec<u8>, value: &AttributeValue) {
    match value {
        AttributeValue::S(s) => {
            out.push(0x01);
            put_bytes(out, s.as_bytes());
        }
        AttributeValue::N(n) => {
            out.push(0x02);
            put_number(out, n);
        }
        AttributeValue::B(b) => {
            out.push(0x03);
            put_bytes(out, b);
        }
        AttributeValue::Bool(false) => out.push(0x04),
        AttributeValue::Bool(true) => out.push(0x05),
        AttributeValue::Null => out.push(0x06),
        AttributeValue::L(list) => {
            out.push(0x07);
            put_varint(out, list.len() as u128);
            list.iter().for_each(|v| put_value(out, v));
        }
        AttributeValue::M(map) => {
            out.push(0x08);
            put_map(out, map.iter());
        }
        AttributeValue::Ss(set) => {
            out.push(0x09);
            put_varint(out, set.len() as u128);
            set.iter().for_each(|s| put_bytes(out, s.as_bytes()));
        }
        AttributeValue::Ns(set) => {
            out.push(0x0A);
            put_varint(out, set.len() as u128);
            set.iter().for_each(|n| put_number(out, n));
        }
        AttributeValue::Bs(set) => {
            out.push(0x0B);
            put_varint(out, set.len() as u128);
            set.iter().for_each(|b| put_bytes(out, b));
        }
    }
}

fn put_map<'a>(out: &mut Vec<u8>, map: impl ExactSizeIterator<Item = (&'a String, &'a AttributeValue)>) {
    put_varint(out, map.len() as u128);
    for (name, value) in map {
        put_bytes(out, name.as_bytes());
        put_value(out, value);
    }
}

/// Appends the encoding of `item` to `out`.
pub fn encode_item(item: &Item, out: &mut Vec<u8>) {
    put_map(out, item.iter());
}

/// Decodes an item that [`encode_item`] wrote; `bytes` must hold exactly one item.
///
/// Errors: [`DecodeError`] for anything else.
pub fn decode_item(bytes: &[u8]) -> Result<Item, DecodeError> {
    let mut reader = Reader { bytes, pos: 0 };
    // Attributes are written in name order, so they are read straight into the item's
    // sorted vector; out of order or repeated names are damage.
    let count = reader.count()?;
    let mut attributes = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let name = reader.string()?;
        let value = reader.value(0)?;
        attributes.push((name, value));
    }
    if reader.pos != bytes.len() {
        return Err(reader.error("trailing bytes after the item"));
    }
    Item::from_sorted(attributes).ok_or_else(|| reader.error("attribute names out of order or repeated"))
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn error(&self, reason: &'static str) -> DecodeError {
        DecodeError {
            offset: self.pos,
            reason,
        }
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self.bytes.get(self.pos).ok_or_else(|| self.error("unexpected end"))?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u128, DecodeError> {
        let mut value: u128 = 0;
        for shift in (0..128).step_by(7) {
            let b = self.byte()?;
            value |= u128::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.error("varint too long"))
    }

    fn length(&mut self) -> Result<usize, DecodeError> {
        let len = self.varint()?;
        // A length can never exceed the bytes left: this also bounds allocations.
        match usize::try_from(len) {
            Ok(len) if len <= self.bytes.len() - self.pos => Ok(len),
            _ => Err(self.error("length beyond the end")),
        }
    }

    fn raw(&mut self) -> Result<Vec<u8>, DecodeError> {
        let len = self.length()?;
        let out = self.bytes[self.pos..self.pos + len].to_vec();
        self.pos += len;
        Ok(out)
    }

    fn string(&mut self) -> Result<String, DecodeError> {
        let start = self.pos;
        String::from_utf8(self.raw()?).map_err(|_| DecodeError {
            offset: start,
            reason: "string is not UTF-8",
        })
    }

    fn number(&mut self) -> Result<Number, DecodeError> {
        let negative = match self.byte()? {
            0 => false,
            1 => true,
            _ => return Err(self.error("bad number sign")),
        };
        let zigzag = u32::try_from(self.varint()?).map_err(|_| self.error("bad number exponent"))?;
        let exponent = ((zigzag >> 1) as i32) ^ -((zigzag & 1) as i32);
        let mantissa = self.varint()?;
        Number::from_parts(negative, mantissa, i64::from(exponent)).map_err(|_| self.error("number out of range"))
    }

    fn count(&mut self) -> Result<usize, DecodeError> {
        // Every element takes at least one byte, so a count is bounded by the bytes left.
        self.length()
    }

    fn value(&mut self, depth: usize) -> Result<AttributeValue, DecodeError> {
        if depth > DECODE_DEPTH_MAX {
            return Err(self.error("nesting too deep"));
        }
        Ok(match self.byte()? {
            0x01 => AttributeValue::S(self.string()?),
            0x02 => AttributeValue::N(self.number()?),
            0x03 => AttributeValue::B(self.raw()?),
            0x04 => AttributeValue::Bool(false),
            0x05 => AttributeValue::Bool(true),
            0x06 => AttributeValue::Null,
            0x07 => {
                let count = self.count()?;
                AttributeValue::L((0..count).map(|_| self.value(depth + 1)).collect::<Result<_, _>>()?)
            }
            0x08 => AttributeValue::M(self.map(depth + 1)?),
            0x09 => {
                let count = self.count()?;
                AttributeValue::Ss((0..count).map(|_| self.string()).collect::<Result<_, _>>()?)
            }
            0x0A => {
                let count = self.count()?;
                AttributeValue::Ns((0..count).map(|_| self.number()).collect::<Result<_, _>>()?)
            }
            0x0B => {
                let count = self.count()?;
                AttributeValue::Bs((0..count).map(|_| self.raw()).collect::<Result<_, _>>()?)
            }
            _ => {
                self.pos -= 1;
                return Err(self.error("unknown value tag"));
            }
        })
    }

    fn map(&mut self, depth: usize) -> Result<BTreeMap<String, AttributeValue>, DecodeError> {
        let count = self.count()?;
        let mut map = BTreeMap::new();
        for _ in 0..count {
            let name = self.string()?;
            let value = self.value(depth)?;
            if map.insert(name, value).is_some() {
                return Err(self.error("duplicate attribute name"));
            }
        }
        Ok(map)
    }
}
