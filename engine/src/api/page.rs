//! A page of a query or scan as it is built: the items read, counted and filtered and
//! projected as DynamoDB does, up to the limit or 1 MB, and the key to go on from.

use crate::expr::update::project;
use crate::expr::{Condition, Path};
use crate::item::Item;
use crate::item::validate::ValidationError;

/// The most bytes of items one page reads (DynamoDB's 1 MB).
pub const PAGE_BYTES_MAX: usize = 1 << 20;

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

/// One page as it is built, for either operation.
#[derive(Debug, Default)]
pub(super) struct Page {
    pub(super) items: Vec<Item>,
    pub(super) count: usize,
    pub(super) scanned_count: usize,
    pub(super) last_evaluated_key: Option<Item>,
}

/// A refusal of a read's parameters.
pub(super) fn invalid(message: impl Into<String>) -> ValidationError {
    ValidationError::InvalidParameter(message.into())
}

/// The attributes `names` of `item`: what `last_evaluated_key` holds.
fn key_of(item: &Item, names: &[String]) -> Item {
    names
        .iter()
        .filter_map(|name| item.get(name).map(|v| (name.clone(), v.clone())))
        .collect()
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
    pub(super) bytes: usize,
    pub(super) page: Page,
}

impl<'a> PageBuilder<'a> {
    pub(super) fn new(
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
