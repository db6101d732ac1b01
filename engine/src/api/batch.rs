//! BatchWriteItem and BatchGetItem.
//!
//! A batch write validates every request before writing anything, then writes the
//! requests of each partition as one WAL record: within a partition the batch is all or
//! nothing, even across a crash. (Across partitions, as in DynamoDB, it is not atomic.)

use super::capacity::{ConsumedCapacity, ReturnConsumedCapacity, read_units, write_units};
use super::expressions::resolve_keys_and_attributes;
pub use super::operations::KeysAndAttributes;
use crate::database::{Database, Table, hash_of, table_key};
use crate::error::{Error, Result};
use crate::expr::Path;
use crate::expr::update::project;
use crate::index::collection::ItemCollectionMetrics;
use crate::index::schema::validate_index_keys;
use crate::item::Item;
use crate::item::key::storage_key;
use crate::item::validate::{ValidationError, validate_item, validate_key};
use crate::storage::KeyWrite;
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
    /// Per table, in name order, the write units of the requests written (DynamoDB's
    /// `ConsumedCapacity`): a put's item per 1 KB; a delete, which reads nothing, the
    /// minimum of one.
    pub consumed_capacity: Vec<ConsumedCapacity>,
    /// With [`Database::batch_write_reporting`] asked to: per table, in name order, the
    /// size of each item collection the written requests touched, once each (tables
    /// with local secondary indexes only; DynamoDB's `ItemCollectionMetrics`).
    pub item_collection_metrics: Vec<(String, ItemCollectionMetrics)>,
}

/// The input of [`Database::batch_get`]: up to 100 keys over any tables.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct BatchGetInput {
    /// Per table, the keys to read and how (DynamoDB's `RequestItems`).
    pub request_items: BTreeMap<String, KeysAndAttributes>,
    /// Whether to report the capacity consumed (DynamoDB's `ReturnConsumedCapacity`).
    pub return_consumed_capacity: ReturnConsumedCapacity,
}

impl BatchGetInput {
    /// A batch reading `keys` from `table` (more tables with [`BatchGetInput::with`]).
    pub fn new(table: impl Into<String>, keys: KeysAndAttributes) -> Self {
        BatchGetInput::default().with(table, keys)
    }

    /// This batch, also reading `keys` from `table`.
    pub fn with(mut self, table: impl Into<String>, keys: KeysAndAttributes) -> Self {
        self.request_items.insert(table.into(), keys);
        self
    }
}

