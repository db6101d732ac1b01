//! The database: a data directory of tables, each hash-partitioned, and the DynamoDB-shaped
//! operations on them.
//!
//! Layout: `<data>/LOCK` (held while open), `<data>/CATALOG` (see [`crate::catalog`]),
//! and one directory per partition and AZ, `<data>/<az>/<table>/p-NNNN/`, created on the
//! first write into its hash range (recorded in the CATALOG first). Without
//! [`Options::replication`] every partition lives in the one AZ directory `az-a`.
//!
//! # Replication and failover
//!
//! With [`Options::replication`], every partition has a copy in each AZ. The primary's
//! copy takes writes; shipper threads stream its log, byte for byte, to the others, which
//! apply it as their own writes. A `Sync` write is acknowledged (and becomes readable)
//! once the [`AckMode`] is met. When the primary fails (an I/O error on its log,
//! `Database::fail_az` (the `drills` feature), a copy lost or damaged at open) or on request
//! ([`Database::promote`]), the replica holding the most of the partition's history is
//! promoted: the CATALOG records the new primary and a raised epoch (durably, first), the
//! old primary is fenced, and writes in flight are retried on the new primary (a write
//! whose record the new primary already holds is acknowledged, not repeated). A former
//! primary rejoins as a replica (`Database::restore_az`, or at the next open), dropping
//! any tail the new primary never had; replicas that fail on their own are repaired in the
//! background. The replication side lives in the `replication` submodule.

use crate::background::flusher::{Flusher, OpenCopies};
use crate::catalog::{Catalog, DEFAULT_AZ, IndexEntry, PartitionEntry, TableEntry, TableSettings};
use crate::error::{Error, Result, io_error};
use crate::group::repairer::{AzFilter, RepairSignal, Repairer, Repairs};
use crate::group::shipper::{ReplicaSet, ReplicaSets, Shipper};
use crate::group::{Group, GroupContext, ReplicaCopies, TableHome};
use crate::index::local::IndexWrites;
use crate::index::{IndexKind, IndexSchema};
use crate::item::key::storage_key;
use crate::item::validate::{KeyAttribute, KeySchema, ValidationError};
use crate::item::{AttributeValue, Item};
use crate::storage::{KeyWrite, Partition, PartitionStats};
use dynastore_wal::fs::{AzFs, FailedAzs};

#[cfg(feature = "drills")]
mod drills;
mod global_indexes;
mod index_applier;
mod index_check;
mod maintenance;

mod report;
mod table;
mod validate;
use crate::group::report::replica_reports;
pub use crate::group::report::{ReplicaReport, ReplicaStatus};
pub use crate::options::{DEFAULT_AZS, DEFAULT_MAX_LAG_RECORDS, Options, PRIMARY_AZ, Replication};
pub use dynastore_replication::AckMode;
use dynastore_wal::fs::{self, FileLock, SharedFs};
use index_applier::IndexApplier;
pub use index_check::IndexCheck;
use parking_lot::{Mutex, RwLock};
pub use report::{PartitionReport, TableStats};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
pub(crate) use table::{GlobalIndex, Groups, Table};
use table::{TableRepairs, Tables};
pub(crate) use validate::{
    LIST_TABLES_LIMIT_MAX, hash_of, out_of_range, table_key, validate_key_schema, validate_name_at, validate_table_name,
};

/// The most records of a table partition's log its global indexes may lack before its
/// writers wait for the index applier, as DynamoDB throttles the writes of a table whose
/// global index falls behind: the indexes' lag stays bounded (at 100,000 writes a second,
/// 1,024 records are 10 ms). Measured on 2 cores under one full-speed writer, 4,096 let the
/// lag's p99 reach 125-160 ms; 1,024 holds it near 58 ms at the same put throughput; 512
/// holds it at 28 ms but costs a quarter of the throughput (docs/benchmarks.md).
const INDEX_LAG_RECORDS_MAX: u64 = 1024;

/// The longest one write waits for the index applier: an applier that cannot go on (a
/// global index partition with no copy left) slows writes down but never stops them.
const INDEX_LAG_WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(1);

