//! What becomes of a copy that rejoins its group as a replica (a former primary, a copy
//! reopened at open or after its AZ came back): it keeps its files, has a tail the
//! current history never had cut from its log, or is rebuilt from the primary's tables.

use crate::epochs::{EpochStart, last_lsn_of_epoch};
use dynastore_wal::Lsn;

/// What a copy found on disk holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyState {
    /// The last record in its log.
    pub last_lsn: Lsn,
    /// The epoch of its newest record (0 if unknown: then it is treated as the oldest).
    pub last_epoch: u64,
    /// Every record up to this LSN is in its tables (which cannot be cut).
    pub flushed_lsn: Lsn,
}

/// How a rejoining copy is brought in line with the primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejoin {
    /// Its history is the primary's, and the primary's log holds the next record it
    /// needs: it is caught up from the log.
    Keep,
    /// Its log holds a tail after this LSN that the current history never had: the tail
    /// is cut, then it is caught up from the log. (Should cutting fail, it is rebuilt.)
    CutAfter(Lsn),
    /// It cannot be brought in line from the log: the primary's log no longer holds the
    /// next record it needs, or the tail it must lose is already in its tables.
    Rebuild,
}

/// Whether a copy whose log ends at `last` can be caught up from a primary whose log
/// begins at `primary_first_lsn` (the next record it needs is still there).
pub fn log_reaches(last: Lsn, primary_first_lsn: Lsn) -> bool {
    last.next() >= primary_first_lsn
}

/// How `copy` rejoins a group whose epoch history is `history` and whose primary's log
/// begins at `primary_first_lsn`.
pub fn rejoin(copy: CopyState, history: &[EpochStart], primary_first_lsn: Lsn) -> Rejoin {
    let diverged = last_lsn_of_epoch(history, copy.last_epoch).filter(|keep| copy.last_lsn > *keep);
    if !log_reaches(diverged.unwrap_or(copy.last_lsn), primary_first_lsn) {
        return Rejoin::Rebuild;
    }
    match diverged {
        None => Rejoin::Keep,
        Some(keep) if copy.flushed_lsn <= keep => Rejoin::CutAfter(keep),
        Some(_) => Rejoin::Rebuild,
    }
}

/// How much of the group's history a copy found at open holds, as a candidate to replace
/// a lost primary: its durable LSN, or less where a later epoch began (a former
/// primary's tail the next primary never had does not count; it is cut before the copy
/// takes writes). `None` if it is no candidate: that tail is already in its tables.
pub fn history_held(durable: Lsn, last_epoch: u64, flushed_lsn: Lsn, history: &[EpochStart]) -> Option<Lsn> {
    match last_lsn_of_epoch(history, last_epoch) {
        Some(keep) if durable > keep && flushed_lsn > keep => None,
        Some(keep) => Some(durable.min(keep)),
        None => Some(durable),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(last_lsn: u64, last_epoch: u64, flushed_lsn: u64) -> CopyState {
        CopyState {
            last_lsn: Lsn(last_lsn),
            last_epoch,
            flushed_lsn: Lsn(flushed_lsn),
        }
    }

    /// Epoch 2 began at 41: a copy last written in epoch 1 may keep up to 40.
    const HISTORY: &[EpochStart] = &[EpochStart {
        epoch: 2,
        first_lsn: 41,
    }];

    /// Each row: the copy, the primary log's first LSN, and what becomes of the copy.
    #[test]
    fn a_rejoining_copy_keeps_cuts_or_is_rebuilt() {
        let table = [
            // In the current epoch, the primary's log holds its next record: kept.
            (copy(60, 2, 50), 1, Rejoin::Keep),
            (copy(60, 2, 50), 61, Rejoin::Keep),
            // The primary's log starts past its next record: rebuilt.
            (copy(60, 2, 50), 62, Rejoin::Rebuild),
            // A former primary's epoch-1 record never handed over, only in its log: cut.
            (copy(45, 1, 30), 1, Rejoin::CutAfter(Lsn(40))),
            (copy(45, 1, 40), 41, Rejoin::CutAfter(Lsn(40))),
            // ... but once the tail reached its tables it cannot be cut: rebuilt.
            (copy(45, 1, 41), 1, Rejoin::Rebuild),
            // ... and if the primary's log no longer holds record 41: rebuilt.
            (copy(45, 1, 30), 42, Rejoin::Rebuild),
            // An epoch-1 copy that holds no more than was handed over: kept.
            (copy(40, 1, 40), 1, Rejoin::Keep),
            (copy(12, 1, 0), 13, Rejoin::Keep),
            // An unknown epoch (0) is treated as the oldest.
            (copy(45, 0, 0), 1, Rejoin::CutAfter(Lsn(40))),
            // An empty copy and a primary whose log starts at 1: kept (caught up).
            (copy(0, 0, 0), 1, Rejoin::Keep),
        ];
        for (row, (copy, primary_first, expected)) in table.into_iter().enumerate() {
            assert_eq!(
                rejoin(copy, HISTORY, Lsn(primary_first)),
                expected,
                "row {row}: {copy:?}"
            );
        }
    }

    /// Each row: durable LSN, newest epoch, flushed LSN, and the history held.
    #[test]
    fn a_copy_at_open_holds_history_up_to_its_epochs_end() {
        let table = [
            (60, 2, 50, Some(60)),
            (45, 1, 30, Some(40)),
            (40, 1, 40, Some(40)),
            (30, 1, 30, Some(30)),
            (45, 1, 41, None),
        ];
        for (row, (durable, epoch, flushed, held)) in table.into_iter().enumerate() {
            assert_eq!(
                history_held(Lsn(durable), epoch, Lsn(flushed), HISTORY),
                held.map(Lsn),
                "row {row}"
            );
        }
        assert_eq!(history_held(Lsn(9), 1, Lsn(9), &[]), Some(Lsn(9)));
    }

    #[test]
    fn the_log_reaches_a_copy_whose_next_record_it_holds() {
        for (last, first, reaches) in [(0, 1, true), (10, 11, true), (10, 12, false), (10, 1, true)] {
            assert_eq!(log_reaches(Lsn(last), Lsn(first)), reaches, "{last} vs {first}");
        }
    }
}
