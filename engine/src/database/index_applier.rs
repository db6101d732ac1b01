//! The global index applier: a background thread that follows every table partition's
//! log (as the replication shipper does) and turns each record into writes to the table's
//! global indexes, using what the record notes of the items it replaced (see
//! [`crate::index::global`]).
//!
//! It applies a record only once it is durable on the partition's primary; index writes
//! are idempotent in log order (a record applied twice leaves what applying it once
//! does, once the later records are applied again too), so after a crash the applier
//! simply starts again from the last point it recorded. That point is kept per table
//! partition in the CATALOG (each global index's `applied`), written only once the index
//! writes up to it are durable; every copy of the partition keeps its log from there on
//! ([`Partition::hold_log_from`]), so the records are still there after a restart or on a
//! promoted replica.

use super::*;
use crate::index::entry::{StoredKey, classify};
use crate::index::global::index_writes;
use crate::item::codec::decode_item;
use crate::storage::NoDerivedWrites;
use crate::storage::record::decode_with_notes;
use dynastore_wal::{Lsn, TailChunk, Tailer};
use std::collections::BTreeMap;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the applier records how far it got (and makes the index writes up to there
/// durable first, under `Buffered` durability).
const RECORD_EVERY: Duration = Duration::from_millis(100);

/// How long the applier sleeps when no log has a record for it (this bounds the lag it
/// adds), and when no table has a global index.
const IDLE_WAIT: Duration = Duration::from_millis(1);
const NOTHING_TO_FOLLOW_WAIT: Duration = Duration::from_millis(20);

/// What the applier thread and the database share.
#[derive(Debug, Default)]
pub(crate) struct AppliedPositions {
    /// By table name and partition id: the last LSN applied to the indexes (not
    /// necessarily durable yet).
    applied: Mutex<HashMap<(String, u32), u64>>,
}

impl AppliedPositions {
    /// The last LSN of partition `id` of `table` applied to its global indexes.
    pub(crate) fn applied(&self, table: &str, id: u32) -> u64 {
        self.applied.lock().get(&(table.to_owned(), id)).copied().unwrap_or(0)
    }

    fn set(&self, table: &str, id: u32, lsn: u64) {
        self.applied.lock().insert((table.to_owned(), id), lsn);
    }
}

/// The applier thread; dropping it stops and joins it.
#[derive(Debug)]
pub(super) struct IndexApplier {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl IndexApplier {
    /// Starts the thread over the database's `tables`.
    pub(super) fn start(
        tables: Arc<Tables>,
        groups: Arc<GroupContext>,
        positions: Arc<AppliedPositions>,
    ) -> std::io::Result<IndexApplier> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut worker = Worker {
            tables,
            groups,
            positions,
            cursors: HashMap::new(),
            last_recorded: Instant::now(),
        };
        let stopped = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("dynastore-index-applier".into())
            .spawn(move || {
                while !stopped.load(Ordering::Acquire) {
                    match worker.round() {
                        Round::Applied => {}
                        Round::Idle => std::thread::park_timeout(IDLE_WAIT),
                        Round::NothingToFollow => std::thread::park_timeout(NOTHING_TO_FOLLOW_WAIT),
                    }
                }
                // What was applied is recorded on the way out, so a reopen starts there.
                worker.record_all();
            })?;
        Ok(IndexApplier {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for IndexApplier {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// What one pass of the applier found.
enum Round {
    /// Records to apply (there may be more at once).
    Applied,
    /// Tables with global indexes, but no new record.
    Idle,
    /// No table with a global index.
    NothingToFollow,
}

/// Where the applier is in one table partition's log.
struct Cursor {
    /// The table it was opened for (a table deleted and created again is another).
    table: Arc<Table>,
    /// The primary copy whose log it follows.
    primary: Arc<Partition>,
    tailer: Tailer,
    /// A run of records read but not applied yet: not all of them held by a replica.
    pending: Option<TailChunk>,
    /// The last LSN applied, and the last one recorded in the CATALOG.
    applied: u64,
    recorded: u64,
}

struct Worker {
    tables: Arc<Tables>,
    groups: Arc<GroupContext>,
    positions: Arc<AppliedPositions>,
    cursors: HashMap<(String, u32), Cursor>,
    last_recorded: Instant,
}

impl Worker {
    /// One pass over every table partition with global indexes.
    fn round(&mut self) -> Round {
        let tables: Vec<Arc<Table>> = self
            .tables
            .read()
            .values()
            .filter(|table| !table.globals.is_empty())
            .cloned()
            .collect();
        self.cursors.retain(|(name, _), cursor| {
            tables
                .iter()
                .any(|table| Arc::ptr_eq(table, &cursor.table) && *name == table.name)
        });
        let mut worked = false;
        for table in &tables {
            for group in &table.groups {
                worked |= self.follow(table, group);
            }
        }
        if self.last_recorded.elapsed() >= RECORD_EVERY {
            self.record_all();
        }
        match (worked, tables.is_empty()) {
            (true, _) => Round::Applied,
            (false, false) => Round::Idle,
            (false, true) => Round::NothingToFollow,
        }
    }

    /// Applies the next run of durable records of `group`'s primary, if there is one.
    fn follow(&mut self, table: &Arc<Table>, group: &Group) -> bool {
        let Some(primary) = group.open.read().clone() else {
            return false;
        };
        let key = (table.name.clone(), group.id());
        let stale = self
            .cursors
            .get(&key)
            .is_none_or(|cursor| !Arc::ptr_eq(&cursor.primary, &primary));
        if stale {
            // A first look starts from the point last recorded; a new primary (a
            // failover) from the point last applied, which its log goes on from.
            let (from, recorded) = match self.cursors.get(&key) {
                Some(cursor) => (cursor.applied, cursor.recorded),
                None => {
                    let recorded = recorded_lsn(&self.groups.catalog.lock(), &table.name, group.id());
                    (recorded, recorded)
                }
            };
            self.positions.set(&table.name, group.id(), from);
            self.cursors.insert(
                key.clone(),
                Cursor {
                    table: Arc::clone(table),
                    tailer: primary.wal().tail(Lsn(from + 1)),
                    primary,
                    pending: None,
                    applied: from,
                    recorded,
                },
            );
        }
        let Some(cursor) = self.cursors.get_mut(&key) else {
            return false;
        };
        let chunk = match cursor.pending.take() {
            Some(chunk) => chunk,
            None => match cursor.tailer.next_chunk(Duration::ZERO) {
                Ok(Some(chunk)) => chunk,
                Ok(None) => return false,
                Err(_) => {
                    // A log cut back (a failover) or a read error: start again from the
                    // point last applied, on whatever copy is primary then.
                    self.cursors.remove(&key);
                    return false;
                }
            },
        };
        // Only records a failover cannot take back: the index must never hold a write
        // the table loses.
        if cursor
            .primary
            .replicated_through()
            .is_some_and(|held| held < chunk.last_lsn)
        {
            cursor.pending = Some(chunk);
            return false;
        }
        match apply_chunk(&self.groups, table, &chunk) {
            Ok(()) => {
                cursor.applied = chunk.last_lsn.0;
                self.positions.set(&table.name, group.id(), chunk.last_lsn.0);
                true
            }
            Err(_) => {
                // Nothing is recorded past what was applied: the next round starts there.
                let applied = cursor.applied;
                cursor.pending = None;
                cursor.tailer = cursor.primary.wal().tail(Lsn(applied + 1));
                false
            }
        }
    }

    /// Records, for every partition that got further, how far its indexes are applied:
    /// the index writes made durable first, then the CATALOG, then the copies' logs
    /// released up to there.
    fn record_all(&mut self) {
        self.last_recorded = Instant::now();
        let moved: Vec<(String, u32)> = self
            .cursors
            .iter()
            .filter(|(_, cursor)| cursor.applied > cursor.recorded)
            .map(|(key, _)| key.clone())
            .collect();
        if moved.is_empty() {
            return;
        }
        if !matches!(self.groups.options.durability, dynastore_wal::Durability::Sync) {
            for key in &moved {
                let Some(cursor) = self.cursors.get(key) else { continue };
                for index in &cursor.table.globals {
                    for group in &index.groups {
                        if self.groups.sync(group).is_err() {
                            return;
                        }
                    }
                }
            }
        }
        let mut catalog = self.groups.catalog.lock();
        let mut next = catalog.clone();
        for key in &moved {
            let (Some(cursor), Some(entry)) = (self.cursors.get(key), next.tables.get_mut(&key.0)) else {
                continue;
            };
            for index in entry.indexes.iter_mut().filter(|index| index.kind == IndexKind::Global) {
                index.applied.insert(key.1, cursor.applied);
            }
        }
        if next.save(self.groups.fs.as_ref(), &self.groups.dir).is_err() {
            return;
        }
        *catalog = next;
        drop(catalog);
        for key in &moved {
            let Some(cursor) = self.cursors.get_mut(key) else {
                continue;
            };
            cursor.recorded = cursor.applied;
            if let Some(group) = cursor.table.groups.iter().find(|group| group.id() == key.1) {
                for copy in group.copies() {
                    copy.hold_log_from(Lsn(cursor.applied + 1));
                }
            }
        }
    }
}

/// The last LSN of table partition `id` recorded as applied to every global index of
/// `table` (0 if none).
pub(super) fn recorded_lsn(catalog: &Catalog, table: &str, id: u32) -> u64 {
    catalog
        .tables
        .get(table)
        .and_then(|entry| {
            entry
                .indexes
                .iter()
                .filter(|index| index.kind == IndexKind::Global)
                .map(|index| index.applied.get(&id).copied().unwrap_or(0))
                .min()
        })
        .unwrap_or(0)
}

/// Turns a run of a table partition's records into writes to its global indexes: one
/// record per index partition touched, each key's last write.
///
/// Errors: [`Error::Corruption`] for a record that does not decode; what writing to an
/// index partition returns.
fn apply_chunk(groups: &GroupContext, table: &Table, chunk: &TailChunk) -> Result<()> {
    let corrupt = |reason: String| Error::Corruption {
        file: PathBuf::from(format!("{} log, LSN {}", table.name, chunk.first_lsn)),
        offset: 0,
        reason,
    };
    let partition_type = table.key_schema.partition_key.scalar_type;
    let mut batches: Vec<Vec<BTreeMap<Vec<u8>, Option<Item>>>> = table
        .globals
        .iter()
        .map(|index| vec![BTreeMap::new(); index.groups.len()])
        .collect();
    let mut pos = 0;
    while pos < chunk.bytes.len() {
        let frame = dynastore_wal::record::decode(&chunk.bytes[pos..]).map_err(|e| corrupt(e.to_string()))?;
        pos += frame.framed_len();
        let (writes, notes) = decode_with_notes(frame.payload).map_err(corrupt)?;
        for (key, value) in writes {
            if table.index_writes.has_local() && classify(key, partition_type) != StoredKey::Item {
                continue;
            }
            let new = value.map(decode_item).transpose().map_err(|e| corrupt(e.to_string()))?;
            let old = notes
                .iter()
                .find(|(noted, _)| *noted == key)
                .map(|(_, item)| decode_item(item))
                .transpose()
                .map_err(|e| corrupt(e.to_string()))?;
            for (index, slots) in table.globals.iter().zip(&mut batches) {
                for (entry_key, entry) in index_writes(&table.key_schema, &index.schema, old.as_ref(), new.as_ref()) {
                    let hash = hash_of(&entry_key);
                    let slot = index.groups.partition_point(|group| group.range_end < hash);
                    if let Some(writes) = slots.get_mut(slot) {
                        writes.insert(entry_key, entry);
                    }
                }
            }
        }
    }
    for (index, slots) in table.globals.iter().zip(batches) {
        for (group, writes) in index.groups.iter().zip(slots) {
            if !writes.is_empty() {
                let writes: Vec<KeyWrite> = writes.into_iter().collect();
                groups.write_batch(group, &writes, &NoDerivedWrites, true)?;
            }
        }
    }
    Ok(())
}
