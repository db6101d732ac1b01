//! The inputs and outputs of the item operations (DynamoDB's PutItem, GetItem, UpdateItem
//! and DeleteItem) and of ListTables: one input and one output type per operation, so that what DynamoDB
//! adds to an operation (consumed capacity, item collection metrics) can be added to its
//! type without breaking callers. Every type is `#[non_exhaustive]`: build an input with
//! its `new` and set the fields that differ from DynamoDB's defaults.

use super::capacity::{ConsumedCapacity, ReturnConsumedCapacity};
use crate::expr::legacy::{AttributeValueUpdate, ConditionalOperator, ExpectedAttributeValue};
use crate::expr::{Condition, UpdateAction};
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
