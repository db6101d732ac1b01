//! The inputs and outputs of the item operations (DynamoDB's PutItem, GetItem, UpdateItem
//! and DeleteItem) and of ListTables, and the inputs of Query, Scan and BatchGetItem's
//! `KeysAndAttributes` (which `query` and `batch` re-export): one input and one output
//! type per operation, so that what DynamoDB adds to an operation (consumed capacity,
//! item collection metrics) can be added to its type without breaking callers. The
//! inputs live together so that resolving their expressions (`expressions`) depends on
//! them alone, not on the operations that run them. Every type is `#[non_exhaustive]`: build an input with
//! its `new` and set the fields that differ from DynamoDB's defaults.

use super::capacity::{ConsumedCapacity, ReturnConsumedCapacity};
use super::page::Select;
use crate::expr::legacy::{AttributeCondition, AttributeValueUpdate, ConditionalOperator, ExpectedAttributeValue};
use crate::expr::{Condition, Path, SortKeyCondition, UpdateAction};
use crate::index::collection::ItemCollectionMetrics;
use crate::item::AttributeValue;
use crate::item::Item;
use std::collections::HashMap;

/// What a write returns of the item it changed (DynamoDB's `ReturnValues`). Puts and
/// deletes take `None` or `AllOld`; updates take all five.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ReturnValues {
    /// Nothing (the default).
    #[default]
    None,
    /// The whole item as it was before the write.
    AllOld,
    /// The updated attributes as they were before.
    UpdatedOld,
    /// The whole item after the update.
    AllNew,
    /// The updated attributes as they are after.
    UpdatedNew,
}

/// The input of [`crate::Database::update_item`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct UpdateItemInput {
    /// The table.
    pub table_name: String,
    /// The item's primary key; the item is created if it does not exist.
    pub key: Item,
    /// The changes, applied as one atomic write.
    pub actions: Vec<UpdateAction>,
    /// Update only if the current item (or its absence) satisfies this.
    pub condition: Option<Condition>,
    /// What to return.
    pub return_values: ReturnValues,
    /// `AllOld`: a failed condition's error carries the current item.
    pub return_values_on_condition_check_failure: ReturnValues,
    /// The changes as DynamoDB's `UpdateExpression` (instead of `actions`, which must then
    /// be empty).
    pub update_expression: Option<String>,
    /// The condition as DynamoDB's `ConditionExpression` (instead of `condition`).
    pub condition_expression: Option<String>,
    /// The changes as DynamoDB's legacy `AttributeUpdates` (instead of `actions` or
    /// `update_expression`).
    pub attribute_updates: HashMap<String, AttributeValueUpdate>,
    /// The condition as DynamoDB's legacy `Expected` (instead of `condition` or
    /// `condition_expression`).
    pub expected: HashMap<String, ExpectedAttributeValue>,
    /// How `expected`'s entries combine (DynamoDB's legacy `ConditionalOperator`).
    pub conditional_operator: Option<ConditionalOperator>,
    /// The `#name` placeholders of its expressions (DynamoDB's `ExpressionAttributeNames`).
    pub expression_attribute_names: HashMap<String, String>,
    /// The `:value` placeholders of its expressions (DynamoDB's
    /// `ExpressionAttributeValues`).
    pub expression_attribute_values: HashMap<String, AttributeValue>,
    /// Whether to report the capacity consumed (DynamoDB's `ReturnConsumedCapacity`).
    pub return_consumed_capacity: ReturnConsumedCapacity,
    /// Whether to report the size of the item's collection in a table with local
    /// secondary indexes (DynamoDB's `ReturnItemCollectionMetrics: SIZE`).
    pub return_item_collection_metrics: bool,
}

impl UpdateItemInput {
    /// An update of the item under `key` in `table_name` by `actions`, returning nothing.
    pub fn new(table_name: impl Into<String>, key: Item, actions: Vec<UpdateAction>) -> Self {
        UpdateItemInput {
            table_name: table_name.into(),
            key,
            actions,
            condition: None,
            return_values: ReturnValues::None,
            return_values_on_condition_check_failure: ReturnValues::None,
            update_expression: None,
            condition_expression: None,
            expression_attribute_names: HashMap::new(),
            expression_attribute_values: HashMap::new(),
            expected: HashMap::new(),
            conditional_operator: None,
            attribute_updates: HashMap::new(),
            return_consumed_capacity: ReturnConsumedCapacity::None,
            return_item_collection_metrics: false,
        }
    }
}

