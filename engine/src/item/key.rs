//! Order-preserving ("memcomparable") encoding of key values, and storage keys.
//!
//! Comparing two encodings as bytes gives DynamoDB's order of the values: S by UTF-8
//! bytes, B by unsigned bytes, N numerically. Encodings are prefix-free, so an encoded
//! partition key followed by an encoded sort key still sorts by partition key first.
//!
//! # Format (version 1)
//!
//! - **S and B**: the bytes, each `0x00` written as `0x00 0x01`, then the terminator
//!   `0x00 0x00`. (The terminator sorts below any continuation, so `"a"` < `"a\0"` <
//!   `"a\x01"`.)
//! - **N**: one sign byte, `0x01` negative, `0x02` zero, `0x03` positive. Zero ends
//!   there. A positive number continues with its magnitude (power of ten of its leading
//!   digit) plus 130, as one byte (0 to 255), then its digits in pairs from the leading
//!   one, each pair `10 × d1 + d2 + 1` (1 to 100; a final lone digit is paired with 0),
//!   then `0x00`. A negative number writes the same bytes as its absolute value, each
//!   complemented (`255 - b`), so that larger magnitudes sort lower; its terminator is
//!   `0xFF`.
//!
//! A storage key is `xxh3_64(encoded partition key)` as 8 big-endian bytes, then the
//! encoded partition key, then the encoded sort key (if any): all items of one partition
//! key are contiguous and sorted by sort key, and a range of hashes is a range of keys.

use super::number::{MAGNITUDE_MIN, Number};
use super::value::AttributeValue;

const NEGATIVE: u8 = 0x01;
const ZERO: u8 = 0x02;
const POSITIVE: u8 = 0x03;

/// Appends the order-preserving encoding of a key value (S, N or B) to `out`. Other types
/// cannot be key values and append nothing; callers validate keys first.
pub fn encode_key_value(value: &AttributeValue, out: &mut Vec<u8>) {
    match value {
        AttributeValue::S(s) => encode_bytes(s.as_bytes(), out),
        AttributeValue::B(b) => encode_bytes(b, out),
        AttributeValue::N(n) => encode_number(n, out),
        _ => debug_assert!(false, "not a key type: {value:?}"),
    }
}

fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve(bytes.len() + 2);
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(1);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

fn encode_number(n: &Number, out: &mut Vec<u8>) {
    if n.is_zero() {
        out.push(ZERO);
        return;
    }
    let start = out.len() + 1;
    out.push(if n.is_negative() { NEGATIVE } else { POSITIVE });
    // MAGNITUDE_MIN..=MAGNITUDE_MAX is -130..=125: exactly one byte once shifted.
    out.push((n.magnitude() - MAGNITUDE_MIN) as u8);
    let digits = n.digits();
    for pair in digits.chunks(2) {
        let low = pair.get(1).copied().unwrap_or(0);
        out.push(10 * pair[0] + low + 1);
    }
    out.push(0);
    if n.is_negative() {
        for b in &mut out[start..] {
            *b = 255 - *b;
        }
    }
}

/// The hash that places a partition key in the table's hash space: xxh3-64 of its
/// encoding.
pub fn partition_hash(partition_key: &AttributeValue) -> u64 {
    let mut encoded = Vec::new();
    encode_key_value(partition_key, &mut encoded);
    xxhash_rust::xxh3::xxh3_64(&encoded)
}

/// The storage key of an item: hash, encoded partition key, encoded sort key.
pub fn storage_key(partition_key: &AttributeValue, sort_key: Option<&AttributeValue>) -> Vec<u8> {
    // One allocation: the hash's place is kept, the partition key encoded after it, then
    // hashed in place.
    let mut key = Vec::with_capacity(64);
    key.extend_from_slice(&[0; 8]);
    encode_key_value(partition_key, &mut key);
    let hash = xxhash_rust::xxh3::xxh3_64(&key[8..]);
    key[..8].copy_from_slice(&hash.to_be_bytes());
    if let Some(sort_key) = sort_key {
        encode_key_value(sort_key, &mut key);
    }
    key
}
