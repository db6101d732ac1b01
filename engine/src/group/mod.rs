//! A partition's replication group: its primary copy, its replica copies (one per other AZ
//! of the group) and the stream between them, and what the group does as one.
//!
//! - The write path, once ([`mod@write`]): a write goes to the primary; when the primary is
//!   lost meanwhile, a replica is promoted and the write retried there (or found done:
//!   the new primary already holds its record).
//! - Failover ([`failover`]): promoting the replica holding the most history, recording
//!   the new primary and epoch in the CATALOG first, fencing the old primary.
//! - Opening a group at open ([`open`]) and opening, seeding and repairing copies
//!   ([`copies`], and the [`repairer`] threads, one per AZ).
//! - Shipping the primary's log to the replicas ([`shipper`]).
//! - Routing reads to copies, and taking a damaged copy out of service ([`read`]).
//!
//! Below it, [`crate::storage`] knows one copy and no role; above it, the database knows
//! tables and routes a hash to its group. Every group of a database shares one
//! [`GroupContext`]: the file system, the options, the CATALOG, the AZs failed or cut off.

pub(crate) mod copies;
pub(crate) mod failover;
pub(crate) mod open;
pub(crate) mod primary;
pub(crate) mod read;
pub(crate) mod repairer;
pub(crate) mod report;
pub(crate) mod shipper;
pub(crate) mod write;

use crate::catalog::{Catalog, PartitionEntry};
use crate::options::Options;
use crate::storage::Partition;
use crate::storage::flush_signal::FlushSignal;
use dynastore_wal::fs::FailedAzs;
use parking_lot::{Mutex, RwLock};
use primary::PrimaryRole;
use repairer::RepairSignal;
use shipper::{ReplicaSet, ShipSignal};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};

pub(crate) use open::ReplicaCopies;

/// How many times a write is retried on a new primary after failovers.
const FAILOVER_RETRIES: usize = 3;

/// What a group knows of its table: its name, where its copies live, and whether it was
/// deleted (shared by the table's groups).
#[derive(Debug)]
pub(crate) struct TableHome {
    pub(crate) name: String,
    /// For a global index's partitions: the index's name and ordinal (its partitions live
    /// in `<data>/<az>/<table>/gsi-<ordinal>/`).
    pub(crate) index: Option<(String, u8)>,
    /// Whether the table has global indexes: its copies then keep their logs for the
    /// index applier (see [`crate::storage::Partition::hold_log_from`]).
    pub(crate) indexed: AtomicBool,
    /// The data directory (each AZ holds the table under `<data>/<az>/<name>`).
    pub(crate) data: PathBuf,
    /// Set (under the CATALOG's lock) when the table is deleted: no partition of it is
    /// created and no copy of it is repaired (rebuilt) after that.
    pub(crate) deleted: AtomicBool,
}

impl TableHome {
    /// The directory of partition `entry`'s copy in `az`.
    pub(crate) fn partition_dir(&self, az: &str, entry: &PartitionEntry) -> PathBuf {
        let table = self.data.join(az).join(&self.name);
        match &self.index {
            Some((_, ordinal)) => table.join(format!("gsi-{ordinal}")).join(entry.dir_name()),
            None => table.join(entry.dir_name()),
        }
    }

    /// Its partition `id`'s entry in `catalog` (a table's, or a global index's).
    pub(crate) fn entry_in<'c>(&self, catalog: &'c mut Catalog, id: u32) -> Option<&'c mut PartitionEntry> {
        catalog.partition_mut(&self.name, self.index.as_ref().map(|(name, _)| name.as_str()), id)
    }
}

/// A partition's replication group: its hash range, its CATALOG entry and, once created,
/// its copies.
#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) table: Arc<TableHome>,
    /// The last hash of the range (ranges never change while a table is open).
    pub(crate) range_end: u64,
    pub(crate) entry: Mutex<PartitionEntry>,
    /// The primary copy, once created.
    pub(crate) open: RwLock<Option<Arc<Partition>>>,
    /// The replica copies and their stream, once created, if the group has several AZs.
    pub(crate) replicas: RwLock<Option<Arc<ReplicaSet>>>,
    /// The primary's role (the gate its writes pass), with `replicas`: both are replaced
    /// together, under the `open` lock.
    pub(crate) role: RwLock<Option<Arc<PrimaryRole>>>,
    /// One per AZ of the partition's group (in the group's order, which never changes):
    /// held while that AZ's copy is brought into service, so that one copy is rebuilt by
    /// one thread at a time, and a hung disk in one AZ holds up no other AZ's repair.
    pub(crate) repairing: Vec<Mutex<()>>,
    /// Per AZ, in the order of `repairing`: copies taken out of service there (their AZ
    /// failed) and not closed yet. Closing a copy waits for a write under way to its
    /// disk, which may hang, so `fail_az` leaves the copy here instead of waiting; whoever
    /// takes that AZ's repair lock next closes it first, so that no copy is reopened on
    /// files that a write still reaches.
    pub(crate) closing: Vec<Mutex<Vec<Arc<Partition>>>>,
    /// The group's AZs, in the order of `repairing` (the entry's, which never change,
    /// copied so that finding a repair lock takes no other lock).
    pub(crate) azs: Vec<String>,
    /// For a table partition whose table has global indexes: the last LSN of its log the
    /// index applier applied to them (not necessarily durably yet).
    pub(crate) index_applied: AtomicU64,
}

