//! PutItem, GetItem, UpdateItem and DeleteItem on the wire.

use super::legacy;
use crate::error::ApiError;
use crate::input::Fields;
use dynastore::expr::legacy::{ConditionalOperator, ExpectedAttributeValue};
use dynastore::{
    AttributeValue, ConsumedCapacity, Database, DeleteItemInput, GetItemInput, Item, ItemCollectionMetrics,
    PutItemInput, ReturnConsumedCapacity, ReturnValues, UpdateItemInput,
};
use serde_json::{Value, json};
use std::collections::HashMap;

/// The `ReturnValues` field, of the values an operation allows.
///
/// Errors: [`ApiError::Serialization`] if it is not a string (an unknown value is noted
/// as a violation).
pub fn return_values(fields: &mut Fields<'_>, name: &str) -> Result<ReturnValues, ApiError> {
    Ok(
        match fields.enumerated(name, &["ALL_NEW", "UPDATED_OLD", "ALL_OLD", "NONE", "UPDATED_NEW"])? {
            Some("ALL_NEW") => ReturnValues::AllNew,
            Some("UPDATED_OLD") => ReturnValues::UpdatedOld,
            Some("ALL_OLD") => ReturnValues::AllOld,
            Some("UPDATED_NEW") => ReturnValues::UpdatedNew,
            _ => ReturnValues::None,
        },
    )
}

/// `ReturnValuesOnConditionCheckFailure`: `ALL_OLD` or `NONE`.
fn on_condition_failure(fields: &mut Fields<'_>) -> Result<ReturnValues, ApiError> {
    Ok(
        match fields.enumerated("ReturnValuesOnConditionCheckFailure", &["ALL_OLD", "NONE"])? {
            Some("ALL_OLD") => ReturnValues::AllOld,
            _ => ReturnValues::None,
        },
    )
}

/// `ReturnConsumedCapacity`.
///
/// Errors: [`ApiError::Serialization`] if it is not a string (an unknown value is noted
/// as a violation).
pub fn capacity(fields: &mut Fields<'_>) -> Result<ReturnConsumedCapacity, ApiError> {
    Ok(
        match fields.enumerated("ReturnConsumedCapacity", &["INDEXES", "TOTAL", "NONE"])? {
            Some("INDEXES") => ReturnConsumedCapacity::Indexes,
            Some("TOTAL") => ReturnConsumedCapacity::Total,
            _ => ReturnConsumedCapacity::None,
        },
    )
}

/// What a write reports besides its result: `ReturnConsumedCapacity`, and whether
/// `ReturnItemCollectionMetrics` is `SIZE`.
///
/// Errors: [`ApiError::Serialization`] if either is not a string (an unknown value is
/// noted as a violation).
pub fn reports(fields: &mut Fields<'_>) -> Result<(ReturnConsumedCapacity, bool), ApiError> {
    let mode = capacity(fields)?;
    let metrics = fields.enumerated("ReturnItemCollectionMetrics", &["SIZE", "NONE"])? == Some("SIZE");
    Ok((mode, metrics))
}

/// An item collection's `ItemCollectionMetrics`.
pub fn collection_json(metrics: &ItemCollectionMetrics) -> Value {
    json!({
        "ItemCollectionKey": metrics.key.to_json(),
        "SizeEstimateRangeGB": metrics.size_estimate_range_gb,
    })
}

/// One table's `ConsumedCapacity`: its total, and with `INDEXES` the table's share.
pub fn capacity_json(consumed: &ConsumedCapacity, mode: ReturnConsumedCapacity) -> Value {
    let mut json = json!({ "TableName": consumed.table_name, "CapacityUnits": consumed.capacity_units });
    if mode == ReturnConsumedCapacity::Indexes {
        json["Table"] = json!({ "CapacityUnits": consumed.table_units });
        let shares = |indexes: &[(String, f64)]| -> serde_json::Map<String, Value> {
            indexes
                .iter()
                .map(|(name, units)| (name.clone(), json!({ "CapacityUnits": units })))
                .collect()
        };
        if !consumed.local_indexes.is_empty() {
            json["LocalSecondaryIndexes"] = Value::Object(shares(&consumed.local_indexes));
        }
        if !consumed.global_indexes.is_empty() {
            json["GlobalSecondaryIndexes"] = Value::Object(shares(&consumed.global_indexes));
        }
    }
    json
}

/// A response of `attributes` (as `Attributes`, when there are some), the capacity
/// consumed and the item collection's size (each when asked for).
fn written(
    attributes: Option<Item>,
    consumed: Option<ConsumedCapacity>,
    mode: ReturnConsumedCapacity,
    collection: Option<ItemCollectionMetrics>,
) -> Value {
    let mut out = json!({});
    if let Some(item) = attributes {
        out["Attributes"] = item.to_json();
    }
    if let Some(consumed) = consumed {
        out["ConsumedCapacity"] = capacity_json(&consumed, mode);
    }
    if let Some(metrics) = collection {
        out["ItemCollectionMetrics"] = collection_json(&metrics);
    }
    out
}

/// The table name every item operation needs (its violations noted).
fn table(fields: &mut Fields<'_>) -> Result<String, ApiError> {
    Ok(fields.table_name()?.to_owned())
}

/// The fields PutItem, UpdateItem and DeleteItem share, read in DynamoDB's order: the
/// expression parameters checked against the legacy ones (`expressions`, `legacy`)
/// before any attribute value is read.
struct WriteFields {
    condition_expression: Option<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
    return_values: ReturnValues,
    on_condition_check_failure: ReturnValues,
    expected: HashMap<String, ExpectedAttributeValue>,
    conditional_operator: Option<ConditionalOperator>,
    capacity: ReturnConsumedCapacity,
    collection_metrics: bool,
}

