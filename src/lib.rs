//! dynastore: an embeddable, DynamoDB-style storage engine.
//!
//! This facade re-exports the public API of the workspace's crates: the write-ahead log
//! ([`wal`]) and the engine's data model ([`item`]: attribute values, items, numbers,
//! limits, DynamoDB JSON, key encoding). Tables, partitions and replication fill in as
//! they land.

pub use dynastore_engine::item;
pub use dynastore_engine::{
    AttributeValue, Database, Error, Item, KeyInput, KeySchema, Number, Options, PutItemInput, ReturnValues,
    TableDescription, TableSchema, ValidationError,
};
pub use dynastore_wal as wal;
