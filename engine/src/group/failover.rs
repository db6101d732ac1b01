//! Failover: promoting a replica in place of a lost primary (the CATALOG first, then
//! fencing the old primary), what a failed write attempt comes to (done after all, to be
//! retried on the new primary, or its error), and replicas rejoining. Opening a group is
//! [`super::open`]'s, and opening, seeding and repairing copies [`super::copies`]'.

use super::primary::{AckWait, PrimaryRole};
#[cfg(feature = "drills")]
use super::shipper::TakenOut;
use super::shipper::{ReplicaSet, ShipToSet};
use super::{FAILOVER_RETRIES, Group, GroupContext, TableHome};
use crate::catalog::ReplicationGroup;
use crate::error::{Error, Result, io_error};
use crate::item::Item;
use crate::options::Replication;
use crate::storage::{Partition, WriteFailure, WriteGate};
use dynastore_replication::epochs::current_epoch_first_lsn;
use dynastore_replication::promotion::{self, Refusal};
use dynastore_replication::rejoin::log_reaches;
use dynastore_replication::{AckError, ReplicaState};
use dynastore_wal::{Epoch, Lsn};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a failed write attempt comes to once the engine recovered what it could.
pub(crate) enum Recovery {
    /// The write is done (its record is in the primary's history, acknowledged), having
    /// replaced this item.
    Done(Option<Item>),
    /// The write did not happen: do it again.
    Retry,
}

/// How long a failover waits for a shipment under way to a replica before it leaves the
/// replica out (its disk may hang): far longer than a shipment takes (well under a
/// millisecond on this project's machine), far shorter than the failover target (1 s).
const SHIPMENT_WAIT: Duration = Duration::from_millis(100);
/// How long a writer whose replicas' repairs failed waits before asking for them again
/// (see [`GroupContext::recover`]): their disks may have answered meanwhile.
const REJOIN_PAUSE: Duration = Duration::from_millis(10);

/// A replica copy a failover may promote.
struct Candidate {
    /// Its member's index in the replica set.
    index: usize,
    az: String,
    copy: Arc<Partition>,
    /// Its durable LSN when shipping stopped.
    durable: Lsn,
    /// Whether it was left out of the handover with a shipment under way.
    shipping: bool,
}

impl Candidate {
    /// What the promotion decision sees of it.
    fn view(&self) -> promotion::Candidate<'_> {
        promotion::Candidate {
            az: &self.az,
            durable: self.durable,
            shipping: self.shipping,
        }
    }
}

/// Every copy of `set` in service outside the `failed` AZs, those left out with a
/// shipment under way too (`left_out`), at their durable LSN now: every record a replica
/// acknowledged is in it. A copy whose log failed is none: it cannot take writes until
/// it is reopened; nor is a copy that was a primary before (its role, the gate its writes
/// pass, is set once: a former primary rejoins as a freshly opened copy).
fn candidates(set: &ReplicaSet, left_out: &[bool], failed: &BTreeSet<String>) -> Vec<Candidate> {
    set.members
        .iter()
        .enumerate()
        .filter(|(_, member)| !failed.contains(&member.az))
        .filter_map(|(index, member)| {
            let partition = member.partition.read().clone()?;
            if partition.wal().poisoned().is_some() || partition.has_gate() {
                return None;
            }
            Some(Candidate {
                index,
                az: member.az.clone(),
                durable: partition.wal().durable_lsn(),
                copy: partition,
                shipping: left_out.get(index).copied().unwrap_or(false),
            })
        })
        .collect()
}

/// The candidate to promote and the last LSN of the history it takes over (see
/// [`promotion`]). A chosen copy with a shipment under way has it end first (it may add
/// records, none acknowledged), and is handed the rest. `planned_from`: a planned
/// promotion's healthy primary, all of whose durable records must be handed over.
///
/// Errors: the [`Refusal`] that stops the promotion.
fn successor<'c>(
    set: &ReplicaSet,
    candidates: &'c [Candidate],
    target: Option<&str>,
    planned_from: Option<&Partition>,
) -> std::result::Result<(&'c Candidate, Lsn), Refusal> {
    let views: Vec<promotion::Candidate<'_>> = candidates.iter().map(Candidate::view).collect();
    let chosen = &candidates[promotion::choose(&views, target)?];
    let mut handover = chosen.durable;
    if chosen.shipping {
        set.finish_member(chosen.index);
        handover = chosen.copy.wal().durable_lsn();
    }
    let healthy_primary = planned_from.map(|primary| primary.wal().durable_lsn());
    promotion::check_handover(&chosen.az, handover, &views, healthy_primary)?;
    Ok((chosen, handover))
}

