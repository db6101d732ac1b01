//! The expression strings of a request, turned into the typed forms the operations run
//! on, before anything else is checked (DynamoDB validates a request's expressions before
//! it looks the table up): a `ConditionExpression` becomes the input's `condition`, an
//! `UpdateExpression` its `actions`, a `ProjectionExpression` its `projection`. A request
//! may give each only one way; `ExpressionAttributeNames` and `ExpressionAttributeValues`
//! need an expression, and every placeholder they define must be used.

use super::batch::KeysAndAttributes;
use super::operations::{DeleteItemInput, GetItemInput, PutItemInput, UpdateItemInput};
use super::query::{QueryInput, ScanInput};
use crate::error::Result;
use crate::expr::parse::{
    ExpressionError, ExpressionKind, KeyTest, Placeholders, parse_condition, parse_key_condition, parse_projection,
    parse_update,
};
use crate::expr::{Condition, Path, SortKeyCondition};
use crate::item::{AttributeValue, KeySchema};
use std::collections::HashMap;

/// Refuses a form given both ways.
fn one_way(typed: bool, expression: bool, non_expression: &'static str, name: &'static str) -> Result<()> {
    if typed && expression {
        return Err(ExpressionError::MixedParameters {
            non_expression,
            expression: name,
        }
        .into());
    }
    Ok(())
}

/// The request's placeholders, refused if it has no expression to use them.
fn placeholders<'m>(
    names: &'m HashMap<String, String>,
    values: &'m HashMap<String, AttributeValue>,
    any_expression: bool,
) -> Result<Placeholders<'m>> {
    if !any_expression && !names.is_empty() {
        return Err(ExpressionError::NamesWithoutExpression.into());
    }
    if !any_expression && !values.is_empty() {
        return Err(ExpressionError::ValuesWithoutExpression.into());
    }
    Ok(Placeholders::new(names, values))
}

/// `expression`, if given, parsed as a condition into `condition`.
fn condition(
    expression: Option<&str>,
    placeholders: &mut Placeholders<'_>,
    condition: &mut Option<Condition>,
) -> Result<()> {
    if let Some(text) = expression {
        *condition = Some(parse_condition(ExpressionKind::Condition, text, placeholders)?);
    }
    Ok(())
}

/// A ConditionExpression (the request's only expression) into `condition`, with the
/// request's placeholders.
fn resolve_condition(
    expression: Option<String>,
    typed: &mut Option<Condition>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
) -> Result<()> {
    one_way(
        typed.is_some(),
        expression.is_some(),
        "condition",
        "ConditionExpression",
    )?;
    let mut placeholders = placeholders(&names, &values, expression.is_some())?;
    condition(expression.as_deref(), &mut placeholders, typed)?;
    Ok(placeholders.finish()?)
}

/// A PutItem's `ConditionExpression` into its `condition`.
///
/// Errors: [`crate::Error::Expression`].
pub(super) fn resolve_put(input: &mut PutItemInput) -> Result<()> {
    resolve_condition(
        input.condition_expression.take(),
        &mut input.condition,
        std::mem::take(&mut input.expression_attribute_names),
        std::mem::take(&mut input.expression_attribute_values),
    )
}

/// A DeleteItem's `ConditionExpression` into its `condition`.
///
/// Errors: [`crate::Error::Expression`].
pub(super) fn resolve_delete(input: &mut DeleteItemInput) -> Result<()> {
    resolve_condition(
        input.condition_expression.take(),
        &mut input.condition,
        std::mem::take(&mut input.expression_attribute_names),
        std::mem::take(&mut input.expression_attribute_values),
    )
}

/// An UpdateItem's `UpdateExpression` into its `actions`, and its `ConditionExpression`
/// into its `condition`.
///
/// Errors: [`crate::Error::Expression`].
pub(super) fn resolve_update(input: &mut UpdateItemInput) -> Result<()> {
    let update = input.update_expression.take();
    let condition_expression = input.condition_expression.take();
    one_way(
        !input.actions.is_empty(),
        update.is_some(),
        "actions",
        "UpdateExpression",
    )?;
    one_way(
        input.condition.is_some(),
        condition_expression.is_some(),
        "condition",
        "ConditionExpression",
    )?;
    let names = std::mem::take(&mut input.expression_attribute_names);
    let values = std::mem::take(&mut input.expression_attribute_values);
    let any = update.is_some() || condition_expression.is_some();
    let mut placeholders = placeholders(&names, &values, any)?;
    if let Some(text) = &update {
        input.actions = parse_update(text, &mut placeholders)?;
    }
    condition(condition_expression.as_deref(), &mut placeholders, &mut input.condition)?;
    Ok(placeholders.finish()?)
}

/// A ProjectionExpression (the request's only expression) into `projection`, with the
/// request's `#name` placeholders.
fn resolve_projection(
    expression: Option<String>,
    typed: &mut Option<Vec<Path>>,
    names: HashMap<String, String>,
) -> Result<()> {
    one_way(
        typed.is_some(),
        expression.is_some(),
        "projection",
        "ProjectionExpression",
    )?;
    let no_values = HashMap::new();
    let mut placeholders = placeholders(&names, &no_values, expression.is_some())?;
    projection(expression.as_deref(), &mut placeholders, typed)?;
    Ok(placeholders.finish()?)
}

