//! What is wrong with an expression string: each DynamoDB `ValidationException` an
//! expression can cause, with DynamoDB's message.

use std::fmt;

/// Which parameter an expression came in: it names the expression in every message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExpressionKind {
    /// `ConditionExpression` (PutItem, UpdateItem, DeleteItem).
    Condition,
    /// `UpdateExpression` (UpdateItem).
    Update,
    /// `KeyConditionExpression` (Query).
    KeyCondition,
    /// `FilterExpression` (Query, Scan).
    Filter,
    /// `ProjectionExpression` (GetItem, Query, Scan, BatchGetItem).
    Projection,
}

impl fmt::Display for ExpressionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExpressionKind::Condition => "ConditionExpression",
            ExpressionKind::Update => "UpdateExpression",
            ExpressionKind::KeyCondition => "KeyConditionExpression",
            ExpressionKind::Filter => "FilterExpression",
            ExpressionKind::Projection => "ProjectionExpression",
        })
    }
}

/// The most bytes an expression may have (DynamoDB's 4 KB).
pub const EXPRESSION_BYTES_MAX: usize = 4096;
/// The most operators and functions one expression may have.
pub const OPERATORS_MAX: usize = 300;
/// The most bytes of an expression attribute name or value placeholder.
pub const PLACEHOLDER_BYTES_MAX: usize = 255;

