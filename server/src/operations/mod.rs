//! DynamoDB's operations: the `X-Amz-Target` names, and each operation's translation from
//! its JSON request into an engine call and from the engine's answer into its JSON
//! response. Everything here blocks (it calls the engine): run it off the async threads.

mod batch;
mod indexes;
mod items;
mod legacy;
mod reads;
mod schema_fields;
mod tables;

use crate::error::ApiError;
use crate::input::Fields;
use dynastore::Database;
use serde_json::{Value, json};

/// The prefix of every DynamoDB operation's `X-Amz-Target`.
pub const TARGET_PREFIX: &str = "DynamoDB_20120810.";

/// An operation this server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// CreateTable.
    CreateTable,
    /// DeleteTable.
    DeleteTable,
    /// DescribeTable.
    DescribeTable,
    /// ListTables.
    ListTables,
    /// PutItem.
    PutItem,
    /// GetItem.
    GetItem,
    /// UpdateItem.
    UpdateItem,
    /// DeleteItem.
    DeleteItem,
    /// Query.
    Query,
    /// Scan.
    Scan,
    /// BatchWriteItem.
    BatchWriteItem,
    /// BatchGetItem.
    BatchGetItem,
    /// UpdateTable (billing mode and throughput).
    UpdateTable,
    /// TagResource.
    TagResource,
    /// UntagResource.
    UntagResource,
    /// ListTagsOfResource.
    ListTagsOfResource,
    /// DescribeEndpoints.
    DescribeEndpoints,
    /// DescribeLimits.
    DescribeLimits,
}

impl Operation {
    /// The operation an `X-Amz-Target` header names, or `None` for anything else
    /// (another service's, such as `DynamoDBStreams_20120810.*`, or an unknown one).
    pub fn from_target(target: &str) -> Option<Operation> {
        let name = target.strip_prefix(TARGET_PREFIX)?;
        Some(match name {
            "CreateTable" => Operation::CreateTable,
            "DeleteTable" => Operation::DeleteTable,
            "DescribeTable" => Operation::DescribeTable,
            "ListTables" => Operation::ListTables,
            "PutItem" => Operation::PutItem,
            "GetItem" => Operation::GetItem,
            "UpdateItem" => Operation::UpdateItem,
            "DeleteItem" => Operation::DeleteItem,
            "Query" => Operation::Query,
            "Scan" => Operation::Scan,
            "BatchWriteItem" => Operation::BatchWriteItem,
            "BatchGetItem" => Operation::BatchGetItem,
            "UpdateTable" => Operation::UpdateTable,
            "TagResource" => Operation::TagResource,
            "UntagResource" => Operation::UntagResource,
            "ListTagsOfResource" => Operation::ListTagsOfResource,
            "DescribeEndpoints" => Operation::DescribeEndpoints,
            "DescribeLimits" => Operation::DescribeLimits,
            _ => return None,
        })
    }
}

impl Operation {
    /// Whether it changes a table's items (and so, under `Sync` durability or
    /// replication, waits for an fsync or a replica).
    pub fn writes_items(self) -> bool {
        matches!(
            self,
            Operation::PutItem | Operation::UpdateItem | Operation::DeleteItem | Operation::BatchWriteItem
        )
    }

    /// Whether it changes the CATALOG (always made durable before it answers).
    pub fn changes_catalog(self) -> bool {
        matches!(
            self,
            Operation::CreateTable
                | Operation::DeleteTable
                | Operation::UpdateTable
                | Operation::TagResource
                | Operation::UntagResource
        )
    }
}

/// What a request tells about where it was sent, for the parts of responses that name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The region of the request's credential scope (`us-east-1` when it has none).
    pub region: String,
    /// The `Host` the client addressed.
    pub host: String,
}

/// The account id in ARNs: one account, as DynamoDB Local's.
const ACCOUNT: &str = "000000000000";

impl Context {
    /// A table's ARN: `arn:aws:dynamodb:<region>:000000000000:table/<name>`.
    pub fn table_arn(&self, table: &str) -> String {
        format!("arn:aws:dynamodb:{}:{ACCOUNT}:table/{table}", self.region)
    }

    /// A table's id, a UUID that stays the same for the same table (name and creation
    /// time) across restarts.
    pub fn table_id(&self, table: &str, created: f64) -> String {
        let text = format!("{table}/{created}");
        let fnv = |seed: u64| {
            text.bytes().fold(seed, |hash, byte| {
                (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3)
            })
        };
        let (high, low) = (fnv(0xcbf2_9ce4_8422_2325), fnv(0x84222325_cbf29ce4));
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            high >> 32,
            (high >> 16) & 0xffff,
            high & 0xfff,
            low >> 52,
            low & 0xffff_ffff_ffff
        )
    }
}

/// Runs `operation` with its request `body` on `db`; returns the response body.
///
/// Errors: [`ApiError::Serialization`] for a body or field of the wrong JSON type,
/// [`ApiError::Validation`] for the violations DynamoDB checks before the operation, and
/// [`ApiError::Engine`] for what the engine refuses or fails with.
pub fn run(db: &Database, operation: Operation, body: &Value, context: &Context) -> Result<Value, ApiError> {
    let fields = Fields::of_body(body)?;
    match operation {
        Operation::CreateTable => tables::create_table(db, fields, context),
        Operation::DeleteTable => tables::delete_table(db, fields, context),
        Operation::DescribeTable => tables::describe_table(db, fields, context),
        Operation::ListTables => tables::list_tables(db, fields),
        Operation::UpdateTable => tables::update_table(db, fields, context),
        Operation::TagResource => tables::tag_resource(db, fields),
        Operation::UntagResource => tables::untag_resource(db, fields),
        Operation::ListTagsOfResource => tables::list_tags_of_resource(db, fields),
        Operation::PutItem => items::put_item(db, fields),
        Operation::GetItem => items::get_item(db, fields),
        Operation::UpdateItem => items::update_item(db, fields),
        Operation::DeleteItem => items::delete_item(db, fields),
        Operation::Query => reads::query(db, fields),
        Operation::Scan => reads::scan(db, fields),
        Operation::BatchWriteItem => batch::batch_write_item(db, fields),
        Operation::BatchGetItem => batch::batch_get_item(db, fields),
        Operation::DescribeEndpoints => Ok(json!({
            "Endpoints": [{ "Address": context.host, "CachePeriodInMinutes": 1440 }]
        })),
        Operation::DescribeLimits => Ok(json!({
            "AccountMaxReadCapacityUnits": 80000,
            "AccountMaxWriteCapacityUnits": 80000,
            "TableMaxReadCapacityUnits": 40000,
            "TableMaxWriteCapacityUnits": 40000,
        })),
    }
}
