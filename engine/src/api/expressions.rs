//! The expression strings of a request, turned into the typed forms the operations run
//! on, before anything else is checked (DynamoDB validates a request's expressions before
//! it looks the table up): a `ConditionExpression` becomes the input's `condition`, an
//! `UpdateExpression` its `actions`, a `ProjectionExpression` its `projection`. A request
//! may give each only one way; `ExpressionAttributeNames` and `ExpressionAttributeValues`
//! need an expression, and every placeholder they define must be used. DynamoDB's legacy
//! parameters (`Expected`, `AttributeUpdates`, `AttributesToGet`, `KeyConditions`,
//! `QueryFilter`, `ScanFilter`, `ConditionalOperator`) are translated here too; a request
//! giving any of them with any expression is refused.

use super::operations::{
    DeleteItemInput, GetItemInput, KeysAndAttributes, PutItemInput, QueryInput, ScanInput, UpdateItemInput,
};
use crate::error::Result;
use crate::expr::legacy::{self, ConditionalOperator, ExpectedAttributeValue};
use crate::expr::parse::{
    ExpressionError, ExpressionKind, KeyTest, Placeholders, parse_condition_cached, parse_key_condition,
    parse_projection, parse_update,
};
use crate::expr::{Condition, Path, SortKeyCondition};
use crate::item::{AttributeValue, KeySchema};
use std::collections::HashMap;

/// Refuses a form given both ways.
fn one_way(typed: bool, expression: bool, non_expression: &'static str, name: &'static str) -> Result<()> {
    if typed && expression {
        return Err(ExpressionError::MixedParameters {
            non_expression: non_expression.to_owned(),
            expression: name.to_owned(),
        }
        .into());
    }
    Ok(())
}

