//! Updates: DynamoDB's update expression as typed actions, applied to an item.
//!
//! Every operand is evaluated against the item as it was before the update; then SETs
//! are applied, then REMOVEs (list elements from the highest index down, so indexes refer
//! to the original list), then ADDs and DELETEs. No two actions may touch overlapping
//! paths, and key attributes cannot be updated.

use super::path::{Path, PathElement};
use crate::item::{AttributeValue, Item, Number, ValidationError};
use std::collections::BTreeMap;

/// An operand of a SET value.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateOperand {
    /// The value at a path of the item (it must exist).
    Path(Path),
    /// A constant.
    Value(AttributeValue),
    /// `if_not_exists(path, operand)`: the path's value if it exists, else the operand.
    IfNotExists(Path, Box<UpdateOperand>),
    /// `list_append(a, b)`: two lists joined.
    ListAppend(Box<UpdateOperand>, Box<UpdateOperand>),
}

/// The value a SET action assigns.
#[derive(Debug, Clone, PartialEq)]
pub enum SetValue {
    /// An operand.
    Operand(UpdateOperand),
    /// `a + b`, numbers.
    Plus(UpdateOperand, UpdateOperand),
    /// `a - b`, numbers.
    Minus(UpdateOperand, UpdateOperand),
}

impl From<AttributeValue> for SetValue {
    fn from(value: AttributeValue) -> Self {
        SetValue::Operand(UpdateOperand::Value(value))
    }
}

/// One action of an update.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateAction {
    /// `SET path = value`; setting a list index past the end appends.
    Set(Path, SetValue),
    /// `REMOVE path`; a missing path is ignored; list elements after it shift down.
    Remove(Path),
    /// `ADD path value`: adds a number (a missing attribute counts as 0) or unites a set.
    Add(Path, AttributeValue),
    /// `DELETE path value`: removes elements from a set (an emptied set disappears).
    Delete(Path, AttributeValue),
}

impl UpdateAction {
    /// The path the action changes.
    pub fn path(&self) -> &Path {
        match self {
            UpdateAction::Set(path, _) | UpdateAction::Remove(path) => path,
            UpdateAction::Add(path, _) | UpdateAction::Delete(path, _) => path,
        }
    }
}

fn invalid(message: impl Into<String>) -> ValidationError {
    ValidationError::InvalidParameter(message.into())
}

fn wrong_type() -> ValidationError {
    invalid("An operand in the update expression has an incorrect data type")
}

fn invalid_path() -> ValidationError {
    invalid("The document path provided in the update expression is invalid for update")
}

