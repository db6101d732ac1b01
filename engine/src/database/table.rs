//! The open tables: each table's partition slots (a partition's CATALOG entry, its open
//! primary and replica set), and what the background threads see of them.

use super::*;

/// A partition of an open table: its hash range, its catalog entry and, once created,
/// its state.
#[derive(Debug)]
pub(super) struct PartitionSlot {
    /// The last hash of the range (ranges never change while a table is open).
    pub(super) range_end: u64,
    pub(super) entry: Mutex<PartitionEntry>,
    /// The primary copy, once created.
    pub(super) open: RwLock<Option<Arc<Partition>>>,
    /// The replica copies and their stream, once created, if the group has several AZs.
    pub(super) replicas: RwLock<Option<Arc<ReplicaSet>>>,
    /// One per AZ of the partition's group (in the group's order, which never changes):
    /// held while that AZ's copy is brought into service, so that one copy is rebuilt by
    /// one thread at a time, and a hung disk in one AZ holds up no other AZ's repair.
    pub(super) repairing: Vec<Mutex<()>>,
    /// Per AZ, in the order of `repairing`: copies taken out of service there (their AZ
    /// failed) and not closed yet. Closing a copy waits for a write under way to its
    /// disk, which may hang, so `fail_az` leaves the copy here instead of waiting; whoever
    /// takes that AZ's repair lock next closes it first, so that no copy is reopened on
    /// files that a write still reaches.
    pub(super) closing: Vec<Mutex<Vec<Arc<Partition>>>>,
    /// The group's AZs, in the order of `repairing` (the entry's, which never change,
    /// copied so that finding a repair lock takes no other lock).
    pub(super) azs: Vec<String>,
}

impl PartitionSlot {
    /// The repair lock of the copy in `az` (see `repairing`; an AZ outside the group,
    /// which no copy is in, shares the first AZ's lock).
    ///
    /// Once held, the copies taken out in `az` and left to close ([`Self::close_later`])
    /// are closed.
    pub(super) fn repairing(&self, az: &str) -> parking_lot::MutexGuard<'_, ()> {
        self.repairing_at(self.az_index(az))
    }

    /// [`Self::repairing`] by the AZ's index in the group.
    pub(super) fn repairing_at(&self, index: usize) -> parking_lot::MutexGuard<'_, ()> {
        let guard = self.repairing[index].lock();
        let taken_out = std::mem::take(&mut *self.closing[index].lock());
        for copy in taken_out {
            copy.close_copy();
        }
        guard
    }

    pub(super) fn az_index(&self, az: &str) -> usize {
        self.azs.iter().position(|a| a == az).unwrap_or(0)
    }

    /// Leaves `copy`, taken out of service in `az`, to be closed under that AZ's repair
    /// lock (by its repairer thread, or the next repair of the copy), not in this thread.
    pub(super) fn close_later(&self, az: &str, copy: Arc<Partition>) {
        self.closing[self.az_index(az)].lock().push(copy);
    }

    /// Closes the copies taken out in `az` and left to close, if there are any (waiting
    /// for the AZ's repair lock, and for writes under way to their disk).
    pub(super) fn close_taken_out(&self, az: &str) {
        let index = self.az_index(az);
        if !self.closing[index].lock().is_empty() {
            drop(self.repairing_at(index));
        }
    }

    /// The primary and its replica set, as of one moment (a failover replaces both under
    /// the `open` lock), if the partition has replicas and was created.
    pub(super) fn primary_and_replicas(&self) -> Option<(Arc<Partition>, Arc<ReplicaSet>)> {
        let open = self.open.read();
        let primary = open.clone()?;
        let set = self.replicas.read().clone()?;
        Some((primary, set))
    }
}

#[derive(Debug)]
pub(crate) struct Table {
    pub(crate) name: String,
    pub(crate) key_schema: KeySchema,
    /// When it was created, in milliseconds since the Unix epoch (0: unknown).
    pub(super) created_at_ms: u64,
    /// The data directory (each AZ holds the table under `<data>/<az>/<name>`).
    pub(super) data: PathBuf,
    pub(super) slots: Vec<PartitionSlot>,
    /// Set when the table is deleted: no copy of it is repaired (rebuilt) after that.
    pub(crate) deleted: AtomicBool,
}

/// Open tables by name, as the database and its background threads share them.
pub(super) type Tables = RwLock<HashMap<String, Arc<Table>>>;

impl OpenCopies for Tables {
    fn open_copies(&self) -> Vec<(Arc<Partition>, Option<String>)> {
        let tables: Vec<Arc<Table>> = self.read().values().cloned().collect();
        let mut copies = Vec::new();
        for table in tables {
            for partition in table.open_partitions() {
                let az = table.az_of(&partition);
                copies.push((partition, az));
            }
        }
        copies
    }
}

impl ReplicaSets for Tables {
    fn replica_sets(&self) -> Vec<Arc<ReplicaSet>> {
        let tables: Vec<Arc<Table>> = self.read().values().cloned().collect();
        tables.iter().flat_map(|table| table.replica_sets()).collect()
    }
}

/// What the repairer threads run: [`Copies::repair_in`] over every open table.
pub(super) struct TableRepairs {
    pub(super) tables: Arc<Tables>,
    pub(super) copies: Arc<Copies>,
}

impl Repairs for TableRepairs {
    fn repair(&self, mine: &AzFilter) -> usize {
        let tables: Vec<Arc<Table>> = self.tables.read().values().cloned().collect();
        tables.iter().map(|table| self.copies.repair_in(table, mine)).sum()
    }
}

impl Table {
    /// Every copy of the partitions created so far, primaries and replicas: each flushes
    /// and compacts on its own.
    pub(crate) fn open_partitions(&self) -> Vec<Arc<Partition>> {
        let mut copies = Vec::new();
        for slot in &self.slots {
            copies.extend(slot.open.read().clone());
            if let Some(set) = slot.replicas.read().as_ref() {
                copies.extend(set.in_service().into_iter().map(|(_, partition, _)| partition));
            }
        }
        copies
    }

    /// The AZ whose directory holds `partition` (`<data>/<az>/<table>/...`), if it is one
    /// of this table's copies.
    pub(crate) fn az_of(&self, partition: &Partition) -> Option<String> {
        let relative = partition.dir().strip_prefix(&self.data).ok()?;
        let az = relative.components().next()?.as_os_str().to_str()?;
        Some(az.to_owned())
    }

    /// The replica sets of the partitions created so far.
    pub(crate) fn replica_sets(&self) -> Vec<Arc<ReplicaSet>> {
        self.slots
            .iter()
            .filter_map(|slot| slot.replicas.read().clone())
            .collect()
    }

    /// The directory of partition `entry`'s copy in `az`.
    pub(super) fn partition_dir(&self, az: &str, entry: &PartitionEntry) -> PathBuf {
        self.data.join(az).join(&self.name).join(entry.dir_name())
    }

    /// The last hash of each partition's range, in hash order.
    pub(crate) fn range_ends(&self) -> impl Iterator<Item = u64> + '_ {
        self.slots.iter().map(|slot| slot.range_end)
    }

    /// The index of the partition holding `hash`.
    pub(crate) fn slot_index(&self, hash: u64) -> u64 {
        self.slots.partition_point(|slot| slot.range_end < hash) as u64
    }

    pub(super) fn slot(&self, hash: u64) -> Option<&PartitionSlot> {
        let index = self.slots.partition_point(|slot| slot.range_end < hash);
        self.slots.get(index)
    }
}
