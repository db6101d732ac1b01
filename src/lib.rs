//! dynastore: an embeddable, DynamoDB-style storage engine.
//!
//! This facade re-exports the public API of the workspace's crates:
//! - the engine: [`Database`] with tables, hash partitions replicated across AZs, and
//!   DynamoDB's operations, an input and an output type each ([`api`]): PutItem,
//!   GetItem, UpdateItem, DeleteItem (with conditions and return values), Query, Scan,
//!   BatchWriteItem, BatchGetItem, ListTables, DescribeTable; the data model ([`item`]),
//!   conditions and updates ([`expr`]); checking a data directory ([`verify`]);
//! - the write-ahead log and the file-system seam every file goes through ([`wal`]).
//!
//! The `drills` feature adds fault injections for tests and failover drills
//! (`Database::fail_az`, `restore_az`, `pause_shipping`).
//!
//! # Example
//!
//! ```
//! use dynastore::item::{KeyAttribute, ScalarType};
//! use dynastore::wal::fs::StdFs;
//! use dynastore::{
//!     Condition, Database, GetItemInput, Item, KeySchema, Options, Path, PutItemInput, QueryInput, SortKeyCondition,
//!     TableSchema, UpdateAction, UpdateItemInput,
//! };
//!
//! let dir = tempfile::tempdir()?;
//! let db = Database::open(StdFs::shared(), dir.path(), Options::default())?;
//! db.create_table(TableSchema {
//!     name: "Orders".into(),
//!     key_schema: KeySchema {
//!         partition_key: KeyAttribute::new("pk", ScalarType::S),
//!         sort_key: Some(KeyAttribute::new("sk", ScalarType::N)),
//!     },
//!     indexes: Vec::new(),
//! })?;
//! let mut put = PutItemInput::new("Orders", Item::new().with("pk", "c#1").with("sk", 1).with("total", 10));
//! put.condition = Some(Condition::AttributeNotExists(Path::attribute("pk"))); // create only
//! db.put_item(put)?;
//! let key = Item::new().with("pk", "c#1").with("sk", 1);
//! db.update_item(UpdateItemInput::new("Orders", key.clone(), vec![UpdateAction::Add(Path::attribute("total"), 5.into())]))?;
//! let mut query = QueryInput::new("Orders", "c#1");
//! query.sort_key_condition = Some(SortKeyCondition::Ge(1.into()));
//! let page = db.query(query)?;
//! assert_eq!(page.items.len(), 1);
//! let item = db.get_item(GetItemInput::new("Orders", key))?.item.expect("the item is there");
//! assert_eq!(item.get("total"), Some(&15.into()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use dynastore_engine::{
    AckMode, AttributeValue, BatchGetInput, BatchGetOutput, BatchWriteOutput, BillingMode, CompactionStyle, Comparator,
    Condition, ConsumedCapacity, Database, DeleteItemInput, DeleteItemOutput, Error, GetItemInput, GetItemOutput,
    IndexCheck, IndexKind, IndexSchema, Item, ItemCollectionMetrics, KeySchema, KeysAndAttributes, ListTablesInput,
    ListTablesOutput, Number, Operand, Options, Path, Projection, PutItemInput, PutItemOutput, QueryInput, QueryOutput,
    ReplicaReport, ReplicaStatus, Replication, ReturnConsumedCapacity, ReturnValues, ScanInput, ScanOutput, Select,
    SetValue, SortKeyCondition, TableDescription, TableSchema, TableSettings, TableStatus, UpdateAction,
    UpdateItemInput, UpdateItemOutput, UpdateOperand, ValidationError, WriteRequest,
};
pub use dynastore_engine::{api, expr, index, item, verify};

/// Internals the `dynastore` tool reads (the CATALOG, MANIFESTs, SSTables, the compaction
/// policy, device write counts, replication lag): not part of the documented API, and
/// free to change.
#[doc(hidden)]
pub use dynastore_engine::{catalog, compaction, device_writes, lag, manifest, sstable};

/// The numbers `Database::stats` reports.
pub mod engine_stats {
    pub use dynastore_engine::database::{PartitionReport, ReplicaReport, ReplicaStatus, TableStats};
    pub use dynastore_engine::{PartitionStats, SsTableStats};
}

/// Where the engine keeps things on disk.
pub mod engine_layout {
    pub use dynastore_engine::database::{DEFAULT_AZS, LOCK_FILE, PRIMARY_AZ};
}
pub use dynastore_wal as wal;
