//! DynamoDB's legacy request parameters, which older SDK code still sends, translated into
//! the typed forms expressions parse into: `Expected`, `QueryFilter` and `ScanFilter`
//! (with `ConditionalOperator`) into a [`Condition`], `KeyConditions` into [`KeyTest`]s,
//! `AttributeUpdates` into [`UpdateAction`]s, and `AttributesToGet` into projection
//! [`Path`]s. Refusals are [`LegacyError`]s with DynamoDB's messages.

use super::parse::KeyTest;
use super::{Condition, Operand, Path, SortKeyCondition, UpdateAction};
use crate::item::{AttributeType, AttributeValue};
use std::collections::HashMap;

/// A legacy comparison (DynamoDB's `ComparisonOperator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComparisonOperator {
    /// `EQ`: equal to the one value.
    Eq,
    /// `NE`: not equal to the one value.
    Ne,
    /// `LE`: at most the one value.
    Le,
    /// `LT`: less than the one value.
    Lt,
    /// `GE`: at least the one value.
    Ge,
    /// `GT`: greater than the one value.
    Gt,
    /// `NOT_NULL`: the attribute exists (no value).
    NotNull,
    /// `NULL`: the attribute does not exist (no value).
    Null,
    /// `CONTAINS`: a substring, or an element of a set or list.
    Contains,
    /// `NOT_CONTAINS`: not `CONTAINS`.
    NotContains,
    /// `BEGINS_WITH`: a string's or binary's prefix.
    BeginsWith,
    /// `IN`: equal to one of the values.
    In,
    /// `BETWEEN`: within the two values, both included.
    Between,
}

impl ComparisonOperator {
    /// Its name in a request (`EQ`, `NOT_NULL`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ComparisonOperator::Eq => "EQ",
            ComparisonOperator::Ne => "NE",
            ComparisonOperator::Le => "LE",
            ComparisonOperator::Lt => "LT",
            ComparisonOperator::Ge => "GE",
            ComparisonOperator::Gt => "GT",
            ComparisonOperator::NotNull => "NOT_NULL",
            ComparisonOperator::Null => "NULL",
            ComparisonOperator::Contains => "CONTAINS",
            ComparisonOperator::NotContains => "NOT_CONTAINS",
            ComparisonOperator::BeginsWith => "BEGINS_WITH",
            ComparisonOperator::In => "IN",
            ComparisonOperator::Between => "BETWEEN",
        }
    }

    /// The operator a request names, if it names one.
    pub fn from_name(name: &str) -> Option<ComparisonOperator> {
        const ALL: [ComparisonOperator; 13] = [
            ComparisonOperator::Eq,
            ComparisonOperator::Ne,
            ComparisonOperator::Le,
            ComparisonOperator::Lt,
            ComparisonOperator::Ge,
            ComparisonOperator::Gt,
            ComparisonOperator::NotNull,
            ComparisonOperator::Null,
            ComparisonOperator::Contains,
            ComparisonOperator::NotContains,
            ComparisonOperator::BeginsWith,
            ComparisonOperator::In,
            ComparisonOperator::Between,
        ];
        ALL.into_iter().find(|operator| operator.name() == name)
    }

    /// Whether `count` values suit the operator.
    fn takes(self, count: usize) -> bool {
        match self {
            ComparisonOperator::NotNull | ComparisonOperator::Null => count == 0,
            ComparisonOperator::In => count >= 1,
            ComparisonOperator::Between => count == 2,
            _ => count == 1,
        }
    }

    /// Whether a value of type `kind` suits the operator.
    fn accepts(self, kind: AttributeType) -> bool {
        let scalar = matches!(kind, AttributeType::S | AttributeType::N | AttributeType::B);
        match self {
            ComparisonOperator::Eq | ComparisonOperator::Ne => true,
            ComparisonOperator::BeginsWith => matches!(kind, AttributeType::S | AttributeType::B),
            _ => scalar,
        }
    }
}

/// One legacy test of an attribute (DynamoDB's `Condition`, in `KeyConditions`,
/// `QueryFilter` and `ScanFilter`).
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeCondition {
    /// How the attribute is compared.
    pub comparison_operator: ComparisonOperator,
    /// The values it is compared with (how many depends on the operator).
    pub attribute_value_list: Vec<AttributeValue>,
}

