//! Storage: ONE copy of a partition, with no notion of role. A copy opens and recovers
//! from its files, writes (one WAL record per write, in the order [`write_order`] keeps),
//! applies records shipped from a primary, reads (memtable, frozen memtables, SSTables,
//! merged), flushes and merges. It talks upward only through what it defines: a
//! [`WriteGate`] the replication group sets on a copy it makes primary (may a write enter
//! the log, wait for its acknowledgement, hold a `Buffered` writer back, is the copy
//! deposed) and [`flush_signal::FlushSignal`] (ask for a flush or a merge). What the copy
//! is to its group (primary, replica, deposed) is the group's business.
//!
//! - [`partition`]: the copy itself.
//! - [`derived`]: the writes a layer above adds to an item's record (index entries).
//! - [`record`]: the WAL payload of a write, field by field (`docs/format/wal-payload.md`).
//! - [`memtable`]: versions in memory, newest LSN wins.
//! - [`write_order`]: writers' order between enqueue and apply, and freezing.
//! - [`sstable`], [`manifest`]: the files a flush writes and the list of the live ones.
//! - [`compaction`]: which tables to merge (a pure policy).

pub mod compaction;
pub(crate) mod derived;
pub(crate) mod flush_signal;
pub mod manifest;
pub(crate) mod memtable;
pub(crate) mod partition;
pub(crate) mod record;
pub mod sstable;
pub(crate) mod write_order;

pub(crate) use derived::{DerivedWrites, NoDerivedWrites};
pub(crate) use partition::{KeyWrite, Partition, PartitionOptions, Refusal, WriteFailure, WriteGate};
pub use partition::{PartitionStats, SsTableStats};
