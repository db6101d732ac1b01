//! The item operations (DynamoDB's PutItem, GetItem, DeleteItem and UpdateItem): each
//! validates its input in DynamoDB's order, then writes through the partition's group
//! ([`Database::write_key`]) or reads from one of its copies.

use super::capacity::ConsumedCapacity;
use super::expressions::{resolve_delete, resolve_get, resolve_put, resolve_update};
use super::operations::{
    DeleteItemInput, DeleteItemOutput, GetItemInput, GetItemOutput, PutItemInput, PutItemOutput, ReturnValues,
    UpdateItemInput, UpdateItemOutput,
};
use crate::database::{Database, hash_of, table_key};
use crate::error::{Error, Result};
use crate::expr::update::{apply, project, validate_actions};
use crate::expr::{Condition, UpdateAction};
use crate::index::schema::validate_index_keys;
use crate::item::Item;
use crate::item::validate::{ValidationError, validate_item, validate_key};

impl Database {
    /// Writes an item, replacing any item with the same key (DynamoDB's PutItem).
    ///
    /// Errors: [`Error::Expression`] for a malformed or inconsistent expression (checked
    /// first), [`Error::ResourceNotFound`], [`Error::Validation`] (the item breaks a
    /// limit: nothing is written), [`Error::Wal`] / [`Error::Io`].
    pub fn put_item(&self, mut input: PutItemInput) -> Result<PutItemOutput> {
        resolve_put(&mut input)?;
        let table = self.table(&input.table_name)?;
        validate_item(&input.item, &table.key_schema)?;
        validate_index_keys(&input.item, &table.index_schemas)?;
        check_condition(input.condition.as_ref())?;
        check_put_delete_return_values(input.return_values)?;
        let key = table_key(&input.item, &table.key_schema)?;
        let counting = input.return_consumed_capacity.wanted();
        // The old item is read only when something needs it: a put is a blind write otherwise.
        let read_old = input.return_values == ReturnValues::AllOld || input.condition.is_some() || counting;
        let check = condition_check(input.condition.as_ref(), input.return_values_on_condition_check_failure);
        let item = input.item;
        let hash = hash_of(&key);
        let collection = self.collection_guard(&table, hash, &item)?;
        let old = self.write_key(&table, key, read_old, |current| {
            check(current)?;
            collection.admit(current, Some(&item))?;
            Ok(Some(item.clone()))
        })?;
        let item_collection_metrics =
            self.collection_metrics(&table, hash, &item, input.return_item_collection_metrics)?;
        let consumed_capacity = counting.then(|| {
            let bytes = old.as_ref().map_or(0, Item::size_bytes).max(item.size_bytes());
            ConsumedCapacity::write(&input.table_name, bytes).with_index_writes(
                &table.key_schema,
                &table.index_schemas,
                old.as_ref(),
                Some(&item),
            )
        });
        Ok(PutItemOutput {
            attributes: returned(old, input.return_values),
            consumed_capacity,
            item_collection_metrics,
        })
    }

    /// Reads the item under a key (DynamoDB's GetItem, strongly consistent).
    ///
    /// Errors: [`Error::Expression`] (checked first), [`Error::ResourceNotFound`],
    /// [`Error::Validation`] (the key does not match
    /// the schema).
    pub fn get_item(&self, mut input: GetItemInput) -> Result<GetItemOutput> {
        resolve_get(&mut input)?;
        let table = self.table(&input.table_name)?;
        validate_key(&input.key, &table.key_schema)?;
        let key = table_key(&input.key, &table.key_schema)?;
        let item = self
            .read(&table, hash_of(&key), input.consistent_read, |copy| {
                copy.get(key.clone())
            })?
            .flatten();
        // The whole item counts, whatever the projection returns of it.
        let consumed_capacity = input.return_consumed_capacity.wanted().then(|| {
            let bytes = item.as_ref().map_or(0, Item::size_bytes);
            ConsumedCapacity::read(&input.table_name, bytes, input.consistent_read)
        });
        let item = match &input.projection {
            Some(paths) => item.map(|item| project(&item, &paths.iter().collect::<Vec<_>>())),
            None => item,
        };
        Ok(GetItemOutput {
            item,
            consumed_capacity,
        })
    }

    /// Deletes the item under a key; deleting a missing item succeeds (DynamoDB's
    /// DeleteItem).
    ///
    /// Errors: [`Error::Expression`] (checked first), [`Error::ResourceNotFound`],
    /// [`Error::Validation`], [`Error::Wal`] /
    /// [`Error::Io`].
    pub fn delete_item(&self, mut input: DeleteItemInput) -> Result<DeleteItemOutput> {
        resolve_delete(&mut input)?;
        let table = self.table(&input.table_name)?;
        validate_key(&input.key, &table.key_schema)?;
        check_condition(input.condition.as_ref())?;
        check_put_delete_return_values(input.return_values)?;
        let key = table_key(&input.key, &table.key_schema)?;
        let check = condition_check(input.condition.as_ref(), input.return_values_on_condition_check_failure);
        let counting = input.return_consumed_capacity.wanted();
        let consumed = |old: Option<&Item>| {
            counting.then(|| {
                ConsumedCapacity::write(&input.table_name, old.map_or(0, Item::size_bytes)).with_index_writes(
                    &table.key_schema,
                    &table.index_schemas,
                    old,
                    None,
                )
            })
        };
        let hash = hash_of(&key);
        let metrics =
            |db: &Database| db.collection_metrics(&table, hash, &input.key, input.return_item_collection_metrics);
        // No partition yet means no item: only the condition is left to check.
        if self.partition(&table, hash, false)?.is_none() {
            check(None)?;
            return Ok(DeleteItemOutput {
                attributes: None,
                consumed_capacity: consumed(None),
                item_collection_metrics: metrics(self)?,
            });
        }
        let read_old = input.return_values == ReturnValues::AllOld || input.condition.is_some() || counting;
        // A delete never grows its collection: no limit to check.
        let old = self.write_key(&table, key, read_old, |current| check(current).map(|()| None))?;
        Ok(DeleteItemOutput {
            consumed_capacity: consumed(old.as_ref()),
            attributes: returned(old, input.return_values),
            item_collection_metrics: metrics(self)?,
        })
    }

