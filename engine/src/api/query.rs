//! Query and Scan: ordered reads with DynamoDB's paging.
//!
//! A query reads one partition key's items, in sort-key order (or reversed), optionally
//! narrowed by one sort-key condition. A scan reads a whole table (or one parallel
//! segment of its hash space) in hash order. Both stop at `limit` items or once the
//! items read reach 1 MB, and then return the key of the last item read as
//! `last_evaluated_key`, which the next call passes as `exclusive_start_key`.
//!
//! Because the key encoding sorts like the values, every sort-key condition is a range of
//! storage keys, so a query reads exactly its items. The bounds are on key prefixes (the
//! keys that start with a value's encoding, or come before or after all of them): a local
//! index entry's key goes on past its sort key with the table's sort key.

use super::capacity::{ConsumedCapacity, ReturnConsumedCapacity};
use super::expressions::{apply_key_tests, resolve_query, resolve_scan};
use super::read_plan::{ReadPlan, check_global_read, read_capacity, scan_partitions, segment_hashes};
use super::target::Target;
use crate::database::{Database, hash_of};
use crate::error::Result;
pub use crate::expr::SortKeyCondition;
use crate::expr::legacy::{AttributeCondition, ConditionalOperator};
use crate::expr::update::project;
use crate::expr::{Condition, Path};
use crate::item::key::{encode_key_value, partition_hash};
use crate::item::validate::{KeySchema, ScalarType, ValidationError};
use crate::item::{AttributeType, AttributeValue, Item};
use std::collections::HashMap;
use std::ops::Bound;

/// The most bytes of items one page reads (DynamoDB's 1 MB).
pub const PAGE_BYTES_MAX: usize = 1 << 20;
/// The most segments a parallel scan can be cut into.
pub const TOTAL_SEGMENTS_MAX: u32 = 1_000_000;

/// The input of [`Database::query`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct QueryInput {
    /// The table.
    pub table_name: String,
    /// Query this index of the table instead (DynamoDB's `IndexName`): the key condition
    /// is on the index's key, items come in its sort key's order.
    pub index_name: Option<String>,
    /// The partition key value (equality); `None` when a `key_condition_expression` gives
    /// it.
    pub partition_key: Option<AttributeValue>,
    /// An optional condition on the sort key.
    pub sort_key_condition: Option<SortKeyCondition>,
    /// `true` (default) for ascending sort-key order, `false` for descending.
    pub scan_index_forward: bool,
    /// The most items to read in this page.
    pub limit: Option<u32>,
    /// Continue after this key (a previous page's `last_evaluated_key`).
    pub exclusive_start_key: Option<Item>,
    /// Return only the items read that satisfy this (it may not name key attributes).
    pub filter: Option<Condition>,
    /// Return only these attributes of each item.
    pub projection: Option<Vec<Path>>,
    /// What to return (DynamoDB's `Select`); `None` means every attribute, or the
    /// projection's if there is one.
    pub select: Option<Select>,
    /// Read from the primary (true), or from any copy (false, the default, as DynamoDB's
    /// `ConsistentRead`; see [`crate::GetItemInput::consistent_read`]).
    pub consistent_read: bool,
    /// The key condition as DynamoDB's `KeyConditionExpression` (instead of
    /// `partition_key` and `sort_key_condition`).
    pub key_condition_expression: Option<String>,
    /// The filter as DynamoDB's `FilterExpression` (instead of `filter`).
    pub filter_expression: Option<String>,
    /// The projection as DynamoDB's `ProjectionExpression` (instead of `projection`).
    pub projection_expression: Option<String>,
    /// The `#name` placeholders of its expressions (DynamoDB's `ExpressionAttributeNames`).
    pub expression_attribute_names: HashMap<String, String>,
    /// The `:value` placeholders of its expressions (DynamoDB's
    /// `ExpressionAttributeValues`).
    pub expression_attribute_values: HashMap<String, AttributeValue>,
    /// The key condition as DynamoDB's legacy `KeyConditions` (instead of the typed key
    /// or `key_condition_expression`).
    pub key_conditions: HashMap<String, AttributeCondition>,
    /// The filter as DynamoDB's legacy `QueryFilter` (instead of `filter` or
    /// `filter_expression`).
    pub query_filter: HashMap<String, AttributeCondition>,
    /// How the legacy filter's conditions combine (DynamoDB's `ConditionalOperator`).
    pub conditional_operator: Option<ConditionalOperator>,
    /// The projection as DynamoDB's legacy `AttributesToGet`: top-level attribute names.
    pub attributes_to_get: Option<Vec<String>>,
    /// Whether to report the capacity consumed (DynamoDB's `ReturnConsumedCapacity`).
    pub return_consumed_capacity: ReturnConsumedCapacity,
}

