//! Keeping the database's copies in shape: flushes, compactions, and the numbers `stats`
//! reports. A copy whose AZ is failed meanwhile is skipped (see
//! `for_each_copy`).

use super::*;

/// A copy's AZ as seen at one moment (see [`Database::for_each_copy`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct AzMark {
    /// Whether it was failed.
    failed: bool,
    /// How often it had been failed.
    failures: u64,
}

impl Database {
    /// Waits until every global index holds the effects of every write to its table
    /// acknowledged before the call (DynamoDB updates global indexes asynchronously; this
    /// is for tests and tools that need them caught up).
    ///
    /// Errors: [`Error::IndexesBehind`] if they did not catch up within `timeout`;
    /// [`Error::Wal`] if a log could not be synced.
    pub fn wait_for_indexes(&self, timeout: std::time::Duration) -> Result<()> {
        let deadline = std::time::Instant::now() + timeout;
        let tables: Vec<Arc<Table>> = self.tables.read().values().cloned().collect();
        for table in tables.iter().filter(|table| !table.globals.is_empty()) {
            for group in &table.groups {
                let Some(primary) = group.open.read().clone() else {
                    continue;
                };
                // The applier reads durable records only: acknowledged `Buffered` writes
                // become durable now rather than at the next interval.
                primary.wal().sync()?;
                let target = primary.wal().last_lsn().0;
                loop {
                    let applied = group.index_applied.load(Ordering::Acquire);
                    // An index partition's failover not yet taken into account may have
                    // lost writes the applier is to make again.
                    let rewound = table.index_failovers_seen.load(Ordering::Acquire) == table.index_failovers();
                    let filled = table.globals.iter().all(|index| index.backfill.lock().is_empty());
                    if applied >= target && rewound && filled {
                        break;
                    }
                    if std::time::Instant::now() >= deadline {
                        return Err(Error::IndexesBehind {
                            table: table.name.clone(),
                            partition: group.id(),
                            applied,
                            target,
                        });
                    }
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
            }
        }
        Ok(())
    }

    /// Flushes every partition's memtable to an SSTable, records it in the partition's
    /// MANIFEST, and drops the WAL segments the tables now cover. Writers wait only while
    /// a memtable is frozen, not while its table is written. A copy that a repair or a
    /// failover takes out of service meanwhile, or whose AZ is failed
    /// (`Database::fail_az`) before or during its flush, is left as it is, without an
    /// error: its log still holds what it did not flush.
    ///
    /// Errors: [`Error::Io`], [`Error::Wal`], [`Error::Corruption`].
    pub fn flush(&self) -> Result<()> {
        self.for_each_copy(|partition| partition.flush())
    }

    /// Runs `op` on every open copy of every partition (primaries and replicas in
    /// service), stopping at the first error, except on a copy whose AZ was failed at any
    /// moment while `op` ran (it was failed when `op` began, is failed now, or was failed
    /// and restored in between): its disks were gone, so its failure says nothing of the
    /// database (a failover or a repair replaces the copy).
    pub(super) fn for_each_copy(&self, mut op: impl FnMut(&Partition) -> Result<()>) -> Result<()> {
        let tables: Vec<Arc<Table>> = self.tables.read().values().cloned().collect();
        for table in &tables {
            for partition in table.open_partitions() {
                let az = table.az_of(&partition).unwrap_or_default();
                let before = self.az_mark(&az);
                let outcome = op(&partition);
                let after = self.az_mark(&az);
                match outcome {
                    Err(_) if before.failed || after.failed || before.failures != after.failures => {}
                    outcome => outcome?,
                }
            }
        }
        Ok(())
    }

    /// Whether `az` is failed now, and how often it was failed so far.
    pub(super) fn az_mark(&self, az: &str) -> AzMark {
        // The failed set first: `fail_az` counts a failure after adding the AZ to it, so a
        // failure that began before this look is seen in one or the other.
        let failed = self.groups.failed_azs.read().contains(az);
        let failures = self.az_failures.lock().get(az).copied().unwrap_or(0);
        AzMark { failed, failures }
    }

    /// Per table (by name), each partition's catalog entry and, if created, its numbers.
    ///
    /// Errors: [`Error::Wal`].
    pub fn stats(&self) -> Result<Vec<TableStats>> {
        let mut tables: Vec<Arc<Table>> = self.tables.read().values().cloned().collect();
        tables.sort_by(|a, b| a.name.cmp(&b.name));
        let failed = self.groups.failed_azs.read().clone();
        let mut out = Vec::with_capacity(tables.len());
        for table in tables {
            let report = |groups: &[Group], lag_of: &dyn Fn(&Group, &Partition) -> Option<u64>| -> Result<_> {
                let mut partitions = Vec::with_capacity(groups.len());
                for group in groups {
                    let entry = group.entry.lock().clone();
                    let open = group.open.read().clone();
                    let stats = open.as_ref().map(|partition| partition.stats()).transpose()?;
                    let index_lag_records = open.as_ref().and_then(|primary| lag_of(group, primary));
                    let replicas = match (open, group.replicas.read().clone()) {
                        (Some(primary), Some(set)) => replica_reports(&primary, &set, &failed),
                        _ => Vec::new(),
                    };
                    partitions.push(PartitionReport {
                        entry,
                        stats,
                        replicas,
                        index_lag_records,
                    });
                }
                Ok(partitions)
            };
            let indexed = !table.globals.is_empty();
            let lag = |group: &Group, primary: &Partition| {
                indexed.then(|| {
                    let applied = group.index_applied.load(Ordering::Acquire);
                    primary.wal().last_lsn().0.saturating_sub(applied)
                })
            };
            let partitions = report(&table.groups, &lag)?;
            let mut global_indexes = Vec::with_capacity(table.globals.len());
            for index in &table.globals {
                global_indexes.push((index.schema.name.clone(), report(&index.groups, &|_, _| None)?));
            }
            out.push(TableStats {
                name: table.name.clone(),
                partitions,
                global_indexes,
            });
        }
        Ok(out)
    }

    /// Merges every partition's SSTables into one table each, dropping every tombstone
    /// (a major compaction, as RocksDB's `CompactRange`: it bounds the space on disk to
    /// the live data). The background compactor does smaller merges by itself, as
    /// [`Options::compaction`] says. A copy that a repair or a failover takes out of
    /// service meanwhile stops merging, and a copy whose AZ is failed is left as it is,
    /// without an error (as [`Database::flush`] says).
    ///
    /// Errors: [`Error::Io`], [`Error::Corruption`].
    pub fn compact(&self) -> Result<()> {
        self.for_each_copy(|partition| partition.compact_all())
    }

    /// Does, in the caller's thread, every merge the compaction policy asks for now
    /// ([`Options::compaction`]), so that a caller can wait for the background compactor
    /// to catch up (as RocksDB's `WaitForCompact`). Returns the number of merges done. A
    /// copy taken out of service meanwhile, or whose AZ is failed, is left as it is, as
    /// [`Database::flush`] says.
    ///
    /// Errors: [`Error::Io`], [`Error::Corruption`]; the old tables then stay live.
    pub fn compact_pending(&self) -> Result<u64> {
        let mut merges = 0;
        self.for_each_copy(|partition| {
            while partition.compact_step()? {
                merges += 1;
            }
            Ok(())
        })?;
        Ok(merges)
    }
}
