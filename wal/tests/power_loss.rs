//! Power loss and injected I/O faults: every record acknowledged as durable survives, and
//! nothing that was never written appears. Each round is deterministic given its seed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use dynastore_wal::fs::{FaultKind, FaultyFs, OpKind, SharedFs};
use dynastore_wal::{Epoch, Error, Lsn, Wal, WalOptions};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const DIR: &str = "/data/az-a/t/p-0000/wal";

/// What the writers were told: LSN -> payload of every acknowledged record.
type Acked = BTreeMap<Lsn, Vec<u8>>;

/// After a restart: the log opens, its LSNs are gapless from its first, every acknowledged
/// record is there with its payload, and every record present is one a writer really
/// appended (its payload checks out and its sequence number was attempted).
fn check_after_restart(
    shared: &SharedFs,
    options: WalOptions,
    acked: &Acked,
    attempted: &BTreeMap<u64, u64>,
    seed: u64,
) {
    let (wal, _) =
        Wal::open(shared.clone(), DIR, options).unwrap_or_else(|e| panic!("seed {seed}: reopen failed: {e}"));
    let records = read_all(&wal);
    for (i, record) in records.iter().enumerate() {
        assert_eq!(record.lsn, Lsn(i as u64 + 1), "seed {seed}: LSNs must be gapless");
        let (writer, seq) = identify(&record.payload)
            .unwrap_or_else(|| panic!("seed {seed}: LSN {} holds bytes nobody wrote", record.lsn));
        assert!(
            seq < attempted.get(&writer).copied().unwrap_or(0),
            "seed {seed}: record from the future"
        );
    }
    for (lsn, payload) in acked {
        let record = records
            .get(lsn.0 as usize - 1)
            .unwrap_or_else(|| panic!("seed {seed}: acknowledged LSN {lsn} lost"));
        assert_eq!(&record.payload, payload, "seed {seed}: acknowledged LSN {lsn} changed");
    }
    // The recovered log takes new appends, and they survive another reopen.
    let next = wal.append(Epoch(1), b"after restart").unwrap();
    assert_eq!(next, Lsn(records.len() as u64 + 1), "seed {seed}");
    drop(wal);
    let (wal, report) =
        Wal::open(shared.clone(), DIR, options).unwrap_or_else(|e| panic!("seed {seed}: second reopen failed: {e}"));
    assert_eq!(report.last_lsn, next, "seed {seed}");
    assert_eq!(
        read_all(&wal).last().map(|r| r.payload.clone()),
        Some(b"after restart".to_vec())
    );
}

/// Restarts after the crash point in one of three ways: power loss that drops everything
/// unsynced, power loss after which the disk happened to keep part of the unsynced tail,
/// or a process crash (SIGKILL) that keeps everything the OS was given.
fn restart_somehow(fs: &FaultyFs, rng: &mut Rng) {
    match rng.below(3) {
        0 => fs.restart(),
        1 => fs.restart_keeping(|unsynced| (rng.next_u64() as usize) % (unsynced + 1)),
        _ => fs.restart_process(),
    }
}

