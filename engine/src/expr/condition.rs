//! Conditions on items: DynamoDB's condition expression, as a typed tree.
//!
//! Semantics follow DynamoDB: a comparison with a missing operand is false, except `<>`,
//! which is true (a missing value equals nothing); ordering comparisons and BETWEEN hold
//! only between two numbers, two strings or two binaries; sets compare as sets.

use super::path::Path;
use crate::item::{AttributeType, AttributeValue, Item, Number, ValidationError};
use std::borrow::Cow;
use std::cmp::Ordering;

/// The most operands an `IN` list may have.
pub const IN_OPERANDS_MAX: usize = 100;

/// A value in a condition: an attribute of the item, a constant, or `size(path)`.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// The value at a path of the item.
    Path(Path),
    /// A constant (an expression attribute value).
    Value(AttributeValue),
    /// `size(path)`: a string's or binary's length in bytes, a set's, list's or map's
    /// element count.
    Size(Path),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparator {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A condition on an item.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `a <op> b`
    Compare(Operand, Comparator, Operand),
    /// `a BETWEEN low AND high`
    Between(Operand, Operand, Operand),
    /// `a IN (b, c, ...)`
    In(Operand, Vec<Operand>),
    /// `attribute_exists(path)`
    AttributeExists(Path),
    /// `attribute_not_exists(path)`
    AttributeNotExists(Path),
    /// `attribute_type(path, type)`
    AttributeType(Path, AttributeType),
    /// `begins_with(a, prefix)`, for strings and binaries
    BeginsWith(Operand, Operand),
    /// `contains(a, b)`: a substring of a string, an element of a set or list
    Contains(Operand, Operand),
    /// `a AND b`
    And(Box<Condition>, Box<Condition>),
    /// `a OR b`
    Or(Box<Condition>, Box<Condition>),
    /// `NOT a`
    Not(Box<Condition>),
}

impl Condition {
    /// `path = value`
    pub fn equals(path: Path, value: impl Into<AttributeValue>) -> Condition {
        Condition::Compare(Operand::Path(path), Comparator::Eq, Operand::Value(value.into()))
    }

    /// `a AND b`
    pub fn and(self, other: Condition) -> Condition {
        Condition::And(Box::new(self), Box::new(other))
    }

    /// `a OR b`
    pub fn or(self, other: Condition) -> Condition {
        Condition::Or(Box::new(self), Box::new(other))
    }

    /// `NOT a`
    pub fn negate(self) -> Condition {
        Condition::Not(Box::new(self))
    }

    /// Checks the condition's own limits (an `IN` list of 1 to 100 operands).
    ///
    /// Errors: [`ValidationError::InvalidParameter`].
    pub fn validate(&self) -> Result<(), ValidationError> {
        match self {
            Condition::In(_, list) if list.is_empty() || list.len() > IN_OPERANDS_MAX => {
                Err(ValidationError::InvalidParameter(format!(
                    "Invalid ConditionExpression: The IN operator takes 1 to {IN_OPERANDS_MAX} operands; {} given",
                    list.len()
                )))
            }
            Condition::And(a, b) | Condition::Or(a, b) => a.validate().and_then(|()| b.validate()),
            Condition::Not(a) => a.validate(),
            _ => Ok(()),
        }
    }

    /// Every document path the condition reads.
    pub fn paths(&self) -> Vec<&Path> {
        fn operand(operand: &Operand) -> Option<&Path> {
            match operand {
                Operand::Path(path) | Operand::Size(path) => Some(path),
                Operand::Value(_) => None,
            }
        }
        match self {
            Condition::Compare(a, _, b) | Condition::BeginsWith(a, b) | Condition::Contains(a, b) => {
                operand(a).into_iter().chain(operand(b)).collect()
            }
            Condition::Between(a, b, c) => [a, b, c].into_iter().filter_map(operand).collect(),
            Condition::In(a, list) => std::iter::once(a).chain(list).filter_map(operand).collect(),
            Condition::AttributeExists(path)
            | Condition::AttributeNotExists(path)
            | Condition::AttributeType(path, _) => {
                vec![path]
            }
            Condition::And(a, b) | Condition::Or(a, b) => a.paths().into_iter().chain(b.paths()).collect(),
            Condition::Not(a) => a.paths(),
        }
    }

