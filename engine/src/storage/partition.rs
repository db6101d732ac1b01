//! One partition: a write-ahead log, a memtable, frozen memtables being flushed, and
//! SSTables.
//!
//! # Write order
//!
//! Writers of a partition take its write lock, read the current item, enqueue one WAL
//! record (which fixes its LSN and so its order) and note the new version as *in flight*,
//! then release the lock and wait for the record to be durable. Waiting outside the lock
//! lets concurrent writers of one partition share fsyncs (group commit). The next writer
//! of the same key sees the pending version, so read-modify-write stays in LSN order;
//! readers see only the memtable, which gets a version once its record is durable (so a
//! read never returns a write that was not acknowledged). Versions carry their LSN and
//! the memtable keeps the newest, whatever order writers finish in. The protocol, and why
//! no version is ever applied behind a newer one, is [`crate::storage::write_order`]'s.
//!
//! The parts, one job each: [`record`](super::record) (the WAL payload of a write), [`read`] (gets and
//! range reads), [`flush`] (durability and memtable flushes), [`compact`] (merging
//! SSTables), [`replica`] (applying shipped records), [`gate`] (what the replication
//! group decides of the copy's writes, through the [`WriteGate`] it sets: whether a write
//! may enter the log, waiting for its acknowledgement, being deposed) and [`copy`]
//! (seeding a copy). The copy knows no role: being a primary, and being deposed, is the
//! group's (`group::primary`).

mod compact;
mod copy;
mod flush;
mod numbers;
mod read;

mod gate;
mod replica;
#[cfg(test)]
mod test_support;

pub(crate) use gate::{Refusal, WriteFailure, WriteGate};

use super::record::{decode_writes, encode_batch, encode_record};
use read::decode_in_memory;

use crate::error::{Error, Result, io_error};
use crate::item::Item;
use crate::storage::compaction::{CompactionStyle, LEVEL0_TABLES_STOP, TableShape};
use crate::storage::derived::DerivedWrites;
use crate::storage::flush_signal::FlushSignal;
use crate::storage::manifest::{Manifest, parse_table_name, table_path};
use crate::storage::memtable::{self, Encoded, MemKey, Memtable, Version, encode};
use crate::storage::sstable::SsTable;
use crate::storage::write_order::{InFlight, WriteLock, WriteOrder};
use dynastore_wal::fs::SharedFs;
use dynastore_wal::{Epoch, Lsn, Wal, WalOptions};
use parking_lot::{Mutex, RwLock};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

pub(crate) use super::derived::KeyWrite;

/// A live SSTable with its MANIFEST entry's number and level.
#[derive(Debug, Clone)]
struct LiveTable {
    number: u64,
    level: u32,
    table: Arc<SsTable>,
}

/// A frozen memtable, with the WAL's last LSN when it was frozen (every write up to it is
/// in there) and that record's epoch.
/// A frozen memtable: the LSN and epoch it covers, and its approximate size in bytes.
type Frozen = (Arc<Memtable>, Lsn, Epoch, usize);

/// What reads look at, newest first: the memtable, frozen memtables (each with the LSN
/// it covers), then SSTables, in the MANIFEST's order (changed only under its lock).
#[derive(Debug, Default)]
struct ReadState {
    memtable: Memtable,
    frozen: Vec<Frozen>,
    tables: Vec<LiveTable>,
}

impl ReadState {
    fn table_shapes(&self) -> Vec<TableShape> {
        self.tables
            .iter()
            .map(|live| TableShape {
                level: live.level,
                bytes: live.table.file_bytes(),
            })
            .collect()
    }

    fn level0_tables(&self) -> usize {
        self.tables.iter().take_while(|live| live.level == 0).count()
    }
}

/// How a partition is run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PartitionOptions {
    /// Its WAL's options.
    pub wal: WalOptions,
    /// The memtable size that calls for a flush.
    pub memtable_bytes_max: usize,
    /// How its SSTables are merged.
    pub compaction: CompactionStyle,
    /// Whether a background compactor merges them (if not, writers never wait for one).
    pub auto_compaction: bool,
    /// The replication group's epoch: the partition's own records carry it, and as a
    /// replica it refuses shipped records of an older one.
    pub epoch: Epoch,
    /// The first LSN of that epoch (`Lsn(1)` for the first).
    pub epoch_first_lsn: Lsn,
}

