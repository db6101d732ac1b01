//! Preallocation: the newest segment is extended with zeros ahead of its records; the
//! zeros survive a reopen untouched and take the next records in place; a torn record
//! among them is cut like any torn tail; a sealed segment ends at its last record; and
//! scans (`dump wal`, `verify`) see the zeros as space, not damage.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use dynastore_wal::fs::{FaultyFs, FileSystem, SharedFs, read_file};
use dynastore_wal::record::HEADER_BYTES;
use dynastore_wal::scan;
use dynastore_wal::segment::segment_path;
use dynastore_wal::{Epoch, Lsn, Wal, WalOptions};
use std::path::{Path, PathBuf};

const DIR: &str = "/db/wal";
const STEP: u64 = 4096;

fn options(segment_bytes_max: u64) -> WalOptions {
    WalOptions {
        preallocate_bytes: STEP,
        ..sync_options(segment_bytes_max)
    }
}

fn newest_path(wal: &Wal) -> PathBuf {
    segment_path(Path::new(DIR), *wal.segments().last().unwrap())
}

fn file_len(fs: &FaultyFs, path: &Path) -> u64 {
    fs.open(path).unwrap().len().unwrap()
}

/// Where the records of a segment file end (the rest is zeros).
fn records_end(fs: &FaultyFs, path: &Path) -> u64 {
    let scan = scan::scan_segment(fs, path).unwrap();
    assert!(scan.is_clean(), "{path:?} is damaged: {scan:?}");
    scan.file_len - scan.padding_bytes
}

fn payloads(writer: u64, count: u64) -> Vec<Vec<u8>> {
    (0..count).map(|seq| payload(writer, seq, 100)).collect()
}

/// A closed log of `count` records of writer `writer` in one segment: its file system,
/// the segment's path, and where its records end.
fn closed_log(writer: u64, count: u64) -> (FaultyFs, SharedFs, PathBuf, u64) {
    let (fs, shared) = faulty();
    let wal = open(&shared, Path::new(DIR), options(1 << 20));
    append_all(&wal, &payloads(writer, count));
    let path = newest_path(&wal);
    drop(wal);
    let end = records_end(&fs, &path);
    (fs, shared, path, end)
}

#[test]
fn the_newest_segment_is_zeroed_a_step_ahead_and_keeps_its_zeros_on_reopen() {
    let (fs, shared) = faulty();
    let wal = open(&shared, Path::new(DIR), options(1 << 20));
    let first = payloads(1, 10);
    append_all(&wal, &first);
    let path = newest_path(&wal);
    let end = records_end(&fs, &path);
    assert_eq!(end, wal.size_bytes().unwrap(), "size_bytes counts records, not zeros");
    assert_eq!(file_len(&fs, &path), end.div_ceil(STEP) * STEP);
    assert!(file_len(&fs, &path) > end, "no zeros were preallocated");
    drop(wal);

    let (wal, report) = Wal::open(shared.clone(), DIR, options(1 << 20)).unwrap();
    assert_eq!(report.bytes_truncated, 0, "the zeros are not a torn tail");
    assert_eq!(report.last_lsn, Lsn(10));
    assert_eq!(file_len(&fs, &path), STEP, "reopening kept the zeros");
    // The next records go into the zeros, right after the last one.
    let second = payloads(2, 60);
    let lsns = append_all(&wal, &second);
    assert_eq!(lsns[0], Lsn(11));
    let end_after = records_end(&fs, &path);
    assert_eq!(end_after, end + 60 * (HEADER_BYTES as u64 + 100));
    assert_eq!(file_len(&fs, &path), end_after.div_ceil(STEP) * STEP);
    drop(wal);

    let wal = open(&shared, Path::new(DIR), options(1 << 20));
    let read: Vec<Vec<u8>> = read_all(&wal).into_iter().map(|r| r.payload).collect();
    assert_eq!(read, [first, second].concat());
}

