//! dynastore's write-ahead log: a segmented, checksummed, group-committed log of opaque
//! records, with crash recovery, truncation, tailing and replica appends.
//!
//! The log knows bytes, log sequence numbers ([`Lsn`]) and epochs ([`Epoch`]), nothing
//! about items. Every file access goes through [`fs::FileSystem`], so tests can inject
//! faults and power loss ([`fs::FaultyFs`]).
//!
//! # On-disk format (version 1)
//!
//! A log is a directory of segment files, each named by the LSN of its first record as 20
//! decimal digits plus `.log` (`00000000000000000001.log`). A segment holds a 24-byte
//! header ([`segment`]) and then whole records back to back ([`record`]); a record never
//! straddles two segments. LSNs start at 1 and are gapless across segments; epochs never
//! decrease.
//!
//! ```text
//! segment header:  magic b"DYNWAL\r\n" (8) | version u32 = 1 | crc u32 | first_lsn u64
//! record:          crc u32 | len u32 | lsn u64 | epoch u64 | payload (len bytes)
//! ```
//!
//! All integers are little-endian. Checksums are CRC-32 (IEEE). A record's checksum covers
//! its length, LSN, epoch and payload.
//!
//! The newest segment may end in zeros after its last record: space preallocated for the
//! records to come ([`WalOptions::preallocate_bytes`]), so that a sync writes the data
//! alone. No record is all zeros; older segments are cut to their last record when a newer
//! one begins, so they never hold any.
//!
//! # Durability
//!
//! With [`Durability::Sync`], [`Wal::append`] returns once its record is fsynced;
//! concurrent appenders share writes and fsyncs (group commit). With
//! [`Durability::Written`], it returns once its record is written to the file (handed to
//! the OS: a process crash loses nothing returned), and a background thread syncs on an
//! interval. With [`Durability::Buffered`], records are written and synced by a
//! background thread on an interval and by [`Wal::sync`]. Every create, rename and delete of a segment is followed
//! by an fsync of the directory. A failed write or sync poisons the log (see
//! [`Error::Poisoned`]).
//!
//! # Recovery
//!
//! [`Wal::open`] checks every segment. A torn tail of the newest segment (damage with no
//! valid record after it) is cut off; its preallocated zeros are kept; any other damage is
//! [`Error::Corruption`] with the segment and offset, never skipped.

//! # Example
//!
//! ```
//! use dynastore_wal::fs::StdFs;
//! use dynastore_wal::{Epoch, Lsn, Wal, WalOptions};
//!
//! let dir = tempfile::tempdir()?;
//! let (wal, report) = Wal::open(StdFs::shared(), dir.path(), WalOptions::default())?;
//! assert_eq!(report.records, 0);
//! let lsn = wal.append(Epoch(1), b"put Orders order#1")?; // durable when it returns
//! assert_eq!(lsn, Lsn(1));
//! drop(wal);
//!
//! let (wal, report) = Wal::open(StdFs::shared(), dir.path(), WalOptions::default())?;
//! assert_eq!(report.last_lsn, Lsn(1));
//! let records: Vec<_> = wal.read_from(Lsn(1))?.collect::<Result<_, _>>()?;
//! assert_eq!(records[0].payload, b"put Orders order#1");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod error;
pub mod fs;
mod group_window;
mod lsn;
pub mod reader;
pub mod record;
mod recovery;
pub mod scan;
mod seek_index;
pub mod segment;
pub mod tail;
mod writer;

pub use error::{Error, Result};
pub use lsn::{Epoch, Lsn};
pub use reader::{Record, WalReader};
pub use recovery::RecoveryReport;
pub use tail::{TailChunk, Tailer};
pub use writer::{Durability, Wal, WalOptions, WalStats};
