//! Damage to a log: torn tails are cut back to the last whole record; damage anywhere
//! else is reported as corruption with the segment and offset. Never a wrong payload.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use dynastore_wal::fs::{FaultyFs, FileSystem, SharedFs};
use dynastore_wal::record::HEADER_BYTES;
use dynastore_wal::segment::{SEGMENT_HEADER_BYTES, segment_path};
use dynastore_wal::{Epoch, Error, Lsn, Record, Wal};
use std::path::{Path, PathBuf};

const DIR: &str = "/db/wal";

/// A log of `count` random records in segments of about 1 KiB; returns the records and,
/// for each segment file, its path, bytes and the offsets and LSNs of its records.
struct Fixture {
    fs: FaultyFs,
    shared: SharedFs,
    payloads: Vec<Vec<u8>>,
    segments: Vec<SegmentFile>,
}

/// One segment of the fixture: its path, its bytes, and the offset and LSN of each record.
struct SegmentFile {
    path: PathBuf,
    bytes: Vec<u8>,
    records: Vec<(u64, Lsn)>,
}

fn fixture(seed: u64, count: u64) -> Fixture {
    let (fs, shared) = faulty();
    let mut rng = Rng::new(seed);
    let wal = open(&shared, Path::new(DIR), sync_options(1024));
    let payloads: Vec<Vec<u8>> = (0..count)
        .map(|i| payload(seed, i, 16 + rng.below(200) as usize))
        .collect();
    append_all(&wal, &payloads);
    let firsts = wal.segments();
    drop(wal);
    let mut segments = Vec::new();
    let mut lsn = 1;
    for first in firsts {
        let path = segment_path(Path::new(DIR), first);
        let mut bytes = dynastore_wal::fs::read_file(&fs, &path).unwrap();
        // The damage below is done to the records; the zeros preallocated after the newest
        // segment's last record are left out (tests of their own are at the end).
        let padding = dynastore_wal::scan::scan_segment(&fs, &path).unwrap().padding_bytes;
        bytes.truncate(bytes.len() - padding as usize);
        let mut offsets = Vec::new();
        let mut pos = SEGMENT_HEADER_BYTES as usize;
        while pos < bytes.len() {
            let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
            offsets.push((pos as u64, Lsn(lsn)));
            lsn += 1;
            pos += HEADER_BYTES + len;
        }
        segments.push(SegmentFile {
            path,
            bytes,
            records: offsets,
        });
    }
    assert!(segments.len() >= 3, "the fixture must span several segments");
    Fixture {
        fs,
        shared,
        payloads,
        segments,
    }
}

fn overwrite(fs: &FaultyFs, path: &Path, bytes: &[u8]) {
    let file = fs.open(path).unwrap();
    file.set_len(0).unwrap();
    file.write_all_at(bytes, 0).unwrap();
    file.sync_data().unwrap();
}

fn reopen(fixture: &Fixture) -> Result<Vec<Record>, Error> {
    let (wal, _) = Wal::open(fixture.shared.clone(), DIR, sync_options(1024))?;
    Ok(read_all(&wal))
}

fn assert_prefix(records: &[Record], payloads: &[Vec<u8>], expected_len: usize) {
    assert_eq!(records.len(), expected_len);
    for (i, record) in records.iter().enumerate() {
        assert_eq!(record.lsn, Lsn(i as u64 + 1));
        assert_eq!(record.payload, payloads[i], "record {} has a wrong payload", i + 1);
    }
}

#[test]
fn torn_tail_is_truncated_to_last_whole_record_at_every_cut() {
    for seed in seeds(0..4) {
        let fixture = fixture(seed, 30);
        let SegmentFile {
            path,
            bytes,
            records: offsets,
        } = fixture.segments.last().unwrap();
        let (last_start, _) = *offsets.last().unwrap();
        for cut in last_start..bytes.len() as u64 {
            overwrite(&fixture.fs, path, &bytes[..cut as usize]);
            let (wal, report) = Wal::open(fixture.shared.clone(), DIR, sync_options(1024)).unwrap();
            assert_eq!(report.bytes_truncated, cut - last_start, "seed {seed} cut {cut}");
            assert_prefix(&read_all(&wal), &fixture.payloads, fixture.payloads.len() - 1);
            // The log continues right after the last whole record.
            assert_eq!(
                wal.append(Epoch(1), b"next").unwrap(),
                Lsn(fixture.payloads.len() as u64)
            );
            drop(wal);
            overwrite(&fixture.fs, path, bytes);
        }
    }
}

