//! How a Query or Scan reads its target's partitions into a page: the read plan (a
//! copy's keys in a range, the entries' items fetched from the table for a local index
//! when asked), a scan's walk over the partitions of a hash range, and what a read of an
//! index must satisfy and consumes.

use super::capacity::ConsumedCapacity;
use super::page::{PageBuilder, Select, invalid};
use super::target::Target;
use crate::database::Database;
use crate::error::Result;
use crate::expr::{Condition, Path};
use crate::group::Group;
use crate::storage::Partition;
use std::ops::Bound;

/// The most segments a parallel scan can be cut into.
pub const TOTAL_SEGMENTS_MAX: u32 = 1_000_000;

/// The capacity a read of `bytes` from `target` consumed: the table's, or the index's.
pub(super) fn read_capacity(target: &Target<'_>, table: &str, bytes: usize, consistent: bool) -> ConsumedCapacity {
    match target.index() {
        None => ConsumedCapacity::read(table, bytes, consistent),
        Some(index) => ConsumedCapacity::reads(table, 0.0).with_index(
            index.kind,
            &index.name,
            super::capacity::read_units(bytes, consistent),
            true,
        ),
    }
}

/// A global index is read as DynamoDB reads one: never strongly consistently, and all
/// attributes only if it projects them all.
///
/// Errors: DynamoDB's `ValidationException`s.
pub(super) fn check_global_read(target: &Target<'_>, consistent_read: bool, select: Option<Select>) -> Result<()> {
    let Some(index) = target.global() else {
        return Ok(());
    };
    if consistent_read {
        return Err(invalid("Consistent reads are not supported on global secondary indexes").into());
    }
    if target.backfilling() {
        return Err(invalid(format!(
            "Cannot read from backfilling global secondary index: {}",
            index.name
        ))
        .into());
    }
    if select == Some(Select::AllAttributes) && index.projection != crate::index::Projection::All {
        return Err(invalid(format!(
            "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index {} because its projection type is not ALL",
            index.name
        ))
        .into());
    }
    Ok(())
}

/// How a read visits a copy's keys for its target.
pub(super) struct ReadPlan<'a, 't> {
    target: &'a Target<'t>,
    /// Whether each entry's item is fetched from the table (see [`Target::fetches`]).
    fetch: bool,
    /// Whether the range may hold keys of other targets (a scan's does; a query's is the
    /// target's alone).
    skip_others: bool,
}

impl<'a, 't> ReadPlan<'a, 't> {
    /// The plan of a read of `target` with these `select`, `projection` and `filter`;
    /// `skip_others` as the field says.
    pub(super) fn new(
        target: &'a Target<'t>,
        select: Option<Select>,
        projection: Option<&[Path]>,
        filter: Option<&Condition>,
        skip_others: bool,
    ) -> Self {
        ReadPlan {
            target,
            fetch: target.fetches(select == Some(Select::AllAttributes), projection, filter),
            skip_others,
        }
    }

    /// Reads the keys of `range` in `copy` that belong to the target into `page`, in key
    /// order or reversed, until the page is full.
    ///
    /// Errors: [`crate::Error::Corruption`] if a damaged SSTable is read.
    pub(super) fn range(
        &self,
        copy: &Partition,
        (lower, upper): (&Bound<Vec<u8>>, &Bound<Vec<u8>>),
        reverse: bool,
        page: &mut PageBuilder<'_>,
    ) -> Result<()> {
        let holds = |key: &[u8]| !self.skip_others || self.target.holds(key);
        if !self.fetch {
            return copy.visit_range(as_ref(lower), as_ref(upper), reverse, |key, item| {
                !holds(key) || page.push(item)
            });
        }
        // The entries first, as many as the page can take: fetching reads the copy again,
        // which must not happen while a visit holds its read state.
        let (items_left, bytes_left) = page.room();
        let (mut entries, mut bytes) = (Vec::new(), 0);
        copy.visit_range(as_ref(lower), as_ref(upper), reverse, |key, entry| {
            if !holds(key) {
                return true;
            }
            bytes += entry.size_bytes();
            entries.push(entry.clone());
            entries.len() < items_left && bytes < bytes_left
        })?;
        for entry in entries {
            // The entry and its item were written in one record: the item is there.
            let item = copy.get(self.target.item_key(&entry)?)?.unwrap_or(entry);
            if !page.push(&item) {
                break;
            }
        }
        Ok(())
    }
}

pub(super) fn as_ref(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match bound {
        Bound::Included(key) => Bound::Included(key.as_slice()),
        Bound::Excluded(key) => Bound::Excluded(key.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// The first and last hash of a scan segment (the whole space without one).
pub(super) fn segment_hashes(segment: Option<(u32, u32)>) -> Result<(u64, u64)> {
    let Some((segment, total)) = segment else {
        return Ok((0, u64::MAX));
    };
    if total == 0 || total > TOTAL_SEGMENTS_MAX {
        let constraint = if total == 0 {
            "Member must have value greater than or equal to 1"
        } else {
            "Member must have value less than or equal to 1000000"
        };
        return Err(invalid(format!(
            "1 validation error detected: Value '{total}' at 'totalSegments' failed to satisfy constraint: {constraint}"
        ))
        .into());
    }
    if segment >= total {
        return Err(invalid(format!(
            "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {segment} is not less than TotalSegments: {total}"
        ))
        .into());
    }
    let range = crate::catalog::HashRange::split_evenly(total)[segment as usize];
    Ok((range.start, range.end))
}

/// Visits, in hash order, every partition overlapping `first..=last` until the page fills.
pub(super) fn scan_partitions(
    db: &Database,
    groups: &[Group],
    read: &ReadPlan<'_, '_>,
    (first, last): (u64, u64),
    (lower, upper): (&Bound<Vec<u8>>, &Bound<Vec<u8>>),
    consistent_read: bool,
    page: &mut PageBuilder<'_>,
) -> Result<()> {
    let mut range_start = 0u64;
    for range_end in groups.iter().map(|group| group.range_end) {
        let overlaps = range_end >= first && range_start <= last;
        if overlaps && !page.is_full() {
            // A copy found damaged part way is replaced, and its partition read again.
            let mark = page.mark();
            db.read_in(groups, range_start.max(first), consistent_read, |copy| {
                page.rewind(mark);
                read.range(copy, (lower, upper), false, page)
            })?;
        }
        match range_end.checked_add(1) {
            Some(next) => range_start = next,
            None => break,
        }
    }
    Ok(())
}
