//! The table operations (DynamoDB's CreateTable, DeleteTable, DescribeTable and
//! ListTables, the last with DynamoDB's paging and messages) and their types.

use super::operations::{ListTablesInput, ListTablesOutput};
use crate::catalog::PartitionEntry;
pub use crate::catalog::{BillingMode, TableSettings};
use crate::database::{
    Database, LIST_TABLES_LIMIT_MAX, Table, out_of_range, validate_key_schema, validate_name_at, validate_table_name,
};
use crate::error::Result;
use crate::index::entry::{StoredKey, classify};
use crate::index::schema::validate_indexes;
use crate::index::{IndexKind, IndexSchema};
use crate::item::KeySchema;
use crate::item::validate::ScalarType;
use crate::storage::Partition;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A table to create: its name and primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSchema {
    /// The table's name: 3 to 255 characters of `[A-Za-z0-9_.-]`.
    pub name: String,
    /// Its partition key and optional sort key.
    pub key_schema: KeySchema,
    /// Its secondary indexes (DynamoDB's LocalSecondaryIndexes and
    /// GlobalSecondaryIndexes).
    pub indexes: Vec<IndexSchema>,
}

/// What [`Database::describe_table`] tells about a table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableDescription {
    /// The table's name.
    pub name: String,
    /// Its primary key.
    pub key_schema: KeySchema,
    /// Its partitions, in hash order.
    pub partitions: Vec<PartitionEntry>,
    /// Whether it can be used (DynamoDB's `TableStatus`).
    pub status: TableStatus,
    /// When it was created (DynamoDB's `CreationDateTime`); `None` for a table created
    /// before creation times were recorded.
    pub creation_date_time: Option<SystemTime>,
    /// About how many items it holds (DynamoDB's `ItemCount`, which DynamoDB refreshes
    /// about every six hours): from each partition's memtables and SSTables, counting an
    /// item once per table that holds a version of it until a merge brings the versions
    /// together, so exact after [`Database::flush`] and then [`Database::compact`].
    pub item_count: u64,
    /// About how many bytes it holds (DynamoDB's `TableSizeBytes`): each partition's
    /// memtable budget use and SSTable bytes, estimated as the item count is.
    pub table_size_bytes: u64,
    /// Its billing mode, throughput and tags.
    pub settings: TableSettings,
    /// Its secondary indexes, in the order they were created.
    pub indexes: Vec<IndexSchema>,
    /// About how many entries, and bytes, each secondary index holds (by name, local
    /// indexes first), estimated as the table's item count is. A local index's entries
    /// share the table's partitions: each partition's numbers are split between its
    /// items and each local index by the shares of its entries (all of them in a
    /// partition of up to 10,000 entries, the first 10,000 in a larger one), and the
    /// table's item count and size are its items' share.
    pub index_sizes: Vec<(String, u64, u64)>,
    /// The global indexes still being filled from the table's items (DynamoDB's
    /// `IndexStatus: CREATING` with `Backfilling`).
    pub creating_indexes: Vec<String>,
}

/// A table's state (DynamoDB's `TableStatus`). Tables are created and deleted at once,
/// so a table that can be described is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TableStatus {
    /// It can be read and written.
    Active,
}

impl Database {
    /// Creates a table. Its partitions' directories appear as writes land in them.
    ///
    /// Errors: [`Error::Validation`](crate::Error::Validation) for a bad name or key
    /// schema, [`Error::ResourceInUse`](crate::Error::ResourceInUse) if the table exists,
    /// [`Error::Io`](crate::Error::Io).
    pub fn create_table(&self, schema: TableSchema) -> Result<TableDescription> {
        self.create_table_with(schema, TableSettings::default())
    }

    /// Creates a table with `settings` (billing mode, throughput, tags), kept in the
    /// CATALOG with its schema.
    ///
    /// Errors: as [`Database::create_table`].
    pub fn create_table_with(&self, schema: TableSchema, settings: TableSettings) -> Result<TableDescription> {
        validate_table_name(&schema.name)?;
        validate_key_schema(&schema.key_schema)?;
        validate_indexes(&schema.key_schema, &schema.indexes)?;
        let table = self.add_table(&schema.name, &schema.key_schema, &schema.indexes, settings)?;
        Ok(describe(&table))
    }

