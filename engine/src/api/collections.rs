//! Item collections in the item operations: the limit on a collection's size, checked
//! as a write is made, and the size a write reports when asked (DynamoDB's
//! `ReturnItemCollectionMetrics`). Only tables with local secondary indexes have them.

use crate::database::{Database, Table};
use crate::error::{Error, Result};
use crate::index::collection::{ENTRY_OVERHEAD_BYTES, ItemCollectionMetrics, collection_size, measure};
use crate::item::Item;
use crate::item::validate::ITEM_BYTES_MAX;
use crate::storage::DerivedWrites;

/// The most one item write can grow its collection by: the item at 400 KB, and as much
/// in each of up to 5 local index entries, with their overhead.
const GROWTH_MAX: u64 = 6 * (ITEM_BYTES_MAX as u64 + ENTRY_OVERHEAD_BYTES);

/// What an item write checks of its collection: its size before the write, when it is
/// near enough to the limit to matter.
pub(crate) struct CollectionGuard<'a> {
    table: &'a Table,
    limit: u64,
    /// The collection's size, read before the write; `None` when the write cannot bring
    /// it past the limit.
    size: Option<u64>,
}

impl CollectionGuard<'_> {
    /// Refuses replacing `old` by `new` if that grows the collection past the limit.
    /// Called within the write, where `old` is the item as it is: concurrent writes to
    /// the collection since its size was read can make the check off by their sizes, as
    /// DynamoDB's own estimate is off.
    ///
    /// Errors: [`Error::ItemCollectionSizeLimitExceeded`].
    pub(crate) fn admit(&self, old: Option<&Item>, new: Option<&Item>) -> Result<()> {
        let Some(size) = self.size else {
            return Ok(());
        };
        let writes = &*self.table.index_writes;
        let with_entries = |item: Option<&Item>| {
            let mut entries = Vec::new();
            writes.derive(None, item, &mut entries);
            measure(item, &entries)
        };
        let (before, after) = (with_entries(old), with_entries(new));
        let size = size.saturating_sub(before).saturating_add(after);
        if after > before && size > self.limit {
            return Err(Error::ItemCollectionSizeLimitExceeded {
                table: self.table.name.clone(),
                size,
            });
        }
        Ok(())
    }
}

impl Database {
    /// The guard of a write of `item` (which holds its partition key, whose hash is
    /// `hash`) to `table`.
    ///
    /// Errors: [`Error::Corruption`] reading the collection.
    pub(crate) fn collection_guard<'a>(&self, table: &'a Table, hash: u64, item: &Item) -> Result<CollectionGuard<'a>> {
        let limit = self.options().item_collection_bytes_max;
        let mut guard = CollectionGuard {
            table,
            limit,
            size: None,
        };
        let partition_key = &table.key_schema.partition_key;
        let (true, Some(value)) = (table.index_writes.has_local(), item.get(&partition_key.name)) else {
            return Ok(guard);
        };
        let Some(partition) = self.partition(table, hash, false)? else {
            return Ok(guard);
        };
        let enough = limit.saturating_sub(GROWTH_MAX);
        let size = collection_size(&partition, value, partition_key.scalar_type, enough)?;
        // Below `enough`, no one write can bring it past the limit.
        guard.size = (size >= enough).then_some(size);
        Ok(guard)
    }

    /// The metrics of the collection of `item`'s partition key (whose hash is `hash`), if
    /// `wanted` and `table` has local indexes.
    ///
    /// Errors: [`Error::Corruption`] reading the collection.
    pub(crate) fn collection_metrics(
        &self,
        table: &Table,
        hash: u64,
        item: &Item,
        wanted: bool,
    ) -> Result<Option<ItemCollectionMetrics>> {
        let partition_key = &table.key_schema.partition_key;
        let (true, true, Some(value)) = (wanted, table.index_writes.has_local(), item.get(&partition_key.name)) else {
            return Ok(None);
        };
        let size = match self.partition(table, hash, false)? {
            Some(partition) => collection_size(&partition, value, partition_key.scalar_type, 1 << 30)?,
            None => 0,
        };
        let key = Item::new().with(partition_key.name.clone(), value.clone());
        Ok(Some(ItemCollectionMetrics::new(key, size)))
    }
}
