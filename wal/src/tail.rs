//! Following a live log: the replication shipper's view of it.

use crate::Lsn;
use crate::error::{Error, Result, io_error};
use crate::fs::{self, FsFile};
use crate::record::{self, DecodeError, HEADER_BYTES, PAYLOAD_BYTES_MAX};
use crate::seek_index::SeekPoint;
use crate::segment::{self, SEGMENT_HEADER_BYTES};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Bytes read from a segment per call, which bounds a run: small enough that a replica
/// shipped a long run reports progress every few milliseconds rather than once at the
/// end of the whole backlog (its lag is measured from the oldest record it lacks).
const RUN_BYTES: u64 = 256 << 10;
/// Bytes read when the next record does not fit in [`RUN_BYTES`]: enough for the largest
/// record.
const LARGE_READ_BYTES: u64 = (PAYLOAD_BYTES_MAX + HEADER_BYTES) as u64;
/// Bytes a tailer reads at a time looking for its first record: two seek steps, so that
/// from a seek point one read usually finds it.
const SEEK_READ_BYTES: u64 = 2 * crate::seek_index::SEEK_STEP_BYTES;

/// Records handed to a tailer: a run of whole, durable, consecutive records of one segment,
/// byte for byte as they are in the segment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailChunk {
    /// The first LSN of the segment these records are in.
    pub segment: Lsn,
    /// The LSN of the first record.
    pub first_lsn: Lsn,
    /// The LSN of the last record.
    pub last_lsn: Lsn,
    /// The framed records.
    pub bytes: Vec<u8>,
}

/// What tailers read of the shared state.
pub(crate) struct TailView {
    pub durable_lsn: Lsn,
    /// Where the records written to the newest of `segments` end (its file may go on
    /// in preallocated zeros, and its length is not read: see [`crate::Wal::size_bytes`]).
    pub newest_written_end: u64,
    pub segments: Vec<Lsn>,
    pub rewinds: u64,
    pub rewound_to: Lsn,
}

/// What a tailer needs of the log it follows (the log's shared state implements it, so
/// that the tailer reads the log without reaching into the writer).
pub(crate) trait TailSource: Send + Sync + std::fmt::Debug {
    /// The file system the log's segments are on.
    fn fs(&self) -> &dyn fs::FileSystem;
    /// The log's directory.
    fn dir(&self) -> &Path;
    /// Waits up to `timeout` until a record at or after `lsn` is durable or the log is cut
    /// back (its rewind count differs from `rewinds`), then returns a view of the log;
    /// `None` on timeout.
    ///
    /// Errors: [`Error::Closed`], [`Error::Poisoned`].
    fn wait_for_durable(&self, lsn: Lsn, rewinds: u64, timeout: Duration) -> Result<Option<TailView>>;
    /// The last seek point of `segment` at or before record `lsn` (see
    /// [`crate::seek_index`]).
    fn seek_point(&self, segment: Lsn, lsn: Lsn) -> Option<SeekPoint>;
    /// How many times the log was cut back.
    fn rewinds(&self) -> u64;
}

#[derive(Debug)]
struct Cursor {
    segment: Lsn,
    path: PathBuf,
    file: Arc<dyn FsFile>,
    /// Where record `Tailer::next` starts in the file.
    offset: u64,
}

/// Follows a log from an LSN on, yielding only durable records, as the bytes in the
/// segment files. Created by [`crate::Wal::tail`].
#[derive(Debug)]
pub struct Tailer {
    shared: Arc<dyn TailSource>,
    next: Lsn,
    rewinds: u64,
    cursor: Option<Cursor>,
}

impl Tailer {
    pub(crate) fn new(shared: Arc<dyn TailSource>, from: Lsn) -> Self {
        let rewinds = shared.rewinds();
        Tailer {
            shared,
            next: from.max(Lsn::FIRST),
            rewinds,
            cursor: None,
        }
    }

    /// The LSN of the next record this tailer yields.
    pub fn position(&self) -> Lsn {
        self.next
    }

    /// Waits up to `timeout` for durable records at or after the tailer's position and
    /// returns a run of them (all of one segment, at most 256 KiB unless its one record
    /// is larger), or `None` if none became durable in time.
    ///
    /// Errors: [`Error::LsnTruncated`] if the position was dropped,
    /// [`Error::LogRewound`] if the log was cut back, [`Error::Poisoned`],
    /// [`Error::Closed`], [`Error::Corruption`], [`Error::Io`].
    pub fn next_chunk(&mut self, timeout: Duration) -> Result<Option<TailChunk>> {
        let Some(view) = self.shared.wait_for_durable(self.next, self.rewinds, timeout)? else {
            return Ok(None);
        };
        if view.rewinds != self.rewinds {
            return Err(Error::LogRewound { lsn: view.rewound_to });
        }
        let oldest = view.segments.first().copied().unwrap_or(Lsn::FIRST);
        let Some(mut index) = view.segments.iter().rposition(|&first| first <= self.next) else {
            return Err(Error::LsnTruncated {
                requested: self.next,
                oldest,
            });
        };
        loop {
            let segment = view.segments[index];
            if self.cursor.as_ref().is_none_or(|c| c.segment != segment) {
                self.cursor = Some(self.seek(segment)?);
            }
            // The newest segment's file may go on in preallocated zeros; its records end
            // where the writer last wrote. Older segments end at their last record.
            let end = (index + 1 == view.segments.len()).then_some(view.newest_written_end);
            if let Some(chunk) = self.read_run(view.durable_lsn, end)? {
                return Ok(Some(chunk));
            }
            // Nothing more in this segment: the next record must open the next segment.
            if view.segments.get(index + 1) == Some(&self.next) {
                index += 1;
                continue;
            }
            let cursor = self.cursor.as_ref();
            return Err(Error::Corruption {
                segment: cursor.map(|c| c.path.clone()).unwrap_or_default(),
                offset: cursor.map_or(0, |c| c.offset),
                reason: format!("durable record {} is missing", self.next),
            });
        }
    }

