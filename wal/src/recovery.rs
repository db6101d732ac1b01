//! Opening a log: checking every segment and cutting a torn tail.
//!
//! Rules, in order of the segments:
//! - every segment's header is valid and names the same first LSN as the file name;
//! - each segment starts right after the previous one ends (no missing segment);
//! - records inside a segment are valid, with consecutive LSNs and non-decreasing epochs.
//!
//! Damage in the newest segment with no valid record after it is a torn tail, left by a
//! crash in the middle of a write: it is cut off (the file is truncated and synced) and
//! reported in [`RecoveryReport::bytes_truncated`]. Zeros after the newest segment's last
//! record are space the writer preallocated, not damage: they are kept for the records
//! to come. Any other damage (in an older segment, or followed by valid records) is
//! [`Error::Corruption`]: skipping it would silently lose acknowledged records.

use crate::error::{Error, Result, io_error};
use crate::fs::{self, FileSystem, FsFile};
use crate::record::{self, Frame};
use crate::seek_index::SeekIndex;
use crate::segment::{self, SEGMENT_HEADER_BYTES};
use crate::{Epoch, Lsn};
use std::path::Path;
use std::sync::Arc;

/// What opening a log found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Segment files kept.
    pub segments: usize,
    /// Whole, valid records found.
    pub records: u64,
    /// The LSN of the oldest record kept (the next LSN if the log is empty).
    pub first_lsn: Lsn,
    /// The LSN of the newest record (`first_lsn - 1` if the log is empty).
    pub last_lsn: Lsn,
    /// The epoch of the newest record (or the one before it, if the log is empty).
    pub last_epoch: Epoch,
    /// Bytes cut off the newest segment after its last whole record: a torn tail, and
    /// the zeros preallocated after it, if any (zeros alone are kept, and not counted).
    pub bytes_truncated: u64,
}

/// The state a writer continues from.
pub(crate) struct Recovered {
    pub segments: Vec<Lsn>,
    pub tail_file: Arc<dyn FsFile>,
    /// Where the newest segment's last record ends.
    pub tail_len: u64,
    /// The newest segment file's length: `tail_len`, then any preallocated zeros.
    pub tail_file_len: u64,
    /// Where records start, a step apart, in every segment kept.
    pub seek_index: SeekIndex,
    pub report: RecoveryReport,
}

/// The result of checking one segment's bytes.
struct SegmentCheck {
    /// Bytes of whole, valid log at the start of the file (0 if even the header is torn).
    valid_len: u64,
    records: u64,
    next_lsn: Lsn,
    last_epoch: Epoch,
}

/// Opens the log in `dir` (creating it durably if missing), checks it, cuts a torn tail,
/// and hands every record with an LSN of at least `replay_from` to `visit`, in order.
pub(crate) fn recover(
    fs: &dyn FileSystem,
    dir: &Path,
    replay_from: Lsn,
    visit: &mut dyn FnMut(Frame<'_>),
) -> Result<Recovered> {
    fs::create_dir_durable(fs, dir).map_err(io_error("creating", dir))?;
    let segments = segment::list_segments(fs, dir)?;
    let Some((&newest, older)) = segments.split_last() else {
        let tail_file = segment::create_segment(fs, dir, Lsn::FIRST)?;
        return Ok(Recovered {
            segments: vec![Lsn::FIRST],
            tail_file,
            tail_len: SEGMENT_HEADER_BYTES,
            tail_file_len: SEGMENT_HEADER_BYTES,
            seek_index: SeekIndex::default(),
            report: RecoveryReport {
                segments: 1,
                first_lsn: Lsn::FIRST,
                ..RecoveryReport::default()
            },
        });
    };
    let mut report = RecoveryReport {
        segments: segments.len(),
        first_lsn: segments[0],
        ..RecoveryReport::default()
    };
    let mut next_lsn = segments[0];
    let mut seek_index = SeekIndex::default();
    // Every valid record passes here, with where it starts: noted for tailers, replayed
    // from `replay_from` on.
    let mut visit_from = |frame: Frame<'_>, segment: Lsn, offset: u64| {
        seek_index.note(frame.lsn, segment, offset);
        if frame.lsn >= replay_from {
            visit(frame);
        }
    };
    let mut check_file = |first: Lsn, is_newest: bool, report: &mut RecoveryReport, next_lsn: &mut Lsn| {
        let path = segment::segment_path(dir, first);
        let bytes = fs::read_file(fs, &path).map_err(io_error("reading", &path))?;
        let check = check_segment(
            &path,
            &bytes,
            first,
            *next_lsn,
            report.last_epoch,
            is_newest,
            &mut visit_from,
        )?;
        report.records += check.records;
        report.last_epoch = check.last_epoch;
        *next_lsn = check.next_lsn;
        Ok::<_, Error>((path, bytes, check.valid_len))
    };
    for &first in older {
        check_file(first, false, &mut report, &mut next_lsn)?;
    }
    let (path, bytes, valid_len) = check_file(newest, true, &mut report, &mut next_lsn)?;
    let tail_file = fs.open(&path).map_err(io_error("opening", &path))?;
    let (tail_len, tail_file_len) = cut_torn_tail(tail_file.as_ref(), &path, newest, &bytes, valid_len)?;
    report.bytes_truncated = if tail_file_len > tail_len {
        0 // only preallocated zeros followed the last record, and they were kept
    } else {
        bytes.len() as u64 - valid_len
    };
    report.last_lsn = next_lsn.prev();
    Ok(Recovered {
        segments,
        tail_file,
        tail_len,
        tail_file_len,
        seek_index,
        report,
    })
}

