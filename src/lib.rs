//! dynastore: an embeddable, DynamoDB-style storage engine.
//!
//! This facade re-exports the public API of the workspace's crates. Today that is the
//! write-ahead log ([`wal`]); the engine (tables, items, partitions) and replication
//! fill in as they land.

pub use dynastore_wal as wal;