impl QueryInput {
    /// A query of every item under `partition_key`, ascending.
    pub fn new(table_name: impl Into<String>, partition_key: impl Into<AttributeValue>) -> Self {
        QueryInput::of(table_name.into(), Some(partition_key.into()), None)
    }

    /// A query of `table_name` by DynamoDB's `KeyConditionExpression` (its placeholders
    /// go into `expression_attribute_names` and `_values`), ascending.
    pub fn with_key_condition(table_name: impl Into<String>, key_condition_expression: impl Into<String>) -> Self {
        QueryInput::of(table_name.into(), None, Some(key_condition_expression.into()))
    }

    /// A query of `table_name` by DynamoDB's legacy `KeyConditions`, ascending.
    pub fn with_key_conditions(
        table_name: impl Into<String>,
        key_conditions: HashMap<String, AttributeCondition>,
    ) -> Self {
        QueryInput {
            key_conditions,
            ..QueryInput::of(table_name.into(), None, None)
        }
    }

    fn of(table_name: String, partition_key: Option<AttributeValue>, key_condition_expression: Option<String>) -> Self {
        QueryInput {
            table_name,
            index_name: None,
            partition_key,
            key_condition_expression,
            filter_expression: None,
            projection_expression: None,
            expression_attribute_names: HashMap::new(),
            expression_attribute_values: HashMap::new(),
            sort_key_condition: None,
            scan_index_forward: true,
            limit: None,
            exclusive_start_key: None,
            filter: None,
            projection: None,
            select: None,
            consistent_read: false,
            key_conditions: HashMap::new(),
            query_filter: HashMap::new(),
            conditional_operator: None,
            attributes_to_get: None,
            return_consumed_capacity: ReturnConsumedCapacity::None,
        }
    }
}

/// The input of [`Database::scan`].
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct ScanInput {
    /// The table.
    pub table_name: String,
    /// Scan this index of the table instead (DynamoDB's `IndexName`).
    pub index_name: Option<String>,
    /// The most items to read in this page.
    pub limit: Option<u32>,
    /// Continue after this key (a previous page's `last_evaluated_key`).
    pub exclusive_start_key: Option<Item>,
    /// For a parallel scan: `(segment, total_segments)`, segment zero-based.
    pub segment: Option<(u32, u32)>,
    /// Return only the items read that satisfy this.
    pub filter: Option<Condition>,
    /// Return only these attributes of each item.
    pub projection: Option<Vec<Path>>,
    /// What to return (DynamoDB's `Select`); `None` means every attribute, or the
    /// projection's if there is one.
    pub select: Option<Select>,
    /// Read from the primaries (true), or from any copy (false, the default, as DynamoDB's
    /// `ConsistentRead`; see [`crate::GetItemInput::consistent_read`]).
    pub consistent_read: bool,
    /// The filter as DynamoDB's `FilterExpression` (instead of `filter`).
    pub filter_expression: Option<String>,
    /// The projection as DynamoDB's `ProjectionExpression` (instead of `projection`).
    pub projection_expression: Option<String>,
    /// The `#name` placeholders of its expressions (DynamoDB's `ExpressionAttributeNames`).
    pub expression_attribute_names: HashMap<String, String>,
    /// The `:value` placeholders of its expressions (DynamoDB's
    /// `ExpressionAttributeValues`).
    pub expression_attribute_values: HashMap<String, AttributeValue>,
    /// The filter as DynamoDB's legacy `ScanFilter` (instead of `filter` or
    /// `filter_expression`).
    pub scan_filter: HashMap<String, AttributeCondition>,
    /// How the legacy filter's conditions combine (DynamoDB's `ConditionalOperator`).
    pub conditional_operator: Option<ConditionalOperator>,
    /// The projection as DynamoDB's legacy `AttributesToGet`: top-level attribute names.
    pub attributes_to_get: Option<Vec<String>>,
    /// Whether to report the capacity consumed (DynamoDB's `ReturnConsumedCapacity`).
    pub return_consumed_capacity: ReturnConsumedCapacity,
}