/// The input of [`crate::Database::put_item`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PutItemInput {
    /// The table.
    pub table_name: String,
    /// The item, which replaces any item with the same key.
    pub item: Item,
    /// What to return of the replaced item.
    pub return_values: ReturnValues,
    /// Write only if the current item (or its absence) satisfies this.
    pub condition: Option<Condition>,
    /// `AllOld`: a failed condition's error carries the current item.
    pub return_values_on_condition_check_failure: ReturnValues,
    /// The condition as DynamoDB's `ConditionExpression` (instead of `condition`).
    pub condition_expression: Option<String>,
    /// The condition as DynamoDB's legacy `Expected` (instead of `condition` or
    /// `condition_expression`).
    pub expected: HashMap<String, ExpectedAttributeValue>,
    /// How `expected`'s entries combine (DynamoDB's legacy `ConditionalOperator`).
    pub conditional_operator: Option<ConditionalOperator>,
    /// The `#name` placeholders of its expressions (DynamoDB's `ExpressionAttributeNames`).
    pub expression_attribute_names: HashMap<String, String>,
    /// The `:value` placeholders of its expressions (DynamoDB's
    /// `ExpressionAttributeValues`).
    pub expression_attribute_values: HashMap<String, AttributeValue>,
    /// Whether to report the capacity consumed (DynamoDB's `ReturnConsumedCapacity`).
    pub return_consumed_capacity: ReturnConsumedCapacity,
    /// Whether to report the size of the item's collection in a table with local
    /// secondary indexes (DynamoDB's `ReturnItemCollectionMetrics: SIZE`).
    pub return_item_collection_metrics: bool,
}

impl PutItemInput {
    /// A put of `item` into `table_name`, returning nothing.
    pub fn new(table_name: impl Into<String>, item: Item) -> Self {
        PutItemInput {
            table_name: table_name.into(),
            item,
            return_values: ReturnValues::None,
            condition: None,
            return_values_on_condition_check_failure: ReturnValues::None,
            condition_expression: None,
            expression_attribute_names: HashMap::new(),
            expression_attribute_values: HashMap::new(),
            expected: HashMap::new(),
            conditional_operator: None,
            return_consumed_capacity: ReturnConsumedCapacity::None,
            return_item_collection_metrics: false,
        }
    }
}

/// The input of [`crate::Database::get_item`] (DynamoDB's GetItem).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct GetItemInput {
    /// The table.
    pub table_name: String,
    /// The primary key: exactly the table's key attributes.
    pub key: Item,
    /// Return only these attributes (DynamoDB's `ProjectionExpression`).
    pub projection: Option<Vec<crate::expr::Path>>,
    /// Read from the primary (true), or from any copy (false, the default, as DynamoDB's
    /// `ConsistentRead`). A replica serves only when it holds every write durable on the
    /// primary, so no read returns an item older than an acknowledged write, nor a write
    /// the primary did not make durable.
    pub consistent_read: bool,
    /// The projection as DynamoDB's `ProjectionExpression` (instead of `projection`).
    pub projection_expression: Option<String>,
    /// The projection as DynamoDB's legacy `AttributesToGet`: top-level attribute names.
    pub attributes_to_get: Option<Vec<String>>,
    /// The `#name` placeholders of its projection expression (DynamoDB's
    /// `ExpressionAttributeNames`).
    pub expression_attribute_names: HashMap<String, String>,
    /// Whether to report the capacity consumed (DynamoDB's `ReturnConsumedCapacity`).
    pub return_consumed_capacity: ReturnConsumedCapacity,
}

impl GetItemInput {
    /// The item under `key` in `table_name`, eventually consistent, every attribute.
    pub fn new(table_name: impl Into<String>, key: Item) -> Self {
        GetItemInput {
            table_name: table_name.into(),
            key,
            projection: None,
            consistent_read: false,
            projection_expression: None,
            expression_attribute_names: HashMap::new(),
            attributes_to_get: None,
            return_consumed_capacity: ReturnConsumedCapacity::None,
        }
    }
}

/// The output of [`crate::Database::get_item`].
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct GetItemOutput {
    /// The item, or `None` if there is no item under the key (DynamoDB then returns no
    /// `Item` at all).
    pub item: Option<Item>,
    /// The capacity consumed, when the input asked for it.
    pub consumed_capacity: Option<ConsumedCapacity>,
}

