//! Consumed capacity, as DynamoDB counts it (DynamoDB's `ReturnConsumedCapacity`): a
//! write unit per 1 KB written, a read unit per 4 KB read strongly consistent and half
//! of one eventually consistent, each rounded up and at least one.
//!
//! - PutItem, UpdateItem and DeleteItem count the larger of the item before and after.
//! - GetItem counts the whole item read (before any projection), and a missing item as
//!   the minimum.
//! - Query and Scan count the bytes of every item read, before the filter, rounded up
//!   once for the page.
//! - BatchGetItem rounds each item up on its own; BatchWriteItem each request (a put by
//!   its item, a delete the minimum), plus the index units below, from the items the
//!   requests replaced as the write read them.
//! - A write also consumes write units in each secondary index whose entry it changes:
//!   one unit per 1 KB of the entry, twice when the entry moves to another index key (a
//!   delete and a put), none when the entry stays as it was. A query or scan of an index
//!   consumes its read units there (and, for a local index fetching attributes it does
//!   not hold, the items' in the table).

/// Whether an operation reports the capacity it consumed (DynamoDB's
/// `ReturnConsumedCapacity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ReturnConsumedCapacity {
    /// No report (the default).
    #[default]
    None,
    /// The total per table.
    Total,
    /// The total, and the table's and each index's share.
    Indexes,
}

impl ReturnConsumedCapacity {
    /// Whether a report is wanted.
    pub fn wanted(self) -> bool {
        self != ReturnConsumedCapacity::None
    }
}

/// The capacity an operation consumed on one table.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct ConsumedCapacity {
    /// The table.
    pub table_name: String,
    /// Every unit, read and write.
    pub capacity_units: f64,
    /// The read units of it.
    pub read_capacity_units: f64,
    /// The write units of it.
    pub write_capacity_units: f64,
    /// The table's own share (DynamoDB's `Table`, reported with `INDEXES`).
    pub table_units: f64,
    /// Each local secondary index's share, by name.
    pub local_indexes: Vec<(String, f64)>,
    /// Each global secondary index's share, by name.
    pub global_indexes: Vec<(String, f64)>,
}

/// Bytes per read unit.
const READ_UNIT_BYTES: usize = 4096;
/// Bytes per write unit.
const WRITE_UNIT_BYTES: usize = 1024;

impl ConsumedCapacity {
    /// Reading `bytes` from `table` (one unit per 4 KB, at least one, halved when
    /// eventually consistent).
    pub fn read(table: &str, bytes: usize, consistent: bool) -> ConsumedCapacity {
        ConsumedCapacity::reads(table, read_units(bytes, consistent))
    }

    /// `units` read units on `table`.
    pub fn reads(table: &str, units: f64) -> ConsumedCapacity {
        ConsumedCapacity {
            table_name: table.to_owned(),
            capacity_units: units,
            read_capacity_units: units,
            write_capacity_units: 0.0,
            table_units: units,
            ..ConsumedCapacity::default()
        }
    }

    /// Writing `bytes` to `table` (one unit per 1 KB, at least one).
    pub fn write(table: &str, bytes: usize) -> ConsumedCapacity {
        ConsumedCapacity::writes(table, write_units(bytes))
    }

    /// `units` write units on `table`.
    pub fn writes(table: &str, units: f64) -> ConsumedCapacity {
        ConsumedCapacity {
            table_name: table.to_owned(),
            capacity_units: units,
            read_capacity_units: 0.0,
            write_capacity_units: units,
            table_units: units,
            ..ConsumedCapacity::default()
        }
    }

    /// This capacity with `units` more consumed in index `name` (of `kind`), as reads
    /// if `reading`, else as writes: in the total, and in the index's share.
    pub fn with_index(mut self, kind: IndexKind, name: &str, units: f64, reading: bool) -> ConsumedCapacity {
        if units == 0.0 {
            return self;
        }
        self.capacity_units += units;
        if reading {
            self.read_capacity_units += units;
        } else {
            self.write_capacity_units += units;
        }
        let shares = match kind {
            IndexKind::Local => &mut self.local_indexes,
            IndexKind::Global => &mut self.global_indexes,
        };
        match shares.iter_mut().find(|(index, _)| index == name) {
            Some((_, share)) => *share += units,
            None => shares.push((name.to_owned(), units)),
        }
        self
    }

    /// Adds `other`'s units (on the same table) to these, index shares too.
    pub fn absorb(&mut self, other: &ConsumedCapacity) {
        self.capacity_units += other.capacity_units;
        self.read_capacity_units += other.read_capacity_units;
        self.write_capacity_units += other.write_capacity_units;
        self.table_units += other.table_units;
        for (kind, shares) in [
            (IndexKind::Local, &other.local_indexes),
            (IndexKind::Global, &other.global_indexes),
        ] {
            for (name, units) in shares {
                let mine = match kind {
                    IndexKind::Local => &mut self.local_indexes,
                    IndexKind::Global => &mut self.global_indexes,
                };
                match mine.iter_mut().find(|(index, _)| index == name) {
                    Some((_, share)) => *share += units,
                    None => mine.push((name.clone(), *units)),
                }
            }
        }
    }