/// The output of [`Database::batch_get`].
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct BatchGetOutput {
    /// Per table, the items found, in the order their keys were asked for (DynamoDB's
    /// `Responses`; missing items are left out).
    pub responses: BTreeMap<String, Vec<Item>>,
    /// Per table, the keys not read because the response reached 16 MB, with the table's
    /// projection and consistency: send them again (DynamoDB's `UnprocessedKeys`).
    pub unprocessed_keys: BTreeMap<String, KeysAndAttributes>,
    /// Per table, in name order, the read units consumed, when the input asked: each key
    /// read counts its item per 4 KB on its own (a missing one the minimum), halved for
    /// eventually consistent reads.
    pub consumed_capacity: Vec<ConsumedCapacity>,
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
        self.batch_write_reporting(requests, false)
    }

    /// [`Database::batch_write`], also reporting each item collection's size if
    /// `collection_metrics` (DynamoDB's `ReturnItemCollectionMetrics: SIZE`). A put to a
    /// table with local secondary indexes is refused with
    /// [`Error::ItemCollectionSizeLimitExceeded`] (and nothing written) if it could take
    /// its collection past the limit: a batch's writes are blind, so the item it replaces
    /// is taken as nothing, and near the limit a put that keeps the size is refused too.
    ///
    /// Errors: those of [`Database::batch_write`], and that one.
    pub fn batch_write_reporting(
        &self,
        requests: Vec<(String, WriteRequest)>,
        collection_metrics: bool,
    ) -> Result<BatchWriteOutput> {
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
                    validate_index_keys(item, &table.index_schemas)?;
                    let key = table_key(item, &table.key_schema)?;
                    self.collection_guard(&table, hash_of(&key), item)?
                        .admit(None, Some(item))?;
                    (key, Some(item.clone()))
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
        // The items the written requests replaced (by request), where they were read: a
        // table with indexes reads them, and the index write units follow from them.
        let mut replaced: BTreeMap<usize, Item> = BTreeMap::new();
        for ((table_name, _), group) in groups {
            let table = &tables[&table_name];
            let (indexes, writes): (Vec<usize>, Vec<KeyWrite>) = group.into_iter().unzip();
            let creates = writes.iter().any(|(_, item)| item.is_some());
            // Deletes alone need no partition that does not exist yet: nothing to delete.
            match self.write_group(table, hash_of(&writes[0].0), &writes, creates) {
                Ok(old) => {
                    written_any = true;
                    replaced.extend(indexes.into_iter().zip(old).filter_map(|(at, old)| Some((at, old?))));
                }
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
                // What is left in `requests` was written: each request's units, and those
                // of the index entries it changed.
                let mut consumed: BTreeMap<String, ConsumedCapacity> = BTreeMap::new();
                for (at, written) in requests.iter().enumerate() {
                    let Some((table_name, request)) = written else {
                        continue;
                    };
                    let table = &tables[table_name];
                    let new = match request {
                        WriteRequest::Put(item) => Some(item),
                        WriteRequest::Delete(_) => None,
                    };
                    let units = ConsumedCapacity::writes(table_name, write_units(new.map_or(0, Item::size_bytes)))
                        .with_index_writes(&table.key_schema, &table.index_schemas, replaced.get(&at), new);
                    consumed
                        .entry(table_name.clone())
                        .and_modify(|total| total.absorb(&units))
                        .or_insert(units);
                }
                let consumed_capacity = consumed.into_values().collect();
                let item_collection_metrics = if collection_metrics {
                    self.touched_collections(&tables, requests.iter().flatten())?
                } else {
                    Vec::new()
                };
                Ok(BatchWriteOutput {
                    unprocessed_items,
                    consumed_capacity,
                    item_collection_metrics,
                })
            }
        }
    }

    /// The metrics of each item collection `written` touched in tables with local indexes,
    /// per table in name order, once each.
    ///
    /// Errors: [`Error::Corruption`] reading a collection.
    fn touched_collections<'a>(
        &self,
        tables: &BTreeMap<String, Arc<Table>>,
        written: impl Iterator<Item = &'a (String, WriteRequest)>,
    ) -> Result<Vec<(String, ItemCollectionMetrics)>> {
        let mut collections: BTreeMap<(&str, Vec<u8>), &Item> = BTreeMap::new();
        for (table_name, request) in written {
            let table = &tables[table_name];
            let (WriteRequest::Put(item) | WriteRequest::Delete(item)) = request;
            let partition_key = item.get(&table.key_schema.partition_key.name);
            if let Some(value) = partition_key.filter(|_| table.index_writes.has_local()) {
                collections.insert((table_name, storage_key(value, None)), item);
            }
        }
        let mut metrics = Vec::new();
        for ((table_name, key), item) in collections {
            if let Some(found) = self.collection_metrics(&tables[table_name], hash_of(&key), item, true)? {
                metrics.push((table_name.to_owned(), found));
            }
        }
        Ok(metrics)
    }

    /// Reads up to 100 items by key over any tables (DynamoDB's BatchGetItem), each table
    /// with its projection and consistency. Missing items are left out; keys past 16 MB of
    /// items come back unprocessed.
    ///
    /// Errors: [`Error::Expression`] for a refused projection expression;
    /// [`Error::Validation`] for no keys (or a table with none), over 100 keys, a
    /// key asked for twice, or an invalid key; [`Error::ResourceNotFound`].
    pub fn batch_get(&self, mut input: BatchGetInput) -> Result<BatchGetOutput> {
        for request in input.request_items.values_mut() {
            resolve_keys_and_attributes(request)?;
        }
        let total: usize = input.request_items.values().map(|request| request.keys.len()).sum();
        if input.request_items.is_empty() || input.request_items.values().any(|request| request.keys.is_empty()) {
            return Err(count_error(BATCH_GET_KEYS_MAX));
        }
        if total > BATCH_GET_KEYS_MAX {
            return Err(invalid("Too many items requested for the BatchGetItem call"));
        }
        let mut resolved = Vec::with_capacity(input.request_items.len());
        for (table_name, request) in input.request_items {
            let table = self.table(&table_name)?;
            let mut seen = HashSet::new();
            let mut keys = Vec::with_capacity(request.keys.len());
            for key in &request.keys {
                validate_key(key, &table.key_schema)?;
                let storage_key = table_key(key, &table.key_schema)?;
                if !seen.insert(storage_key.clone()) {
                    return Err(duplicates());
                }
                keys.push(storage_key);
            }
            resolved.push((table_name, table, request, keys));
        }
        let mut output = BatchGetOutput::default();
        let counting = input.return_consumed_capacity.wanted();
        let mut bytes = 0;
        for (table_name, table, request, storage_keys) in resolved {
            let mut units = 0.0;
            let projection: Option<Vec<&Path>> = request.projection.as_ref().map(|paths| paths.iter().collect());
            let mut found = Vec::new();
            let mut unprocessed = Vec::new();
            for (key, storage_key) in request.keys.iter().zip(storage_keys) {
                if bytes >= BATCH_GET_BYTES_MAX {
                    unprocessed.push(key.clone());
                    continue;
                }
                // From a sound copy (a damaged one is replaced).
                let item = self.read(&table, hash_of(&storage_key), request.consistent_read, |copy| {
                    copy.get(storage_key.clone())
                })?;
                let item = item.flatten();
                units += read_units(item.as_ref().map_or(0, Item::size_bytes), request.consistent_read);
                if let Some(item) = item {
                    let item = match &projection {
                        Some(paths) => project(&item, paths),
                        None => item,
                    };
                    bytes += item.size_bytes();
                    found.push(item);
                }
            }
            if !unprocessed.is_empty() {
                let mut keys = KeysAndAttributes::new(unprocessed);
                keys.projection = request.projection.clone();
                keys.consistent_read = request.consistent_read;
                output.unprocessed_keys.insert(table_name.clone(), keys);
            }
            if counting {
                output
                    .consumed_capacity
                    .push(ConsumedCapacity::reads(&table_name, units));
            }
            output.responses.insert(table_name, found);
        }
        Ok(output)
    }
}
