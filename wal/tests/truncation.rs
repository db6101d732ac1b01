//! Dropping old segments after a flush, and cutting the log back after an LSN.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use dynastore_wal::fs::FaultyFs;
use dynastore_wal::{Epoch, Error, Lsn, Wal};
use std::path::Path;

const DIR: &str = "/wal";

fn log_of(count: u64) -> (FaultyFs, dynastore_wal::fs::SharedFs, Vec<Vec<u8>>) {
    let (fs, shared) = faulty();
    let wal = open(&shared, Path::new(DIR), sync_options(1024));
    let payloads: Vec<Vec<u8>> = (0..count).map(|i| payload(0, i, 100)).collect();
    for (i, p) in payloads.iter().enumerate() {
        wal.append(Epoch(i as u64 / 20), p).unwrap();
    }
    (fs, shared, payloads)
}

#[test]
fn truncate_before_drops_only_segments_wholly_below_the_lsn() {
    let (_fs, shared, payloads) = log_of(100);
    let wal = open(&shared, Path::new(DIR), sync_options(1024));
    let segments = wal.segments();
    let cut = Lsn(50);
    let removed = wal.truncate_before(cut).unwrap();
    let kept = wal.segments();
    assert_eq!(removed, segments.len() - kept.len());
    assert!(removed > 0);
    assert!(kept[0] <= cut, "the segment holding LSN {cut} is kept");
    assert!(segments.iter().filter(|&&s| s < kept[0]).count() == removed);
    assert!(matches!(wal.read_from(Lsn(1)), Err(Error::LsnTruncated { oldest, .. }) if oldest == kept[0]));
    drop(wal);
    let (wal, report) = Wal::open(shared, DIR, sync_options(1024)).unwrap();
    assert_eq!(report.first_lsn, kept[0]);
    let records: Vec<_> = wal.read_from(kept[0]).unwrap().map(|r| r.unwrap()).collect();
    assert_eq!(records.len() as u64, 100 - kept[0].0 + 1);
    for record in records {
        assert_eq!(record.payload, payloads[record.lsn.0 as usize - 1]);
    }
}

/// `size_bytes` lists the segments, then opens the older ones outside the log's lock: one
/// that `truncate_before` drops in between (here: removed after the listing, as it would
/// be) no longer counts, and is no error. It failed `stats` during a flush.
#[test]
fn size_bytes_counts_a_segment_dropped_meanwhile_for_nothing() {
    use dynastore_wal::fs::FileSystem;
    let (fs, shared, _) = log_of(100);
    let wal = open(&shared, Path::new(DIR), sync_options(1024));
    let whole = wal.size_bytes().unwrap();
    let segments = wal.segments();
    assert!(segments.len() > 2);
    let oldest = dynastore_wal::segment::segment_path(Path::new(DIR), segments[0]);
    let oldest_bytes = fs.open(&oldest).unwrap().len().unwrap();
    fs.remove_file(&oldest).unwrap();
    assert_eq!(wal.size_bytes().unwrap(), whole - oldest_bytes);
}

#[test]
fn truncate_before_never_drops_the_newest_segment() {
    let (_fs, shared, _) = log_of(100);
    let wal = open(&shared, Path::new(DIR), sync_options(1024));
    wal.truncate_before(Lsn(1_000)).unwrap();
    assert_eq!(wal.segments().len(), 1);
    assert_eq!(wal.append(Epoch(4), b"x").unwrap(), Lsn(101));
}