    /// Changes an item by `actions` as one atomic write, creating it if it does not exist
    /// (DynamoDB's UpdateItem), and returns what `return_values` asks for. No actions (and
    /// no expression) writes the key alone where there is no item, as DynamoDB does.
    ///
    /// Errors: [`Error::Expression`] (checked first); [`Error::ResourceNotFound`];
    /// [`Error::Validation`] for a bad key, overlapping paths, an update of a key attribute, an operand of the wrong
    /// type or missing, an invalid path, arithmetic out of range, or a result over 400 KB;
    /// [`Error::ConditionalCheckFailed`]; [`Error::Wal`] / [`Error::Io`]. On any error
    /// nothing is written.
    pub fn update_item(&self, mut input: UpdateItemInput) -> Result<UpdateItemOutput> {
        resolve_update(&mut input)?;
        let table = self.table(&input.table_name)?;
        let schema = &table.key_schema;
        validate_key(&input.key, schema)?;
        check_condition(input.condition.as_ref())?;
        let key_names: Vec<&str> = std::iter::once(schema.partition_key.name.as_str())
            .chain(schema.sort_key.as_ref().map(|k| k.name.as_str()))
            .collect();
        validate_actions(&input.actions, &key_names)?;
        let key = table_key(&input.key, schema)?;
        let check = condition_check(input.condition.as_ref(), input.return_values_on_condition_check_failure);
        let mut new_item = None;
        let hash = hash_of(&key);
        let collection = self.collection_guard(&table, hash, &input.key)?;
        let old = self.write_key(&table, key, true, |current| {
            check(current)?;
            let original = current.cloned().unwrap_or_else(|| input.key.clone());
            let updated = apply(&original, &input.actions)?;
            validate_item(&updated, schema).map_err(|error| match error {
                ValidationError::ItemTooLarge { size, max } => ValidationError::UpdatedItemTooLarge { size, max },
                other => other,
            })?;
            validate_index_keys(&updated, &table.index_schemas)?;
            collection.admit(current, Some(&updated))?;
            new_item = Some(updated.clone());
            Ok(Some(updated))
        })?;
        let consumed_capacity = input.return_consumed_capacity.wanted().then(|| {
            let size = |item: Option<&Item>| item.map_or(0, Item::size_bytes);
            let bytes = size(old.as_ref()).max(size(new_item.as_ref()));
            ConsumedCapacity::write(&input.table_name, bytes).with_index_writes(
                &table.key_schema,
                &table.index_schemas,
                old.as_ref(),
                new_item.as_ref(),
            )
        });
        let item_collection_metrics =
            self.collection_metrics(&table, hash, &input.key, input.return_item_collection_metrics)?;
        let paths: Vec<_> = input.actions.iter().map(UpdateAction::path).collect();
        let non_empty = |item: Item| (!item.is_empty()).then_some(item);
        let attributes = match input.return_values {
            ReturnValues::None => None,
            ReturnValues::AllOld => old,
            ReturnValues::UpdatedOld => old.and_then(|item| non_empty(project(&item, &paths))),
            ReturnValues::AllNew => new_item,
            ReturnValues::UpdatedNew => new_item.and_then(|item| non_empty(project(&item, &paths))),
        };
        Ok(UpdateItemOutput {
            attributes,
            consumed_capacity,
            item_collection_metrics,
        })
    }
}

/// Puts and deletes return the old item or nothing.
fn check_put_delete_return_values(return_values: ReturnValues) -> Result<()> {
    match return_values {
        ReturnValues::None | ReturnValues::AllOld => Ok(()),
        _ => Err(ValidationError::InvalidParameter("Return values set to invalid value".into()).into()),
    }
}

fn check_condition(condition: Option<&Condition>) -> Result<()> {
    condition.map_or(Ok(()), |c| c.validate().map_err(Error::from))
}

/// The check a conditional write runs on the current item, under the partition's write
/// lock: a false condition fails the write with the item if `on_failure` asks for it.
fn condition_check(condition: Option<&Condition>, on_failure: ReturnValues) -> impl Fn(Option<&Item>) -> Result<()> {
    move |current| match condition {
        Some(condition) if !condition.evaluate(current) => Err(Error::ConditionalCheckFailed {
            item: (on_failure == ReturnValues::AllOld).then(|| current.cloned()).flatten(),
        }),
        _ => Ok(()),
    }
}

fn returned(old: Option<Item>, return_values: ReturnValues) -> Option<Item> {
    match return_values {
        ReturnValues::AllOld => old,
        _ => None,
    }
}
