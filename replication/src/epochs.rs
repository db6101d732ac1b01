//! The epoch history of a replication group: where each epoch's primary began writing,
//! and so which records of a former primary the later history never had.
//!
//! Epoch 1 begins at LSN 1 and is not recorded; every promotion raises the epoch and
//! records that the new epoch begins right after the last record the new primary holds.
//! A copy whose newest record is of an older epoch may keep its log only up to the record
//! before the first later epoch began: anything after it was written by a primary that
//! was deposed before the records reached the copy that took over.

use dynastore_wal::Lsn;
use serde::{Deserialize, Serialize};

/// Where an epoch's primary began writing: records from `first_lsn` on belong to `epoch`
/// (or a later one), so a copy still holding records of an older epoch at or past
/// `first_lsn` holds a tail the new primary never had.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochStart {
    /// The epoch.
    pub epoch: u64,
    /// The first LSN its primary wrote.
    pub first_lsn: u64,
}

/// The last LSN a copy whose newest record is of epoch `epoch` may keep, given the
/// `history` of later epochs' starts (oldest first): the record before the first start
/// of a later epoch. `None` if it may keep everything (no later epoch began).
pub fn last_lsn_of_epoch(history: &[EpochStart], epoch: u64) -> Option<Lsn> {
    history
        .iter()
        .filter(|start| start.epoch > epoch)
        .map(|start| Lsn(start.first_lsn.saturating_sub(1)))
        .min()
}

/// The start of the epoch after `epoch`, whose primary's log ends at `handover` (the last
/// record of the history it was handed): it begins at the next LSN.
pub fn next_epoch(epoch: u64, handover: Lsn) -> EpochStart {
    EpochStart {
        epoch: epoch + 1,
        first_lsn: handover.0 + 1,
    }
}

/// The first LSN of the current epoch: where its start is recorded, else 1 (epoch 1,
/// which begins with the log).
pub fn current_epoch_first_lsn(history: &[EpochStart]) -> Lsn {
    Lsn(history.last().map_or(1, |start| start.first_lsn))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(epoch: u64, first_lsn: u64) -> EpochStart {
        EpochStart { epoch, first_lsn }
    }

    /// Each row: the history, a copy's newest epoch, and the last LSN it may keep.
    #[test]
    fn a_copy_keeps_its_log_up_to_where_a_later_epoch_began() {
        let two_promotions = [start(2, 41), start(3, 91)];
        let table: &[(&[EpochStart], u64, Option<u64>)] = &[
            (&[], 1, None),
            (&two_promotions, 1, Some(40)),
            (&two_promotions, 2, Some(90)),
            (&two_promotions, 3, None),
            (&two_promotions, 4, None),
            // An epoch that began before an older one's start still bounds it: the
            // earliest later start wins (a promotion that handed over less).
            (&[start(2, 50), start(3, 30)], 1, Some(29)),
            // A promotion of an empty log: the epoch begins at 1, nothing may be kept.
            (&[start(2, 1)], 1, Some(0)),
        ];
        for (row, (history, epoch, keep)) in table.iter().enumerate() {
            assert_eq!(last_lsn_of_epoch(history, *epoch), keep.map(Lsn), "row {row}");
        }
    }

    #[test]
    fn the_next_epoch_begins_after_the_handover() {
        let table = [(1, 0, start(2, 1)), (1, 40, start(2, 41)), (7, 1_000, start(8, 1_001))];
        for (epoch, handover, next) in table {
            assert_eq!(next_epoch(epoch, Lsn(handover)), next);
        }
        assert_eq!(current_epoch_first_lsn(&[]), Lsn(1));
        assert_eq!(current_epoch_first_lsn(&[start(2, 41), start(3, 91)]), Lsn(91));
    }
}
