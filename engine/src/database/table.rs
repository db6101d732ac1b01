//! The open tables: each table's partitions' replication groups, and what the background
//! threads see of them.

use super::*;
use crate::catalog::IndexEntry;
use crate::index::IndexSchema;
use crate::index::local::IndexWrites;
use crate::storage::DerivedWrites;

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
    /// Its partitions' replication groups, in hash order (shared with the table's next
    /// description when a global index is added or deleted).
    pub(crate) groups: Groups,
    /// Its secondary indexes, as the CATALOG holds them.
    pub(crate) indexes: Vec<IndexEntry>,
    /// Their schemas, in the same order.
    pub(crate) index_schemas: Vec<IndexSchema>,
    /// What its indexes add to its items' records: local index entries, and notes for
    /// the global ones.
    pub(crate) index_writes: Arc<IndexWrites>,
    /// Its global indexes, each with partitions of its own.
    pub(crate) globals: Vec<Arc<GlobalIndex>>,
    /// The failovers of its global index partitions the index applier has taken into
    /// account (`u64::MAX` until it looked): see [`Table::index_failovers`].
    pub(crate) index_failovers_seen: AtomicU64,
}

/// A table's (or a global index's) partitions' replication groups, in hash order: shared
/// by the descriptions of one table as its global indexes change.
#[derive(Debug, Clone)]
pub(crate) struct Groups(pub(crate) Arc<Vec<Group>>);

impl std::ops::Deref for Groups {
    type Target = [Group];

    fn deref(&self) -> &[Group] {
        &self.0
    }
}

impl<'a> IntoIterator for &'a Groups {
    type Item = &'a Group;
    type IntoIter = std::slice::Iter<'a, Group>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
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
    /// The table partitions (by id, with the LSN it starts after) whose items it still
    /// has to be filled with: an index added to a table with data (see
    /// [`super::index_applier`]). Empty once it is active.
    pub(crate) backfill: Mutex<BTreeMap<u32, u64>>,
    /// Partitions filled in this process, each with the last LSN of its log when its
    /// items were read: the fill counts as done (and is recorded) once the applier applied
    /// that far, since it may have read writes not yet durable.
    pub(crate) filled: Mutex<BTreeMap<u32, u64>>,
    /// Partitions a fill may have begun for before the database was last closed: their
    /// entries in the index are cleared before they are filled again.
    pub(crate) unclean: Mutex<BTreeSet<u32>>,
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
    /// This table with other indexes (one global index added or deleted): the same
    /// partitions, home and index writes.
    pub(crate) fn with_indexes(&self, indexes: Vec<IndexEntry>, globals: Vec<Arc<GlobalIndex>>) -> Table {
        Table {
            name: self.name.clone(),
            key_schema: self.key_schema.clone(),
            created_at_ms: self.created_at_ms,
            settings: Mutex::new(self.settings.lock().clone()),
            home: Arc::clone(&self.home),
            groups: self.groups.clone(),
            index_schemas: indexes.iter().map(IndexEntry::schema).collect(),
            indexes,
            index_writes: Arc::clone(&self.index_writes),
            globals,
            index_failovers_seen: AtomicU64::new(u64::MAX),
        }
    }

    /// Whether global index `name` is still being filled from the table's items.
    pub(crate) fn backfilling(&self, name: &str) -> bool {
        self.globals
            .iter()
            .any(|index| index.schema.name == name && !index.backfill.lock().is_empty())
    }

    /// The writes that go into an item's record besides the item's own: its local index
    /// entries.
    pub(crate) fn derived_writes(&self) -> &dyn DerivedWrites {
        // Always the table's own: whether it has global indexes is read under the
        // partition's write lock, where adding one makes a clean cut in the log.
        &*self.index_writes
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
