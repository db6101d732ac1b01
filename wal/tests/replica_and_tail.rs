//! The tailer yields only durable records, byte for byte; a replica appending them ends up
//! with segment files identical to the primary's, and refuses anything that does not
//! continue its log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use dynastore_wal::fs::{FaultyFs, SharedFs, read_file};
use dynastore_wal::segment::segment_path;
use dynastore_wal::{Durability, Epoch, Error, Lsn, TailChunk, Wal, WalOptions};
use dynastore_wal::{record, scan};
use std::path::Path;
use std::time::Duration;

const PRIMARY: &str = "/az-a/wal";
const REPLICA: &str = "/az-b/wal";
const WAIT: Duration = Duration::from_millis(20);

fn frame(lsn: u64, epoch: u64, payload: &[u8]) -> Vec<u8> {
    record::frame(Lsn(lsn), Epoch(epoch), payload)
}

/// Ships everything durable from `tailer` to `replica`; returns how many chunks.
fn ship(tailer: &mut dynastore_wal::Tailer, replica: &Wal) -> usize {
    let mut chunks = 0;
    while let Some(chunk) = tailer.next_chunk(WAIT).unwrap() {
        replica.append_framed(chunk.segment, &chunk.bytes).unwrap();
        chunks += 1;
    }
    chunks
}

/// The segments hold the same bytes, up to the zeros each log preallocated after its
/// newest segment's last record (their amount follows each log's own segment size).
fn assert_same_files(fs: &FaultyFs, primary: &Wal, replica: &Wal) {
    assert_eq!(primary.segments(), replica.segments());
    let newest = primary.segments().last().copied();
    for first in primary.segments() {
        let records = |dir: &str| {
            let path = segment_path(Path::new(dir), first);
            let mut bytes = read_file(fs, &path).unwrap();
            let padding = scan::scan_segment(fs, &path).unwrap().padding_bytes;
            assert!(padding == 0 || Some(first) == newest, "{path:?} is sealed but padded");
            bytes.truncate(bytes.len() - padding as usize);
            bytes
        };
        assert!(
            records(PRIMARY) == records(REPLICA),
            "segment {first} differs between primary and replica"
        );
    }
}

#[test]
fn replica_fed_by_the_tailer_holds_byte_identical_segments() {
    let (fs, shared) = faulty();
    let primary = open(&shared, Path::new(PRIMARY), sync_options(2048));
    // The replica's own segment size does not matter: it follows the primary's segments.
    let replica = open(&shared, Path::new(REPLICA), sync_options(1 << 20));
    let mut tailer = primary.tail(Lsn(1));
    for round in 0..5u64 {
        for seq in 0..40 {
            primary
                .append(Epoch(round), &payload(round, seq, 16 + (seq as usize * 7) % 150))
                .unwrap();
        }
        assert!(ship(&mut tailer, &replica) > 0);
        assert_eq!(replica.last_lsn(), primary.last_lsn());
    }
    assert!(primary.segments().len() > 5);
    assert_same_files(&fs, &primary, &replica);
    drop(replica);
    let (replica, report) = Wal::open(shared.clone(), REPLICA, sync_options(1 << 20)).unwrap();
    assert_eq!(report.last_lsn, Lsn(200));
    assert_eq!(read_all(&replica), read_all(&primary));
}

#[test]
fn a_long_backlog_ships_in_bounded_runs_and_records_larger_than_a_run_ship_whole() {
    let (fs, shared) = faulty();
    let primary = open(&shared, Path::new(PRIMARY), sync_options(64 << 20));
    let replica = open(&shared, Path::new(REPLICA), sync_options(64 << 20));
    // A backlog of small records (about 3 MB), then records larger than a run (256 KiB),
    // one as large as a record may be, each followed by small ones.
    let mut sizes: Vec<usize> = vec![300; 10_000];
    sizes.extend([300 << 10, 100, 1 << 20, 100, 100, record::PAYLOAD_BYTES_MAX, 100]);
    for (seq, &len) in sizes.iter().enumerate() {
        primary.append(Epoch(1), &payload(1, seq as u64, len)).unwrap();
    }
    let mut tailer = primary.tail(Lsn(1));
    let mut chunks = 0;
    while let Some(chunk) = tailer.next_chunk(WAIT).unwrap() {
        let records = (chunk.first_lsn.0..=chunk.last_lsn.0).map(|lsn| sizes[lsn as usize - 1]);
        if records.clone().count() > 1 {
            assert!(
                chunk.bytes.len() <= 256 << 10,
                "a run of {} bytes over {} records",
                chunk.bytes.len(),
                records.count()
            );
        }
        replica.append_framed(chunk.segment, &chunk.bytes).unwrap();
        chunks += 1;
    }
    assert!(chunks > 3_000_000 / (256 << 10), "{chunks} runs for about 3 MB");
    assert_eq!(replica.last_lsn(), Lsn(sizes.len() as u64));
    assert_same_files(&fs, &primary, &replica);
    assert_eq!(read_all(&replica), read_all(&primary));
}

