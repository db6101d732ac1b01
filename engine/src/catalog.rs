//! The CATALOG: every table's schema, its hash ranges, and which partitions exist.
//!
//! # File format (version 1)
//!
//! `<data>/CATALOG` is one header line, `dynastore-catalog 1 crc32=XXXXXXXX`, where the
//! checksum (CRC-32, IEEE, 8 lowercase hex digits) covers everything after the newline:
//! the catalog as JSON (tables by name, each with its key schema and its partitions: id,
//! first and last hash of its range, whether its directory was created, and its
//! replication group: AZs, primary, epoch, where each later epoch began, failovers).
//! Catalogs written before replication have no group: they read as one AZ, `az-a`.
//!
//! # Durability
//!
//! Every change writes the whole catalog to `CATALOG.tmp`, fsyncs it, renames it over
//! `CATALOG` and fsyncs the directory, so after a crash the catalog is either the old one
//! or the new one, never a mix. A leftover `CATALOG.tmp` is removed on open. A change is
//! made durable before anything relies on it (a partition's directory is recorded before
//! it is created).

use crate::checked_file;
use crate::error::Result;
use crate::index::{IndexKind, IndexSchema, Projection};
use crate::item::{KeyAttribute, KeySchema, ScalarType};
use dynastore_replication::epochs;
use dynastore_wal::Lsn;
use dynastore_wal::fs::FileSystem;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

const FILE_KIND: &str = "dynastore-catalog";
/// The catalog's file name in the data directory.
pub const CATALOG_FILE: &str = "CATALOG";

/// A contiguous range of the 64-bit hash space, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashRange {
    /// The first hash in the range.
    pub start: u64,
    /// The last hash in the range.
    pub end: u64,
}

impl HashRange {
    /// Whether `hash` falls in this range.
    pub fn contains(&self, hash: u64) -> bool {
        self.start <= hash && hash <= self.end
    }

    /// The whole hash space cut into `count` contiguous ranges of (nearly) equal size.
    pub fn split_evenly(count: u32) -> Vec<HashRange> {
        let count = u128::from(count.max(1));
        let space = 1u128 << 64;
        (0..count)
            .map(|i| HashRange {
                start: (space * i / count) as u64,
                end: (space * (i + 1) / count - 1) as u64,
            })
            .collect()
    }
}

/// The AZ every partition lives in when the database is not replicated (and the first
/// AZ, the first primary, of a replicated one by default).
pub const DEFAULT_AZ: &str = "az-a";

pub use dynastore_replication::epochs::EpochStart;

/// A partition's replication group: the AZs holding a copy, which one is the primary, and
/// the primary's epoch (raised, durably, at every promotion).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationGroup {
    /// Every AZ holding a copy, the primary included, in the order the database names them.
    pub azs: Vec<String>,
    /// The AZ whose copy takes writes.
    pub primary: String,
    /// The primary's epoch: every record it writes carries it; replicas refuse older ones.
    pub epoch: u64,
    /// Where each epoch after the first began, oldest first.
    #[serde(default)]
    pub history: Vec<EpochStart>,
    /// Promotions so far.
    #[serde(default)]
    pub failovers: u64,
}

impl Default for ReplicationGroup {
    /// One AZ, [`DEFAULT_AZ`], in its first epoch (a catalog written before replication).
    fn default() -> Self {
        ReplicationGroup::new(&[])
    }
}

impl ReplicationGroup {
    /// A group over `azs` (at least one), the first of them primary, in epoch 1.
    pub fn new(azs: &[String]) -> ReplicationGroup {
        let azs: Vec<String> = if azs.is_empty() {
            vec![DEFAULT_AZ.to_owned()]
        } else {
            azs.to_vec()
        };
        ReplicationGroup {
            primary: azs[0].clone(),
            azs,
            epoch: 1,
            history: Vec::new(),
            failovers: 0,
        }
    }

    /// The AZs holding replicas (every AZ but the primary), in order.
    pub fn replica_azs(&self) -> impl Iterator<Item = &str> {
        self.azs.iter().map(String::as_str).filter(|az| *az != self.primary)
    }

    /// The last LSN a replica whose newest record is of epoch `epoch` may keep: records
    /// after it were never part of the history the later epochs continued. `None` if it
    /// may keep everything (its epoch is the current one).
    pub fn last_lsn_of_epoch(&self, epoch: u64) -> Option<u64> {
        epochs::last_lsn_of_epoch(&self.history, epoch).map(|lsn| lsn.0)
    }

    /// This group after promoting `az`, whose log ends at `last_lsn`: the next epoch
    /// begins right after it.
    pub fn promoted(&self, az: &str, last_lsn: u64) -> ReplicationGroup {
        let mut next = self.clone();
        next.primary = az.to_owned();
        let start = epochs::next_epoch(self.epoch, Lsn(last_lsn));
        next.epoch = start.epoch;
        next.history.push(start);
        next.failovers += 1;
        next
    }
}

