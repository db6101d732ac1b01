//! Items, tables, the catalog, hash partitions, memtables, SSTables and compaction.
//!
//! Not implemented yet: this crate holds no code so far.
