//! The CATALOG: every table's schema, its hash ranges, and which partitions exist.
//!
//! # File format (version 1)
//!
//! `<data>/CATALOG` is one header line, `dynastore-catalog 1 crc32=XXXXXXXX`, where the
//! checksum (CRC-32, IEEE, 8 lowercase hex digits) covers everything after the newline:
//! the catalog as JSON (tables by name, each with its key schema and its partitions: id,
//! first and last hash of its range, and whether its directory was created).
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
use crate::item::{KeyAttribute, KeySchema, ScalarType};
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

/// One partition of a table: a hash range and, once written to, a directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionEntry {
    /// The partition's number within its table; its directory is `p-NNNN`.
    pub id: u32,
    /// The hashes of the partition keys it holds.
    pub range: HashRange,
    /// Whether its directory exists (created on the first write into its range).
    pub created: bool,
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
    /// A new table whose hash space is cut into `partitions` ranges, none created yet.
    pub fn new(name: &str, key_schema: &KeySchema, partitions: u32) -> TableEntry {
        TableEntry {
            name: name.to_owned(),
            partition_key: key_entry(&key_schema.partition_key),
            sort_key: key_schema.sort_key.as_ref().map(key_entry),
            partitions: HashRange::split_evenly(partitions)
                .into_iter()
                .enumerate()
                .map(|(id, range)| PartitionEntry {
                    id: id as u32,
                    range,
                    created: false,
                })
                .collect(),
        }
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
}