#[test]
/// Includes a cut to 0 bytes: a crash right after the segment file was created.
fn newest_segment_with_torn_header_is_rewritten_empty_and_takes_appends() {
    let fixture = fixture(9, 30);
    let SegmentFile {
        path,
        bytes,
        records: offsets,
    } = fixture.segments.last().unwrap();
    let kept = fixture.payloads.len() - offsets.len();
    for cut in 0..SEGMENT_HEADER_BYTES as usize {
        overwrite(&fixture.fs, path, &bytes[..cut]);
        let records = reopen(&fixture).unwrap();
        assert_prefix(&records, &fixture.payloads, kept);
        // The repaired segment takes new records, and they survive another reopen.
        let (wal, _) = Wal::open(fixture.shared.clone(), DIR, sync_options(1024)).unwrap();
        let next = wal.append(Epoch(1), b"after repair").unwrap();
        assert_eq!(next, Lsn(kept as u64 + 1), "cut {cut}");
        drop(wal);
        let records = reopen(&fixture).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        assert_eq!(records.len(), kept + 1, "cut {cut}");
        assert_eq!(records[kept].payload, b"after repair");
        overwrite(&fixture.fs, path, bytes);
    }
}

/// Where a flipped bit at `offset` of segment `index` must leave the log: `Ok(n)` for a
/// torn tail keeping `n` records, `Err(offset)` for corruption reported at that offset.
fn expected_outcome(fixture: &Fixture, index: usize, offset: u64) -> Result<usize, u64> {
    let offsets = &fixture.segments[index].records;
    let is_newest = index + 1 == fixture.segments.len();
    let damaged = offsets.iter().rev().find(|(start, _)| *start <= offset);
    match damaged {
        None => Err(0),
        Some((start, lsn)) if is_newest && Some(&(*start, *lsn)) == offsets.last() => Ok(lsn.0 as usize - 1),
        Some((start, _)) => Err(*start),
    }
}

#[test]
fn single_bit_flip_anywhere_is_a_tail_cut_or_corruption_never_a_wrong_payload() {
    let fixture = fixture(42, 30);
    let mut rng = Rng::new(7);
    for index in 0..fixture.segments.len() {
        let SegmentFile { path, bytes, .. } = &fixture.segments[index];
        for offset in 0..bytes.len() as u64 {
            let bit = rng.below(8) as u8;
            fixture.fs.flip_bit(path, offset, bit).unwrap();
            match (reopen(&fixture), expected_outcome(&fixture, index, offset)) {
                (Ok(records), Ok(kept)) => assert_prefix(&records, &fixture.payloads, kept),
                (
                    Err(Error::Corruption {
                        segment, offset: at, ..
                    }),
                    Err(expected_at),
                ) => {
                    assert_eq!(
                        (&segment, at),
                        (path, expected_at),
                        "flip at {offset} of {}",
                        path.display()
                    );
                }
                (outcome, expected) => {
                    panic!(
                        "flip of bit {bit} at {offset} in {}: got {outcome:?}, expected {expected:?}",
                        path.display()
                    )
                }
            }
            // Restore the file (recovery may have truncated it).
            overwrite(&fixture.fs, path, bytes);
        }
    }
}

#[test]
fn missing_middle_segment_is_corruption() {
    let fixture = fixture(3, 30);
    let middle = &fixture.segments[1].path;
    fixture.fs.remove_file(middle).unwrap();
    let error = reopen(&fixture).unwrap_err();
    assert!(
        matches!(&error, Error::Corruption { segment, offset: 0, reason } if *segment == fixture.segments[2].path && reason.contains("missing")),
        "{error:?}"
    );
}

#[test]
fn garbage_after_the_last_record_is_cut_but_garbage_before_a_valid_record_is_not() {
    let fixture = fixture(5, 30);
    let SegmentFile {
        path,
        bytes,
        records: offsets,
    } = fixture.segments.last().unwrap();
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0u8; 100]);
    overwrite(&fixture.fs, path, &longer);
    assert_prefix(&reopen(&fixture).unwrap(), &fixture.payloads, fixture.payloads.len());

    // Zeroes over the second-to-last record, with a whole record after them.
    let (start, _) = offsets[offsets.len() - 2];
    let mut holed = bytes.clone();
    holed[start as usize..start as usize + HEADER_BYTES].fill(0);
    overwrite(&fixture.fs, path, &holed);
    assert!(matches!(reopen(&fixture), Err(Error::Corruption { offset, .. }) if offset == start));
}
