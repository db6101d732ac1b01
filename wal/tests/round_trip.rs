//! Records read back exactly as appended, across segment rotations and reopens.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use dynastore_wal::fs::StdFs;
use dynastore_wal::record::PAYLOAD_BYTES_MAX;
use dynastore_wal::{Durability, Epoch, Error, Lsn, Wal, WalOptions};
use proptest::prelude::*;
use std::path::Path;
use std::time::Duration;

/// Mostly small payloads, sometimes up to 1 MiB.
fn payload_len() -> impl Strategy<Value = usize> {
    prop_oneof![8 => 0usize..300, 2 => 300usize..70_000, 1 => 70_000usize..=(1 << 20)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn payloads_round_trip_across_rotations_and_reopens(
        lens in proptest::collection::vec(payload_len(), 1..40),
        reopen_every in 1usize..12,
        segment_kib in 1u64..256,
        buffered in any::<bool>(),
    ) {
        let (_fs, shared) = faulty();
        let dir = Path::new("/db/wal");
        let options = if buffered {
            buffered_options(segment_kib << 10, Duration::from_secs(3600))
        } else {
            sync_options(segment_kib << 10)
        };
        let mut wal = open(&shared, dir, options);
        let mut expected = Vec::new();
        for (i, len) in lens.iter().enumerate() {
            let bytes: Vec<u8> = (0..*len).map(|b| (b as u64 * 31 + i as u64) as u8).collect();
            let lsn = wal.append(Epoch(i as u64 / 5), &bytes).unwrap();
            prop_assert_eq!(lsn, Lsn(i as u64 + 1));
            expected.push(bytes);
            if (i + 1) % reopen_every == 0 {
                wal.close().unwrap();
                let (reopened, report) = Wal::open(shared.clone(), dir, options).unwrap();
                prop_assert_eq!(report.last_lsn, Lsn(i as u64 + 1));
                prop_assert_eq!(report.bytes_truncated, 0);
                wal = reopened;
            }
        }
        wal.close().unwrap();
        let (wal, report) = Wal::open(shared.clone(), dir, options).unwrap();
        prop_assert_eq!(report.records, expected.len() as u64);
        let records = read_all(&wal);
        prop_assert_eq!(records.len(), expected.len());
        for (i, record) in records.iter().enumerate() {
            prop_assert_eq!(record.lsn, Lsn(i as u64 + 1));
            prop_assert_eq!(record.epoch, Epoch(i as u64 / 5));
            prop_assert_eq!(&record.payload, &expected[i]);
        }
    }
}

#[test]
fn records_round_trip_on_the_real_file_system_with_rotation() {
    let tmp = tempfile::tempdir().unwrap();
    let fs = StdFs::shared();
    let options = sync_options(8 << 10);
    let wal = open(&fs, tmp.path(), options);
    let payloads: Vec<Vec<u8>> = (0..200).map(|i| payload(0, i, 16 + (i as usize * 37) % 900)).collect();
    append_all(&wal, &payloads);
    assert!(wal.segments().len() > 5, "8 KiB segments must rotate");
    drop(wal);
    let wal = open(&fs, tmp.path(), options);
    let records = read_all(&wal);
    let read: Vec<Vec<u8>> = records.into_iter().map(|r| r.payload).collect();
    assert_eq!(read, payloads);
}

#[test]
fn largest_payload_is_accepted_and_one_byte_more_is_refused() {
    let (_fs, shared) = faulty();
    let wal = open(&shared, Path::new("/wal"), sync_options(1 << 20));
    let biggest = vec![7u8; PAYLOAD_BYTES_MAX];
    assert_eq!(wal.append(Epoch(0), &biggest).unwrap(), Lsn(1));
    let too_big = vec![7u8; PAYLOAD_BYTES_MAX + 1];
    assert!(matches!(
        wal.append(Epoch(0), &too_big),
        Err(Error::PayloadTooLarge { size, max }) if size == PAYLOAD_BYTES_MAX + 1 && max == PAYLOAD_BYTES_MAX
    ));
    assert_eq!(wal.last_lsn(), Lsn(1), "a refused append takes no LSN");
    assert_eq!(read_all(&wal)[0].payload, biggest);
}

#[test]
fn older_epoch_is_refused_and_changes_nothing() {
    let (_fs, shared) = faulty();
    let wal = open(&shared, Path::new("/wal"), sync_options(1 << 20));
    wal.append(Epoch(5), b"a").unwrap();
    assert!(matches!(
        wal.append(Epoch(4), b"b"),
        Err(Error::EpochRegressed {
            epoch: Epoch(4),
            last: Epoch(5)
        })
    ));
    assert_eq!(wal.append(Epoch(5), b"c").unwrap(), Lsn(2));
    drop(wal);
    let (_, report) = Wal::open(shared, Path::new("/wal"), sync_options(1 << 20)).unwrap();
    assert_eq!((report.last_lsn, report.last_epoch), (Lsn(2), Epoch(5)));
}

#[test]
fn empty_log_reports_nothing_and_starts_at_lsn_one() {
    let (_fs, shared) = faulty();
    let (wal, report) = Wal::open(shared, Path::new("/a/b/wal"), WalOptions::default()).unwrap();
    assert_eq!(report.records, 0);
    assert_eq!(report.last_lsn, Lsn(0));
    assert_eq!(wal.append(Epoch(0), b"first").unwrap(), Lsn(1));
}

#[test]
fn buffered_records_are_durable_after_the_interval_without_an_explicit_sync() {
    let (_fs, shared) = faulty();
    let options = WalOptions {
        durability: Durability::Buffered {
            interval: Duration::from_millis(5),
        },
        ..WalOptions::default()
    };
    let wal = open(&shared, Path::new("/wal"), options);
    let lsn = wal.append(Epoch(0), b"x").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while wal.durable_lsn() < lsn {
        assert!(std::time::Instant::now() < deadline, "the flusher never synced");
        std::thread::sleep(Duration::from_millis(1));
    }
}