impl WriteFields {
    /// Reads them; `fields` must already hold every other field's violations.
    fn read(fields: &mut Fields<'_>, expressions: &[&str], legacy: &[&str]) -> Result<WriteFields, ApiError> {
        let condition_expression = fields.string("ConditionExpression")?.map(str::to_owned);
        let names = fields.names("ExpressionAttributeNames")?;
        let return_values = return_values(fields, "ReturnValues")?;
        let on_condition_check_failure = on_condition_failure(fields)?;
        let expected = legacy::expected(fields)?;
        let conditional_operator = legacy::conditional_operator(fields)?;
        let (capacity, collection_metrics) = reports(fields)?;
        fields.check_parameters(expressions, legacy)?;
        Ok(WriteFields {
            condition_expression,
            names,
            values: fields.values("ExpressionAttributeValues")?,
            return_values,
            on_condition_check_failure,
            expected,
            conditional_operator,
            capacity,
            collection_metrics,
        })
    }
}

/// PutItem.
pub fn put_item(db: &Database, mut fields: Fields<'_>) -> Result<Value, ApiError> {
    let table = table(&mut fields)?;
    fields.require("Item");
    let common = WriteFields::read(&mut fields, &["ConditionExpression"], &["Expected"])?;
    let mut input = PutItemInput::new(table, fields.item("Item")?.unwrap_or_default());
    input.condition_expression = common.condition_expression;
    input.expression_attribute_names = common.names;
    input.expression_attribute_values = common.values;
    input.return_values = common.return_values;
    input.return_values_on_condition_check_failure = common.on_condition_check_failure;
    input.expected = common.expected;
    input.conditional_operator = common.conditional_operator;
    input.return_consumed_capacity = common.capacity;
    fields.finish()?;
    input.return_item_collection_metrics = common.collection_metrics;
    let out = db.put_item(input)?;
    Ok(written(
        out.attributes,
        out.consumed_capacity,
        common.capacity,
        out.item_collection_metrics,
    ))
}

/// GetItem.
pub fn get_item(db: &Database, mut fields: Fields<'_>) -> Result<Value, ApiError> {
    let table = table(&mut fields)?;
    fields.require("Key");
    let mut input = GetItemInput::new(table, Item::new());
    input.projection_expression = fields.string("ProjectionExpression")?.map(str::to_owned);
    input.expression_attribute_names = fields.names("ExpressionAttributeNames")?;
    input.consistent_read = fields.boolean("ConsistentRead")?.unwrap_or(false);
    input.attributes_to_get = fields.attributes_to_get()?;
    input.return_consumed_capacity = capacity(&mut fields)?;
    fields.check_parameters(&["ProjectionExpression"], &["AttributesToGet"])?;
    input.key = fields.item("Key")?.unwrap_or_default();
    fields.finish()?;
    let mode = input.return_consumed_capacity;
    let out = db.get_item(input)?;
    let mut json = json!({});
    if let Some(item) = out.item {
        json["Item"] = item.to_json();
    }
    if let Some(consumed) = out.consumed_capacity {
        json["ConsumedCapacity"] = capacity_json(&consumed, mode);
    }
    Ok(json)
}

/// UpdateItem.
pub fn update_item(db: &Database, mut fields: Fields<'_>) -> Result<Value, ApiError> {
    let table = table(&mut fields)?;
    fields.require("Key");
    let update_expression = fields.string("UpdateExpression")?.map(str::to_owned);
    let attribute_updates = legacy::attribute_updates(&mut fields)?;
    let common = WriteFields::read(
        &mut fields,
        &["UpdateExpression", "ConditionExpression"],
        &["AttributeUpdates", "Expected"],
    )?;
    let mut input = UpdateItemInput::new(table, fields.item("Key")?.unwrap_or_default(), Vec::new());
    input.update_expression = update_expression;
    input.attribute_updates = attribute_updates;
    input.condition_expression = common.condition_expression;
    input.expression_attribute_names = common.names;
    input.expression_attribute_values = common.values;
    input.return_values = common.return_values;
    input.return_values_on_condition_check_failure = common.on_condition_check_failure;
    input.expected = common.expected;
    input.conditional_operator = common.conditional_operator;
    input.return_consumed_capacity = common.capacity;
    fields.finish()?;
    input.return_item_collection_metrics = common.collection_metrics;
    let out = db.update_item(input)?;
    Ok(written(
        out.attributes,
        out.consumed_capacity,
        common.capacity,
        out.item_collection_metrics,
    ))
}

/// DeleteItem.
pub fn delete_item(db: &Database, mut fields: Fields<'_>) -> Result<Value, ApiError> {
    let table = table(&mut fields)?;
    fields.require("Key");
    let common = WriteFields::read(&mut fields, &["ConditionExpression"], &["Expected"])?;
    let mut input = DeleteItemInput::new(table, fields.item("Key")?.unwrap_or_default());
    input.condition_expression = common.condition_expression;
    input.expression_attribute_names = common.names;
    input.expression_attribute_values = common.values;
    input.return_values = common.return_values;
    input.return_values_on_condition_check_failure = common.on_condition_check_failure;
    input.expected = common.expected;
    input.conditional_operator = common.conditional_operator;
    input.return_consumed_capacity = common.capacity;
    fields.finish()?;
    input.return_item_collection_metrics = common.collection_metrics;
    let out = db.delete_item(input)?;
    Ok(written(
        out.attributes,
        out.consumed_capacity,
        common.capacity,
        out.item_collection_metrics,
    ))
}
