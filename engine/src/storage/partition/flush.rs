//! Making a partition copy's writes durable and flushing its memtable.
//!
//! A flush first *freezes* the memtable (see [`crate::storage::write_order`]): new writers wait
//! while every write in flight finishes, then the memtable is set aside and an empty one
//! takes writes. The frozen memtable holds every write up to the WAL's last LSN at that
//! moment, its *covered* LSN. It is written to an SSTable (synced, with its directory), the
//! MANIFEST records the table and the covered LSN as the flushed LSN (atomically), and only
//! then are WAL segments wholly at or below that LSN deleted. Recovery opens the MANIFEST's
//! tables, deletes table files it does not list (a crash between writing a table and
//! recording it), and replays the WAL after the flushed LSN.

use super::LiveTable;
use super::Partition;
use crate::error::Result;
use crate::error::io_error;
use crate::storage::manifest::TableFile;
use crate::storage::memtable::Memtable;
use crate::storage::sstable::SsTable;
use crate::storage::sstable::SsTableWriter;
use dynastore_wal::Lsn;
use std::sync::Arc;
use std::sync::atomic::Ordering;

impl Partition {
    /// Whether the memtable passed its budget or frozen memtables wait to be written.
    pub fn needs_flush(&self) -> bool {
        self.memtable_bytes.load(Ordering::Relaxed) > self.memtable_bytes_max || !self.state.read().frozen.is_empty()
    }

    /// Makes every write so far durable in this copy's log (for `Buffered` durability).
    pub fn sync(&self) -> Result<()> {
        self.wal.sync()?;
        Ok(())
    }

    /// Flushes the memtable to an SSTable (see the module docs), then drops the WAL
    /// segments it covers. Writers wait only while the memtable is frozen, not while the
    /// table is written.
    ///
    /// Errors: [`Error::Io`](crate::Error::Io), [`Error::Wal`](crate::Error::Wal); after an error the frozen memtable stays
    /// readable and the next flush writes it. None once the partition is out of service
    /// (a flush under way when a replica copy is closed or a primary deposed fails on
    /// the fenced log: nothing is lost, the files are reopened or discarded), so that
    /// `Database::flush` does not fail over a copy a repair or failover replaced.
    pub fn flush(&self) -> Result<()> {
        match self.flush_frozen() {
            Err(_) if self.out_of_service() => Ok(()),
            outcome => outcome,
        }
    }

    /// [`Partition::flush`], whatever happened to the partition meanwhile.
    pub(super) fn flush_frozen(&self) -> Result<()> {
        if self.retired.load(Ordering::Relaxed) {
            return Ok(());
        }
        // Frozen before the MANIFEST's lock is taken: the freeze waits for the writes in
        // flight, which may wait for replicas that are being seeded from this partition's
        // tables, under that lock (`seed_copy`). Frozen under it, a flush of a new
        // partition held every write to it for the acknowledgement timeout and failed it.
        // Concurrent flushes may each freeze; the first to take the lock writes every
        // frozen memtable, oldest first.
        self.freeze();
        let mut manifest = self.manifest.lock();
        if self.retired.load(Ordering::Relaxed) {
            return Ok(());
        }
        loop {
            let Some((frozen, covered, covered_epoch, _)) = self.state.read().frozen.last().cloned() else {
                return Ok(());
            };
            // A number is never used twice, even after a failure: a MANIFEST whose save
            // reported an error may still have landed and list the table.
            let number = manifest.next_file_number.max(1);
            manifest.next_file_number = number + 1;
            let table = self.write_table(number, &frozen)?;
            let mut next = manifest.clone();
            next.flushed_lsn = next.flushed_lsn.max(covered.0);
            next.flushed_epoch = next.flushed_epoch.max(covered_epoch.0);
            let properties = table.properties();
            next.tables.insert(
                0,
                TableFile {
                    number,
                    level: 0,
                    min_lsn: properties.min_lsn,
                    max_lsn: properties.max_lsn,
                },
            );
            // The log must hold every record the MANIFEST will say the tables cover before
            // it says so: a `Buffered` log may not have synced them yet, and if power failed
            // it would recover to an earlier LSN and hand the covered LSNs to new writes,
            // which replay (starting past the flushed LSN) would then skip.
            self.wal.sync()?;
            next.save(self.fs.as_ref(), &self.dir)?;
            self.manifest_flushed_lsn.store(next.flushed_lsn, Ordering::Relaxed);
            *manifest = next;
            self.flushed_bytes.fetch_add(table.file_bytes(), Ordering::Relaxed);
            {
                let mut state = self.state.write();
                state.frozen.pop();
                state.tables.insert(
                    0,
                    LiveTable {
                        number,
                        level: 0,
                        table,
                    },
                );
            }
            self.wake_writers();
            self.flushes.fetch_add(1, Ordering::Relaxed);
            if let Some(signal) = &self.flush_signal {
                signal.request_compaction();
            }
            // Start a new segment if the newest one holds only flushed records, so that
            // the log keeps nothing the tables cover.
            if self.wal.last_lsn() == covered {
                self.wal.rotate()?;
            }
            self.wal.truncate_before(self.retain_from(covered.next()))?;
        }
    }

