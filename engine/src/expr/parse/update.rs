//! Update expressions: `SET`, `REMOVE`, `ADD` and `DELETE` clauses, each at most once, in
//! any order, each a comma-separated list of actions.

use super::{ExpressionError, Parser};
use crate::expr::{SetValue, UpdateAction, UpdateOperand};

/// The clauses, as DynamoDB names them in errors.
const CLAUSES: [&str; 4] = ["SET", "REMOVE", "ADD", "DELETE"];

impl Parser<'_, '_, '_> {
    /// Clauses until the end of the expression.
    pub(super) fn update(&mut self) -> Result<Vec<UpdateAction>, ExpressionError> {
        let mut seen = [false; CLAUSES.len()];
        let mut actions = Vec::new();
        while self.peek().kind != super::Kind::End {
            let token = self.peek();
            let Some(clause) = CLAUSES.iter().position(|clause| token.is_keyword(self.source, clause)) else {
                return Err(self.syntax_error());
            };
            if std::mem::replace(&mut seen[clause], true) {
                return Err(ExpressionError::DuplicateClause {
                    clause: CLAUSES[clause],
                });
            }
            self.advance();
            loop {
                actions.push(self.action(clause)?);
                if !self.eat_symbol(",") {
                    break;
                }
            }
        }
        Ok(actions)
    }

    /// One action of clause `clause` (an index into [`CLAUSES`]).
    fn action(&mut self, clause: usize) -> Result<UpdateAction, ExpressionError> {
        let path = self.path()?;
        self.count_operator()?;
        Ok(match CLAUSES[clause] {
            "SET" => {
                self.expect_symbol("=")?;
                UpdateAction::Set(path, self.set_value()?)
            }
            "REMOVE" => UpdateAction::Remove(path),
            "ADD" => UpdateAction::Add(path, self.value()?),
            _ => UpdateAction::Delete(path, self.value()?),
        })
    }

    /// `operand`, `operand + operand` or `operand - operand`.
    fn set_value(&mut self) -> Result<SetValue, ExpressionError> {
        let left = self.update_operand()?;
        if self.eat_symbol("+") {
            self.count_operator()?;
            return Ok(SetValue::Plus(left, self.update_operand()?));
        }
        if self.eat_symbol("-") {
            self.count_operator()?;
            return Ok(SetValue::Minus(left, self.update_operand()?));
        }
        Ok(SetValue::Operand(left))
    }

    /// A path, a `:value`, `if_not_exists(path, operand)` or `list_append(operand,
    /// operand)`.
    fn update_operand(&mut self) -> Result<UpdateOperand, ExpressionError> {
        if self.peek().kind == super::Kind::ValuePlaceholder {
            return Ok(UpdateOperand::Value(self.value()?));
        }
        if !self.at_function() {
            return Ok(UpdateOperand::Path(self.path()?));
        }
        let name = self.peek().text(self.source);
        let function: &'static str = match name {
            "if_not_exists" => "if_not_exists",
            "list_append" => "list_append",
            _ => {
                return Err(ExpressionError::UnknownFunction {
                    kind: self.kind,
                    name: name.to_owned(),
                });
            }
        };
        self.advance();
        self.count_operator()?;
        self.expect_symbol("(")?;
        let mut operands = vec![self.update_operand()?];
        while self.eat_symbol(",") {
            operands.push(self.update_operand()?);
        }
        self.expect_symbol(")")?;
        let count = operands.len();
        let [first, second]: [UpdateOperand; 2] = operands.try_into().map_err(|_| ExpressionError::OperandCount {
            kind: self.kind,
            function,
            count,
        })?;
        if function == "list_append" {
            return Ok(UpdateOperand::ListAppend(Box::new(first), Box::new(second)));
        }
        match first {
            UpdateOperand::Path(path) => Ok(UpdateOperand::IfNotExists(path, Box::new(second))),
            _ => Err(ExpressionError::PathRequired {
                kind: self.kind,
                function,
            }),
        }
    }
}
