//! Expressions on items, as typed trees: document paths and conditions. (Parsing
//! DynamoDB's expression strings into these comes later.)

pub mod condition;
pub mod path;

pub use condition::{Comparator, Condition, Operand};
pub use path::{Path, PathElement};
