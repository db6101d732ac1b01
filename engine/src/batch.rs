//! BatchWriteItem and BatchGetItem.
//!
//! A batch write validates every request before writing anything, then writes the
//! requests of each partition as one WAL record: within a partition the batch is all or
//! nothing, even across a crash. (Across partitions, as in DynamoDB, it is not atomic.)

use crate::database::{Database, Table, hash_of, table_key};
use crate::error::{Error, Result};
use crate::item::Item;
use crate::item::validate::{ValidationError, validate_item, validate_key};
use crate::partition::KeyWrite;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// The most requests one BatchWriteItem may carry.
pub const BATCH_WRITE_REQUESTS_MAX: usize = 25;
/// The most keys one BatchGetItem may ask for.
pub const BATCH_GET_KEYS_MAX: usize = 100;
/// The most bytes of items one BatchGetItem returns; the rest come back unprocessed.
pub const BATCH_GET_BYTES_MAX: usize = 16 << 20;

/// One request of a batch write.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteRequest {
    /// Put this item (replacing any item with its key).
    Put(Item),
    /// Delete the item under this key.
    Delete(Item),
}

/// The output of [`Database::batch_write`].
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct BatchWriteOutput {
    /// The requests that were not written (DynamoDB's `UnprocessedItems`), with their
    /// tables, in request order: the requests of partitions whose write failed. Send them
    /// again; a batch has no conditions, so a request that did land after all is
    /// harmless to repeat.
    pub unprocessed_items: Vec<(String, WriteRequest)>,
}

/// The result of [`Database::batch_get`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BatchGetOutput {
    /// The items found, with their tables, in request order.
    pub items: Vec<(String, Item)>,
    /// Keys not read because the response reached 16 MB; ask for them again.
    pub unprocessed_keys: Vec<(String, Item)>,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::Validation(ValidationError::InvalidParameter(message.into()))
}

fn duplicates() -> Error {
    invalid("Provided list of item keys contains duplicates")
}

fn count_error(max: usize) -> Error {
    invalid(format!(
        "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to {max}, Member must have length greater than or equal to 1]"
    ))
}

impl Database {
    /// Writes up to 25 puts and deletes (DynamoDB's BatchWriteItem; no conditions). Every
    /// request is validated before anything is written; the requests of one partition are
    /// written as one record, all or nothing. A partition whose write fails does not stop
    /// the others: its requests come back in [`BatchWriteOutput::unprocessed_items`], as
    /// DynamoDB returns `UnprocessedItems`.
    ///
    /// Errors: [`Error::Validation`] for an empty batch or one over 25 requests, two
    /// requests for one key, or any invalid item or key (nothing is written);
    /// [`Error::ResourceNotFound`]; when no partition's write succeeded, the first
    /// partition's error ([`Error::Wal`], [`Error::Io`], [`Error::Unavailable`],
    /// [`Error::Replication`]).
    pub fn batch_write(&self, requests: Vec<(String, WriteRequest)>) -> Result<BatchWriteOutput> {
        if requests.is_empty() || requests.len() > BATCH_WRITE_REQUESTS_MAX {
            return Err(count_error(BATCH_WRITE_REQUESTS_MAX));
        }
        // Validate everything first; group by table and partition, keeping request order.
        let mut tables: BTreeMap<String, Arc<Table>> = BTreeMap::new();
        let mut seen = HashSet::new();
        let mut groups: BTreeMap<(String, u64), Vec<(usize, KeyWrite)>> = BTreeMap::new();
        for (index, (table_name, request)) in requests.iter().enumerate() {
            let table = match tables.get(table_name) {
                Some(table) => Arc::clone(table),
                None => {
                    let table = self.table(table_name)?;
                    tables.insert(table_name.clone(), Arc::clone(&table));
                    table
                }
            };
            let (key, item) = match request {
                WriteRequest::Put(item) => {
                    validate_item(item, &table.key_schema)?;
                    (table_key(item, &table.key_schema)?, Some(item.clone()))
                }
                WriteRequest::Delete(key) => {
                    validate_key(key, &table.key_schema)?;
                    (table_key(key, &table.key_schema)?, None)
                }
            };
            if !seen.insert((table_name.clone(), key.clone())) {
                return Err(duplicates());
            }
            let slot = table.slot_index(hash_of(&key));
            groups
                .entry((table_name.clone(), slot))
                .or_default()
                .push((index, (key, item)));
        }
        let mut unprocessed = Vec::new();
        let mut first_error = None;
        let mut written_any = false;
        for ((table_name, _), group) in groups {
            let table = &tables[&table_name];
            let (indexes, writes): (Vec<usize>, Vec<KeyWrite>) = group.into_iter().unzip();
            let creates = writes.iter().any(|(_, item)| item.is_some());
            // Deletes alone need no partition that does not exist yet: nothing to delete.
            match self.write_group(table, hash_of(&writes[0].0), &writes, creates) {
                Ok(()) => written_any = true,
                Err(error) => {
                    first_error.get_or_insert(error);
                    unprocessed.extend(indexes);
                }
            }
        }
        match first_error {
            Some(error) if !written_any => Err(error),
            _ => {
                unprocessed.sort_unstable();
                let mut requests: Vec<Option<(String, WriteRequest)>> = requests.into_iter().map(Some).collect();
                let unprocessed_items = unprocessed
                    .into_iter()
                    .filter_map(|index| requests.get_mut(index).and_then(Option::take))
                    .collect();
                Ok(BatchWriteOutput { unprocessed_items })
            }
        }
    }

    /// Reads up to 100 items by key (DynamoDB's BatchGetItem, strongly consistent).
    /// Missing items are left out; keys past 16 MB of items come back unprocessed.
    ///
    /// Errors: [`Error::Validation`] for an empty request or one over 100 keys, a key
    /// asked for twice, or an invalid key; [`Error::ResourceNotFound`].
    pub fn batch_get(&self, keys: Vec<(String, Item)>) -> Result<BatchGetOutput> {
        if keys.is_empty() {
            return Err(count_error(BATCH_GET_KEYS_MAX));
        }
        if keys.len() > BATCH_GET_KEYS_MAX {
            return Err(invalid("Too many items requested for the BatchGetItem call"));
        }
        let mut seen = HashSet::new();
        let mut resolved = Vec::with_capacity(keys.len());
        for (table_name, key) in keys {
            let table = self.table(&table_name)?;
            validate_key(&key, &table.key_schema)?;
            let storage_key = table_key(&key, &table.key_schema)?;
            if !seen.insert((table_name.clone(), storage_key.clone())) {
                return Err(duplicates());
            }
            resolved.push((table, table_name, key, storage_key));
        }
        let mut output = BatchGetOutput::default();
        let mut bytes = 0;
        for (table, table_name, key, storage_key) in resolved {
            if bytes >= BATCH_GET_BYTES_MAX {
                output.unprocessed_keys.push((table_name, key));
                continue;
            }
            // Strongly consistent, from a sound copy (a damaged one is replaced).
            let found = self.read(&table, hash_of(&storage_key), true, |copy| {
                copy.get(storage_key.clone())
            })?;
            if let Some(item) = found.flatten() {
                bytes += item.size_bytes();
                output.items.push((table_name, item));
            }
        }
        Ok(output)
    }
}
