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
//! no version is ever applied behind a newer one, is [`crate::write_order`]'s.
//!
//! # Flush
//!
//! A flush first *freezes* the memtable: new writers wait while every write in flight
//! finishes (every write, not only one per key), then the memtable is set aside and an
//! empty one takes writes. So every version in a frozen memtable (and in an SSTable) is
//! older than every write after the freeze, and the frozen memtable holds every write up
//! to the WAL's last LSN at that moment, its *covered* LSN. The frozen memtable is written
//! to an SSTable (synced, with its directory), the MANIFEST records the table and the
//! covered LSN as the flushed LSN (atomically), and only then are WAL segments wholly at
//! or below that LSN deleted. Recovery opens the MANIFEST's tables, deletes table files it
//! does not list (a crash between writing a table and recording it), and replays the WAL
//! after the flushed LSN.
//!
//! Reads look at the memtable, then the frozen memtables and the SSTables, newest first;
//! the first version found wins, and a tombstone hides everything older. Memtables hold
//! items encoded (the item codec), as SSTables do; a read decodes only the version it
//! returns.
//!
//! # Compaction
//!
//! [`crate::compaction`] picks which contiguous stretch of the (newest-first) table list
//! to merge. The merge runs under the partition's compaction lock only, so flushes go on;
//! they only add level-0 tables in front, so the stretch stays contiguous and the output
//! takes its place. The MANIFEST records the output before the inputs are deleted, so a
//! crash leaves either set, whole. File numbers are never reused, even after a failure (a
//! MANIFEST save that reported an error may still have landed).
//!
//! # Record format (version 1), the WAL payload of one write
//!
//! ```text
//! op u8 (1 = put, 2 = delete) | key_len u32 LE | storage key | item (put only; item codec)
//! op u8 (3 = batch) | count u32 LE | count × (write_len u32 LE | a put or delete as above)
//! ```
//!
//! A batch record carries several writes of one partition, so recovery keeps all of them
//! or none (BatchWriteItem never half-applies within a partition).

use crate::compaction::{self, CompactionStyle, Job, LEVEL0_TABLES_STOP, LEVEL0_TABLES_TRIGGER, TableShape};
use crate::error::{Error, Result, io_error};
use crate::flush_signal::FlushSignal;
use crate::item::Item;
use crate::item::codec::decode_item;
use crate::manifest::{Manifest, TableFile, parse_table_name, table_path};
use crate::memtable::{self, Encoded, MemKey, Memtable, Version, encode};
use crate::sstable::{SsTable, SsTableWriter, bloom};
use crate::write_order::{InFlight, WriteLock, WriteOrder};
use dynastore_replication::{AckError, AckMode};
use dynastore_wal::fs::SharedFs;
use dynastore_wal::{Epoch, Lsn, Wal, WalOptions};
use parking_lot::{Mutex, RwLock};
use std::borrow::Cow;

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

const OP_PUT: u8 = 1;
const OP_DELETE: u8 = 2;
const OP_BATCH: u8 = 3;

/// One write to one key: its storage key and the new item, or `None` to delete it.
pub(crate) type KeyWrite = (Vec<u8>, Option<Item>);

/// A live SSTable with its MANIFEST entry's number and level.
#[derive(Debug, Clone)]
struct LiveTable {
    number: u64,
    level: u32,
    table: Arc<SsTable>,
}

/// A frozen memtable, with the WAL's last LSN when it was frozen (every write up to it is
/// in there) and that record's epoch.
type Frozen = (Arc<Memtable>, Lsn, Epoch);

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

/// How a primary gets its records to its replicas: implemented by the replication group
/// (the shipper), so that a storage copy asks for shipping without knowing who ships.
pub(crate) trait Shipping: Send + Sync + std::fmt::Debug {
    /// Has record `lsn` shipped and waits until the replicas `mode` counts hold it, at
    /// most `timeout`.
    ///
    /// Errors: [`AckError`] (too few replicas, timed out, the primary failed).
    fn acknowledge(&self, lsn: Lsn, mode: AckMode, timeout: std::time::Duration) -> std::result::Result<(), AckError>;
    /// Asks for shipping soon, without waiting.
    fn wake(&self);
}

/// How a primary waits for its replicas before acknowledging a write.
#[derive(Debug)]
pub(crate) struct AckWait {
    /// The replicas' durable LSNs, updated by the shipper.
    pub acks: Arc<dynastore_replication::Acks>,
    /// How many replicas must hold a record.
    pub mode: dynastore_replication::AckMode,
    /// How long a writer waits for them before failing.
    pub timeout: std::time::Duration,
    /// How far (in records) they may lag before `Buffered` writers wait for them.
    pub max_lag_records: u64,
    /// Ships records to the replicas.
    pub shipping: Arc<dyn Shipping>,
}

/// Why a write attempt failed, with what the engine needs to retry it after a failover.
#[derive(Debug)]
pub(crate) struct WriteFailure {
    /// What went wrong.
    pub error: Error,
    /// The record's LSN and the item it replaced, if the record made it into the log.
    pub enqueued: Option<(Lsn, Option<Item>)>,
    /// Whether the partition was deposed (or its log failed): a new primary may take the
    /// write.
    pub primary_lost: bool,
    /// Whether the write was turned away, unlogged, while a promotion hands the primary's
    /// history over: it is to be retried once the promotion is done (or abandoned).
    pub handing_over: bool,
}

impl WriteFailure {
    fn before_log(error: Error) -> WriteFailure {
        WriteFailure {
            error,
            enqueued: None,
            primary_lost: false,
            handing_over: false,
        }
    }
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
    /// them (see [`crate::write_order`]). Taken before `state` wherever both are.
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
    /// As a primary with replicas: how writers wait for them.
    ack_wait: RwLock<Option<Arc<AckWait>>>,
    /// Set when a replica took over as primary: the last LSN of this partition's history
    /// the new primary holds. Nothing more is written here.
    /// (`NOT_DEPOSED` until then: an atomic, as every write checks it.)
    deposed: AtomicU64,
    /// Set while a promotion hands this primary's history over: new writes are turned
    /// away (to retry on whichever copy ends up primary).
    handing_over: AtomicBool,
    /// The first LSN each copy being seeded from this partition needs from its log: no
    /// flush drops them until the copy is in service (see [`Partition::seed_copy`]).
    log_holds: Mutex<Vec<Lsn>>,
    /// Points where tests hold a thread to force an interleaving.
    #[cfg(test)]
    hooks: tests::Hooks,
}

/// Keeps a partition's log from dropping records from an LSN on while it lives (a copy
/// being seeded needs them; see [`Partition::seed_copy`]).
struct LogHold<'a> {
    partition: &'a Partition,
    from: Lsn,
}

impl<'a> LogHold<'a> {
    fn new(partition: &'a Partition, from: Lsn) -> LogHold<'a> {
        partition.log_holds.lock().push(from);
        LogHold { partition, from }
    }
}

impl Drop for LogHold<'_> {
    fn drop(&mut self) {
        let mut holds = self.partition.log_holds.lock();
        if let Some(index) = holds.iter().position(|&held| held == self.from) {
            holds.swap_remove(index);
        }
    }
}

/// A partition's numbers, for `stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionStats {
    /// Entries in the memtable and frozen memtables (tombstones included).
    pub memtable_entries: u64,
    /// The memtable's approximate size.
    pub memtable_bytes: u64,
    /// Frozen memtables waiting to be written.
    pub frozen_memtables: u64,
    /// Live SSTables as `(level, entries, tombstones, file bytes)`, newest first.
    pub tables: Vec<(u32, u64, u64, u64)>,
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

/// `Partition::deposed` of a partition no replica took over from.
const NOT_DEPOSED: u64 = u64::MAX;
/// A merge looks this often (in entries) whether its partition was retired meanwhile.
const RETIRED_CHECK_ENTRIES: u64 = 4096;
/// Writers wait (a write stall) while this many frozen memtables wait to be flushed.
const FROZEN_MEMTABLES_MAX: usize = 2;
fn encode_record(key: &[u8], value: Option<&[u8]>) -> Vec<u8> {
    let mut record = Vec::with_capacity(1 + 4 + key.len() + value.map_or(0, <[u8]>::len));
    record.push(if value.is_some() { OP_PUT } else { OP_DELETE });
    record.extend_from_slice(&(key.len() as u32).to_le_bytes());
    record.extend_from_slice(key);
    if let Some(value) = value {
        record.extend_from_slice(value);
    }
    record
}

fn encode_batch(writes: &[(MemKey, Option<Encoded>)]) -> Vec<u8> {
    let mut record = vec![OP_BATCH];
    record.extend_from_slice(&(writes.len() as u32).to_le_bytes());
    for (key, value) in writes {
        let write = encode_record(&key.bytes, value.as_deref());
        record.extend_from_slice(&(write.len() as u32).to_le_bytes());
        record.extend_from_slice(&write);
    }
    record
}

/// One write as a record holds it: the storage key and the encoded item, or `None`.
type RecordWrite<'a> = (&'a [u8], Option<&'a [u8]>);

