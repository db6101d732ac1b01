//! A partition's memtable: its keys, the versions it holds, and the one rule by which a
//! version enters it (the newest LSN wins).

use crate::item::Item;
use crate::item::codec::encode_item;
use dynastore_wal::Lsn;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::sync::Arc;

/// Bytes a memtable entry costs beyond its key and encoded item: the tree's share, the
/// key and version structs, and the allocator's headers (measured: see the LSM notes).
const ENTRY_OVERHEAD_BYTES: usize = 160;

/// A memtable key: the storage key, with its first 8 bytes (the partition key's hash)
/// also held inline, so that comparing keys of different partition keys, most of the
/// comparisons of a lookup, does not touch the heap. It orders exactly as the storage key
/// bytes do (shorter keys are padded with zeros in the prefix, which keeps that order).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct MemKey {
    prefix: u64,
    /// The storage key.
    pub(crate) bytes: Vec<u8>,
}

impl MemKey {
    /// The memtable key of storage key `bytes`.
    pub(crate) fn new(bytes: Vec<u8>) -> MemKey {
        let mut prefix = [0u8; 8];
        let n = bytes.len().min(8);
        prefix[..n].copy_from_slice(&bytes[..n]);
        MemKey {
            prefix: u64::from_be_bytes(prefix),
            bytes,
        }
    }
}

impl Ord for MemKey {
    fn cmp(&self, other: &MemKey) -> std::cmp::Ordering {
        self.prefix
            .cmp(&other.prefix)
            .then_with(|| self.bytes.cmp(&other.bytes))
    }
}

impl PartialOrd for MemKey {
    fn partial_cmp(&self, other: &MemKey) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// An item as the item codec encodes it. Memtables hold items encoded: a few hundred
/// bytes less per entry than a decoded tree of attributes, one allocation instead of
/// several, and a flush copies them into SSTables as they are.
pub(crate) type Encoded = Arc<[u8]>;

/// Encodes `item` for a memtable.
pub(crate) fn encode(item: &Item) -> Encoded {
    let mut bytes = Vec::with_capacity(128);
    encode_item(item, &mut bytes);
    Arc::from(bytes)
}

/// One version of one key: the encoded item (or its absence) as of a WAL record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Version {
    /// The record that wrote it.
    pub(crate) lsn: Lsn,
    /// The item, or `None` for a deletion (a tombstone).
    pub(crate) value: Option<Encoded>,
}

/// Versions by key, one per key: the newest applied.
pub(crate) type Memtable = BTreeMap<MemKey, Version>;

/// Puts `version` of `key` into `memtable` unless it holds a newer one (writers of one
/// key may finish out of LSN order); returns the bytes the memtable grew by, if it took
/// the version.
///
/// This is enough to keep the newest version visible only because no freeze separates a
/// write's enqueue from its apply (see [`crate::storage::write_order`]): a version newer than this
/// one was enqueued after it, in the same memtable's lifetime, so if it was applied it is
/// here, not in a frozen memtable or an SSTable.
pub(crate) fn apply(memtable: &mut Memtable, key: MemKey, version: Version) -> Option<usize> {
    let bytes = entry_bytes(&key.bytes, version.value.as_deref());
    match memtable.entry(key) {
        Entry::Occupied(held) if held.get().lsn > version.lsn => None,
        Entry::Occupied(mut held) => {
            held.insert(version);
            Some(bytes)
        }
        Entry::Vacant(slot) => {
            slot.insert(version);
            Some(bytes)
        }
    }
}

/// The approximate memory a memtable entry takes.
pub(crate) fn entry_bytes(key: &[u8], value: Option<&[u8]>) -> usize {
    key.len() + value.map_or(0, <[u8]>::len) + ENTRY_OVERHEAD_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        // Short keys and a small alphabet, so that equal prefixes and zero padding are common.
        proptest::collection::vec(prop_oneof![Just(0u8), Just(1u8), Just(255u8)], 0..12)
    }

    fn version(lsn: u64) -> Version {
        Version {
            lsn: Lsn(lsn),
            value: Some(Arc::from(lsn.to_be_bytes().as_slice())),
        }
    }

    proptest! {
        #[test]
        fn memtable_keys_order_exactly_as_their_bytes(a in bytes(), b in bytes()) {
            prop_assert_eq!(MemKey::new(a.clone()).cmp(&MemKey::new(b.clone())), a.cmp(&b));
        }

        /// Whatever order versions of one key are applied in, the memtable ends up with
        /// the one of the highest LSN.
        #[test]
        fn the_newest_version_wins_in_any_apply_order(lsns in proptest::collection::vec(1u64..50, 1..8)) {
            let mut memtable = Memtable::new();
            for &lsn in &lsns {
                apply(&mut memtable, MemKey::new(b"k".to_vec()), version(lsn));
            }
            let newest = lsns.iter().copied().max().unwrap_or(0);
            prop_assert_eq!(memtable.get(&MemKey::new(b"k".to_vec())), Some(&version(newest)));
        }
    }

    #[test]
    fn an_older_version_is_refused_and_counts_no_bytes() {
        let mut memtable = Memtable::new();
        let key = || MemKey::new(b"k".to_vec());
        assert_eq!(
            apply(&mut memtable, key(), version(11)),
            Some(entry_bytes(b"k", Some(&[0; 8])))
        );
        assert_eq!(apply(&mut memtable, key(), version(10)), None);
        assert_eq!(memtable[&key()].lsn, Lsn(11));
    }
}