#[test]
fn tailer_never_yields_records_that_are_not_durable() {
    let (_fs, shared) = faulty();
    let wal = open(
        &shared,
        Path::new(PRIMARY),
        buffered_options(1 << 20, Duration::from_secs(3600)),
    );
    let mut tailer = wal.tail(Lsn(1));
    wal.append(Epoch(0), b"one").unwrap();
    wal.append(Epoch(0), b"two").unwrap();
    assert_eq!(wal.durable_lsn(), Lsn(0));
    assert_eq!(tailer.next_chunk(WAIT).unwrap(), None, "nothing is durable yet");
    wal.sync().unwrap();
    let chunk = tailer.next_chunk(WAIT).unwrap().unwrap();
    assert_eq!((chunk.first_lsn, chunk.last_lsn), (Lsn(1), Lsn(2)));
    let mut expected = frame(1, 0, b"one");
    expected.extend(frame(2, 0, b"two"));
    assert_eq!(chunk.bytes, expected);
    wal.append(Epoch(0), b"three").unwrap();
    assert_eq!(tailer.next_chunk(WAIT).unwrap(), None);
}

#[test]
fn tailer_wakes_when_a_record_becomes_durable() {
    let (_fs, shared) = faulty();
    let wal = std::sync::Arc::new(open(&shared, Path::new(PRIMARY), sync_options(1 << 20)));
    let mut tailer = wal.tail(Lsn(1));
    let writer = {
        let wal = wal.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            wal.append(Epoch(0), b"late").unwrap()
        })
    };
    let chunk = tailer.next_chunk(Duration::from_secs(30)).unwrap().unwrap();
    assert_eq!(chunk.first_lsn, writer.join().unwrap());
}

#[test]
fn tailer_from_the_middle_of_a_segment_starts_at_that_record() {
    let (_fs, shared) = faulty();
    let wal = open(&shared, Path::new(PRIMARY), sync_options(1 << 20));
    for i in 0..10u64 {
        wal.append(Epoch(0), &i.to_le_bytes()).unwrap();
    }
    let chunk: TailChunk = wal.tail(Lsn(7)).next_chunk(WAIT).unwrap().unwrap();
    assert_eq!((chunk.first_lsn, chunk.last_lsn), (Lsn(7), Lsn(10)));
    assert_eq!(&chunk.bytes[..32], &frame(7, 0, &6u64.to_le_bytes())[..]);
}

/// A tailer made right after the last record written (a caught-up replica's stream)
/// starts where the writer put the next record, without reading the segment to find it:
/// it yields exactly the records appended after it, whether they stay in the newest
/// segment, go on after a rotation, or follow a cut.
#[test]
fn tailer_made_at_the_end_of_the_log_yields_the_next_records() {
    let (_fs, shared) = faulty();
    let wal = open(&shared, Path::new(PRIMARY), sync_options(1 << 20));
    for i in 0..50u64 {
        wal.append(Epoch(0), &[i as u8; 40]).unwrap();
    }
    let mut at_end = wal.tail(Lsn(51));
    for i in 50..53u64 {
        wal.append(Epoch(0), &[i as u8; 40]).unwrap();
    }
    let chunk = at_end.next_chunk(WAIT).unwrap().unwrap();
    assert_eq!((chunk.first_lsn, chunk.last_lsn), (Lsn(51), Lsn(53)));
    let expected: Vec<u8> = (50..53u64).flat_map(|i| frame(i + 1, 0, &[i as u8; 40])).collect();
    assert_eq!(chunk.bytes, expected);

    // Made at the end, then the log rotates before its next record.
    let mut before_rotation = wal.tail(Lsn(54));
    wal.rotate().unwrap();
    wal.append(Epoch(0), b"after rotation").unwrap();
    let chunk = before_rotation.next_chunk(WAIT).unwrap().unwrap();
    assert_eq!((chunk.segment, chunk.first_lsn), (Lsn(54), Lsn(54)));
    assert_eq!(chunk.bytes, frame(54, 0, b"after rotation"));

    // Made at the end, then the log is cut back: the tailer learns it was rewound.
    let mut before_cut = wal.tail(Lsn(55));
    wal.truncate_after(Lsn(52)).unwrap();
    wal.append(Epoch(1), b"new history").unwrap();
    assert!(matches!(
        before_cut.next_chunk(WAIT),
        Err(Error::LogRewound { lsn: Lsn(52) })
    ));
    let chunk = wal.tail(Lsn(53)).next_chunk(WAIT).unwrap().unwrap();
    assert_eq!(chunk.bytes, frame(53, 1, b"new history"));
}

