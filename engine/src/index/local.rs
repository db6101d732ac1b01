//! What a write of an item adds to its own WAL record (see
//! [`crate::storage::DerivedWrites`]): its local index entries, and a note of what the
//! item it replaces was keyed by in the global indexes.

use super::entry::local_entry_key;
use super::global::{note_of, noted_attributes};
use super::schema::IndexSchema;
use crate::item::Item;
use crate::item::validate::KeySchema;
use crate::storage::{DerivedWrites, KeyWrite};
use parking_lot::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// A table's local indexes, each with its ordinal (the byte its entries' keys carry).
#[derive(Debug, Clone)]
pub(crate) struct LocalIndexes {
    table: KeySchema,
    indexes: Vec<(u8, IndexSchema)>,
}

impl LocalIndexes {
    /// The local indexes `indexes` (ordinal and schema) of a table keyed by `table`.
    pub(crate) fn new(table: KeySchema, indexes: Vec<(u8, IndexSchema)>) -> Self {
        LocalIndexes { table, indexes }
    }

    /// Whether there are none.
    pub(crate) fn is_empty(&self) -> bool {
        self.indexes.is_empty()
    }

    /// The index's entry for `item`: its key and what it projects, or `None` if the item
    /// is not in the index.
    fn entry(&self, ordinal: u8, index: &IndexSchema, item: Option<&Item>) -> Option<(Vec<u8>, Item)> {
        let item = item?;
        let sort_key = &index.key_schema.sort_key.as_ref()?.name;
        let key = local_entry_key(&self.table, ordinal, sort_key, item)?;
        Some((key, index.project(item, &self.table)))
    }
}

impl DerivedWrites for LocalIndexes {
    fn needs_old(&self) -> bool {
        !self.indexes.is_empty()
    }

    /// For each index: the old entry deleted if the item left the index or moved in it,
    /// and the new entry written unless it is exactly the old one.
    fn derive(&self, old: Option<&Item>, new: Option<&Item>, out: &mut Vec<KeyWrite>) {
        for (ordinal, index) in &self.indexes {
            let before = self.entry(*ordinal, index, old);
            let after = self.entry(*ordinal, index, new);
            if before == after {
                continue;
            }
            if let Some((old_key, _)) = &before
                && after.as_ref().is_none_or(|(new_key, _)| new_key != old_key)
            {
                out.push((old_key.clone(), None));
            }
            if let Some((key, entry)) = after {
                out.push((key, Some(entry)));
            }
        }
    }
}

/// Everything a table's indexes add to an item's record. Its global indexes can change
/// while the table is open (one added or deleted): writers read them under the
/// partition's write lock, so each record is written with one set or the other.
#[derive(Debug)]
pub(crate) struct IndexWrites {
    local: LocalIndexes,
    table: KeySchema,
    /// The global indexes, and the attributes a note keeps (see [`noted_attributes`]).
    globals: RwLock<(Vec<IndexSchema>, Vec<String>)>,
    /// Whether there are any, read without the lock.
    has_globals: AtomicBool,
}

impl IndexWrites {
    /// The writes of a table keyed by `table` with `local` indexes (ordinal and schema)
    /// and `globals`.
    pub(crate) fn new(table: KeySchema, local: Vec<(u8, IndexSchema)>, globals: Vec<IndexSchema>) -> Self {
        let writes = IndexWrites {
            local: LocalIndexes::new(table.clone(), local),
            table,
            globals: RwLock::new((Vec::new(), Vec::new())),
            has_globals: AtomicBool::new(false),
        };
        writes.set_globals(globals);
        writes
    }

    /// Replaces the global indexes whose keys writes note.
    pub(crate) fn set_globals(&self, globals: Vec<IndexSchema>) {
        let noted = noted_attributes(&self.table, &globals);
        let any = !globals.is_empty();
        *self.globals.write() = (globals, noted);
        self.has_globals.store(any, Ordering::Release);
    }

    /// Whether the table has local indexes (whose entries share its partitions).
    pub(crate) fn has_local(&self) -> bool {
        !self.local.is_empty()
    }
}

impl DerivedWrites for IndexWrites {
    fn needs_old(&self) -> bool {
        self.has_local() || self.has_globals.load(Ordering::Acquire)
    }

    fn derive(&self, old: Option<&Item>, new: Option<&Item>, out: &mut Vec<KeyWrite>) {
        self.local.derive(old, new, out);
    }

    fn note(&self, old: Option<&Item>) -> Option<Item> {
        if !self.has_globals.load(Ordering::Acquire) {
            return None;
        }
        let globals = self.globals.read();
        note_of(old, &globals.1, &globals.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::Projection;
    use crate::item::validate::{KeyAttribute, ScalarType};

    fn indexes() -> LocalIndexes {
        let table = KeySchema {
            partition_key: KeyAttribute::new("pk", ScalarType::S),
            sort_key: Some(KeyAttribute::new("sk", ScalarType::N)),
        };
        let index = IndexSchema::local(
            "by_rank",
            &table,
            KeyAttribute::new("rank", ScalarType::N),
            Projection::KeysOnly,
        );
        LocalIndexes::new(table, vec![(0, index)])
    }

    #[test]
    fn moving_an_item_in_the_index_deletes_its_old_entry() {
        let indexes = indexes();
        let old = Item::new()
            .with("pk", "a")
            .with("sk", 1)
            .with("rank", 5)
            .with("other", "x");
        let new = Item::new().with("pk", "a").with("sk", 1).with("rank", 6);
        let mut out = Vec::new();
        indexes.derive(Some(&old), Some(&new), &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].1, None);
        assert_eq!(out[1].1, Some(new.clone()));
        // A change of an attribute the index does not project writes nothing.
        let renamed = new.clone().with("other", "y");
        out.clear();
        indexes.derive(Some(&new), Some(&renamed), &mut out);
        assert!(out.is_empty());
        // Leaving the index deletes the entry; a delete of an item outside writes nothing.
        let outside = Item::new().with("pk", "a").with("sk", 1);
        indexes.derive(Some(&new), Some(&outside), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].1, None);
        out.clear();
        indexes.derive(Some(&outside), None, &mut out);
        assert!(out.is_empty());
    }
}