    /// Adds global secondary index `index` to table `name`, which may hold data
    /// (DynamoDB's UpdateTable with a `Create` in `GlobalSecondaryIndexUpdates`). The
    /// index is `CREATING` (listed in [`TableDescription::creating_indexes`]) while it is
    /// filled from the table's items in the background, writes going on meanwhile, then
    /// active; [`Database::wait_for_indexes`] waits for that too.
    ///
    /// Errors: [`Error::ResourceNotFound`](crate::Error::ResourceNotFound);
    /// [`Error::Validation`](crate::Error::Validation) for a local index, a name in use,
    /// more than 20 global indexes or a key attribute of another type than elsewhere in
    /// the table; [`Error::Io`](crate::Error::Io) (nothing changed).
    pub fn create_global_index(&self, name: &str, index: IndexSchema) -> Result<TableDescription> {
        validate_table_name(name)?;
        Ok(describe(&*self.add_global_index(name, index)?))
    }

    /// Deletes global secondary index `index` of table `name` (DynamoDB's UpdateTable with
    /// a `Delete`): reads stop finding it at once, and its data is removed.
    ///
    /// Errors: [`Error::ResourceNotFound`](crate::Error::ResourceNotFound) if the table or
    /// the global index does not exist; [`Error::Io`](crate::Error::Io).
    pub fn delete_global_index(&self, name: &str, index: &str) -> Result<TableDescription> {
        validate_table_name(name)?;
        Ok(describe(&*self.remove_global_index(name, index)?))
    }

    /// Changes a table's settings (DynamoDB's UpdateTable of billing and throughput,
    /// TagResource, UntagResource) by `change`, durably, and returns its description.
    /// `change` sees the current settings and may refuse; then nothing changes.
    ///
    /// Errors: [`Error::ResourceNotFound`](crate::Error::ResourceNotFound), what `change`
    /// returns, [`Error::Io`](crate::Error::Io).
    pub fn update_table_settings(
        &self,
        name: &str,
        change: impl FnOnce(&mut TableSettings) -> Result<()>,
    ) -> Result<TableDescription> {
        validate_table_name(name)?;
        let table = self.change_table_settings(name, change)?;
        Ok(describe(&table))
    }

    /// Deletes a table and all its items: the catalog forgets it first (durably), then
    /// its directories are removed. Returns its description as it was.
    ///
    /// Errors: [`Error::ResourceNotFound`](crate::Error::ResourceNotFound),
    /// [`Error::Io`](crate::Error::Io).
    pub fn delete_table(&self, name: &str) -> Result<TableDescription> {
        // Described before the catalog lock is taken: describing locks partition entries,
        // and partition creation takes an entry lock before the catalog lock.
        let description = self.describe_table(name)?;
        self.remove_table(name)?;
        Ok(description)
    }

    /// A table's schema, partitions, status, creation time, and approximate item count
    /// and size.
    ///
    /// Errors: [`Error::ResourceNotFound`](crate::Error::ResourceNotFound).
    pub fn describe_table(&self, name: &str) -> Result<TableDescription> {
        Ok(describe(&*self.table(name)?))
    }

    /// The names of the tables, sorted, one page at a time (DynamoDB's ListTables): at
    /// most `limit` names (100 by default) after `exclusive_start_table_name`, and the
    /// last of them as `last_evaluated_table_name` when more follow.
    ///
    /// Errors: [`Error::Validation`](crate::Error::Validation) for a limit outside 1 to 100, or a start name that is
    /// not a valid table name, with DynamoDB's messages.
    pub fn list_tables(&self, input: ListTablesInput) -> Result<ListTablesOutput> {
        let limit = match input.limit {
            None => LIST_TABLES_LIMIT_MAX,
            Some(limit) if limit < 1 => return Err(out_of_range("limit", limit, "greater than or equal to 1")),
            Some(limit) if limit > LIST_TABLES_LIMIT_MAX => {
                return Err(out_of_range("limit", limit, "less than or equal to 100"));
            }
            Some(limit) => limit,
        };
        if let Some(start) = &input.exclusive_start_table_name {
            validate_name_at(start, "exclusiveStartTableName")?;
        }
        let mut names: Vec<String> = self.table_names();
        names.sort();
        let after = match &input.exclusive_start_table_name {
            Some(start) => names.partition_point(|name| name <= start),
            None => 0,
        };
        let mut page: Vec<String> = names.drain(after..).collect();
        let more = page.len() > limit as usize;
        page.truncate(limit as usize);
        Ok(ListTablesOutput {
            last_evaluated_table_name: more.then(|| page.last().cloned()).flatten(),
            table_names: page,
        })
    }
}

