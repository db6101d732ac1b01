//! What the database tells about its tables: descriptions (DescribeTable) and the numbers
//! `stats` reports.

use super::*;

/// A table to create: its name and primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSchema {
    /// The table's name: 3 to 255 characters of `[A-Za-z0-9_.-]`.
    pub name: String,
    /// Its partition key and optional sort key.
    pub key_schema: KeySchema,
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
}

/// A table's state (DynamoDB's `TableStatus`). Tables are created and deleted at once,
/// so a table that can be described is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TableStatus {
    /// It can be read and written.
    Active,
}

/// One table's numbers, from [`Database::stats`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableStats {
    /// The table's name.
    pub name: String,
    /// Its partitions, in hash order.
    pub partitions: Vec<PartitionReport>,
}

/// One partition's catalog entry and, once it is created, its numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionReport {
    /// Its id, hash range, whether it was created, and its replication group (primary
    /// AZ, epoch, failovers).
    pub entry: PartitionEntry,
    /// Its primary's numbers, if it was created.
    pub stats: Option<PartitionStats>,
    /// Each replica's progress (empty without replication).
    pub replicas: Vec<ReplicaReport>,
}

/// A table's description, its item count and size estimated from its primaries' own
/// numbers (see [`TableDescription::item_count`]).
pub(super) fn describe(table: &Table) -> TableDescription {
    let (mut item_count, mut table_size_bytes) = (0, 0);
    for group in &table.groups {
        if let Some(primary) = group.open.read().as_ref() {
            let (items, bytes) = primary.approximate_size();
            item_count += items;
            table_size_bytes += bytes;
        }
    }
    let creation_date_time = (table.created_at_ms > 0).then(|| UNIX_EPOCH + Duration::from_millis(table.created_at_ms));
    TableDescription {
        name: table.name.clone(),
        key_schema: table.key_schema.clone(),
        partitions: table.groups.iter().map(|group| group.entry.lock().clone()).collect(),
        status: TableStatus::Active,
        creation_date_time,
        item_count,
        table_size_bytes,
    }
}
