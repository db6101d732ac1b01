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
    /// written as one record, all or nothing.
    ///
    /// Errors: [`Error::Validation`] for an empty batch or one over 25 requests, two
    /// requests for one key, or any invalid item or key; [`Error::ResourceNotFound`];
    /// [`Error::Wal`] / [`Error::Io`] (partitions written before the failure keep their
    /// writes, as in DynamoDB a batch is not atomic across partitions).
    pub fn batch_write(&self, requests: Vec<(String, WriteRequest)>) -> Result<()> {
        if requests.is_empty() || requests.len() > BATCH_WRITE_REQUESTS_MAX {
            return Err(count_error(BATCH_WRITE_REQUESTS_MAX));
        }
        // Validate everything first; group by table and partition, keeping request order.
        let mut tables: BTreeMap<String, Arc<Table>> = BTreeMap::new();
        let mut seen = HashSet::new();
        let mut groups: BTreeMap<(String, u64), Vec<KeyWrite>> = BTreeMap::new();
        for (table_name, request) in requests {
            let table = match tables.get(&table_name) {
                Some(table) => Arc::clone(table),
                None => {
                    let table = self.table(&table_name)?;
                    tables.insert(table_name.clone(), Arc::clone(&table));
                    table
                }
            };
            let (key, item) = match request {
                WriteRequest::Put(item) => {
                    validate_item(&item, &table.key_schema)?;
                    (table_key(&item, &table.key_schema)?, Some(item))
                }
                WriteRequest::Delete(key) => {
                    validate_key(&key, &table.key_schema)?;
                    (table_key(&key, &table.key_schema)?, None)
                }
            };
            if !seen.insert((table_name.clone(), key.clone())) {
                return Err(duplicates());
            }
            let slot = table.slot_index(hash_of(&key));
            groups.entry((table_name, slot)).or_default().push((key, item));
        }
        for ((table_name, _), writes) in groups {
            let table = &tables[&table_name];
            let creates = writes.iter().any(|(_, item)| item.is_some());
            // Deletes alone need no partition that does not exist yet: nothing to delete.
            self.write_group(table, hash_of(&writes[0].0), writes, creates)?;
        }
        Ok(())
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