/// One partition of a table: a hash range and, once written to, a directory in each AZ
/// of its replication group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionEntry {
    /// The partition's number within its table; its directory is `p-NNNN`.
    pub id: u32,
    /// The hashes of the partition keys it holds.
    pub range: HashRange,
    /// Whether its directory exists (created on the first write into its range).
    pub created: bool,
    /// Its AZs, primary and epoch (a catalog written before replication has none: one AZ,
    /// [`DEFAULT_AZ`], epoch 1).
    #[serde(default)]
    pub group: ReplicationGroup,
}

impl PartitionEntry {
    /// The partition's directory name.
    pub fn dir_name(&self) -> String {
        format!("p-{:04}", self.id)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum KeyType {
    S,
    N,
    B,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct KeyEntry {
    name: String,
    #[serde(rename = "type")]
    key_type: KeyType,
}

/// One table in the catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableEntry {
    /// The table's name.
    pub name: String,
    partition_key: KeyEntry,
    sort_key: Option<KeyEntry>,
    /// The partitions, in hash order; their ranges cover the whole hash space.
    pub partitions: Vec<PartitionEntry>,
    /// When the table was created, in milliseconds since the Unix epoch (0 in catalogs
    /// written before creation times were recorded: unknown).
    #[serde(default)]
    pub created_at_ms: u64,
    /// Its billing mode, throughput and tags (the defaults in catalogs written before
    /// they were kept).
    #[serde(default)]
    pub settings: TableSettings,
    /// Its secondary indexes (none in catalogs written before there were any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<IndexEntry>,
}

/// One secondary index of a table in the catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// The index's name.
    pub name: String,
    /// Its number within the table, never reused: a local index's entries carry it in
    /// their keys.
    pub ordinal: u8,
    /// Local or global.
    pub kind: IndexKind,
    partition_key: KeyEntry,
    sort_key: Option<KeyEntry>,
    /// What it holds of each item.
    pub projection: Projection,
    /// A global index's partitions, as a table's (none for a local index).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<PartitionEntry>,
    /// For a global index: for each of the table's partitions (by id), the LSN through
    /// which the index holds the effects of its log's records, durably.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub applied: BTreeMap<u32, u64>,
    /// For a global index added to a table with data: the table partitions (by id) whose
    /// items it has still to be filled with, each with the LSN its log's records are
    /// applied from (the items up to there come from the backfill). Empty once it is
    /// active.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub backfill_from: BTreeMap<u32, u64>,
    /// A global index's provisioned read and write capacity units (0 when on demand).
    #[serde(default)]
    pub read_capacity_units: u64,
    /// See `read_capacity_units`.
    #[serde(default)]
    pub write_capacity_units: u64,
}

impl IndexEntry {
    /// The entry of `schema` with number `ordinal`.
    pub fn new(schema: &IndexSchema, ordinal: u8) -> IndexEntry {
        IndexEntry {
            name: schema.name.clone(),
            ordinal,
            kind: schema.kind,
            partition_key: key_entry(&schema.key_schema.partition_key),
            sort_key: schema.key_schema.sort_key.as_ref().map(key_entry),
            projection: schema.projection.clone(),
            partitions: Vec::new(),
            applied: BTreeMap::new(),
            backfill_from: BTreeMap::new(),
            read_capacity_units: schema.throughput.0,
            write_capacity_units: schema.throughput.1,
        }
    }

    /// The index's schema.
    pub fn schema(&self) -> IndexSchema {
        IndexSchema {
            name: self.name.clone(),
            kind: self.kind,
            key_schema: KeySchema {
                partition_key: key_attribute(&self.partition_key),
                sort_key: self.sort_key.as_ref().map(key_attribute),
            },
            projection: self.projection.clone(),
            throughput: (self.read_capacity_units, self.write_capacity_units),
        }
    }
}

/// How a table is billed (DynamoDB's `BillingMode`). dynastore meters nothing: the mode
/// and throughput are kept and reported, as DynamoDB's clients expect.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum BillingMode {
    /// Provisioned read and write capacity units.
    Provisioned,
    /// On demand (the default).
    #[default]
    PayPerRequest,
}

/// A table's settings that do not change its data: billing, throughput and tags.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSettings {
    /// How it is billed.
    pub billing_mode: BillingMode,
    /// Provisioned read capacity units (0 when on demand).
    pub read_capacity_units: u64,
    /// Provisioned write capacity units (0 when on demand).
    pub write_capacity_units: u64,
    /// When the billing mode last became on demand, in milliseconds since the Unix epoch
    /// (0: at creation, or never).
    #[serde(default)]
    pub pay_per_request_since_ms: u64,
    /// Its tags (DynamoDB's TagResource), by key.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

fn key_entry(key: &KeyAttribute) -> KeyEntry {
    KeyEntry {
        name: key.name.clone(),
        key_type: match key.scalar_type {
            ScalarType::S => KeyType::S,
            ScalarType::N => KeyType::N,
            ScalarType::B => KeyType::B,
        },
    }
}

