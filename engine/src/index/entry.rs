//! The storage keys of local index entries, which share the item's partition.
//!
//! # Format (version 1)
//!
//! An item's storage key is `hash ++ enc(pk) ++ enc(sk)` (see [`crate::item::key`]). An
//! entry of the local index with ordinal `o` (its place in the CATALOG, fixed at creation)
//! for that item is
//!
//! ```text
//! hash ++ enc(pk) ++ 0x00 0x00 ++ o ++ enc(index sort key) ++ enc(sk)
//! ```
//!
//! No item has such a key: a table with a local index has a sort key, whose encoding
//! never begins with `0x00 0x00` (that is the empty string's or binary's, and key values
//! are never empty; a number's begins with 1, 2 or 3). So an item's entries sort before
//! its partition key's items, in the same hash range (same partition) and item
//! collection, each index's entries together in its sort key's order, ties broken by the
//! table's sort key (entries are unique per item). The entry's value is what the index
//! projects of the item.

use crate::item::key::{encode_key_value, storage_key};
use crate::item::validate::{KeySchema, ScalarType};
use crate::item::{AttributeValue, Item};

/// The two bytes after the encoded partition key that mark a local index entry.
const ENTRY_MARK: [u8; 2] = [0, 0];

/// What a storage key of a table with a sort key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredKey {
    /// An item.
    Item,
    /// An entry of the local index with this ordinal.
    LocalEntry(u8),
}

/// The prefix of every entry of local index `ordinal` under `partition_key`.
pub fn local_entries_prefix(partition_key: &AttributeValue, ordinal: u8) -> Vec<u8> {
    let mut prefix = storage_key(partition_key, None);
    prefix.extend_from_slice(&ENTRY_MARK);
    prefix.push(ordinal);
    prefix
}

/// The key of `item`'s entry in local index `ordinal` sorted by `index_sort_key`, or
/// `None` if the item lacks that attribute (or a table key) and so is not in the index.
pub fn local_entry_key(table: &KeySchema, ordinal: u8, index_sort_key: &str, item: &Item) -> Option<Vec<u8>> {
    let partition_key = item.get(&table.partition_key.name)?;
    let table_sort_key = item.get(&table.sort_key.as_ref()?.name)?;
    let index_value = item.get(index_sort_key)?;
    let mut key = local_entries_prefix(partition_key, ordinal);
    encode_key_value(index_value, &mut key);
    encode_key_value(table_sort_key, &mut key);
    Some(key)
}

/// The length of `key`'s hash and encoded partition key (of type `partition_type`), or
/// `None` if it is cut short.
pub fn partition_prefix_len(key: &[u8], partition_type: ScalarType) -> Option<usize> {
    let encoded = key.get(8..)?;
    let len = match partition_type {
        // Bytes with each 0x00 escaped as 0x00 0x01, then the terminator 0x00 0x00.
        ScalarType::S | ScalarType::B => {
            let mut at = 0;
            loop {
                match (encoded.get(at)?, encoded.get(at + 1)) {
                    (0, Some(0)) => break at + 2,
                    (0, Some(_)) => at += 2,
                    (0, None) => return None,
                    _ => at += 1,
                }
            }
        }
        // A sign byte; zero ends there, others have a magnitude byte then digit pairs up
        // to a terminator (0x00, or 0xFF for a negative number's complemented bytes).
        ScalarType::N => match *encoded.first()? {
            2 => 1,
            sign => {
                let terminator = if sign == 1 { 0xFF } else { 0 };
                2 + encoded.get(2..)?.iter().position(|&b| b == terminator)? + 1
            }
        },
    };
    Some(8 + len)
}

/// Whether `key`, of a table whose partition key has type `partition_type`, is an item's
/// or a local index entry's. A key too short to tell is taken as an item's (none is).
pub fn classify(key: &[u8], partition_type: ScalarType) -> StoredKey {
    let Some(at) = partition_prefix_len(key, partition_type) else {
        return StoredKey::Item;
    };
    match key.get(at..at + 3) {
        Some([0, 0, ordinal]) => StoredKey::LocalEntry(*ordinal),
        _ => StoredKey::Item,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::Number;
    use crate::item::validate::KeyAttribute;
    use proptest::prelude::*;

    fn table(pk: ScalarType, sk: ScalarType) -> KeySchema {
        KeySchema {
            partition_key: KeyAttribute::new("pk", pk),
            sort_key: Some(KeyAttribute::new("sk", sk)),
        }
    }

    fn key_value(kind: u8, bytes: Vec<u8>, number: i64, scale: i32) -> (ScalarType, AttributeValue) {
        match kind % 3 {
            0 => (
                ScalarType::S,
                AttributeValue::S(String::from_utf8_lossy(&bytes).into_owned() + "x"),
            ),
            1 => (ScalarType::B, AttributeValue::B([bytes, vec![1]].concat())),
            _ => {
                let text = format!("{number}e{scale}");
                (ScalarType::N, AttributeValue::N(text.parse::<Number>().unwrap()))
            }
        }
    }

    proptest! {
        /// No item's key is taken for an entry, every entry is known by its ordinal, and
        /// entries sort before their partition key's items.
        #[test]
        fn items_and_entries_are_told_apart(
            kinds in (0u8..3, 0u8..3, 0u8..3),
            bytes in (proptest::collection::vec(any::<u8>(), 0..6), proptest::collection::vec(any::<u8>(), 0..6), proptest::collection::vec(any::<u8>(), 0..6)),
            numbers in (any::<i64>(), any::<i64>(), any::<i64>()),
            scales in (-120i32..100, -120i32..100, -120i32..100),
            ordinal in 0u8..5,
        ) {
            let (pk_type, pk) = key_value(kinds.0, bytes.0, numbers.0, scales.0);
            let (sk_type, sk) = key_value(kinds.1, bytes.1, numbers.1, scales.1);
            let (_, lsi) = key_value(kinds.2, bytes.2, numbers.2, scales.2);
            let schema = table(pk_type, sk_type);
            let item = Item::new().with("pk", pk.clone()).with("sk", sk.clone()).with("lsi", lsi);
            let item_key = storage_key(&pk, Some(&sk));
            prop_assert_eq!(classify(&item_key, pk_type), StoredKey::Item);
            prop_assert_eq!(partition_prefix_len(&item_key, pk_type), Some(storage_key(&pk, None).len()));
            let entry = local_entry_key(&schema, ordinal, "lsi", &item).unwrap();
            prop_assert_eq!(classify(&entry, pk_type), StoredKey::LocalEntry(ordinal));
            prop_assert!(entry < item_key);
            prop_assert!(entry.starts_with(&storage_key(&pk, None)));
        }
    }

    #[test]
    fn an_item_without_the_index_key_has_no_entry() {
        let schema = table(ScalarType::S, ScalarType::N);
        let item = Item::new().with("pk", "a").with("sk", 1);
        assert_eq!(local_entry_key(&schema, 0, "lsi", &item), None);
    }
}
