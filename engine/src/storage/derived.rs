//! What storage asks of the layers above when it writes an item: the writes that must go
//! into the same WAL record (a local index's entries), so that recovery, replicas and
//! failovers keep them exactly as they keep the item.

use crate::item::Item;

/// One write to one key: its storage key and the new item, or `None` to delete it (the
/// unit of a record, whether an item's own write or one derived from it).
pub(crate) type KeyWrite = (Vec<u8>, Option<Item>);

/// Derives, from one item write, the other writes of the same record.
pub(crate) trait DerivedWrites: Send + Sync {
    /// Whether [`DerivedWrites::derive`] needs the item being replaced, so that even a
    /// blind write reads it.
    fn needs_old(&self) -> bool;

    /// Appends to `out` the writes that go with replacing `old` by `new` (`None`: no item),
    /// each under a key no item write of the record has.
    fn derive(&self, old: Option<&Item>, new: Option<&Item>, out: &mut Vec<KeyWrite>);

    /// What the record notes of the item being replaced (`old`): a note goes into the
    /// record without being applied (see [`crate::storage::record`]); `None` for none.
    fn note(&self, _old: Option<&Item>) -> Option<Item> {
        None
    }
}

/// No derived writes: a table without local indexes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NoDerivedWrites;

impl DerivedWrites for NoDerivedWrites {
    fn needs_old(&self) -> bool {
        false
    }

    fn derive(&self, _: Option<&Item>, _: Option<&Item>, _: &mut Vec<KeyWrite>) {}
}
