//! Condition and filter expressions (and key conditions, which are conditions of a
//! narrower shape): `OR` of `AND`s of `NOT`s of comparisons, `BETWEEN`, `IN`, functions
//! and parenthesised conditions.

use super::error::type_name;
use super::{ExpressionError, KeyTest, Parser};
use crate::expr::{Comparator, Condition, Operand, Path, SortKeyCondition};
use crate::item::{AttributeType, AttributeValue};

/// The most operands an `IN` may have.
const IN_OPERANDS_MAX: usize = 100;

impl Parser<'_, '_, '_> {
    /// `and (OR and)*`
    pub(super) fn condition(&mut self) -> Result<Condition, ExpressionError> {
        let mut left = self.and()?;
        while self.eat_keyword("OR") {
            self.count_operator()?;
            left = Condition::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    /// `not (AND not)*`
    fn and(&mut self) -> Result<Condition, ExpressionError> {
        let mut left = self.not()?;
        while self.eat_keyword("AND") {
            self.count_operator()?;
            left = Condition::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    /// `NOT not | primary`
    fn not(&mut self) -> Result<Condition, ExpressionError> {
        if self.eat_keyword("NOT") {
            self.count_operator()?;
            return Ok(Condition::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    /// A parenthesised condition, a function that is a condition, or an operand followed
    /// by a comparator, `BETWEEN` or `IN`.
    fn primary(&mut self) -> Result<Condition, ExpressionError> {
        if self.eat_symbol("(") {
            let condition = self.condition()?;
            self.expect_symbol(")")?;
            return Ok(condition);
        }
        if self.at_function() && self.peek().text(self.source) != "size" {
            return self.function_condition();
        }
        let left = self.operand()?;
        if let Some(comparator) = self.comparator() {
            self.count_operator()?;
            return Ok(Condition::Compare(left, comparator, self.operand()?));
        }
        if self.eat_keyword("BETWEEN") {
            self.count_operator()?;
            let low = self.operand()?;
            if !self.eat_keyword("AND") {
                return Err(self.syntax_error());
            }
            return Ok(Condition::Between(left, low, self.operand()?));
        }
        if self.eat_keyword("IN") {
            self.count_operator()?;
            self.expect_symbol("(")?;
            let mut list = vec![self.operand()?];
            while self.eat_symbol(",") {
                list.push(self.operand()?);
            }
            self.expect_symbol(")")?;
            if list.len() > IN_OPERANDS_MAX {
                return Err(ExpressionError::TooManyInOperands {
                    kind: self.kind,
                    count: list.len(),
                });
            }
            return Ok(Condition::In(left, list));
        }
        Err(self.syntax_error())
    }

    fn comparator(&mut self) -> Option<Comparator> {
        let comparator = match self.peek().text(self.source) {
            "=" => Comparator::Eq,
            "<>" => Comparator::Ne,
            "<" => Comparator::Lt,
            "<=" => Comparator::Le,
            ">" => Comparator::Gt,
            ">=" => Comparator::Ge,
            _ => return None,
        };
        (self.peek().kind == super::Kind::Symbol).then(|| {
            self.advance();
            comparator
        })
    }

    /// A path, a `:value`, or `size(path)`.
    fn operand(&mut self) -> Result<Operand, ExpressionError> {
        if self.at_function() {
            let name = self.peek().text(self.source);
            if name != "size" {
                return Err(ExpressionError::UnknownFunction {
                    kind: self.kind,
                    name: name.to_owned(),
                });
            }
            let arguments = self.arguments()?;
            let [path] = self.exactly("size", arguments)?;
            return Ok(Operand::Size(self.document_path("size", path)?));
        }
        if self.peek().kind == super::Kind::ValuePlaceholder {
            return Ok(Operand::Value(self.value()?));
        }
        Ok(Operand::Path(self.path()?))
    }

    /// A function call's operands, after its name: `(operand (, operand)*)`.
    fn arguments(&mut self) -> Result<Vec<Operand>, ExpressionError> {
        self.advance();
        self.count_operator()?;
        self.expect_symbol("(")?;
        let mut arguments = vec![self.operand()?];
        while self.eat_symbol(",") {
            arguments.push(self.operand()?);
        }
        self.expect_symbol(")")?;
        Ok(arguments)
    }

    fn exactly<const N: usize>(
        &self,
        function: &'static str,
        arguments: Vec<Operand>,
    ) -> Result<[Operand; N], ExpressionError> {
        let count = arguments.len();
        arguments.try_into().map_err(|_| ExpressionError::OperandCount {
            kind: self.kind,
            function,
            count,
        })
    }

    fn document_path(&self, function: &'static str, operand: Operand) -> Result<Path, ExpressionError> {
        match operand {
            Operand::Path(path) => Ok(path),
            _ => Err(ExpressionError::PathRequired {
                kind: self.kind,
                function,
            }),
        }
    }

    /// `attribute_exists(path)`, `attribute_not_exists(path)`, `attribute_type(path,
    /// :type)`, `begins_with(a, b)`, `contains(a, b)`.
    fn function_condition(&mut self) -> Result<Condition, ExpressionError> {
        let name = self.peek().text(self.source);
        let function: &'static str = match name {
            "attribute_exists" => "attribute_exists",
            "attribute_not_exists" => "attribute_not_exists",
            "attribute_type" => "attribute_type",
            "begins_with" => "begins_with",
            "contains" => "contains",
            _ => {
                return Err(ExpressionError::UnknownFunction {
                    kind: self.kind,
                    name: name.to_owned(),
                });
            }
        };
        let arguments = self.arguments()?;
        Ok(match function {
            "attribute_exists" => {
                let [path] = self.exactly(function, arguments)?;
                Condition::AttributeExists(self.document_path(function, path)?)
            }
            "attribute_not_exists" => {
                let [path] = self.exactly(function, arguments)?;
                Condition::AttributeNotExists(self.document_path(function, path)?)
            }
            "attribute_type" => {
                let [path, type_operand] = self.exactly(function, arguments)?;
                let path = self.document_path(function, path)?;
                Condition::AttributeType(path, self.attribute_type(type_operand)?)
            }
            "begins_with" => {
                let [value, prefix] = self.exactly(function, arguments)?;
                self.check_string_or_binary(function, &prefix)?;
                Condition::BeginsWith(value, prefix)
            }
            _ => {
                let [haystack, needle] = self.exactly(function, arguments)?;
                Condition::Contains(haystack, needle)
            }
        })
    }

    /// The type `attribute_type` checks for: a constant string naming a type.
    fn attribute_type(&self, operand: Operand) -> Result<AttributeType, ExpressionError> {
        let invalid = |operand_type| ExpressionError::OperandType {
            kind: self.kind,
            function: "attribute_type",
            operand_type,
        };
        match operand {
            Operand::Value(AttributeValue::S(descriptor)) => {
                AttributeType::from_descriptor(&descriptor).ok_or_else(|| invalid("STRING"))
            }
            Operand::Value(other) => Err(invalid(type_name(&other))),
            Operand::Path(_) | Operand::Size(_) => Err(ExpressionError::OperandType {
                kind: self.kind,
                function: "attribute_type",
                operand_type: "PATH",
            }),
        }
    }

    /// A constant operand of `function` must be a string or binary.
    fn check_string_or_binary(&self, function: &'static str, operand: &Operand) -> Result<(), ExpressionError> {
        match operand {
            Operand::Value(AttributeValue::S(_) | AttributeValue::B(_)) | Operand::Path(_) | Operand::Size(_) => Ok(()),
            Operand::Value(value) => Err(ExpressionError::OperandType {
                kind: self.kind,
                function,
                operand_type: type_name(value),
            }),
        }
    }
}

/// The tests of a key condition: `AND`s of comparisons of an attribute with values.
///
/// Errors: [`ExpressionError::KeyConditionOperator`] for any other operator or function.
pub(super) fn key_tests(condition: Condition, tests: &mut Vec<KeyTest>) -> Result<(), ExpressionError> {
    let refused = |operator: &str| ExpressionError::KeyConditionOperator {
        operator: operator.to_owned(),
    };
    let attribute = |path: Path, operator: &str| -> Result<String, ExpressionError> {
        match path.elements() {
            [crate::expr::PathElement::Name(name)] => Ok(name.clone()),
            _ => Err(refused(operator)),
        }
    };
    let comparison = match condition {
        Condition::And(left, right) => {
            key_tests(*left, tests)?;
            return key_tests(*right, tests);
        }
        Condition::Or(..) => return Err(refused("OR")),
        Condition::Not(_) => return Err(refused("NOT")),
        Condition::In(..) => return Err(refused("IN")),
        Condition::Compare(Operand::Path(path), comparator, Operand::Value(value)) => {
            let comparison = match comparator {
                Comparator::Eq => SortKeyCondition::Eq(value),
                Comparator::Lt => SortKeyCondition::Lt(value),
                Comparator::Le => SortKeyCondition::Le(value),
                Comparator::Gt => SortKeyCondition::Gt(value),
                Comparator::Ge => SortKeyCondition::Ge(value),
                Comparator::Ne => return Err(refused("<>")),
            };
            (attribute(path, comparator_text(comparator))?, comparison)
        }
        Condition::Between(Operand::Path(path), Operand::Value(low), Operand::Value(high)) => {
            (attribute(path, "BETWEEN")?, SortKeyCondition::Between(low, high))
        }
        Condition::BeginsWith(Operand::Path(path), Operand::Value(prefix)) => {
            (attribute(path, "begins_with")?, SortKeyCondition::BeginsWith(prefix))
        }
        Condition::Compare(_, comparator, _) => return Err(refused(comparator_text(comparator))),
        Condition::Between(..) => return Err(refused("BETWEEN")),
        Condition::BeginsWith(..) => return Err(refused("begins_with")),
        Condition::AttributeExists(_) => return Err(refused("attribute_exists")),
        Condition::AttributeNotExists(_) => return Err(refused("attribute_not_exists")),
        Condition::AttributeType(..) => return Err(refused("attribute_type")),
        Condition::Contains(..) => return Err(refused("contains")),
    };
    tests.push(KeyTest {
        attribute: comparison.0,
        comparison: comparison.1,
    });
    Ok(())
}

/// A comparator as written.
pub(super) fn comparator_text(comparator: Comparator) -> &'static str {
    match comparator {
        Comparator::Eq => "=",
        Comparator::Ne => "<>",
        Comparator::Lt => "<",
        Comparator::Le => "<=",
        Comparator::Gt => ">",
        Comparator::Ge => ">=",
    }
}
