//! PutItem, GetItem, UpdateItem and DeleteItem on the wire.

use super::legacy;
use crate::error::ApiError;
use crate::input::Fields;
use dynastore::{
    ConsumedCapacity, Database, DeleteItemInput, GetItemInput, Item, PutItemInput, ReturnConsumedCapacity,
    ReturnValues, UpdateItemInput,
};
use serde_json::{Value, json};

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

/// `ReturnConsumedCapacity`, and `ReturnItemCollectionMetrics`, which is accepted (an
/// item collection belongs to local secondary indexes, which tables do not have yet, so
/// there are no metrics to return).
pub fn reports(fields: &mut Fields<'_>) -> Result<ReturnConsumedCapacity, ApiError> {
    let mode = capacity(fields)?;
    fields.enumerated("ReturnItemCollectionMetrics", &["SIZE", "NONE"])?;
    Ok(mode)
}

/// One table's `ConsumedCapacity`: its total, and with `INDEXES` the table's share.
pub fn capacity_json(consumed: &ConsumedCapacity, mode: ReturnConsumedCapacity) -> Value {
    let mut json = json!({ "TableName": consumed.table_name, "CapacityUnits": consumed.capacity_units });
    if mode == ReturnConsumedCapacity::Indexes {
        json["Table"] = json!({ "CapacityUnits": consumed.capacity_units });
    }
    json
}

/// A response of `attributes` (as `Attributes`, when there are some) and the capacity
/// consumed (when asked for).
fn written(attributes: Option<Item>, consumed: Option<ConsumedCapacity>, mode: ReturnConsumedCapacity) -> Value {
    let mut out = json!({});
    if let Some(item) = attributes {
        out["Attributes"] = item.to_json();
    }
    if let Some(consumed) = consumed {
        out["ConsumedCapacity"] = capacity_json(&consumed, mode);
    }
    out
}

/// The table name every item operation needs (its violations noted).
fn table(fields: &mut Fields<'_>) -> Result<String, ApiError> {
    Ok(fields.table_name()?.to_owned())
}

/// PutItem.
pub fn put_item(db: &Database, mut fields: Fields<'_>) -> Result<Value, ApiError> {
    let table = table(&mut fields)?;
    fields.require("Item");
    let mut input = PutItemInput::new(table, Item::new());
    input.condition_expression = fields.string("ConditionExpression")?.map(str::to_owned);
    input.expression_attribute_names = fields.names("ExpressionAttributeNames")?;
    input.return_values = return_values(&mut fields, "ReturnValues")?;
    input.return_values_on_condition_check_failure = on_condition_failure(&mut fields)?;
    input.expected = legacy::expected(&mut fields)?;
    input.conditional_operator = legacy::conditional_operator(&mut fields)?;
    input.return_consumed_capacity = reports(&mut fields)?;
    fields.check_parameters(&["ConditionExpression"], &["Expected"])?;
    input.item = fields.item("Item")?.unwrap_or_default();
    input.expression_attribute_values = fields.values("ExpressionAttributeValues")?;
    fields.finish()?;
    let mode = input.return_consumed_capacity;
    let out = db.put_item(input)?;
    Ok(written(out.attributes, out.consumed_capacity, mode))
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
    let mut input = UpdateItemInput::new(table, Item::new(), Vec::new());
    input.update_expression = fields.string("UpdateExpression")?.map(str::to_owned);
    input.condition_expression = fields.string("ConditionExpression")?.map(str::to_owned);
    input.expression_attribute_names = fields.names("ExpressionAttributeNames")?;
    input.return_values = return_values(&mut fields, "ReturnValues")?;
    input.return_values_on_condition_check_failure = on_condition_failure(&mut fields)?;
    input.attribute_updates = legacy::attribute_updates(&mut fields)?;
    input.expected = legacy::expected(&mut fields)?;
    input.conditional_operator = legacy::conditional_operator(&mut fields)?;
    input.return_consumed_capacity = reports(&mut fields)?;
    fields.check_parameters(
        &["UpdateExpression", "ConditionExpression"],
        &["AttributeUpdates", "Expected"],
    )?;
    input.key = fields.item("Key")?.unwrap_or_default();
    input.expression_attribute_values = fields.values("ExpressionAttributeValues")?;
    fields.finish()?;
    let mode = input.return_consumed_capacity;
    let out = db.update_item(input)?;
    Ok(written(out.attributes, out.consumed_capacity, mode))
}

/// DeleteItem.
pub fn delete_item(db: &Database, mut fields: Fields<'_>) -> Result<Value, ApiError> {
    let table = table(&mut fields)?;
    fields.require("Key");
    let mut input = DeleteItemInput::new(table, Item::new());
    input.condition_expression = fields.string("ConditionExpression")?.map(str::to_owned);
    input.expression_attribute_names = fields.names("ExpressionAttributeNames")?;
    input.return_values = return_values(&mut fields, "ReturnValues")?;
    input.return_values_on_condition_check_failure = on_condition_failure(&mut fields)?;
    input.expected = legacy::expected(&mut fields)?;
    input.conditional_operator = legacy::conditional_operator(&mut fields)?;
    input.return_consumed_capacity = reports(&mut fields)?;
    fields.check_parameters(&["ConditionExpression"], &["Expected"])?;
    input.key = fields.item("Key")?.unwrap_or_default();
    input.expression_attribute_values = fields.values("ExpressionAttributeValues")?;
    fields.finish()?;
    let mode = input.return_consumed_capacity;
    let out = db.delete_item(input)?;
    Ok(written(out.attributes, out.consumed_capacity, mode))
}