/// Decodes a record into its writes (one, or several for a batch), checking that every
/// item decodes.
fn decode_writes(bytes: &[u8]) -> std::result::Result<Vec<RecordWrite<'_>>, String> {
    if bytes.first() != Some(&OP_BATCH) {
        return Ok(vec![decode_record(bytes)?]);
    }
    let u32_at = |at: usize| -> std::result::Result<usize, String> {
        let b: [u8; 4] = bytes
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .ok_or("batch record cut short")?;
        Ok(u32::from_le_bytes(b) as usize)
    };
    let count = u32_at(1)?;
    let mut pos = 5;
    let mut writes = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let len = u32_at(pos)?;
        let write = bytes.get(pos + 4..pos + 4 + len).ok_or("batch record cut in a write")?;
        writes.push(decode_record(write)?);
        pos += 4 + len;
    }
    if pos != bytes.len() {
        return Err("trailing bytes after a batch".into());
    }
    Ok(writes)
}

fn decode_record(bytes: &[u8]) -> std::result::Result<RecordWrite<'_>, String> {
    let (&op, rest) = bytes.split_first().ok_or("empty record")?;
    let len_bytes: [u8; 4] = rest
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or("record cut in its key length")?;
    let len = u32::from_le_bytes(len_bytes) as usize;
    let key = rest.get(4..4 + len).ok_or("record cut in its key")?;
    let body = &rest[4 + len..];
    match op {
        OP_PUT => {
            decode_item(body).map_err(|e| e.to_string())?;
            Ok((key, Some(body)))
        }
        OP_DELETE if body.is_empty() => Ok((key, None)),
        _ => Err(format!("unknown record operation {op}")),
    }
}

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
        let wal_dir = dir.join("wal");
        let mut memtable = Memtable::new();
        let mut memtable_bytes = 0;
        let mut bad_record = None;
        let replay_from = Lsn(manifest.flushed_lsn + 1);
        let (wal, _report) =
            Wal::open_and_replay(
                fs.clone(),
                &wal_dir,
                wal_options,
                replay_from,
                |frame| match decode_writes(frame.payload) {
                    Ok(writes) => {
                        for (key, value) in writes {
                            let version = Version {
                                lsn: frame.lsn,
                                value: value.map(Arc::from),
                            };
                            memtable_bytes +=
                                memtable::apply(&mut memtable, MemKey::new(key.to_vec()), version).unwrap_or(0);
                        }
                    }
                    Err(reason) => {
                        bad_record.get_or_insert((frame.lsn, reason));
                    }
                },
            )?;
        if let Some((lsn, reason)) = bad_record {
            return Err(Error::Corruption {
                file: wal_dir,
                offset: lsn.0,
                reason: format!("WAL record at LSN {lsn} does not decode: {reason}"),
            });
        }
        // The log must reach back to the first record the tables do not hold (a copy
        // whose seeding was cut short has a log but no MANIFEST yet).
        if wal.first_lsn() > replay_from {
            return Err(Error::Corruption {
                file: wal_dir,
                offset: 0,
                reason: format!(
                    "the log starts at LSN {} but the tables hold only up to {}",
                    wal.first_lsn(),
                    manifest.flushed_lsn
                ),
            });
        }
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
            apply_on_enqueue: matches!(wal_options.durability, dynastore_wal::Durability::Buffered { .. }),
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
            #[cfg(test)]
            hooks: tests::Hooks::default(),
            epoch: AtomicU64::new(options.epoch.0),
            epoch_first_lsn: AtomicU64::new(options.epoch_first_lsn.0),
            applied_lsn,
            ack_wait: RwLock::new(None),
            deposed: AtomicU64::new(NOT_DEPOSED),
            handing_over: AtomicBool::new(false),
        })
        .inspect(|partition: &Partition| {
            if let Some(signal) = &partition.flush_signal {
                signal.memtables_grew(partition.memtable_bytes() as isize);
            }
        })
    }

    /// The partition's numbers.
    ///
    /// Errors: [`Error::Wal`] if the WAL's files cannot be read.
    pub fn stats(&self) -> Result<PartitionStats> {
        let state = self.state.read();
        let tables = state
            .tables
            .iter()
            .map(|live| {
                let properties = live.table.properties();
                (
                    live.level,
                    properties.entries,
                    properties.tombstones,
                    live.table.file_bytes(),
                )
            })
            .collect();
        Ok(PartitionStats {
            memtable_entries: (state.memtable.len() + state.frozen.iter().map(|(f, ..)| f.len()).sum::<usize>()) as u64,
            memtable_bytes: self.memtable_bytes.load(Ordering::Relaxed) as u64,
            frozen_memtables: state.frozen.len() as u64,
            tables,
            wal_segments: self.wal.segments().len() as u64,
            wal_bytes: self.wal.size_bytes()?,
            flushed_lsn: self.manifest_flushed_lsn.load(Ordering::Relaxed),
            durable_lsn: self.wal.durable_lsn().0,
            flushes: self.flushes.load(Ordering::Relaxed),
            compactions: self.compactions.load(Ordering::Relaxed),
            flushed_bytes: self.flushed_bytes.load(Ordering::Relaxed),
            compacted_bytes: self.compacted_bytes.load(Ordering::Relaxed),
            write_stalls: self.stalls.load(Ordering::Relaxed),
        })
    }

    /// Whether the memtable passed its budget or frozen memtables wait to be written.
    pub fn needs_flush(&self) -> bool {
        self.memtable_bytes.load(Ordering::Relaxed) > self.memtable_bytes_max || !self.state.read().frozen.is_empty()
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

    /// The acknowledged item under `key`, if any.
    ///
    /// Errors: [`Error::Corruption`] if an SSTable that must be read is damaged.
    pub fn get(&self, key: Vec<u8>) -> Result<Option<Item>> {
        self.get_key(&MemKey::new(key))
    }

    fn get_key(&self, key: &MemKey) -> Result<Option<Item>> {
        let state = self.state.read();
        let in_memory = std::iter::once(&state.memtable).chain(state.frozen.iter().map(|(frozen, ..)| &**frozen));
        for memtable in in_memory {
            if let Some(version) = memtable.get(key) {
                return version.value.as_deref().map(decode_in_memory).transpose();
            }
        }
        if state.tables.is_empty() {
            return Ok(None);
        }
        let hash = bloom::hash(&key.bytes);
        for LiveTable { table, .. } in &state.tables {
            match table.lookup(&key.bytes, hash)? {
                Some(Some(bytes)) => return decode_stored(table.path(), bytes).map(Some),
                Some(None) => return Ok(None),
                None => {}
            }
        }
        Ok(None)
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
        self.write_attempt(key, read_old, compute)
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
        compute: impl FnOnce(Option<&Item>) -> Result<Option<Item>>,
    ) -> std::result::Result<Option<Item>, WriteFailure> {
        let key = MemKey::new(key);
        let mut lock = self.lock_pending();
        self.check_primary()?;
        let old = match lock.newest(&key) {
            _ if !read_old => None,
            Some(version) => version
                .value
                .as_deref()
                .map(decode_in_memory)
                .transpose()
                .map_err(WriteFailure::before_log)?,
            None => self.get_key(&key).map_err(WriteFailure::before_log)?,
        };
        let new = compute(old.as_ref())
            .map_err(WriteFailure::before_log)?
            .as_ref()
            .map(encode);
        let lsn = self
            .wal
            .enqueue(self.epoch(), &encode_record(&key.bytes, new.as_deref()))
            .map_err(|error| self.failure(error.into(), None))?;
        let written = if self.apply_on_enqueue {
            self.apply_versions([(key, Version { lsn, value: new })]);
            drop(lock);
            self.commit_buffered(lsn)
        } else {
            let in_flight = lock.enqueued(lsn, vec![(key, new)]);
            drop(lock);
            self.complete(in_flight)
        };
        match written {
            Ok(()) => Ok(old),
            Err(error) => Err(self.failure(error, Some((lsn, old)))),
        }
    }

    /// Waits for a `Sync` write's record to be durable and acknowledged by the replicas as
    /// the ack mode asks, then finishes it (see [`crate::write_order`]): a durable record
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

    /// Takes a replica copy out of service for good (its AZ failed, or it is being
    /// reopened): its log is fenced and no flush or compaction writes to its files.
    pub(crate) fn close_copy(&self) {
        // Marked retired before the fence, so that a flush or merge under way that fails
        // on the fenced log finds the copy out of service (see `Partition::flush`).
        self.retired.store(true, Ordering::Relaxed);
        self.wal.fence("the copy was taken out of service");
        self.retire();
    }

    /// Whether the partition was taken out of service: retired (a replica copy closed, or
    /// its table deleted) or deposed. Its log may be fenced, so a flush or merge under way
    /// fails; it need not succeed, as the files are reopened or discarded. Both marks
    /// are set before the log is fenced, so a failure caused by the fence sees them.
    fn out_of_service(&self) -> bool {
        self.retired.load(Ordering::Relaxed) || self.deposed_at().is_some()
    }

    /// Builds a copy of this partition in `dir` (a new or rebuilt replica), then runs
    /// `open` on it. Whatever `dir` held is removed; this partition's live SSTables are
    /// linked there (hard links, sharing the bytes), or copied where the file system
    /// cannot link them (each AZ on a device of its own); then its log is begun empty
    /// right after the flushed LSN, then the MANIFEST is written (a copy cut short before
    /// it has a log starting past its tables, which opening refuses).
    ///
    /// This partition's MANIFEST lock is held only while the tables are chosen and
    /// opened (an open file keeps its bytes through a compaction that deletes it), not
    /// while the copy's disk is written, so that a slow or hung replica disk holds up no
    /// flush here. A hold on this log keeps the records the copy needs until `open` has
    /// run (and put the copy in service, where shipping keeps them).
    ///
    /// Errors: [`Error::Io`], [`Error::Wal`], and `open`'s.
    pub(crate) fn seed_copy<R>(&self, dir: &Path, open: impl FnOnce(&Path) -> Result<R>) -> Result<R> {
        let fs = self.fs.as_ref();
        let (mut manifest, tables, _hold) = {
            let manifest = self.manifest.lock();
            let mut tables = Vec::with_capacity(manifest.tables.len());
            for file in &manifest.tables {
                let path = table_path(&self.dir, file.number);
                let handle = fs.open(&path).map_err(io_error("opening", &path))?;
                tables.push((path, file.number, handle));
            }
            let hold = LogHold::new(self, Lsn(manifest.flushed_lsn + 1));
            (manifest.clone(), tables, hold)
        };
        if fs.exists(dir).map_err(io_error("checking", dir))? {
            dynastore_wal::fs::remove_tree(fs, dir).map_err(io_error("removing", dir))?;
        }
        let sst = dir.join("sst");
        dynastore_wal::fs::create_dir_durable(fs, &sst).map_err(io_error("creating", &sst))?;
        for (from, number, handle) in &tables {
            let to = table_path(dir, *number);
            // Linking fails across devices, and once a compaction deleted the table: its
            // bytes are then copied from the open file.
            if fs.hard_link(from, &to).is_err() {
                dynastore_wal::fs::copy_file(fs, handle.as_ref(), &to).map_err(io_error("copying to", &to))?;
            }
        }
        fs.sync_dir(&sst).map_err(io_error("syncing", &sst))?;
        let wal_dir = dir.join("wal");
        dynastore_wal::fs::create_dir_durable(fs, &wal_dir).map_err(io_error("creating", &wal_dir))?;
        dynastore_wal::segment::create_segment(fs, &wal_dir, Lsn(manifest.flushed_lsn + 1))?;
        manifest.next_file_number = manifest.next_file_number.max(1);
        manifest.save(fs, dir)?;
        open(dir)
    }

    /// The epoch this partition's records carry.
    pub fn epoch(&self) -> Epoch {
        Epoch(self.epoch.load(Ordering::Relaxed))
    }

    /// Moves the partition to a newer epoch whose primary began writing at `first_lsn` (a
    /// promotion): as a primary its records carry it; as a replica it refuses, from
    /// `first_lsn` on, shipped records of older epochs (a deposed primary's).
    pub fn set_epoch(&self, epoch: Epoch, first_lsn: Lsn) {
        if self.epoch.fetch_max(epoch.0, Ordering::Relaxed) < epoch.0 {
            self.epoch_first_lsn.store(first_lsn.0, Ordering::Relaxed);
        }
    }

    /// Makes writers wait for `wait`'s replicas (or, with `None`, for none) before a write
    /// is acknowledged, and keeps in the log every record a live replica still lacks.
    pub(crate) fn set_ack_wait(&self, wait: Option<Arc<AckWait>>) {
        *self.ack_wait.write() = wait;
    }

    /// Deposes this primary: a replica holding its history up to `last_lsn` took over.
    /// Writes in flight fail (their callers retry on the new primary, or succeed if their
    /// record is at or before `last_lsn`), the log is fenced so nothing more reaches its
    /// files, and background flushes and compactions stop.
    pub(crate) fn depose(&self, last_lsn: Lsn) {
        self.deposed.store(last_lsn.0, Ordering::Release);
        self.wal
            .fence("the partition was deposed: a replica took over as primary");
        if let Some(wait) = self.ack_wait.read().as_ref() {
            wait.acks.fail_all("the primary was deposed");
        }
        self.retire();
    }

    /// The last LSN of this partition's history a new primary took over, if it was deposed.
    pub(crate) fn deposed_at(&self) -> Option<Lsn> {
        match self.deposed.load(Ordering::Acquire) {
            NOT_DEPOSED => None,
            lsn => Some(Lsn(lsn)),
        }
    }

    /// Turns new writes away while a promotion hands this primary's history over (they
    /// retry on whichever copy ends up primary); writes already in the log finish. Called
    /// with the write lock taken, so no write is between its check and its record.
    pub(crate) fn stop_writes(&self) {
        self.order
            .serialized(|| self.handing_over.store(true, Ordering::Release));
    }

    /// Undoes [`Partition::stop_writes`] (a promotion that could not go on).
    pub(crate) fn resume_writes(&self) {
        self.handing_over.store(false, Ordering::Release);
    }

    fn check_primary(&self) -> std::result::Result<(), WriteFailure> {
        let deposed = self.deposed_at().is_some();
        let handing_over = self.handing_over.load(Ordering::Acquire);
        if !deposed && !handing_over {
            return Ok(());
        }
        Err(WriteFailure {
            error: Error::Wal(dynastore_wal::Error::Poisoned {
                cause: "the partition was deposed: a replica took over as primary".into(),
            }),
            enqueued: None,
            primary_lost: deposed,
            handing_over: !deposed,
        })
    }

    /// A failure after the record was enqueued: the primary counts as lost if its log
    /// failed or it was deposed meanwhile.
    fn failure(&self, error: Error, enqueued: Option<(Lsn, Option<Item>)>) -> WriteFailure {
        let primary_lost = matches!(
            error,
            Error::Wal(_) | Error::Replication(dynastore_replication::AckError::PrimaryFailed { .. })
        ) || self.deposed_at().is_some();
        WriteFailure {
            error,
            enqueued,
            primary_lost,
            handing_over: false,
        }
    }

    /// Waits until the replicas acknowledge record `lsn` as the ack mode asks (at once
    /// without replicas).
    pub(crate) fn await_replicas(&self, lsn: Lsn) -> Result<()> {
        let Some(wait) = self.ack_wait.read().clone() else {
            return Ok(());
        };
        wait.shipping
            .acknowledge(lsn, wait.mode, wait.timeout)
            .map_err(Error::Replication)
    }

    /// Holds a `Buffered` write (record `lsn`, applied) back while the replicas the ack
    /// mode counts lag it by more than `max_lag_records`: a write stall that keeps the
    /// lag bounded when writers outrun shipping (a `Sync` write waits for its own
    /// acknowledgements instead). Nothing is held back without replicas, in `Primary`
    /// mode, or when no replica could catch up (too few are live, or the primary
    /// failed): waiting would not help, and repair and failover are the next write's.
    ///
    /// Errors: [`Error::Replication`] ([`AckError::TimedOut`]) if they stay out of reach
    /// for the acknowledgement timeout; the record stays in the log's history, applied,
    /// as a `Sync` write's whose acknowledgements time out.
    fn keep_replicas_within_reach(&self, lsn: Lsn) -> Result<()> {
        let (wait, within) = {
            let guard = self.ack_wait.read();
            let Some(wait) = guard.as_ref() else {
                return Ok(());
            };
            // There is no record 0: the first `max_lag_records` writes have nothing to
            // wait for, even while the replicas are still joining.
            let Some(within) = lsn.0.checked_sub(wait.max_lag_records).filter(|&within| within > 0) else {
                return Ok(());
            };
            if wait.mode == AckMode::Primary || wait.acks.acknowledged(Lsn(within), wait.mode) {
                return Ok(());
            }
            (Arc::clone(wait), Lsn(within))
        };
        self.stalls.fetch_add(1, Ordering::Relaxed);
        // The scanning thread queues lagging replicas every few milliseconds; now is sooner.
        wait.shipping.wake();
        match wait.acks.wait(within, wait.mode, wait.timeout) {
            Err(error @ AckError::TimedOut { .. }) => Err(Error::Replication(error)),
            Ok(()) | Err(AckError::NotEnoughReplicas { .. } | AckError::PrimaryFailed { .. }) => Ok(()),
        }
    }

    /// Writes several items (or deletions) under distinct keys as one WAL record: after a
    /// crash all of them are there or none. On failure, tells what
    /// [`Partition::write_attempt`] tells.
    pub(crate) fn write_batch_attempt(&self, writes: Vec<KeyWrite>) -> std::result::Result<(), WriteFailure> {
        let writes: Vec<(MemKey, Option<Encoded>)> = writes
            .into_iter()
            .map(|(key, item)| (MemKey::new(key), item.as_ref().map(encode)))
            .collect();
        let mut lock = self.lock_pending();
        self.check_primary()?;
        let lsn = self
            .wal
            .enqueue(self.epoch(), &encode_batch(&writes))
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
        written.map_err(|error| self.failure(error, Some((lsn, None))))
    }

    /// Visits acknowledged items with keys in `(lower, upper)`, in key order or reversed,
    /// until `visit` returns false, merging the memtable, frozen memtables and SSTables
    /// (newest version wins; tombstones hide older versions). The read state is locked
    /// meanwhile, so callers keep the visit short (a page).
    ///
    /// Errors: [`Error::Corruption`] if an SSTable is damaged.
    pub fn visit_range(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        reverse: bool,
        mut visit: impl FnMut(&[u8], &Item) -> bool,
    ) -> Result<()> {
        let state = self.state.read();
        if let ([LiveTable { table, .. }], true, true) =
            (&state.tables[..], state.memtable.is_empty(), state.frozen.is_empty())
        {
            // One table and nothing in memory, as after a compaction: nothing to merge, so
            // read it in place, decoding only the items visited.
            let mut failure = None;
            table.range(lower, upper, reverse).visit(|key, value| {
                let Some(value) = value else { return true };
                match decode_stored(table.path(), value) {
                    Ok(item) => visit(key, &item),
                    Err(error) => {
                        failure = Some(error);
                        false
                    }
                }
            })?;
            return failure.map_or(Ok(()), Err);
        }
        let owned = |bound: Bound<&[u8]>| match bound {
            Bound::Included(key) => Bound::Included(MemKey::new(key.to_vec())),
            Bound::Excluded(key) => Bound::Excluded(MemKey::new(key.to_vec())),
            Bound::Unbounded => Bound::Unbounded,
        };
        let mut sources: Vec<(Source<'_>, Option<&Path>)> = vec![(
            memtable_source(&state.memtable, owned(lower), owned(upper), reverse),
            None,
        )];
        for (frozen, ..) in &state.frozen {
            sources.push((memtable_source(frozen, owned(lower), owned(upper), reverse), None));
        }
        for LiveTable { table, .. } in &state.tables {
            let entries = table
                .range(lower, upper, reverse)
                .raw()
                .map(|entry| entry.map(|(key, value)| (Cow::Owned(key), value)));
            sources.push((Box::new(entries), Some(table.path())));
        }
        merge(sources, reverse, |key, item| visit(key, item))
    }

    /// Makes every write so far durable in this copy's log (for `Buffered` durability).
    pub fn sync(&self) -> Result<()> {
        self.wal.sync()?;
        Ok(())
    }

    /// [`Partition::sync`], then waits until the replicas acknowledge every write so far
    /// as the ack mode asks (see [`Partition::await_replicas`]): what `Database::sync`
    /// promises a `Buffered` writer. On failure, tells what [`Partition::write_attempt`]
    /// tells, with the last record so far as the one enqueued: a failover that handed it
    /// over lost none of them.
    pub(crate) fn sync_attempt(&self) -> std::result::Result<(), WriteFailure> {
        let last = self.wal.last_lsn();
        let acknowledged = self
            .wal
            .sync()
            .map_err(Error::from)
            .and_then(|_| self.await_replicas(last));
        acknowledged.map_err(|error| self.failure(error, Some((last, None))))
    }

    /// Flushes the memtable to an SSTable (see the module docs), then drops the WAL
    /// segments it covers. Writers wait only while the memtable is frozen, not while the
    /// table is written.
    ///
    /// Errors: [`Error::Io`], [`Error::Wal`]; after an error the frozen memtable stays
    /// readable and the next flush writes it. None once the partition is out of service
    /// (a flush under way when a replica copy is closed or a primary deposed fails on
    /// the fenced log: nothing is lost, the files are reopened or discarded), so that
    /// `Database::flush` does not fail over a copy a repair or failover replaced.
    pub fn flush(&self) -> Result<()> {
        match self.flush_frozen() {
            Err(_) if self.out_of_service() => Ok(()),
            outcome => outcome,
        }
    }

    /// [`Partition::flush`], whatever happened to the partition meanwhile.
    fn flush_frozen(&self) -> Result<()> {
        if self.retired.load(Ordering::Relaxed) {
            return Ok(());
        }
        // Frozen before the MANIFEST's lock is taken: the freeze waits for the writes in
        // flight, which may wait for replicas that are being seeded from this partition's
        // tables, under that lock (`seed_copy`). Frozen under it, a flush of a new
        // partition held every write to it for the acknowledgement timeout and failed it.
        // Concurrent flushes may each freeze; the first to take the lock writes every
        // frozen memtable, oldest first.
        self.freeze();
        let mut manifest = self.manifest.lock();
        if self.retired.load(Ordering::Relaxed) {
            return Ok(());
        }
        loop {
            let Some((frozen, covered, covered_epoch)) = self.state.read().frozen.last().cloned() else {
                return Ok(());
            };
            // A number is never used twice, even after a failure: a MANIFEST whose save
            // reported an error may still have landed and list the table.
            let number = manifest.next_file_number.max(1);
            manifest.next_file_number = number + 1;
            let table = self.write_table(number, &frozen)?;
            let mut next = manifest.clone();
            next.flushed_lsn = next.flushed_lsn.max(covered.0);
            next.flushed_epoch = next.flushed_epoch.max(covered_epoch.0);
            let properties = table.properties();
            next.tables.insert(
                0,
                TableFile {
                    number,
                    level: 0,
                    min_lsn: properties.min_lsn,
                    max_lsn: properties.max_lsn,
                },
            );
            // The log must hold every record the MANIFEST will say the tables cover before
            // it says so: a `Buffered` log may not have synced them yet, and if power failed
            // it would recover to an earlier LSN and hand the covered LSNs to new writes,
            // which replay (starting past the flushed LSN) would then skip.
            self.wal.sync()?;
            next.save(self.fs.as_ref(), &self.dir)?;
            self.manifest_flushed_lsn.store(next.flushed_lsn, Ordering::Relaxed);
            *manifest = next;
            self.flushed_bytes.fetch_add(table.file_bytes(), Ordering::Relaxed);
            {
                let mut state = self.state.write();
                state.frozen.pop();
                state.tables.insert(
                    0,
                    LiveTable {
                        number,
                        level: 0,
                        table,
                    },
                );
            }
            self.wake_writers();
            self.flushes.fetch_add(1, Ordering::Relaxed);
            if let Some(signal) = &self.flush_signal {
                signal.request_compaction();
            }
            // Start a new segment if the newest one holds only flushed records, so that
            // the log keeps nothing the tables cover.
            if self.wal.last_lsn() == covered {
                self.wal.rotate()?;
            }
            self.wal.truncate_before(self.retain_from(covered.next()))?;
        }
    }

    /// The oldest LSN the log must keep, given that the tables cover everything before
    /// `flushed_next`: a live replica still to be shipped records holds it back, and so
    /// does a copy being seeded.
    fn retain_from(&self, flushed_next: Lsn) -> Lsn {
        let shipped = self
            .ack_wait
            .read()
            .as_ref()
            .and_then(|wait| wait.acks.min_live_durable());
        let held = self.log_holds.lock().iter().min().copied();
        [shipped.map(Lsn::next), held]
            .into_iter()
            .flatten()
            .fold(flushed_next, Lsn::min)
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

    /// Does the next merge the compaction policy asks for, if any (see
    /// [`crate::compaction`]); returns whether there was one. Flushes go on meanwhile.
    ///
    /// Errors: [`Error::Io`], [`Error::Corruption`]; on error the old tables stay live.
    pub fn compact_step(&self) -> Result<bool> {
        let style = self.compaction_style;
        let level1_bytes = (self.memtable_bytes_max * LEVEL0_TABLES_TRIGGER) as u64;
        self.run_compaction(|shapes| compaction::pick(style, shapes, level1_bytes))
    }

    /// Merges all of the partition's SSTables into one run at the deepest level, dropping
    /// every tombstone (a major compaction). Flushes go on meanwhile; a table flushed
    /// during the merge stays in front of the result.
    ///
    /// Errors: [`Error::Io`], [`Error::Corruption`]; on error the old tables stay live.
    pub fn compact_all(&self) -> Result<()> {
        self.run_compaction(compaction::pick_all).map(drop)
    }

    /// Runs the merge `pick` chooses from the tables' shapes. The merge itself holds only
    /// the compaction lock. Flushes meanwhile only add level-0 tables in front, so the
    /// inputs stay a contiguous run of the MANIFEST's list, and the output takes their
    /// place there; the MANIFEST records it before the inputs are deleted, so a crash at
    /// any point leaves either the old tables or the new one, whole.
    ///
    /// Once the partition is out of service, a merge stops (see `merge_tables`) and
    /// reports no merge rather than an error, as [`Partition::flush`] does.
    fn run_compaction(&self, pick: impl FnOnce(&[TableShape]) -> Option<Job>) -> Result<bool> {
        match self.run_merge(pick) {
            Err(_) if self.out_of_service() => Ok(false),
            outcome => outcome,
        }
    }

    /// [`Partition::run_compaction`], whatever happened to the partition meanwhile.
    fn run_merge(&self, pick: impl FnOnce(&[TableShape]) -> Option<Job>) -> Result<bool> {
        let _compacting = self.compacting.lock();
        if self.retired.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let (job, inputs) = {
            let state = self.state.read();
            let Some(job) = pick(&state.table_shapes()) else {
                return Ok(false);
            };
            // The policy only names stretches of the list it was given; anything else is
            // no merge at all.
            let Some(inputs) = state.tables.get(job.inputs.clone()).filter(|inputs| !inputs.is_empty()) else {
                return Ok(false);
            };
            (job, inputs.to_vec())
        };
        let first = inputs[0].clone();
        let output = if job.is_move {
            first.clone()
        } else {
            let number = {
                let mut manifest = self.manifest.lock();
                let number = manifest.next_file_number.max(1);
                manifest.next_file_number = number + 1;
                number
            };
            let table = self
                .merge_tables(number, &inputs, job.drop_tombstones)
                .inspect_err(|_| {
                    self.remove_unrecorded(number);
                })?;
            self.compacted_bytes.fetch_add(table.file_bytes(), Ordering::Relaxed);
            LiveTable {
                number,
                level: 0,
                table,
            }
        };
        let output = LiveTable {
            level: job.output_level,
            ..output
        };
        let mut manifest = self.manifest.lock();
        let start = manifest.tables.iter().position(|t| t.number == first.number);
        let Some(start) = start.filter(|&start| {
            let live = &manifest.tables[start..];
            live.len() >= inputs.len()
                && live
                    .iter()
                    .zip(&inputs)
                    .all(|(file, input)| file.number == input.number)
        }) else {
            // Only this function removes tables, under the compaction lock: a bug.
            return Err(Error::Corruption {
                file: self.dir.join(crate::manifest::MANIFEST_FILE),
                offset: 0,
                reason: "compaction inputs are no longer live tables".into(),
            });
        };
        let replaced = start..start + inputs.len();
        let properties = output.table.properties();
        let mut next = manifest.clone();
        next.tables.splice(
            replaced.clone(),
            [TableFile {
                number: output.number,
                level: output.level,
                min_lsn: properties.min_lsn,
                max_lsn: properties.max_lsn,
            }],
        );
        // On failure the output stays: the save may have landed (the next open removes
        // it if not), and its number is never reused.
        next.save(self.fs.as_ref(), &self.dir)?;
        *manifest = next;
        self.state.write().tables.splice(replaced, [output]);
        drop(manifest);
        self.compactions.fetch_add(1, Ordering::Relaxed);
        self.wake_writers();
        if job.is_move {
            return Ok(true);
        }
        // Readers still holding an old table keep reading it (an unlinked file stays
        // readable); new reads use the output.
        let fs = self.fs.as_ref();
        for input in &inputs {
            let path = table_path(&self.dir, input.number);
            fs.remove_file(&path).map_err(io_error("removing", &path))?;
        }
        let sst_dir = self.dir.join("sst");
        fs.sync_dir(&sst_dir).map_err(io_error("syncing", &sst_dir))?;
        Ok(true)
    }

    /// Writes SSTable `number` holding the newest entry of every key of `inputs` (given
    /// newest first), without tombstones if `drop_tombstones`, durably, and opens it.
    /// Entries are copied as stored, not decoded.
    fn merge_tables(&self, number: u64, inputs: &[LiveTable], drop_tombstones: bool) -> Result<Arc<SsTable>> {
        let fs = self.fs.as_ref();
        let path = self.fresh_table_path(number)?;
        let min_lsn = inputs.iter().map(|t| t.table.properties().min_lsn).min().unwrap_or(0);
        let max_lsn = inputs.iter().map(|t| t.table.properties().max_lsn).max().unwrap_or(0);
        let mut writer = SsTableWriter::create(fs, &path)?;
        let mut sources: Vec<_> = inputs
            .iter()
            .map(|t| t.table.iter_from(Bound::Unbounded).raw())
            .collect();
        let mut heads = sources
            .iter_mut()
            .map(|source| source.next().transpose())
            .collect::<Result<Vec<_>>>()?;
        for merged in 0u64.. {
            // A retired partition (deposed, or its table deleted) takes no new table: stop
            // rather than finish a merge nobody will install.
            if merged % RETIRED_CHECK_ENTRIES == 0 && self.retired.load(Ordering::Relaxed) {
                return Err(Error::Io {
                    op: "merging tables into",
                    path,
                    source: std::io::Error::other("the partition was retired during the merge"),
                });
            }
            // The smallest key; on a tie the newest source, which comes first.
            let mut best: Option<usize> = None;
            for (i, head) in heads.iter().enumerate() {
                let Some((key, _)) = head else { continue };
                let smaller = match best.and_then(|b| heads[b].as_ref()) {
                    None => true,
                    Some((best_key, _)) => key < best_key,
                };
                if smaller {
                    best = Some(i);
                }
            }
            let Some((key, value)) = best.and_then(|b| heads[b].take()) else {
                break;
            };
            // Older versions of the key are shadowed.
            for (head, source) in heads.iter_mut().zip(sources.iter_mut()) {
                if head.as_ref().is_none_or(|(other, _)| *other == key) {
                    *head = source.next().transpose()?;
                }
            }
            if !(drop_tombstones && value.is_none()) {
                writer.add_raw(&key, value, max_lsn)?;
            }
        }
        writer.set_lsn_range(min_lsn, max_lsn);
        writer.finish()?;
        let sst_dir = self.dir.join("sst");
        fs.sync_dir(&sst_dir).map_err(io_error("syncing", &sst_dir))?;
        Ok(Arc::new(SsTable::open(fs, &path)?))
    }

    /// The path for new SSTable `number`, its directory created. A file already there is
    /// one an earlier, failed flush or compaction wrote but never recorded: nothing
    /// refers to it.
    fn fresh_table_path(&self, number: u64) -> Result<PathBuf> {
        let fs = self.fs.as_ref();
        let path = table_path(&self.dir, number);
        let sst_dir = self.dir.join("sst");
        dynastore_wal::fs::create_dir_durable(fs, &sst_dir).map_err(io_error("creating", &sst_dir))?;
        if fs.exists(&path).map_err(io_error("checking", &path))? {
            fs.remove_file(&path).map_err(io_error("removing", &path))?;
        }
        Ok(path)
    }

    /// Removes SSTable `number` after a failure while writing it (before any MANIFEST
    /// could list it). Best effort: if this fails too, the next open removes the orphan.
    fn remove_unrecorded(&self, number: u64) {
        let _ = self.fs.remove_file(&table_path(&self.dir, number));
    }

    /// Sets the memtable aside once no write is between enqueue and apply.
    fn freeze(&self) {
        self.order.freeze(|| {
            let mut state = self.state.write();
            if !state.memtable.is_empty() {
                let frozen = Arc::new(std::mem::take(&mut state.memtable));
                // No write is in flight, so the frozen memtable holds every record up to
                // the log's last. The covered record's epoch: the epoch of the copy's
                // history up to here, which a rejoining copy needs once its log no longer
                // holds any record.
                state
                    .frozen
                    .insert(0, (frozen, self.wal.last_lsn(), self.wal.last_epoch()));
            }
            let released = self.memtable_bytes.swap(0, Ordering::Relaxed);
            if let Some(signal) = &self.flush_signal {
                signal.memtables_grew(-(released as isize));
            }
            self.flush_requested.store(false, Ordering::Relaxed);
        });
    }

    /// Writes a frozen memtable as SSTable `number`, durably, and opens it.
    fn write_table(&self, number: u64, frozen: &Memtable) -> Result<Arc<SsTable>> {
        let fs = self.fs.as_ref();
        let path = self.fresh_table_path(number)?;
        let written = (|| {
            let mut writer = SsTableWriter::create(fs, &path)?;
            for (key, version) in frozen {
                writer.add_raw(&key.bytes, version.value.as_deref(), version.lsn.0)?;
            }
            writer.finish()?;
            let sst_dir = self.dir.join("sst");
            fs.sync_dir(&sst_dir).map_err(io_error("syncing", &sst_dir))?;
            SsTable::open(fs, &path)
        })();
        written.map(Arc::new).inspect_err(|_| self.remove_unrecorded(number))
    }
}

