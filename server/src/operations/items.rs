//! PutItem, GetItem, UpdateItem and DeleteItem on the wire.

use super::legacy;
use crate::error::ApiError;
use crate::input::Fields;
use dynastore::{Database, DeleteItemInput, GetItemInput, Item, PutItemInput, ReturnValues, UpdateItemInput};
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

/// The fields every operation accepts and this server answers without acting on:
/// capacity and item collection reports are not kept yet.
pub fn reports(fields: &mut Fields<'_>) -> Result<(), ApiError> {
    fields.enumerated("ReturnConsumedCapacity", &["INDEXES", "TOTAL", "NONE"])?;
    fields.enumerated("ReturnItemCollectionMetrics", &["SIZE", "NONE"])?;
    Ok(())
}

/// `{"Attributes": item}` when there is one, else `{}`.
fn attributes(item: Option<Item>) -> Value {
    match item {
        Some(item) => json!({ "Attributes": item.to_json() }),
        None => json!({}),
    }
}

/// The table name every item operation needs.
fn table(fields: &mut Fields<'_>) -> Result<String, ApiError> {
    fields.require("TableName");
    Ok(fields.string("TableName")?.unwrap_or_default().to_owned())
}

/// PutItem.
pub fn put_item(db: &Database, mut fields: Fields<'_>) -> Result<Value, ApiError> {
    let table = table(&mut fields)?;
    fields.require("Item");
    let mut input = PutItemInput::new(table, fields.item("Item")?.unwrap_or_default());
    input.condition_expression = fields.string("ConditionExpression")?.map(str::to_owned);
    input.expression_attribute_names = fields.names("ExpressionAttributeNames")?;
    input.expression_attribute_values = fields.values("ExpressionAttributeValues")?;
    input.return_values = return_values(&mut fields, "ReturnValues")?;
    input.return_values_on_condition_check_failure = on_condition_failure(&mut fields)?;
    input.expected = legacy::expected(&mut fields)?;
    input.conditional_operator = legacy::conditional_operator(&mut fields)?;
    reports(&mut fields)?;
    fields.finish()?;
    Ok(attributes(db.put_item(input)?.attributes))
}

/// GetItem.
pub fn get_item(db: &Database, mut fields: Fields<'_>) -> Result<Value, ApiError> {
    let table = table(&mut fields)?;
    fields.require("Key");
    let mut input = GetItemInput::new(table, fields.item("Key")?.unwrap_or_default());
    input.projection_expression = fields.string("ProjectionExpression")?.map(str::to_owned);
    input.expression_attribute_names = fields.names("ExpressionAttributeNames")?;
    input.consistent_read = fields.boolean("ConsistentRead")?.unwrap_or(false);
    input.attributes_to_get = fields.strings("AttributesToGet")?;
    fields.enumerated("ReturnConsumedCapacity", &["INDEXES", "TOTAL", "NONE"])?;
    fields.finish()?;
    Ok(match db.get_item(input)?.item {
        Some(item) => json!({ "Item": item.to_json() }),
        None => json!({}),
    })
}

/// UpdateItem.
pub fn update_item(db: &Database, mut fields: Fields<'_>) -> Result<Value, ApiError> {
    let table = table(&mut fields)?;
    fields.require("Key");
    let mut input = UpdateItemInput::new(table, fields.item("Key")?.unwrap_or_default(), Vec::new());
    input.update_expression = fields.string("UpdateExpression")?.map(str::to_owned);
    input.condition_expression = fields.string("ConditionExpression")?.map(str::to_owned);
    input.expression_attribute_names = fields.names("ExpressionAttributeNames")?;
    input.expression_attribute_values = fields.values("ExpressionAttributeValues")?;
    input.return_values = return_values(&mut fields, "ReturnValues")?;
    input.return_values_on_condition_check_failure = on_condition_failure(&mut fields)?;
    input.attribute_updates = legacy::attribute_updates(&mut fields)?;
    input.expected = legacy::expected(&mut fields)?;
    input.conditional_operator = legacy::conditional_operator(&mut fields)?;
    reports(&mut fields)?;
    fields.finish()?;
    Ok(attributes(db.update_item(input)?.attributes))
}

/// DeleteItem.
pub fn delete_item(db: &Database, mut fields: Fields<'_>) -> Result<Value, ApiError> {
    let table = table(&mut fields)?;
    fields.require("Key");
    let mut input = DeleteItemInput::new(table, fields.item("Key")?.unwrap_or_default());
    input.condition_expression = fields.string("ConditionExpression")?.map(str::to_owned);
    input.expression_attribute_names = fields.names("ExpressionAttributeNames")?;
    input.expression_attribute_values = fields.values("ExpressionAttributeValues")?;
    input.return_values = return_values(&mut fields, "ReturnValues")?;
    input.return_values_on_condition_check_failure = on_condition_failure(&mut fields)?;
    input.expected = legacy::expected(&mut fields)?;
    input.conditional_operator = legacy::conditional_operator(&mut fields)?;
    reports(&mut fields)?;
    fields.finish()?;
    Ok(attributes(db.delete_item(input)?.attributes))
}