impl ScanInput {
    /// A scan of the whole table.
    pub fn new(table_name: impl Into<String>) -> Self {
        ScanInput {
            table_name: table_name.into(),
            ..ScanInput::default()
        }
    }
}

/// What a query or scan returns of the items it finds (DynamoDB's `Select`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Select {
    /// Every attribute of each item (`ALL_ATTRIBUTES`; the default without a projection).
    AllAttributes,
    /// Only the attributes the projection names (`SPECIFIC_ATTRIBUTES`; the default with
    /// one, which it requires).
    SpecificAttributes,
    /// Only how many items there are (`COUNT`): no items, the counts and paging as usual.
    Count,
    /// The attributes an index projects (`ALL_PROJECTED_ATTRIBUTES`; the default for a
    /// read of an index without a projection): only for a query or scan of an index.
    AllProjectedAttributes,
}

/// The output of [`Database::query`]: one page.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct QueryOutput {
    /// The items that passed the filter, in read order (none with [`Select::Count`]).
    pub items: Vec<Item>,
    /// How many items passed the filter (DynamoDB's `Count`).
    pub count: usize,
    /// Items read, before the filter (DynamoDB's `ScannedCount`).
    pub scanned_count: usize,
    /// Where the next page starts, if this one stopped at its limit or at 1 MB.
    pub last_evaluated_key: Option<Item>,
    /// The capacity consumed, when the input asked for it.
    pub consumed_capacity: Option<ConsumedCapacity>,
}

/// The output of [`Database::scan`]: one page.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct ScanOutput {
    /// The items that passed the filter, in read order (none with [`Select::Count`]).
    pub items: Vec<Item>,
    /// How many items passed the filter (DynamoDB's `Count`).
    pub count: usize,
    /// Items read, before the filter (DynamoDB's `ScannedCount`).
    pub scanned_count: usize,
    /// Where the next page starts, if this one stopped at its limit or at 1 MB.
    pub last_evaluated_key: Option<Item>,
    /// The capacity consumed, when the input asked for it.
    pub consumed_capacity: Option<ConsumedCapacity>,
}

/// One page as it is built, for either operation.
#[derive(Debug, Default)]
struct Page {
    items: Vec<Item>,
    count: usize,
    scanned_count: usize,
    last_evaluated_key: Option<Item>,
}

impl From<Page> for QueryOutput {
    fn from(page: Page) -> Self {
        QueryOutput {
            items: page.items,
            count: page.count,
            scanned_count: page.scanned_count,
            last_evaluated_key: page.last_evaluated_key,
            consumed_capacity: None,
        }
    }
}

impl From<Page> for ScanOutput {
    fn from(page: Page) -> Self {
        ScanOutput {
            items: page.items,
            count: page.count,
            scanned_count: page.scanned_count,
            last_evaluated_key: page.last_evaluated_key,
            consumed_capacity: None,
        }
    }
}

/// The prefix DynamoDB puts before the `Select` refusals of a Query (not of a Scan).
const QUERY_PREFIX: &str = "1 validation error detected: ";

