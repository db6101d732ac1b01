//! Routing reads to copies: a consistent read to the primary, an eventually consistent
//! one in turn to the primary or a replica that shows every write the primary shows; and
//! taking a copy a read found damaged out of service, so that it is rebuilt.

use super::shipper::TakenOut;
use super::{FAILOVER_RETRIES, Group, GroupContext};
use crate::error::{Error, Result, io_error};
use crate::storage::Partition;
use std::sync::Arc;
use std::sync::atomic::Ordering;

impl GroupContext {
    /// The copy a read of the partition goes to: the primary for a consistent read; for an
    /// eventually consistent one, in turn, the primary or a live replica that shows every
    /// write the primary shows.
    pub(crate) fn copy_for_read(
        &self,
        group: &Group,
        primary: Arc<Partition>,
        consistent_read: bool,
    ) -> Arc<Partition> {
        if consistent_read {
            return primary;
        }
        let Some(set) = group.replicas.read().clone() else {
            return primary;
        };
        let turn = self.read_turn.fetch_add(1, Ordering::Relaxed);
        match set.live_copy(turn) {
            // Every write the primary shows (acknowledged, or `Buffered` and not yet durable).
            Some(replica) if replica.applied_lsn() >= primary.applied_lsn() => replica,
            _ => primary,
        }
    }

    /// Runs `read` on the copy of the partition that a read goes to (see
    /// [`GroupContext::copy_for_read`]); `None` if the partition was never written. A copy
    /// found damaged (`read` fails with [`Error::Corruption`]) is taken out of service
    /// and rebuilt from the primary (a damaged primary is replaced by a replica first),
    /// and the read is done again on a sound copy; without another copy the damage is
    /// reported.
    pub(crate) fn read<T>(
        &self,
        group: &Group,
        consistent_read: bool,
        mut read: impl FnMut(&Partition) -> Result<T>,
    ) -> Result<Option<T>> {
        let mut attempt = 0;
        loop {
            let Some(primary) = group.open.read().clone() else {
                return Ok(None);
            };
            let copy = self.copy_for_read(group, Arc::clone(&primary), consistent_read);
            match read(&copy) {
                Err(error @ Error::Corruption { .. }) if attempt < FAILOVER_RETRIES => {
                    attempt += 1;
                    if !self.discard_damaged(group, &primary, &copy)? {
                        return Err(error);
                    }
                }
                result => return result.map(Some),
            }
        }
    }

    /// Takes the damaged `copy` of the partition out of service and removes
    /// its files, so that it is rebuilt from the primary (promoting a replica first if the
    /// damaged copy is the primary). Returns false if there is no other copy to turn to.
    fn discard_damaged(&self, group: &Group, primary: &Arc<Partition>, copy: &Arc<Partition>) -> Result<bool> {
        let Some(set) = group.replicas.read().clone() else {
            return Ok(false);
        };
        if Arc::ptr_eq(copy, primary) {
            self.fail_over(group, primary, None, true)?;
            return Ok(true);
        }
        let _open = group.open.read();
        let index = set
            .members
            .iter()
            .position(|member| member.partition.read().as_ref().is_some_and(|p| Arc::ptr_eq(p, copy)));
        let Some(index) = index else {
            return Ok(true);
        };
        let _repairing = group.repairing(&set.members[index].az);
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
}
