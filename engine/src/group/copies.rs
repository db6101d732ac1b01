//! Opening, seeding and repairing a partition's copies: what the database and its
//! repairer threads share ([`GroupContext`]). Reopening a copy drops a tail its primary never
//! had; a copy the primary's log no longer reaches is rebuilt from the primary's tables.

use super::repairer::AzFilter;
use super::shipper::{ReplicaSet, TakenOut};
use super::{Group, GroupContext, TableHome};
use crate::catalog::{PartitionEntry, ReplicationGroup};
use crate::error::{Result, io_error};
use crate::storage::{Partition, PartitionOptions};
use dynastore_replication::ReplicaState;
use dynastore_replication::epochs::current_epoch_first_lsn;
use dynastore_replication::rejoin::{CopyState, Rejoin, log_reaches, rejoin};
use dynastore_wal::{Epoch, Lsn};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

impl GroupContext {
    /// Opens (or creates) the partition copy of `table` in `path`, in `group`'s epoch. A
    /// copy of a table with global indexes keeps its whole log until the index applier
    /// says how far it applied it.
    pub(crate) fn open_partition(&self, table: &TableHome, path: &Path, group: &ReplicationGroup) -> Result<Partition> {
        let options = &self.options;
        let partition = Partition::open(
            self.fs.clone(),
            path,
            PartitionOptions {
                wal: options.wal_options(),
                memtable_bytes_max: options.memtable_bytes,
                compaction: options.compaction,
                auto_compaction: options.auto_compaction,
                epoch: Epoch(group.epoch),
                epoch_first_lsn: current_epoch_first_lsn(&group.history),
            },
            Some(self.flush.clone()),
        )?;
        if table.indexed.load(Ordering::Acquire) {
            partition.hold_log_from(Lsn::FIRST);
        }
        Ok(partition)
    }

    /// Opens the copy of `entry` in replica AZ `az`, bringing it in line with `primary`'s
    /// history; `install` runs once it is ready (when it was rebuilt, while the primary's
    /// log is held for it, so that the primary keeps every log record the copy lacks).
    pub(crate) fn open_replica(
        &self,
        table: &TableHome,
        entry: &PartitionEntry,
        az: &str,
        primary: &Partition,
        install: impl FnOnce(&Arc<Partition>),
    ) -> Result<Arc<Partition>> {
        let group = &entry.group;
        let dir = table.partition_dir(az, entry);
        // A copy that does not open (damaged, or its seeding was cut short) is rebuilt.
        let existing = match self.fs.exists(&dir).map_err(io_error("checking", &dir))? {
            true => self.open_partition(table, &dir, group).ok(),
            false => None,
        };
        if let Some(copy) = existing {
            let state = CopyState {
                last_lsn: copy.wal().last_lsn(),
                last_epoch: copy.last_epoch().0,
                flushed_lsn: Lsn(copy.flushed_lsn()),
            };
            match rejoin(state, &group.history, primary.wal().first_lsn()) {
                Rejoin::Keep => {
                    let copy = Arc::new(copy);
                    install(&copy);
                    return Ok(copy);
                }
                // Drop the tail the new history never had (only the log holds it).
                Rejoin::CutAfter(keep) if copy.wal().truncate_after(keep).is_ok() => {
                    drop(copy);
                    let copy = Arc::new(self.open_partition(table, &dir, group)?);
                    install(&copy);
                    return Ok(copy);
                }
                Rejoin::CutAfter(_) | Rejoin::Rebuild => drop(copy),
            }
        }
        primary.seed_copy(&dir, |copy_dir| {
            let copy = Arc::new(self.open_partition(table, copy_dir, group)?);
            install(&copy);
            Ok(copy)
        })
    }

