//! The legacy parameters on the wire (`Expected`, `AttributeUpdates`, `KeyConditions`,
//! `QueryFilter`, `ScanFilter`, `ConditionalOperator`), read into the engine's types.

use crate::error::ApiError;
use crate::input::{Fields, attribute_value};
use dynastore::AttributeValue;
use dynastore::expr::legacy::{
    AttributeAction, AttributeCondition, AttributeValueUpdate, ComparisonOperator, ConditionalOperator,
    ExpectedAttributeValue,
};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Every comparison operator's name, as DynamoDB lists them in its enum message.
const OPERATORS: &[&str] = &[
    "IN",
    "NULL",
    "BETWEEN",
    "LT",
    "NOT_CONTAINS",
    "EQ",
    "GT",
    "NOT_NULL",
    "NE",
    "LE",
    "BEGINS_WITH",
    "GE",
    "CONTAINS",
];

fn entries<'a>(
    map: Option<&'a Map<String, Value>>,
    parent: &Fields<'a>,
    name: &str,
) -> Result<Vec<(String, Fields<'a>)>, ApiError> {
    let Some(map) = map else {
        return Ok(Vec::new());
    };
    map.iter()
        .map(|(attribute, value)| {
            let fields = Fields::nested(value, format!("{}.{attribute}.member", parent.path_of(name)))?;
            Ok((attribute.clone(), fields))
        })
        .collect()
}

fn value_list(fields: &Fields<'_>) -> Result<Vec<AttributeValue>, ApiError> {
    fields
        .list("AttributeValueList")?
        .map_or(Ok(Vec::new()), |list| list.iter().map(attribute_value).collect())
}

fn operator(fields: &mut Fields<'_>) -> Result<Option<ComparisonOperator>, ApiError> {
    Ok(fields
        .enumerated("ComparisonOperator", OPERATORS)?
        .and_then(ComparisonOperator::from_name))
}

/// `ConditionalOperator`.
///
/// Errors: [`ApiError::Serialization`] if it is not a string (a value outside `AND`,
/// `OR` is noted as a violation).
pub fn conditional_operator(fields: &mut Fields<'_>) -> Result<Option<ConditionalOperator>, ApiError> {
    Ok(match fields.enumerated("ConditionalOperator", &["AND", "OR"])? {
        Some("OR") => Some(ConditionalOperator::Or),
        Some(_) => Some(ConditionalOperator::And),
        None => None,
    })
}

/// `Expected`.
///
/// Errors: [`ApiError::Serialization`] for wrong JSON types; a `ValidationException` for
/// a value that is not DynamoDB JSON.
pub fn expected(fields: &mut Fields<'_>) -> Result<HashMap<String, ExpectedAttributeValue>, ApiError> {
    let mut expected = HashMap::new();
    for (attribute, mut entry) in entries(fields.map("Expected")?, fields, "Expected")? {
        let value = ExpectedAttributeValue {
            value: entry.attribute("Value")?,
            exists: entry.boolean("Exists")?,
            comparison_operator: operator(&mut entry)?,
            attribute_value_list: value_list(&entry)?,
        };
        fields.absorb(entry);
        expected.insert(attribute, value);
    }
    Ok(expected)
}

/// `KeyConditions`, `QueryFilter` or `ScanFilter` (field `name`).
///
/// Errors: as [`expected`].
pub fn conditions(fields: &mut Fields<'_>, name: &str) -> Result<HashMap<String, AttributeCondition>, ApiError> {
    let mut conditions = HashMap::new();
    for (attribute, mut entry) in entries(fields.map(name)?, fields, name)? {
        entry.require("ComparisonOperator");
        let operator = operator(&mut entry)?;
        let values = value_list(&entry)?;
        fields.absorb(entry);
        if let Some(operator) = operator {
            conditions.insert(attribute, AttributeCondition::new(operator, values));
        }
    }
    Ok(conditions)
}

/// `AttributeUpdates`.
///
/// Errors: as [`expected`].
pub fn attribute_updates(fields: &mut Fields<'_>) -> Result<HashMap<String, AttributeValueUpdate>, ApiError> {
    let mut updates = HashMap::new();
    for (attribute, mut entry) in entries(fields.map("AttributeUpdates")?, fields, "AttributeUpdates")? {
        let update = AttributeValueUpdate {
            action: match entry.enumerated("Action", &["ADD", "PUT", "DELETE"])? {
                Some("ADD") => AttributeAction::Add,
                Some("DELETE") => AttributeAction::Delete,
                _ => AttributeAction::Put,
            },
            value: entry.attribute("Value")?,
        };
        fields.absorb(entry);
        updates.insert(attribute, update);
    }
    Ok(updates)
}