impl Group {
    /// A group of `table` for partition `entry`, with its copies if they are open.
    pub(crate) fn new(
        table: Arc<TableHome>,
        entry: PartitionEntry,
        open: Option<Arc<Partition>>,
        replicated: Option<Replicated>,
    ) -> Group {
        let (replicas, role) = replicated.map(|r| (r.set, r.role)).unzip();
        Group {
            table,
            range_end: entry.range.end,
            repairing: entry.group.azs.iter().map(|_| Mutex::new(())).collect(),
            closing: entry.group.azs.iter().map(|_| Mutex::new(Vec::new())).collect(),
            azs: entry.group.azs.clone(),
            entry: Mutex::new(entry),
            open: RwLock::new(open),
            replicas: RwLock::new(replicas),
            role: RwLock::new(role),
            index_applied: AtomicU64::new(0),
        }
    }

    /// Puts a newly opened primary's replicas and role in place (the `open` lock held).
    pub(crate) fn install(&self, replicated: Option<Replicated>) {
        let (replicas, role) = replicated.map(|r| (r.set, r.role)).unzip();
        *self.replicas.write() = replicas;
        *self.role.write() = role;
    }

    /// The repair lock of the copy in `az` (see `repairing`; an AZ outside the group,
    /// which no copy is in, shares the first AZ's lock).
    ///
    /// Once held, the copies taken out in `az` and left to close (`Self::close_later`)
    /// are closed.
    pub(crate) fn repairing(&self, az: &str) -> parking_lot::MutexGuard<'_, ()> {
        self.repairing_at(self.az_index(az))
    }

    /// [`Self::repairing`] by the AZ's index in the group.
    pub(crate) fn repairing_at(&self, index: usize) -> parking_lot::MutexGuard<'_, ()> {
        let guard = self.repairing[index].lock();
        let taken_out = std::mem::take(&mut *self.closing[index].lock());
        for copy in taken_out {
            copy.close_copy();
        }
        guard
    }

    fn az_index(&self, az: &str) -> usize {
        self.azs.iter().position(|a| a == az).unwrap_or(0)
    }

    #[cfg(feature = "drills")]
    /// Leaves `copy`, taken out of service in `az`, to be closed under that AZ's repair
    /// lock (by its repairer thread, or the next repair of the copy), not in this thread.
    pub(crate) fn close_later(&self, az: &str, copy: Arc<Partition>) {
        self.closing[self.az_index(az)].lock().push(copy);
    }

    /// Closes the copies taken out in `az` and left to close, if there are any (waiting
    /// for the AZ's repair lock, and for writes under way to their disk).
    pub(crate) fn close_taken_out(&self, az: &str) {
        let index = self.az_index(az);
        if !self.closing[index].lock().is_empty() {
            drop(self.repairing_at(index));
        }
    }

    /// The primary and its replica set, as of one moment (a failover replaces both under
    /// the `open` lock), if the partition has replicas and was created.
    pub(crate) fn primary_and_replicas(&self) -> Option<(Arc<Partition>, Arc<ReplicaSet>)> {
        let open = self.open.read();
        let primary = open.clone()?;
        let set = self.replicas.read().clone()?;
        Some((primary, set))
    }

    /// Every copy in service, primary first.
    pub(crate) fn copies(&self) -> Vec<Arc<Partition>> {
        let mut copies: Vec<Arc<Partition>> = self.open.read().iter().cloned().collect();
        if let Some(set) = self.replicas.read().as_ref() {
            copies.extend(set.in_service().into_iter().map(|(_, partition, _)| partition));
        }
        copies
    }

    /// The partition's id in the CATALOG.
    pub(crate) fn id(&self) -> u32 {
        self.entry.lock().id
    }
}

/// A primary's replicas and its role, as opening a group makes them.
#[derive(Debug)]
pub(crate) struct Replicated {
    pub(crate) set: Arc<ReplicaSet>,
    pub(crate) role: Arc<PrimaryRole>,
}

/// What every group of a database shares: what opening and repairing copies takes, the
/// CATALOG, and the AZs failed or cut off. The database and its repairer threads share
/// it: the threads bring new and failed replicas into service by themselves (see
/// [`GroupContext::repair_in`]).
#[derive(Debug)]
pub(crate) struct GroupContext {
    pub(crate) fs: dynastore_wal::fs::SharedFs,
    /// The data directory, which holds the CATALOG.
    pub(crate) dir: PathBuf,
    pub(crate) options: Options,
    pub(crate) flush: FlushSignal,
    /// Serialises CATALOG changes; the CATALOG as last saved.
    pub(crate) catalog: Mutex<Catalog>,
    /// The AZs failed by `Database::fail_az`: no copy there is repaired.
    pub(crate) failed_azs: FailedAzs,
    /// The AZs `Database::pause_shipping` cut off: their replicas get nothing.
    pub(crate) paused_azs: FailedAzs,
    /// Wakes the repairer threads.
    pub(crate) repairs: RepairSignal,
    /// Wakes the shipper (a default, unheard signal when nothing is replicated).
    pub(crate) ship: Arc<ShipSignal>,
    /// Spreads eventually consistent reads over the copies.
    pub(crate) read_turn: AtomicUsize,
}