    /// Brings replica `index` of `set` into service if it is joining, out of service or
    /// failed, or if the primary's log no longer reaches it, unless its AZ is failed:
    /// reopened (dropping a tail the primary never had) or rebuilt from the primary's
    /// tables, then fed from the primary's log. Returns whether it put a copy in service.
    /// Holds the group's repair lock for the member's AZ throughout; a failure leaves the
    /// member failed, with the reason.
    pub(crate) fn repair_member(
        &self,
        group: &Group,
        primary: &Arc<Partition>,
        set: &ReplicaSet,
        index: usize,
    ) -> Result<bool> {
        let Some(member) = set.members.get(index) else {
            return Ok(false);
        };
        let _repairing = group.repairing(&member.az);
        if group.table.deleted.load(Ordering::Acquire) {
            return Ok(false);
        }
        if self.failed_azs.read().contains(&member.az) {
            // A copy that was to join in an AZ failed meanwhile is out of service (a
            // `Quorum` write waiting for it stops waiting).
            if matches!(set.acks.replicas().get(index), Some(ReplicaState::Joining(_))) {
                set.acks.fail(index, &format!("{} failed", member.az));
            }
            return Ok(false);
        }
        // A copy whose next record the primary's log no longer holds can only be rebuilt
        // (a replica's own log is not kept for others: after a promotion the new
        // primary's may start past a lagging replica).
        let reachable = member
            .partition
            .read()
            .as_ref()
            .is_some_and(|copy| log_reaches(copy.wal().durable_lsn(), primary.wal().first_lsn()));
        if set.acks.is_live(index) && reachable {
            return Ok(false);
        }
        // A member with no copy keeps its state (joining, or failed) until it has one:
        // a writer waiting for a joining replica goes on waiting. One with a copy is
        // taken out joining, not failed: a `Quorum` write whose other replicas are down
        // too waits for this repair instead of failing while it runs.
        if member.partition.read().is_some() {
            match set.take_out_to_rejoin(index) {
                TakenOut::Copy(old) => old.close_copy(),
                TakenOut::Nothing => {}
                // A promotion is replacing `set`: the copy is the next set's, repaired there.
                TakenOut::Stopped => return Ok(false),
            }
        }
        let entry = group.entry.lock().clone();
        let mut in_service = false;
        match self.open_replica(&group.table, &entry, &member.az, primary, |copy| {
            // Its AZ may have been failed meanwhile, or the partition failed over (then
            // `set` is stopped, and the copy was brought in line with a deposed primary):
            // then the copy is not put in service. (Should `fail_az` come between this
            // check and the copy going live, it has held the member out first, and
            // `replace` leaves the copy out: it never acknowledges a record.)
            in_service = !self.failed_azs.read().contains(&member.az) && set.replace(index, Arc::clone(copy));
        }) {
            Ok(copy) => {
                if !in_service {
                    copy.close_copy();
                }
                Ok(in_service)
            }
            Err(error) => {
                set.acks
                    .fail(index, &format!("bringing its copy into service failed: {error}"));
                Err(error)
            }
        }
    }

    /// Brings into service the replicas of the partitions of `groups` that `azs` covers and
    /// that are joining (new), or failed on their own (an I/O error on their disk, say),
    /// in AZs that are not failed: what a repairer thread runs. Returns how many it put
    /// in service; a failure is tried again next time.
    pub(crate) fn repair_in(&self, groups: &[Group], azs: &AzFilter) -> usize {
        let mut repaired = 0;
        for group in groups {
            // Copies taken out by `fail_az` are closed here, in the AZ's own thread.
            for az in group.azs.iter().filter(|az| azs.covers(az)) {
                group.close_taken_out(az);
            }
            // Not under the group's lock: a failover of this partition must not wait for a
            // repair (on a slow disk, a rebuild takes long). One that comes meanwhile
            // stops `set`, and the repaired copy is not put in service.
            let Some((primary, set)) = group.primary_and_replicas() else {
                continue;
            };
            let primary = &primary;
            let states = set.acks.replicas();
            for (index, (state, member)) in states.iter().zip(&set.members).enumerate() {
                let wanted = matches!(state, ReplicaState::Failed(..) | ReplicaState::Joining(_));
                if wanted
                    && azs.covers(&member.az)
                    && let Ok(true) = self.repair_member(group, primary, &set, index)
                {
                    repaired += 1;
                }
            }
        }
        repaired
    }
}