    /// This write's capacity with what replacing `old` by `new` writes in each of
    /// `indexes` (of a table keyed by `table`) added.
    pub fn with_index_writes(
        mut self,
        table: &KeySchema,
        indexes: &[IndexSchema],
        old: Option<&Item>,
        new: Option<&Item>,
    ) -> ConsumedCapacity {
        for index in indexes {
            let units = index_write_units(table, index, old, new);
            self = self.with_index(index.kind, &index.name, units, false);
        }
        self
    }
}

/// The write units replacing `old` by `new` consumes in `index`: the new entry's (or the
/// larger of the two under one index key), both when the entry moves to another index
/// key, the old one's when the item leaves the index, none when the entry is unchanged.
fn index_write_units(table: &KeySchema, index: &IndexSchema, old: Option<&Item>, new: Option<&Item>) -> f64 {
    let entry = |item: Option<&Item>| -> Option<(Vec<Option<AttributeValue>>, Item)> {
        item.filter(|item| index.indexes(item)).map(|item| {
            let keys = index.key_attributes().map(|key| item.get(&key.name).cloned()).collect();
            (keys, index.project(item, table))
        })
    };
    match (entry(old), entry(new)) {
        (None, None) => 0.0,
        (Some((_, gone)), None) => write_units(gone.size_bytes()),
        (None, Some((_, added))) => write_units(added.size_bytes()),
        (Some(before), Some(after)) if before == after => 0.0,
        (Some((old_key, before)), Some((new_key, after))) if old_key == new_key => {
            write_units(before.size_bytes().max(after.size_bytes()))
        }
        (Some((_, before)), Some((_, after))) => write_units(before.size_bytes()) + write_units(after.size_bytes()),
    }
}

/// Read units for `bytes`: one per 4 KB, rounded up, at least one; half as many when
/// eventually consistent.
pub fn read_units(bytes: usize, consistent: bool) -> f64 {
    let units = bytes.div_ceil(READ_UNIT_BYTES).max(1) as f64;
    if consistent { units } else { units / 2.0 }
}

/// Write units for `bytes`: one per 1 KB, rounded up, at least one.
pub fn write_units(bytes: usize) -> f64 {
    bytes.div_ceil(WRITE_UNIT_BYTES).max(1) as f64
}

use crate::index::{IndexKind, IndexSchema};
use crate::item::{AttributeValue, Item, KeySchema};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::Projection;
    use crate::item::validate::{KeyAttribute, ScalarType};

    #[test]
    fn a_write_consumes_units_in_each_index_whose_entry_it_changes() {
        let table = KeySchema {
            partition_key: KeyAttribute::new("pk", ScalarType::S),
            sort_key: None,
        };
        let by_city = IndexSchema::global(
            "by_city",
            KeySchema {
                partition_key: KeyAttribute::new("city", ScalarType::S),
                sort_key: None,
            },
            Projection::KeysOnly,
        );
        let item = Item::new().with("pk", "a").with("city", "Oslo").with("x", 1);
        let units = |old: Option<&Item>, new: Option<&Item>| {
            ConsumedCapacity::write("T", 10)
                .with_index_writes(&table, std::slice::from_ref(&by_city), old, new)
                .global_indexes
        };
        assert_eq!(units(None, Some(&item)), vec![("by_city".to_owned(), 1.0)]);
        // An attribute the index does not hold: no write there.
        assert!(units(Some(&item), Some(&item.clone().with("x", 2))).is_empty());
        // Another index key: a delete and a put.
        let moved = item.clone().with("city", "Bergen");
        let consumed = ConsumedCapacity::write("T", 10).with_index_writes(
            &table,
            std::slice::from_ref(&by_city),
            Some(&item),
            Some(&moved),
        );
        assert_eq!(consumed.global_indexes, vec![("by_city".to_owned(), 2.0)]);
        assert_eq!((consumed.capacity_units, consumed.table_units), (3.0, 1.0));
        assert_eq!(units(Some(&item), None), vec![("by_city".to_owned(), 1.0)]);
    }

    #[test]
    fn units_round_up_per_4_kb_read_and_1_kb_written() {
        assert_eq!(read_units(0, true), 1.0);
        assert_eq!(read_units(4096, true), 1.0);
        assert_eq!(read_units(4097, true), 2.0);
        assert_eq!(read_units(4097, false), 1.0);
        assert_eq!(read_units(100, false), 0.5);
        assert_eq!(write_units(0), 1.0);
        assert_eq!(write_units(1024), 1.0);
        assert_eq!(write_units(1025), 2.0);
        assert_eq!(write_units(409_600), 400.0);
    }
}