/// Waits while `group`'s partition log holds more than [`INDEX_LAG_RECORDS_MAX`] records
/// its table's global indexes lack, at most [`INDEX_LAG_WAIT_MAX`].
fn keep_indexes_within_reach(table: &Table, group: &Group) {
    if table.globals.is_empty() {
        return;
    }
    // A global index being filled holds the applier at its cut for a while: the table's
    // writers go on meanwhile (DynamoDB's do), and the applier catches up after.
    if table.globals.iter().any(|index| !index.backfill.lock().is_empty()) {
        return;
    }
    let Some(primary) = group.open.read().clone() else {
        return;
    };
    let behind = || {
        let applied = group.index_applied.load(Ordering::Acquire);
        primary.wal().last_lsn().0.saturating_sub(applied) > INDEX_LAG_RECORDS_MAX
    };
    if !behind() {
        return;
    }
    let started = std::time::Instant::now();
    while behind() && started.elapsed() < INDEX_LAG_WAIT_MAX {
        std::thread::sleep(std::time::Duration::from_micros(100));
    }
}

/// The lock file's name in the data directory.
pub const LOCK_FILE: &str = "LOCK";

/// An open database. Cheap to share: every operation takes `&self`.
///
/// Lock order, to keep it free of deadlocks: a partition group's `open`, then its
/// `repairing`, then its `entry`, then `catalog`, then `tables`; a partition's own locks
/// (MANIFEST, write lock, read state) and a replica set's stream come after a group's
/// `open` and are never taken while `catalog` is held. No code takes them in another
/// order (a liveness test races creation against deletion).
///
/// Guarantees: with `Sync` durability, a write that returned `Ok` survives a crash; a read
/// after an acknowledged write sees it, from any thread; a failed write changed nothing.
#[derive(Debug)]
pub struct Database {
    fs: SharedFs,
    dir: PathBuf,
    options: Options,
    /// Open tables, shared with the background flusher and shipper.
    tables: Arc<RwLock<HashMap<String, Arc<Table>>>>,
    /// How often each AZ was failed so far, counted once it is in `failed_azs`: an
    /// operation that spans a failure and a restore of its AZ can tell (see
    /// [`Database::for_each_copy`]).
    az_failures: Mutex<HashMap<String, u64>>,
    /// What every partition's replication group shares (the CATALOG, the AZs failed or
    /// cut off); shared with the repairer threads.
    groups: Arc<GroupContext>,
    /// Keeps the global indexes from the tables' logs. Dropped (stopped and joined)
    /// first: it writes to index partitions.
    _index_applier: Option<IndexApplier>,
    /// Streams primaries' logs to replicas, if any table is replicated. Dropped (stopped
    /// and joined) before the flusher.
    _shipper: Option<Shipper>,
    /// Brings replica copies into service (new ones, and failed ones), if any table is
    /// replicated.
    _repairer: Option<Repairer>,
    /// Dropped (stopped and joined) before the LOCK is released.
    _flusher: Flusher,
    _lock: Box<dyn FileLock>,
}

