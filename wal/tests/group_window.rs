//! The group window of `Sync` rounds is skipped once windows gather nobody: a writer that
//! queued during a round but does not come back within the next one (a replicated
//! database's writer, waiting for a replica) must not make every round wait in vain.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use dynastore_wal::fs::{GatedFs, SharedFs, StdFs};
use dynastore_wal::{Epoch, Lsn, Wal};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Waits until `wal` has framed `records` records (at most 20 s, then fails).
fn await_records(wal: &Wal, records: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while wal.stats().records < records {
        assert!(Instant::now() < deadline, "the second writer never appended");
        std::thread::yield_now();
    }
}

/// Each round: writer A syncs alone and is held at the gate while writer B appends, so
/// A's round sees two records in flight; B then leads the next round alone and would wait
/// for a second record that never comes. The first such window is waited, and every
/// fruitless one doubles the rounds that skip it: rounds 0, 2 and 6 of 8 wait.
#[test]
fn windows_that_gather_nobody_are_skipped_for_more_and_more_rounds() {
    let dir = tempfile::tempdir().unwrap();
    let gated = GatedFs::new(StdFs::shared(), |_| true);
    let gate = gated.gate();
    let fs: SharedFs = Arc::new(gated);
    let wal = Arc::new(open(&fs, dir.path(), sync_options(1 << 20)));
    let rounds = 8;
    for round in 0..rounds {
        gate.close();
        let first = {
            let wal = Arc::clone(&wal);
            std::thread::spawn(move || wal.append(Epoch(1), &payload(0, round, 64)).unwrap())
        };
        assert!(
            gate.await_waiter(Duration::from_secs(20)),
            "the first writer never synced"
        );
        let second = {
            let wal = Arc::clone(&wal);
            std::thread::spawn(move || wal.append(Epoch(1), &payload(1, round, 64)).unwrap())
        };
        await_records(&wal, 2 * (round + 1));
        gate.open();
        let (first, second) = (first.join().unwrap(), second.join().unwrap());
        assert_eq!((first, second), (Lsn(2 * round + 1), Lsn(2 * round + 2)));
        assert!(wal.durable_lsn() >= second);
    }
    assert!(!gate.gave_up());
    let stats = wal.stats();
    assert_eq!((stats.group_windows, stats.group_windows_skipped), (3, 5), "{stats:?}");
    // One sync per record: nobody ever joined a group.
    assert_eq!(stats.syncs, 2 * rounds);
    drop(wal);

    let (wal, report) = Wal::open(StdFs::shared(), dir.path(), sync_options(1 << 20)).unwrap();
    assert_eq!(report.last_lsn, Lsn(2 * rounds));
    assert_eq!(read_all(&wal).len() as u64, 2 * rounds);
}
