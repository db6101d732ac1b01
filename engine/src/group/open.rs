//! Bringing a partition's replication group up when the database opens: its primary copy
//! (replaced by the replica holding the most history if it is lost or damaged) and its
//! replicas (opened now, or left to the repairer threads).

use super::shipper::ReplicaSet;
use super::{GroupContext, Replicated, TableHome};
use crate::catalog::{PartitionEntry, ReplicationGroup};
use crate::error::{Error, Result, io_error};
use crate::storage::{Partition, WriteGate};
use dynastore_replication::rejoin::history_held;
use dynastore_wal::Lsn;
use std::sync::Arc;

/// When [`GroupContext::open_group`] brings a partition's replica copies into service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplicaCopies {
    /// In the calling thread (opening the database, where most copies exist already).
    OpenNow,
    /// In the repairer threads (a new partition: its first write must not wait for every
    /// replica AZ's disk).
    Later,
}

impl GroupContext {
    /// Opens the primary copy of partition `entry` at open. A copy found damaged (a
    /// checksum or record that does not hold) is not served: a replica takes over, as for
    /// a lost copy, and the damaged one is rebuilt as a replica. Without a replica, the
    /// damage is reported.
    pub(crate) fn open_primary(&self, table: &TableHome, entry: &mut PartitionEntry) -> Result<Partition> {
        let dir = table.partition_dir(&entry.group.primary, entry);
        let error = match self.open_partition(table, &dir, &entry.group) {
            Ok(primary) => return Ok(primary),
            Err(error @ (Error::Corruption { .. } | Error::Wal(dynastore_wal::Error::Corruption { .. }))) => error,
            Err(error) => return Err(error),
        };
        let promoted = self.promote_at_open(table, entry)?;
        if promoted.primary == entry.group.primary {
            return Err(error);
        }
        entry.group = promoted;
        self.open_partition(table, &table.partition_dir(&entry.group.primary, entry), &entry.group)
    }

    /// Opens (or creates) every copy of partition `entry`: `primary`, then each replica
    /// (rejoining: a tail the primary never had is dropped, and a copy the primary's log
    /// can no longer bring up to date is rebuilt from its tables), and the stream between.
    /// With [`ReplicaCopies::Later`], the replicas are left joining for the repairer
    /// threads to bring into service. A replica that cannot be opened now is left out of
    /// service (the repairer threads try again): the partition is served all the same.
    pub(crate) fn open_group(
        &self,
        table: &TableHome,
        entry: &PartitionEntry,
        primary: Partition,
        replicas: ReplicaCopies,
    ) -> Result<(Arc<Partition>, Option<Replicated>)> {
        let group = &entry.group;
        let primary = Arc::new(primary);
        if group.azs.len() < 2 {
            return Ok((primary, None));
        }
        let failed = self.failed_azs.read().clone();
        let mut members = Vec::new();
        let mut reasons = Vec::new();
        for az in group.replica_azs() {
            // A failed AZ's copy is opened (or created) when the AZ is restored.
            let (copy, reason) = match (failed.contains(az), replicas) {
                (true, _) => (None, None),
                (false, ReplicaCopies::Later) => (None, None),
                (false, ReplicaCopies::OpenNow) => match self.open_replica(table, entry, az, &primary, |_| {}) {
                    Ok(copy) => (Some(copy), None),
                    Err(error) => (None, Some(format!("opening its copy failed: {error}"))),
                },
            };
            members.push((az.to_owned(), copy));
            reasons.push(reason);
        }
        let set = Arc::new(ReplicaSet::new(
            primary.wal(),
            members,
            &self.paused_azs.read(),
            &failed,
        ));
        for (index, (az, reason)) in group.replica_azs().zip(reasons).enumerate() {
            match reason {
                Some(reason) => set.acks.fail(index, &reason),
                None if replicas == ReplicaCopies::Later && !failed.contains(az) => set.acks.join(index),
                None => {}
            }
        }
        let role = self.primary_role(&set);
        // A copy just opened: no gate is set on it yet.
        let _ = primary.set_gate(Arc::clone(&role) as Arc<dyn WriteGate>);
        Ok((primary, Some(Replicated { set, role })))
    }

    /// Whether a replicated partition's primary copy is gone (its AZ's disk was lost):
    /// its directory is missing while a replica's is there.
    pub(crate) fn primary_lost(&self, table: &TableHome, entry: &PartitionEntry) -> Result<bool> {
        let group = &entry.group;
        let exists = |az: &str| {
            let dir = table.partition_dir(az, entry);
            self.fs.exists(&dir).map_err(io_error("checking", &dir))
        };
        if group.azs.len() < 2 || exists(&group.primary)? {
            return Ok(false);
        }
        for az in group.replica_azs() {
            if exists(az)? {
                return Ok(true);
            }
        }
        // No copy at all: a crash right after the CATALOG recorded the partition, before
        // any write reached it.
        Ok(false)
    }

    /// Promotes, at open, the replica of `entry` that holds the most of the partition's
    /// history in place of a lost primary, recording the new group in the CATALOG first;
    /// returns it. A copy's history ends at its durable LSN, or earlier where a later epoch
    /// began (a former primary's tail the next primary never had does not count, and is
    /// cut from the chosen copy's log before it takes writes). A replica that does not
    /// open is passed over (and rebuilt later); if none opens, its error is returned.
    pub(crate) fn promote_at_open(&self, table: &TableHome, entry: &PartitionEntry) -> Result<ReplicationGroup> {
        let group = &entry.group;
        let mut best: Option<(&str, Lsn)> = None;
        let mut unopened = None;
        for az in group.replica_azs() {
            let dir = table.partition_dir(az, entry);
            if !self.fs.exists(&dir).map_err(io_error("checking", &dir))? {
                continue;
            }
            // A copy that does not open (its rebuild was cut short, or it is damaged) is no
            // candidate: it is rebuilt from whichever copy is promoted.
            let copy = match self.open_partition(table, &dir, group) {
                Ok(copy) => copy,
                Err(error) => {
                    unopened.get_or_insert(error);
                    continue;
                }
            };
            // A tail already in the copy's tables cannot be cut: not a candidate.
            let Some(history) = history_held(
                copy.wal().durable_lsn(),
                copy.last_epoch().0,
                Lsn(copy.flushed_lsn()),
                &group.history,
            ) else {
                continue;
            };
            if best.is_none_or(|(_, most)| history > most) {
                best = Some((az, history));
            }
        }
        let Some((az, history)) = best else {
            // Not one replica opens: report why, rather than open without the history.
            return unopened.map_or_else(|| Ok(group.clone()), Err);
        };
        let copy = self.open_partition(table, &table.partition_dir(az, entry), group)?;
        copy.wal().truncate_after(history)?;
        drop(copy);
        let promoted = group.promoted(az, history.0);
        self.record_group(table, entry.id, &promoted)?;
        Ok(promoted)
    }
}
