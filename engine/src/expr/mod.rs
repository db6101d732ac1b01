//! Expressions on items, as typed trees (document paths, conditions, updates), and
//! DynamoDB's expression strings parsed into them ([`parse`]), as are its legacy
//! parameters ([`legacy`]).

pub mod condition;
pub mod legacy;
pub mod parse;
pub mod path;
pub mod update;

pub use condition::{Comparator, Condition, Operand, SortKeyCondition};
pub use path::{Path, PathElement};
pub use update::{SetValue, UpdateAction, UpdateOperand};
