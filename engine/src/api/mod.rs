//! The DynamoDB-shaped operations: an input and an output type per operation, and the
//! operations themselves as methods of [`Database`](crate::Database). The layer above
//! the database: it validates a request as DynamoDB does, in DynamoDB's order, and asks
//! the database for the table and the partition's group to write or read.
//!
//! - [`operations`]: PutItem, GetItem, DeleteItem, UpdateItem and ListTables's types, and
//!   the inputs of Query, Scan and BatchGetItem's keys.
//! - [`batch`]: BatchWriteItem (all or nothing within a partition) and BatchGetItem.
//! - [`query`]: Query and Scan with DynamoDB's paging; `target` (what a read reads: the
//!   table or one of its indexes), `read_plan` (reading a target's partitions into a
//!   page) and `page` (a page as it is built: limit, 1 MB, filter, projection, the key
//!   to go on from) serve them.
//! - `collections`: the item collections of tables with local indexes (their size limit
//!   and metrics).
//! - [`capacity`]: the capacity units an operation consumed, as DynamoDB counts them.
//! - [`tables`]: CreateTable, DeleteTable, DescribeTable and ListTables, and their types.

pub mod batch;
pub mod capacity;
mod collections;
mod expressions;
mod items;
pub mod operations;
mod page;
pub mod query;
mod read_plan;
pub mod tables;
mod target;
