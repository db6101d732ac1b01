//! Item collections: in a table with local secondary indexes, the items of one partition
//! key and their local index entries, which share the key's range of its partition.
//! DynamoDB limits one to 10 GB (a write that would grow a larger one fails with
//! `ItemCollectionSizeLimitExceededException`) and reports its size in GB when a write
//! asks for `ReturnItemCollectionMetrics: SIZE`.
//!
//! A collection's size counts each item's size (DynamoDB's rules, as for the 400 KB
//! limit) and each index entry's, plus 100 bytes of overhead per index entry, as
//! DynamoDB's "Item collections" section documents for local index storage.

use super::entry::{StoredKey, classify};
use crate::error::Result;
use crate::item::key::storage_key;
use crate::item::validate::ScalarType;
use crate::item::{AttributeValue, Item};
use crate::storage::{KeyWrite, Partition};
use std::ops::Bound;

/// DynamoDB's limit on an item collection: 10 GB.
pub const ITEM_COLLECTION_BYTES_MAX: u64 = 10 << 30;

/// The bytes a local index entry counts for besides what it holds.
pub const ENTRY_OVERHEAD_BYTES: u64 = 100;

const GB: f64 = (1u64 << 30) as f64;

/// What an item collection's write reports with `ReturnItemCollectionMetrics: SIZE`.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemCollectionMetrics {
    /// The collection's partition key: one attribute, the table's partition key.
    pub key: Item,
    /// Lower and upper bounds of its size in GB: the whole GBs it holds, and one more
    /// (`[0.0, 1.0]` for a collection under 1 GB).
    pub size_estimate_range_gb: [f64; 2],
}

impl ItemCollectionMetrics {
    /// The metrics of the collection under `key` that holds `bytes`.
    pub fn new(key: Item, bytes: u64) -> ItemCollectionMetrics {
        let lower = (bytes as f64 / GB).floor();
        ItemCollectionMetrics {
            key,
            size_estimate_range_gb: [lower, lower + 1.0],
        }
    }
}

/// What an item and the local index entries a write derives of it count for in its
/// collection (the record's writes of one item: `derived` holds its entries).
pub(crate) fn measure(item: Option<&Item>, derived: &[KeyWrite]) -> u64 {
    let entries: u64 = derived
        .iter()
        .filter_map(|(_, entry)| entry.as_ref())
        .map(|entry| entry.size_bytes() as u64 + ENTRY_OVERHEAD_BYTES)
        .sum();
    item.map_or(0, |item| item.size_bytes() as u64) + entries
}

/// The size of the item collection under `partition_key` in `partition` (whose table's
/// partition key has type `partition_type`).
///
/// It reads the whole collection unless the partition as a whole is smaller than
/// `enough` bytes (twice its stored bytes, plus the per-entry overhead, bound what any of
/// its collections counts for); then it returns that bound, which is at least the size
/// and below `enough`. So a caller asks with `enough` the size below which it needs no
/// exact answer.
///
/// Errors: [`crate::Error::Corruption`] reading the partition.
pub(crate) fn collection_size(
    partition: &Partition,
    partition_key: &AttributeValue,
    partition_type: ScalarType,
    enough: u64,
) -> Result<u64> {
    // Stored bytes hold each attribute's name and value with a tag and a length, which
    // DynamoDB's sizes count at most twice over (a list's 1 byte per element against a
    // tag of 1): see the test of this bound.
    let bound = partition.stored_bound(ENTRY_OVERHEAD_BYTES).saturating_mul(2);
    if bound < enough {
        return Ok(bound);
    }
    let prefix = storage_key(partition_key, None);
    let mut size = 0u64;
    partition.visit_range(Bound::Included(&prefix), Bound::Unbounded, false, |key, item| {
        if !key.starts_with(&prefix) {
            return false;
        }
        size += item.size_bytes() as u64;
        if matches!(classify(key, partition_type), StoredKey::LocalEntry(_)) {
            size += ENTRY_OVERHEAD_BYTES;
        }
        true
    })?;
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_is_the_whole_gbs_and_one_more() {
        let key = Item::new().with("pk", "a");
        assert_eq!(
            ItemCollectionMetrics::new(key.clone(), 0).size_estimate_range_gb,
            [0.0, 1.0]
        );
        assert_eq!(
            ItemCollectionMetrics::new(key.clone(), (1 << 30) - 1).size_estimate_range_gb,
            [0.0, 1.0]
        );
        assert_eq!(
            ItemCollectionMetrics::new(key, 10 << 30).size_estimate_range_gb,
            [10.0, 11.0]
        );
    }

    #[test]
    fn an_entry_counts_its_size_and_the_overhead() {
        let item = Item::new().with("pk", "a").with("sk", 1).with("rank", 5);
        let entry = Item::new().with("pk", "a").with("sk", 1).with("rank", 5);
        let derived = vec![(vec![1], Some(entry.clone())), (vec![2], None)];
        assert_eq!(
            measure(Some(&item), &derived),
            (item.size_bytes() + entry.size_bytes()) as u64 + 100
        );
        assert_eq!(measure(None, &[]), 0);
    }
}
