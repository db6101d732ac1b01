//! Read-only inspection of segment files, for `dynastore dump wal` and `verify`.
//!
//! Unlike recovery, a scan changes nothing and does not stop at damage: it reports the
//! damaged bytes with their offset, then resumes at the next valid record, so a human sees
//! everything that is in the file.

use crate::error::{Result, io_error};
use crate::fs::{self, FileSystem};
use crate::record::{self, DecodeError, HEADER_BYTES};
use crate::segment::{self, SEGMENT_HEADER_BYTES};
use crate::{Epoch, Lsn};
use std::path::{Path, PathBuf};

/// One thing found in a segment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanEntry {
    /// A whole record whose checksum matches.
    Record {
        /// Its offset in the file.
        offset: u64,
        /// Its LSN.
        lsn: Lsn,
        /// Its epoch.
        epoch: Epoch,
        /// Its payload length.
        len: u32,
        /// Whether its LSN follows the previous record's (or the segment's first LSN).
        in_sequence: bool,
    },
    /// Bytes that are not a valid record.
    Damaged {
        /// Where the damage starts.
        offset: u64,
        /// How many bytes were skipped to reach the next valid record or the end.
        len: u64,
        /// What the first bad record looked like.
        reason: String,
        /// The LSN, epoch and length the damaged header claims, if it was readable.
        claims: Option<(Lsn, Epoch, u32)>,
    },
}

/// Everything found in one segment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentScan {
    /// The file.
    pub path: PathBuf,
    /// The file's length.
    pub file_len: u64,
    /// The first LSN the file name gives, if it is a segment name.
    pub named_lsn: Option<Lsn>,
    /// The first LSN the header gives, or why the header is invalid.
    pub header: std::result::Result<Lsn, String>,
    /// Records and damage, in file order.
    pub entries: Vec<ScanEntry>,
    /// Zero bytes after the last record: space the writer preallocated (only the newest
    /// segment of a log has any), not damage.
    pub padding_bytes: u64,
}

impl SegmentScan {
    /// Whether the segment is entirely valid: good header agreeing with the name, every
    /// record whole and in sequence.
    pub fn is_clean(&self) -> bool {
        let header_ok = match (&self.header, self.named_lsn) {
            (Ok(lsn), Some(named)) => *lsn == named,
            (Ok(_), None) => true,
            (Err(_), _) => false,
        };
        header_ok
            && self.entries.iter().all(|e| match e {
                ScanEntry::Record { in_sequence, .. } => *in_sequence,
                ScanEntry::Damaged { .. } => false,
            })
    }

    /// How many valid records the scan found.
    pub fn records(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| matches!(e, ScanEntry::Record { .. }))
            .count()
    }
}

/// Scans one segment file.
pub fn scan_segment(fs: &dyn FileSystem, path: &Path) -> Result<SegmentScan> {
    let bytes = fs::read_file(fs, path).map_err(io_error("reading", path))?;
    let named_lsn = path
        .file_name()
        .and_then(|n| segment::parse_segment_name(&n.to_string_lossy()));
    let header = segment::decode_header(&bytes);
    let mut expected = header.as_ref().ok().copied().or(named_lsn);
    let mut entries = Vec::new();
    let mut padding_bytes = 0;
    let mut pos = SEGMENT_HEADER_BYTES as usize;
    if header.is_err() {
        // Resynchronise on the first valid record anywhere after the broken header.
        pos = record::find_valid_record(&bytes, 0, Lsn::FIRST).unwrap_or(bytes.len());
    }
    while pos < bytes.len() {
        match record::decode(&bytes[pos..]) {
            Ok(frame) => {
                entries.push(ScanEntry::Record {
                    offset: pos as u64,
                    lsn: frame.lsn,
                    epoch: frame.epoch,
                    len: frame.payload.len() as u32,
                    in_sequence: expected.is_none_or(|e| e == frame.lsn),
                });
                expected = Some(frame.lsn.next());
                pos += frame.framed_len();
            }
            Err(_) if record::is_padding(&bytes[pos..]) => {
                padding_bytes = (bytes.len() - pos) as u64;
                break;
            }
            Err(error) => {
                let resume = record::find_valid_record(&bytes, pos + 1, Lsn::FIRST).unwrap_or(bytes.len());
                entries.push(ScanEntry::Damaged {
                    offset: pos as u64,
                    len: (resume - pos) as u64,
                    reason: error.to_string(),
                    claims: claimed_header(&bytes[pos..], &error),
                });
                pos = resume;
            }
        }
    }
    Ok(SegmentScan {
        path: path.to_path_buf(),
        file_len: bytes.len() as u64,
        named_lsn,
        header,
        entries,
        padding_bytes,
    })
}

/// What a damaged record's header claims, when its fields could be read at all.
fn claimed_header(bytes: &[u8], error: &DecodeError) -> Option<(Lsn, Epoch, u32)> {
    if bytes.len() < HEADER_BYTES || matches!(error, DecodeError::LengthTooLarge(_)) {
        return None;
    }
    let field = |at: usize, n: usize| {
        bytes[at..at + n]
            .iter()
            .rev()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
    };
    Some((Lsn(field(8, 8)), Epoch(field(16, 8)), field(4, 4) as u32))
}

/// Scans every segment of a log directory, oldest first.
pub fn scan_dir(fs: &dyn FileSystem, dir: &Path) -> Result<Vec<SegmentScan>> {
    segment::list_segments(fs, dir)?
        .into_iter()
        .map(|first| scan_segment(fs, &segment::segment_path(dir, first)))
        .collect()
}