/// The input of [`crate::Database::delete_item`] (DynamoDB's DeleteItem).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DeleteItemInput {
    /// The table.
    pub table_name: String,
    /// The primary key: exactly the table's key attributes.
    pub key: Item,
    /// Delete only if the current item (or its absence) satisfies this.
    pub condition: Option<Condition>,
    /// What to return of the deleted item: `None` or `AllOld`.
    pub return_values: ReturnValues,
    /// `AllOld`: a failed condition's error carries the current item.
    pub return_values_on_condition_check_failure: ReturnValues,
    /// The condition as DynamoDB's `ConditionExpression` (instead of `condition`).
    pub condition_expression: Option<String>,
    /// The condition as DynamoDB's legacy `Expected` (instead of `condition` or
    /// `condition_expression`).
    pub expected: HashMap<String, ExpectedAttributeValue>,
    /// How `expected`'s entries combine (DynamoDB's legacy `ConditionalOperator`).
    pub conditional_operator: Option<ConditionalOperator>,
    /// The `#name` placeholders of its expressions (DynamoDB's `ExpressionAttributeNames`).
    pub expression_attribute_names: HashMap<String, String>,
    /// The `:value` placeholders of its expressions (DynamoDB's
    /// `ExpressionAttributeValues`).
    pub expression_attribute_values: HashMap<String, AttributeValue>,
    /// Whether to report the capacity consumed (DynamoDB's `ReturnConsumedCapacity`).
    pub return_consumed_capacity: ReturnConsumedCapacity,
    /// Whether to report the size of the item's collection in a table with local
    /// secondary indexes (DynamoDB's `ReturnItemCollectionMetrics: SIZE`).
    pub return_item_collection_metrics: bool,
}

impl DeleteItemInput {
    /// A delete of the item under `key` in `table_name`, returning nothing.
    pub fn new(table_name: impl Into<String>, key: Item) -> Self {
        DeleteItemInput {
            table_name: table_name.into(),
            key,
            condition: None,
            return_values: ReturnValues::None,
            return_values_on_condition_check_failure: ReturnValues::None,
            condition_expression: None,
            expression_attribute_names: HashMap::new(),
            expression_attribute_values: HashMap::new(),
            expected: HashMap::new(),
            conditional_operator: None,
            return_consumed_capacity: ReturnConsumedCapacity::None,
            return_item_collection_metrics: false,
        }
    }
}

/// The output of [`crate::Database::put_item`].
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct PutItemOutput {
    /// The item the put replaced, if `return_values` was `AllOld` and there was one.
    pub attributes: Option<Item>,
    /// The capacity consumed, when the input asked for it.
    pub consumed_capacity: Option<ConsumedCapacity>,
    /// The size of the item's collection, when the input asked for it and the table has
    /// local secondary indexes.
    pub item_collection_metrics: Option<ItemCollectionMetrics>,
}

/// The output of [`crate::Database::update_item`].
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct UpdateItemOutput {
    /// What `return_values` asked for: the whole item before or after, or the updated
    /// attributes before or after (`None` when that is nothing).
    pub attributes: Option<Item>,
    /// The capacity consumed, when the input asked for it.
    pub consumed_capacity: Option<ConsumedCapacity>,
    /// The size of the item's collection, when the input asked for it and the table has
    /// local secondary indexes.
    pub item_collection_metrics: Option<ItemCollectionMetrics>,
}

/// The output of [`crate::Database::delete_item`].
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct DeleteItemOutput {
    /// The deleted item, if `return_values` was `AllOld` and there was one.
    pub attributes: Option<Item>,
    /// The capacity consumed, when the input asked for it.
    pub consumed_capacity: Option<ConsumedCapacity>,
    /// The size of the item's collection, when the input asked for it and the table has
    /// local secondary indexes.
    pub item_collection_metrics: Option<ItemCollectionMetrics>,
}

/// The input of [`crate::Database::list_tables`] (DynamoDB's ListTables).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ListTablesInput {
    /// Start after this table name (a previous page's `last_evaluated_table_name`).
    pub exclusive_start_table_name: Option<String>,
    /// The most names to return, 1 to 100 (100 if not given).
    pub limit: Option<u32>,
}

