//! The replication side of [`Database`]: reads served by replicas, failover (promotion,
//! fencing, retrying writes in flight), rejoining, and the fault injections behind drills
//! (`fail_az`, `pause_shipping`). Opening a group is `open_group`'s, and opening, seeding
//! and repairing copies is `copies`'. See the parent module's docs for the whole picture.

use super::*;
use crate::shipper::{ReplicaSet, ShipToSet, TakenOut};
use std::time::Instant;

/// What a failed write attempt comes to once the engine recovered what it could.
pub(super) enum Recovery {
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
/// (see [`Database::recover`]): their disks may have answered meanwhile.
const REJOIN_PAUSE: Duration = Duration::from_millis(10);

/// A replica copy a failover may promote.
#[derive(Clone)]
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

/// When [`Database::open_group`] brings a partition's replica copies into service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReplicaCopies {
    /// In the calling thread (opening the database, where most copies exist already).
    OpenNow,
    /// In the repairer threads (a new partition: its first write must not wait for every
    /// replica AZ's disk).
    Later,
}

/// Each replica's progress behind `primary`; `failed` are the AZs failed on purpose
/// (their copies are out of service, not failed).
pub(super) fn replica_reports(primary: &Partition, set: &ReplicaSet, failed: &BTreeSet<String>) -> Vec<ReplicaReport> {
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

/// Takes `slot`'s copy in the failed `az` out of service and leaves it to be closed under
/// the AZ's repair lock, by its repairer thread or the repair that brings the AZ back
/// (closing waits for a write under way to its disk, which may hang). A set that a
/// promotion is replacing refuses (see [`ReplicaSet::take_out`]): the promotion is waited
/// for (it holds the slot's lock until its set is in place), and the copy is taken out of
/// the set it put in place.
fn take_out_failed_copy(slot: &PartitionSlot, az: &str) {
    let mut waited_for: Option<Arc<ReplicaSet>> = None;
    loop {
        let Some(set) = slot.replicas.read().clone() else {
            return;
        };
        let Some(index) = set.index_of(az) else {
            return;
        };
        // Held out first: a repair putting a copy in service meanwhile leaves it failed.
        set.hold_out(index, &format!("{az} failed"));
        match set.take_out(index, &format!("{az} failed")) {
            // Closing waits for a write under way to the AZ's disk, which may hang.
            TakenOut::Copy(copy) => return slot.close_later(az, copy),
            TakenOut::Nothing => return,
            // Still stopped once no promotion is under way: its table is deleted.
            TakenOut::Stopped if waited_for.as_ref().is_some_and(|w| Arc::ptr_eq(w, &set)) => return,
            TakenOut::Stopped => {
                drop(slot.open.read());
                waited_for = Some(set);
            }
        }
    }
}

impl Database {
    pub(super) fn ack_wait(&self, set: &Arc<ReplicaSet>) -> Arc<AckWait> {
        let replication = self.options.replication.clone().unwrap_or_default();
        let signal = self.shipper.as_ref().map(Shipper::signal).unwrap_or_default();
        Arc::new(AckWait {
            acks: Arc::clone(&set.acks),
            mode: replication.ack,
            timeout: replication.ack_timeout,
            max_lag_records: replication.max_lag_records,
            shipping: Arc::new(ShipToSet::new(set, signal)),
        })
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
    pub(super) fn recover(
        &self,
        table: &Table,
        hash: u64,
        partition: &Arc<Partition>,
        failure: WriteFailure,
        attempt: &mut usize,
    ) -> Result<Recovery> {
        let slot = table.slot(hash).ok_or_else(|| Error::ResourceNotFound {
            table: table.name.clone(),
        })?;
        let set = slot.replicas.read().clone();
        if *attempt == FAILOVER_RETRIES || set.is_none() {
            // Turned away each time by a primary that a failover was replacing: nothing
            // was written, and the partition is not serving. (Its storage copy reports that
            // as a fenced log; the caller is told what it is.)
            let turned_away = failure.enqueued.is_none() && (failure.handing_over || partition.deposed_at().is_some());
            if turned_away {
                return Err(Error::Unavailable {
                    table: table.name.clone(),
                    partition: slot.entry.lock().id,
                    reason: format!("its primary changed {attempt} times while the write waited; nothing was written"),
                });
            }
            return Err(failure.error);
        }
        *attempt += 1;
        if failure.handing_over {
            // A promotion is under way (it holds the slot): wait for it, then retry.
            drop(slot.open.read());
            return Ok(Recovery::Retry);
        }
        if failure.primary_lost {
            let handover = self.fail_over(table, slot, partition, None, false)?;
            return Ok(match failure.enqueued {
                Some((lsn, old)) if lsn <= handover => Recovery::Done(old),
                _ => Recovery::Retry,
            });
        }
        match (&failure.error, failure.enqueued, set) {
            (Error::Replication(AckError::NotEnoughReplicas { .. }), Some((lsn, old)), Some(set)) => {
                if !slot
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
                // the slot through a rebuild (a failover would wait for it).
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
        self.copies.repairs.request();
        set.acks
            .replicas()
            .iter()
            .any(|state| matches!(state, ReplicaState::Live(_) | ReplicaState::Joining(_)))
    }

    /// The copy a read of `hash` goes to: the primary for a consistent read; for an
    /// eventually consistent one, in turn, the primary or a live replica that shows every
    /// write the primary shows.
    pub(crate) fn copy_for_read(
        &self,
        table: &Table,
        hash: u64,
        primary: Arc<Partition>,
        consistent_read: bool,
    ) -> Arc<Partition> {
        if consistent_read {
            return primary;
        }
        let Some(set) = table.slot(hash).and_then(|slot| slot.replicas.read().clone()) else {
            return primary;
        };
        let turn = self.read_turn.fetch_add(1, Ordering::Relaxed);
        match set.live_copy(turn) {
            // Every write the primary shows (acknowledged, or `Buffered` and not yet durable).
            Some(replica) if replica.applied_lsn() >= primary.applied_lsn() => replica,
            _ => primary,
        }
    }

    /// Runs `read` on the copy of the partition holding `hash` that a read goes to (see
    /// [`Database::copy_for_read`]); `None` if the partition was never written. A copy
    /// found damaged (`read` fails with [`Error::Corruption`]) is taken out of service
    /// and rebuilt from the primary (a damaged primary is replaced by a replica first),
    /// and the read is done again on a sound copy; without another copy the damage is
    /// reported.
    pub(crate) fn read<T>(
        &self,
        table: &Table,
        hash: u64,
        consistent_read: bool,
        mut read: impl FnMut(&Partition) -> Result<T>,
    ) -> Result<Option<T>> {
        let mut attempt = 0;
        loop {
            let Some(primary) = self.partition(table, hash, false)? else {
                return Ok(None);
            };
            let copy = self.copy_for_read(table, hash, Arc::clone(&primary), consistent_read);
            match read(&copy) {
                Err(error @ Error::Corruption { .. }) if attempt < FAILOVER_RETRIES => {
                    attempt += 1;
                    if !self.discard_damaged(table, hash, &primary, &copy)? {
                        return Err(error);
                    }
                }
                result => return result.map(Some),
            }
        }
    }

    /// Takes the damaged `copy` of the partition holding `hash` out of service and removes
    /// its files, so that it is rebuilt from the primary (promoting a replica first if the
    /// damaged copy is the primary). Returns false if there is no other copy to turn to.
    fn discard_damaged(
        &self,
        table: &Table,
        hash: u64,
        primary: &Arc<Partition>,
        copy: &Arc<Partition>,
    ) -> Result<bool> {
        let slot = table.slot(hash).ok_or_else(|| Error::ResourceNotFound {
            table: table.name.clone(),
        })?;
        let Some(set) = slot.replicas.read().clone() else {
            return Ok(false);
        };
        if Arc::ptr_eq(copy, primary) {
            self.fail_over(table, slot, primary, None, true)?;
            return Ok(true);
        }
        let _open = slot.open.read();
        let index = set
            .members
            .iter()
            .position(|member| member.partition.read().as_ref().is_some_and(|p| Arc::ptr_eq(p, copy)));
        let Some(index) = index else {
            return Ok(true);
        };
        let _repairing = slot.repairing(&set.members[index].az);
        // Taken out only if still the damaged copy: a repair may have replaced it since.
        let still = set.members[index]
            .partition
            .read()
            .as_ref()
            .is_some_and(|p| Arc::ptr_eq(p, copy));
        if still && let TakenOut::Copy(damaged) = set.take_out(index, "a read found its files damaged") {
            damaged.close_copy();
            dynastore_wal::fs::remove_tree(self.fs.as_ref(), damaged.dir())
                .map_err(io_error("removing", damaged.dir()))?;
        }
        Ok(true)
    }

    /// Promotes a replica of `slot` in place of `primary` (unless another caller already
    /// did) and returns the last LSN of `primary`'s history the new primary holds. The
    /// replica is `target` if given (it must hold everything any replica holds), else the
    /// one with the highest durable LSN. The new primary and raised epoch are recorded in
    /// the CATALOG before anything else changes; then the old primary is fenced, writers
    /// waiting on it wake (and retry), and the other replicas follow the new primary. A
    /// `damaged` primary's files are removed, so that its copy is rebuilt.
    pub(super) fn fail_over(
        &self,
        table: &Table,
        slot: &PartitionSlot,
        primary: &Arc<Partition>,
        target: Option<&str>,
        damaged: bool,
    ) -> Result<Lsn> {
        let mut open = slot.open.write();
        if let Some(handover) = primary.deposed_at() {
            return Ok(handover);
        }
        let mut entry = slot.entry.lock();
        let unavailable = |reason: String| Error::Unavailable {
            table: table.name.clone(),
            partition: entry.id,
            reason,
        };
        if !open.as_ref().is_some_and(|current| Arc::ptr_eq(current, primary)) {
            return Err(unavailable("its primary changed while failing over".into()));
        }
        let Some(set) = slot.replicas.read().clone() else {
            return Err(unavailable("it has no replica to promote".into()));
        };
        // New writes wait for the new primary. A healthy primary then makes durable what
        // it acknowledged before its log synced (`Buffered` writes), so that a planned
        // promotion loses nothing (a failed one cannot, and those are lost as in a crash);
        // then shipping stops, after handing the replicas everything durable that can
        // still be read.
        primary.stop_writes();
        let abort = |error: Error| {
            set.resume();
            primary.resume_writes();
            Err(error)
        };
        if !self.failed_azs.read().contains(&entry.group.primary) {
            // An error means the primary is failing after all: what is durable is handed
            // over.
            let _ = primary.sync();
        }
        let left_out = set.stop(SHIPMENT_WAIT);
        let failed = self.failed_azs.read().clone();
        // Every copy in service is a candidate, those left out with a shipment under way
        // too, at their durable LSN now: every record a replica acknowledged is in it.
        let candidates: Vec<Candidate> = set
            .members
            .iter()
            .enumerate()
            .filter(|(_, member)| !failed.contains(&member.az))
            .filter_map(|(index, member)| {
                let partition = member.partition.read().clone()?;
                // A copy whose log failed cannot take writes until it is reopened.
                if partition.wal().poisoned().is_some() {
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
            .collect();
        let best = candidates.iter().map(|c| c.durable).max();
        // Of the copies holding the most, one with no shipment under way if there is one.
        let chosen = match target {
            Some(az) => candidates.iter().find(|c| c.az == az),
            None => candidates
                .iter()
                .filter(|c| Some(c.durable) == best)
                .min_by_key(|c| c.shipping),
        };
        let Some(Candidate {
            index,
            az: new_az,
            copy: new_primary,
            durable: mut handover,
            shipping,
        }) = chosen.cloned()
        else {
            return abort(unavailable(match target {
                Some(az) => format!("{az} holds no copy in service"),
                None => "no replica is in service".into(),
            }));
        };
        if shipping {
            // The chosen copy's shipment under way ends first (it may add records, none
            // acknowledged), and it is handed the rest.
            set.finish_member(index);
            handover = new_primary.wal().durable_lsn();
        }
        if Some(handover) < best {
            return abort(unavailable(format!(
                "{new_az} is behind another replica (LSN {handover} of {})",
                best.unwrap_or(Lsn::ZERO)
            )));
        }
        // A planned promotion hands over everything durable on a healthy primary: a
        // chosen copy that did not get it all (it failed, or is still catching up) would
        // lose writes the primary made durable (`Buffered` and `Primary`-mode writes
        // that no replica holds).
        let primary_durable = primary.wal().durable_lsn();
        let healthy = !failed.contains(&entry.group.primary) && primary.wal().poisoned().is_none();
        if target.is_some() && healthy && handover < primary_durable {
            return abort(unavailable(format!(
                "{new_az} is behind the primary (LSN {handover} of {primary_durable})"
            )));
        }
        // The CATALOG first: once it names the new primary and epoch, a crash reopens
        // with them.
        let group = entry.group.promoted(&new_az, handover.0);
        if let Err(error) = self.record_group(table, entry.id, &group) {
            return abort(error);
        }
        let former_az = std::mem::replace(&mut entry.group, group.clone()).primary;
        let epoch = (Epoch(group.epoch), handover.next());
        primary.depose(handover);
        new_primary.set_epoch(epoch.0, epoch.1);
        let members = group
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
            &failed,
        ));
        // The former primary (if its AZ is up) and replicas the new primary's log cannot
        // bring up to date rejoin in the repairer threads, not here: a failover happens in
        // a writer's thread, and a replica disk that is slow or hung (a rebuild copies
        // tables) must hold up neither that writer nor the new primary's first write.
        // Meanwhile they count as joining (shipped nothing), so a `Quorum` write waits for
        // the first that comes back instead of failing. A copy the log cannot reach stays
        // in its member until the repairer takes it out: closing it waits for a flush
        // under way on its disk. The others follow the stream.
        let first_needed = new_primary.wal().first_lsn();
        for (index, member) in next.members.iter().enumerate() {
            let behind = member
                .partition
                .read()
                .as_ref()
                .is_none_or(|copy| copy.wal().durable_lsn().next() < first_needed);
            // A copy left out with a shipment under way may get records past the
            // handover: it is reopened (cutting them) before it rejoins.
            let shipping = candidates.iter().any(|c| c.shipping && c.az == member.az);
            if (behind || shipping) && !failed.contains(&member.az) {
                next.acks.join(index);
            }
        }
        drop(entry);
        // A damaged former primary's files are not to be trusted: they are removed, so
        // that its copy is rebuilt from the new primary. Its AZ's repair lock is taken
        // before the new set is in place, so that no repair opens them meanwhile; they are
        // removed once the new primary is, so that an error here leaves the partition
        // served (and is reported).
        let damaged_files = damaged.then(|| slot.repairing(&former_az));
        new_primary.set_ack_wait(Some(self.ack_wait(&next)));
        *slot.replicas.write() = Some(Arc::clone(&next));
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
            let _ = self.copies.repair_member(table, slot, &new_primary, &next, index);
        }
        self.copies.repairs.request();
        removed.map(|()| handover)
    }

    /// Records partition `id`'s new replication group in the CATALOG, durably.
    pub(super) fn record_group(&self, table: &Table, id: u32, group: &ReplicationGroup) -> Result<()> {
        let mut catalog = self.catalog.lock();
        let mut next = catalog.clone();
        let recorded = next
            .tables
            .get_mut(&table.name)
            .and_then(|t| t.partitions.iter_mut().find(|p| p.id == id))
            .ok_or_else(|| Error::ResourceNotFound {
                table: table.name.clone(),
            })?;
        recorded.group = group.clone();
        next.save(self.fs.as_ref(), &self.dir)?;
        *catalog = next;
        Ok(())
    }

    /// Makes an AZ unusable, as if its disks had gone away (a fault injection for tests
    /// and failover drills): every file under `<data>/<az>/` fails with an I/O error.
    /// Replicas there stop counting; every partition whose primary is there fails over to
    /// a replica at once.
    ///
    /// Errors: [`Error::Validation`] for an AZ no table uses; [`Error::Unavailable`] if a
    /// partition had no replica to promote (its writes fail until the AZ is restored);
    /// [`Error::Io`] if the CATALOG could not record a promotion.
    pub fn fail_az(&self, az: &str) -> Result<()> {
        self.check_az(az)?;
        self.failed_azs.write().insert(az.to_owned());
        // Counted after the AZ is in the failed set (see `Database::az_mark`).
        *self.az_failures.lock().entry(az.to_owned()).or_default() += 1;
        let mut first_error = None;
        let tables: Vec<Arc<Table>> = self.tables.read().values().cloned().collect();
        for table in &tables {
            for slot in &table.slots {
                take_out_failed_copy(slot, az);
                let primary = slot.open.read().clone();
                let primary_here = slot.entry.lock().group.primary == az;
                if let Some(primary) = primary.filter(|_| primary_here) {
                    if let Err(error) = self.fail_over(table, slot, &primary, None, false) {
                        first_error.get_or_insert(error);
                    }
                    // The deposed primary is dropped by the AZ's repairer thread: dropping
                    // a full memtable takes milliseconds (7-38 ms for 53 MiB), which the
                    // first write on the new primary would otherwise wait for.
                    if primary.deposed_at().is_some() {
                        slot.close_later(az, primary);
                    }
                }
            }
        }
        // The repairer threads close the copies taken out.
        self.copies.repairs.request();
        first_error.map_or(Ok(()), Err)
    }

    /// Holds back (`paused`) or resumes shipping to the replicas in `az`, as if the network
    /// link to it were cut (a fault injection for tests and drills). Its copies stay in
    /// service and count as live, but receive nothing: `Quorum` and `All` writes then
    /// wait for other replicas, and a failover may find them behind.
    ///
    /// Errors: [`Error::Validation`] for an AZ no table uses.
    pub fn pause_shipping(&self, az: &str, paused: bool) -> Result<()> {
        self.check_az(az)?;
        if paused {
            self.paused_azs.write().insert(az.to_owned());
        } else {
            self.paused_azs.write().remove(az);
        }
        let tables: Vec<Arc<Table>> = self.tables.read().values().cloned().collect();
        for set in tables.iter().flat_map(|table| table.replica_sets()) {
            set.pause(az, paused);
        }
        if let Some(shipper) = &self.shipper {
            shipper.signal().notify();
        }
        Ok(())
    }

    /// Brings a failed AZ back: its copies rejoin as replicas (each drops any tail its
    /// partition's primary never had, and catches up from the primary's log, or from a
    /// copy of its tables when the log no longer reaches back far enough), in the calling
    /// thread. A copy whose partition fails over meanwhile is left to the repairer
    /// threads, which bring it in line with the new primary.
    ///
    /// Errors: [`Error::Validation`] for an AZ no table uses; [`Error::Io`],
    /// [`Error::Wal`], [`Error::Corruption`] from reopening a copy.
    pub fn restore_az(&self, az: &str) -> Result<()> {
        self.check_az(az)?;
        self.failed_azs.write().remove(az);
        let tables: Vec<Arc<Table>> = self.tables.read().values().cloned().collect();
        for table in &tables {
            for slot in &table.slots {
                let Some((primary, set)) = slot.primary_and_replicas() else {
                    continue;
                };
                // Only this AZ's copy: another AZ's may be waiting for its disk.
                if let Some(index) = set.index_of(az) {
                    set.readmit(index);
                    self.copies.repair_member(table, slot, &primary, &set, index)?;
                }
            }
        }
        Ok(())
    }

    /// Promotes the copy of partition `partition` of `table` in `az` to primary (a planned
    /// failover): the current primary hands over everything durable first, so nothing
    /// acknowledged is lost, and rejoins as a replica.
    ///
    /// Errors: [`Error::ResourceNotFound`]; [`Error::Validation`] for a partition id that
    /// does not exist; [`Error::Unavailable`] if the partition was never written, has no
    /// copy in service in `az`, or that copy is behind another replica or did not get
    /// every record durable on the primary (it failed, or is still catching up);
    /// [`Error::Io`].
    pub fn promote(&self, table: &str, partition: u32, az: &str) -> Result<()> {
        let table = self.table(table)?;
        let slot = table
            .slots
            .iter()
            .find(|slot| slot.entry.lock().id == partition)
            .ok_or_else(|| {
                Error::Validation(ValidationError::InvalidParameter(format!(
                    "table {} has no partition {partition}",
                    table.name
                )))
            })?;
        let entry = slot.entry.lock().clone();
        let primary = slot.open.read().clone();
        let Some(primary) = primary else {
            return Err(Error::Unavailable {
                table: table.name.clone(),
                partition,
                reason: "it holds no data yet".into(),
            });
        };
        if entry.group.primary == az {
            return Ok(());
        }
        self.fail_over(&table, slot, &primary, Some(az), false).map(|_| ())
    }

    pub(super) fn check_az(&self, az: &str) -> Result<()> {
        let configured = self
            .options
            .replication
            .as_ref()
            .is_some_and(|r| r.azs.iter().any(|a| a == az));
        let used = self
            .catalog
            .lock()
            .tables
            .values()
            .any(|table| table.partitions.iter().any(|p| p.group.azs.iter().any(|a| a == az)));
        if configured || used {
            Ok(())
        } else {
            Err(ValidationError::InvalidParameter(format!("no table has a copy in availability zone {az:?}")).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dynastore_wal::{Epoch, Wal, WalOptions};

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
