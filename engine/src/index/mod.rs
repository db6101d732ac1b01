//! Secondary indexes: their schemas and DynamoDB's rules for them ([`schema`]), the
//! entries an item gives each index ([`entry`]), and the local indexes' entries a write
//! derives, kept in the item's own partition (`local`).
//!
//! A local secondary index (LSI) shares the table's partition key and sorts its items by
//! another attribute. Its entries live in the base partition, beside the items, under
//! keys no item can have (see [`entry`]), and are written in the same WAL record as the
//! item they index: after a crash the item and its entries are both there or both gone,
//! and every copy of the partition holds them, so a failover keeps them exact.
//!
//! A global secondary index (GSI) has partitions of its own, hash-partitioned by its own
//! partition key ([`global`]). The table's writes note, in their WAL record, what the item
//! they replace was keyed by in the global indexes; the index applier follows each table
//! partition's log and turns every record into index writes (see `docs/design.md`).

pub mod collection;
pub mod entry;
pub mod global;
pub(crate) mod local;
pub mod schema;

pub use schema::{IndexKind, IndexSchema, Projection};