/// Writers append with `Sync` until the power goes off at a random operation.
fn sync_round(seed: u64) {
    let mut rng = Rng::new(seed);
    let (fs, shared) = faulty();
    let options = sync_options(256 + rng.below(4096));
    let wal = Arc::new(open(&shared, Path::new(DIR), options));
    fs.crash_after(1 + rng.below(400));
    let writers = 1 + rng.below(4);
    let results: Vec<(u64, u64, Acked)> = (0..writers)
        .map(|writer| {
            let wal = Arc::clone(&wal);
            let len = 16 + rng.below(300) as usize;
            std::thread::spawn(move || {
                let mut acked = Acked::new();
                let mut seq = 0;
                loop {
                    let bytes = payload(writer, seq, len);
                    seq += 1;
                    match wal.append(Epoch(1), &bytes) {
                        Ok(lsn) => {
                            acked.insert(lsn, bytes);
                        }
                        Err(_) => return (writer, seq, acked),
                    }
                }
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    drop(wal);
    restart_somehow(&fs, &mut rng);
    let mut acked = Acked::new();
    let mut attempted = BTreeMap::new();
    for (writer, seq, mine) in results {
        attempted.insert(writer, seq);
        acked.extend(mine);
    }
    check_after_restart(&shared, options, &acked, &attempted, seed);
}

#[test]
fn sync_appends_survive_power_loss_at_random_points() {
    for seed in seeds(0..150) {
        sync_round(seed);
    }
}

/// One writer appends with `Buffered` durability and syncs now and then; only what a
/// successful `sync` covered counts as acknowledged.
fn buffered_round(seed: u64) {
    let mut rng = Rng::new(seed);
    let (fs, shared) = faulty();
    let options = buffered_options(256 + rng.below(4096), Duration::from_millis(1 + rng.below(3)));
    let wal = open(&shared, Path::new(DIR), options);
    fs.crash_after(1 + rng.below(300));
    let mut unsynced = Acked::new();
    let mut acked = Acked::new();
    let mut seq = 0;
    loop {
        let bytes = payload(0, seq, 16 + rng.below(500) as usize);
        seq += 1;
        match wal.append(Epoch(1), &bytes) {
            Ok(lsn) => {
                unsynced.insert(lsn, bytes);
            }
            Err(_) => break,
        }
        if rng.below(8) == 0 {
            match wal.sync() {
                Ok(durable) => {
                    assert!(durable >= *unsynced.keys().last().unwrap());
                    acked.append(&mut unsynced);
                }
                Err(_) => break,
            }
        }
    }
    drop(wal);
    restart_somehow(&fs, &mut rng);
    check_after_restart(&shared, options, &acked, &BTreeMap::from([(0, seq)]), seed);
}

#[test]
fn buffered_appends_survive_power_loss_up_to_their_last_sync() {
    for seed in seeds(0..150) {
        buffered_round(seed);
    }
}

/// An injected write or sync failure reaches the caller, poisons the log, and nothing
/// reported durable is lost when the power then fails too.
fn fault_round(seed: u64, kinds: &[OpKind], kind: FaultKind) {
    let mut rng = Rng::new(seed);
    let (fs, shared) = faulty();
    let options = sync_options(512 + rng.below(2048));
    let wal = open(&shared, Path::new(DIR), options);
    fs.fail_after(kinds, rng.below(60), kind);
    let mut acked = Acked::new();
    let mut seq = 0;
    let error = loop {
        let bytes = payload(0, seq, 16 + rng.below(200) as usize);
        seq += 1;
        match wal.append(Epoch(1), &bytes) {
            Ok(lsn) => {
                acked.insert(lsn, bytes);
            }
            Err(error) => break error,
        }
    };
    assert!(matches!(error, Error::Io { .. }), "seed {seed}: {error:?}");
    if kind == FaultKind::NoSpace {
        let Error::Io { source, .. } = &error else {
            unreachable!()
        };
        assert_eq!(
            source.kind(),
            std::io::ErrorKind::StorageFull,
            "the cause reaches the caller"
        );
    }
    // Poisoned: nothing more is accepted, even after the fault clears.
    fs.clear_faults();
    assert!(matches!(wal.append(Epoch(1), b"more"), Err(Error::Poisoned { .. })));
    assert!(matches!(wal.sync(), Err(Error::Poisoned { .. })));
    drop(wal);
    fs.restart();
    check_after_restart(&shared, options, &acked, &BTreeMap::from([(0, seq)]), seed);
}

#[test]
fn failed_sync_is_reported_and_never_counted_durable() {
    for seed in seeds(0..50) {
        fault_round(seed, &[OpKind::Sync], FaultKind::Io);
    }
}

#[test]
fn failed_write_is_reported_and_never_counted_durable() {
    for seed in seeds(0..50) {
        fault_round(seed, &[OpKind::Write], FaultKind::Io);
    }
}

#[test]
fn full_disk_is_reported_and_never_counted_durable() {
    for seed in seeds(0..50) {
        fault_round(seed, &[OpKind::Write, OpKind::Create], FaultKind::NoSpace);
    }
}

#[test]
fn failed_directory_sync_during_rotation_is_reported() {
    for seed in seeds(0..30) {
        fault_round(seed, &[OpKind::SyncDir], FaultKind::Io);
    }
}

#[test]
fn power_loss_while_creating_the_log_leaves_an_openable_log() {
    for crash_at in 1..12 {
        let fs = FaultyFs::new();
        let shared = fs.shared();
        fs.crash_after(crash_at);
        // An append acknowledged before the power cut must survive it.
        let acked = match Wal::open(shared.clone(), DIR, sync_options(4096)) {
            Ok((wal, _)) => wal.append(Epoch(0), b"x").is_ok(),
            Err(_) => false,
        };
        fs.restart();
        let (wal, report) = Wal::open(shared, DIR, sync_options(4096)).unwrap();
        assert!(report.records <= 1, "crash at {crash_at}");
        if acked {
            assert_eq!(report.records, 1, "crash at {crash_at}: acknowledged record lost");
            assert_eq!(read_all(&wal)[0].payload, b"x");
        }
        assert_eq!(wal.append(Epoch(0), b"y").unwrap(), Lsn(report.records + 1));
    }
}
