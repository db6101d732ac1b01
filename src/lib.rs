//! dynastore: an embeddable, DynamoDB-style storage engine.
//!
//! This facade re-exports the public API of the workspace's crates:
//! - the engine: [`Database`] with tables, hash partitions, PutItem, GetItem, UpdateItem,
//!   DeleteItem (with conditions and return values), Query, Scan, BatchWriteItem and
//!   BatchGetItem; the data model ([`item`]), conditions and updates ([`expr`]);
//! - the write-ahead log ([`wal`]).
//!
//! SSTables, compaction and replication fill in as they land.

pub use dynastore_engine::{
    AttributeValue, BatchGetOutput, Comparator, Condition, Database, Error, Item, KeyInput, KeySchema, Number, Operand,
    Options, Page, Path, PutItemInput, QueryInput, ReturnValues, ScanInput, SetValue, SortKeyCondition,
    TableDescription, TableSchema, UpdateAction, UpdateItemInput, UpdateOperand, ValidationError, WriteRequest,
};
pub use dynastore_engine::{expr, item};
pub use dynastore_wal as wal;
