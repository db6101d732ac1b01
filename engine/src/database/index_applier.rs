//! The global index applier: a background thread that follows every table partition's
//! log (as the replication shipper does) and turns each record into writes to the table's
//! global indexes, using what the record notes of the items it replaced (see
//! [`crate::index::global`]).
//!
//! It applies a record only once it is durable on the partition's primary (and, with
//! replicas, on one of them too: a failover cannot take it back); index writes
//! are idempotent in log order (a record applied twice leaves what applying it once
//! does, once the later records are applied again too), so after a crash the applier
//! simply starts again from the last point it recorded. That point is kept per table
//! partition in the CATALOG (each global index's `applied`), written only once the index
//! writes up to it are durable; every copy of the partition keeps its log from there on
//! ([`Partition::hold_log_from`]), so the records are still there after a restart or on a
//! promoted replica. A second thread, the recorder, does the recording (index partitions
//! synced, CATALOG saved), so the applier never waits for it.

use super::*;
use crate::index::entry::{StoredKey, classify};
use crate::index::global::index_writes;
use crate::item::codec::decode_item;
use crate::storage::NoDerivedWrites;
use crate::storage::record::decode_with_notes;
use dynastore_wal::{Lsn, TailChunk, Tailer};
use std::collections::BTreeMap;
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the recorder records how far the applier got (and makes the index writes up
/// to there durable first, under `Buffered` durability).
const RECORD_EVERY: Duration = Duration::from_millis(100);

/// How long the applier sleeps when no log has a record for it (this bounds the lag it
/// adds), and when no table has a global index.
const IDLE_WAIT: Duration = Duration::from_millis(1);
const NOTHING_TO_FOLLOW_WAIT: Duration = Duration::from_millis(20);

/// The applier thread, and the thread that records how far it got; dropping this stops
/// both (the recorder records once more on its way out, so a reopen starts there).
#[derive(Debug)]
pub(super) struct IndexApplier {
    stop: Arc<AtomicBool>,
    applier: Option<JoinHandle<()>>,
    recorder: Option<JoinHandle<()>>,
}

impl IndexApplier {
    /// Starts the applier and recorder threads over the database's `tables`.
    pub(super) fn start(tables: Arc<Tables>, groups: Arc<GroupContext>) -> std::io::Result<IndexApplier> {
        let stop = Arc::new(AtomicBool::new(false));
        let recorder = Recorder {
            tables: Arc::clone(&tables),
            groups: Arc::clone(&groups),
        };
        let mut worker = Worker {
            tables,
            groups,
            cursors: HashMap::new(),
        };
        let stopped = Arc::clone(&stop);
        let applier = std::thread::Builder::new()
            .name("dynastore-index-applier".into())
            .spawn(move || {
                while !stopped.load(Ordering::Acquire) {
                    match worker.round() {
                        Round::Applied => {}
                        Round::Idle => std::thread::park_timeout(IDLE_WAIT),
                        Round::NothingToFollow => std::thread::park_timeout(NOTHING_TO_FOLLOW_WAIT),
                    }
                }
            })?;
        let stopped = Arc::clone(&stop);
        let recording = std::thread::Builder::new()
            .name("dynastore-index-recorder".into())
            .spawn(move || {
                while !stopped.load(Ordering::Acquire) {
                    std::thread::park_timeout(RECORD_EVERY);
                    recorder.record();
                }
                // Once more, after the applier stopped: a reopen starts from there.
                recorder.record();
            })?;
        Ok(IndexApplier {
            stop,
            applier: Some(applier),
            recorder: Some(recording),
        })
    }
}

impl Drop for IndexApplier {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.applier.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
        if let Some(thread) = self.recorder.take() {
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
    /// The last LSN applied.
    applied: u64,
}

struct Worker {
    tables: Arc<Tables>,
    groups: Arc<GroupContext>,
    cursors: HashMap<(String, u32), Cursor>,
}

impl Worker {
    /// One pass over every table partition with global indexes.
    fn round(&mut self) -> Round {
        let tables = indexed_tables(&self.tables);
        self.cursors.retain(|(name, _), cursor| {
            tables
                .iter()
                .any(|table| Arc::ptr_eq(table, &cursor.table) && *name == table.name)
        });
        let mut worked = false;
        for table in &tables {
            self.rewind_after_index_failover(table);
            for group in &table.groups {
                worked |= self.follow(table, group);
            }
        }
        match (worked, tables.is_empty()) {
            (true, _) => Round::Applied,
            (false, false) => Round::Idle,
            (false, true) => Round::NothingToFollow,
        }
    }

    /// A global index partition that failed over may have lost index writes its replicas
    /// did not hold yet (under the `Primary` ack mode): the table's cursors then start
    /// again from the points recorded, which only ever cover index writes a replica holds
    /// (see [`Recorder::record`]).
    fn rewind_after_index_failover(&mut self, table: &Arc<Table>) {
        let failovers = table.index_failovers();
        let seen = table.index_failovers_seen.swap(failovers, Ordering::AcqRel);
        if seen != u64::MAX && seen != failovers {
            self.cursors.retain(|(name, _), _| *name != table.name);
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
            let from = match self.cursors.get(&key) {
                Some(cursor) => cursor.applied,
                None => recorded_lsn(&self.groups.catalog.lock(), &table.name, group.id()),
            };
            group.index_applied.store(from, Ordering::Release);
            self.cursors.insert(
                key.clone(),
                Cursor {
                    table: Arc::clone(table),
                    tailer: primary.wal().tail(Lsn(from + 1)),
                    primary,
                    pending: None,
                    applied: from,
                },
            );
        }
        let Some(cursor) = self.cursors.get_mut(&key) else {
            return false;
        };
        // A new index whose cut this partition's applied records reached: fill it now.
        let mut filled = false;
        for index in &table.globals {
            let cut = index.backfill.lock().get(&group.id()).copied();
            if cut.is_some_and(|cut| cursor.applied >= cut) {
                if backfill(&self.groups, table, index, group.id(), &cursor.primary).is_err() {
                    return false;
                }
                filled = true;
            }
        }
        if filled {
            return true;
        }
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
        match apply_chunk(&self.groups, table, group.id(), &cursor.primary, &chunk) {
            Ok(()) => {
                cursor.applied = chunk.last_lsn.0;
                group.index_applied.store(chunk.last_lsn.0, Ordering::Release);
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
}

/// Items a backfill reads from a partition at a time (its read state is locked meanwhile).
const BACKFILL_PAGE: usize = 1000;

/// Fills global index `index` with the entries of every item partition `id`'s primary
/// holds now, then marks the partition filled (the recorder records that once the
/// entries are durable). The records after the index's cut are applied after this, onto
/// these entries, and bring each one to what its last record says.
///
/// Errors: [`Error::Corruption`] reading the partition; what writing to the index returns
/// (then it is filled again from the start).
fn backfill(groups: &GroupContext, table: &Table, index: &GlobalIndex, id: u32, primary: &Partition) -> Result<()> {
    if index.unclean.lock().contains(&id) {
        clear_partition_entries(groups, table, index, id)?;
        index.unclean.lock().remove(&id);
    }
    let partition_type = table.key_schema.partition_key.scalar_type;
    let (mut after, mut last): (Option<Vec<u8>>, Vec<u8>) = (None, Vec::new());
    loop {
        let mut seen = 0;
        let mut slots: Vec<Vec<KeyWrite>> = vec![Vec::new(); index.groups.len()];
        let lower = after
            .as_deref()
            .map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        // The entries are made during the visit (what the index projects, not the whole
        // items, is copied out).
        primary.visit_range(lower, std::ops::Bound::Unbounded, false, |key, item| {
            seen += 1;
            last.clear();
            last.extend_from_slice(key);
            if !table.index_writes.has_local() || classify(key, partition_type) == StoredKey::Item {
                for (entry_key, entry) in index_writes(&table.key_schema, &index.schema, None, Some(item)) {
                    let hash = hash_of(&entry_key);
                    if let Some(writes) = slots.get_mut(index.groups.partition_point(|group| group.range_end < hash)) {
                        writes.push((entry_key, entry));
                    }
                }
            }
            seen < BACKFILL_PAGE
        })?;
        for (group, writes) in index.groups.iter().zip(slots) {
            if !writes.is_empty() {
                groups.write_batch(group, &writes, &NoDerivedWrites, true)?;
            }
        }
        if seen < BACKFILL_PAGE {
            // Everything read is at or below the log's last record now.
            index.filled.lock().insert(id, primary.wal().last_lsn().0);
            index.backfill.lock().remove(&id);
            return Ok(());
        }
        after = Some(last.clone());
    }
}

/// Deletes every entry of `index` that stands for an item of table partition `id`: what a
/// fill begun before a crash may have left, including entries of writes the crash lost.
///
/// Errors: reading or writing the index's partitions.
fn clear_partition_entries(groups: &GroupContext, table: &Table, index: &GlobalIndex, id: u32) -> Result<()> {
    let Some(range) = table
        .groups
        .iter()
        .find(|group| group.id() == id)
        .map(|group| group.entry.lock().range)
    else {
        return Ok(());
    };
    let partition_key = &table.key_schema.partition_key.name;
    for group in &index.groups {
        let Some(primary) = group.open.read().clone() else {
            continue;
        };
        let mut doomed: Vec<KeyWrite> = Vec::new();
        primary.visit_range(
            std::ops::Bound::Unbounded,
            std::ops::Bound::Unbounded,
            false,
            |key, entry| {
                let hash = entry.get(partition_key).map(crate::item::key::partition_hash);
                if hash.is_some_and(|hash| range.contains(hash)) {
                    doomed.push((key.to_vec(), None));
                }
                true
            },
        )?;
        for writes in doomed.chunks(BACKFILL_PAGE) {
            groups.write_batch(group, writes, &NoDerivedWrites, true)?;
        }
    }
    Ok(())
}

/// Records how far the applier got, off its thread: a sync of the index partitions and a
/// CATALOG save take milliseconds, which the applier spends applying meanwhile.
struct Recorder {
    tables: Arc<Tables>,
    groups: Arc<GroupContext>,
}

impl Recorder {
    /// For every table partition whose indexes got further than the CATALOG says: makes
    /// the index writes durable (they were all made before the applied LSN was noted),
    /// then records the LSN in the CATALOG, then lets the partition's copies drop their
    /// log up to it.
    fn record(&self) {
        let tables = indexed_tables(&self.tables);
        let mut moved: Vec<(&Arc<Table>, &Group, u64)> = Vec::new();
        {
            let catalog = self.groups.catalog.lock();
            for table in &tables {
                for group in &table.groups {
                    let applied = group.index_applied.load(Ordering::Acquire);
                    if applied > recorded_lsn(&catalog, &table.name, group.id()) {
                        moved.push((table, group, applied));
                    }
                }
            }
        }
        // Fills the applier has applied past (every write they read is then durable).
        let mut fills: Vec<(&Arc<Table>, &GlobalIndex, u32)> = Vec::new();
        for table in &tables {
            for index in &table.globals {
                for (&id, &read_through) in index.filled.lock().iter() {
                    let applied = table
                        .groups
                        .iter()
                        .find(|group| group.id() == id)
                        .map_or(0, |group| group.index_applied.load(Ordering::Acquire));
                    if applied >= read_through {
                        fills.push((table, index, id));
                    }
                }
            }
        }
        if moved.is_empty() && fills.is_empty() {
            return;
        }
        let touched = moved
            .iter()
            .map(|(table, _, _)| *table)
            .chain(fills.iter().map(|(table, _, _)| *table));
        let mut done: Vec<&Arc<Table>> = Vec::new();
        for table in touched {
            if done.iter().any(|other| Arc::ptr_eq(other, table)) {
                continue;
            }
            done.push(table);
            for group in table.globals.iter().flat_map(|index| &index.groups) {
                if !self.make_safe(group) {
                    return;
                }
            }
        }
        let mut catalog = self.groups.catalog.lock();
        let mut next = catalog.clone();
        for (table, group, applied) in &moved {
            // A table of that name created since is another table.
            let Some(entry) = next
                .tables
                .get_mut(&table.name)
                .filter(|entry| entry.created_at_ms == table.created_at_ms)
            else {
                continue;
            };
            for index in entry.indexes.iter_mut().filter(|index| index.kind == IndexKind::Global) {
                let recorded = index.applied.entry(group.id()).or_insert(0);
                *recorded = (*recorded).max(*applied);
            }
        }
        for (table, index, id) in &fills {
            let entry = next
                .tables
                .get_mut(&table.name)
                .filter(|entry| entry.created_at_ms == table.created_at_ms)
                .and_then(|entry| entry.indexes.iter_mut().find(|entry| entry.name == index.schema.name));
            if let Some(entry) = entry {
                entry.backfill_from.remove(id);
            }
        }
        if next.save(self.groups.fs.as_ref(), &self.groups.dir).is_err() {
            return;
        }
        *catalog = next;
        drop(catalog);
        for (_, index, id) in &fills {
            index.filled.lock().remove(id);
        }
        for (_, group, applied) in &moved {
            for copy in group.copies() {
                copy.hold_log_from(Lsn(applied + 1));
            }
        }
    }
}

impl Recorder {
    /// Makes every write so far to index partition `group` durable and held by a replica
    /// too (if it has replicas), whatever the writers' ack mode: what is recorded must
    /// survive an index partition's failover. Returns whether it is, within a second.
    fn make_safe(&self, group: &Group) -> bool {
        let Some(primary) = group.open.read().clone() else {
            return true;
        };
        if self.groups.sync(group).is_err() {
            return false;
        }
        let target = primary.wal().last_lsn();
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        loop {
            match primary.replicated_through() {
                None => return true,
                Some(held) if held >= target => return true,
                Some(_) if std::time::Instant::now() >= deadline => return false,
                Some(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }
}

/// The open tables that have global indexes.
fn indexed_tables(tables: &Tables) -> Vec<Arc<Table>> {
    tables
        .read()
        .values()
        .filter(|table| !table.globals.is_empty())
        .cloned()
        .collect()
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
fn apply_chunk(groups: &GroupContext, table: &Table, id: u32, primary: &Partition, chunk: &TailChunk) -> Result<()> {
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
        // An index still to be filled takes this partition's records after its cut only,
        // and only once filled (its earlier records' batch is empty: they were skipped).
        let mut skipped = vec![false; table.globals.len()];
        for (at, index) in table.globals.iter().enumerate() {
            let cut = index.backfill.lock().get(&id).copied();
            match cut {
                Some(cut) if frame.lsn.0 <= cut => skipped[at] = true,
                Some(_) => backfill(groups, table, index, id, primary)?,
                None => {}
            }
        }
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
            for ((index, slots), skip) in table.globals.iter().zip(&mut batches).zip(&skipped) {
                if *skip {
                    continue;
                }
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