#[test]
fn a_torn_record_among_the_zeros_is_cut_and_the_log_goes_on() {
    let (fs, shared, path, end) = closed_log(3, 5);
    // Half a record where the next one would go, as a crash in the middle of its write
    // leaves it: its header and some payload, then the zeros as they were.
    let torn = &dynastore_wal::record::frame(Lsn(6), Epoch(1), &[7u8; 100])[..60];
    fs.open(&path).unwrap().write_all_at(torn, end).unwrap();

    let (wal, report) = Wal::open(shared.clone(), DIR, options(1 << 20)).unwrap();
    assert_eq!(report.last_lsn, Lsn(5));
    assert!(report.bytes_truncated >= 60, "{report:?}");
    assert_eq!(file_len(&fs, &path), end, "the torn record was cut with the zeros");
    assert_eq!(wal.append(Epoch(1), b"after the cut").unwrap(), Lsn(6));
    drop(wal);
    let wal = open(&shared, Path::new(DIR), options(1 << 20));
    let records = read_all(&wal);
    assert_eq!(records.len(), 6);
    assert_eq!(records[5].payload, b"after the cut");
}

#[test]
fn a_sealed_segment_ends_at_its_last_record() {
    let (fs, shared) = faulty();
    // Segments of about 2.5 steps: each one is extended twice before it is sealed.
    let wal = open(&shared, Path::new(DIR), options(10_000));
    append_all(&wal, &payloads(4, 300));
    let segments = wal.segments();
    assert!(segments.len() >= 3, "{segments:?}");
    for first in &segments[..segments.len() - 1] {
        let path = segment_path(Path::new(DIR), *first);
        let scan = scan::scan_segment(&fs, &path).unwrap();
        assert_eq!(scan.padding_bytes, 0, "{path:?} was sealed with its zeros");
        assert!(scan.is_clean());
    }
    // No segment is padded past the segment size.
    assert!(file_len(&fs, &newest_path(&wal)) <= 10_000);
}

#[test]
fn zeros_followed_by_a_record_are_corruption_not_padding() {
    let (fs, shared, path, end) = closed_log(5, 5);
    // A record well past the last one, the zeros in between: a write that reached the
    // disk while an earlier one did not. Skipping the zeros would lose LSN 6.
    let stray = dynastore_wal::record::frame(Lsn(7), Epoch(1), b"stray");
    fs.open(&path).unwrap().write_all_at(&stray, end + 200).unwrap();
    let result = Wal::open(shared.clone(), DIR, options(1 << 20));
    assert!(
        matches!(&result, Err(dynastore_wal::Error::Corruption { offset, .. }) if *offset == end),
        "{result:?}"
    );
}

#[test]
fn a_replica_fed_by_a_tailer_reads_no_zeros() {
    let (fs, shared): (FaultyFs, SharedFs) = faulty();
    let primary = open(&shared, Path::new("/az-a/wal"), options(1 << 20));
    let replica = open(&shared, Path::new("/az-b/wal"), options(1 << 20));
    let mut tailer = primary.tail(Lsn(1));
    let written = payloads(6, 40);
    for chunk in written.chunks(7) {
        append_all(&primary, chunk);
        while let Some(run) = tailer.next_chunk(std::time::Duration::from_millis(5)).unwrap() {
            replica.append_framed(run.segment, &run.bytes).unwrap();
        }
    }
    let primary_path = segment_path(Path::new("/az-a/wal"), Lsn(1));
    let replica_path = segment_path(Path::new("/az-b/wal"), Lsn(1));
    // Same records, same zeros after them: the files are identical.
    assert_eq!(
        read_file(&fs, &primary_path).unwrap(),
        read_file(&fs, &replica_path).unwrap()
    );
    let read: Vec<Vec<u8>> = read_all(&replica).into_iter().map(|r| r.payload).collect();
    assert_eq!(read, written);
}
