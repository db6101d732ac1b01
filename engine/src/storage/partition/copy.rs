//! Seeding a new or rebuilt copy of a partition from this one, and taking a copy out of
//! service.

use super::Partition;
use crate::error::Result;
use crate::error::io_error;
use crate::storage::manifest::table_path;
use dynastore_wal::Lsn;
use std::path::Path;
use std::sync::atomic::Ordering;

/// Keeps a partition's log from dropping records from an LSN on while it lives (a copy
/// being seeded needs them; see [`Partition::seed_copy`]).
pub(super) struct LogHold<'a> {
    partition: &'a Partition,
    from: Lsn,
}

impl<'a> LogHold<'a> {
    pub(super) fn new(partition: &'a Partition, from: Lsn) -> LogHold<'a> {
        partition.log_holds.lock().push(from);
        LogHold { partition, from }
    }
}

impl Drop for LogHold<'_> {
    fn drop(&mut self) {
        let mut holds = self.partition.log_holds.lock();
        if let Some(index) = holds.iter().position(|&held| held == self.from) {
            holds.swap_remove(index);
        }
    }
}

impl Partition {
    /// Takes a replica copy out of service for good (its AZ failed, or it is being
    /// reopened): its log is fenced and no flush or compaction writes to its files.
    pub(crate) fn close_copy(&self) {
        // Marked retired before the fence, so that a flush or merge under way that fails
        // on the fenced log finds the copy out of service (see `Partition::flush`).
        self.retired.store(true, Ordering::Relaxed);
        self.wal.fence("the copy was taken out of service");
        self.retire();
    }

    /// Builds a copy of this partition in `dir` (a new or rebuilt replica), then runs
    /// `open` on it. Whatever `dir` held is removed; this partition's live SSTables are
    /// linked there (hard links, sharing the bytes), or copied where the file system
    /// cannot link them (each AZ on a device of its own); then its log is begun empty
    /// right after the flushed LSN, then the MANIFEST is written (a copy cut short before
    /// it has a log starting past its tables, which opening refuses).
    ///
    /// This partition's MANIFEST lock is held only while the tables are chosen and
    /// opened (an open file keeps its bytes through a compaction that deletes it), not
    /// while the copy's disk is written, so that a slow or hung replica disk holds up no
    /// flush here. A hold on this log keeps the records the copy needs until `open` has
    /// run (and put the copy in service, where shipping keeps them).
    ///
    /// Errors: [`Error::Io`](crate::Error::Io), [`Error::Wal`](crate::Error::Wal), and `open`'s.
    pub(crate) fn seed_copy<R>(&self, dir: &Path, open: impl FnOnce(&Path) -> Result<R>) -> Result<R> {
        let fs = self.fs.as_ref();
        let (mut manifest, tables, _hold) = {
            let manifest = self.manifest.lock();
            let mut tables = Vec::with_capacity(manifest.tables.len());
            for file in &manifest.tables {
                let path = table_path(&self.dir, file.number);
                let handle = fs.open(&path).map_err(io_error("opening", &path))?;
                tables.push((path, file.number, handle));
            }
            let hold = LogHold::new(self, Lsn(manifest.flushed_lsn + 1));
            (manifest.clone(), tables, hold)
        };
        if fs.exists(dir).map_err(io_error("checking", dir))? {
            dynastore_wal::fs::remove_tree(fs, dir).map_err(io_error("removing", dir))?;
        }
        let sst = dir.join("sst");
        dynastore_wal::fs::create_dir_durable(fs, &sst).map_err(io_error("creating", &sst))?;
        for (from, number, handle) in &tables {
            let to = table_path(dir, *number);
            // Linking fails across devices, and once a compaction deleted the table: its
            // bytes are then copied from the open file.
            if fs.hard_link(from, &to).is_err() {
                dynastore_wal::fs::copy_file(fs, handle.as_ref(), &to).map_err(io_error("copying to", &to))?;
            }
        }
        fs.sync_dir(&sst).map_err(io_error("syncing", &sst))?;
        let wal_dir = dir.join("wal");
        dynastore_wal::fs::create_dir_durable(fs, &wal_dir).map_err(io_error("creating", &wal_dir))?;
        dynastore_wal::segment::create_segment(fs, &wal_dir, Lsn(manifest.flushed_lsn + 1))?;
        manifest.next_file_number = manifest.next_file_number.max(1);
        manifest.save(fs, dir)?;
        open(dir)
    }
}

#[cfg(test)]
mod tests {

    use crate::item::Item;

    use crate::storage::Partition;
    use crate::storage::partition::test_support::tiny;
    use dynastore_wal::Lsn;
    use dynastore_wal::fs::SharedFs;
    use std::path::Path;
    use std::sync::Arc;

