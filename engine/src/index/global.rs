//! Global secondary indexes: the keys of their entries, what an item write notes of the
//! item it replaces (so that the index applier can delete the old entries), and the
//! index writes one item write becomes.
//!
//! # Entry keys (format version 1)
//!
//! A global index's partitions hold one entry per item that has the index's key
//! attributes, under
//!
//! ```text
//! xxh3(enc(index pk)) ++ enc(index pk) ++ [enc(index sk)] ++ enc(table pk) ++ [enc(table sk)]
//! ```
//!
//! (`enc` as in [`crate::item::key`], prefix-free, so the key is unique per item and a
//! query of one index partition key is one key range, in index sort key order, ties in
//! table key order). The value is what the index projects of the item.

use super::schema::IndexSchema;
use crate::item::key::{encode_key_value, storage_key};
use crate::item::validate::KeySchema;
use crate::item::{AttributeValue, Item};
use crate::storage::KeyWrite;

/// The key of `item`'s entry in the global index keyed by `index` of a table keyed by
/// `table`, or `None` if the item lacks one of those attributes (it is not in the index).
pub fn global_entry_key(table: &KeySchema, index: &KeySchema, item: &Item) -> Option<Vec<u8>> {
    let mut key = storage_key(item.get(&index.partition_key.name)?, None);
    let mut append = |value: Option<&AttributeValue>| -> Option<()> {
        encode_key_value(value?, &mut key);
        Some(())
    };
    if let Some(sort_key) = &index.sort_key {
        append(item.get(&sort_key.name))?;
    }
    append(item.get(&table.partition_key.name))?;
    if let Some(sort_key) = &table.sort_key {
        append(item.get(&sort_key.name))?;
    }
    Some(key)
}

/// The attributes a note keeps of the item a write replaces: the table's key and every
/// global index's key attributes, each once.
pub(crate) fn noted_attributes(table: &KeySchema, globals: &[IndexSchema]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let keys = std::iter::once(&table.partition_key)
        .chain(&table.sort_key)
        .chain(globals.iter().flat_map(IndexSchema::key_attributes));
    for key in keys {
        if !names.contains(&key.name) {
            names.push(key.name.clone());
        }
    }
    names
}

/// What a write notes of `old`, the item it replaces: its `noted` attributes, or `None`
/// if it is in no global index (then there is no entry to delete).
pub(crate) fn note_of(old: Option<&Item>, noted: &[String], globals: &[IndexSchema]) -> Option<Item> {
    let old = old?;
    if !globals.iter().any(|index| index.indexes(old)) {
        return None;
    }
    Some(old.subset(|name| noted.iter().any(|noted| noted == name)))
}

/// The writes to global index `index` that replacing the item noted as `old` by `new`
/// makes: the old entry deleted unless the new one has its key, and the new entry
/// written with what the index projects.
pub(crate) fn index_writes(
    table: &KeySchema,
    index: &IndexSchema,
    old: Option<&Item>,
    new: Option<&Item>,
) -> Vec<KeyWrite> {
    let old_key = old.and_then(|old| global_entry_key(table, &index.key_schema, old));
    let new_entry =
        new.and_then(|new| global_entry_key(table, &index.key_schema, new).map(|key| (key, index.project(new, table))));
    let mut writes = Vec::with_capacity(2);
    if let Some(old_key) = old_key
        && new_entry.as_ref().is_none_or(|(new_key, _)| *new_key != old_key)
    {
        writes.push((old_key, None));
    }
    if let Some((key, entry)) = new_entry {
        writes.push((key, Some(entry)));
    }
    writes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::Projection;
    use crate::item::validate::{KeyAttribute, ScalarType};

    fn schemas() -> (KeySchema, IndexSchema) {
        let table = KeySchema {
            partition_key: KeyAttribute::new("pk", ScalarType::S),
            sort_key: Some(KeyAttribute::new("sk", ScalarType::N)),
        };
        let index = IndexSchema::global(
            "by_city",
            KeySchema {
                partition_key: KeyAttribute::new("city", ScalarType::S),
                sort_key: Some(KeyAttribute::new("rank", ScalarType::N)),
            },
            Projection::KeysOnly,
        );
        (table, index)
    }

    #[test]
    fn a_write_deletes_the_old_entry_when_its_key_moves() {
        let (table, index) = schemas();
        let noted = noted_attributes(&table, std::slice::from_ref(&index));
        assert_eq!(noted, ["pk", "sk", "city", "rank"]);
        let old = Item::new()
            .with("pk", "a")
            .with("sk", 1)
            .with("city", "Oslo")
            .with("rank", 2)
            .with("x", 1);
        let note = note_of(Some(&old), &noted, std::slice::from_ref(&index)).unwrap();
        assert_eq!(note.get("x"), None);
        let moved = old.clone().with("rank", 3);
        let writes = index_writes(&table, &index, Some(&note), Some(&moved));
        assert_eq!(writes.len(), 2);
        assert_eq!(
            writes[0],
            (global_entry_key(&table, &index.key_schema, &old).unwrap(), None)
        );
        assert_eq!(
            writes[1].1,
            Some(
                Item::new()
                    .with("pk", "a")
                    .with("sk", 1)
                    .with("city", "Oslo")
                    .with("rank", 3)
            )
        );
        // The same key: only the new entry. Leaving the index: only the delete.
        assert_eq!(index_writes(&table, &index, Some(&note), Some(&old)).len(), 1);
        let outside = Item::new().with("pk", "a").with("sk", 1);
        assert_eq!(index_writes(&table, &index, Some(&note), Some(&outside))[0].1, None);
        assert_eq!(note_of(Some(&outside), &noted, std::slice::from_ref(&index)), None);
    }
}