/// A partition's durable state and its writers' order.
#[derive(Debug)]
pub(crate) struct Partition {
    fs: SharedFs,
    dir: PathBuf,
    /// Shared with the replication shipper, which tails it.
    wal: Arc<Wal>,
    /// Acknowledged versions. Writers are serialised by `order` anyway, so B-trees under
    /// a read-write lock serve readers faster than a concurrent skiplist.
    state: RwLock<ReadState>,
    /// The write lock, the writes between enqueue and apply, and the freeze that waits for
    /// them (see [`crate::storage::write_order`]). Taken before `state` wherever both are.
    order: WriteOrder,
    /// `Buffered` durability acknowledges a write before it is durable, so it is applied
    /// under the write lock right after it is enqueued, never in flight.
    apply_on_enqueue: bool,
    /// The MANIFEST as last saved (but for file numbers a compaction reserved); its lock
    /// serialises flushes and the installing of compactions' results.
    manifest: Mutex<Manifest>,
    /// The MANIFEST's flushed LSN, for `stats`, which must not wait behind a flush (it
    /// holds the MANIFEST's lock while it writes its table, hundreds of milliseconds).
    manifest_flushed_lsn: AtomicU64,
    /// Held for a whole compaction: one at a time per partition.
    compacting: Mutex<()>,
    /// The memtable's approximate size, and the size that calls for a flush.
    memtable_bytes: AtomicUsize,
    memtable_bytes_max: usize,
    compaction_style: CompactionStyle,
    auto_compaction: bool,
    /// Whether a flush was asked for since the last freeze.
    flush_requested: AtomicBool,
    /// Wakes the background flusher; `None` when flushes are only explicit.
    flush_signal: Option<FlushSignal>,
    /// Writes that waited because flushing, compaction or (`Buffered`) replication fell
    /// behind.
    stalls: AtomicU64,
    /// Flushes and compactions done since the partition was opened, and the SSTable
    /// bytes each wrote.
    flushes: AtomicU64,
    compactions: AtomicU64,
    flushed_bytes: AtomicU64,
    compacted_bytes: AtomicU64,
    /// Set when the partition's table is deleted: no flush or compaction writes after.
    retired: AtomicBool,
    /// The epoch of its replication group (see [`PartitionOptions::epoch`]).
    epoch: AtomicU64,
    /// The first LSN of the current epoch: records of older epochs from here on are a
    /// deposed primary's and are refused.
    epoch_first_lsn: AtomicU64,
    /// The newest record applied to the memtable (readable). As a replica, every shipped
    /// record up to it is applied; as a primary, every write a read can see is at or
    /// below it.
    applied_lsn: AtomicU64,
    /// What its replication group decides of its writes (see [`gate`]): none (every
    /// write admitted, none waited for) unless the group made it a primary with
    /// replicas; set at most once.
    gate: std::sync::OnceLock<Arc<dyn WriteGate>>,
    /// The first LSN each copy being seeded from this partition needs from its log: no
    /// flush drops them until the copy is in service (see [`Partition::seed_copy`]).
    log_holds: Mutex<Vec<Lsn>>,
    /// The first LSN the global index applier may still need from this copy's log (0:
    /// none): records it has not durably applied (see [`Partition::hold_log_from`]).
    index_hold: AtomicU64,
    /// Points where tests hold a thread to force an interleaving.
    #[cfg(test)]
    hooks: test_support::Hooks,
}

/// One live SSTable's numbers, for `stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SsTableStats {
    /// Its level (0: flushed from a memtable).
    pub level: u32,
    /// Its entries, tombstones included.
    pub entries: u64,
    /// Its tombstones.
    pub tombstones: u64,
    /// Its file's size in bytes.
    pub bytes: u64,
}