impl AttributeCondition {
    /// `operator` with `values`.
    pub fn new(comparison_operator: ComparisonOperator, attribute_value_list: Vec<AttributeValue>) -> Self {
        AttributeCondition {
            comparison_operator,
            attribute_value_list,
        }
    }
}

/// One entry of a legacy `Expected` map (DynamoDB's `ExpectedAttributeValue`): either
/// `value` and `exists`, or `comparison_operator` and `attribute_value_list`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExpectedAttributeValue {
    /// The value the attribute must equal (with `exists` true or absent).
    pub value: Option<AttributeValue>,
    /// `Some(false)`: the attribute must not exist (without `value`).
    pub exists: Option<bool>,
    /// A comparison instead of `value`/`exists`.
    pub comparison_operator: Option<ComparisonOperator>,
    /// The comparison's values.
    pub attribute_value_list: Vec<AttributeValue>,
}

/// What a legacy `AttributeUpdates` entry does (DynamoDB's `AttributeAction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AttributeAction {
    /// Sets the attribute to the value (the default).
    #[default]
    Put,
    /// Without a value, removes the attribute; with a set, removes its elements.
    Delete,
    /// Adds a number to the attribute, or elements to a set.
    Add,
}

/// One entry of a legacy `AttributeUpdates` map (DynamoDB's `AttributeValueUpdate`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AttributeValueUpdate {
    /// The value (none only for `Delete`).
    pub value: Option<AttributeValue>,
    /// What to do.
    pub action: AttributeAction,
}

/// How legacy conditions of one map combine (DynamoDB's `ConditionalOperator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConditionalOperator {
    /// Every condition holds (the default).
    #[default]
    And,
    /// At least one holds.
    Or,
}

/// A legacy parameter DynamoDB refuses (a `ValidationException`), with DynamoDB's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LegacyError {
    /// An operator given the wrong number of values.
    #[error(
        "One or more parameter values were invalid: Invalid number of argument(s) for the {operator} ComparisonOperator"
    )]
    ArgumentCount {
        /// The operator's name.
        operator: &'static str,
    },
    /// An operator given a value of a type it does not compare.
    #[error(
        "One or more parameter values were invalid: ComparisonOperator {operator} is not valid for {kind} AttributeValue type"
    )]
    ArgumentType {
        /// The operator's name.
        operator: &'static str,
        /// The value's type descriptor.
        kind: &'static str,
    },
    /// `BETWEEN` given values of two types.
    #[error(
        "One or more parameter values were invalid: AttributeValues inside AttributeValueList must be of same type"
    )]
    MixedTypes,
    /// An `Expected` entry with a value and `Exists: false`.
    #[error(
        "One or more parameter values were invalid: Cannot expect an attribute to have a specified value while expecting it to not exist"
    )]
    ValueWhileNotExists,
    /// An `Expected` entry with neither a value nor `Exists: false` nor an operator.
    #[error(
        "One or more parameter values were invalid: Value must be provided when Exists is {exists} for Attribute: {attribute}"
    )]
    ValueRequired {
        /// `true` or `null`, as the request gave `Exists`.
        exists: &'static str,
        /// The attribute.
        attribute: String,
    },
    /// An `Expected` entry mixing `Value`/`Exists` with `ComparisonOperator`/`AttributeValueList`.
    #[error(
        "One or more parameter values were invalid: Value and Exists are incompatible with AttributeValueList and ComparisonOperator for Attribute: {attribute}"
    )]
    ValueWithOperator {
        /// The attribute.
        attribute: String,
    },
    /// An `Expected` entry with an `AttributeValueList` but no `ComparisonOperator`.
    #[error(
        "One or more parameter values were invalid: AttributeValueList can only be used with a ComparisonOperator for Attribute: {attribute}"
    )]
    ListWithoutOperator {
        /// The attribute.
        attribute: String,
    },
    /// `ConditionalOperator` with fewer than two conditions.
    #[error(
        "One or more parameter values were invalid: ConditionalOperator can only be used when Filter or Expected has two or more elements"
    )]
    ConditionalOperatorAlone,
    /// An `AttributeUpdates` entry other than `DELETE` without a value.
    #[error(
        "One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is specified"
    )]
    ValueRequiredForAction,
    /// A `KeyConditions` operator a key cannot be queried by.
    #[error("Attempted conditional constraint is not an indexable operation")]
    NotIndexable,
}