impl Database {
    /// Opens (or creates) the database in `dir`: takes its LOCK, reads its CATALOG,
    /// removes directories of tables the catalog no longer has, and replays every
    /// partition's WAL.
    ///
    /// Errors: [`Error::Locked`] if the directory is open elsewhere, [`Error::Corruption`],
    /// [`Error::Wal`], [`Error::Io`].
    pub fn open(fs: SharedFs, dir: impl AsRef<Path>, options: Options) -> Result<Database> {
        let dir = dir.as_ref().to_path_buf();
        let failed_azs = FailedAzs::default();
        let fs: SharedFs = Arc::new(AzFs::new(fs, &dir, Arc::clone(&failed_azs)));
        fs::create_dir_durable(fs.as_ref(), &dir).map_err(io_error("creating", &dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = fs.try_lock(&lock_path).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock => Error::Locked { path: dir.clone() },
            _ => io_error("locking", &lock_path)(e),
        })?;
        let catalog = Catalog::load(fs.as_ref(), &dir)?;
        let tables = Arc::new(RwLock::new(HashMap::new()));
        // Every AZ a copy can be in: the ones new tables use, and those of existing tables.
        let mut azs: BTreeSet<String> = catalog
            .tables
            .values()
            .flat_map(|table| table.partitions.iter().flat_map(|p| p.group.azs.iter().cloned()))
            .collect();
        match &options.replication {
            Some(replication) => azs.extend(replication.azs.iter().cloned()),
            None => {
                azs.insert(DEFAULT_AZ.to_owned());
            }
        }
        if azs.is_empty() {
            // No AZ named: tables go to the default one.
            azs.insert(DEFAULT_AZ.to_owned());
        }
        let azs: Vec<String> = azs.into_iter().collect();
        let flusher = Flusher::start(
            Arc::clone(&tables) as Arc<dyn OpenCopies>,
            options.memtables_bytes_total,
            options.auto_compaction,
            azs.clone(),
        )
        .map_err(io_error("starting the flusher for", &dir))?;
        let replicated = options.replication.is_some()
            || catalog
                .tables
                .values()
                .any(|table| table.partitions.iter().any(|p| p.group.azs.len() > 1));
        let shipper = replicated
            .then(|| Shipper::start(Arc::clone(&tables) as Arc<dyn ReplicaSets>))
            .transpose()
            .map_err(io_error("starting the shipper for", &dir))?;
        let groups = Arc::new(GroupContext {
            fs: fs.clone(),
            dir: dir.clone(),
            options: options.clone(),
            flush: flusher.signal(),
            catalog: Mutex::new(Catalog::default()),
            failed_azs: Arc::clone(&failed_azs),
            paused_azs: FailedAzs::default(),
            repairs: RepairSignal::default(),
            ship: shipper.as_ref().map(Shipper::signal).unwrap_or_default(),
            read_turn: AtomicUsize::new(0),
        });
        let repairer = shipper
            .as_ref()
            .map(|shipper| {
                let repairs = Arc::new(TableRepairs {
                    tables: Arc::clone(&tables),
                    groups: Arc::clone(&groups),
                });
                Repairer::start(repairs, groups.repairs.clone(), azs, shipper.signal())
            })
            .transpose()
            .map_err(io_error("starting the repairer for", &dir))?;
        let mut db = Database {
            fs,
            dir,
            options,
            groups,
            tables,
            az_failures: Mutex::new(HashMap::new()),
            _index_applier: None,
            _shipper: shipper,
            _repairer: repairer,
            _flusher: flusher,
            _lock: lock,
        };
        db.remove_orphan_tables(&catalog)?;
        // In place before the tables open: a primary found lost at open is replaced, and
        // the CATALOG records that.
        *db.groups.catalog.lock() = catalog.clone();
        let mut tables = HashMap::new();
        for entry in catalog.tables.values() {
            tables.insert(entry.name.clone(), Arc::new(db.open_table(entry)?));
        }
        *db.tables.write() = tables;
        db._index_applier = Some(
            IndexApplier::start(Arc::clone(&db.tables), Arc::clone(&db.groups))
                .map_err(io_error("starting the index applier for", &db.dir))?,
        );
        Ok(db)
    }

    /// The AZ directories under the data directory.
    fn az_dirs(&self) -> Result<Vec<PathBuf>> {
        let mut dirs = Vec::new();
        for name in self.fs.read_dir(&self.dir).map_err(io_error("listing", &self.dir))? {
            let path = self.dir.join(&name);
            if self.fs.read_dir(&path).is_ok() {
                dirs.push(path);
            }
        }
        Ok(dirs)
    }

    /// Table directories with no table in the catalog are what a crash during
    /// `delete_table` leaves; their data must never reappear.
    fn remove_orphan_tables(&self, catalog: &Catalog) -> Result<()> {
        for az in self.az_dirs()? {
            for name in self.fs.read_dir(&az).map_err(io_error("listing", &az))? {
                if !catalog.tables.contains_key(&name) {
                    let dir = az.join(&name);
                    fs::remove_tree(self.fs.as_ref(), &dir).map_err(io_error("removing", &dir))?;
                }
            }
        }
        Ok(())
    }