/// A partition is also a replica: it takes records shipped from its primary's log, byte
/// for byte, into its own log and applies them to its memtable, then flushes and compacts
/// them as its own writes.
impl dynastore_replication::ReplicaSink for Partition {
    /// Checks that every record decodes before any lands; appends them durably (a log
    /// refuses records that do not continue it or come from an older epoch); applies them.
    fn append_framed(&self, segment: Lsn, bytes: &[u8], on_durable: &mut dyn FnMut(Lsn)) -> dynastore_wal::Result<Lsn> {
        let mut records = Vec::new();
        let mut pos = 0;
        while pos < bytes.len() {
            let frame =
                dynastore_wal::record::decode(&bytes[pos..]).map_err(|e| dynastore_wal::Error::InvalidFrame {
                    offset: pos,
                    reason: e.to_string(),
                })?;
            let writes = decode_writes(frame.payload).map_err(|reason| dynastore_wal::Error::InvalidFrame {
                offset: pos,
                reason: format!("record {} does not decode: {reason}", frame.lsn),
            })?;
            // Fencing: once this replica moved to a newer epoch (a promotion), a deposed
            // primary's records are refused even where its own log would take them.
            if frame.epoch < self.epoch() && frame.lsn.0 >= self.epoch_first_lsn.load(Ordering::Relaxed) {
                return Err(dynastore_wal::Error::EpochRegressed {
                    epoch: frame.epoch,
                    last: self.epoch(),
                });
            }
            records.push((frame.lsn, writes));
            pos += frame.framed_len();
        }
        // Under the write lock, as a local write: a flush's freeze sees the log and the
        // memtable agree.
        let lock = self.lock_pending();
        let last = self.wal.append_framed(segment, bytes)?;
        self.wal.sync()?;
        // Acknowledged before it is applied: readers of this copy go by `applied_lsn`, and
        // a promotion waits for this shipment, apply included.
        on_durable(last);
        self.apply_versions(records.into_iter().flat_map(|(lsn, writes)| {
            writes.into_iter().map(move |(key, value)| {
                let value = value.map(Arc::from);
                (MemKey::new(key.to_vec()), Version { lsn, value })
            })
        }));
        self.applied_lsn.fetch_max(last.0, Ordering::AcqRel);
        drop(lock);
        Ok(last)
    }