/// The output of [`crate::Database::list_tables`]: one page of table names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ListTablesOutput {
    /// Table names, sorted.
    pub table_names: Vec<String>,
    /// The last name of this page when more follow: the next page's
    /// `exclusive_start_table_name`. `None` when this page ends the list.
    pub last_evaluated_table_name: Option<String>,
}

/// The input of [`crate::Database::query`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct QueryInput {
    /// The table.
    pub table_name: String,
    /// Query this index of the table instead (DynamoDB's `IndexName`): the key condition
    /// is on the index's key, items come in its sort key's order.
    pub index_name: Option<String>,
    /// The partition key value (equality); `None` when a `key_condition_expression` gives
    /// it.
    pub partition_key: Option<AttributeValue>,
    /// An optional condition on the sort key.
    pub sort_key_condition: Option<SortKeyCondition>,
    /// `true` (default) for ascending sort-key order, `false` for descending.
    pub scan_index_forward: bool,
    /// The most items to read in this page.
    pub limit: Option<u32>,
    /// Continue after this key (a previous page's `last_evaluated_key`).
    pub exclusive_start_key: Option<Item>,
    /// Return only the items read that satisfy this (it may not name key attributes).
    pub filter: Option<Condition>,
    /// Return only these attributes of each item.
    pub projection: Option<Vec<Path>>,
    /// What to return (DynamoDB's `Select`); `None` means every attribute, or the
    /// projection's if there is one.
    pub select: Option<Select>,
    /// Read from the primary (true), or from any copy (false, the default, as DynamoDB's
    /// `ConsistentRead`; see [`crate::GetItemInput::consistent_read`]).
    pub consistent_read: bool,
    /// The key condition as DynamoDB's `KeyConditionExpression` (instead of
    /// `partition_key` and `sort_key_condition`).
    pub key_condition_expression: Option<String>,
    /// The filter as DynamoDB's `FilterExpression` (instead of `filter`).
    pub filter_expression: Option<String>,
    /// The projection as DynamoDB's `ProjectionExpression` (instead of `projection`).
    pub projection_expression: Option<String>,
    /// The `#name` placeholders of its expressions (DynamoDB's `ExpressionAttributeNames`).
    pub expression_attribute_names: HashMap<String, String>,
    /// The `:value` placeholders of its expressions (DynamoDB's
    /// `ExpressionAttributeValues`).
    pub expression_attribute_values: HashMap<String, AttributeValue>,
    /// The key condition as DynamoDB's legacy `KeyConditions` (instead of the typed key
    /// or `key_condition_expression`).
    pub key_conditions: HashMap<String, AttributeCondition>,
    /// The filter as DynamoDB's legacy `QueryFilter` (instead of `filter` or
    /// `filter_expression`).
    pub query_filter: HashMap<String, AttributeCondition>,
    /// How the legacy filter's conditions combine (DynamoDB's `ConditionalOperator`).
    pub conditional_operator: Option<ConditionalOperator>,
    /// The projection as DynamoDB's legacy `AttributesToGet`: top-level attribute names.
    pub attributes_to_get: Option<Vec<String>>,
    /// Whether to report the capacity consumed (DynamoDB's `ReturnConsumedCapacity`).
    pub return_consumed_capacity: ReturnConsumedCapacity,
}

impl QueryInput {
    /// A query of every item under `partition_key`, ascending.
    pub fn new(table_name: impl Into<String>, partition_key: impl Into<AttributeValue>) -> Self {
        QueryInput::of(table_name.into(), Some(partition_key.into()), None)
    }

    /// A query of `table_name` by DynamoDB's `KeyConditionExpression` (its placeholders
    /// go into `expression_attribute_names` and `_values`), ascending.
    pub fn with_key_condition(table_name: impl Into<String>, key_condition_expression: impl Into<String>) -> Self {
        QueryInput::of(table_name.into(), None, Some(key_condition_expression.into()))
    }

    /// A query of `table_name` by DynamoDB's legacy `KeyConditions`, ascending.
    pub fn with_key_conditions(
        table_name: impl Into<String>,
        key_conditions: HashMap<String, AttributeCondition>,
    ) -> Self {
        QueryInput {
            key_conditions,
            ..QueryInput::of(table_name.into(), None, None)
        }
    }