/// Checks `select` against the projection, as DynamoDB does (a Query's messages carry
/// `prefix`, a Scan's do not); returns whether only the count is wanted.
///
/// Errors: [`ValidationError::InvalidParameter`] for a projection with `AllAttributes`,
/// `AllProjectedAttributes` or `Count`, `SpecificAttributes` without one, and
/// `AllProjectedAttributes` without an index.
fn check_select(select: Option<Select>, has_projection: bool, has_index: bool, prefix: &str) -> Result<bool> {
    let refuse = |message: &str| Err(invalid(format!("{prefix}{message}")).into());
    let getting = match select {
        Some(Select::AllAttributes) => Some("ALL_ATTRIBUTES"),
        Some(Select::AllProjectedAttributes) => Some("ALL_PROJECTED_ATTRIBUTES"),
        Some(Select::Count) => Some("only the Count"),
        Some(Select::SpecificAttributes) | None => None,
    };
    if let Some(getting) = getting.filter(|_| has_projection) {
        return refuse(&format!(
            "Cannot specify the ProjectionExpression when choosing to get {getting}"
        ));
    }
    match select {
        Some(Select::SpecificAttributes) if !has_projection => {
            refuse("Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES")
        }
        Some(Select::AllProjectedAttributes) if !has_index => {
            refuse("ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName")
        }
        _ => Ok(select == Some(Select::Count)),
    }
}

pub(super) fn invalid(message: impl Into<String>) -> ValidationError {
    ValidationError::InvalidParameter(message.into())
}

fn check_limit(limit: Option<u32>) -> Result<Option<usize>> {
    match limit {
        Some(0) => Err(invalid(
            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
        )
        .into()),
        other => Ok(other.map(|l| l as usize)),
    }
}

/// The attributes `names` of `item`: what `last_evaluated_key` holds.
fn key_of(item: &Item, names: &[String]) -> Item {
    names
        .iter()
        .filter_map(|name| item.get(name).map(|v| (name.clone(), v.clone())))
        .collect()
}

fn scalar_type(value: &AttributeValue) -> Option<ScalarType> {
    match value.attribute_type() {
        AttributeType::S => Some(ScalarType::S),
        AttributeType::N => Some(ScalarType::N),
        AttributeType::B => Some(ScalarType::B),
        _ => None,
    }
}

fn type_mismatch() -> ValidationError {
    invalid("One or more parameter values were invalid: Condition parameter type does not match schema type")
}

/// Encodes a sort-key operand after checking its type against the schema.
fn operand(value: &AttributeValue, expected: ScalarType) -> Result<Vec<u8>> {
    if scalar_type(value) != Some(expected) {
        return Err(type_mismatch().into());
    }
    let mut encoded = Vec::new();
    encode_key_value(value, &mut encoded);
    Ok(encoded)
}

fn between_order_error(low: &AttributeValue, high: &AttributeValue) -> ValidationError {
    let show = |v: &AttributeValue| {
        let json = v.to_json();
        let (descriptor, inner) = json
            .as_object()
            .and_then(|o| o.iter().next())
            .map_or(("", ""), |(k, v)| (k.as_str(), v.as_str().unwrap_or("")));
        format!("AttributeValue: {{{descriptor}:{inner}}}")
    };
    invalid(format!(
        "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: {}, upper bound operand: {}",
        show(low),
        show(high)
    ))
}

/// The storage-key bounds of a query.
struct KeyRange {
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
}

/// The lower bound past every key that starts with `prefix`.
fn past(prefix: &[u8]) -> Bound<Vec<u8>> {
    match successor(prefix) {
        Bound::Excluded(next) => Bound::Included(next),
        // Only keys of 0xFF bytes have no successor; nothing is past them but longer ones.
        _ => Bound::Excluded(prefix.to_vec()),
    }
}

