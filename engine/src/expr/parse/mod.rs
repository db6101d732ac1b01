//! DynamoDB's expression strings, parsed into the typed forms the engine evaluates:
//! ConditionExpression and FilterExpression into a [`Condition`], UpdateExpression into
//! [`UpdateAction`]s, ProjectionExpression into [`Path`]s, KeyConditionExpression into
//! [`KeyTest`]s. `#name` and `:value` placeholders are substituted from the request's
//! `ExpressionAttributeNames` and `ExpressionAttributeValues` ([`Placeholders`]), which
//! also tells which of them no expression used (DynamoDB refuses those).
//!
//! The grammar is the DynamoDB Developer Guide's. Precedence, from the tightest: the
//! comparators, `IN`, `BETWEEN` and the functions, then `NOT`, `AND`, `OR`; parentheses
//! group. Keywords are not case-sensitive; function names are. A bare attribute name may
//! not be a reserved word (the Developer Guide's list). Every refusal is an [`ExpressionError`] with
//! DynamoDB's message; parsing changes nothing.

mod cache;
mod condition;
mod error;
mod lexer;
mod print;
mod reserved;
mod update;

pub use cache::{ENTRIES_MAX as CACHED_EXPRESSIONS_MAX, cached, parse_condition_cached};
pub use error::{EXPRESSION_BYTES_MAX, ExpressionError, ExpressionKind, OPERATORS_MAX, PLACEHOLDER_BYTES_MAX};
pub use print::{Printed, print_condition, print_update};

use super::{Condition, Path, PathElement, SortKeyCondition, UpdateAction};
use crate::item::AttributeValue;
use lexer::{Kind, Token};
use std::collections::{BTreeSet, HashMap};

/// A request's `ExpressionAttributeNames` and `ExpressionAttributeValues`, and which of
/// them its expressions used so far.
#[derive(Debug)]
pub struct Placeholders<'m> {
    names: &'m HashMap<String, String>,
    values: &'m HashMap<String, AttributeValue>,
    used_names: BTreeSet<String>,
    used_values: BTreeSet<String>,
}

impl<'m> Placeholders<'m> {
    /// The placeholders of a request, none used yet.
    pub fn new(names: &'m HashMap<String, String>, values: &'m HashMap<String, AttributeValue>) -> Self {
        Placeholders {
            names,
            values,
            used_names: BTreeSet::new(),
            used_values: BTreeSet::new(),
        }
    }

    /// Whether the request gives no placeholder at all.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.values.is_empty()
    }

    /// Checks, once every expression of the request is parsed, that each name and value
    /// was used.
    ///
    /// Errors: [`ExpressionError::UnusedNames`], then [`ExpressionError::UnusedValues`].
    pub fn finish(self) -> Result<(), ExpressionError> {
        let unused = |given: Vec<&String>, used: &BTreeSet<String>| -> Vec<String> {
            let mut keys: Vec<String> = given.into_iter().filter(|k| !used.contains(*k)).cloned().collect();
            keys.sort();
            keys
        };
        let names = unused(self.names.keys().collect(), &self.used_names);
        if !names.is_empty() {
            return Err(ExpressionError::UnusedNames { keys: names });
        }
        let values = unused(self.values.keys().collect(), &self.used_values);
        if !values.is_empty() {
            return Err(ExpressionError::UnusedValues { keys: values });
        }
        Ok(())
    }
}

/// One test of a key condition: an attribute and how its value is compared.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyTest {
    /// The key attribute's name.
    pub attribute: String,
    /// The comparison.
    pub comparison: SortKeyCondition,
}

/// Parses a ConditionExpression or FilterExpression (`kind` names it in errors).
///
/// Errors: the [`ExpressionError`] DynamoDB reports.
pub fn parse_condition(
    kind: ExpressionKind,
    source: &str,
    placeholders: &mut Placeholders<'_>,
) -> Result<Condition, ExpressionError> {
    let mut parser = Parser::new(kind, source, placeholders)?;
    let condition = parser.condition()?;
    parser.end()?;
    Ok(condition)
}