/// Checks `values` against `operator`: their count, then each one's type, then (for
/// `BETWEEN`) that both are of one type.
fn check_values(operator: ComparisonOperator, values: &[AttributeValue]) -> Result<(), LegacyError> {
    if !operator.takes(values.len()) {
        return Err(LegacyError::ArgumentCount {
            operator: operator.name(),
        });
    }
    if let Some(bad) = values.iter().find(|v| !operator.accepts(v.attribute_type())) {
        return Err(LegacyError::ArgumentType {
            operator: operator.name(),
            kind: bad.attribute_type().descriptor(),
        });
    }
    if operator == ComparisonOperator::Between && values[0].attribute_type() != values[1].attribute_type() {
        return Err(LegacyError::MixedTypes);
    }
    Ok(())
}

/// One attribute compared as `condition` says.
fn test(attribute: &str, condition: &AttributeCondition) -> Result<Condition, LegacyError> {
    use super::Comparator as C;
    let operator = condition.comparison_operator;
    let values = &condition.attribute_value_list;
    check_values(operator, values)?;
    let path = Path::attribute(attribute);
    let operand = || Operand::Path(path.clone());
    let value = |i: usize| Operand::Value(values[i].clone());
    let compare = |comparator| Condition::Compare(operand(), comparator, value(0));
    Ok(match operator {
        ComparisonOperator::Eq => compare(C::Eq),
        ComparisonOperator::Ne => compare(C::Ne),
        ComparisonOperator::Le => compare(C::Le),
        ComparisonOperator::Lt => compare(C::Lt),
        ComparisonOperator::Ge => compare(C::Ge),
        ComparisonOperator::Gt => compare(C::Gt),
        ComparisonOperator::NotNull => Condition::AttributeExists(path),
        ComparisonOperator::Null => Condition::AttributeNotExists(path),
        ComparisonOperator::Contains => Condition::Contains(operand(), value(0)),
        ComparisonOperator::NotContains => Condition::Not(Box::new(Condition::Contains(operand(), value(0)))),
        ComparisonOperator::BeginsWith => Condition::BeginsWith(operand(), value(0)),
        ComparisonOperator::In => Condition::In(operand(), (0..values.len()).map(value).collect()),
        ComparisonOperator::Between => Condition::Between(operand(), value(0), value(1)),
    })
}

/// Conditions joined by `operator`, in attribute-name order (a map has no order of its
/// own; sorting makes the tree, and which condition fails first, repeatable).
fn join(
    mut tests: Vec<(&String, Condition)>,
    operator: Option<ConditionalOperator>,
) -> Result<Option<Condition>, LegacyError> {
    if operator.is_some() && tests.len() < 2 {
        return Err(LegacyError::ConditionalOperatorAlone);
    }
    tests.sort_by(|a, b| a.0.cmp(b.0));
    let or = operator == Some(ConditionalOperator::Or);
    Ok(tests
        .into_iter()
        .map(|(_, test)| test)
        .reduce(|all, next| if or { all.or(next) } else { all.and(next) }))
}

/// A `QueryFilter` or `ScanFilter` and its `ConditionalOperator` as one condition (`None`
/// for an empty filter).
///
/// Errors: [`LegacyError`] for a value list that does not suit its operator, or
/// `ConditionalOperator` with fewer than two conditions.
pub fn filter(
    filter: &HashMap<String, AttributeCondition>,
    operator: Option<ConditionalOperator>,
) -> Result<Option<Condition>, LegacyError> {
    let tests = filter
        .iter()
        .map(|(attribute, condition)| Ok((attribute, test(attribute, condition)?)))
        .collect::<Result<Vec<_>, LegacyError>>()?;
    join(tests, operator)
}

/// An `Expected` map and its `ConditionalOperator` as one condition (`None` when empty).
///
/// Errors: [`LegacyError`] for an entry that mixes or lacks its parts, a value list that
/// does not suit its operator, or `ConditionalOperator` with fewer than two entries.
pub fn expected(
    expected: &HashMap<String, ExpectedAttributeValue>,
    operator: Option<ConditionalOperator>,
) -> Result<Option<Condition>, LegacyError> {
    let tests = expected
        .iter()
        .map(|(attribute, entry)| Ok((attribute, expectation(attribute, entry)?)))
        .collect::<Result<Vec<_>, LegacyError>>()?;
    join(tests, operator)
}