/// The upper bound below which are all keys that start with `prefix`: the first key
/// after them (unbounded if there is none).
fn successor(prefix: &[u8]) -> Bound<Vec<u8>> {
    match prefix.iter().rposition(|&b| b != 0xFF) {
        Some(i) => {
            let mut next = prefix[..=i].to_vec();
            next[i] += 1;
            Bound::Excluded(next)
        }
        None => Bound::Unbounded,
    }
}

fn query_range(target: &Target<'_>, partition_key: &AttributeValue, input: &QueryInput) -> Result<KeyRange> {
    let schema = target.key_schema();
    if scalar_type(partition_key) != Some(schema.partition_key.scalar_type) {
        return Err(type_mismatch().into());
    }
    let partition_prefix = target.partition_prefix(partition_key);
    let with = |encoded: Vec<u8>| [partition_prefix.as_slice(), &encoded].concat();
    let whole = KeyRange {
        lower: Bound::Included(target.first_key(partition_key)),
        upper: successor(&partition_prefix),
    };
    let Some(condition) = &input.sort_key_condition else {
        return Ok(whole);
    };
    let Some(sort_key) = &schema.sort_key else {
        return Err(invalid("Query key condition not supported").into());
    };
    let sort_type = sort_key.scalar_type;
    let first = target.first_key(partition_key);
    let mut range = match condition {
        SortKeyCondition::Eq(v) => {
            let key = with(operand(v, sort_type)?);
            KeyRange {
                upper: successor(&key),
                lower: Bound::Included(key),
            }
        }
        SortKeyCondition::Lt(v) => KeyRange {
            upper: Bound::Excluded(with(operand(v, sort_type)?)),
            ..whole
        },
        SortKeyCondition::Le(v) => KeyRange {
            upper: successor(&with(operand(v, sort_type)?)),
            ..whole
        },
        SortKeyCondition::Gt(v) => KeyRange {
            lower: past(&with(operand(v, sort_type)?)),
            ..whole
        },
        SortKeyCondition::Ge(v) => KeyRange {
            lower: Bound::Included(with(operand(v, sort_type)?)),
            ..whole
        },
        SortKeyCondition::Between(low, high) => {
            let (low_key, high_key) = (with(operand(low, sort_type)?), with(operand(high, sort_type)?));
            if low_key > high_key {
                return Err(between_order_error(low, high).into());
            }
            KeyRange {
                lower: Bound::Included(low_key),
                upper: successor(&high_key),
            }
        }
        SortKeyCondition::BeginsWith(v) => {
            if sort_type == ScalarType::N {
                return Err(invalid(
                    "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
                )
                .into());
            }
            let mut encoded = operand(v, sort_type)?;
            // The encoding without its terminator is a prefix of every longer value's.
            encoded.truncate(encoded.len() - 2);
            let prefix = with(encoded);
            KeyRange {
                lower: Bound::Included(prefix.clone()),
                upper: successor(&prefix),
            }
        }
    };
    // No condition reaches below the partition key's first item: the keys below it are
    // local index entries (an empty operand's encoding sorts there).
    let below_first = match &range.lower {
        Bound::Included(key) | Bound::Excluded(key) => *key < first,
        Bound::Unbounded => true,
    };
    if below_first {
        range.lower = Bound::Included(first);
    }
    Ok(range)
}

/// Collects a page while visiting items: stops at the limit or once 1 MB was read, both
/// counted before the filter, as DynamoDB counts them.
pub(super) struct PageBuilder<'a> {
    /// The attributes of `last_evaluated_key`.
    key_names: Vec<String>,
    limit: Option<usize>,
    filter: Option<&'a Condition>,
    projection: Option<Vec<&'a Path>>,
    /// Whether only the count is wanted ([`Select::Count`]): items are counted, not kept.
    count_only: bool,
    bytes: usize,
    page: Page,
}

impl<'a> PageBuilder<'a> {
    fn new(
        key_names: Vec<String>,
        limit: Option<usize>,
        filter: Option<&'a Condition>,
        projection: Option<&'a Vec<Path>>,
        count_only: bool,
    ) -> Self {
        let projection = projection.map(|paths| paths.iter().collect());
        PageBuilder {
            key_names,
            limit,
            filter,
            projection,
            count_only,
            bytes: 0,
            page: Page::default(),
        }
    }

