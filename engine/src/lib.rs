//! dynastore's engine: items, tables, the catalog, hash partitions, memtables, SSTables
//! and compaction.
//!
//! - [`item`]: DynamoDB's data model: attribute values and items, exact decimal numbers,
//!   the limits DynamoDB enforces (each violation its own [`item::ValidationError`] with
//!   DynamoDB's message), DynamoDB JSON, the binary item codec, and the order-preserving
//!   key encoding partitions sort by.
//! - [`catalog`]: the CATALOG file: table schemas, hash ranges, partitions and their
//!   replication groups.
//! - [`database`]: [`Database`]: tables, hash partitions (each a WAL, memtables and
//!   SSTables, with a copy in every AZ of its group), PutItem, GetItem, DeleteItem and
//!   UpdateItem, failover and rejoining.
//! - [`api`]: the DynamoDB-shaped operations, an input and an output type each: items,
//!   batches, Query and Scan with DynamoDB's paging, ListTables.
//! - [`lag`]: replication lag in time, from successive stats reports.
//! - [`device_writes`]: bytes written to the block device holding a directory, for
//!   benchmarks' bytes-written figures.
//! - [`verify`]: every checksum and invariant of a data directory.
//! - [`expr`]: document paths and conditions on items.
//! - [`index`]: secondary indexes: schemas, DynamoDB's rules, entry keys.

pub mod api;
mod background;
pub mod catalog;
mod checked_file;
pub mod database;
pub mod device_writes;
pub mod error;
pub mod expr;
pub mod index;
pub mod item;
pub mod lag;
pub(crate) mod storage;
pub use storage::{PartitionStats, SsTableStats};
/// Internals the `dynastore` tool reads (its `dump` and `verify` commands): not part of
/// the documented API.
#[doc(hidden)]
pub use storage::{compaction, manifest, sstable};

mod group;
mod options;
pub mod verify;

pub use api::batch::{BatchGetInput, BatchGetOutput, BatchWriteOutput, KeysAndAttributes, WriteRequest};
pub use api::capacity::{ConsumedCapacity, ReturnConsumedCapacity};
pub use api::operations::{
    DeleteItemInput, DeleteItemOutput, GetItemInput, GetItemOutput, ListTablesInput, ListTablesOutput, PutItemInput,
    PutItemOutput, ReturnValues, UpdateItemInput, UpdateItemOutput,
};
pub use api::query::{QueryInput, QueryOutput, ScanInput, ScanOutput, Select, SortKeyCondition};
pub use api::tables::{BillingMode, TableDescription, TableSchema, TableSettings, TableStatus};
pub use database::{AckMode, Database, IndexCheck, Options, ReplicaReport, ReplicaStatus, Replication};
pub use error::{Error, Result};
pub use expr::{Comparator, Condition, Operand, Path, SetValue, UpdateAction, UpdateOperand};
pub use index::collection::ItemCollectionMetrics;
pub use index::{IndexKind, IndexSchema, Projection};
pub use item::{AttributeValue, Item, KeySchema, Number, ValidationError};
pub use storage::compaction::CompactionStyle;
