//! Log sequence numbers and epochs.

use std::fmt;

/// A log sequence number: the position of a record in a log. LSNs start at 1 and are
/// gapless; `Lsn(0)` means "before the first record".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(pub u64);

impl Lsn {
    /// "Before the first record": no record has this LSN.
    pub const ZERO: Lsn = Lsn(0);
    /// The LSN of the first record of a new log.
    pub const FIRST: Lsn = Lsn(1);

    /// The LSN after this one.
    pub fn next(self) -> Lsn {
        Lsn(self.0 + 1)
    }

    /// The LSN before this one (`Lsn(0)` stays `Lsn(0)`).
    pub fn prev(self) -> Lsn {
        Lsn(self.0.saturating_sub(1))
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The term of a primary: raised each time a replica is promoted, carried by every record,
/// never decreasing within one log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Epoch(pub u64);

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