    /// Removes the directories of table `name` in every AZ.
    fn remove_table_dirs(&self, name: &str) -> Result<()> {
        for az in self.az_dirs()? {
            let dir = az.join(name);
            if self.fs.exists(&dir).map_err(io_error("checking", &dir))? {
                fs::remove_tree(self.fs.as_ref(), &dir).map_err(io_error("removing", &dir))?;
            }
        }
        Ok(())
    }

    fn open_table(&self, entry: &TableEntry) -> Result<Table> {
        let has_globals = entry.indexes.iter().any(|index| index.kind == IndexKind::Global);
        let home = |index: Option<(String, u8)>| {
            Arc::new(TableHome {
                name: entry.name.clone(),
                indexed: AtomicBool::new(index.is_none() && has_globals),
                index,
                data: self.dir.clone(),
                deleted: AtomicBool::new(false),
            })
        };
        let table_home = home(None);
        let groups = self.open_groups(&table_home, &entry.partitions)?;
        // Every copy keeps the records the global indexes may still need.
        let globals_of = || entry.indexes.iter().filter(|index| index.kind == IndexKind::Global);
        if globals_of().next().is_some() {
            for group in &groups {
                let id = group.id();
                let applied = globals_of()
                    .map(|index| index.applied.get(&id).copied().unwrap_or(0))
                    .min();
                for copy in group.copies() {
                    copy.hold_log_from(dynastore_wal::Lsn(applied.unwrap_or(0) + 1));
                }
            }
        }
        let mut globals = Vec::new();
        for index in entry.indexes.iter().filter(|index| index.kind == IndexKind::Global) {
            let home = home(Some((index.name.clone(), index.ordinal)));
            globals.push(Arc::new(GlobalIndex {
                schema: index.schema(),
                groups: self.open_groups(&home, &index.partitions)?,
                home,
                backfill: Mutex::new(index.backfill_from.clone()),
                filled: Mutex::new(BTreeMap::new()),
                unclean: Mutex::new(index.backfill_from.keys().copied().collect()),
            }));
        }
        Ok(Table {
            name: entry.name.clone(),
            key_schema: entry.key_schema(),
            created_at_ms: entry.created_at_ms,
            settings: Mutex::new(entry.settings.clone()),
            home: table_home,
            groups: Groups(Arc::new(groups)),
            indexes: entry.indexes.clone(),
            index_schemas: entry.indexes.iter().map(IndexEntry::schema).collect(),
            index_writes: Arc::new(IndexWrites::new(
                entry.key_schema(),
                entry
                    .indexes
                    .iter()
                    .filter(|index| index.kind == IndexKind::Local)
                    .map(|index| (index.ordinal, index.schema()))
                    .collect(),
                globals.iter().map(|index| index.schema.clone()).collect(),
            )),
            globals,
            index_failovers_seen: AtomicU64::new(u64::MAX),
        })
    }

    /// Opens the replication groups of `partitions` (a table's or a global index's), each
    /// one's copies if it was created.
    fn open_groups(&self, home: &Arc<TableHome>, partitions: &[PartitionEntry]) -> Result<Vec<Group>> {
        let mut groups = Vec::with_capacity(partitions.len());
        for partition in partitions {
            let mut partition = partition.clone();
            let (open, replicas) = if partition.created {
                if self.groups.primary_lost(home, &partition)? {
                    partition.group = self.groups.promote_at_open(home, &partition)?;
                }
                let primary = self.groups.open_primary(home, &mut partition)?;
                let (primary, replicas) = self
                    .groups
                    .open_group(home, &partition, primary, ReplicaCopies::OpenNow)?;
                (Some(primary), replicas)
            } else {
                (None, None)
            };
            groups.push(Group::new(Arc::clone(home), partition, open, replicas));
        }
        Ok(groups)
    }