    /// Reads an item; returns whether the page has room for more.
    pub(super) fn push(&mut self, item: &Item) -> bool {
        self.bytes += item.size_bytes();
        self.page.scanned_count += 1;
        if self.filter.is_none_or(|filter| filter.evaluate(Some(item))) {
            self.page.count += 1;
            if !self.count_only {
                let returned = match &self.projection {
                    Some(paths) => project(item, paths),
                    None => item.clone(),
                };
                self.page.items.push(returned);
            }
        }
        let full = self.limit.is_some_and(|l| self.page.scanned_count >= l) || self.bytes >= PAGE_BYTES_MAX;
        if full {
            self.page.last_evaluated_key = Some(key_of(item, &self.key_names));
        }
        !full
    }

    pub(super) fn is_full(&self) -> bool {
        self.page.last_evaluated_key.is_some()
    }

    /// How many more items, and about how many more bytes, the page can read.
    pub(super) fn room(&self) -> (usize, usize) {
        let items = self
            .limit
            .map_or(usize::MAX, |limit| limit.saturating_sub(self.page.scanned_count));
        (items, PAGE_BYTES_MAX.saturating_sub(self.bytes))
    }

    /// Where the page stands, to come back to with [`PageBuilder::rewind`].
    pub(super) fn mark(&self) -> PageMark {
        PageMark {
            bytes: self.bytes,
            items: self.page.items.len(),
            count: self.page.count,
            scanned: self.page.scanned_count,
        }
    }

    /// Forgets what was read since `mark` (a partition's read that is being done again).
    pub(super) fn rewind(&mut self, mark: PageMark) {
        self.bytes = mark.bytes;
        self.page.items.truncate(mark.items);
        self.page.count = mark.count;
        self.page.scanned_count = mark.scanned;
        self.page.last_evaluated_key = None;
    }
}

/// A point in a page being built (see [`PageBuilder::mark`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct PageMark {
    bytes: usize,
    items: usize,
    count: usize,
    scanned: usize,
}

/// A query's filter may not name key attributes (they belong in the key condition).
fn check_filter_names(filter: Option<&Condition>, schema: &KeySchema) -> Result<()> {
    let Some(filter) = filter else { return Ok(()) };
    filter.validate()?;
    let keys = std::iter::once(&schema.partition_key).chain(schema.sort_key.as_ref());
    for key in keys {
        if filter.paths().iter().any(|path| path.root() == key.name) {
            return Err(invalid(format!(
                "Filter Expression can only contain non-primary key attributes: Primary key attribute: {}",
                key.name
            ))
            .into());
        }
    }
    Ok(())
}

