//! Record framing (format version 1).
//!
//! ```text
//! offset  size  field
//!      0     4  crc      CRC-32 (IEEE) of bytes 4 .. 24+len, little-endian
//!      4     4  len      payload length in bytes, little-endian u32
//!      8     8  lsn      little-endian u64
//!     16     8  epoch    little-endian u64
//!     24   len  payload
//! ```
//!
//! The checksum covers the length, LSN, epoch and payload, so a flipped bit anywhere in a
//! record is caught. Records are written back to back; a record never straddles two
//! segments.

use crate::{Epoch, Lsn};

/// Bytes of a record header.
pub const HEADER_BYTES: usize = 24;

/// The largest payload a record may hold: a 400 KB item plus its overhead fits many times.
pub const PAYLOAD_BYTES_MAX: usize = 4 << 20;

/// A decoded record that borrows its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The record's LSN.
    pub lsn: Lsn,
    /// The epoch of the primary that wrote it.
    pub epoch: Epoch,
    /// The payload.
    pub payload: &'a [u8],
}

impl Frame<'_> {
    /// Bytes the framed record occupies.
    pub fn framed_len(&self) -> usize {
        HEADER_BYTES + self.payload.len()
    }
}

/// Why bytes do not decode as a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes remain than the header says the record needs.
    Incomplete {
        /// Bytes the record needs.
        needed: usize,
        /// Bytes there are.
        available: usize,
    },
    /// The length field is larger than any record may be.
    LengthTooLarge(u64),
    /// The checksum does not match.
    BadChecksum,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Incomplete { needed, available } => {
                write!(f, "incomplete record: needs {needed} bytes, {available} remain")
            }
            DecodeError::LengthTooLarge(len) => {
                write!(f, "record length {len} exceeds the maximum")
            }
            DecodeError::BadChecksum => f.write_str("checksum mismatch"),
        }
    }
}

/// The checksum of a payload, computed before taking any lock; [`encode`] folds it in.
pub fn payload_crc(payload: &[u8]) -> crc32fast::Hasher {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(payload);
    hasher
}

/// Appends one framed record to `out`. `payload_hasher` is [`payload_crc`] of `payload`.
pub fn encode(out: &mut Vec<u8>, lsn: Lsn, epoch: Epoch, payload: &[u8], payload_hasher: &crc32fast::Hasher) {
    let mut fields = [0u8; HEADER_BYTES - 4];
    fields[0..4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    fields[4..12].copy_from_slice(&lsn.0.to_le_bytes());
    fields[12..20].copy_from_slice(&epoch.0.to_le_bytes());
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&fields);
    hasher.combine(payload_hasher);
    out.extend_from_slice(&hasher.finalize().to_le_bytes());
    out.extend_from_slice(&fields);
    out.extend_from_slice(payload);
}

/// One framed record in a buffer of its own (for tools and tests; the writer uses
/// [`encode`] into its shared buffer).
pub fn frame(lsn: Lsn, epoch: Epoch, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_BYTES + payload.len());
    encode(&mut out, lsn, epoch, payload, &payload_crc(payload));
    out
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(b)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}

/// Decodes the record at the start of `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Frame<'_>, DecodeError> {
    if bytes.len() < HEADER_BYTES {
        return Err(DecodeError::Incomplete {
            needed: HEADER_BYTES,
            available: bytes.len(),
        });
    }
    let len = u32_at(bytes, 4) as usize;
    if len > PAYLOAD_BYTES_MAX {
        return Err(DecodeError::LengthTooLarge(len as u64));
    }
    let needed = HEADER_BYTES + len;
    if bytes.len() < needed {
        return Err(DecodeError::Incomplete {
            needed,
            available: bytes.len(),
        });
    }
    if crc32fast::hash(&bytes[4..needed]) != u32_at(bytes, 0) {
        return Err(DecodeError::BadChecksum);
    }
    Ok(Frame {
        lsn: Lsn(u64_at(bytes, 8)),
        epoch: Epoch(u64_at(bytes, 16)),
        payload: &bytes[HEADER_BYTES..needed],
    })
}

/// Whether `bytes` are all zeros: space a writer preallocated past its last record (see
/// `WalOptions::preallocate_bytes`), where no record was ever written. No record is all
/// zeros (the checksum of a zeroed header is not zero), so zeros never hide one.
pub fn is_padding(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0)
}

/// Finds the first offset at or after `from` where a valid record with an LSN in
/// `min_lsn..` starts, or `None`. Used to tell a torn tail (nothing valid follows the
/// damage) from damage in the middle of a log (valid records follow it).
pub fn find_valid_record(bytes: &[u8], from: usize, min_lsn: Lsn) -> Option<usize> {
    let last_start = bytes.len().checked_sub(HEADER_BYTES)?;
    (from..=last_start).find(|&at| {
        let rest = &bytes[at..];
        // Cheap filters first: a plausible LSN and a length that fits, then the checksum.
        let lsn = u64_at(rest, 8);
        let max_records_left = (rest.len() / HEADER_BYTES) as u64;
        lsn >= min_lsn.0 && lsn < min_lsn.0.saturating_add(max_records_left) && decode(rest).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_record_decodes_to_the_same_fields() {
        let bytes = frame(Lsn(7), Epoch(3), b"hello");
        assert_eq!(bytes.len(), HEADER_BYTES + 5);
        let frame = decode(&bytes).unwrap();
        assert_eq!(
            (frame.lsn, frame.epoch, frame.payload),
            (Lsn(7), Epoch(3), &b"hello"[..])
        );
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let bytes = frame(Lsn(42), Epoch(1), b"payload bytes");
        for byte in 0..bytes.len() {
            for bit in 0..8 {
                let mut damaged = bytes.clone();
                damaged[byte] ^= 1 << bit;
                assert!(
                    decode(&damaged).is_err(),
                    "flip of byte {byte} bit {bit} went unnoticed"
                );
            }
        }
    }

    #[test]
    fn truncated_record_is_incomplete() {
        let bytes = frame(Lsn(1), Epoch(0), &[9u8; 100]);
        for cut in 0..bytes.len() {
            assert!(matches!(decode(&bytes[..cut]), Err(DecodeError::Incomplete { .. })));
        }
    }

    #[test]
    fn oversized_length_is_refused_before_reading_further() {
        let mut bytes = frame(Lsn(1), Epoch(0), b"x");
        bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode(&bytes), Err(DecodeError::LengthTooLarge(u32::MAX as u64)));
    }

    #[test]
    fn zeros_never_decode_as_a_record() {
        for len in [0, 1, HEADER_BYTES, HEADER_BYTES + 1, 4096] {
            let zeros = vec![0u8; len];
            assert!(is_padding(&zeros));
            assert!(decode(&zeros).is_err(), "{len} zero bytes decoded as a record");
        }
        let record = frame(Lsn(1), Epoch(0), b"");
        assert!(!is_padding(&record));
    }

    #[test]
    fn find_valid_record_skips_garbage() {
        let mut bytes = vec![0xAB; 13];
        bytes.extend(frame(Lsn(5), Epoch(0), b"abc"));
        assert_eq!(find_valid_record(&bytes, 0, Lsn(5)), Some(13));
        assert_eq!(find_valid_record(&bytes, 0, Lsn(6)), None);
        assert_eq!(find_valid_record(&bytes, 14, Lsn(1)), None);
    }
}