    /// The oldest LSN the log must keep, given that the tables cover everything before
    /// `flushed_next`: a live replica still to be shipped records holds it back, and so
    /// does a copy being seeded.
    pub(super) fn retain_from(&self, flushed_next: Lsn) -> Lsn {
        let shipped = self.gate().and_then(|gate| gate.log_needed_from());
        let held = self.log_holds.lock().iter().min().copied();
        let indexed = Some(Lsn(self.index_hold.load(Ordering::Acquire))).filter(|lsn| lsn.0 > 0);
        [shipped, held, indexed]
            .into_iter()
            .flatten()
            .fold(flushed_next, Lsn::min)
    }

    /// Sets the memtable aside once no write is between enqueue and apply.
    pub(super) fn freeze(&self) {
        self.order.freeze(|| {
            let mut state = self.state.write();
            let released = self.memtable_bytes.swap(0, Ordering::Relaxed);
            if !state.memtable.is_empty() {
                let frozen = Arc::new(std::mem::take(&mut state.memtable));
                // No write is in flight, so the frozen memtable holds every record up to
                // the log's last. The covered record's epoch: the epoch of the copy's
                // history up to here, which a rejoining copy needs once its log no longer
                // holds any record.
                state
                    .frozen
                    .insert(0, (frozen, self.wal.last_lsn(), self.wal.last_epoch(), released));
            }
            if let Some(signal) = &self.flush_signal {
                signal.memtables_grew(-(released as isize));
            }
            self.flush_requested.store(false, Ordering::Relaxed);
        });
    }

    /// Writes a frozen memtable as SSTable `number`, durably, and opens it.
    pub(super) fn write_table(&self, number: u64, frozen: &Memtable) -> Result<Arc<SsTable>> {
        let fs = self.fs.as_ref();
        let path = self.fresh_table_path(number)?;
        let written = (|| {
            let mut writer = SsTableWriter::create(fs, &path)?;
            for (key, version) in frozen {
                writer.add_raw(&key.bytes, version.value.as_deref(), version.lsn.0)?;
            }
            writer.finish()?;
            let sst_dir = self.dir.join("sst");
            fs.sync_dir(&sst_dir).map_err(io_error("syncing", &sst_dir))?;
            SsTable::open(fs, &path)
        })();
        written.map(Arc::new).inspect_err(|_| self.remove_unrecorded(number))
    }
}

#[cfg(test)]
mod tests {

    use crate::item::Item;

    use crate::storage::Partition;
    use crate::storage::partition::test_support::tiny;
    use dynastore_wal::fs::SharedFs;

    use std::path::Path;
    use std::sync::Arc;

    /// A flush under way when its copy is taken out of service (a repair reopening it, or
    /// its AZ failing) fails on the fenced log, and reports no error: `Database::flush`
    /// failed over a copy a repair replaced (the replicated model test, about 1 run in 6).
    #[test]
    fn a_flush_under_way_when_its_copy_is_closed_reports_no_error() {
        let faulty = dynastore_wal::fs::FaultyFs::new();
        let gated = dynastore_wal::fs::GatedFs::new(faulty.shared(), |path| {
            path.extension().is_some_and(|extension| extension == "sst")
        });
        let gate = gated.gate();
        let fs: SharedFs = Arc::new(gated);
        let dir = Path::new("/data/az-b/T/p-0000");
        let copy = Arc::new(Partition::open(fs, dir, tiny(), None).unwrap());
        for i in 0..20u8 {
            copy.write(vec![i; 12], false, |_| Ok(Some(Item::new().with("a", 1))))
                .unwrap();
        }
        gate.close();
        let flushing = {
            let copy = Arc::clone(&copy);
            std::thread::spawn(move || copy.flush())
        };
        // The flush holds the MANIFEST's lock, syncing its table at the closed gate.
        assert!(
            gate.await_waiter(std::time::Duration::from_secs(30)),
            "the flush never synced its table"
        );
        let closing = {
            let copy = Arc::clone(&copy);
            std::thread::spawn(move || copy.close_copy())
        };
        // The log is fenced at once; retiring waits for the flush.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while copy.wal.poisoned().is_none() {
            assert!(std::time::Instant::now() < deadline, "the copy's log was never fenced");
            std::thread::yield_now();
        }
        gate.open();
        let flushed = flushing.join().unwrap();
        assert!(flushed.is_ok(), "{flushed:?}");
        closing.join().unwrap();
        assert!(!gate.gave_up());
        assert!(copy.out_of_service());
    }
}
