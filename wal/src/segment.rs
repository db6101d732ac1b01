//! Segment files: naming, the segment header (format version 1), listing and creation.
//!
//! A segment is named by the first LSN it holds, as 20 decimal digits: `00000000000000000001.log`.
//! It starts with a 24-byte header, followed by records back to back (see [`crate::record`]):
//!
//! ```text
//! offset  size  field
//!      0     8  magic      b"DYNWAL\r\n"
//!      8     4  version    1, little-endian u32
//!     12     4  crc        CRC-32 (IEEE) of bytes 0..12 and 16..24, little-endian
//!     16     8  first_lsn  the LSN of the segment's first record (also in its name)
//! ```
//!
//! A segment can be empty (only its header): its next record would have `first_lsn`.
//!
//! The newest segment may go on in zero bytes after its last record: space its writer
//! preallocated for the records to come (`WalOptions::preallocate_bytes`). Zeros are never
//! a record (the checksum of a zeroed header is not zero), so a reader stops at the first
//! zero byte where a record would start if every byte after it is zero too; zeros followed
//! by anything else are damage. A segment is cut to its last record before a newer one is
//! created, so only the newest ever holds zeros.

use crate::Lsn;
use crate::error::{Result, io_error};
use crate::fs::{FileSystem, FsFile};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Bytes of the segment header.
pub const SEGMENT_HEADER_BYTES: u64 = 24;
/// The magic number at the start of every segment.
pub const SEGMENT_MAGIC: [u8; 8] = *b"DYNWAL\r\n";
/// The segment format version this code writes and reads.
pub const SEGMENT_VERSION: u32 = 1;

const SUFFIX: &str = ".log";

/// The file name of the segment whose first record is `first_lsn`.
pub fn segment_file_name(first_lsn: Lsn) -> String {
    format!("{:020}{SUFFIX}", first_lsn.0)
}

/// The path of the segment whose first record is `first_lsn`.
pub fn segment_path(dir: &Path, first_lsn: Lsn) -> PathBuf {
    dir.join(segment_file_name(first_lsn))
}

/// The first LSN named by a segment file name, or `None` if it is not a segment's name.
pub fn parse_segment_name(name: &str) -> Option<Lsn> {
    let digits = name.strip_suffix(SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(Lsn)
}

/// The first LSNs of the segments in `dir`, oldest first. Other files are ignored.
pub fn list_segments(fs: &dyn FileSystem, dir: &Path) -> Result<Vec<Lsn>> {
    let names = fs.read_dir(dir).map_err(io_error("listing", dir))?;
    let mut lsns: Vec<Lsn> = names.iter().filter_map(|n| parse_segment_name(n)).collect();
    lsns.sort();
    Ok(lsns)
}

/// Encodes the header of a segment that starts at `first_lsn`.
pub fn encode_header(first_lsn: Lsn) -> [u8; SEGMENT_HEADER_BYTES as usize] {
    let mut header = [0u8; SEGMENT_HEADER_BYTES as usize];
    header[0..8].copy_from_slice(&SEGMENT_MAGIC);
    header[8..12].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    header[16..24].copy_from_slice(&first_lsn.0.to_le_bytes());
    let crc = header_crc(&header);
    header[12..16].copy_from_slice(&crc.to_le_bytes());
    header
}

fn header_crc(header: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&header[0..12]);
    hasher.update(&header[16..24]);
    hasher.finalize()
}

/// Decodes a segment header, returning its first LSN, or why it is invalid.
pub fn decode_header(bytes: &[u8]) -> std::result::Result<Lsn, String> {
    let header = bytes.get(..SEGMENT_HEADER_BYTES as usize).ok_or_else(|| {
        format!(
            "segment header is cut short ({} of {SEGMENT_HEADER_BYTES} bytes)",
            bytes.len()
        )
    })?;
    if header[0..8] != SEGMENT_MAGIC {
        return Err("bad magic number: not a dynastore WAL segment".to_owned());
    }
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&header[12..16]);
    if u32::from_le_bytes(crc) != header_crc(header) {
        return Err("segment header checksum mismatch".to_owned());
    }
    let mut version = [0u8; 4];
    version.copy_from_slice(&header[8..12]);
    let version = u32::from_le_bytes(version);
    if version != SEGMENT_VERSION {
        return Err(format!("unsupported segment format version {version}"));
    }
    let mut lsn = [0u8; 8];
    lsn.copy_from_slice(&header[16..24]);
    Ok(Lsn(u64::from_le_bytes(lsn)))
}

/// Creates a new, empty segment durably: the file with its header is synced, then the
/// directory, so the segment survives power loss before any record is written to it.
pub fn create_segment(fs: &dyn FileSystem, dir: &Path, first_lsn: Lsn) -> Result<Arc<dyn FsFile>> {
    let path = segment_path(dir, first_lsn);
    let file = fs.create_new(&path).map_err(io_error("creating", &path))?;
    write_header(file.as_ref(), &path, first_lsn)?;
    fs.sync_dir(dir).map_err(io_error("syncing directory", dir))?;
    Ok(file)
}

/// Replaces whatever a segment file holds with an empty segment's header, durably.
pub fn write_header(file: &dyn FsFile, path: &Path, first_lsn: Lsn) -> Result<()> {
    file.set_len(0).map_err(io_error("truncating", path))?;
    file.write_all_at(&encode_header(first_lsn), 0)
        .map_err(io_error("writing", path))?;
    file.sync_data().map_err(io_error("syncing", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort_by_lsn() {
        let name = segment_file_name(Lsn(12345));
        assert_eq!(name, "00000000000000012345.log");
        assert_eq!(parse_segment_name(&name), Some(Lsn(12345)));
        assert!(segment_file_name(Lsn(9)) < segment_file_name(Lsn(10)));
        assert_eq!(parse_segment_name("12345.log"), None);
        assert_eq!(parse_segment_name("0000000000000001234x.log"), None);
        assert_eq!(parse_segment_name("00000000000000012345.tmp"), None);
    }

    #[test]
    fn header_round_trips_and_detects_damage() {
        let header = encode_header(Lsn(77));
        assert_eq!(decode_header(&header), Ok(Lsn(77)));
        for byte in 0..header.len() {
            let mut damaged = header;
            damaged[byte] ^= 0x10;
            assert!(decode_header(&damaged).is_err(), "flip in byte {byte} went unnoticed");
        }
        assert!(decode_header(&header[..10]).is_err());
    }
}