    /// Writes that waited because background flushing or compaction fell behind, or
    /// (`Buffered` writes) replicas fell more than [`Replication::max_lag_records`]
    /// behind (a write stall), in every open partition.
    pub fn write_stalls(&self) -> u64 {
        let tables: Vec<Arc<Table>> = self.tables.read().values().cloned().collect();
        tables
            .iter()
            .flat_map(|t| t.open_partitions())
            .map(|p| p.stalls())
            .sum()
    }

    /// Creates table `name` keyed by `key_schema` (both valid) in the CATALOG, durably, and
    /// opens it. Its partitions' directories appear as writes land in them.
    ///
    /// Errors: [`Error::ResourceInUse`] if the table exists, [`Error::Io`].
    pub(crate) fn add_table(
        &self,
        name: &str,
        key_schema: &KeySchema,
        indexes: &[IndexSchema],
        settings: TableSettings,
    ) -> Result<Arc<Table>> {
        let mut catalog = self.groups.catalog.lock();
        if catalog.tables.contains_key(name) {
            return Err(Error::ResourceInUse { table: name.to_owned() });
        }
        // A directory of a table by this name that the catalog does not hold is a leftover
        // (of a crash during delete_table); its data must not become the new table's.
        self.remove_table_dirs(name)?;
        let azs = self.options.replication.as_ref().map_or(&[][..], |r| &r.azs[..]);
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as u64);
        let mut entry = TableEntry::new(name, key_schema, self.options.initial_partitions, azs, now_ms);
        entry.settings = settings;
        entry.indexes = indexes
            .iter()
            .enumerate()
            .map(|(ordinal, index)| {
                let mut entry = IndexEntry::new(index, ordinal as u8);
                if index.kind == IndexKind::Global {
                    entry.partitions = TableEntry::new_partitions(self.options.initial_partitions, azs);
                }
                entry
            })
            .collect();
        let mut next = catalog.clone();
        next.tables.insert(name.to_owned(), entry.clone());
        next.save(self.fs.as_ref(), &self.dir)?;
        *catalog = next;
        let table = Arc::new(self.open_table(&entry)?);
        self.tables.write().insert(name.to_owned(), Arc::clone(&table));
        // Nothing may describe the table (which locks its partitions' entries) while the
        // CATALOG's lock is held: a writer creating a partition of the published table
        // takes the partition's entry lock before the CATALOG's.
        drop(catalog);
        Ok(table)
    }

    /// Changes table `name`'s settings by `change` (which may refuse), durably in the
    /// CATALOG first, then in the open table; returns the table.
    ///
    /// Errors: [`Error::ResourceNotFound`]; what `change` returns (nothing changed);
    /// [`Error::Io`] (the CATALOG is unchanged).
    pub(crate) fn change_table_settings(
        &self,
        name: &str,
        change: impl FnOnce(&mut TableSettings) -> Result<()>,
    ) -> Result<Arc<Table>> {
        let mut catalog = self.groups.catalog.lock();
        let Some(entry) = catalog.tables.get(name) else {
            return Err(Error::ResourceNotFound { table: name.to_owned() });
        };
        let mut settings = entry.settings.clone();
        change(&mut settings)?;
        let mut next = catalog.clone();
        if let Some(entry) = next.tables.get_mut(name) {
            entry.settings = settings.clone();
        }
        next.save(self.fs.as_ref(), &self.dir)?;
        *catalog = next;
        let table = self.table(name)?;
        *table.settings.lock() = settings;
        Ok(table)
    }

    /// Deletes table `name` and all its items: the catalog forgets it first (durably),
    /// then its directories are removed.
    ///
    /// Errors: [`Error::ResourceNotFound`], [`Error::Io`].
    pub(crate) fn remove_table(&self, name: &str) -> Result<()> {
        let table = {
            let mut catalog = self.groups.catalog.lock();
            if !catalog.tables.contains_key(name) {
                return Err(Error::ResourceNotFound { table: name.to_owned() });
            }
            let mut next = catalog.clone();
            next.tables.remove(name);
            next.save(self.fs.as_ref(), &self.dir)?;
            *catalog = next;
            let table = self.tables.write().remove(name);
            // Under the CATALOG's lock: a writer creating a partition checks it there.
            if let Some(table) = &table {
                table.home.deleted.store(true, Ordering::Release);
                for index in &table.globals {
                    index.home.deleted.store(true, Ordering::Release);
                }
            }
            table
        };
        let Some(table) = table else {
            return Ok(());
        };
        // No flush, compaction or replica repair may write into the directory once it is
        // removed. This takes partition locks, so the catalog lock must not be held (lock
        // order). A repair under way finishes first; later ones see the table deleted.
        for group in table.all_groups() {
            (0..group.repairing.len()).for_each(|index| drop(group.repairing_at(index)));
        }
        for set in table.replica_sets() {
            set.halt();
        }
        for partition in table.open_partitions() {
            partition.retire();
        }
        drop(table);
        // Under the catalog lock again: if a table of this name was created meanwhile, the
        // directories are the new table's (its creation removed the old one's leftovers).
        let catalog = self.groups.catalog.lock();
        if !catalog.tables.contains_key(name) {
            self.remove_table_dirs(name)?;
        }
        drop(catalog);
        Ok(())
    }

    /// The open tables' names, in no order.
    pub(crate) fn table_names(&self) -> Vec<String> {
        self.tables.read().keys().cloned().collect()
    }

    /// The open table `name`.
    ///
    /// Errors: [`Error::ResourceNotFound`].
    pub(crate) fn table(&self, name: &str) -> Result<Arc<Table>> {
        self.tables
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| Error::ResourceNotFound { table: name.to_owned() })
    }

    /// The group of the partition holding `hash`.
    ///
    /// Errors: [`Error::Corruption`] if no partition covers it (the CATALOG's ranges must
    /// cover the whole hash space).
    pub(crate) fn group<'t>(&self, table: &'t Table, hash: u64) -> Result<&'t Group> {
        table.group(hash).ok_or_else(|| Error::Corruption {
            file: self.dir.join(crate::catalog::CATALOG_FILE),
            offset: 0,
            reason: format!("no partition of table {} covers hash {hash:#018x}", table.name),
        })
    }

    /// The primary of the partition holding `hash`, created (catalog first, then its
    /// directory) if `create` and it does not exist yet.
    pub(crate) fn partition(&self, table: &Table, hash: u64, create: bool) -> Result<Option<Arc<Partition>>> {
        self.groups.primary(self.group(table, hash)?, create)
    }

    /// Writes `writes` (all in the partition holding `hash`) as one record, retrying on a
    /// new primary as [`Database::write_key`] does. `create`: whether to create the
    /// partition if it does not exist (deletes alone need not: nothing to delete). Returns
    /// the items replaced, in order, where the table's indexes had them read (see
    /// [`GroupContext::write_batch`]).
    pub(crate) fn write_group(
        &self,
        table: &Table,
        hash: u64,
        writes: &[KeyWrite],
        create: bool,
    ) -> Result<Vec<Option<Item>>> {
        keep_indexes_within_reach(table, self.group(table, hash)?);
        self.groups
            .write_batch(self.group(table, hash)?, writes, table.derived_writes(), create)
    }

    /// Writes under `key` what `compute` derives from the current item, on the partition's
    /// primary, retrying on a new primary if the primary is lost meanwhile (see the module
    /// docs). Returns the item replaced.
    pub(crate) fn write_key(
        &self,
        table: &Table,
        key: Vec<u8>,
        read_old: bool,
        compute: impl FnMut(Option<&Item>) -> Result<Option<Item>>,
    ) -> Result<Option<Item>> {
        keep_indexes_within_reach(table, self.group(table, hash_of(&key))?);
        self.groups.write(
            self.group(table, hash_of(&key))?,
            key,
            read_old,
            table.derived_writes(),
            compute,
        )
    }

    /// Runs `read` on the copy of the partition holding `hash` that a read goes to (the
    /// primary if `consistent_read`); `None` if the partition was never written. A copy
    /// found damaged is taken out of service and the read done again on a sound copy
    /// (see [`GroupContext::read`]).
    pub(crate) fn read<T>(
        &self,
        table: &Table,
        hash: u64,
        consistent_read: bool,
        read: impl FnMut(&Partition) -> Result<T>,
    ) -> Result<Option<T>> {
        self.groups.read(self.group(table, hash)?, consistent_read, read)
    }

    /// Runs `read` as [`Database::read`] does, on the group of `groups` (a table's or a
    /// global index's, in hash order) whose range holds `hash`.
    ///
    /// Errors: [`Error::Corruption`] if none does; what [`Database::read`] returns.
    pub(crate) fn read_in<T>(
        &self,
        groups: &[Group],
        hash: u64,
        consistent_read: bool,
        read: impl FnMut(&Partition) -> Result<T>,
    ) -> Result<Option<T>> {
        let group = groups
            .get(groups.partition_point(|group| group.range_end < hash))
            .ok_or_else(|| Error::Corruption {
                file: self.dir.join(crate::catalog::CATALOG_FILE),
                offset: 0,
                reason: format!("no partition covers hash {hash:#018x}"),
            })?;
        self.groups.read(group, consistent_read, read)
    }

    /// Makes every write so far durable (useful with `Buffered` durability) as the ack
    /// mode counts it: on every primary and, with replication, on as many replicas as a
    /// `Sync` write waits for (under `Quorum`, one), so that losing a primary's AZ
    /// afterwards loses none of them. A primary that fails meanwhile is failed over as a
    /// writer's would be; the writes its successor was handed count as synced.
    ///
    /// Errors: [`Error::LostInFailover`] if a primary failed and some of the writes were
    /// not handed over (they are lost, as in a crash before a sync); [`Error::Replication`]
    /// if too few replicas acknowledged them within the acknowledgement timeout (they stay
    /// durable on the primary); [`Error::Unavailable`] if a partition has no copy left to
    /// serve.
    pub fn sync(&self) -> Result<()> {
        let tables: Vec<Arc<Table>> = self.tables.read().values().cloned().collect();
        for group in tables.iter().flat_map(|table| table.all_groups()) {
            self.groups.sync(group)?;
        }
        Ok(())
    }

    /// Makes every write so far durable in every copy's log, waiting for no replica (what
    /// closing needs: shipping resumes from the logs when the database is opened again).
    fn sync_logs(&self) -> Result<()> {
        let tables: Vec<Arc<Table>> = self.tables.read().values().cloned().collect();
        for partition in tables.iter().flat_map(|t| t.open_partitions()) {
            partition.sync()?;
        }
        Ok(())
    }

    /// Makes every write durable and closes the database (its background thread stops
    /// and the LOCK is released when this returns). Memtables are not flushed: the WAL
    /// holds them.
    ///
    /// Errors: [`Error::Wal`].
    pub fn close(self) -> Result<()> {
        self.sync_logs()
    }

    /// Promotes the copy of partition `partition` of `table` in `az` to primary (a planned
    /// failover): the current primary hands over everything durable first, so nothing
    /// acknowledged is lost, and rejoins as a replica.
    ///
    /// Errors: [`Error::ResourceNotFound`]; [`Error::Validation`] for a partition id that
    /// does not exist; [`Error::Unavailable`] if the partition was never written, has no
    /// copy in service in `az`, or that copy is behind another replica or did not get
    /// every record durable on the primary (it failed, or is still catching up);
    /// [`Error::Io`].
    pub fn promote(&self, table: &str, partition: u32, az: &str) -> Result<()> {
        let table = self.table(table)?;
        let group = table
            .groups
            .iter()
            .find(|group| group.entry.lock().id == partition)
            .ok_or_else(|| {
                Error::Validation(ValidationError::InvalidParameter(format!(
                    "table {} has no partition {partition}",
                    table.name
                )))
            })?;
        let entry = group.entry.lock().clone();
        let primary = group.open.read().clone();
        let Some(primary) = primary else {
            return Err(Error::Unavailable {
                table: table.name.clone(),
                partition,
                reason: "it holds no data yet".into(),
            });
        };
        if entry.group.primary == az {
            return Ok(());
        }
        self.groups.fail_over(group, &primary, Some(az), false).map(|_| ())
    }

    /// The options it was opened with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
