//! The open tables: each table's partitions' replication groups, and what the background
//! threads see of them.

use super::*;
use crate::catalog::IndexEntry;
use crate::index::IndexSchema;
use crate::index::local::IndexWrites;
use crate::storage::{DerivedWrites, NoDerivedWrites};

#[derive(Debug)]
pub(crate) struct Table {
    pub(crate) name: String,
    pub(crate) key_schema: KeySchema,
    /// When it was created, in milliseconds since the Unix epoch (0: unknown).
    pub(crate) created_at_ms: u64,
    /// Its billing mode, throughput and tags, as the CATALOG holds them.
    pub(crate) settings: Mutex<crate::catalog::TableSettings>,
    /// Its name, where its copies live, and whether it was deleted, as its groups see them.
    pub(crate) home: Arc<TableHome>,
    /// Its partitions' replication groups, in hash order.
    pub(crate) groups: Vec<Group>,
    /// Its secondary indexes, as the CATALOG holds them.
    pub(crate) indexes: Vec<IndexEntry>,
    /// Their schemas, in the same order.
    pub(crate) index_schemas: Vec<IndexSchema>,
    /// What its indexes add to its items' records: local index entries, and notes for
    /// the global ones.
    pub(crate) index_writes: IndexWrites,
    /// Its global indexes, each with partitions of its own.
    pub(crate) globals: Vec<GlobalIndex>,
    /// The failovers of its global index partitions the index applier has taken into
    /// account (`u64::MAX` until it looked): see [`Table::index_failovers`].
    pub(crate) index_failovers_seen: AtomicU64,
}

/// A global secondary index of an open table: its partitions' replication groups, kept
/// from the table's logs by the index applier.
#[derive(Debug)]
pub(crate) struct GlobalIndex {
    /// Its schema.
    pub(crate) schema: IndexSchema,
    /// Where its copies live, and whether its table was deleted.
    pub(crate) home: Arc<TableHome>,
    /// Its partitions' groups, in hash order.
    pub(crate) groups: Vec<Group>,
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

/// What the repairer threads run: [`GroupContext::repair_in`] over every open table.
pub(super) struct TableRepairs {
    pub(super) tables: Arc<Tables>,
    pub(super) groups: Arc<GroupContext>,
}

impl Repairs for TableRepairs {
    fn repair(&self, mine: &AzFilter) -> usize {
        let tables: Vec<Arc<Table>> = self.tables.read().values().cloned().collect();
        tables
            .iter()
            .map(|table| {
                let indexes: usize = table
                    .globals
                    .iter()
                    .map(|index| self.groups.repair_in(&index.groups, mine))
                    .sum();
                self.groups.repair_in(&table.groups, mine) + indexes
            })
            .sum()
    }
}

impl Table {
    /// The writes that go into an item's record besides the item's own: its local index
    /// entries.
    pub(crate) fn derived_writes(&self) -> &dyn DerivedWrites {
        if self.index_writes.needs_old() {
            &self.index_writes
        } else {
            &NoDerivedWrites
        }
    }

    /// Every copy of the partitions created so far, primaries and replicas, the global
    /// indexes' too: each flushes and compacts on its own.
    pub(crate) fn open_partitions(&self) -> Vec<Arc<Partition>> {
        self.all_groups().flat_map(Group::copies).collect()
    }

    /// How many failovers its global index partitions went through (each may have lost
    /// index writes no replica held, which the index applier then writes again).
    pub(crate) fn index_failovers(&self) -> u64 {
        self.globals
            .iter()
            .flat_map(|index| &index.groups)
            .map(|group| group.entry.lock().group.failovers)
            .sum()
    }

    /// The groups of its partitions and of its global indexes' partitions.
    pub(crate) fn all_groups(&self) -> impl Iterator<Item = &Group> {
        self.groups
            .iter()
            .chain(self.globals.iter().flat_map(|index| &index.groups))
    }

    /// The AZ whose directory holds `partition` (`<data>/<az>/<table>/...`), if it is one
    /// of this table's copies.
    pub(crate) fn az_of(&self, partition: &Partition) -> Option<String> {
        let relative = partition.dir().strip_prefix(&self.home.data).ok()?;
        let az = relative.components().next()?.as_os_str().to_str()?;
        Some(az.to_owned())
    }

    /// The replica sets of the partitions created so far.
    pub(crate) fn replica_sets(&self) -> Vec<Arc<ReplicaSet>> {
        self.all_groups()
            .filter_map(|group| group.replicas.read().clone())
            .collect()
    }

    /// The index of the partition holding `hash`.
    pub(crate) fn slot_index(&self, hash: u64) -> u64 {
        self.groups.partition_point(|group| group.range_end < hash) as u64
    }

    /// The group of the partition holding `hash`.
    pub(crate) fn group(&self, hash: u64) -> Option<&Group> {
        let index = self.groups.partition_point(|group| group.range_end < hash);
        self.groups.get(index)
    }
}