/// Takes `group`'s copy in the failed `az` out of service and leaves it to be closed under
/// the AZ's repair lock, by its repairer thread or the repair that brings the AZ back
/// (closing waits for a write under way to its disk, which may hang). A set that a
/// promotion is replacing refuses (see [`ReplicaSet::take_out`]): the promotion is waited
/// for (it holds the group's lock until its set is in place), and the copy is taken out of
/// the set it put in place.
#[cfg(feature = "drills")]
pub(crate) fn take_out_failed_copy(group: &Group, az: &str) {
    let mut waited_for: Option<Arc<ReplicaSet>> = None;
    loop {
        let Some(set) = group.replicas.read().clone() else {
            return;
        };
        let Some(index) = set.index_of(az) else {
            return;
        };
        // Held out first: a repair putting a copy in service meanwhile leaves it failed.
        set.hold_out(index, &format!("{az} failed"));
        match set.take_out(index, &format!("{az} failed")) {
            // Closing waits for a write under way to the AZ's disk, which may hang.
            TakenOut::Copy(copy) => return group.close_later(az, copy),
            TakenOut::Nothing => return,
            // Still stopped once no promotion is under way: its table is deleted.
            TakenOut::Stopped if waited_for.as_ref().is_some_and(|w| Arc::ptr_eq(w, &set)) => return,
            TakenOut::Stopped => {
                drop(group.open.read());
                waited_for = Some(set);
            }
        }
    }
}

impl GroupContext {
    /// The role of a primary whose replicas are `set`: its writers wait for them as the
    /// replication options say.
    pub(crate) fn primary_role(&self, set: &Arc<ReplicaSet>) -> Arc<PrimaryRole> {
        let replication = self.options.replication.clone().unwrap_or_default();
        Arc::new(PrimaryRole::new(AckWait {
            acks: Arc::clone(&set.acks),
            mode: replication.ack,
            timeout: replication.ack_timeout,
            max_lag_records: replication.max_lag_records,
            shipping: ShipToSet::new(set, self.ship.clone()),
        }))
    }

    /// What a failed write attempt on `partition` comes to: done after all, to be retried
    /// (on a new primary), or the error.
    ///
    /// - The write was turned away while a promotion hands the primary over: it is retried
    ///   once the promotion is done.
    /// - The primary was lost: a replica is promoted (if none was yet). A write whose
    ///   record the new primary holds is done: doing it again would repeat it (and its own
    ///   effect could fail its condition). Others are retried, up to
    ///   [`FAILOVER_RETRIES`] times.
    /// - Too few replicas were live to acknowledge: replicas out of service in healthy
    ///   AZs (a copy the primary's log no longer reaches, say) are rebuilt, and the write
    ///   waits for its acknowledgements once more.
    pub(crate) fn recover(
        &self,
        group: &Group,
        partition: &Arc<Partition>,
        failure: WriteFailure,
        attempt: &mut usize,
    ) -> Result<Recovery> {
        let set = group.replicas.read().clone();
        if *attempt == FAILOVER_RETRIES || set.is_none() {
            // Turned away each time by a primary that a failover was replacing: nothing
            // was written, and the partition is not serving. (Its storage copy reports that
            // as a fenced log; the caller is told what it is.)
            let turned_away = failure.enqueued.is_none() && (failure.handing_over || partition.deposed_at().is_some());
            if turned_away {
                return Err(Error::Unavailable {
                    table: group.table.name.clone(),
                    partition: group.entry.lock().id,
                    reason: format!("its primary changed {attempt} times while the write waited; nothing was written"),
                });
            }
            return Err(failure.error);
        }
        *attempt += 1;
        if failure.handing_over {
            // A promotion is under way (it holds the group): wait for it, then retry.
            drop(group.open.read());
            return Ok(Recovery::Retry);
        }
        if failure.primary_lost {
            let handover = self.fail_over(group, partition, None, false)?;
            return Ok(match failure.enqueued {
                Some((lsn, old)) if lsn <= handover => Recovery::Done(old),
                _ => Recovery::Retry,
            });
        }
        match (&failure.error, failure.enqueued, set) {
            (Error::Replication(AckError::NotEnoughReplicas { .. }), Some((lsn, old)), Some(set)) => {
                if !group
                    .open
                    .read()
                    .as_ref()
                    .is_some_and(|current| Arc::ptr_eq(current, partition))
                {
                    return Err(failure.error);
                }
                // Too few replicas are alive. The failed ones (in AZs that are not failed)
                // rejoin through their AZs' repairer threads, and this write waits for
                // them up to its timeout as for any joining replica. Not repaired here: a
                // writer must not wait on a replica's disk past its timeout, nor hold
                // the group through a rebuild (a failover would wait for it).
                let timeout = self
                    .options
                    .replication
                    .as_ref()
                    .map_or(Replication::default().ack_timeout, |r| r.ack_timeout);
                let started = Instant::now();
                loop {
                    let rejoining = self.rejoin_failed_replicas(&set);
                    // Checked after marking them: a failover deposes the primary before it
                    // fails every replica of the old set, which wakes this writer.
                    if let Some(handover) = partition.deposed_at() {
                        return Ok(if lsn <= handover {
                            Recovery::Done(old)
                        } else {
                            Recovery::Retry
                        });
                    }
                    match partition.await_replicas(lsn) {
                        Ok(()) => return Ok(Recovery::Done(old)),
                        // A repair begun earlier failed (its disk was still failing then):
                        // the next may not, within the write's timeout.
                        Err(Error::Replication(AckError::NotEnoughReplicas { .. }))
                            if rejoining && started.elapsed() < timeout =>
                        {
                            std::thread::sleep(REJOIN_PAUSE);
                        }
                        Err(error) => return Err(error),
                    }
                }
            }
            (_, _, _) => Err(failure.error),
        }
    }

