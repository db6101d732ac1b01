//! Fault injections for tests and failover drills (the `drills` cargo feature): failing
//! and restoring an AZ, and cutting shipping to one.

use super::*;
use crate::group::failover::take_out_failed_copy;

impl Database {
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
        self.groups.failed_azs.write().insert(az.to_owned());
        // Counted after the AZ is in the failed set (see `Database::az_mark`).
        *self.az_failures.lock().entry(az.to_owned()).or_default() += 1;
        let mut first_error = None;
        let tables: Vec<Arc<Table>> = self.tables.read().values().cloned().collect();
        for table in &tables {
            for group in table.all_groups() {
                take_out_failed_copy(group, az);
                let primary = group.open.read().clone();
                let primary_here = group.entry.lock().group.primary == az;
                if let Some(primary) = primary.filter(|_| primary_here) {
                    if let Err(error) = self.groups.fail_over(group, &primary, None, false) {
                        first_error.get_or_insert(error);
                    }
                    // The deposed primary is dropped by the AZ's repairer thread: dropping
                    // a full memtable takes milliseconds (7-38 ms for 53 MiB), which the
                    // first write on the new primary would otherwise wait for.
                    if primary.deposed_at().is_some() {
                        group.close_later(az, primary);
                    }
                }
            }
        }
        // The repairer threads close the copies taken out.
        self.groups.repairs.request();
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
            self.groups.paused_azs.write().insert(az.to_owned());
        } else {
            self.groups.paused_azs.write().remove(az);
        }
        let tables: Vec<Arc<Table>> = self.tables.read().values().cloned().collect();
        for set in tables.iter().flat_map(|table| table.replica_sets()) {
            set.pause(az, paused);
        }
        self.groups.ship.notify();
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
        self.groups.failed_azs.write().remove(az);
        let tables: Vec<Arc<Table>> = self.tables.read().values().cloned().collect();
        for table in &tables {
            for group in table.all_groups() {
                let Some((primary, set)) = group.primary_and_replicas() else {
                    continue;
                };
                // Only this AZ's copy: another AZ's may be waiting for its disk.
                if let Some(index) = set.index_of(az) {
                    set.readmit(index);
                    self.groups.repair_member(group, &primary, &set, index)?;
                }
            }
        }
        Ok(())
    }

    pub(super) fn check_az(&self, az: &str) -> Result<()> {
        let configured = self
            .options
            .replication
            .as_ref()
            .is_some_and(|r| r.azs.iter().any(|a| a == az));
        let used = self
            .groups
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