#[test]
fn truncate_after_cuts_the_tail_and_the_log_continues_from_there() {
    // Segments hold 8 records: 40 and 56 end a segment, so the cut falls on a boundary.
    for cut in [0, 1, 37, 40, 56, 60, 99, 100] {
        let (_fs, shared, payloads) = log_of(100);
        let wal = open(&shared, Path::new(DIR), sync_options(1024));
        wal.truncate_after(Lsn(cut)).unwrap();
        assert_eq!(wal.last_lsn(), Lsn(cut));
        let epoch = if cut == 0 { Epoch(0) } else { Epoch((cut - 1) / 20) };
        assert_eq!(wal.last_epoch(), epoch, "cut {cut}");
        assert_eq!(wal.append(Epoch(9), b"new history").unwrap(), Lsn(cut + 1));
        drop(wal);
        let (wal, report) = Wal::open(shared, DIR, sync_options(1024)).unwrap();
        assert_eq!(report.last_lsn, Lsn(cut + 1));
        let records = read_all(&wal);
        assert_eq!(records.len() as u64, cut + 1);
        for record in &records[..cut as usize] {
            assert_eq!(record.payload, payloads[record.lsn.0 as usize - 1]);
        }
        assert_eq!(records[cut as usize].payload, b"new history");
        assert_eq!(records[cut as usize].epoch, Epoch(9));
    }
}

#[test]
fn truncate_after_below_dropped_segments_is_refused() {
    let (_fs, shared, _) = log_of(100);
    let wal = open(&shared, Path::new(DIR), sync_options(1024));
    wal.truncate_before(Lsn(60)).unwrap();
    let oldest = wal.first_lsn();
    assert!(matches!(
        wal.truncate_after(Lsn(oldest.0 - 2)),
        Err(Error::LsnTruncated { .. })
    ));
    // Right before the oldest kept record: the log becomes empty and continues there.
    wal.truncate_after(oldest.prev()).unwrap();
    assert_eq!(wal.append(Epoch(9), b"x").unwrap(), oldest);
}

/// A crash at every operation of a truncation leaves a valid log: for `truncate_after`,
/// all records up to the cut and a gapless run after it; for `truncate_before`, a log
/// that still ends at the last record and starts at a segment boundary at or below the cut.
#[test]
fn power_loss_at_every_step_of_truncation_leaves_a_valid_log() {
    for after in [false, true] {
        for crash_at in 1..40 {
            let (fs, shared, payloads) = log_of(100);
            let wal = open(&shared, Path::new(DIR), sync_options(1024));
            fs.crash_after(crash_at);
            let result = if after {
                wal.truncate_after(Lsn(30))
            } else {
                wal.truncate_before(Lsn(70)).map(|_| ())
            };
            drop(wal);
            fs.restart();
            let (wal, report) = Wal::open(shared, DIR, sync_options(1024)).unwrap();
            let records: Vec<_> = wal.read_from(report.first_lsn).unwrap().map(|r| r.unwrap()).collect();
            for record in &records {
                assert_eq!(record.payload, payloads[record.lsn.0 as usize - 1]);
            }
            if after {
                assert_eq!(report.first_lsn, Lsn(1));
                assert!(report.last_lsn >= Lsn(30), "crash {crash_at}: kept records lost");
                if result.is_ok() {
                    assert_eq!(report.last_lsn, Lsn(30), "crash {crash_at}: acknowledged cut undone");
                }
            } else {
                assert_eq!(report.last_lsn, Lsn(100), "crash {crash_at}");
                assert!(report.first_lsn <= Lsn(70));
            }
        }
    }
}

#[test]
fn rotate_starts_a_new_segment_so_everything_before_can_be_dropped() {
    let (_fs, shared) = faulty();
    let wal = open(&shared, Path::new(DIR), sync_options(1 << 20));
    for i in 0..10u64 {
        wal.append(Epoch(1), &i.to_le_bytes()).unwrap();
    }
    assert_eq!(wal.segments(), vec![Lsn(1)]);
    wal.rotate().unwrap();
    assert_eq!(wal.segments(), vec![Lsn(1), Lsn(11)]);
    wal.rotate().unwrap();
    assert_eq!(
        wal.segments(),
        vec![Lsn(1), Lsn(11)],
        "an empty newest segment is not rotated again"
    );
    assert_eq!(wal.truncate_before(Lsn(11)).unwrap(), 1);
    assert_eq!(wal.append(Epoch(1), b"after").unwrap(), Lsn(11));
    drop(wal);
    let (wal, report) = Wal::open(shared, DIR, sync_options(1 << 20)).unwrap();
    assert_eq!((report.first_lsn, report.last_lsn), (Lsn(11), Lsn(11)));
    assert_eq!(read_all(&wal)[0].payload, b"after");
}