    /// Marks `set`'s failed replicas joining, except in failed AZs, and wakes the repairer
    /// threads, which bring them into service: a writer waiting for acknowledgements
    /// waits for them. Returns whether any replica is live or joining now.
    fn rejoin_failed_replicas(&self, set: &ReplicaSet) -> bool {
        let failed = self.failed_azs.read().clone();
        let states = set.acks.replicas();
        for (index, (member, state)) in set.members.iter().zip(states).enumerate() {
            if matches!(state, ReplicaState::Failed(..)) && !failed.contains(&member.az) {
                set.acks.join(index);
            }
        }
        self.repairs.request();
        set.acks
            .replicas()
            .iter()
            .any(|state| matches!(state, ReplicaState::Live(_) | ReplicaState::Joining(_)))
    }

    /// Promotes a replica of `group` in place of `primary` (unless another caller already
    /// did) and returns the last LSN of `primary`'s history the new primary holds. The
    /// replica is `target` if given (it must hold everything any replica holds), else the
    /// one with the highest durable LSN. The new primary and raised epoch are recorded in
    /// the CATALOG before anything else changes; then the old primary is fenced, writers
    /// waiting on it wake (and retry), and the other replicas follow the new primary. A
    /// `damaged` primary's files are removed, so that its copy is rebuilt.
    pub(crate) fn fail_over(
        &self,
        group: &Group,
        primary: &Arc<Partition>,
        target: Option<&str>,
        damaged: bool,
    ) -> Result<Lsn> {
        let mut open = group.open.write();
        if let Some(handover) = primary.deposed_at() {
            return Ok(handover);
        }
        let mut entry = group.entry.lock();
        let unavailable = |reason: String| Error::Unavailable {
            table: group.table.name.clone(),
            partition: entry.id,
            reason,
        };
        if !open.as_ref().is_some_and(|current| Arc::ptr_eq(current, primary)) {
            return Err(unavailable("its primary changed while failing over".into()));
        }
        let (Some(set), Some(role)) = (group.replicas.read().clone(), group.role.read().clone()) else {
            return Err(unavailable("it has no replica to promote".into()));
        };
        // New writes wait for the new primary. A healthy primary then makes durable what
        // it acknowledged before its log synced (`Buffered` writes), so that a planned
        // promotion loses nothing (a failed one cannot, and those are lost as in a crash);
        // then shipping stops, after handing the replicas everything durable that can
        // still be read.
        role.stop_writes(primary);
        let abort = |error: Error| {
            set.resume();
            role.resume_writes();
            Err(error)
        };
        if !self.failed_azs.read().contains(&entry.group.primary) {
            // An error means the primary is failing after all: what is durable is handed
            // over.
            let _ = primary.sync();
        }
        let left_out = set.stop(SHIPMENT_WAIT);
        let failed = self.failed_azs.read().clone();
        let candidates = candidates(&set, &left_out, &failed);
        // A planned promotion hands over everything durable on a healthy primary: a
        // chosen copy that did not get it all (it failed, or is still catching up) would
        // lose writes the primary made durable (`Buffered` and `Primary`-mode writes
        // that no replica holds).
        let healthy = !failed.contains(&entry.group.primary) && primary.wal().poisoned().is_none();
        let planned_from = (target.is_some() && healthy).then_some(&**primary);
        let (chosen, handover) = match successor(&set, &candidates, target, planned_from) {
            Ok(chosen) => chosen,
            Err(refusal) => return abort(unavailable(refusal.to_string())),
        };
        let new_primary = Arc::clone(&chosen.copy);
        // The CATALOG first: once it names the new primary and epoch, a crash reopens
        // with them.
        let promoted = entry.group.promoted(&chosen.az, handover.0);
        if let Err(error) = self.record_group(&group.table, entry.id, &promoted) {
            return abort(error);
        }
        let former_az = std::mem::replace(&mut entry.group, promoted.clone()).primary;
        role.depose(primary, handover);
        let next = self.follow(&set, &promoted, &new_primary, &candidates, &failed);
        drop(entry);
        // A damaged former primary's files are not to be trusted: they are removed, so
        // that its copy is rebuilt from the new primary. Its AZ's repair lock is taken
        // before the new set is in place, so that no repair opens them meanwhile; they are
        // removed once the new primary is, so that an error here leaves the partition
        // served (and is reported).
        let damaged_files = damaged.then(|| group.repairing(&former_az));
        let next_role = self.primary_role(&next);
        // No gate was set on it: only copies that never were primary are candidates.
        let fresh = new_primary
            .set_gate(Arc::clone(&next_role) as Arc<dyn WriteGate>)
            .is_ok();
        debug_assert!(fresh, "a copy made primary twice");
        *group.role.write() = Some(next_role);
        *group.replicas.write() = Some(Arc::clone(&next));
        *open = Some(Arc::clone(&new_primary));
        drop(open);
        let removed = match damaged_files {
            Some(_repairing) => dynastore_wal::fs::remove_tree(self.fs.as_ref(), primary.dir())
                .map_err(io_error("removing", primary.dir())),
            None => Ok(()),
        };
        // A planned promotion's former primary was healthy a moment ago: it rejoins before
        // `promote` returns (its copy only reopens), so that the partition has as many
        // replicas in service as before, ready for the next failover. A failure leaves it
        // to the repairer threads.
        if target.is_some()
            && healthy
            && let Some(index) = next.index_of(&former_az)
        {
            let _ = self.repair_member(group, &new_primary, &next, index);
        }
        self.repairs.request();
        removed.map(|()| handover)
    }

