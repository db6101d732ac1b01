//! The expression strings of a request, turned into the typed forms the operations run
//! on, before anything else is checked (DynamoDB validates a request's expressions before
//! it looks the table up): a `ConditionExpression` becomes the input's `condition`, an
//! `UpdateExpression` its `actions`, a `ProjectionExpression` its `projection`. A request
//! may give each only one way; `ExpressionAttributeNames` and `ExpressionAttributeValues`
//! need an expression, and every placeholder they define must be used.

use super::operations::{DeleteItemInput, GetItemInput, PutItemInput, UpdateItemInput};
use crate::error::Result;
use crate::expr::parse::{
    ExpressionError, ExpressionKind, Placeholders, parse_condition, parse_projection, parse_update,
};
use crate::expr::{Condition, Path};
use crate::item::AttributeValue;
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

/// A PutItem's `ConditionExpression` into its `condition`.
///
/// Errors: [`crate::Error::Expression`].
pub(super) fn resolve_put(input: &mut PutItemInput) -> Result<()> {
    let expression = input.condition_expression.take();
    one_way(
        input.condition.is_some(),
        expression.is_some(),
        "condition",
        "ConditionExpression",
    )?;
    let names = std::mem::take(&mut input.expression_attribute_names);
    let values = std::mem::take(&mut input.expression_attribute_values);
    let mut placeholders = placeholders(&names, &values, expression.is_some())?;
    condition(expression.as_deref(), &mut placeholders, &mut input.condition)?;
    Ok(placeholders.finish()?)
}

/// A DeleteItem's `ConditionExpression` into its `condition`.
///
/// Errors: [`crate::Error::Expression`].
pub(super) fn resolve_delete(input: &mut DeleteItemInput) -> Result<()> {
    let expression = input.condition_expression.take();
    one_way(
        input.condition.is_some(),
        expression.is_some(),
        "condition",
        "ConditionExpression",
    )?;
    let names = std::mem::take(&mut input.expression_attribute_names);
    let values = std::mem::take(&mut input.expression_attribute_values);
    let mut placeholders = placeholders(&names, &values, expression.is_some())?;
    condition(expression.as_deref(), &mut placeholders, &mut input.condition)?;
    Ok(placeholders.finish()?)
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

/// A GetItem's `ProjectionExpression` into its `projection`.
///
/// Errors: [`crate::Error::Expression`].
pub(super) fn resolve_get(input: &mut GetItemInput) -> Result<()> {
    let expression = input.projection_expression.take();
    one_way(
        input.projection.is_some(),
        expression.is_some(),
        "projection",
        "ProjectionExpression",
    )?;
    let names = std::mem::take(&mut input.expression_attribute_names);
    let no_values = HashMap::new();
    let mut placeholders = placeholders(&names, &no_values, expression.is_some())?;
    if let Some(text) = &expression {
        let paths: Vec<Path> = parse_projection(text, &mut placeholders)?;
        input.projection = Some(paths);
    }
    Ok(placeholders.finish()?)
}