/// Parses an UpdateExpression: its SET, REMOVE, ADD and DELETE clauses, each at most
/// once, in any order, into their actions in the order written.
///
/// Errors: the [`ExpressionError`] DynamoDB reports.
pub fn parse_update(source: &str, placeholders: &mut Placeholders<'_>) -> Result<Vec<UpdateAction>, ExpressionError> {
    let mut parser = Parser::new(ExpressionKind::Update, source, placeholders)?;
    let actions = parser.update()?;
    parser.end()?;
    Ok(actions)
}

/// Parses a ProjectionExpression: document paths separated by commas.
///
/// Errors: the [`ExpressionError`] DynamoDB reports.
pub fn parse_projection(source: &str, placeholders: &mut Placeholders<'_>) -> Result<Vec<Path>, ExpressionError> {
    let mut parser = Parser::new(ExpressionKind::Projection, source, placeholders)?;
    let mut paths = vec![parser.path()?];
    while parser.eat_symbol(",") {
        paths.push(parser.path()?);
    }
    parser.end()?;
    Ok(paths)
}

/// Parses a KeyConditionExpression: one or two tests joined by `AND`, each of an
/// attribute against values (`=`, `<`, `<=`, `>`, `>=`, `BETWEEN`, `begins_with`).
/// Which attributes are the table's keys is the query's to check.
///
/// Errors: the [`ExpressionError`] DynamoDB reports;
/// [`ExpressionError::KeyConditionOperator`] for `OR`, `NOT`, `IN`, `<>` or another
/// function.
pub fn parse_key_condition(source: &str, placeholders: &mut Placeholders<'_>) -> Result<Vec<KeyTest>, ExpressionError> {
    let condition = parse_condition(ExpressionKind::KeyCondition, source, placeholders)?;
    let mut tests = Vec::new();
    condition::key_tests(condition, &mut tests)?;
    Ok(tests)
}

/// A recursive-descent parser over one expression's tokens.
struct Parser<'s, 'p, 'm> {
    kind: ExpressionKind,
    source: &'s str,
    tokens: Vec<Token>,
    at: usize,
    placeholders: &'p mut Placeholders<'m>,
    /// Operators and functions so far, against [`OPERATORS_MAX`].
    operators: usize,
}

impl<'s, 'p, 'm> Parser<'s, 'p, 'm> {
    /// A parser at the start of `source`, after the checks on the whole expression.
    fn new(
        kind: ExpressionKind,
        source: &'s str,
        placeholders: &'p mut Placeholders<'m>,
    ) -> Result<Self, ExpressionError> {
        if source.len() > EXPRESSION_BYTES_MAX {
            return Err(ExpressionError::TooLong {
                kind,
                size: source.len(),
            });
        }
        if source.trim().is_empty() {
            return Err(ExpressionError::Empty { kind });
        }
        Ok(Parser {
            kind,
            source,
            tokens: lexer::tokens(source),
            at: 0,
            placeholders,
            operators: 0,
        })
    }

    fn peek(&self) -> Token {
        self.tokens[self.at.min(self.tokens.len() - 1)]
    }

    /// The token after the next.
    fn peek_second(&self) -> Token {
        self.tokens[(self.at + 1).min(self.tokens.len() - 1)]
    }

    fn advance(&mut self) -> Token {
        let token = self.peek();
        if token.kind != Kind::End {
            self.at += 1;
        }
        token
    }

    fn eat_symbol(&mut self, symbol: &str) -> bool {
        let found = self.peek().is(self.source, symbol);
        if found {
            self.advance();
        }
        found
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = self.peek().is_keyword(self.source, keyword);
        if found {
            self.advance();
        }
        found
    }

