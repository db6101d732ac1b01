//! Typed conditions and updates written back as expression strings, with every name and
//! value a placeholder (`#n0`, `:v0`, ...): what a client sends for a typed tree, and what
//! the parser's round-trip tests compare against.

use super::condition::comparator_text;
use crate::expr::{Condition, Operand, Path, PathElement, SetValue, UpdateAction, UpdateOperand};
use crate::item::AttributeValue;
use std::collections::HashMap;
use std::fmt::Write;

/// An expression string and the placeholders it uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Printed {
    /// The expression.
    pub expression: String,
    /// Its `ExpressionAttributeNames`.
    pub names: HashMap<String, String>,
    /// Its `ExpressionAttributeValues`.
    pub values: HashMap<String, AttributeValue>,
}

impl Printed {
    fn name(&mut self, name: &str) -> String {
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), name.to_owned());
        placeholder
    }

    fn value(&mut self, value: &AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value.clone());
        placeholder
    }

    fn path(&mut self, path: &Path) -> String {
        let mut text = String::new();
        for (i, element) in path.elements().iter().enumerate() {
            match element {
                PathElement::Name(name) => {
                    if i > 0 {
                        text.push('.');
                    }
                    let placeholder = self.name(name);
                    text.push_str(&placeholder);
                }
                PathElement::Index(index) => {
                    let _ = write!(text, "[{index}]");
                }
            }
        }
        text
    }

    fn operand(&mut self, operand: &Operand) -> String {
        match operand {
            Operand::Path(path) => self.path(path),
            Operand::Value(value) => self.value(value),
            Operand::Size(path) => format!("size({})", self.path(path)),
        }
    }

    fn condition(&mut self, condition: &Condition) -> String {
        match condition {
            Condition::Compare(a, comparator, b) => {
                format!(
                    "{} {} {}",
                    self.operand(a),
                    comparator_text(*comparator),
                    self.operand(b)
                )
            }
            Condition::Between(a, low, high) => {
                format!(
                    "{} BETWEEN {} AND {}",
                    self.operand(a),
                    self.operand(low),
                    self.operand(high)
                )
            }
            Condition::In(a, list) => {
                let a = self.operand(a);
                let list: Vec<String> = list.iter().map(|operand| self.operand(operand)).collect();
                format!("{a} IN ({})", list.join(", "))
            }
            Condition::AttributeExists(path) => format!("attribute_exists({})", self.path(path)),
            Condition::AttributeNotExists(path) => format!("attribute_not_exists({})", self.path(path)),
            Condition::AttributeType(path, attribute_type) => {
                let path = self.path(path);
                let descriptor = self.value(&AttributeValue::S(attribute_type.descriptor().to_owned()));
                format!("attribute_type({path}, {descriptor})")
            }
            Condition::BeginsWith(a, b) => format!("begins_with({}, {})", self.operand(a), self.operand(b)),
            Condition::Contains(a, b) => format!("contains({}, {})", self.operand(a), self.operand(b)),
            // Every nested AND, OR and NOT is parenthesised: the tree reads back as it is.
            Condition::And(a, b) => format!("({}) AND ({})", self.condition(a), self.condition(b)),
            Condition::Or(a, b) => format!("({}) OR ({})", self.condition(a), self.condition(b)),
            Condition::Not(a) => format!("NOT ({})", self.condition(a)),
        }
    }

    fn update_operand(&mut self, operand: &UpdateOperand) -> String {
        match operand {
            UpdateOperand::Path(path) => self.path(path),
            UpdateOperand::Value(value) => self.value(value),
            UpdateOperand::IfNotExists(path, fallback) => {
                let path = self.path(path);
                format!("if_not_exists({path}, {})", self.update_operand(fallback))
            }
            UpdateOperand::ListAppend(a, b) => {
                let a = self.update_operand(a);
                format!("list_append({a}, {})", self.update_operand(b))
            }
        }
    }
}

/// `condition` as a condition expression.
pub fn print_condition(condition: &Condition) -> Printed {
    let mut printed = Printed::default();
    printed.expression = printed.condition(condition);
    printed
}

/// `actions` as an update expression: one clause per kind of action, in the order the
/// kinds first appear; the actions of a clause in their order.
pub fn print_update(actions: &[UpdateAction]) -> Printed {
    let mut printed = Printed::default();
    let mut clauses: Vec<(&str, Vec<String>)> = Vec::new();
    for action in actions {
        let (clause, text) = match action {
            UpdateAction::Set(path, value) => {
                let path = printed.path(path);
                let value = match value {
                    SetValue::Operand(operand) => printed.update_operand(operand),
                    SetValue::Plus(a, b) => {
                        let a = printed.update_operand(a);
                        format!("{a} + {}", printed.update_operand(b))
                    }
                    SetValue::Minus(a, b) => {
                        let a = printed.update_operand(a);
                        format!("{a} - {}", printed.update_operand(b))
                    }
                };
                ("SET", format!("{path} = {value}"))
            }
            UpdateAction::Remove(path) => ("REMOVE", printed.path(path)),
            UpdateAction::Add(path, value) => {
                let path = printed.path(path);
                ("ADD", format!("{path} {}", printed.value(value)))
            }
            UpdateAction::Delete(path, value) => {
                let path = printed.path(path);
                ("DELETE", format!("{path} {}", printed.value(value)))
            }
        };
        match clauses.iter_mut().find(|(name, _)| *name == clause) {
            Some((_, texts)) => texts.push(text),
            None => clauses.push((clause, vec![text])),
        }
    }
    printed.expression = clauses
        .iter()
        .map(|(clause, texts)| format!("{clause} {}", texts.join(", ")))
        .collect::<Vec<_>>()
        .join(" ");
    printed
}