/// Truncates the newest segment to its valid prefix, durably, unless only preallocated
/// zeros follow it; rewrites the header if even that was torn. Returns where the valid
/// prefix ends and the file's length afterwards.
fn cut_torn_tail(file: &dyn FsFile, path: &Path, first: Lsn, bytes: &[u8], valid_len: u64) -> Result<(u64, u64)> {
    // A valid length below the header's means the header itself is torn, possibly to
    // nothing (a crash right after the file was created): the header must be rewritten
    // even when there are no bytes to cut, or records would be appended without one.
    if valid_len < SEGMENT_HEADER_BYTES {
        segment::write_header(file, path, first)?;
        return Ok((SEGMENT_HEADER_BYTES, SEGMENT_HEADER_BYTES));
    }
    let file_len = bytes.len() as u64;
    if record::is_padding(&bytes[valid_len as usize..]) {
        return Ok((valid_len, file_len));
    }
    file.set_len(valid_len).map_err(io_error("truncating", path))?;
    file.sync_data().map_err(io_error("syncing", path))?;
    Ok((valid_len, valid_len))
}

fn check_segment(
    path: &Path,
    bytes: &[u8],
    first: Lsn,
    expected_first: Lsn,
    mut epoch: Epoch,
    is_newest: bool,
    visit: &mut dyn FnMut(Frame<'_>, Lsn, u64),
) -> Result<SegmentCheck> {
    let corrupt = |offset: usize, reason: String| Error::Corruption {
        segment: path.to_path_buf(),
        offset: offset as u64,
        reason,
    };
    if first != expected_first {
        return Err(corrupt(
            0,
            format!(
                "segment starts at LSN {first}, but the log continues at LSN {expected_first} (a segment is missing)"
            ),
        ));
    }
    match segment::decode_header(bytes) {
        Ok(named) if named == first => {}
        Ok(named) => {
            return Err(corrupt(
                0,
                format!("header names first LSN {named}, the file name {first}"),
            ));
        }
        Err(reason) => {
            // A crash while creating the newest segment can leave its header torn; that is
            // only safe to repair if no record follows.
            if is_newest && record::find_valid_record(bytes, 0, first).is_none() {
                return Ok(SegmentCheck {
                    valid_len: 0,
                    records: 0,
                    next_lsn: first,
                    last_epoch: epoch,
                });
            }
            return Err(corrupt(0, reason));
        }
    }
    let mut pos = SEGMENT_HEADER_BYTES as usize;
    let mut next = first;
    let mut records = 0;
    while pos < bytes.len() {
        let reason = match record::decode(&bytes[pos..]) {
            Ok(frame) if frame.lsn == next && frame.epoch >= epoch => {
                visit(frame, first, pos as u64);
                pos += frame.framed_len();
                next = next.next();
                epoch = frame.epoch;
                records += 1;
                continue;
            }
            Ok(frame) if frame.lsn != next => {
                format!("record has LSN {}, expected {next}", frame.lsn)
            }
            Ok(frame) => format!(
                "record epoch {} is older than the previous record's {epoch}",
                frame.epoch
            ),
            Err(error) => error.to_string(),
        };
        // The writer's preallocated zeros (only the newest segment keeps them), or a torn
        // tail: nothing valid follows.
        if is_newest && (record::is_padding(&bytes[pos..]) || record::find_valid_record(bytes, pos + 1, next).is_none())
        {
            break;
        }
        return Err(corrupt(pos, reason));
    }
    Ok(SegmentCheck {
        valid_len: pos as u64,
        records,
        next_lsn: next,
        last_epoch: epoch,
    })
}
