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

use super::capacity::ConsumedCapacity;
use super::expressions::{apply_key_tests, resolve_query, resolve_scan};
pub use super::operations::{QueryInput, ScanInput};
pub use super::page::{PAGE_BYTES_MAX, Select};
use super::page::{Page, PageBuilder, invalid};
pub use super::read_plan::TOTAL_SEGMENTS_MAX;
use super::read_plan::{ReadPlan, check_global_read, read_capacity, scan_partitions, segment_hashes};
use super::target::Target;
use crate::database::{Database, hash_of};
use crate::error::Result;
use crate::expr::Condition;
pub use crate::expr::SortKeyCondition;
use crate::item::key::{encode_key_value, partition_hash};
use crate::item::validate::{KeySchema, ScalarType, ValidationError};
use crate::item::{AttributeType, AttributeValue, Item};
use std::ops::Bound;

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

fn check_limit(limit: Option<u32>) -> Result<Option<usize>> {
    match limit {
        Some(0) => Err(invalid(
            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
        )
        .into()),
        other => Ok(other.map(|l| l as usize)),
    }
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
