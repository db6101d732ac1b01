//! The WAL's error type.

use crate::{Epoch, Lsn};
use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the write-ahead log.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The operating system failed an operation.
    #[error("I/O error while {op} {}: {source}", path.display())]
    Io {
        /// What the log was doing.
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A segment holds bytes that are not a valid log: a bad checksum, a broken header, an
    /// LSN out of sequence, or a missing segment. Recovery never skips such damage unless
    /// it is a torn tail of the newest segment.
    #[error("corrupt WAL segment {} at offset {offset}: {reason}", segment.display())]
    Corruption {
        /// The damaged segment file.
        segment: PathBuf,
        /// The byte offset of the damage in that file.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A record payload is larger than the log accepts.
    #[error("WAL record payload of {size} bytes exceeds the maximum of {max} bytes")]
    PayloadTooLarge {
        /// The payload's size.
        size: usize,
        /// The largest payload accepted.
        max: usize,
    },
    /// An earlier write or sync failed, so what is on disk is unknown; the log accepts
    /// nothing more until it is reopened, which recovers what is really there.
    #[error("the WAL failed an earlier write or sync and accepts nothing until it is reopened: {cause}")]
    Poisoned {
        /// The first failure.
        cause: String,
    },
    /// A record's epoch is older than the last epoch in the log.
    #[error("epoch {epoch} is older than the log's last epoch {last}")]
    EpochRegressed {
        /// The epoch offered.
        epoch: Epoch,
        /// The newest epoch in the log.
        last: Epoch,
    },
    /// Framed records offered to a replica do not continue the log.
    #[error("framed records start at LSN {found}, but the log expects LSN {expected}")]
    LsnGap {
        /// The LSN the log needs next.
        expected: Lsn,
        /// The LSN offered.
        found: Lsn,
    },
    /// Bytes offered to a replica are not whole, valid records.
    #[error("invalid framed records at byte {offset}: {reason}")]
    InvalidFrame {
        /// The offset within the offered bytes.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// The requested LSN was dropped by [`crate::Wal::truncate_before`].
    #[error("LSN {requested} is no longer in the log (the oldest kept is {oldest})")]
    LsnTruncated {
        /// The LSN asked for.
        requested: Lsn,
        /// The oldest LSN still kept.
        oldest: Lsn,
    },
    /// The log was cut back below a tailer's position by [`crate::Wal::truncate_after`].
    #[error("the log was cut back to LSN {lsn} while it was being tailed")]
    LogRewound {
        /// The LSN the log was cut back to.
        lsn: Lsn,
    },
    /// The log was closed.
    #[error("the WAL is closed")]
    Closed,
}

/// The WAL's result type.
pub type Result<T> = std::result::Result<T, Error>;

/// Wraps an `io::Error` with what was being done and to which path.
pub(crate) fn io_error(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { op, path, source }
}
