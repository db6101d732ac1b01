//! What a Query or Scan reads: a table's items, or the entries of one of its local
//! indexes (DynamoDB's `IndexName`), and how each maps keys and attributes.
//!
//! A table's items and its local indexes' entries share the partition (see
//! [`crate::index::entry`]): a read of the table skips the entries, a read of an index
//! reads only its own.

use crate::catalog::IndexEntry;
use crate::database::{GlobalIndex, Table, table_key};
use crate::error::Result;
use crate::expr::{Condition, Path};
use crate::group::Group;
use crate::index::entry::{StoredKey, classify, local_entries_prefix, local_entry_key};
use crate::index::global::global_entry_key;
use crate::index::{IndexKind, IndexSchema};
use crate::item::key::storage_key;
use crate::item::validate::{KeySchema, ValidationError, validate_key};
use crate::item::{AttributeValue, Item};

/// The table, or one of its indexes, as a read sees it.
pub(super) struct Target<'t> {
    table: &'t Table,
    index: Option<(&'t IndexEntry, &'t IndexSchema)>,
    /// A global index's partitions.
    global: Option<&'t GlobalIndex>,
}

impl<'t> Target<'t> {
    /// The index `index_name` of `table`, or the table itself if `None`.
    ///
    /// Errors: DynamoDB's `ValidationException` if the table has no such index.
    pub(super) fn of(table: &'t Table, index_name: Option<&str>) -> Result<Target<'t>> {
        let Some(name) = index_name else {
            return Ok(Target {
                table,
                index: None,
                global: None,
            });
        };
        let found = table
            .indexes
            .iter()
            .zip(&table.index_schemas)
            .find(|(entry, _)| entry.name == name);
        match found {
            Some(index) => Ok(Target {
                table,
                index: Some(index),
                global: table
                    .globals
                    .iter()
                    .find(|global| global.schema.name == name)
                    .map(|global| &**global),
            }),
            None => Err(ValidationError::InvalidParameter(format!(
                "The table does not have the specified index: {name}"
            ))
            .into()),
        }
    }

    /// The partitions read, in hash order: a global index's own, or the table's.
    pub(super) fn groups(&self) -> &'t [Group] {
        match self.global {
            Some(global) => &global.groups,
            None => &self.table.groups,
        }
    }