    /// A flush whose freeze waits for a write in flight must not keep a copy from being
    /// seeded from the partition: the write may be waiting for that very copy to
    /// acknowledge it. The freeze ran under the MANIFEST's lock, which seeding takes, so
    /// every first write to a new replicated partition that raced a flush waited out the
    /// acknowledgement timeout and failed (the blind-put stress test, 1 run in 4).
    #[test]
    fn a_copy_is_seeded_while_a_flush_waits_for_a_write_in_flight() {
        let fs = dynastore_wal::fs::FaultyFs::new();
        let partition = Arc::new(Partition::open(fs.shared(), Path::new("/data/az-a/T/p-0000"), tiny(), None).unwrap());
        let (reached, release) = (
            Arc::new(std::sync::Barrier::new(2)),
            Arc::new(std::sync::Barrier::new(2)),
        );
        {
            let (reached, release) = (Arc::clone(&reached), Arc::clone(&release));
            partition.hooks.set_before_apply(move |_| {
                reached.wait();
                release.wait();
            });
        }
        let writer = {
            let partition = Arc::clone(&partition);
            std::thread::spawn(move || {
                partition
                    .write(vec![1; 12], false, |_| Ok(Some(Item::new().with("v", 1))))
                    .unwrap()
            })
        };
        reached.wait();
        let flusher = {
            let partition = Arc::clone(&partition);
            std::thread::spawn(move || partition.flush().unwrap())
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !partition.order.freezing() {
            assert!(std::time::Instant::now() < deadline, "the flush never froze");
            std::thread::yield_now();
        }
        let (sender, seeded) = std::sync::mpsc::channel();
        let seeder = {
            let (partition, fs) = (Arc::clone(&partition), fs.shared());
            std::thread::spawn(move || {
                let copy = partition.seed_copy(Path::new("/data/az-b/T/p-0000"), |dir| {
                    Partition::open(fs, dir, tiny(), None)
                });
                sender.send(copy.is_ok()).unwrap();
            })
        };
        let outcome = seeded.recv_timeout(std::time::Duration::from_secs(10));
        release.wait();
        assert_eq!(outcome, Ok(true), "seeding waited for the flush");
        for thread in [writer.join().map(drop), flusher.join(), seeder.join()] {
            thread.unwrap();
        }
        assert_eq!(partition.get(vec![1; 12]).unwrap(), Some(Item::new().with("v", 1)));
    }

    /// A copy seeded where the file system cannot hard-link gets copies of the tables,
    /// and while it is being seeded (here: while `open` runs) the primary flushes freely
    /// but keeps every log record the copy will need; once the copy is in place, the
    /// primary's log is cut as usual.
    #[test]
    fn a_copy_being_seeded_gets_the_tables_and_the_log_records_it_needs() {
        let faulty = dynastore_wal::fs::FaultyFs::new();
        let no_links = dynastore_wal::fs::GatedFs::new(faulty.shared(), |_| false).without_hard_links();
        let fs: SharedFs = Arc::new(no_links);
        let primary = Partition::open(fs.clone(), Path::new("/data/az-a/T/p-0000"), tiny(), None).unwrap();
        let put = |i: u8, version: i64| {
            primary
                .write(vec![i; 12], false, |_| Ok(Some(Item::new().with("v", version))))
                .unwrap();
        };
        (0..20).for_each(|i| put(i, 1));
        primary.flush().unwrap();
        let needed = Lsn(primary.flushed_lsn() + 1);
        assert_eq!(primary.wal.first_lsn(), needed, "the flush cut the log");
        let copy_dir = Path::new("/data/az-b/T/p-0000");
        let copy = primary
            .seed_copy(copy_dir, |dir| {
                // The primary is not locked: it flushes while the copy is being set up...
                (0..20).for_each(|i| put(i, 2));
                primary.flush().unwrap();
                // ...and keeps the records after the tables the copy got.
                assert!(primary.wal.first_lsn() <= needed, "{:?}", primary.wal.first_lsn());
                Partition::open(fs.clone(), dir, tiny(), None)
            })
            .unwrap();
        assert_eq!(copy.stats().unwrap().tables.len(), 1);
        assert_eq!(copy.flushed_lsn(), needed.0 - 1);
        let table = crate::storage::manifest::table_path(copy_dir, copy.state.read().tables[0].number);
        let original = crate::storage::manifest::table_path(&primary.dir, copy.state.read().tables[0].number);
        assert_eq!(
            dynastore_wal::fs::read_file(fs.as_ref(), &table).unwrap(),
            dynastore_wal::fs::read_file(fs.as_ref(), &original).unwrap()
        );
        for i in 0..20u8 {
            assert_eq!(
                copy.get(vec![i; 12]).unwrap(),
                Some(Item::new().with("v", 1)),
                "key {i}"
            );
        }
        assert!(fs.exists(&copy_dir.join("MANIFEST")).unwrap());
        // The hold is gone: the next flush cuts the log past what the copy needed.
        (0..20).for_each(|i| put(i, 3));
        primary.flush().unwrap();
        assert!(primary.wal.first_lsn() > needed);
    }
}
