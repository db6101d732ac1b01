//! What a group reports of its replicas: each one's state and how far it is behind.

use super::shipper::ReplicaSet;
use crate::storage::Partition;
use dynastore_replication::ReplicaState;
use std::collections::BTreeSet;

/// Where a replica stands (its state in [`ReplicaReport`]); displayed as `stats` prints
/// it: `live`, `joining`, `failed: <reason>`, `out of service`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplicaStatus {
    /// In service: it takes every record and counts toward acknowledgements.
    Live,
    /// Its copy is being created or caught up to rejoin.
    Joining,
    /// It failed on its own (an I/O error on its disk, say); it is brought back into
    /// service by itself once its disk works.
    Failed {
        /// What failed.
        reason: String,
    },
    /// Its AZ was failed with `Database::fail_az`: out of service until `restore_az`.
    OutOfService,
}

impl std::fmt::Display for ReplicaStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplicaStatus::Live => f.write_str("live"),
            ReplicaStatus::Joining => f.write_str("joining"),
            ReplicaStatus::Failed { reason } => write!(f, "failed: {reason}"),
            ReplicaStatus::OutOfService => f.write_str("out of service"),
        }
    }
}

/// One replica of a partition, as `Database::stats` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaReport {
    /// Its AZ.
    pub az: String,
    /// Whether it is in service (see [`ReplicaStatus`]).
    pub state: ReplicaStatus,
    /// Every record up to this LSN is durable in its log.
    pub durable_lsn: u64,
    /// Every record up to this LSN is in its memtable or tables (readable there).
    pub applied_lsn: u64,
    /// Records durable on the primary that it does not hold yet.
    pub lag_records: u64,
    /// Those records' approximate size (at the primary log's average record size).
    pub lag_bytes: u64,
}

/// Each replica's progress behind `primary`; `failed` are the AZs failed on purpose
/// (their copies are out of service, not failed).
pub(crate) fn replica_reports(primary: &Partition, set: &ReplicaSet, failed: &BTreeSet<String>) -> Vec<ReplicaReport> {
    let durable = primary.wal().durable_lsn();
    let record_bytes = average_record_bytes(primary.wal());
    let states = set.acks.replicas();
    set.members
        .iter()
        .zip(states)
        .map(|(member, state)| {
            let copy = member.partition.read().clone();
            let (durable_lsn, applied_lsn) = copy.as_ref().map_or((state.durable_lsn().0, 0), |copy| {
                (copy.wal().durable_lsn().0, copy.applied_lsn().0)
            });
            let lag_records = durable.0.saturating_sub(durable_lsn);
            ReplicaReport {
                az: member.az.clone(),
                state: match (&copy, state) {
                    (_, ReplicaState::Joining(_)) => ReplicaStatus::Joining,
                    (None, ReplicaState::Failed(_, reason)) if !failed.contains(&member.az) => {
                        ReplicaStatus::Failed { reason }
                    }
                    (None, _) => ReplicaStatus::OutOfService,
                    (Some(_), ReplicaState::Live(_)) => ReplicaStatus::Live,
                    (Some(_), ReplicaState::Failed(_, reason)) => ReplicaStatus::Failed { reason },
                },
                durable_lsn,
                applied_lsn,
                lag_records,
                lag_bytes: lag_records * record_bytes,
            }
        })
        .collect()
}

/// The average size of a record in `wal`, for [`ReplicaReport::lag_bytes`]: over the
/// records appended since the log was opened, else (just after a reopen, before any
/// write) over the records its files hold, so that a replica behind a reopened primary
/// does not show a lag of 0 bytes. 0 for an empty log, or if its files cannot be read.
fn average_record_bytes(wal: &dynastore_wal::Wal) -> u64 {
    let appended = wal.stats();
    if let Some(average) = appended.bytes.checked_div(appended.records) {
        return average;
    }
    let held = (wal.last_lsn().0 + 1).saturating_sub(wal.first_lsn().0);
    wal.size_bytes()
        .ok()
        .and_then(|bytes| bytes.checked_div(held))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dynastore_wal::{Epoch, Wal, WalOptions};
    use std::path::Path;

    /// Lag in bytes is estimated at the primary's average record size: over the records
    /// appended since the log was opened, and just after a reopen (no write yet) over the
    /// records its files hold, not 0 (a replica 63 records behind a reopened primary
    /// showed a lag of 0 bytes).
    #[test]
    fn a_reopened_log_averages_its_records_over_its_files() {
        let fs = dynastore_wal::fs::FaultyFs::new();
        let dir = Path::new("/wal");
        let (wal, _) = Wal::open(fs.shared(), dir, WalOptions::default()).unwrap();
        assert_eq!(average_record_bytes(&wal), 0, "an empty log");
        for i in 0..10u8 {
            wal.append(Epoch(1), &[i; 100]).unwrap();
        }
        let appended = average_record_bytes(&wal);
        assert_eq!(appended, wal.stats().bytes / 10);
        wal.close().unwrap();

        let (wal, _) = Wal::open(fs.shared(), dir, WalOptions::default()).unwrap();
        assert_eq!(wal.stats().records, 0);
        let held = average_record_bytes(&wal);
        // Each record's framing, plus its share of the segment's header.
        assert!(held >= appended && held < appended + 50, "{held} vs {appended}");
    }
}