    /// The index read, if it is one.
    pub(super) fn index(&self) -> Option<&'t IndexSchema> {
        self.index.map(|(_, schema)| schema)
    }

    /// Whether it is a global index still being filled from the table's items.
    pub(super) fn backfilling(&self) -> bool {
        self.global.is_some_and(|global| !global.backfill.lock().is_empty())
    }

    /// The global index read, if it is one.
    pub(super) fn global(&self) -> Option<&'t IndexSchema> {
        self.global.map(|global| &global.schema)
    }

    /// The key a query's key condition names: the index's, or the table's.
    pub(super) fn key_schema(&self) -> &'t KeySchema {
        match self.index {
            Some((_, schema)) => &schema.key_schema,
            None => &self.table.key_schema,
        }
    }

    /// The prefix of every key read under `partition_key`, to which a sort key's encoding
    /// is appended.
    pub(super) fn partition_prefix(&self, partition_key: &AttributeValue) -> Vec<u8> {
        match (self.index, self.global) {
            (Some((entry, _)), None) => local_entries_prefix(partition_key, entry.ordinal),
            _ => storage_key(partition_key, None),
        }
    }

    /// The first key a query of `partition_key` may read: past the local index entries,
    /// which sort before a partition key's items (see [`crate::index::entry`]).
    pub(super) fn first_key(&self, partition_key: &AttributeValue) -> Vec<u8> {
        let mut first = self.partition_prefix(partition_key);
        if self.index.is_none() && self.table.key_schema.sort_key.is_some() {
            first.extend_from_slice(&[0, 1]);
        }
        first
    }

    /// The storage key an `exclusive_start_key` stands for.
    ///
    /// Errors: DynamoDB's "The provided starting key is invalid" if it is not exactly a
    /// key of the target (for an index: the table's key and the index's).
    pub(super) fn start_key(&self, start: &Item) -> Result<Vec<u8>> {
        let table_schema = &self.table.key_schema;
        let Some((entry, schema)) = self.index else {
            validate_key(start, table_schema).map_err(|_| start_key_error())?;
            return table_key(start, table_schema);
        };
        let names = self.key_names();
        let matches = start.len() == names.len()
            && names.iter().all(|name| start.get(name).is_some())
            && key_types_match(start, table_schema)
            && key_types_match(start, &schema.key_schema);
        if self.global.is_some() {
            return matches
                .then(|| global_entry_key(table_schema, &schema.key_schema, start))
                .flatten()
                .ok_or_else(|| start_key_error().into());
        }
        let sort_key = schema.key_schema.sort_key.as_ref().map(|key| key.name.as_str());
        match (matches, sort_key) {
            (true, Some(sort_key)) => {
                local_entry_key(table_schema, entry.ordinal, sort_key, start).ok_or_else(|| start_key_error().into())
            }
            _ => Err(start_key_error().into()),
        }
    }

    /// The attributes a `last_evaluated_key` holds: the table's key, then the index's.
    pub(super) fn key_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::with_capacity(4);
        let index_keys = self.index.iter().flat_map(|(_, schema)| schema.key_attributes());
        let table_keys = std::iter::once(&self.table.key_schema.partition_key).chain(&self.table.key_schema.sort_key);
        for key in table_keys.chain(index_keys) {
            if !names.contains(&key.name) {
                names.push(key.name.clone());
            }
        }
        names
    }

    /// Whether a key a scan meets belongs to the target (an item for the table, an entry
    /// of its own for an index).
    pub(super) fn holds(&self, key: &[u8]) -> bool {
        if self.global.is_some() {
            return true;
        }
        if !self.table.index_writes.has_local() {
            return self.index.is_none();
        }
        let kind = classify(key, self.table.key_schema.partition_key.scalar_type);
        match self.index {
            None => kind == StoredKey::Item,
            Some((entry, _)) => kind == StoredKey::LocalEntry(entry.ordinal),
        }
    }

    /// Whether the read must fetch each entry's item from the table: a local index read
    /// that wants, filters on or projects an attribute the index does not hold (DynamoDB
    /// fetches those from the table; a global index cannot).
    pub(super) fn fetches(
        &self,
        all_attributes: bool,
        projection: Option<&[Path]>,
        filter: Option<&Condition>,
    ) -> bool {
        let Some((_, schema)) = self.index.filter(|(_, schema)| schema.kind == IndexKind::Local) else {
            return false;
        };
        let table = &self.table.key_schema;
        let missing = |path: &Path| !schema.projects(path.root(), table);
        all_attributes
            || projection.is_some_and(|paths| paths.iter().any(missing))
            || filter.is_some_and(|filter| filter.paths().iter().any(|path| missing(path)))
    }

    /// The storage key of the item an entry (or item) read stands for.
    ///
    /// Errors: [`crate::Error::Validation`] if it lacks a table key attribute (a damaged
    /// entry).
    pub(super) fn item_key(&self, entry: &Item) -> Result<Vec<u8>> {
        table_key(entry, &self.table.key_schema)
    }
}

/// Whether each of `schema`'s key attributes that `item` has is of its type.
fn key_types_match(item: &Item, schema: &KeySchema) -> bool {
    std::iter::once(&schema.partition_key)
        .chain(&schema.sort_key)
        .all(|key| {
            item.get(&key.name)
                .is_none_or(|value| value.attribute_type() == key.scalar_type.attribute_type())
        })
}

/// DynamoDB's refusal of an `exclusive_start_key` that is not a key of the read.
pub(super) fn start_key_error() -> ValidationError {
    ValidationError::InvalidParameter(
        "The provided starting key is invalid: The provided key element does not match the schema".into(),
    )
}
