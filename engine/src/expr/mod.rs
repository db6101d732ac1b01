//! Expressions on items, as typed trees: document paths and conditions. (Parsing
//! DynamoDB's expression strings into these comes later.)

pub mod condition;
pub mod path;
pub mod update;

pub use condition::{Comparator, Condition, Operand};
pub use path::{Path, PathElement};
pub use update::{SetValue, UpdateAction, UpdateOperand};