    /// Opens `segment` and finds where record `self.next` (or the segment's end) is.
    fn seek(&self, segment: Lsn) -> Result<Cursor> {
        let path = segment::segment_path(self.shared.dir(), segment);
        let fs = self.shared.fs();
        let file = fs.open(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::LsnTruncated {
                    requested: self.next,
                    oldest: segment.next(),
                }
            } else {
                io_error("opening", &path)(e)
            }
        })?;
        let mut offset = SEGMENT_HEADER_BYTES;
        if segment < self.next {
            // From the nearest seek point before the record, a window at a time, rather
            // than the whole segment (up to 64 MiB) from its start.
            if let Some(point) = self.shared.seek_point(segment, self.next) {
                offset = point.offset;
            }
            let mut window = SEEK_READ_BYTES;
            loop {
                let bytes =
                    fs::read_range(file.as_ref(), offset, offset + window).map_err(io_error("reading", &path))?;
                let mut pos = 0;
                while let Ok(frame) = record::decode(&bytes[pos..]) {
                    if frame.lsn >= self.next {
                        break;
                    }
                    pos += frame.framed_len();
                }
                offset += pos as u64;
                let window_full = bytes.len() as u64 == window;
                // Found, or at the end of the records: unless the window ended in a
                // record larger than it, which a larger window reads whole.
                let found = pos < bytes.len() && record::decode(&bytes[pos..]).is_ok();
                if found || !window_full || (pos == 0 && window == LARGE_READ_BYTES) {
                    break;
                }
                if pos == 0 {
                    window = LARGE_READ_BYTES;
                }
            }
        }
        Ok(Cursor {
            segment,
            path,
            file,
            offset,
        })
    }

    /// Reads the durable records at the cursor, in the segment's first `end` bytes (the
    /// whole file if `None`); `None` if there are none in this segment.
    fn read_run(&mut self, durable: Lsn, end: Option<u64>) -> Result<Option<TailChunk>> {
        let Some(cursor) = self.cursor.as_mut() else {
            return Ok(None);
        };
        let len = match end {
            Some(end) => end,
            None => cursor.file.len().map_err(io_error("reading", &cursor.path))?,
        };
        let first_lsn = self.next;
        let mut read = RUN_BYTES;
        loop {
            let end = len.min(cursor.offset + read);
            let bytes =
                fs::read_range(cursor.file.as_ref(), cursor.offset, end).map_err(io_error("reading", &cursor.path))?;
            let mut pos = 0;
            while self.next <= durable && pos < bytes.len() {
                match record::decode(&bytes[pos..]) {
                    // A run holds at most `RUN_BYTES`, or one record larger than that.
                    Ok(frame) if pos > 0 && (pos + frame.framed_len()) as u64 > RUN_BYTES => break,
                    Ok(frame) if frame.lsn == self.next => {
                        pos += frame.framed_len();
                        self.next = self.next.next();
                    }
                    // A record cut by the read size: the next call reads it whole.
                    Err(DecodeError::Incomplete { .. }) if pos > 0 => break,
                    // The first record is larger than a run: read it whole.
                    Err(DecodeError::Incomplete { .. }) if end < len && read < LARGE_READ_BYTES => break,
                    other => {
                        let reason = match other {
                            Ok(frame) => {
                                format!("record has LSN {}, expected {}", frame.lsn, self.next)
                            }
                            Err(e) => e.to_string(),
                        };
                        return Err(Error::Corruption {
                            segment: cursor.path.clone(),
                            offset: cursor.offset + pos as u64,
                            reason,
                        });
                    }
                }
            }
            if pos == 0 && end < len && read < LARGE_READ_BYTES && self.next <= durable {
                read = LARGE_READ_BYTES;
                continue;
            }
            if pos == 0 {
                return Ok(None);
            }
            cursor.offset += pos as u64;
            let mut bytes = bytes;
            bytes.truncate(pos);
            return Ok(Some(TailChunk {
                segment: cursor.segment,
                first_lsn,
                last_lsn: self.next.prev(),
                bytes,
            }));
        }
    }
}