    /// The replica set that follows `new_primary` after a promotion to group `promoted`:
    /// the new primary and the replicas move to the new epoch; the former primary (if its
    /// AZ is up) and replicas the new primary's log cannot bring up to date rejoin in the
    /// repairer threads, not here: a failover happens in a writer's thread, and a replica
    /// disk that is slow or hung (a rebuild copies tables) must hold up neither that
    /// writer nor the new primary's first write. Meanwhile they count as joining (shipped
    /// nothing), so a `Quorum` write waits for the first that comes back instead of
    /// failing. A copy the log cannot reach stays in its member until the repairer takes
    /// it out: closing it waits for a flush under way on its disk. The others follow the
    /// stream.
    fn follow(
        &self,
        set: &ReplicaSet,
        promoted: &ReplicationGroup,
        new_primary: &Arc<Partition>,
        candidates: &[Candidate],
        failed: &BTreeSet<String>,
    ) -> Arc<ReplicaSet> {
        let epoch = (Epoch(promoted.epoch), current_epoch_first_lsn(&promoted.history));
        new_primary.set_epoch(epoch.0, epoch.1);
        let members = promoted
            .replica_azs()
            .map(|az| {
                let partition = set
                    .index_of(az)
                    .and_then(|index| set.members[index].partition.read().clone());
                if let Some(partition) = &partition {
                    partition.set_epoch(epoch.0, epoch.1);
                }
                (az.to_owned(), partition)
            })
            .collect();
        let next = Arc::new(ReplicaSet::new(
            new_primary.wal(),
            members,
            &self.paused_azs.read(),
            failed,
        ));
        let first_needed = new_primary.wal().first_lsn();
        for (index, member) in next.members.iter().enumerate() {
            let behind = member
                .partition
                .read()
                .as_ref()
                .is_none_or(|copy| !log_reaches(copy.wal().durable_lsn(), first_needed));
            // A copy left out with a shipment under way may get records past the
            // handover: it is reopened (cutting them) before it rejoins.
            let shipping = candidates.iter().any(|c| c.shipping && c.az == member.az);
            if (behind || shipping) && !failed.contains(&member.az) {
                next.acks.join(index);
            }
        }
        next
    }

    /// Records partition `id`'s new replication group in the CATALOG, durably.
    pub(crate) fn record_group(&self, table: &TableHome, id: u32, group: &ReplicationGroup) -> Result<()> {
        let mut catalog = self.catalog.lock();
        let mut next = catalog.clone();
        let recorded = table.entry_in(&mut next, id).ok_or_else(|| Error::ResourceNotFound {
            table: table.name.clone(),
        })?;
        recorded.group = group.clone();
        next.save(self.fs.as_ref(), &self.dir)?;
        *catalog = next;
        Ok(())
    }
}