/// A partition's numbers, for `stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartitionStats {
    /// Entries in the memtable and frozen memtables (tombstones included).
    pub memtable_entries: u64,
    /// The memtable's approximate size.
    pub memtable_bytes: u64,
    /// Frozen memtables waiting to be written.
    pub frozen_memtables: u64,
    /// Live SSTables, newest first.
    pub tables: Vec<SsTableStats>,
    /// WAL segments and their total size.
    pub wal_segments: u64,
    /// The WAL's size in bytes.
    pub wal_bytes: u64,
    /// Every write up to this LSN is in the SSTables.
    pub flushed_lsn: u64,
    /// Every write up to this LSN is durable in the WAL.
    pub durable_lsn: u64,
    /// Flushes since the partition was opened.
    pub flushes: u64,
    /// Compactions since the partition was opened.
    pub compactions: u64,
    /// SSTable bytes flushes wrote since the partition was opened.
    pub flushed_bytes: u64,
    /// SSTable bytes compactions wrote since the partition was opened.
    pub compacted_bytes: u64,
    /// Writes that waited because flushing, compaction or (`Buffered`) replication fell
    /// behind.
    pub write_stalls: u64,
}

/// Encodes writes' items as the memtable and the log hold them.
fn encode_writes(writes: Vec<KeyWrite>) -> impl Iterator<Item = (MemKey, Option<Encoded>)> {
    writes
        .into_iter()
        .map(|(key, item)| (MemKey::new(key), item.as_ref().map(encode)))
}

/// Writers wait (a write stall) while this many frozen memtables wait to be flushed.
const FROZEN_MEMTABLES_MAX: usize = 2;