fn show(path: &Path) -> String {
    let parts: Vec<String> = path
        .elements()
        .iter()
        .map(|e| match e {
            PathElement::Name(name) => name.clone(),
            PathElement::Index(index) => format!("[{index}]"),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

/// Checks the actions themselves: no key attribute, no overlapping paths. No actions at
/// all is an update that changes nothing (DynamoDB's UpdateItem with neither
/// `UpdateExpression` nor `AttributeUpdates`, which writes the key alone if there is no
/// item); an empty expression *string* is refused by the parser.
///
/// Errors: [`ValidationError::InvalidParameter`] with DynamoDB's message.
pub fn validate_actions(actions: &[UpdateAction], key_names: &[&str]) -> Result<(), ValidationError> {
    for (i, action) in actions.iter().enumerate() {
        let path = action.path();
        if let Some(key) = key_names.iter().find(|k| **k == path.root()) {
            return Err(invalid(format!(
                "One or more parameter values were invalid: Cannot update attribute {key}. This attribute is part of the key"
            )));
        }
        for other in &actions[..i] {
            let (a, b) = (other.path().elements(), path.elements());
            let shorter = a.len().min(b.len());
            if a[..shorter] == b[..shorter] {
                let verb = if a.len() == b.len() { "conflict" } else { "overlap" };
                return Err(invalid(format!(
                    "Invalid UpdateExpression: Two document paths {verb} with each other; must remove or rewrite one of these paths; path one: {}, path two: {}",
                    show(other.path()),
                    show(path)
                )));
            }
        }
    }
    Ok(())
}

fn operand_value(operand: &UpdateOperand, original: &Item) -> Result<AttributeValue, ValidationError> {
    match operand {
        UpdateOperand::Value(value) => Ok(value.clone()),
        UpdateOperand::Path(path) => path
            .resolve(original)
            .cloned()
            .ok_or_else(|| invalid("The provided expression refers to an attribute that does not exist in the item")),
        UpdateOperand::IfNotExists(path, fallback) => match path.resolve(original) {
            Some(value) => Ok(value.clone()),
            None => operand_value(fallback, original),
        },
        UpdateOperand::ListAppend(a, b) => match (operand_value(a, original)?, operand_value(b, original)?) {
            (AttributeValue::L(mut a), AttributeValue::L(b)) => {
                a.extend(b);
                Ok(AttributeValue::L(a))
            }
            _ => Err(wrong_type()),
        },
    }
}

fn number(value: AttributeValue) -> Result<Number, ValidationError> {
    match value {
        AttributeValue::N(n) => Ok(n),
        _ => Err(wrong_type()),
    }
}

fn set_value(value: &SetValue, original: &Item) -> Result<AttributeValue, ValidationError> {
    match value {
        SetValue::Operand(operand) => operand_value(operand, original),
        SetValue::Plus(a, b) => {
            let (a, b) = (
                number(operand_value(a, original)?)?,
                number(operand_value(b, original)?)?,
            );
            Ok(AttributeValue::N(a.checked_add(&b)?))
        }
        SetValue::Minus(a, b) => {
            let (a, b) = (
                number(operand_value(a, original)?)?,
                number(operand_value(b, original)?)?,
            );
            Ok(AttributeValue::N(a.checked_add(&b.negated())?))
        }
    }
}

/// Union of two sets of one type (elements of `b` not in `a` appended).
fn union<T: PartialEq + Clone>(mut a: Vec<T>, b: &[T]) -> Vec<T> {
    for element in b {
        if !a.contains(element) {
            a.push(element.clone());
        }
    }
    a
}

fn add_value(current: Option<&AttributeValue>, value: &AttributeValue) -> Result<AttributeValue, ValidationError> {
    Ok(match (current, value) {
        (None, AttributeValue::N(_) | AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_)) => {
            value.clone()
        }
        (Some(AttributeValue::N(a)), AttributeValue::N(b)) => AttributeValue::N(a.checked_add(b)?),
        (Some(AttributeValue::Ss(a)), AttributeValue::Ss(b)) => AttributeValue::Ss(union(a.clone(), b)),
        (Some(AttributeValue::Ns(a)), AttributeValue::Ns(b)) => AttributeValue::Ns(union(a.clone(), b)),
        (Some(AttributeValue::Bs(a)), AttributeValue::Bs(b)) => AttributeValue::Bs(union(a.clone(), b)),
        _ => return Err(wrong_type()),
    })
}

/// The set left after removing `value`'s elements; `None` if it becomes empty or there
/// was none.
fn delete_value(
    current: Option<&AttributeValue>,
    value: &AttributeValue,
) -> Result<Option<AttributeValue>, ValidationError> {
    fn minus<T: PartialEq + Clone>(a: &[T], b: &[T]) -> Vec<T> {
        a.iter().filter(|e| !b.contains(e)).cloned().collect()
    }
    let left = match (current, value) {
        (None, AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_)) => return Ok(None),
        (Some(AttributeValue::Ss(a)), AttributeValue::Ss(b)) => AttributeValue::Ss(minus(a, b)),
        (Some(AttributeValue::Ns(a)), AttributeValue::Ns(b)) => AttributeValue::Ns(minus(a, b)),
        (Some(AttributeValue::Bs(a)), AttributeValue::Bs(b)) => AttributeValue::Bs(minus(a, b)),
        _ => return Err(wrong_type()),
    };
    let empty = matches!(&left, AttributeValue::Ss(s) if s.is_empty())
        || matches!(&left, AttributeValue::Ns(s) if s.is_empty())
        || matches!(&left, AttributeValue::Bs(s) if s.is_empty());
    Ok((!empty).then_some(left))
}

/// The container holding the last step of `path`, creating nothing: every step before the
/// last must exist and be a map or list as the path says.
fn parent_mut<'a>(
    attributes: &'a mut BTreeMap<String, AttributeValue>,
    path: &Path,
) -> Result<Option<&'a mut AttributeValue>, ValidationError> {
    let elements = path.elements();
    if elements.len() == 1 {
        return Ok(None);
    }
    let mut value = attributes.get_mut(path.root()).ok_or_else(invalid_path)?;
    for element in &elements[1..elements.len() - 1] {
        value = match (element, value) {
            (PathElement::Name(name), AttributeValue::M(map)) => map.get_mut(name).ok_or_else(invalid_path)?,
            (PathElement::Index(index), AttributeValue::L(list)) => list.get_mut(*index).ok_or_else(invalid_path)?,
            _ => return Err(invalid_path()),
        };
    }
    Ok(Some(value))
}

fn set_path(
    attributes: &mut BTreeMap<String, AttributeValue>,
    path: &Path,
    value: AttributeValue,
) -> Result<(), ValidationError> {
    let last = path.elements().last().ok_or_else(invalid_path)?;
    match (parent_mut(attributes, path)?, last) {
        (None, PathElement::Name(name)) => {
            attributes.insert(name.clone(), value);
        }
        (Some(AttributeValue::M(map)), PathElement::Name(name)) => {
            map.insert(name.clone(), value);
        }
        (Some(AttributeValue::L(list)), PathElement::Index(index)) => match list.get_mut(*index) {
            Some(slot) => *slot = value,
            None => list.push(value),
        },
        _ => return Err(invalid_path()),
    }
    Ok(())
}