/// Refuses a request giving any of the `legacy` parameters with any of the `expressions`
/// (each a name and whether the request gives it), naming those it gives.
fn refuse_mixing(legacy: &[(&str, bool)], expressions: &[(&str, bool)]) -> Result<()> {
    let given = |list: &[(&str, bool)]| {
        list.iter()
            .filter(|(_, given)| *given)
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (non_expression, expression) = (given(legacy), given(expressions));
    if !non_expression.is_empty() && !expression.is_empty() {
        return Err(ExpressionError::MixedParameters {
            non_expression,
            expression,
        }
        .into());
    }
    Ok(())
}

/// A legacy `Expected` map (with its `ConditionalOperator`), if given, into `condition`.
fn expected(
    expected: &HashMap<String, ExpectedAttributeValue>,
    operator: Option<ConditionalOperator>,
    condition: &mut Option<Condition>,
) -> Result<()> {
    if expected.is_empty() && operator.is_none() {
        return Ok(());
    }
    one_way(condition.is_some(), true, "condition", "Expected")?;
    *condition = legacy::expected(expected, operator)?;
    Ok(())
}

/// A legacy `AttributesToGet`, if given, into `projection`.
fn attributes_to_get(names: Option<Vec<String>>, projection: &mut Option<Vec<Path>>) -> Result<()> {
    if let Some(names) = names {
        one_way(projection.is_some(), true, "projection", "AttributesToGet")?;
        *projection = Some(legacy::attributes_to_get(&names));
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
        *condition = Some(parse_condition_cached(ExpressionKind::Condition, text, placeholders)?);
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

/// A PutItem's `ConditionExpression`, or legacy `Expected`, into its `condition`.
///
/// Errors: [`crate::Error::Expression`], [`crate::Error::LegacyParameter`].
pub(super) fn resolve_put(input: &mut PutItemInput) -> Result<()> {
    let legacy = std::mem::take(&mut input.expected);
    refuse_mixing(
        &[
            ("Expected", !legacy.is_empty()),
            ("ConditionalOperator", input.conditional_operator.is_some()),
        ],
        &[("ConditionExpression", input.condition_expression.is_some())],
    )?;
    expected(&legacy, input.conditional_operator.take(), &mut input.condition)?;
    resolve_condition(
        input.condition_expression.take(),
        &mut input.condition,
        std::mem::take(&mut input.expression_attribute_names),
        std::mem::take(&mut input.expression_attribute_values),
    )
}

/// A DeleteItem's `ConditionExpression`, or legacy `Expected`, into its `condition`.
///
/// Errors: [`crate::Error::Expression`], [`crate::Error::LegacyParameter`].
pub(super) fn resolve_delete(input: &mut DeleteItemInput) -> Result<()> {
    let legacy = std::mem::take(&mut input.expected);
    refuse_mixing(
        &[
            ("Expected", !legacy.is_empty()),
            ("ConditionalOperator", input.conditional_operator.is_some()),
        ],
        &[("ConditionExpression", input.condition_expression.is_some())],
    )?;
    expected(&legacy, input.conditional_operator.take(), &mut input.condition)?;
    resolve_condition(
        input.condition_expression.take(),
        &mut input.condition,
        std::mem::take(&mut input.expression_attribute_names),
        std::mem::take(&mut input.expression_attribute_values),
    )
}

/// An UpdateItem's `UpdateExpression` (or legacy `AttributeUpdates`) into its `actions`,
/// and its `ConditionExpression` (or legacy `Expected`) into its `condition`.
///
/// Errors: [`crate::Error::Expression`], [`crate::Error::LegacyParameter`].
pub(super) fn resolve_update(input: &mut UpdateItemInput) -> Result<()> {
    let update = input.update_expression.take();
    let condition_expression = input.condition_expression.take();
    let (updates, expectations) = (
        std::mem::take(&mut input.attribute_updates),
        std::mem::take(&mut input.expected),
    );
    refuse_mixing(
        &[
            ("AttributeUpdates", !updates.is_empty()),
            ("Expected", !expectations.is_empty()),
            ("ConditionalOperator", input.conditional_operator.is_some()),
        ],
        &[
            ("UpdateExpression", update.is_some()),
            ("ConditionExpression", condition_expression.is_some()),
        ],
    )?;
    if !updates.is_empty() {
        one_way(!input.actions.is_empty(), true, "actions", "AttributeUpdates")?;
        input.actions = legacy::attribute_updates(&updates)?;
    }
    expected(&expectations, input.conditional_operator.take(), &mut input.condition)?;
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

/// A GetItem's `ProjectionExpression`, or legacy `AttributesToGet`, into its `projection`.
///
/// Errors: [`crate::Error::Expression`].
pub(super) fn resolve_get(input: &mut GetItemInput) -> Result<()> {
    refuse_mixing(
        &[("AttributesToGet", input.attributes_to_get.is_some())],
        &[("ProjectionExpression", input.projection_expression.is_some())],
    )?;
    attributes_to_get(input.attributes_to_get.take(), &mut input.projection)?;
    resolve_projection(
        input.projection_expression.take(),
        &mut input.projection,
        std::mem::take(&mut input.expression_attribute_names),
    )
}

/// One table's `ProjectionExpression` (or legacy `AttributesToGet`) of a BatchGetItem
/// into its `projection`.
///
/// Errors: [`crate::Error::Expression`].
pub(super) fn resolve_keys_and_attributes(request: &mut KeysAndAttributes) -> Result<()> {
    refuse_mixing(
        &[("AttributesToGet", request.attributes_to_get.is_some())],
        &[("ProjectionExpression", request.projection_expression.is_some())],
    )?;
    attributes_to_get(request.attributes_to_get.take(), &mut request.projection)?;
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

/// A Query's filter and projection expressions (or legacy `QueryFilter` and
/// `AttributesToGet`) into its typed forms, and its key condition expression (or legacy
/// `KeyConditions`) into the tests [`apply_key_tests`] checks against the table's key
/// schema once the table is known.
///
/// Errors: [`crate::Error::Expression`], [`crate::Error::LegacyParameter`].
pub(super) fn resolve_query(input: &mut QueryInput) -> Result<Option<Vec<KeyTest>>> {
    let key_condition = input.key_condition_expression.take();
    let filter = input.filter_expression.take();
    let projected = input.projection_expression.take();
    let typed_key = input.partition_key.is_some() || input.sort_key_condition.is_some();
    let (key_conditions, query_filter) = (
        std::mem::take(&mut input.key_conditions),
        std::mem::take(&mut input.query_filter),
    );
    refuse_mixing(
        &[
            ("KeyConditions", !key_conditions.is_empty()),
            ("QueryFilter", !query_filter.is_empty()),
            ("ConditionalOperator", input.conditional_operator.is_some()),
            ("AttributesToGet", input.attributes_to_get.is_some()),
        ],
        &[
            ("KeyConditionExpression", key_condition.is_some()),
            ("FilterExpression", filter.is_some()),
            ("ProjectionExpression", projected.is_some()),
        ],
    )?;
    legacy_filter(&query_filter, input.conditional_operator.take(), &mut input.filter)?;
    attributes_to_get(input.attributes_to_get.take(), &mut input.projection)?;
    let legacy_tests = match key_conditions.is_empty() {
        true => None,
        false => {
            one_way(typed_key, true, "partition_key", "KeyConditions")?;
            Some(legacy::key_conditions(&key_conditions)?)
        }
    };
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
        input.filter = Some(parse_condition_cached(ExpressionKind::Filter, text, &mut placeholders)?);
    }
    projection(projected.as_deref(), &mut placeholders, &mut input.projection)?;
    placeholders.finish()?;
    Ok(legacy_tests.or(tests))
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

/// A Scan's filter and projection expressions (or legacy `ScanFilter` and
/// `AttributesToGet`) into its typed forms.
///
/// Errors: [`crate::Error::Expression`], [`crate::Error::LegacyParameter`].
pub(super) fn resolve_scan(input: &mut ScanInput) -> Result<()> {
    let filter = input.filter_expression.take();
    let projected = input.projection_expression.take();
    let scan_filter = std::mem::take(&mut input.scan_filter);
    refuse_mixing(
        &[
            ("ScanFilter", !scan_filter.is_empty()),
            ("ConditionalOperator", input.conditional_operator.is_some()),
            ("AttributesToGet", input.attributes_to_get.is_some()),
        ],
        &[
            ("FilterExpression", filter.is_some()),
            ("ProjectionExpression", projected.is_some()),
        ],
    )?;
    legacy_filter(&scan_filter, input.conditional_operator.take(), &mut input.filter)?;
    attributes_to_get(input.attributes_to_get.take(), &mut input.projection)?;
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
        input.filter = Some(parse_condition_cached(ExpressionKind::Filter, text, &mut placeholders)?);
    }
    projection(projected.as_deref(), &mut placeholders, &mut input.projection)?;
    Ok(placeholders.finish()?)
}

/// A legacy `QueryFilter` or `ScanFilter` (with its `ConditionalOperator`), if given, into
/// `filter`.
fn legacy_filter(
    conditions: &HashMap<String, legacy::AttributeCondition>,
    operator: Option<ConditionalOperator>,
    filter: &mut Option<Condition>,
) -> Result<()> {
    if conditions.is_empty() && operator.is_none() {
        return Ok(());
    }
    one_way(filter.is_some(), true, "filter", "QueryFilter/ScanFilter")?;
    *filter = legacy::filter(conditions, operator)?;
    Ok(())
}