impl Partition {
    /// Opens the partition in `dir`: its MANIFEST's SSTables, and its log (in `dir/wal`)
    /// replayed after the flushed LSN into the memtable. SSTable files the MANIFEST does
    /// not list are deleted.
    ///
    /// Errors: [`Error::Wal`] (I/O, or corruption recovery must not skip),
    /// [`Error::Corruption`] for a damaged table or MANIFEST, or a record that passes its
    /// checksum but does not decode; [`Error::Io`].
    pub fn open(
        fs: SharedFs,
        dir: &Path,
        options: PartitionOptions,
        flush_signal: Option<FlushSignal>,
    ) -> Result<Partition> {
        let wal_options = options.wal;
        dynastore_wal::fs::create_dir_durable(fs.as_ref(), dir).map_err(io_error("creating", dir))?;
        let manifest = Manifest::load(fs.as_ref(), dir)?;
        remove_orphan_tables(fs.as_ref(), dir, &manifest)?;
        let tables = manifest
            .tables
            .iter()
            .map(|file| {
                Ok(LiveTable {
                    number: file.number,
                    level: file.level,
                    table: Arc::new(SsTable::open(fs.as_ref(), &table_path(dir, file.number))?),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let (wal, memtable, memtable_bytes) = replay_log(&fs, &dir.join("wal"), wal_options, &manifest)?;
        let applied_lsn = AtomicU64::new(wal.last_lsn().0);
        Ok(Partition {
            fs,
            dir: dir.to_path_buf(),
            wal: Arc::new(wal),
            state: RwLock::new(ReadState {
                memtable,
                frozen: Vec::new(),
                tables,
            }),
            order: WriteOrder::default(),
            apply_on_enqueue: wal_options.durability.acknowledges_before_durable(),
            manifest_flushed_lsn: AtomicU64::new(manifest.flushed_lsn),
            manifest: Mutex::new(manifest),
            compacting: Mutex::new(()),
            memtable_bytes: AtomicUsize::new(memtable_bytes),
            memtable_bytes_max: options.memtable_bytes_max,
            compaction_style: options.compaction,
            auto_compaction: options.auto_compaction,
            flush_requested: AtomicBool::new(false),
            flush_signal,
            stalls: AtomicU64::new(0),
            flushes: AtomicU64::new(0),
            compactions: AtomicU64::new(0),
            flushed_bytes: AtomicU64::new(0),
            compacted_bytes: AtomicU64::new(0),
            retired: AtomicBool::new(false),
            log_holds: Mutex::new(Vec::new()),
            index_hold: AtomicU64::new(0),
            #[cfg(test)]
            hooks: test_support::Hooks::default(),
            epoch: AtomicU64::new(options.epoch.0),
            epoch_first_lsn: AtomicU64::new(options.epoch_first_lsn.0),
            applied_lsn,
            gate: std::sync::OnceLock::new(),
        })
        .inspect(|partition: &Partition| {
            if let Some(signal) = &partition.flush_signal {
                signal.memtables_grew(partition.memtable_bytes() as isize);
            }
        })
    }

    /// Writes that waited because flushing, compaction or (`Buffered`) replication fell
    /// behind.
    pub fn stalls(&self) -> u64 {
        self.stalls.load(Ordering::Relaxed)
    }

    /// The memtable's approximate size in bytes.
    pub fn memtable_bytes(&self) -> usize {
        self.memtable_bytes.load(Ordering::Relaxed)
    }

    /// Accounts for an applied write and asks for a flush once the memtable is over
    /// budget.
    fn grew(&self, bytes: usize) {
        if let Some(signal) = &self.flush_signal {
            signal.memtables_grew(bytes as isize);
        }
        let size = self.memtable_bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if size > self.memtable_bytes_max
            && !self.flush_requested.swap(true, Ordering::Relaxed)
            && let Some(signal) = &self.flush_signal
        {
            signal.request();
        }
    }

    /// Takes the write lock, waiting while a flush freezes the memtable, and while
    /// flushing or compaction is behind. Not once the partition is retired: it flushes
    /// no more, so a stalled writer would wait for good (the caller then finds it deposed
    /// and retries on the new primary, or writes to a table being deleted as any write
    /// already under way does).
    fn lock_pending(&self) -> WriteLock<'_> {
        let mut stalled = false;
        self.order.lock(|| {
            if self.flush_signal.is_none() || self.retired.load(Ordering::Relaxed) || !self.behind() {
                return false;
            }
            // Flushing or compaction fell behind: slow writers down rather than grow
            // memory or the tables every read must look at.
            if !stalled {
                stalled = true;
                self.stalls.fetch_add(1, Ordering::Relaxed);
            }
            // Either thread may be the one behind (frozen memtables are the flusher's,
            // level-0 tables the compactor's): a partition opened with too many level-0
            // tables stalls its first write before any flush asks for a merge.
            if let Some(signal) = &self.flush_signal {
                signal.request();
                signal.request_compaction();
            }
            true
        })
    }

    /// Whether background work fell so far behind that writers must wait for it.
    fn behind(&self) -> bool {
        let state = self.state.read();
        state.frozen.len() >= FROZEN_MEMTABLES_MAX
            || (self.auto_compaction && state.level0_tables() >= LEVEL0_TABLES_STOP)
    }

    /// Wakes writers waiting for background work. Stalled writers re-check under the
    /// write lock, so it is taken first: none misses the wake-up.
    fn wake_writers(&self) {
        self.order.wake();
    }

    /// [`Partition::write_attempt`] with only the error (for the module's tests).
    #[cfg(test)]
    pub fn write(
        &self,
        key: Vec<u8>,
        read_old: bool,
        compute: impl FnOnce(Option<&Item>) -> Result<Option<Item>>,
    ) -> Result<Option<Item>> {
        self.write_attempt(key, read_old, &crate::storage::NoDerivedWrites, compute)
            .map_err(|failure| failure.error)
    }

    /// Writes under `key` the item `compute` derives from the current one (`None` deletes),
    /// and returns the item it replaced. `compute` runs under the write lock, so it sees
    /// every earlier write of the key; if it fails, nothing is written. With `read_old`
    /// false (a blind write), the current item is not looked up: `compute` sees `None` and
    /// nothing is returned. A `Sync` write is applied (readable) once its record is durable
    /// and the replicas acknowledged it as the ack mode asks.
    ///
    /// Errors, in a [`WriteFailure`] that also tells whether the record reached the log
    /// (and its LSN) and whether the partition lost its place as primary: `compute`'s
    /// error; [`Error::Wal`] if the record could not be made durable;
    /// [`Error::Replication`] if the replicas did not acknowledge it (the record is in the
    /// log's history, applied); [`Error::Corruption`] if reading the current item hit a
    /// damaged SSTable.
    pub(crate) fn write_attempt(
        &self,
        key: Vec<u8>,
        read_old: bool,
        derived: &dyn DerivedWrites,
        compute: impl FnOnce(Option<&Item>) -> Result<Option<Item>>,
    ) -> std::result::Result<Option<Item>, WriteFailure> {
        let key = MemKey::new(key);
        let mut lock = self.lock_pending();
        self.check_gate()?;
        let old = if read_old || derived.needs_old() {
            self.current(&lock, &key).map_err(WriteFailure::before_log)?
        } else {
            None
        };
        let new_item = compute(old.as_ref()).map_err(WriteFailure::before_log)?;
        let mut extra = Vec::new();
        derived.derive(old.as_ref(), new_item.as_ref(), &mut extra);
        let notes: Vec<(Vec<u8>, Vec<u8>)> = derived
            .note(old.as_ref())
            .map(|note| (key.bytes.clone(), encode(&note).to_vec()))
            .into_iter()
            .collect();
        let old = if read_old { old } else { None };
        let mut writes = Vec::with_capacity(1 + extra.len());
        writes.push((key, new_item.as_ref().map(encode)));
        writes.extend(encode_writes(extra));
        let record = match (&writes[..], notes.is_empty()) {
            ([(key, value)], true) => encode_record(&key.bytes, value.as_deref()),
            (writes, _) => encode_batch(writes, &notes),
        };
        let lsn = self
            .wal
            .enqueue(self.epoch(), &record)
            .map_err(|error| self.failure(error.into(), None))?;
        let written = if self.apply_on_enqueue {
            self.apply_versions(writes.into_iter().map(|(key, value)| (key, Version { lsn, value })));
            drop(lock);
            self.commit_buffered(lsn)
        } else {
            let in_flight = lock.enqueued(lsn, writes);
            drop(lock);
            self.complete(in_flight)
        };
        match written {
            Ok(()) => Ok(old),
            Err(error) => Err(self.failure(error, Some((lsn, old)))),
        }
    }

    /// The item under `key` as the next write of it sees it: its newest pending version
    /// (enqueued, maybe not yet durable), else what reads see.
    ///
    /// Errors: [`Error::Corruption`] if a damaged SSTable or record is read.
    fn current(&self, lock: &WriteLock<'_>, key: &MemKey) -> Result<Option<Item>> {
        match lock.newest(key) {
            Some(version) => version.value.as_deref().map(decode_in_memory).transpose(),
            None => self.get_key(key),
        }
    }

    /// Waits for a `Sync` write's record to be durable and acknowledged by the replicas as
    /// the ack mode asks, then finishes it (see [`crate::storage::write_order`]): a durable record
    /// is applied whether or not the replicas acknowledged it, as it is part of the log's
    /// history (and later writers of its keys already read it as pending); one that did
    /// not become durable is abandoned.
    ///
    /// Errors: [`Error::Wal`] if the record did not become durable;
    /// [`Error::Replication`] if the replicas did not acknowledge it.
    fn complete(&self, in_flight: InFlight<'_>) -> Result<()> {
        let lsn = in_flight.lsn();
        let acknowledged = self
            .wal
            .commit(lsn)
            .map_err(Error::from)
            .and_then(|()| self.await_replicas(lsn));
        #[cfg(test)]
        self.hooks.before_apply(lsn);
        if matches!(acknowledged, Err(Error::Wal(_))) {
            in_flight.abandon();
        } else {
            in_flight.apply(|versions| self.apply_versions(versions));
        }
        acknowledged
    }

    /// Makes a `Buffered` write's record (already applied) durable when the log syncs, and
    /// holds it back while the replicas lag too far (see
    /// [`Partition::keep_replicas_within_reach`]).
    fn commit_buffered(&self, lsn: Lsn) -> Result<()> {
        self.wal
            .commit(lsn)
            .map_err(Error::from)
            .and_then(|()| self.keep_replicas_within_reach(lsn))
    }

    /// Puts `versions` into the memtable, each unless a newer version of its key is there
    /// ([`memtable::apply`]), and makes them readable. Called with the write lock held:
    /// no freeze can then set the memtable aside between a write's enqueue and its apply,
    /// which is what makes the active memtable the only place a newer version can be.
    fn apply_versions(&self, versions: impl IntoIterator<Item = (MemKey, Version)>) {
        let mut grown = 0;
        let mut newest = 0;
        {
            let mut state = self.state.write();
            for (key, version) in versions {
                newest = newest.max(version.lsn.0);
                grown += memtable::apply(&mut state.memtable, key, version).unwrap_or(0);
            }
        }
        self.applied_lsn.fetch_max(newest, Ordering::AcqRel);
        self.grew(grown);
    }

    /// Its directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its log, which the shipper tails.
    pub(crate) fn wal(&self) -> &Arc<Wal> {
        &self.wal
    }

    /// Every write up to this LSN is in its SSTables.
    pub(crate) fn flushed_lsn(&self) -> u64 {
        self.manifest.lock().flushed_lsn
    }

    /// The epoch this copy's records carry.
    pub fn epoch(&self) -> Epoch {
        Epoch(self.epoch.load(Ordering::Relaxed))
    }

    /// Moves the copy to a newer epoch whose primary began writing at `first_lsn` (a
    /// promotion): as a primary its records carry it; as a replica it refuses, from
    /// `first_lsn` on, shipped records of older epochs (a deposed primary's).
    pub fn set_epoch(&self, epoch: Epoch, first_lsn: Lsn) {
        if self.epoch.fetch_max(epoch.0, Ordering::Relaxed) < epoch.0 {
            self.epoch_first_lsn.store(first_lsn.0, Ordering::Relaxed);
        }
    }

    /// The epoch of this copy's newest record: from its log, or from its MANIFEST when the
    /// log holds no record past the tables (it was emptied by a flush). `Epoch(0)` if
    /// unknown (a MANIFEST written before epochs were recorded), which rejoining treats
    /// conservatively.
    pub(crate) fn last_epoch(&self) -> Epoch {
        let manifest = self.manifest.lock();
        if self.wal.last_lsn().0 > manifest.flushed_lsn {
            self.wal.last_epoch()
        } else {
            Epoch(manifest.flushed_epoch).max(self.wal.last_epoch())
        }
    }

    /// The newest record a read can see here (see the field's docs): a replica that
    /// applied up to a primary's `applied_lsn` shows everything a read of the primary
    /// would.
    pub(crate) fn applied_lsn(&self) -> Lsn {
        Lsn(self.applied_lsn.load(Ordering::Acquire))
    }

    /// Writes several items (or deletions) under distinct keys as one WAL record: after a
    /// crash all of them are there or none. Returns the items they replaced, in order, if
    /// `derived` needed them read (none otherwise). On failure, tells what
    /// [`Partition::write_attempt`] tells.
    pub(crate) fn write_batch_attempt(
        &self,
        writes: &[KeyWrite],
        derived: &dyn DerivedWrites,
    ) -> std::result::Result<Vec<Option<Item>>, WriteFailure> {
        let mut lock = self.lock_pending();
        self.check_gate()?;
        let mut notes = Vec::new();
        let mut replaced = Vec::new();
        let writes = if derived.needs_old() {
            let mut all = Vec::with_capacity(writes.len() * 2);
            for (key, item) in writes {
                let key = MemKey::new(key.clone());
                let old = self.current(&lock, &key).map_err(WriteFailure::before_log)?;
                let mut extra = Vec::new();
                derived.derive(old.as_ref(), item.as_ref(), &mut extra);
                if let Some(note) = derived.note(old.as_ref()) {
                    notes.push((key.bytes.clone(), encode(&note).to_vec()));
                }
                all.push((key, item.as_ref().map(encode)));
                all.extend(encode_writes(extra));
                replaced.push(old);
            }
            all
        } else {
            writes
                .iter()
                .map(|(key, item)| (MemKey::new(key.clone()), item.as_ref().map(encode)))
                .collect()
        };
        let lsn = self
            .wal
            .enqueue(self.epoch(), &encode_batch(&writes, &notes))
            .map_err(|error| self.failure(error.into(), None))?;
        let written = if self.apply_on_enqueue {
            self.apply_versions(writes.into_iter().map(|(key, value)| (key, Version { lsn, value })));
            drop(lock);
            self.commit_buffered(lsn)
        } else {
            let in_flight = lock.enqueued(lsn, writes);
            drop(lock);
            self.complete(in_flight)
        };
        written
            .map(|()| replaced)
            .map_err(|error| self.failure(error, Some((lsn, None))))
    }

    /// Keeps every record from `lsn` on in the log (flushes truncate nothing at or after
    /// it): the global index applier has not durably applied them, and may read them from
    /// this copy should it become the primary.
    pub(crate) fn hold_log_from(&self, lsn: Lsn) {
        self.index_hold.store(lsn.0, Ordering::Release);
    }

    /// Stops all background writing to the partition's files, waiting for a flush or
    /// compaction in progress: its table is being deleted, and nothing may write into the
    /// directory once it is removed. Writers stalled waiting for background work go on.
    pub fn retire(&self) {
        // Set first, so that a merge under way stops early (it checks as it goes) rather
        // than running to its end while a failover waits; the locks then wait for whatever
        // is still writing.
        self.retired.store(true, Ordering::Relaxed);
        drop(self.compacting.lock());
        drop(self.manifest.lock());
        // Writers stalled for a flush or a merge that will never come stop waiting.
        self.wake_writers();
    }
}

impl Drop for Partition {
    fn drop(&mut self) {
        // Its memtable leaves the database-wide total with it.
        if let Some(signal) = &self.flush_signal {
            signal.memtables_grew(-(self.memtable_bytes() as isize));
        }
    }
}

/// Opens the log in `wal_dir` and replays into a new memtable every record after the
/// tables' flushed LSN; returns the log, the memtable and its size.
///
/// Errors: [`Error::Wal`]; [`Error::Corruption`] for a record that passes its checksum
/// but does not decode, or a log that does not reach back to the first record the tables
/// lack.
fn replay_log(
    fs: &SharedFs,
    wal_dir: &Path,
    wal_options: WalOptions,
    manifest: &Manifest,
) -> Result<(Wal, Memtable, usize)> {
    let mut memtable = Memtable::new();
    let mut memtable_bytes = 0;
    let mut bad_record = None;
    let replay_from = Lsn(manifest.flushed_lsn + 1);
    let (wal, _report) = Wal::open_and_replay(
        fs.clone(),
        wal_dir,
        wal_options,
        replay_from,
        |frame| match decode_writes(frame.payload) {
            Ok(writes) => {
                for (key, value) in writes {
                    let version = Version {
                        lsn: frame.lsn,
                        value: value.map(Arc::from),
                    };
                    memtable_bytes += memtable::apply(&mut memtable, MemKey::new(key.to_vec()), version).unwrap_or(0);
                }
            }
            Err(reason) => {
                bad_record.get_or_insert((frame.lsn, reason));
            }
        },
    )?;
    if let Some((lsn, reason)) = bad_record {
        return Err(Error::Corruption {
            file: wal_dir.to_path_buf(),
            offset: lsn.0,
            reason: format!("WAL record at LSN {lsn} does not decode: {reason}"),
        });
    }
    // The log must reach back to the first record the tables do not hold (a copy whose
    // seeding was cut short has a log but no MANIFEST yet).
    if wal.first_lsn() > replay_from {
        return Err(Error::Corruption {
            file: wal_dir.to_path_buf(),
            offset: 0,
            reason: format!(
                "the log starts at LSN {} but the tables hold only up to {}",
                wal.first_lsn(),
                manifest.flushed_lsn
            ),
        });
    }
    Ok((wal, memtable, memtable_bytes))
}

/// Deletes SSTable files the MANIFEST does not list: a crash between writing a table and
/// recording it leaves them.
fn remove_orphan_tables(fs: &dyn dynastore_wal::fs::FileSystem, dir: &Path, manifest: &Manifest) -> Result<()> {
    let sst_dir = dir.join("sst");
    if !fs.exists(&sst_dir).map_err(io_error("checking", &sst_dir))? {
        return Ok(());
    }
    let mut removed = false;
    for name in fs.read_dir(&sst_dir).map_err(io_error("listing", &sst_dir))? {
        let listed = parse_table_name(&name).is_some_and(|n| manifest.tables.iter().any(|t| t.number == n));
        if !listed {
            let path = sst_dir.join(&name);
            fs.remove_file(&path).map_err(io_error("removing", &path))?;
            removed = true;
        }
    }
    if removed {
        fs.sync_dir(&sst_dir).map_err(io_error("syncing", &sst_dir))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