/// A tailer may start at any record of a long segment: it finds it from the nearest seek
/// point (one per MiB) rather than from the segment's start, whether the log was written
/// by this process or recovered, with records larger than its read window among them, and
/// after the log was cut back.
#[test]
fn tailers_start_at_any_record_of_a_long_segment() {
    let (_fs, shared) = faulty();
    let options = buffered_options(64 << 20, Duration::from_secs(3600));
    let wal = open(&shared, Path::new(PRIMARY), options);
    let len = |i: u64| {
        if i % 1000 == 999 {
            5 << 19
        } else {
            1000 + (i as usize * 37) % 1500
        }
    };
    let payloads: Vec<Vec<u8>> = (0..3000u64).map(|i| payload(i, 0, len(i))).collect();
    for p in &payloads {
        wal.append(Epoch(1), p).unwrap();
    }
    wal.sync().unwrap();
    assert_eq!(wal.segments(), vec![Lsn(1)], "one long segment");
    let starts = [1u64, 2, 700, 999, 1000, 1001, 1500, 2000, 2001, 2999, 3000];
    let check = |wal: &Wal, payloads: &[Vec<u8>], epoch: u64, context: &str| {
        for &lsn in &starts {
            let chunk = wal.tail(Lsn(lsn)).next_chunk(WAIT).unwrap().unwrap();
            let expected = frame(lsn, if lsn > 1500 { epoch } else { 1 }, &payloads[lsn as usize - 1]);
            assert_eq!(chunk.first_lsn, Lsn(lsn), "{context}: tailer from {lsn}");
            assert!(
                chunk.bytes.starts_with(&expected),
                "{context}: tailer from {lsn} read other bytes"
            );
        }
    };
    check(&wal, &payloads, 1, "written");
    drop(wal);
    let wal = open(&shared, Path::new(PRIMARY), options);
    check(&wal, &payloads, 1, "recovered");
    // Cut back past several seek points, then written again in a new epoch.
    wal.truncate_after(Lsn(1500)).unwrap();
    let mut rewritten = payloads[..1500].to_vec();
    for i in 1500..3000u64 {
        let p = payload(i, 1, len(i));
        wal.append(Epoch(2), &p).unwrap();
        rewritten.push(p);
    }
    wal.sync().unwrap();
    check(&wal, &rewritten, 2, "cut and rewritten");
}

#[test]
fn tailer_reports_dropped_segments_and_rewinds() {
    let (_fs, shared) = faulty();
    let wal = open(&shared, Path::new(PRIMARY), sync_options(256));
    for i in 0..40u64 {
        wal.append(Epoch(0), &[i as u8; 60]).unwrap();
    }
    let mut behind = wal.tail(Lsn(1));
    let mut ahead = wal.tail(Lsn(35));
    ahead.next_chunk(WAIT).unwrap().unwrap();
    wal.truncate_before(Lsn(30)).unwrap();
    assert!(matches!(
        behind.next_chunk(WAIT),
        Err(Error::LsnTruncated { requested: Lsn(1), .. })
    ));
    wal.truncate_after(Lsn(32)).unwrap();
    wal.append(Epoch(1), b"new").unwrap();
    assert!(matches!(
        ahead.next_chunk(WAIT),
        Err(Error::LogRewound { lsn: Lsn(32) })
    ));
}

fn replica_with(records: u64) -> (SharedFs, Wal) {
    let (_fs, shared) = faulty();
    let replica = open(&shared, Path::new(REPLICA), sync_options(1 << 20));
    for lsn in 1..=records {
        replica.append_framed(Lsn(1), &frame(lsn, 2, b"x")).unwrap();
    }
    (shared, replica)
}

#[test]
fn replica_refuses_a_gap() {
    let (_, replica) = replica_with(3);
    assert!(matches!(
        replica.append_framed(Lsn(1), &frame(5, 2, b"x")),
        Err(Error::LsnGap {
            expected: Lsn(4),
            found: Lsn(5)
        })
    ));
    assert!(matches!(
        replica.append_framed(Lsn(1), &frame(3, 2, b"x")),
        Err(Error::LsnGap { .. })
    ));
    assert_eq!(replica.last_lsn(), Lsn(3));
}

