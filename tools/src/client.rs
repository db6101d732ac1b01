//! The `dynastore` command as a DynamoDB client on a data directory: tables (create, list,
//! describe, delete) and items (put, get, delete, update, query, scan), items in and out
//! as DynamoDB JSON, expressions as DynamoDB's strings with `--names` and `--values`.
//! A refusal prints DynamoDB's exception name and message and fails the command.

use clap::{Args, Subcommand, ValueEnum};
use dynastore::item::{KeyAttribute, ScalarType};
use dynastore::wal::fs::StdFs;
use dynastore::{
    AttributeValue, Database, DeleteItemInput, GetItemInput, Item, KeySchema, ListTablesInput, Options, PutItemInput,
    QueryInput, ReturnValues, ScanInput, TableDescription, TableSchema, UpdateItemInput,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::error::Error;
use std::io::Write;
use std::path::Path;

/// A table or item command.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Create a table: `create-table Orders --pk customer:S --sk order:N`.
    CreateTable {
        /// The table's name.
        name: String,
        /// The partition key, `NAME:TYPE` (TYPE is S, N or B).
        #[arg(long)]
        pk: String,
        /// The sort key, `NAME:TYPE`.
        #[arg(long)]
        sk: Option<String>,
        /// How many hash ranges (partitions) the table is cut into.
        #[arg(long)]
        partitions: Option<u32>,
    },
    /// The tables' names, one per line.
    ListTables,
    /// A table's description, as JSON.
    DescribeTable {
        /// The table.
        name: String,
    },
    /// Delete a table and all its items.
    DeleteTable {
        /// The table.
        name: String,
    },
    /// Write an item (DynamoDB JSON), replacing any item with its key.
    Put {
        /// The table.
        table: String,
        /// The item, e.g. `{"pk":{"S":"User123"},"sk":{"N":"1"}}`, or `file://PATH`.
        item: String,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Read the item under a key (DynamoDB JSON); prints nothing if there is none.
    Get {
        /// The table.
        table: String,
        /// The key, as DynamoDB JSON.
        key: String,
        /// Only these attributes (a ProjectionExpression).
        #[arg(long)]
        projection: Option<String>,
        /// `#name` placeholders, as JSON: `{"#n":"count"}`.
        #[arg(long)]
        names: Option<String>,
        /// Read from the primary.
        #[arg(long)]
        consistent: bool,
    },
    /// Delete the item under a key.
    Delete {
        /// The table.
        table: String,
        /// The key, as DynamoDB JSON.
        key: String,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Change the item under a key by an UpdateExpression.
    Update {
        /// The table.
        table: String,
        /// The key, as DynamoDB JSON.
        key: String,
        /// The UpdateExpression, e.g. `SET #n = #n + :one`.
        #[arg(long)]
        update: String,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Items under one partition key, in sort-key order: one per line.
    Query {
        /// The table.
        table: String,
        /// The KeyConditionExpression, e.g. `pk = :pk AND begins_with(sk, :p)`.
        #[arg(long)]
        key_condition: String,
        /// Descending sort-key order.
        #[arg(long)]
        reverse: bool,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Every item of a table (or of a segment of it): one per line.
    Scan {
        /// The table.
        table: String,
        /// This segment of a parallel scan (zero-based), with --total-segments.
        #[arg(long, requires = "total_segments")]
        segment: Option<u32>,
        /// How many segments the parallel scan has.
        #[arg(long, requires = "segment")]
        total_segments: Option<u32>,
        #[command(flatten)]
        read: ReadArgs,
    },
}

/// What a write may add: a condition, placeholders, and what to return.
#[derive(Debug, Args)]
pub struct WriteArgs {
    /// Write only if the current item satisfies this ConditionExpression.
    #[arg(long)]
    condition: Option<String>,
    /// `#name` placeholders, as JSON: `{"#n":"count"}`.
    #[arg(long)]
    names: Option<String>,
    /// `:value` placeholders, as DynamoDB JSON: `{":one":{"N":"1"}}`.
    #[arg(long)]
    values: Option<String>,
    /// What to print of the item.
    #[arg(long, value_enum, default_value = "NONE")]
    return_values: ReturnValuesArg,
}

/// What a query or scan may add: a filter, a projection, placeholders and paging.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Only items satisfying this FilterExpression.
    #[arg(long)]
    filter: Option<String>,
    /// Only these attributes (a ProjectionExpression).
    #[arg(long)]
    projection: Option<String>,
    /// `#name` placeholders, as JSON.
    #[arg(long)]
    names: Option<String>,
    /// `:value` placeholders, as DynamoDB JSON.
    #[arg(long)]
    values: Option<String>,
    /// The most items to read per page.
    #[arg(long)]
    limit: Option<u32>,
    /// Start after this key (a previous page's last key, as DynamoDB JSON).
    #[arg(long)]
    start: Option<String>,
    /// Follow the pages to the end (otherwise a page's last key is printed to stderr).
    #[arg(long)]
    all: bool,
    /// Read from the primaries.
    #[arg(long)]
    consistent: bool,
}

/// DynamoDB's `ReturnValues`, as the AWS CLI spells them.
#[derive(Debug, Clone, Copy, ValueEnum)]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReturnValuesArg {
    /// Nothing.
    None,
    /// The item as it was.
    AllOld,
    /// The updated attributes as they were.
    UpdatedOld,
    /// The item as it is now.
    AllNew,
    /// The updated attributes as they are now.
    UpdatedNew,
}

impl From<ReturnValuesArg> for ReturnValues {
    fn from(arg: ReturnValuesArg) -> ReturnValues {
        match arg {
            ReturnValuesArg::None => ReturnValues::None,
            ReturnValuesArg::AllOld => ReturnValues::AllOld,
            ReturnValuesArg::UpdatedOld => ReturnValues::UpdatedOld,
            ReturnValuesArg::AllNew => ReturnValues::AllNew,
            ReturnValuesArg::UpdatedNew => ReturnValues::UpdatedNew,
        }
    }
}

type CommandResult = Result<(), Box<dyn Error>>;

/// An engine error as DynamoDB reports it: `ExceptionName: message`.
fn dynamodb(error: dynastore::Error) -> Box<dyn Error> {
    format!("{}: {error}", error.exception_name()).into()
}

/// A parameter a user gave that is not what it must be (DynamoDB's words for it).
fn invalid(what: &str, why: impl std::fmt::Display) -> Box<dyn Error> {
    format!("ValidationException: {what}: {why}").into()
}

/// A JSON argument's text: the argument itself, or the contents of the file it names as
/// `file://PATH` (as the AWS CLI reads them; an item of 400 KB does not fit in an
/// argument).
fn json_text(argument: &str) -> Result<std::borrow::Cow<'_, str>, Box<dyn Error>> {
    match argument.strip_prefix("file://") {
        Some(path) => std::fs::read_to_string(path)
            .map(std::borrow::Cow::Owned)
            .map_err(|error| invalid(&format!("cannot read {path}"), error)),
        None => Ok(std::borrow::Cow::Borrowed(argument)),
    }
}

fn item(json: &str, what: &str) -> Result<Item, Box<dyn Error>> {
    Item::from_json_str(&json_text(json)?).map_err(|error| invalid(what, error))
}

fn names(json: Option<&str>) -> Result<HashMap<String, String>, Box<dyn Error>> {
    let Some(json) = json else {
        return Ok(HashMap::new());
    };
    serde_json::from_str(&json_text(json)?).map_err(|error| invalid("--names is not a JSON object of strings", error))
}

fn values(json: Option<&str>) -> Result<HashMap<String, AttributeValue>, Box<dyn Error>> {
    let Some(json) = json else {
        return Ok(HashMap::new());
    };
    let map: serde_json::Map<String, Value> =
        serde_json::from_str(&json_text(json)?).map_err(|error| invalid("--values is not a JSON object", error))?;
    map.into_iter()
        .map(|(key, value)| {
            let value = AttributeValue::from_json(&value).map_err(|error| invalid("--values", error))?;
            Ok((key, value))
        })
        .collect()
}

fn key_attribute(spec: &str) -> Result<KeyAttribute, Box<dyn Error>> {
    let parse = || {
        let (name, kind) = spec.rsplit_once(':')?;
        let scalar = match kind {
            "S" => ScalarType::S,
            "N" => ScalarType::N,
            "B" => ScalarType::B,
            _ => return None,
        };
        Some(KeyAttribute::new(name, scalar))
    };
    parse().ok_or_else(|| invalid("a key is NAME:TYPE with TYPE S, N or B", spec))
}

fn describe_json(description: &TableDescription) -> Value {
    let key = |attribute: &KeyAttribute, kind: &str| json!({"AttributeName": attribute.name, "KeyType": kind, "AttributeType": attribute.scalar_type.to_string()});
    let mut key_schema = vec![key(&description.key_schema.partition_key, "HASH")];
    if let Some(sort_key) = &description.key_schema.sort_key {
        key_schema.push(key(sort_key, "RANGE"));
    }
    json!({
        "TableName": description.name,
        "TableStatus": "ACTIVE",
        "KeySchema": key_schema,
        "ItemCount": description.item_count,
        "TableSizeBytes": description.table_size_bytes,
        "Partitions": description.partitions.len(),
    })
}

/// Prints `item` as one line of DynamoDB JSON.
fn print_item(out: &mut dyn Write, item: &Item) -> CommandResult {
    writeln!(out, "{}", item.to_json())?;
    Ok(())
}

/// Sets a write input's condition, placeholders and return values from `WriteArgs`
/// (PutItem, DeleteItem and UpdateItem have these fields alike).
macro_rules! with_write_args {
    ($input:ident, $write:ident) => {
        $input.condition_expression = $write.condition;
        $input.expression_attribute_names = names($write.names.as_deref())?;
        $input.expression_attribute_values = values($write.values.as_deref())?;
        $input.return_values = $write.return_values.into();
    };
}

/// Sets a Query's or Scan's filter, projection, placeholders, limit and consistency from
/// `ReadArgs`; evaluates to the key to start after, if given.
macro_rules! with_read_args {
    ($input:ident, $read:ident) => {{
        $input.filter_expression = $read.filter.clone();
        $input.projection_expression = $read.projection.clone();
        $input.expression_attribute_names = names($read.names.as_deref())?;
        $input.expression_attribute_values = values($read.values.as_deref())?;
        $input.limit = $read.limit;
        $input.consistent_read = $read.consistent;
        $read
            .start
            .as_deref()
            .map(|json| item(json, "--start is not DynamoDB JSON"))
            .transpose()?
    }};
}

/// Runs `command` on the database in `data`, printing to `out`.
pub fn run(data: &Path, command: ClientCommand, out: &mut dyn Write) -> CommandResult {
    let mut options = Options::default();
    if let ClientCommand::CreateTable {
        partitions: Some(partitions),
        ..
    } = &command
    {
        options.initial_partitions = *partitions;
    }
    let db = Database::open(StdFs::shared(), data, options).map_err(dynamodb)?;
    let result = run_on(&db, command, out);
    db.close().map_err(dynamodb)?;
    result
}

fn run_on(db: &Database, command: ClientCommand, out: &mut dyn Write) -> CommandResult {
    match command {
        ClientCommand::CreateTable { name, pk, sk, .. } => {
            let key_schema = KeySchema {
                partition_key: key_attribute(&pk)?,
                sort_key: sk.as_deref().map(key_attribute).transpose()?,
            };
            let description = db
                .create_table(TableSchema {
                    name,
                    key_schema,
                    indexes: Vec::new(),
                })
                .map_err(dynamodb)?;
            writeln!(out, "{}", describe_json(&description))?;
        }
        ClientCommand::ListTables => {
            let mut input = ListTablesInput::default();
            loop {
                let page = db.list_tables(input.clone()).map_err(dynamodb)?;
                for name in &page.table_names {
                    writeln!(out, "{name}")?;
                }
                match page.last_evaluated_table_name {
                    Some(last) => input.exclusive_start_table_name = Some(last),
                    None => break,
                }
            }
        }
        ClientCommand::DescribeTable { name } => {
            writeln!(out, "{}", describe_json(&db.describe_table(&name).map_err(dynamodb)?))?;
        }
        ClientCommand::DeleteTable { name } => {
            writeln!(out, "{}", describe_json(&db.delete_table(&name).map_err(dynamodb)?))?;
        }
        ClientCommand::Put {
            table,
            item: json,
            write,
        } => {
            let mut input = PutItemInput::new(table, item(&json, "the item is not DynamoDB JSON")?);
            with_write_args!(input, write);
            if let Some(old) = db.put_item(input).map_err(dynamodb)?.attributes {
                print_item(out, &old)?;
            }
        }
        ClientCommand::Get {
            table,
            key,
            projection,
            names: placeholder_names,
            consistent,
        } => {
            let mut input = GetItemInput::new(table, item(&key, "the key is not DynamoDB JSON")?);
            input.projection_expression = projection;
            input.expression_attribute_names = names(placeholder_names.as_deref())?;
            input.consistent_read = consistent;
            if let Some(found) = db.get_item(input).map_err(dynamodb)?.item {
                print_item(out, &found)?;
            }
        }
        ClientCommand::Delete { table, key, write } => {
            let mut input = DeleteItemInput::new(table, item(&key, "the key is not DynamoDB JSON")?);
            with_write_args!(input, write);
            if let Some(old) = db.delete_item(input).map_err(dynamodb)?.attributes {
                print_item(out, &old)?;
            }
        }
        ClientCommand::Update {
            table,
            key,
            update,
            write,
        } => {
            let mut input = UpdateItemInput::new(table, item(&key, "the key is not DynamoDB JSON")?, Vec::new());
            input.update_expression = Some(update);
            with_write_args!(input, write);
            if let Some(attributes) = db.update_item(input).map_err(dynamodb)?.attributes {
                print_item(out, &attributes)?;
            }
        }
        ClientCommand::Query {
            table,
            key_condition,
            reverse,
            read,
        } => query(db, table, key_condition, reverse, read, out)?,
        ClientCommand::Scan {
            table,
            segment,
            total_segments,
            read,
        } => scan(db, table, segment.zip(total_segments), read, out)?,
    }
    Ok(())
}

/// Prints a page's items and, unless every page is wanted, where the next page starts
/// (stderr); returns the key to continue after, if following pages.
fn page(items: &[Item], last: Option<Item>, all: bool, out: &mut dyn Write) -> Result<Option<Item>, Box<dyn Error>> {
    for found in items {
        print_item(out, found)?;
    }
    match last {
        Some(last) if !all => {
            eprintln!("more: --start '{}'", last.to_json());
            Ok(None)
        }
        last => Ok(last),
    }
}

fn query(
    db: &Database,
    table: String,
    key_condition: String,
    reverse: bool,
    read: ReadArgs,
    out: &mut dyn Write,
) -> CommandResult {
    let mut input = QueryInput::with_key_condition(table, key_condition);
    input.scan_index_forward = !reverse;
    let start = with_read_args!(input, read);
    follow_pages(
        read.all,
        out,
        |start| {
            input.exclusive_start_key = start;
            let output = db.query(input.clone()).map_err(dynamodb)?;
            Ok((output.items, output.last_evaluated_key))
        },
        start,
    )
}

fn scan(
    db: &Database,
    table: String,
    segment: Option<(u32, u32)>,
    read: ReadArgs,
    out: &mut dyn Write,
) -> CommandResult {
    let mut input = ScanInput::new(table);
    input.segment = segment;
    let start = with_read_args!(input, read);
    follow_pages(
        read.all,
        out,
        |start| {
            input.exclusive_start_key = start;
            let output = db.scan(input.clone()).map_err(dynamodb)?;
            Ok((output.items, output.last_evaluated_key))
        },
        start,
    )
}

/// Reads pages with `read_page` (given where to start: the input's own start first, then
/// each page's last key) and prints their items; without `all`, only the first page,
/// and where the next would start goes to stderr.
fn follow_pages(
    all: bool,
    out: &mut dyn Write,
    mut read_page: impl FnMut(Option<Item>) -> Result<(Vec<Item>, Option<Item>), Box<dyn Error>>,
    start: Option<Item>,
) -> CommandResult {
    let mut start = start;
    loop {
        let (items, last) = read_page(start)?;
        match page(&items, last, all, out)? {
            Some(last) => start = Some(last),
            None => return Ok(()),
        }
    }
}