/// One `Expected` entry as a condition.
fn expectation(attribute: &str, entry: &ExpectedAttributeValue) -> Result<Condition, LegacyError> {
    let with_value = entry.value.is_some() || entry.exists.is_some();
    if let Some(operator) = entry.comparison_operator {
        if with_value {
            return Err(LegacyError::ValueWithOperator {
                attribute: attribute.to_owned(),
            });
        }
        return test(
            attribute,
            &AttributeCondition::new(operator, entry.attribute_value_list.clone()),
        );
    }
    if !entry.attribute_value_list.is_empty() {
        return Err(LegacyError::ListWithoutOperator {
            attribute: attribute.to_owned(),
        });
    }
    match (&entry.value, entry.exists) {
        (Some(_), Some(false)) => Err(LegacyError::ValueWhileNotExists),
        (Some(value), _) => Ok(Condition::equals(Path::attribute(attribute), value.clone())),
        (None, Some(false)) => Ok(Condition::AttributeNotExists(Path::attribute(attribute))),
        (None, exists) => Err(LegacyError::ValueRequired {
            exists: if exists.is_some() { "true" } else { "null" },
            attribute: attribute.to_owned(),
        }),
    }
}

/// `KeyConditions` as the key tests a key condition expression parses into.
///
/// Errors: [`LegacyError::NotIndexable`] for an operator keys are not queried by (`NE`,
/// `IN`, `CONTAINS`, ...); [`LegacyError`] for values that do not suit the operator.
pub fn key_conditions(conditions: &HashMap<String, AttributeCondition>) -> Result<Vec<KeyTest>, LegacyError> {
    let mut tests = Vec::with_capacity(conditions.len());
    let mut sorted: Vec<_> = conditions.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    for (attribute, condition) in sorted {
        let operator = condition.comparison_operator;
        let values = &condition.attribute_value_list;
        let comparison = match operator {
            ComparisonOperator::Eq
            | ComparisonOperator::Le
            | ComparisonOperator::Lt
            | ComparisonOperator::Ge
            | ComparisonOperator::Gt
            | ComparisonOperator::BeginsWith
            | ComparisonOperator::Between => {
                check_values(operator, values)?;
                let v = |i: usize| values[i].clone();
                match operator {
                    ComparisonOperator::Eq => SortKeyCondition::Eq(v(0)),
                    ComparisonOperator::Le => SortKeyCondition::Le(v(0)),
                    ComparisonOperator::Lt => SortKeyCondition::Lt(v(0)),
                    ComparisonOperator::Ge => SortKeyCondition::Ge(v(0)),
                    ComparisonOperator::Gt => SortKeyCondition::Gt(v(0)),
                    ComparisonOperator::BeginsWith => SortKeyCondition::BeginsWith(v(0)),
                    _ => SortKeyCondition::Between(v(0), v(1)),
                }
            }
            _ => return Err(LegacyError::NotIndexable),
        };
        tests.push(KeyTest {
            attribute: attribute.clone(),
            comparison,
        });
    }
    Ok(tests)
}

/// `AttributeUpdates` as update actions, in attribute-name order.
///
/// Errors: [`LegacyError::ValueRequiredForAction`] for a `Put` or `Add` without a value.
pub fn attribute_updates(updates: &HashMap<String, AttributeValueUpdate>) -> Result<Vec<UpdateAction>, LegacyError> {
    let mut sorted: Vec<_> = updates.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    sorted
        .into_iter()
        .map(|(attribute, update)| {
            let path = Path::attribute(attribute);
            match (update.action, update.value.clone()) {
                (AttributeAction::Put, Some(value)) => Ok(UpdateAction::Set(path, value.into())),
                (AttributeAction::Add, Some(value)) => Ok(UpdateAction::Add(path, value)),
                (AttributeAction::Delete, Some(value)) => Ok(UpdateAction::Delete(path, value)),
                (AttributeAction::Delete, None) => Ok(UpdateAction::Remove(path)),
                (_, None) => Err(LegacyError::ValueRequiredForAction),
            }
        })
        .collect()
}

/// `AttributesToGet` as projection paths (top-level attributes).
pub fn attributes_to_get(names: &[String]) -> Vec<Path> {
    names.iter().map(Path::attribute).collect()
}