    fn expect_symbol(&mut self, symbol: &str) -> Result<(), ExpressionError> {
        if self.eat_symbol(symbol) {
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }

    /// The end of the expression must come next.
    fn end(&mut self) -> Result<(), ExpressionError> {
        match self.peek().kind {
            Kind::End => Ok(()),
            _ => Err(self.syntax_error()),
        }
    }

    /// A syntax error at the next token: DynamoDB names it and the text from the token
    /// before it to the token after it.
    fn syntax_error(&self) -> ExpressionError {
        let at = self.at.min(self.tokens.len() - 1);
        let token = self.tokens[at];
        let start = at
            .checked_sub(1)
            .map_or(token.start, |before| self.tokens[before].start);
        let end = match self.tokens.get(at + 1) {
            Some(after) if after.kind != Kind::End => after.end,
            _ => token.end,
        };
        ExpressionError::Syntax {
            kind: self.kind,
            token: token.text(self.source).to_owned(),
            near: self.source[start..end.max(start)].to_owned(),
        }
    }

    /// Counts an operator or function against [`OPERATORS_MAX`].
    fn count_operator(&mut self) -> Result<(), ExpressionError> {
        self.operators += 1;
        if self.operators > OPERATORS_MAX {
            return Err(ExpressionError::TooManyOperators {
                kind: self.kind,
                count: self.operators,
            });
        }
        Ok(())
    }

    fn check_placeholder_length(&self, placeholder: &str) -> Result<(), ExpressionError> {
        if placeholder.len() > PLACEHOLDER_BYTES_MAX {
            return Err(ExpressionError::PlaceholderTooLong {
                kind: self.kind,
                placeholder: placeholder.to_owned(),
            });
        }
        Ok(())
    }

    /// A `:value` placeholder's value (the next token must be one).
    fn value(&mut self) -> Result<AttributeValue, ExpressionError> {
        let token = self.peek();
        if token.kind != Kind::ValuePlaceholder || token.end - token.start < 2 {
            return Err(self.syntax_error());
        }
        let placeholder = token.text(self.source);
        self.check_placeholder_length(placeholder)?;
        let value = self
            .placeholders
            .values
            .get(placeholder)
            .ok_or_else(|| ExpressionError::UndefinedValue {
                kind: self.kind,
                value: placeholder.to_owned(),
            })?
            .clone();
        self.placeholders.used_values.insert(placeholder.to_owned());
        self.advance();
        Ok(value)
    }

    /// One name of a path: a bare name (not a reserved word) or a `#name` placeholder.
    fn path_name(&mut self) -> Result<String, ExpressionError> {
        let token = self.peek();
        let text = token.text(self.source);
        let name = match token.kind {
            Kind::Word if reserved::is_reserved(text) => {
                return Err(ExpressionError::ReservedWord {
                    kind: self.kind,
                    word: text.to_owned(),
                });
            }
            Kind::Word => text.to_owned(),
            Kind::NamePlaceholder if text.len() > 1 => {
                self.check_placeholder_length(text)?;
                let name = self
                    .placeholders
                    .names
                    .get(text)
                    .ok_or_else(|| ExpressionError::UndefinedName {
                        kind: self.kind,
                        name: text.to_owned(),
                    })?
                    .clone();
                self.placeholders.used_names.insert(text.to_owned());
                name
            }
            _ => return Err(self.syntax_error()),
        };
        self.advance();
        Ok(name)
    }

    /// A document path: a name, then `.name` and `[index]` steps.
    fn path(&mut self) -> Result<Path, ExpressionError> {
        let mut elements = vec![PathElement::Name(self.path_name()?)];
        loop {
            if self.eat_symbol(".") {
                elements.push(PathElement::Name(self.path_name()?));
            } else if self.eat_symbol("[") {
                let token = self.peek();
                let index = match token.kind {
                    Kind::Number => token.text(self.source).parse().map_err(|_| self.syntax_error())?,
                    _ => return Err(self.syntax_error()),
                };
                self.advance();
                self.expect_symbol("]")?;
                elements.push(PathElement::Index(index));
            } else {
                break;
            }
        }
        Path::from_elements(elements).ok_or_else(|| self.syntax_error())
    }

    /// Whether the next tokens are a function call: a name followed by `(`.
    fn at_function(&self) -> bool {
        self.peek().kind == Kind::Word && self.peek_second().is(self.source, "(")
    }
}