/// A GetItem's `ProjectionExpression` into its `projection`.
///
/// Errors: [`crate::Error::Expression`].
pub(super) fn resolve_get(input: &mut GetItemInput) -> Result<()> {
    resolve_projection(
        input.projection_expression.take(),
        &mut input.projection,
        std::mem::take(&mut input.expression_attribute_names),
    )
}

/// One table's `ProjectionExpression` of a BatchGetItem into its `projection`.
///
/// Errors: [`crate::Error::Expression`].
pub(super) fn resolve_keys_and_attributes(request: &mut KeysAndAttributes) -> Result<()> {
    resolve_projection(
        request.projection_expression.take(),
        &mut request.projection,
        std::mem::take(&mut request.expression_attribute_names),
    )
}

/// `expression`, if given, parsed as a projection into `projection`.
fn projection(
    expression: Option<&str>,
    placeholders: &mut Placeholders<'_>,
    projection: &mut Option<Vec<Path>>,
) -> Result<()> {
    if let Some(text) = expression {
        *projection = Some(parse_projection(text, placeholders)?);
    }
    Ok(())
}

/// A Query's filter and projection expressions into its typed forms, and its key
/// condition expression parsed into the tests [`apply_key_tests`] checks against the
/// table's key schema once the table is known.
///
/// Errors: [`crate::Error::Expression`].
pub(super) fn resolve_query(input: &mut QueryInput) -> Result<Option<Vec<KeyTest>>> {
    let key_condition = input.key_condition_expression.take();
    let filter = input.filter_expression.take();
    let projected = input.projection_expression.take();
    let typed_key = input.partition_key.is_some() || input.sort_key_condition.is_some();
    one_way(
        typed_key,
        key_condition.is_some(),
        "partition_key",
        "KeyConditionExpression",
    )?;
    one_way(input.filter.is_some(), filter.is_some(), "filter", "FilterExpression")?;
    one_way(
        input.projection.is_some(),
        projected.is_some(),
        "projection",
        "ProjectionExpression",
    )?;
    let names = std::mem::take(&mut input.expression_attribute_names);
    let values = std::mem::take(&mut input.expression_attribute_values);
    let any = key_condition.is_some() || filter.is_some() || projected.is_some();
    let mut placeholders = placeholders(&names, &values, any)?;
    let tests = match &key_condition {
        Some(text) => Some(parse_key_condition(text, &mut placeholders)?),
        None => None,
    };
    if let Some(text) = &filter {
        input.filter = Some(parse_condition(ExpressionKind::Filter, text, &mut placeholders)?);
    }
    projection(projected.as_deref(), &mut placeholders, &mut input.projection)?;
    placeholders.finish()?;
    Ok(tests)
}

/// Sets a Query's partition key and sort key condition from its key condition's `tests`
/// (if it had one), checked against the table's key `schema`; returns the partition key.
///
/// Errors: [`ExpressionError::KeyConditionMissing`] without any key condition;
/// [`ExpressionError::MissingKeyElement`] without the partition key's equality;
/// [`ExpressionError::KeyConditionNotSupported`] for a test of another attribute or of the
/// partition key but equality; [`ExpressionError::OneConditionPerKey`] for two tests of
/// one key.
pub(super) fn apply_key_tests(
    input: &mut QueryInput,
    tests: Option<Vec<KeyTest>>,
    schema: &KeySchema,
) -> Result<AttributeValue> {
    if let Some(tests) = tests {
        let mut partition_key = None;
        let mut sort_key_condition = None;
        for test in tests {
            let sort_key = schema.sort_key.as_ref().is_some_and(|k| k.name == test.attribute);
            let repeated = if test.attribute == schema.partition_key.name {
                match test.comparison {
                    SortKeyCondition::Eq(value) => partition_key.replace(value).is_some(),
                    _ => return Err(ExpressionError::KeyConditionNotSupported.into()),
                }
            } else if sort_key {
                sort_key_condition.replace(test.comparison).is_some()
            } else {
                return Err(ExpressionError::KeyConditionNotSupported.into());
            };
            if repeated {
                return Err(ExpressionError::OneConditionPerKey.into());
            }
        }
        let Some(partition_key) = partition_key else {
            return Err(ExpressionError::MissingKeyElement {
                name: schema.partition_key.name.clone(),
            }
            .into());
        };
        input.partition_key = Some(partition_key);
        input.sort_key_condition = sort_key_condition;
    }
    input
        .partition_key
        .clone()
        .ok_or_else(|| ExpressionError::KeyConditionMissing.into())
}

/// A Scan's filter and projection expressions into its typed forms.
///
/// Errors: [`crate::Error::Expression`].
pub(super) fn resolve_scan(input: &mut ScanInput) -> Result<()> {
    let filter = input.filter_expression.take();
    let projected = input.projection_expression.take();
    one_way(input.filter.is_some(), filter.is_some(), "filter", "FilterExpression")?;
    one_way(
        input.projection.is_some(),
        projected.is_some(),
        "projection",
        "ProjectionExpression",
    )?;
    let names = std::mem::take(&mut input.expression_attribute_names);
    let values = std::mem::take(&mut input.expression_attribute_values);
    let mut placeholders = placeholders(&names, &values, filter.is_some() || projected.is_some())?;
    if let Some(text) = &filter {
        input.filter = Some(parse_condition(ExpressionKind::Filter, text, &mut placeholders)?);
    }
    projection(projected.as_deref(), &mut placeholders, &mut input.projection)?;
    Ok(placeholders.finish()?)
}
