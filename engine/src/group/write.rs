//! The write path, once: a write goes to the group's primary (created, CATALOG first, on
//! the partition's first write); when the attempt fails, [`GroupContext::recover`] tells
//! whether it is done after all (the new primary holds its record), to be retried on a new
//! primary, or failed.

use super::failover::Recovery;
use super::{Group, GroupContext, ReplicaCopies};
use crate::error::{Error, Result};
use crate::item::Item;
use crate::storage::{DerivedWrites, KeyWrite, Partition};
use std::sync::Arc;
use std::sync::atomic::Ordering;

impl GroupContext {
    /// The group's primary, created (CATALOG first, then its directory) if `create` and it
    /// does not exist yet; `None` if it does not and `create` is false.
    ///
    /// Errors: [`Error::ResourceNotFound`] if the table was deleted meanwhile; what
    /// opening the copy returns ([`Error::Io`], [`Error::Wal`], [`Error::Corruption`]).
    pub(crate) fn primary(&self, group: &Group, create: bool) -> Result<Option<Arc<Partition>>> {
        if let Some(partition) = group.open.read().as_ref() {
            return Ok(Some(Arc::clone(partition)));
        }
        if !create {
            return Ok(None);
        }
        let mut open = group.open.write();
        if let Some(partition) = open.as_ref() {
            return Ok(Some(Arc::clone(partition)));
        }
        let mut entry = group.entry.lock();
        let table = &group.table;
        if !entry.created {
            let mut catalog = self.catalog.lock();
            // A writer holding a table that was deleted (and maybe recreated under the same
            // name) must not create a partition in the live table's directory. The mark is
            // set under the CATALOG's lock, as the table leaves the CATALOG.
            if table.deleted.load(Ordering::Acquire) {
                return Err(Error::ResourceNotFound {
                    table: table.name.clone(),
                });
            }
            let mut next = catalog.clone();
            let recorded = table
                .entry_in(&mut next, entry.id)
                .ok_or_else(|| Error::ResourceNotFound {
                    table: table.name.clone(),
                })?;
            recorded.created = true;
            // A new partition's primary is its group's first AZ that is not failed: it holds
            // nothing yet, so choosing another changes no history.
            let failed = self.failed_azs.read().clone();
            if failed.contains(&recorded.group.primary)
                && let Some(healthy) = recorded.group.azs.iter().find(|az| !failed.contains(*az))
            {
                recorded.group.primary = healthy.clone();
            }
            let replication_group = recorded.group.clone();
            next.save(self.fs.as_ref(), &self.dir)?;
            *catalog = next;
            entry.created = true;
            entry.group = replication_group;
        }
        let primary = self.open_partition(table, &table.partition_dir(&entry.group.primary, &entry), &entry.group)?;
        // The replicas are created by the repairer threads: a replica AZ whose disk is
        // slow or failed must not hold up (or fail) this write.
        let (partition, replicated) = self.open_group(table, &entry, primary, ReplicaCopies::Later)?;
        group.install(replicated);
        *open = Some(Arc::clone(&partition));
        self.repairs.request();
        Ok(Some(partition))
    }

    /// Writes `writes` (all in `group`'s partition) as one record, retrying on a new
    /// primary as [`GroupContext::write`] does. `create`: whether to create the partition
    /// if it does not exist (deletes alone need not: nothing to delete). Returns the items
    /// replaced, in order, when `derived` needed them read and the write landed at once
    /// (none when a failover was recovered from meanwhile).
    pub(crate) fn write_batch(
        &self,
        group: &Group,
        writes: &[KeyWrite],
        derived: &dyn DerivedWrites,
        create: bool,
    ) -> Result<Vec<Option<Item>>> {
        let mut attempt = 0;
        loop {
            let Some(partition) = self.primary(group, create)? else {
                return Ok(Vec::new());
            };
            let failure = match partition.write_batch_attempt(writes, derived) {
                Ok(replaced) => return Ok(replaced),
                Err(failure) => failure,
            };
            match self.recover(group, &partition, failure, &mut attempt)? {
                Recovery::Done(_) => return Ok(Vec::new()),
                Recovery::Retry => {}
            }
        }
    }

    /// Writes under `key` what `compute` derives from the current item, on the group's
    /// primary, retrying on a new primary if the primary is lost meanwhile (see
    /// [`GroupContext::recover`]). Returns the item replaced.
    pub(crate) fn write(
        &self,
        group: &Group,
        key: Vec<u8>,
        read_old: bool,
        derived: &dyn DerivedWrites,
        mut compute: impl FnMut(Option<&Item>) -> Result<Option<Item>>,
    ) -> Result<Option<Item>> {
        let mut attempt = 0;
        loop {
            let partition = self.primary(group, true)?.ok_or_else(|| Error::ResourceNotFound {
                table: group.table.name.clone(),
            })?;
            let failure = match partition.write_attempt(key.clone(), read_old, derived, &mut compute) {
                Ok(old) => return Ok(old),
                Err(failure) => failure,
            };
            match self.recover(group, &partition, failure, &mut attempt)? {
                Recovery::Done(old) => return Ok(old),
                Recovery::Retry => {}
            }
        }
    }

    /// Makes every write so far to `group`'s partition durable as the ack mode counts it
    /// (see `Database::sync`), if the partition was created.
    ///
    /// Errors: [`Error::LostInFailover`] if the primary failed and some of the writes were
    /// not handed over; what [`GroupContext::recover`] returns.
    pub(crate) fn sync(&self, group: &Group) -> Result<()> {
        let Some(partition) = self.primary(group, false)? else {
            return Ok(());
        };
        let Err(failure) = partition.sync_attempt() else {
            return Ok(());
        };
        let cause = failure.error.to_string();
        match self.recover(group, &partition, failure, &mut 0)? {
            Recovery::Done(_) => Ok(()),
            // Records past what the new primary was handed are gone: unlike a write in
            // `write`, they cannot be made again on the new primary.
            Recovery::Retry => Err(Error::LostInFailover {
                table: group.table.name.clone(),
                partition: group.id(),
                handed_over: partition.deposed_at().map_or(0, |lsn| lsn.0),
                cause,
            }),
        }
    }
}