fn key_attribute(entry: &KeyEntry) -> KeyAttribute {
    KeyAttribute::new(
        entry.name.clone(),
        match entry.key_type {
            KeyType::S => ScalarType::S,
            KeyType::N => ScalarType::N,
            KeyType::B => ScalarType::B,
        },
    )
}

impl TableEntry {
    /// A new table whose hash space is cut into `partitions` ranges, none created yet, each
    /// replicated over `azs` (the first primary), created at `created_at_ms` (milliseconds
    /// since the Unix epoch).
    pub fn new(name: &str, key_schema: &KeySchema, partitions: u32, azs: &[String], created_at_ms: u64) -> TableEntry {
        TableEntry {
            name: name.to_owned(),
            partition_key: key_entry(&key_schema.partition_key),
            sort_key: key_schema.sort_key.as_ref().map(key_entry),
            partitions: TableEntry::new_partitions(partitions, azs),
            created_at_ms,
            settings: TableSettings::default(),
            indexes: Vec::new(),
        }
    }

    /// Partitions laid out as a new table's (`count` ranges, none created, each
    /// replicated over `azs`).
    pub fn new_partitions(count: u32, azs: &[String]) -> Vec<PartitionEntry> {
        HashRange::split_evenly(count)
            .into_iter()
            .enumerate()
            .map(|(id, range)| PartitionEntry {
                id: id as u32,
                range,
                created: false,
                group: ReplicationGroup::new(azs),
            })
            .collect()
    }

    /// The table's key schema.
    pub fn key_schema(&self) -> KeySchema {
        KeySchema {
            partition_key: key_attribute(&self.partition_key),
            sort_key: self.sort_key.as_ref().map(key_attribute),
        }
    }
}

/// The whole catalog: tables by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// Every table, by name.
    pub tables: BTreeMap<String, TableEntry>,
}

impl Catalog {
    /// Partition `id` of table `table`, or of its global index `index`.
    pub fn partition_mut(&mut self, table: &str, index: Option<&str>, id: u32) -> Option<&mut PartitionEntry> {
        let table = self.tables.get_mut(table)?;
        let partitions = match index {
            None => &mut table.partitions,
            Some(name) => &mut table.indexes.iter_mut().find(|entry| entry.name == name)?.partitions,
        };
        partitions.iter_mut().find(|p| p.id == id)
    }

    /// Reads the catalog of the data directory `dir`; an empty one if there is none yet.
    /// Removes a `CATALOG.tmp` left by a crash.
    ///
    /// Errors: [`crate::Error::Corruption`] if the file's checksum or JSON is wrong, [`crate::Error::Io`].
    pub fn load(fs: &dyn FileSystem, dir: &Path) -> Result<Catalog> {
        Ok(checked_file::read_json(fs, dir, CATALOG_FILE, FILE_KIND)?.unwrap_or_default())
    }

    /// Replaces the catalog of `dir` with this one, atomically and durably.
    ///
    /// Errors: [`crate::Error::Io`]; on error the old catalog is still in place, or the new one
    /// is if the rename had already happened.
    pub fn save(&self, fs: &dyn FileSystem, dir: &Path) -> Result<()> {
        checked_file::write_json(fs, dir, CATALOG_FILE, FILE_KIND, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_split_covers_the_hash_space_without_gaps() {
        for count in [1, 2, 3, 4, 7, 1000] {
            let ranges = HashRange::split_evenly(count);
            assert_eq!(ranges.len(), count as usize);
            assert_eq!(ranges[0].start, 0);
            assert_eq!(ranges.last().map(|r| r.end), Some(u64::MAX));
            assert!(ranges.windows(2).all(|w| w[0].end + 1 == w[1].start));
        }
    }

    #[test]
    fn promotions_record_where_each_epoch_began() {
        let group = ReplicationGroup::new(&["az-a".to_owned(), "az-b".to_owned(), "az-c".to_owned()]);
        assert_eq!(group.replica_azs().collect::<Vec<_>>(), ["az-b", "az-c"]);
        assert_eq!(group.last_lsn_of_epoch(1), None);
        let second = group.promoted("az-b", 40);
        assert_eq!(
            (second.primary.as_str(), second.epoch, second.failovers),
            ("az-b", 2, 1)
        );
        assert_eq!(second.replica_azs().collect::<Vec<_>>(), ["az-a", "az-c"]);
        let third = second.promoted("az-c", 90);
        // A replica last written in epoch 1 keeps up to 40, one of epoch 2 up to 90.
        assert_eq!(third.last_lsn_of_epoch(1), Some(40));
        assert_eq!(third.last_lsn_of_epoch(2), Some(90));
        assert_eq!(third.last_lsn_of_epoch(3), None);
    }

    #[test]
    fn a_catalog_without_groups_reads_as_one_az() {
        let json = r#"{"id":0,"range":{"start":0,"end":5},"created":true}"#;
        let entry: PartitionEntry = serde_json::from_str(json).unwrap();
        assert_eq!(entry.group, ReplicationGroup::new(&[DEFAULT_AZ.to_owned()]));
    }
}