    /// Whether `item` (`None`: there is no item) satisfies the condition.
    pub fn evaluate(&self, item: Option<&Item>) -> bool {
        match self {
            Condition::Compare(a, comparator, b) => compare(
                evaluate_operand(a, item).as_deref(),
                *comparator,
                evaluate_operand(b, item).as_deref(),
            ),
            Condition::Between(a, low, high) => match (
                evaluate_operand(a, item),
                evaluate_operand(low, item),
                evaluate_operand(high, item),
            ) {
                (Some(a), Some(low), Some(high)) => {
                    matches!(order(&a, &low), Some(Ordering::Greater | Ordering::Equal))
                        && matches!(order(&a, &high), Some(Ordering::Less | Ordering::Equal))
                }
                _ => false,
            },
            Condition::In(a, list) => evaluate_operand(a, item).is_some_and(|a| {
                list.iter()
                    .any(|b| evaluate_operand(b, item).is_some_and(|b| values_equal(&a, &b)))
            }),
            Condition::AttributeExists(path) => item.and_then(|item| path.resolve(item)).is_some(),
            Condition::AttributeNotExists(path) => item.and_then(|item| path.resolve(item)).is_none(),
            Condition::AttributeType(path, expected) => item
                .and_then(|item| path.resolve(item))
                .is_some_and(|v| v.attribute_type() == *expected),
            Condition::BeginsWith(a, prefix) => match (
                evaluate_operand(a, item).as_deref(),
                evaluate_operand(prefix, item).as_deref(),
            ) {
                (Some(AttributeValue::S(s)), Some(AttributeValue::S(p))) => s.starts_with(p.as_str()),
                (Some(AttributeValue::B(b)), Some(AttributeValue::B(p))) => b.starts_with(p),
                _ => false,
            },
            Condition::Contains(a, b) => match (
                evaluate_operand(a, item).as_deref(),
                evaluate_operand(b, item).as_deref(),
            ) {
                (Some(AttributeValue::S(s)), Some(AttributeValue::S(part))) => s.contains(part.as_str()),
                (Some(AttributeValue::Ss(set)), Some(AttributeValue::S(e))) => set.contains(e),
                (Some(AttributeValue::Ns(set)), Some(AttributeValue::N(e))) => set.contains(e),
                (Some(AttributeValue::Bs(set)), Some(AttributeValue::B(e))) => set.contains(e),
                (Some(AttributeValue::L(list)), Some(e)) => list.iter().any(|v| values_equal(v, e)),
                _ => false,
            },
            Condition::And(a, b) => a.evaluate(item) && b.evaluate(item),
            Condition::Or(a, b) => a.evaluate(item) || b.evaluate(item),
            Condition::Not(a) => !a.evaluate(item),
        }
    }
}

fn evaluate_operand<'a>(operand: &'a Operand, item: Option<&'a Item>) -> Option<Cow<'a, AttributeValue>> {
    match operand {
        Operand::Value(value) => Some(Cow::Borrowed(value)),
        Operand::Path(path) => item.and_then(|item| path.resolve(item)).map(Cow::Borrowed),
        Operand::Size(path) => {
            let size = match item.and_then(|item| path.resolve(item))? {
                AttributeValue::S(s) => s.len(),
                AttributeValue::B(b) => b.len(),
                AttributeValue::Ss(set) => set.len(),
                AttributeValue::Ns(set) => set.len(),
                AttributeValue::Bs(set) => set.len(),
                AttributeValue::L(list) => list.len(),
                AttributeValue::M(map) => map.len(),
                _ => return None,
            };
            Some(Cow::Owned(AttributeValue::N(Number::from(size as i64))))
        }
    }
}

fn compare(a: Option<&AttributeValue>, comparator: Comparator, b: Option<&AttributeValue>) -> bool {
    let (Some(a), Some(b)) = (a, b) else {
        return comparator == Comparator::Ne;
    };
    match comparator {
        Comparator::Eq => values_equal(a, b),
        Comparator::Ne => !values_equal(a, b),
        Comparator::Lt => order(a, b) == Some(Ordering::Less),
        Comparator::Le => matches!(order(a, b), Some(Ordering::Less | Ordering::Equal)),
        Comparator::Gt => order(a, b) == Some(Ordering::Greater),
        Comparator::Ge => matches!(order(a, b), Some(Ordering::Greater | Ordering::Equal)),
    }
}

/// The order of two scalars of one type (N numerically, S and B by bytes); `None` for
/// anything else.
fn order(a: &AttributeValue, b: &AttributeValue) -> Option<Ordering> {
    match (a, b) {
        (AttributeValue::N(a), AttributeValue::N(b)) => Some(a.cmp(b)),
        (AttributeValue::S(a), AttributeValue::S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        (AttributeValue::B(a), AttributeValue::B(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// Equality as DynamoDB sees it: same type and value, sets compared without order.
pub fn values_equal(a: &AttributeValue, b: &AttributeValue) -> bool {
    fn same_set<T: PartialEq>(a: &[T], b: &[T]) -> bool {
        a.len() == b.len() && a.iter().all(|x| b.contains(x))
    }
    match (a, b) {
        (AttributeValue::Ss(a), AttributeValue::Ss(b)) => same_set(a, b),
        (AttributeValue::Ns(a), AttributeValue::Ns(b)) => same_set(a, b),
        (AttributeValue::Bs(a), AttributeValue::Bs(b)) => same_set(a, b),
        (AttributeValue::L(a), AttributeValue::L(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| values_equal(x, y))
        }
        (AttributeValue::M(a), AttributeValue::M(b)) => {
            a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| values_equal(v, w)))
        }
        _ => a == b,
    }
}

/// A condition on a key attribute in a query (DynamoDB's key condition operators: the
/// partition key is tested with `Eq`, the sort key with any).
#[derive(Debug, Clone, PartialEq)]
pub enum SortKeyCondition {
    /// `sk = v`
    Eq(AttributeValue),
    /// `sk < v`
    Lt(AttributeValue),
    /// `sk <= v`
    Le(AttributeValue),
    /// `sk > v`
    Gt(AttributeValue),
    /// `sk >= v`
    Ge(AttributeValue),
    /// `sk BETWEEN low AND high` (both included)
    Between(AttributeValue, AttributeValue),
    /// `begins_with(sk, v)`, for S and B sort keys
    BeginsWith(AttributeValue),
}
