//! Consumed capacity, as DynamoDB counts it (DynamoDB's `ReturnConsumedCapacity`): a
//! write unit per 1 KB written, a read unit per 4 KB read strongly consistent and half
//! of one eventually consistent, each rounded up and at least one.
//!
//! - PutItem, UpdateItem and DeleteItem count the larger of the item before and after.
//! - GetItem counts the whole item read (before any projection), and a missing item as
//!   the minimum.
//! - Query and Scan count the bytes of every item read, before the filter, rounded up
//!   once for the page.
//! - BatchGetItem rounds each item up on its own; BatchWriteItem each request.

/// Whether an operation reports the capacity it consumed (DynamoDB's
/// `ReturnConsumedCapacity`). There are no secondary indexes yet, so `Indexes` reports
/// the table's share as `Total` does, and also under `Table`.
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
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