/// Entries of a table partition read to split its numbers (see
/// [`TableDescription::index_sizes`]).
const SHARES_SAMPLE: u64 = 10_000;

/// `entries` and `bytes`, a table partition's numbers, split between its items (`None`)
/// and each local index (by ordinal) by the shares of the entries read from `primary`.
/// Without local indexes, or if the partition cannot be read, all are its items'.
fn shares(
    primary: &Partition,
    entries: u64,
    bytes: u64,
    has_local: bool,
    partition_type: ScalarType,
) -> Vec<(Option<u8>, (u64, u64))> {
    let mut seen: BTreeMap<Option<u8>, (u64, u64)> = BTreeMap::new();
    let (mut count, mut size) = (0u64, 0u64);
    let read = has_local
        && primary
            .visit_range(Bound::Unbounded, Bound::Unbounded, false, |key, item| {
                let class = match classify(key, partition_type) {
                    StoredKey::Item => None,
                    StoredKey::LocalEntry(ordinal) => Some(ordinal),
                };
                let bytes = (key.len() + item.size_bytes()) as u64;
                let share = seen.entry(class).or_default();
                share.0 += 1;
                share.1 += bytes;
                count += 1;
                size += bytes;
                count < SHARES_SAMPLE
            })
            .is_ok();
    if !read || count == 0 {
        return vec![(None, (entries, bytes))];
    }
    seen.into_iter()
        .map(|(class, (n, b))| {
            let scaled =
                |total: u64, part: u64, whole: u64| (u128::from(total) * u128::from(part) / u128::from(whole)) as u64;
            (class, (scaled(entries, n, count), scaled(bytes, b, size.max(1))))
        })
        .collect()
}

/// A table's description, its item count and size estimated from its primaries' own
/// numbers (see [`TableDescription::item_count`]).
fn describe(table: &Table) -> TableDescription {
    let size_of = |groups: &[crate::group::Group]| {
        let (mut count, mut bytes) = (0, 0);
        for group in groups {
            if let Some(primary) = group.open.read().as_ref() {
                let (entries, size) = primary.approximate_size();
                count += entries;
                bytes += size;
            }
        }
        (count, bytes)
    };
    // The table's partitions' numbers, split between its items (`None`) and each local
    // index's entries (by ordinal).
    let mut split: BTreeMap<Option<u8>, (u64, u64)> = BTreeMap::new();
    for group in &table.groups {
        if let Some(primary) = group.open.read().as_ref() {
            let (entries, size) = primary.approximate_size();
            let partition_type = table.key_schema.partition_key.scalar_type;
            for (class, (count, bytes)) in
                shares(primary, entries, size, table.index_writes.has_local(), partition_type)
            {
                let total = split.entry(class).or_default();
                total.0 += count;
                total.1 += bytes;
            }
        }
    }
    let (item_count, table_size_bytes) = split.get(&None).copied().unwrap_or_default();
    let locals = table
        .indexes
        .iter()
        .filter(|index| index.kind == IndexKind::Local)
        .map(|index| {
            let (count, bytes) = split.get(&Some(index.ordinal)).copied().unwrap_or_default();
            (index.name.clone(), count, bytes)
        });
    let globals = table.globals.iter().map(|index| {
        let (count, bytes) = size_of(&index.groups);
        (index.schema.name.clone(), count, bytes)
    });
    let index_sizes = locals.chain(globals).collect();
    let creation_date_time = (table.created_at_ms > 0).then(|| UNIX_EPOCH + Duration::from_millis(table.created_at_ms));
    TableDescription {
        name: table.name.clone(),
        key_schema: table.key_schema.clone(),
        partitions: table.groups.iter().map(|group| group.entry.lock().clone()).collect(),
        status: TableStatus::Active,
        creation_date_time,
        item_count,
        table_size_bytes,
        settings: table.settings.lock().clone(),
        indexes: table.index_schemas.clone(),
        index_sizes,
        creating_indexes: table
            .globals
            .iter()
            .filter(|index| table.backfilling(&index.schema.name))
            .map(|index| index.schema.name.clone())
            .collect(),
    }
}
