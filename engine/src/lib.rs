//! dynastore's engine: items, tables, the catalog, hash partitions, memtables, SSTables
//! and compaction.
//!
//! So far it holds the data model ([`item`]): DynamoDB's attribute values and items, exact
//! decimal numbers, the limits DynamoDB enforces (each violation its own
//! [`item::ValidationError`] with DynamoDB's message), DynamoDB JSON, and the
//! order-preserving key encoding that partitions will sort by. Tables, partitions and the
//! read and write paths come next.

pub mod item;

pub use item::{AttributeValue, Item, KeySchema, Number, ValidationError};
