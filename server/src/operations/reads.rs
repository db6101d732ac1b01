//! Query and Scan on the wire.

use super::items::{capacity, capacity_json};
use super::legacy;
use crate::error::ApiError;
use crate::input::Fields;
use dynastore::{ConsumedCapacity, Database, Item, QueryInput, ReturnConsumedCapacity, ScanInput, Select};
use serde_json::{Value, json};

/// `Select`.
fn select(fields: &mut Fields<'_>) -> Result<Option<Select>, ApiError> {
    let allowed = [
        "SPECIFIC_ATTRIBUTES",
        "COUNT",
        "ALL_ATTRIBUTES",
        "ALL_PROJECTED_ATTRIBUTES",
    ];
    Ok(match fields.enumerated("Select", &allowed)? {
        Some("SPECIFIC_ATTRIBUTES") => Some(Select::SpecificAttributes),
        Some("COUNT") => Some(Select::Count),
        Some("ALL_ATTRIBUTES") => Some(Select::AllAttributes),
        Some("ALL_PROJECTED_ATTRIBUTES") => Some(Select::AllProjectedAttributes),
        _ => None,
    })
}

/// `Limit`, at least 1.
fn limit(fields: &mut Fields<'_>) -> Result<Option<u32>, ApiError> {
    let Some(limit) = fields.integer("Limit")? else {
        return Ok(None);
    };
    if limit < 1 {
        fields.violation(
            "Limit",
            Some(&limit.to_string()),
            "Member must have value greater than or equal to 1",
        );
        return Ok(None);
    }
    Ok(Some(u32::try_from(limit).unwrap_or(u32::MAX)))
}

/// One page of a query or scan.
struct Page {
    items: Vec<Item>,
    count: usize,
    scanned: usize,
    last: Option<Item>,
    consumed: Option<ConsumedCapacity>,
}

/// A page as DynamoDB answers it: `Items` (unless only counting), `Count`,
/// `ScannedCount`, `LastEvaluatedKey` when more follow, `ConsumedCapacity` when asked.
fn page(page: Page, counting: bool, mode: ReturnConsumedCapacity) -> Value {
    let mut out = json!({ "Count": page.count, "ScannedCount": page.scanned });
    if !counting {
        out["Items"] = Value::Array(page.items.iter().map(Item::to_json).collect());
    }
    if let Some(last) = page.last {
        out["LastEvaluatedKey"] = last.to_json();
    }
    if let Some(consumed) = page.consumed {
        out["ConsumedCapacity"] = capacity_json(&consumed, mode);
    }
    out
}

/// Query.
pub fn query(db: &Database, mut fields: Fields<'_>) -> Result<Value, ApiError> {
    let table = fields.table_name()?;
    let mut input = QueryInput::with_key_conditions(table, legacy::conditions(&mut fields, "KeyConditions")?);
    input.index_name = fields.name("IndexName")?.map(str::to_owned);
    input.key_condition_expression = fields.string("KeyConditionExpression")?.map(str::to_owned);
    input.filter_expression = fields.string("FilterExpression")?.map(str::to_owned);
    input.projection_expression = fields.string("ProjectionExpression")?.map(str::to_owned);
    input.expression_attribute_names = fields.names("ExpressionAttributeNames")?;
    input.scan_index_forward = fields.boolean("ScanIndexForward")?.unwrap_or(true);
    input.limit = limit(&mut fields)?;
    input.select = select(&mut fields)?;
    input.consistent_read = fields.boolean("ConsistentRead")?.unwrap_or(false);
    input.query_filter = legacy::conditions(&mut fields, "QueryFilter")?;
    input.conditional_operator = legacy::conditional_operator(&mut fields)?;
    input.attributes_to_get = fields.attributes_to_get()?;
    input.return_consumed_capacity = capacity(&mut fields)?;
    fields.check_parameters(
        &["ProjectionExpression", "FilterExpression", "KeyConditionExpression"],
        &["AttributesToGet", "QueryFilter", "ConditionalOperator", "KeyConditions"],
    )?;
    input.expression_attribute_values = fields.values("ExpressionAttributeValues")?;
    input.exclusive_start_key = fields.item("ExclusiveStartKey")?;
    fields.finish()?;
    let counting = input.select == Some(Select::Count);
    let mode = input.return_consumed_capacity;
    let out = db.query(input)?;
    let out = Page {
        items: out.items,
        count: out.count,
        scanned: out.scanned_count,
        last: out.last_evaluated_key,
        consumed: out.consumed_capacity,
    };
    Ok(page(out, counting, mode))
}

/// Scan.
pub fn scan(db: &Database, mut fields: Fields<'_>) -> Result<Value, ApiError> {
    let mut input = ScanInput::new(fields.table_name()?);
    input.index_name = fields.name("IndexName")?.map(str::to_owned);
    input.filter_expression = fields.string("FilterExpression")?.map(str::to_owned);
    input.projection_expression = fields.string("ProjectionExpression")?.map(str::to_owned);
    input.expression_attribute_names = fields.names("ExpressionAttributeNames")?;
    input.limit = limit(&mut fields)?;
    input.select = select(&mut fields)?;
    input.consistent_read = fields.boolean("ConsistentRead")?.unwrap_or(false);
    input.scan_filter = legacy::conditions(&mut fields, "ScanFilter")?;
    input.conditional_operator = legacy::conditional_operator(&mut fields)?;
    input.attributes_to_get = fields.attributes_to_get()?;
    let segment = fields.integer("Segment")?;
    let total = fields.integer("TotalSegments")?;
    input.return_consumed_capacity = capacity(&mut fields)?;
    fields.check_parameters(
        &["ProjectionExpression", "FilterExpression"],
        &["AttributesToGet", "ScanFilter", "ConditionalOperator"],
    )?;
    input.expression_attribute_values = fields.values("ExpressionAttributeValues")?;
    input.exclusive_start_key = fields.item("ExclusiveStartKey")?;
    fields.finish()?;
    input.segment = match (segment, total) {
        (None, None) => None,
        (Some(segment), Some(total)) => Some((clamp_u32(segment), clamp_u32(total))),
        (Some(_), None) => {
            return Err(ApiError::Validation(
                "The TotalSegments parameter is required but was not present in the request when Segment parameter is present".into(),
            ));
        }
        (None, Some(_)) => {
            return Err(ApiError::Validation(
                "The Segment parameter is required but was not present in the request when parameter TotalSegments is present".into(),
            ));
        }
    };
    let counting = input.select == Some(Select::Count);
    let mode = input.return_consumed_capacity;
    let out = db.scan(input)?;
    let out = Page {
        items: out.items,
        count: out.count,
        scanned: out.scanned_count,
        last: out.last_evaluated_key,
        consumed: out.consumed_capacity,
    };
    Ok(page(out, counting, mode))
}

/// A wire integer as the engine's `u32`; values outside it become its ends, which the
/// engine refuses with DynamoDB's messages.
fn clamp_u32(value: i64) -> u32 {
    u32::try_from(value.clamp(0, i64::from(u32::MAX))).unwrap_or(u32::MAX)
}