fn remove_path(attributes: &mut BTreeMap<String, AttributeValue>, path: &Path) -> Result<(), ValidationError> {
    let last = path.elements().last().ok_or_else(invalid_path)?;
    match (parent_mut(attributes, path)?, last) {
        (None, PathElement::Name(name)) => {
            attributes.remove(name);
        }
        (Some(AttributeValue::M(map)), PathElement::Name(name)) => {
            map.remove(name);
        }
        (Some(AttributeValue::L(list)), PathElement::Index(index)) => {
            if *index < list.len() {
                list.remove(*index);
            }
        }
        _ => return Err(invalid_path()),
    }
    Ok(())
}

/// Applies validated `actions` to `original` (an existing item, or just the key of a new
/// one) and returns the new item.
///
/// Errors: [`ValidationError::InvalidParameter`] for an operand of the wrong type, a
/// missing operand, or a path whose parent does not exist; [`ValidationError::InvalidNumber`]
/// for arithmetic that leaves DynamoDB's range or precision.
pub fn apply(original: &Item, actions: &[UpdateAction]) -> Result<Item, ValidationError> {
    // Evaluate everything against the original first.
    let mut sets = Vec::new();
    let mut removes = Vec::new();
    let mut changes = Vec::new();
    for action in actions {
        match action {
            UpdateAction::Set(path, value) => sets.push((path, set_value(value, original)?)),
            UpdateAction::Remove(path) => removes.push(path),
            UpdateAction::Add(path, value) => changes.push((path, Some(add_value(path.resolve(original), value)?))),
            UpdateAction::Delete(path, value) => changes.push((path, delete_value(path.resolve(original), value)?)),
        }
    }
    let mut attributes = original.to_map();
    for (path, value) in sets {
        set_path(&mut attributes, path, value)?;
    }
    // Highest list indexes first, so each index still means the original element.
    removes.sort_by(|a, b| {
        b.elements()
            .iter()
            .map(index_key)
            .cmp(a.elements().iter().map(index_key))
    });
    for path in removes {
        remove_path(&mut attributes, path)?;
    }
    for (path, value) in changes {
        match value {
            Some(value) => set_path(&mut attributes, path, value)?,
            None => remove_path(&mut attributes, path)?,
        }
    }
    Ok(Item::from(attributes))
}

fn index_key(element: &PathElement) -> (u8, usize, &str) {
    match element {
        PathElement::Name(name) => (0, 0, name.as_str()),
        PathElement::Index(index) => (1, *index, ""),
    }
}

/// The parts of `item` at `paths`, as an item (DynamoDB's projection): nested maps keep
/// the selected keys, lists keep the selected elements in order.
pub fn project(item: &Item, paths: &[&Path]) -> Item {
    let mut out: BTreeMap<String, AttributeValue> = BTreeMap::new();
    let mut paths = paths.to_vec();
    paths.sort_by(|a, b| {
        a.elements()
            .iter()
            .map(index_key)
            .cmp(b.elements().iter().map(index_key))
    });
    for path in paths {
        if let Some(value) = path.resolve(item) {
            insert_projected(&mut out, path, value.clone());
        }
    }
    Item::from(out)
}

fn insert_projected(out: &mut BTreeMap<String, AttributeValue>, path: &Path, value: AttributeValue) {
    let elements = path.elements();
    // Build the value from the leaf up, wrapping it in single-entry maps and lists.
    let mut wrapped = value;
    for element in elements[1..].iter().rev() {
        wrapped = match element {
            PathElement::Name(name) => AttributeValue::M(BTreeMap::from([(name.clone(), wrapped)])),
            PathElement::Index(_) => AttributeValue::L(vec![wrapped]),
        };
    }
    let root = path.root().to_owned();
    match out.remove(&root) {
        Some(existing) => {
            out.insert(root, merge(existing, wrapped));
        }
        None => {
            out.insert(root, wrapped);
        }
    }
}

/// Merges two projections of the same attribute.
fn merge(a: AttributeValue, b: AttributeValue) -> AttributeValue {
    match (a, b) {
        (AttributeValue::M(mut a), AttributeValue::M(b)) => {
            for (k, v) in b {
                let merged = match a.remove(&k) {
                    Some(existing) => merge(existing, v),
                    None => v,
                };
                a.insert(k, merged);
            }
            AttributeValue::M(a)
        }
        (AttributeValue::L(mut a), AttributeValue::L(b)) => {
            a.extend(b);
            AttributeValue::L(a)
        }
        (_, b) => b,
    }
}