#[test]
fn replica_refuses_damaged_or_partial_frames_and_writes_nothing() {
    let (_, replica) = replica_with(3);
    let mut bytes = frame(4, 2, b"payload");
    bytes.extend(frame(5, 2, b"payload"));
    let mut damaged = bytes.clone();
    damaged[40] ^= 1;
    assert!(matches!(
        replica.append_framed(Lsn(1), &damaged),
        Err(Error::InvalidFrame { offset: 31, .. })
    ));
    assert!(matches!(
        replica.append_framed(Lsn(1), &bytes[..bytes.len() - 1]),
        Err(Error::InvalidFrame { .. })
    ));
    assert!(matches!(
        replica.append_framed(Lsn(1), &[]),
        Err(Error::InvalidFrame { .. })
    ));
    let mut out_of_order = frame(4, 2, b"a");
    out_of_order.extend(frame(6, 2, b"b"));
    assert!(matches!(
        replica.append_framed(Lsn(1), &out_of_order),
        Err(Error::InvalidFrame { .. })
    ));
    assert_eq!(replica.last_lsn(), Lsn(3));
    assert_eq!(replica.append_framed(Lsn(1), &bytes).unwrap(), Lsn(5));
}

#[test]
fn replica_refuses_records_of_an_older_epoch() {
    let (_, replica) = replica_with(3);
    assert!(matches!(
        replica.append_framed(Lsn(1), &frame(4, 1, b"stale")),
        Err(Error::EpochRegressed {
            epoch: Epoch(1),
            last: Epoch(2)
        })
    ));
    let mut regress = frame(4, 3, b"a");
    regress.extend(frame(5, 2, b"b"));
    assert!(matches!(
        replica.append_framed(Lsn(1), &regress),
        Err(Error::InvalidFrame { .. })
    ));
}

/// A primary segment boundary that does not fall at the replica's next record (the primary
/// is a promoted replica whose log rotated on its own) is not followed: the records go on
/// in the replica's newest segment; a boundary at the next record is followed.
#[test]
fn replica_follows_a_primary_segment_boundary_only_at_its_next_record() {
    let (_, replica) = replica_with(3);
    assert_eq!(replica.append_framed(Lsn(3), &frame(4, 2, b"x")).unwrap(), Lsn(4));
    assert_eq!(replica.segments(), vec![Lsn(1)]);
    assert_eq!(replica.append_framed(Lsn(5), &frame(5, 2, b"y")).unwrap(), Lsn(5));
    assert_eq!(replica.segments(), vec![Lsn(1), Lsn(5)]);
    // Records must still continue the log.
    assert!(matches!(
        replica.append_framed(Lsn(5), &frame(7, 2, b"z")),
        Err(Error::LsnGap { .. })
    ));
}

/// A replica that rotated on its own (after flushing) keeps taking the primary's records
/// of an older segment into its newest one.
#[test]
fn replica_that_rotated_on_its_own_takes_records_of_an_older_primary_segment() {
    let (_, replica) = replica_with(3);
    replica.rotate().unwrap();
    assert_eq!(replica.segments(), vec![Lsn(1), Lsn(4)]);
    assert_eq!(replica.append_framed(Lsn(1), &frame(4, 2, b"x")).unwrap(), Lsn(4));
    assert_eq!(replica.append_framed(Lsn(1), &frame(5, 2, b"y")).unwrap(), Lsn(5));
    assert_eq!(replica.segments(), vec![Lsn(1), Lsn(4)]);
    assert_eq!(replica.append_framed(Lsn(6), &frame(6, 2, b"z")).unwrap(), Lsn(6));
    assert_eq!(replica.segments(), vec![Lsn(1), Lsn(4), Lsn(6)]);
}

#[test]
fn a_fenced_log_refuses_every_write_and_keeps_its_durable_records() {
    let faulty = FaultyFs::new();
    let options = WalOptions {
        durability: Durability::Buffered {
            interval: std::time::Duration::from_secs(60),
        },
        ..WalOptions::default()
    };
    let (wal, _) = Wal::open(faulty.shared(), "/wal", options).unwrap();
    wal.append(Epoch(1), b"durable").unwrap();
    wal.sync().unwrap();
    wal.append(Epoch(1), b"buffered, never written").unwrap();
    wal.fence("deposed");
    assert!(matches!(wal.append(Epoch(1), b"late"), Err(Error::Poisoned { .. })));
    assert!(matches!(wal.sync(), Err(Error::Poisoned { .. })));
    drop(wal);
    let (wal, _) = Wal::open(faulty.shared(), "/wal", WalOptions::default()).unwrap();
    assert_eq!(wal.last_lsn(), Lsn(1));
}
