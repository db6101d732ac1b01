//! The numbers `stats` reports of the database's tables.

use super::*;

/// One table's numbers, from [`Database::stats`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableStats {
    /// The table's name.
    pub name: String,
    /// Its partitions, in hash order.
    pub partitions: Vec<PartitionReport>,
    /// Its global indexes' partitions, by index name.
    pub global_indexes: Vec<(String, Vec<PartitionReport>)>,
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
    /// For a table partition whose table has global indexes: how many records of its log
    /// the index applier has still to apply to them (the indexes' lag).
    pub index_lag_records: Option<u64>,
}