impl Database {
    /// Reads the items of one partition key, in sort-key order (DynamoDB's Query), one
    /// page at a time.
    ///
    /// Errors: [`crate::Error::ResourceNotFound`]; [`crate::Error::Validation`] for a
    /// partition key or operand of the wrong type, `begins_with` on a number, BETWEEN
    /// bounds in the wrong order, a sort-key condition on a table without sort key, a
    /// limit of 0, or an `exclusive_start_key` that is not a key of this query.
    pub fn query(&self, mut input: QueryInput) -> Result<QueryOutput> {
        let key_tests = resolve_query(&mut input)?;
        let has_index = input.index_name.is_some();
        let count_only = check_select(input.select, input.projection.is_some(), has_index, QUERY_PREFIX)?;
        let table = self.table(&input.table_name)?;
        let target = Target::of(&table, input.index_name.as_deref())?;
        check_global_read(&target, input.consistent_read, input.select)?;
        let key_schema = target.key_schema();
        let partition_key = apply_key_tests(&mut input, key_tests, key_schema)?;
        let limit = check_limit(input.limit)?;
        check_filter_names(input.filter.as_ref(), key_schema)?;
        let mut range = query_range(&target, &partition_key, &input)?;
        if let Some(start) = &input.exclusive_start_key {
            let start_key = target.start_key(start)?;
            if !start_key.starts_with(&target.partition_prefix(&partition_key)) {
                return Err(invalid(
                    "The provided starting key is outside query boundaries based on provided conditions",
                )
                .into());
            }
            if input.scan_index_forward {
                range.lower = Bound::Excluded(start_key);
            } else {
                range.upper = Bound::Excluded(start_key);
            }
        }
        // A query's range holds only the target's keys.
        let read = ReadPlan::new(
            &target,
            input.select,
            input.projection.as_deref(),
            input.filter.as_ref(),
            false,
        );
        let new_page = || {
            PageBuilder::new(
                target.key_names(),
                limit,
                input.filter.as_ref(),
                input.projection.as_ref(),
                count_only,
            )
        };
        let hash = partition_hash(&partition_key);
        // A copy found damaged part way is replaced and the page read again from scratch.
        let page = self.read_in(target.groups(), hash, input.consistent_read, |copy| {
            let mut page = new_page();
            read.range(copy, (&range.lower, &range.upper), !input.scan_index_forward, &mut page)?;
            Ok((page.page, page.bytes))
        })?;
        let (page, bytes) = page.unwrap_or_else(|| (new_page().page, 0));
        let mut output = QueryOutput::from(page);
        output.consumed_capacity = input
            .return_consumed_capacity
            .wanted()
            .then(|| read_capacity(&target, &input.table_name, bytes, input.consistent_read));
        Ok(output)
    }

    /// Reads a whole table, or one segment of a parallel scan, in hash order (DynamoDB's
    /// Scan), one page at a time.
    ///
    /// Errors: [`crate::Error::ResourceNotFound`]; [`crate::Error::Validation`] for a limit
    /// of 0, a bad segment, an unknown index, or an `exclusive_start_key` that is not a key
    /// of the table (or index) or not in the segment.
    pub fn scan(&self, mut input: ScanInput) -> Result<ScanOutput> {
        resolve_scan(&mut input)?;
        let has_index = input.index_name.is_some();
        let count_only = check_select(input.select, input.projection.is_some(), has_index, "")?;
        let table = self.table(&input.table_name)?;
        let target = Target::of(&table, input.index_name.as_deref())?;
        check_global_read(&target, input.consistent_read, input.select)?;
        let limit = check_limit(input.limit)?;
        let (first_hash, last_hash) = segment_hashes(input.segment)?;
        let mut lower = Bound::Included(first_hash.to_be_bytes().to_vec());
        if let Some(start) = &input.exclusive_start_key {
            let start_key = target.start_key(start)?;
            let hash = hash_of(&start_key);
            if hash < first_hash || hash > last_hash {
                return Err(invalid("The provided Exclusive start key does not map to the provided segment").into());
            }
            lower = Bound::Excluded(start_key);
        }
        let upper = match last_hash.checked_add(1) {
            Some(next) => Bound::Excluded(next.to_be_bytes().to_vec()),
            None => Bound::Unbounded,
        };
        if let Some(filter) = &input.filter {
            filter.validate()?;
        }
        let read = ReadPlan::new(
            &target,
            input.select,
            input.projection.as_deref(),
            input.filter.as_ref(),
            true,
        );
        let mut page = PageBuilder::new(
            target.key_names(),
            limit,
            input.filter.as_ref(),
            input.projection.as_ref(),
            count_only,
        );
        scan_partitions(
            self,
            target.groups(),
            &read,
            (first_hash, last_hash),
            (&lower, &upper),
            input.consistent_read,
            &mut page,
        )?;
        let bytes = page.bytes;
        let mut output = ScanOutput::from(page.page);
        output.consumed_capacity = input
            .return_consumed_capacity
            .wanted()
            .then(|| read_capacity(&target, &input.table_name, bytes, input.consistent_read));
        Ok(output)
    }
}