    fn durable_lsn(&self) -> Lsn {
        self.wal.durable_lsn()
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

/// One ordered source of a merged range read: keys with their encoded item, or `None`
/// for a tombstone.
type Source<'a> = Box<dyn Iterator<Item = Result<(Cow<'a, [u8]>, Option<&'a [u8]>)>> + 'a>;

/// A memtable's versions between two bounds as a merge source.
fn memtable_source<'a>(map: &'a Memtable, lower: Bound<MemKey>, upper: Bound<MemKey>, reverse: bool) -> Source<'a> {
    let entries = map
        .range((lower, upper))
        .map(|(key, version)| Ok((Cow::Borrowed(key.bytes.as_slice()), version.value.as_deref())));
    if reverse {
        Box::new(entries.rev())
    } else {
        Box::new(entries)
    }
}

/// Merges sources given newest first, each with its file (`None`: a memtable): for each
/// key, in order (or reversed), the version of the newest source holding it, decoded;
/// tombstones and shadowed versions are skipped without decoding.
fn merge(
    mut sources: Vec<(Source<'_>, Option<&Path>)>,
    reverse: bool,
    mut visit: impl FnMut(&[u8], &Item) -> bool,
) -> Result<()> {
    let mut heads = Vec::with_capacity(sources.len());
    for (source, _) in &mut sources {
        heads.push(source.next().transpose()?);
    }
    loop {
        let mut best: Option<usize> = None;
        for (i, head) in heads.iter().enumerate() {
            let Some((key, _)) = head else { continue };
            let better = match best.and_then(|b| heads[b].as_ref()) {
                None => true,
                Some((best_key, _)) => {
                    if reverse {
                        key.as_ref() > best_key.as_ref()
                    } else {
                        key.as_ref() < best_key.as_ref()
                    }
                }
            };
            if better {
                best = Some(i);
            }
        }
        let Some(best) = best else { return Ok(()) };
        let Some((key, value)) = heads[best].take() else {
            return Ok(());
        };
        // Older sources' versions of the same key are shadowed: skip them.
        for i in 0..heads.len() {
            let same = heads[i]
                .as_ref()
                .is_some_and(|(other, _)| other.as_ref() == key.as_ref());
            if i == best || same {
                heads[i] = sources[i].0.next().transpose()?;
            }
        }
        if let Some(value) = value {
            let item = match sources[best].1 {
                Some(file) => decode_stored(file, value)?,
                None => decode_in_memory(value)?,
            };
            if !visit(&key, &item) {
                return Ok(());
            }
        }
    }
}

/// Decodes an item stored in SSTable `file`; a value that does not decode is corruption.
fn decode_stored(file: &Path, bytes: &[u8]) -> Result<Item> {
    decode_item(bytes).map_err(|e| Error::Corruption {
        file: file.to_path_buf(),
        offset: 0,
        reason: format!("stored item does not decode: {e}"),
    })
}

/// Decodes an item of a memtable. Only this process encoded it (or recovery checked it),
/// so a failure is a bug, reported rather than served.
fn decode_in_memory(bytes: &[u8]) -> Result<Item> {
    decode_item(bytes).map_err(|e| Error::Corruption {
        file: PathBuf::from("<memtable>"),
        offset: 0,
        reason: format!("an item in memory does not decode: {e}"),
    })
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
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// What a test runs at [`Hooks::before_apply`]: given a write's LSN, once its record
    /// is durable and acknowledged and before it is applied.
    type BeforeApply = Box<dyn Fn(Lsn) + Send + Sync>;

    /// Points where a test holds a thread of the partition's, to force an interleaving.
    #[derive(Default)]
    pub(super) struct Hooks {
        before_apply: Mutex<Option<Arc<BeforeApply>>>,
    }

    impl std::fmt::Debug for Hooks {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Hooks")
        }
    }

    impl Hooks {
        pub(super) fn before_apply(&self, lsn: Lsn) {
            let hook = self.before_apply.lock().clone();
            if let Some(hook) = hook {
                hook(lsn);
            }
        }

        fn set_before_apply(&self, hook: impl Fn(Lsn) + Send + Sync + 'static) {
            *self.before_apply.lock() = Some(Arc::new(Box::new(hook)));
        }
    }

    fn tiny() -> PartitionOptions {
        PartitionOptions {
            wal: WalOptions::default(),
            memtable_bytes_max: 1024,
            compaction: CompactionStyle::default(),
            auto_compaction: true,
            epoch: Epoch(1),
            epoch_first_lsn: Lsn(1),
        }
    }

    #[test]
    fn a_retired_partition_writes_no_table() {
        let fs = dynastore_wal::fs::FaultyFs::new();
        let dir = Path::new("/data/az-a/T/p-0000");
        let partition = Partition::open(fs.shared(), dir, tiny(), None).unwrap();
        for i in 0..20u8 {
            partition
                .write(vec![i; 12], false, |_| Ok(Some(Item::new().with("a", i64::from(i)))))
                .unwrap();
        }
        partition.retire();
        partition.flush().unwrap();
        partition.compact_all().unwrap();
        use dynastore_wal::fs::FileSystem;
        assert!(!fs.exists(&dir.join("sst")).unwrap(), "no table written after retire");
        assert!(!fs.exists(&dir.join("MANIFEST")).unwrap());
        // Without retire the same partition would flush.
        let other = Path::new("/data/az-a/T/p-0001");
        let live = Partition::open(fs.shared(), other, tiny(), None).unwrap();
        live.write(vec![1; 12], false, |_| Ok(Some(Item::new().with("a", 1))))
            .unwrap();
        live.flush().unwrap();
        assert!(fs.exists(&other.join("MANIFEST")).unwrap());
    }

    /// A writer stalled because flushing fell behind goes on once the partition is retired
    /// (deposed by a failover, or its table deleted): no flush will ever come. This hung a
    /// writer of a deposed primary for good (the quorum failover test, in one of the first
    /// few looped runs).
    #[test]
    fn a_writer_stalled_for_a_flush_goes_on_once_its_partition_is_retired() {
        let fs = dynastore_wal::fs::FaultyFs::new();
        let dir = Path::new("/data/az-a/T/p-0000");
        // A flush signal no flusher listens to: nothing flushes unless asked here.
        let partition = Arc::new(Partition::open(fs.shared(), dir, tiny(), Some(FlushSignal::default())).unwrap());
        for round in 0..FROZEN_MEMTABLES_MAX as u8 {
            partition
                .write(vec![round; 12], false, |_| Ok(Some(Item::new().with("a", 1))))
                .unwrap();
            partition.freeze();
        }
        assert!(partition.behind());
        let (sender, receiver) = std::sync::mpsc::channel();
        let writer = {
            let partition = Arc::clone(&partition);
            std::thread::spawn(move || {
                let written = partition.write(vec![9; 12], false, |_| Ok(Some(Item::new().with("a", 9))));
                sender.send(written.is_ok()).unwrap();
            })
        };
        // Stalled: behind, with nobody to flush.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while partition.stalls.load(Ordering::Relaxed) == 0 {
            assert!(std::time::Instant::now() < deadline, "the writer never stalled");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert!(receiver.try_recv().is_err(), "a stalled write finished");
        partition.retire();
        assert_eq!(
            receiver.recv_timeout(std::time::Duration::from_secs(30)),
            Ok(true),
            "the writer still waits"
        );
        writer.join().unwrap();
        assert_eq!(partition.get(vec![9; 12]).unwrap(), Some(Item::new().with("a", 9)));
    }

    /// A flush under way when its copy is taken out of service (a repair reopening it, or
    /// its AZ failing) fails on the fenced log, and reports no error: `Database::flush`
    /// failed over a copy a repair replaced (the replicated model test, about 1 run in 6).
    #[test]
    fn a_flush_under_way_when_its_copy_is_closed_reports_no_error() {
        let faulty = dynastore_wal::fs::FaultyFs::new();
        let gated = dynastore_wal::fs::GatedFs::new(faulty.shared(), |path| {
            path.extension().is_some_and(|extension| extension == "sst")
        });
        let gate = gated.gate();
        let fs: SharedFs = Arc::new(gated);
        let dir = Path::new("/data/az-b/T/p-0000");
        let copy = Arc::new(Partition::open(fs, dir, tiny(), None).unwrap());
        for i in 0..20u8 {
            copy.write(vec![i; 12], false, |_| Ok(Some(Item::new().with("a", 1))))
                .unwrap();
        }
        gate.close();
        let flushing = {
            let copy = Arc::clone(&copy);
            std::thread::spawn(move || copy.flush())
        };
        // The flush holds the MANIFEST's lock, syncing its table at the closed gate.
        assert!(
            gate.await_waiter(std::time::Duration::from_secs(30)),
            "the flush never synced its table"
        );
        let closing = {
            let copy = Arc::clone(&copy);
            std::thread::spawn(move || copy.close_copy())
        };
        // The log is fenced at once; retiring waits for the flush.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while copy.wal.poisoned().is_none() {
            assert!(std::time::Instant::now() < deadline, "the copy's log was never fenced");
            std::thread::yield_now();
        }
        gate.open();
        let flushed = flushing.join().unwrap();
        assert!(flushed.is_ok(), "{flushed:?}");
        closing.join().unwrap();
        assert!(!gate.gave_up());
        assert!(copy.out_of_service());
    }

    /// The number under attribute `n` of an item, 0 without one.
    fn count(item: Option<&Item>) -> i64 {
        match item.and_then(|item| item.get("n")) {
            Some(crate::item::AttributeValue::N(n)) => n.to_string().parse().unwrap_or(-1),
            _ => 0,
        }
    }

    /// Issue 24's interleaving, forced. Writer A of a key is held between its log append
    /// and its apply; writer B of the same key enqueues after it and finishes; a flush
    /// freezes the memtable; A is released. A freeze that waited only while some *key* had
    /// a write pending set the memtable aside with B's version as soon as B finished (B's
    /// entry had replaced A's), and A then applied its older version to the new memtable,
    /// where it shadowed B's: B's acknowledged update was lost, and the next flush made
    /// that permanent. The freeze must wait for A. With `read_old`, B increments what A
    /// wrote (a counter, read-modify-write); without, both are blind puts.
    fn held_older_write_outlives_no_newer_one(read_old: bool) {
        let fs = dynastore_wal::fs::FaultyFs::new();
        let dir = Path::new("/data/az-a/T/p-0000");
        let partition = Arc::new(Partition::open(fs.shared(), dir, tiny(), None).unwrap());
        let key = || vec![7u8; 12];
        let (reached, release) = (
            Arc::new(std::sync::Barrier::new(2)),
            Arc::new(std::sync::Barrier::new(2)),
        );
        let held = Arc::new(AtomicBool::new(false));
        {
            let (reached, release, held) = (Arc::clone(&reached), Arc::clone(&release), Arc::clone(&held));
            // The first write to get there (A) waits, once.
            partition.hooks.set_before_apply(move |_| {
                if !held.swap(true, Ordering::SeqCst) {
                    reached.wait();
                    release.wait();
                }
            });
        }
        let write = move |partition: &Partition, blind: i64| {
            partition
                .write(key(), read_old, |old| {
                    let n = if read_old { count(old) + 1 } else { blind };
                    Ok(Some(Item::new().with("n", n)))
                })
                .unwrap();
        };
        let writer_a = {
            let partition = Arc::clone(&partition);
            std::thread::spawn(move || write(&partition, 1))
        };
        reached.wait();
        write(&partition, 2);
        let flusher = {
            let partition = Arc::clone(&partition);
            std::thread::spawn(move || partition.flush().unwrap())
        };
        // Release A once the freeze is waiting for it (or, were it not to wait, is over).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !partition.order.freezing() && !flusher.is_finished() {
            assert!(std::time::Instant::now() < deadline, "the flush never froze");
            std::thread::yield_now();
        }
        release.wait();
        writer_a.join().unwrap();
        flusher.join().unwrap();
        let newest = Some(Item::new().with("n", 2));
        assert_eq!(partition.get(key()).unwrap(), newest, "the newer write was shadowed");
        partition.flush().unwrap();
        assert_eq!(partition.get(key()).unwrap(), newest, "lost once flushed");
        drop(partition);
        let reopened = Partition::open(fs.shared(), dir, tiny(), None).unwrap();
        assert_eq!(reopened.get(key()).unwrap(), newest, "lost after a reopen");
    }

    #[test]
    fn a_freeze_waits_for_an_older_read_modify_write_of_a_key_whose_newer_one_finished() {
        held_older_write_outlives_no_newer_one(true);
    }

    #[test]
    fn a_freeze_waits_for_an_older_blind_put_of_a_key_whose_newer_one_finished() {
        held_older_write_outlives_no_newer_one(false);
    }

    /// Concurrent blind puts of a few keys, with flushes all along. Each writer reads its
    /// key right after its put is acknowledged: the version it reads must be its own or a
    /// newer one (by LSN, read back from the log, which a hold keeps whole), so a newer
    /// version shadowed even for a moment is caught. Afterwards each key holds its put
    /// with the highest LSN, before and after a reopen. On a real disk: fsyncs keep
    /// several writes of one key in flight at once, finishing in any order.
    #[test]
    fn concurrent_blind_puts_with_flushes_never_show_an_older_put_than_the_newest_acknowledged() {
        const THREADS: u64 = 4;
        const PUTS: u64 = 1500;
        const KEYS: u64 = 2;
        let tmp = tempfile::tempdir().unwrap();
        let fs = dynastore_wal::fs::StdFs::shared();
        let dir = tmp.path();
        let partition = Arc::new(Partition::open(fs.clone(), dir, tiny(), None).unwrap());
        let key = |k: u64| vec![k as u8; 12];
        let hold = LogHold::new(&partition, Lsn(1));
        let done = Arc::new(AtomicBool::new(false));
        let flusher = {
            let (partition, done) = (Arc::clone(&partition), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut flushes = 0u64;
                while !done.load(Ordering::Relaxed) {
                    partition.flush().unwrap();
                    flushes += 1;
                }
                flushes
            })
        };
        let value_of = |item: Option<Item>| match item.as_ref().and_then(|item| item.get("v")) {
            Some(crate::item::AttributeValue::N(n)) => n.to_string().parse::<i64>().unwrap(),
            other => panic!("no value: {other:?}"),
        };
        // Per writer: (the value it put, the value it read right after).
        let writers: Vec<_> = (0..THREADS)
            .map(|thread| {
                let partition = Arc::clone(&partition);
                std::thread::spawn(move || {
                    let mut seen = Vec::with_capacity(PUTS as usize);
                    for i in 0..PUTS {
                        let value = (thread * PUTS + i) as i64;
                        let k = key(i % KEYS);
                        partition
                            .write(k.clone(), false, |_| Ok(Some(Item::new().with("v", value))))
                            .unwrap();
                        seen.push((value, value_of(partition.get(k).unwrap())));
                    }
                    seen
                })
            })
            .collect();
        let seen: Vec<(i64, i64)> = writers.into_iter().flat_map(|w| w.join().unwrap()).collect();
        done.store(true, Ordering::Relaxed);
        let flushes = flusher.join().unwrap();
        assert!(flushes > 1, "the writes raced no flush");
        let mut lsn_of = HashMap::new();
        let mut newest = std::collections::BTreeMap::new();
        for record in partition.wal.read_from(Lsn(1)).unwrap() {
            let record = record.unwrap();
            for (key, value) in decode_writes(&record.payload).unwrap() {
                let item = value.map(|bytes| decode_in_memory(bytes).unwrap());
                lsn_of.insert(value_of(item.clone()), record.lsn);
                newest.insert(key.to_vec(), item);
            }
        }
        for (written, read) in seen {
            assert!(
                lsn_of[&read] >= lsn_of[&written],
                "put {written} (at {}) was acknowledged, then a read showed {read} (at {})",
                lsn_of[&written],
                lsn_of[&read]
            );
        }
        assert_eq!(newest.len() as u64, KEYS);
        for (key, item) in &newest {
            assert_eq!(&partition.get(key.clone()).unwrap(), item, "key {key:?}");
        }
        drop(hold);
        drop(partition);
        let reopened = Partition::open(fs, dir, tiny(), None).unwrap();
        for (key, item) in &newest {
            assert_eq!(&reopened.get(key.clone()).unwrap(), item, "key {key:?} after a reopen");
        }
    }

    /// A flush whose freeze waits for a write in flight must not keep a copy from being
    /// seeded from the partition: the write may be waiting for that very copy to
    /// acknowledge it. The freeze ran under the MANIFEST's lock, which seeding takes, so
    /// every first write to a new replicated partition that raced a flush waited out the
    /// acknowledgement timeout and failed (the blind-put stress test, 1 run in 4).
    #[test]
    fn a_copy_is_seeded_while_a_flush_waits_for_a_write_in_flight() {
        let fs = dynastore_wal::fs::FaultyFs::new();
        let partition = Arc::new(Partition::open(fs.shared(), Path::new("/data/az-a/T/p-0000"), tiny(), None).unwrap());
        let (reached, release) = (
            Arc::new(std::sync::Barrier::new(2)),
            Arc::new(std::sync::Barrier::new(2)),
        );
        {
            let (reached, release) = (Arc::clone(&reached), Arc::clone(&release));
            partition.hooks.set_before_apply(move |_| {
                reached.wait();
                release.wait();
            });
        }
        let writer = {
            let partition = Arc::clone(&partition);
            std::thread::spawn(move || {
                partition
                    .write(vec![1; 12], false, |_| Ok(Some(Item::new().with("v", 1))))
                    .unwrap()
            })
        };
        reached.wait();
        let flusher = {
            let partition = Arc::clone(&partition);
            std::thread::spawn(move || partition.flush().unwrap())
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !partition.order.freezing() {
            assert!(std::time::Instant::now() < deadline, "the flush never froze");
            std::thread::yield_now();
        }
        let (sender, seeded) = std::sync::mpsc::channel();
        let seeder = {
            let (partition, fs) = (Arc::clone(&partition), fs.shared());
            std::thread::spawn(move || {
                let copy = partition.seed_copy(Path::new("/data/az-b/T/p-0000"), |dir| {
                    Partition::open(fs, dir, tiny(), None)
                });
                sender.send(copy.is_ok()).unwrap();
            })
        };
        let outcome = seeded.recv_timeout(std::time::Duration::from_secs(10));
        release.wait();
        assert_eq!(outcome, Ok(true), "seeding waited for the flush");
        for thread in [writer.join().map(drop), flusher.join(), seeder.join()] {
            thread.unwrap();
        }
        assert_eq!(partition.get(vec![1; 12]).unwrap(), Some(Item::new().with("v", 1)));
    }

    /// Writes `keys` keys (value `a`: 0), flushes, writes them again (`a`: 1), flushes.
    fn two_flushed_tables(partition: &Partition, keys: u8) {
        for round in 0..2u8 {
            for i in 0..keys {
                partition
                    .write(vec![i; 12], false, |_| {
                        Ok(Some(Item::new().with("a", i64::from(round))))
                    })
                    .unwrap();
            }
            partition.flush().unwrap();
        }
    }

    /// A merge (`Database::compact`, or the compactor's) under way when its partition is
    /// taken out of service stops, and reports no merge rather than an error.
    #[test]
    fn a_merge_under_way_when_its_partition_is_retired_reports_no_error() {
        let fs = dynastore_wal::fs::FaultyFs::new();
        let partition = Partition::open(fs.shared(), Path::new("/data/az-b/T/p-0000"), tiny(), None).unwrap();
        two_flushed_tables(&partition, 20);
        // Retired once the merge is chosen, as a repair closing the copy would.
        let merged = partition.run_compaction(|shapes| {
            partition.retired.store(true, Ordering::Relaxed);
            compaction::pick_all(shapes)
        });
        assert!(matches!(merged, Ok(false)), "{merged:?}");
        assert_eq!(partition.state.read().tables.len(), 2, "the tables stay as they were");
    }

    /// A merge under way when its partition is retired stops instead of running to its end.
    #[test]
    fn a_merge_stops_once_its_partition_is_retired() {
        let fs = dynastore_wal::fs::FaultyFs::new();
        let dir = Path::new("/data/az-a/T/p-0000");
        let partition = Partition::open(fs.shared(), dir, tiny(), None).unwrap();
        two_flushed_tables(&partition, 50);
        let inputs = partition.state.read().tables.clone();
        assert_eq!(inputs.len(), 2);
        partition.retire();
        let merged = partition.merge_tables(99, &inputs, true);
        assert!(matches!(merged, Err(Error::Io { .. })), "{merged:?}");
        // The tables it read are untouched.
        assert_eq!(partition.get(vec![7; 12]).unwrap(), Some(Item::new().with("a", 1)));
    }

    /// A copy seeded where the file system cannot hard-link gets copies of the tables,
    /// and while it is being seeded (here: while `open` runs) the primary flushes freely
    /// but keeps every log record the copy will need; once the copy is in place, the
    /// primary's log is cut as usual.
    #[test]
    fn a_copy_being_seeded_gets_the_tables_and_the_log_records_it_needs() {
        let faulty = dynastore_wal::fs::FaultyFs::new();
        let no_links = dynastore_wal::fs::GatedFs::new(faulty.shared(), |_| false).without_hard_links();
        let fs: SharedFs = Arc::new(no_links);
        let primary = Partition::open(fs.clone(), Path::new("/data/az-a/T/p-0000"), tiny(), None).unwrap();
        let put = |i: u8, version: i64| {
            primary
                .write(vec![i; 12], false, |_| Ok(Some(Item::new().with("v", version))))
                .unwrap();
        };
        (0..20).for_each(|i| put(i, 1));
        primary.flush().unwrap();
        let needed = Lsn(primary.flushed_lsn() + 1);
        assert_eq!(primary.wal.first_lsn(), needed, "the flush cut the log");
        let copy_dir = Path::new("/data/az-b/T/p-0000");
        let copy = primary
            .seed_copy(copy_dir, |dir| {
                // The primary is not locked: it flushes while the copy is being set up...
                (0..20).for_each(|i| put(i, 2));
                primary.flush().unwrap();
                // ...and keeps the records after the tables the copy got.
                assert!(primary.wal.first_lsn() <= needed, "{:?}", primary.wal.first_lsn());
                Partition::open(fs.clone(), dir, tiny(), None)
            })
            .unwrap();
        assert_eq!(copy.stats().unwrap().tables.len(), 1);
        assert_eq!(copy.flushed_lsn(), needed.0 - 1);
        let table = crate::manifest::table_path(copy_dir, copy.state.read().tables[0].number);
        let original = crate::manifest::table_path(&primary.dir, copy.state.read().tables[0].number);
        assert_eq!(
            dynastore_wal::fs::read_file(fs.as_ref(), &table).unwrap(),
            dynastore_wal::fs::read_file(fs.as_ref(), &original).unwrap()
        );
        for i in 0..20u8 {
            assert_eq!(
                copy.get(vec![i; 12]).unwrap(),
                Some(Item::new().with("v", 1)),
                "key {i}"
            );
        }
        assert!(fs.exists(&copy_dir.join("MANIFEST")).unwrap());
        // The hold is gone: the next flush cuts the log past what the copy needed.
        (0..20).for_each(|i| put(i, 3));
        primary.flush().unwrap();
        assert!(primary.wal.first_lsn() > needed);
    }

    /// A partition fed by a ship stream from another holds the same items, keeps them
    /// through its own flush and a reopen, and refuses records that do not decode.
    #[test]
    fn a_replica_partition_applies_what_its_primary_ships() {
        use dynastore_replication::{AckMode, ReplicaSink, ShipStream};
        let fs = dynastore_wal::fs::FaultyFs::new();
        let primary = Partition::open(fs.shared(), Path::new("/data/az-a/T/p-0000"), tiny(), None).unwrap();
        let replica_dir = Path::new("/data/az-b/T/p-0000");
        let replica = Arc::new(Partition::open(fs.shared(), replica_dir, tiny(), None).unwrap());
        let stream = ShipStream::new(
            Arc::clone(&primary.wal),
            vec![Arc::clone(&replica) as Arc<dyn ReplicaSink>],
        );
        let key = |i: u8| vec![i; 12];
        for i in 0..40u8 {
            primary
                .write(key(i % 20), false, |_| Ok(Some(Item::new().with("a", i64::from(i)))))
                .unwrap();
        }
        primary.write(key(3), false, |_| Ok(None)).unwrap();
        while stream.pump(std::time::Duration::from_millis(20)) > 0 {}
        stream
            .acks()
            .wait(primary.wal.last_lsn(), AckMode::All, std::time::Duration::ZERO)
            .unwrap();
        let expected = |i: u8| (i != 3).then(|| Item::new().with("a", i64::from(i) + 20));
        for i in 0..20u8 {
            assert_eq!(replica.get(key(i)).unwrap(), expected(i), "key {i}");
        }
        replica.flush().unwrap();
        assert_eq!(replica.stats().unwrap().tables.len(), 1);
        // Shipping goes on after the replica's own flush (and the rotation it did).
        primary
            .write(key(0), false, |_| Ok(Some(Item::new().with("a", 20))))
            .unwrap();
        assert_eq!(stream.pump(std::time::Duration::from_millis(20)), 1);
        drop(stream);
        drop(replica);
        let reopened = Partition::open(fs.shared(), replica_dir, tiny(), None).unwrap();
        for i in 0..20u8 {
            assert_eq!(reopened.get(key(i)).unwrap(), expected(i), "key {i} after reopen");
        }
        let next = reopened.wal.last_lsn().next();
        let garbage = dynastore_wal::record::frame(next, Epoch(1), b"not a record");
        let mut called = false;
        let refused = ReplicaSink::append_framed(&reopened, next, &garbage, &mut |_| called = true);
        assert!(refused.is_err() && !called, "refused, and never reported durable");
        assert_eq!(reopened.wal.last_lsn().next(), next, "nothing landed");
        // A good record is reported durable before it is applied, then applied.
        let writes = vec![(MemKey::new(key(7).to_vec()), Some(encode(&Item::new().with("a", 77))))];
        let record = dynastore_wal::record::frame(next, Epoch(1), &encode_batch(&writes));
        let mut seen = None;
        let durable = ReplicaSink::append_framed(&reopened, next, &record, &mut |lsn| {
            seen = Some((lsn, reopened.wal.durable_lsn(), reopened.applied_lsn()));
        })
        .unwrap();
        assert_eq!(durable, next);
        assert_eq!(seen, Some((next, next, next.prev())), "durable, not yet applied");
        assert_eq!(reopened.applied_lsn(), next);
        assert_eq!(reopened.get(key(7)).unwrap(), Some(Item::new().with("a", 77)));
    }

    #[test]
    fn batch_records_round_trip_and_refuse_damage() {
        let item = Item::new().with("a", 1);
        let writes = vec![
            (MemKey::new(b"key-one".to_vec()), Some(encode(&item))),
            (MemKey::new(b"key-two".to_vec()), None),
        ];
        let record = encode_batch(&writes);
        let decoded = decode_writes(&record).unwrap();
        assert_eq!(decoded.len(), 2);
        assert_eq!(decoded[0].0, b"key-one");
        assert_eq!(decoded[0].1.map(|bytes| decode_item(bytes).unwrap()), Some(item));
        assert_eq!(decoded[1], (&b"key-two"[..], None));
        for cut in 0..record.len() {
            assert!(decode_writes(&record[..cut]).is_err(), "cut at {cut}");
        }
    }
}