/// An expression DynamoDB refuses (a `ValidationException`), with DynamoDB's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExpressionError {
    /// The expression is empty (or only white space).
    #[error("Invalid {kind}: The expression can not be empty;")]
    Empty {
        /// The expression's parameter.
        kind: ExpressionKind,
    },
    /// A token where the grammar allows none of its kind.
    #[error("Invalid {kind}: Syntax error; token: \"{token}\", near: \"{near}\"")]
    Syntax {
        /// The expression's parameter.
        kind: ExpressionKind,
        /// The token (`<EOF>` for the end).
        token: String,
        /// The text from the token before it to the token after it.
        near: String,
    },
    /// A reserved word used bare as an attribute name.
    #[error("Invalid {kind}: Attribute name is a reserved keyword; reserved keyword: {word}")]
    ReservedWord {
        /// The expression's parameter.
        kind: ExpressionKind,
        /// The word, as written.
        word: String,
    },
    /// A `#name` not in `ExpressionAttributeNames`.
    #[error(
        "Invalid {kind}: An expression attribute name used in the document path is not defined; attribute name: {name}"
    )]
    UndefinedName {
        /// The expression's parameter.
        kind: ExpressionKind,
        /// The placeholder.
        name: String,
    },
    /// A `:value` not in `ExpressionAttributeValues`.
    #[error(
        "Invalid {kind}: An expression attribute value used in expression is not defined; attribute value: {value}"
    )]
    UndefinedValue {
        /// The expression's parameter.
        kind: ExpressionKind,
        /// The placeholder.
        value: String,
    },
    /// Names in `ExpressionAttributeNames` no expression of the request uses.
    #[error("Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}", .keys.join(", "))]
    UnusedNames {
        /// The unused placeholders, sorted.
        keys: Vec<String>,
    },
    /// Values in `ExpressionAttributeValues` no expression of the request uses.
    #[error("Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}", .keys.join(", "))]
    UnusedValues {
        /// The unused placeholders, sorted.
        keys: Vec<String>,
    },
    /// A clause (SET, REMOVE, ADD, DELETE) given twice in one update expression.
    #[error("Invalid UpdateExpression: The \"{clause}\" section can only be used once in an update expression;")]
    DuplicateClause {
        /// The clause, upper case.
        clause: &'static str,
    },
    /// A function DynamoDB does not have (or not where it was used).
    #[error("Invalid {kind}: Invalid function name; function: {name}")]
    UnknownFunction {
        /// The expression's parameter.
        kind: ExpressionKind,
        /// The name, as written.
        name: String,
    },
    /// A function called with the wrong number of operands.
    #[error(
        "Invalid {kind}: Incorrect number of operands for operator or function; operator or function: {function}, number of operands: {count}"
    )]
    OperandCount {
        /// The expression's parameter.
        kind: ExpressionKind,
        /// The function.
        function: &'static str,
        /// How many operands it was given.
        count: usize,
    },
    /// A function given a constant where it takes a document path.
    #[error("Invalid {kind}: Operator or function requires a document path; operator or function: {function}")]
    PathRequired {
        /// The expression's parameter.
        kind: ExpressionKind,
        /// The function.
        function: &'static str,
    },
    /// An operand of a type the operator or function does not take (a constant that is
    /// not a string for `begins_with`, not a type descriptor for `attribute_type`).
    #[error(
        "Invalid {kind}: Incorrect operand type for operator or function; operator or function: {function}, operand type: {operand_type}"
    )]
    OperandType {
        /// The expression's parameter.
        kind: ExpressionKind,
        /// The operator or function.
        function: &'static str,
        /// DynamoDB's name of the operand's type (`STRING`, `NUMBER`, ...).
        operand_type: &'static str,
    },
    /// An expression over 4 KB.
    #[error("Invalid {kind}: Expression size has exceeded the maximum allowed size; expression size: {size}")]
    TooLong {
        /// The expression's parameter.
        kind: ExpressionKind,
        /// Its size in bytes.
        size: usize,
    },
    /// An expression with more than 300 operators and functions.
    #[error("Invalid {kind}: The expression contains too many operators; operator count: {count}")]
    TooManyOperators {
        /// The expression's parameter.
        kind: ExpressionKind,
        /// How many it has.
        count: usize,
    },
    /// An `IN` with more than 100 operands.
    #[error("Invalid {kind}: Too many operands for the IN operator; number of operands: {count}, maximum allowed: 100")]
    TooManyInOperands {
        /// The expression's parameter.
        kind: ExpressionKind,
        /// How many it has.
        count: usize,
    },
    /// A placeholder over 255 bytes.
    #[error("Invalid {kind}: The expression attribute name or value is too long; placeholder: {placeholder}")]
    PlaceholderTooLong {
        /// The expression's parameter.
        kind: ExpressionKind,
        /// The placeholder.
        placeholder: String,
    },
    /// A request giving a condition (or update, or projection) both as an expression and
    /// in another form.
    #[error(
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{non_expression}}} Expression parameters: {{{expression}}}"
    )]
    MixedParameters {
        /// The other forms' parameters given, comma-separated.
        non_expression: String,
        /// The expression parameters given, comma-separated.
        expression: String,
    },
    /// `ExpressionAttributeNames` in a request without expressions.
    #[error("ExpressionAttributeNames can only be specified when using expressions")]
    NamesWithoutExpression,
    /// `ExpressionAttributeValues` in a request without expressions.
    #[error("ExpressionAttributeValues can only be specified when using expressions")]
    ValuesWithoutExpression,
    /// A Query with neither a key condition expression nor a partition key.
    #[error("Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")]
    KeyConditionMissing,
    /// A key condition without an equality on the partition key.
    #[error("Query condition missed key schema element: {name}")]
    MissingKeyElement {
        /// The partition key's name.
        name: String,
    },
    /// A key condition on an attribute that is not a key, or on the partition key other
    /// than by equality.
    #[error("Query key condition not supported")]
    KeyConditionNotSupported,
    /// A key condition with two tests of one key.
    #[error("KeyConditionExpressions must only contain one condition per key")]
    OneConditionPerKey,
    /// An operator a key condition cannot use (OR, NOT, IN, `<>`, functions but
    /// `begins_with`).
    #[error("Invalid operator used in KeyConditionExpression: {operator}")]
    KeyConditionOperator {
        /// The operator, as DynamoDB names it.
        operator: String,
    },
}

/// DynamoDB's name of a value's type in operand type errors.
pub(super) fn type_name(value: &crate::item::AttributeValue) -> &'static str {
    use crate::item::AttributeValue as V;
    match value {
        V::S(_) => "STRING",
        V::N(_) => "NUMBER",
        V::B(_) => "BINARY",
        V::Bool(_) => "BOOLEAN",
        V::Null => "NULL",
        V::L(_) => "LIST",
        V::M(_) => "MAP",
        V::Ss(_) => "STRING_SET",
        V::Ns(_) => "NUMBER_SET",
        V::Bs(_) => "BINARY_SET",
    }
}