    fn of(table_name: String, partition_key: Option<AttributeValue>, key_condition_expression: Option<String>) -> Self {
        QueryInput {
            table_name,
            index_name: None,
            partition_key,
            key_condition_expression,
            filter_expression: None,
            projection_expression: None,
            expression_attribute_names: HashMap::new(),
            expression_attribute_values: HashMap::new(),
            sort_key_condition: None,
            scan_index_forward: true,
            limit: None,
            exclusive_start_key: None,
            filter: None,
            projection: None,
            select: None,
            consistent_read: false,
            key_conditions: HashMap::new(),
            query_filter: HashMap::new(),
            conditional_operator: None,
            attributes_to_get: None,
            return_consumed_capacity: ReturnConsumedCapacity::None,
        }
    }
}

/// The input of [`crate::Database::scan`].
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct ScanInput {
    /// The table.
    pub table_name: String,
    /// Scan this index of the table instead (DynamoDB's `IndexName`).
    pub index_name: Option<String>,
    /// The most items to read in this page.
    pub limit: Option<u32>,
    /// Continue after this key (a previous page's `last_evaluated_key`).
    pub exclusive_start_key: Option<Item>,
    /// For a parallel scan: `(segment, total_segments)`, segment zero-based.
    pub segment: Option<(u32, u32)>,
    /// Return only the items read that satisfy this.
    pub filter: Option<Condition>,
    /// Return only these attributes of each item.
    pub projection: Option<Vec<Path>>,
    /// What to return (DynamoDB's `Select`); `None` means every attribute, or the
    /// projection's if there is one.
    pub select: Option<Select>,
    /// Read from the primaries (true), or from any copy (false, the default, as DynamoDB's
    /// `ConsistentRead`; see [`crate::GetItemInput::consistent_read`]).
    pub consistent_read: bool,
    /// The filter as DynamoDB's `FilterExpression` (instead of `filter`).
    pub filter_expression: Option<String>,
    /// The projection as DynamoDB's `ProjectionExpression` (instead of `projection`).
    pub projection_expression: Option<String>,
    /// The `#name` placeholders of its expressions (DynamoDB's `ExpressionAttributeNames`).
    pub expression_attribute_names: HashMap<String, String>,
    /// The `:value` placeholders of its expressions (DynamoDB's
    /// `ExpressionAttributeValues`).
    pub expression_attribute_values: HashMap<String, AttributeValue>,
    /// The filter as DynamoDB's legacy `ScanFilter` (instead of `filter` or
    /// `filter_expression`).
    pub scan_filter: HashMap<String, AttributeCondition>,
    /// How the legacy filter's conditions combine (DynamoDB's `ConditionalOperator`).
    pub conditional_operator: Option<ConditionalOperator>,
    /// The projection as DynamoDB's legacy `AttributesToGet`: top-level attribute names.
    pub attributes_to_get: Option<Vec<String>>,
    /// Whether to report the capacity consumed (DynamoDB's `ReturnConsumedCapacity`).
    pub return_consumed_capacity: ReturnConsumedCapacity,
}

impl ScanInput {
    /// A scan of the whole table.
    pub fn new(table_name: impl Into<String>) -> Self {
        ScanInput {
            table_name: table_name.into(),
            ..ScanInput::default()
        }
    }
}

/// The keys to read from one table, and how (DynamoDB's `KeysAndAttributes`).
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct KeysAndAttributes {
    /// The items' primary keys.
    pub keys: Vec<Item>,
    /// Return only these attributes of each item (DynamoDB's `ProjectionExpression`).
    pub projection: Option<Vec<Path>>,
    /// Read from the primary (true), or from any copy that holds every write durable on
    /// the primary (false, the default, as DynamoDB's `ConsistentRead`).
    pub consistent_read: bool,
    /// The projection as DynamoDB's `ProjectionExpression` (instead of `projection`).
    pub projection_expression: Option<String>,
    /// The `#name` placeholders of the projection expression (DynamoDB's
    /// `ExpressionAttributeNames`).
    pub expression_attribute_names: std::collections::HashMap<String, String>,
    /// The projection as DynamoDB's legacy `AttributesToGet`: top-level attribute names.
    pub attributes_to_get: Option<Vec<String>>,
}

impl KeysAndAttributes {
    /// `keys`, every attribute, eventually consistent.
    pub fn new(keys: Vec<Item>) -> Self {
        KeysAndAttributes {
            keys,
            ..KeysAndAttributes::default()
        }
    }
}
