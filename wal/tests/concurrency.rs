//! Many threads appending at once with `Sync`: every returned LSN is there after reopen,
//! unique, gapless, with its own payload.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use dynastore_wal::fs::{SharedFs, StdFs};
use dynastore_wal::{Epoch, Lsn, Wal};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

const THREADS: u64 = 8;
const PER_THREAD: u64 = 400;

fn run(fs: SharedFs, dir: &Path) {
    let options = sync_options(16 << 10);
    let wal = Arc::new(open(&fs, dir, options));
    let threads: Vec<_> = (0..THREADS)
        .map(|writer| {
            let wal = Arc::clone(&wal);
            std::thread::spawn(move || {
                (0..PER_THREAD)
                    .map(|seq| {
                        let bytes = payload(writer, seq, 16 + (seq as usize * 13) % 200);
                        let lsn = wal.append(Epoch(1), &bytes).unwrap();
                        // Sync: the record is durable when append returns.
                        assert!(wal.durable_lsn() >= lsn);
                        (lsn, bytes)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut returned = BTreeMap::new();
    for thread in threads {
        for (lsn, bytes) in thread.join().unwrap() {
            assert!(returned.insert(lsn, bytes).is_none(), "LSN {lsn} returned twice");
        }
    }
    let stats = wal.stats();
    assert_eq!(stats.records, THREADS * PER_THREAD);
    drop(wal);

    let (wal, report) = Wal::open(fs, dir, options).unwrap();
    assert_eq!(report.last_lsn, Lsn(THREADS * PER_THREAD));
    let records = read_all(&wal);
    assert_eq!(records.len() as u64, THREADS * PER_THREAD);
    let mut next_seq = BTreeMap::new();
    for record in records {
        assert_eq!(returned.get(&record.lsn), Some(&record.payload), "LSN {}", record.lsn);
        // Each writer's records appear in the order it appended them.
        let (writer, seq) = identify(&record.payload).unwrap();
        let expected = next_seq.entry(writer).or_insert(0);
        assert_eq!(seq, *expected);
        *expected += 1;
    }
}

#[test]
fn eight_sync_writers_on_the_real_file_system_get_gapless_unique_lsns() {
    let tmp = tempfile::tempdir().unwrap();
    run(StdFs::shared(), tmp.path());
}

#[test]
fn eight_sync_writers_on_the_fault_injecting_file_system_get_gapless_unique_lsns() {
    let (_fs, shared) = faulty();
    run(shared, Path::new("/wal"));
}
