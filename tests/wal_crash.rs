//! Process crash: a child process appends with `Sync` durability (and, in a second test,
//! `Written`, which hands every record to the OS before it returns but syncs only on an
//! interval) and prints every LSN it was acknowledged; the parent SIGKILLs it at a random
//! moment, several times over the same log, and checks that every acknowledged record is
//! there, whole, after reopen.
//!
//! The child is this same test binary, re-run with `DYNASTORE_CRASH_CHILD` set so that only
//! `crash_child` does anything.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use dynastore::wal::fs::StdFs;
use dynastore::wal::{Durability, Epoch, Lsn, Wal, WalOptions};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

const CHILD_ENV: &str = "DYNASTORE_CRASH_CHILD";
/// `written` makes the child append with [`Durability::Written`].
const DURABILITY_ENV: &str = "DYNASTORE_CRASH_DURABILITY";

fn options(durability: Durability) -> WalOptions {
    WalOptions {
        // Small segments, so kills also land during rotation.
        segment_bytes_max: 64 << 10,
        durability,
        ..WalOptions::default()
    }
}

/// `Written` with an interval far longer than a child lives: only the writes to the OS
/// can carry its records over the kill.
fn written() -> Durability {
    Durability::Written {
        interval: Duration::from_secs(3600),
    }
}

/// The payload of the record a child appends as its `seq`-th, in its `round`-th life.
fn payload(round: u64, seq: u64) -> Vec<u8> {
    let len = 20 + (seq as usize * 7919) % 600;
    let mut bytes = format!("round {round} seq {seq} ").into_bytes();
    bytes.resize(len, (round * 31 + seq) as u8);
    bytes
}

/// The child: appends from 4 threads until killed, printing `ack lsn round seq` for each
/// acknowledged record.
#[test]
#[ignore = "the child process of the crash test, run by it"]
fn crash_child() {
    let (Ok(dir), Ok(round)) = (std::env::var(CHILD_ENV), std::env::var("DYNASTORE_CRASH_ROUND")) else {
        return;
    };
    let round: u64 = round.parse().unwrap();
    let durability = match std::env::var(DURABILITY_ENV).as_deref() {
        Ok("written") => written(),
        _ => Durability::Sync,
    };
    let (wal, _) = Wal::open(StdFs::shared(), &dir, options(durability)).unwrap();
    let wal = std::sync::Arc::new(wal);
    let out = std::sync::Arc::new(std::sync::Mutex::new(std::io::stdout()));
    let threads: Vec<_> = (0..4u64)
        .map(|thread| {
            let (wal, out) = (wal.clone(), out.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    let seq = i * 4 + thread;
                    let lsn = wal.append(Epoch(round), &payload(round, seq)).unwrap();
                    let mut out = out.lock().unwrap();
                    writeln!(out, "ack {} {round} {seq}", lsn.0).unwrap();
                    out.flush().unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

/// Runs one child life for about `run_for`, kills it, returns what it acknowledged.
fn run_child_and_kill(dir: &Path, round: u64, run_for: Duration, durability: &str) -> BTreeMap<Lsn, (u64, u64)> {
    let env = [
        (CHILD_ENV, dir.display().to_string()),
        ("DYNASTORE_CRASH_ROUND", round.to_string()),
        (DURABILITY_ENV, durability.to_owned()),
    ];
    common::run_child_and_kill("crash_child", &env, run_for)
        .into_iter()
        .filter_map(|fields| match fields[..] {
            [lsn, round, seq] => Some((Lsn(lsn), (round, seq))),
            _ => None,
        })
        .collect()
}

#[test]
fn every_acknowledged_record_survives_sigkill() {
    kill_and_check("sync");
}

#[test]
fn every_written_record_survives_sigkill_without_a_sync() {
    kill_and_check("written");
}

fn kill_and_check(durability: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("wal");
    let seed = common::seed();
    let mut acked = BTreeMap::new();
    for round in 0..6u64 {
        // Kill after 5 to 155 ms of writing: a different point of the write path each time.
        let run_for = Duration::from_millis(5 + (seed.rotate_left(round as u32 * 7) % 150));
        let mine = run_child_and_kill(&dir, round, run_for, durability);
        assert!(!mine.is_empty(), "round {round}: the child acknowledged nothing");
        println!("round {round}: killed after {run_for:?}, {} acknowledged", mine.len());
        acked.extend(mine);

        let (wal, report) = Wal::open(StdFs::shared(), &dir, options(Durability::Sync)).unwrap();
        let records: BTreeMap<Lsn, Vec<u8>> = wal
            .read_from(Lsn(1))
            .unwrap()
            .map(|r| r.map(|r| (r.lsn, r.payload)).unwrap())
            .collect();
        assert_eq!(
            records.len() as u64,
            report.last_lsn.0,
            "seed {seed}: LSNs must be gapless"
        );
        for (lsn, (round, seq)) in &acked {
            let stored = records
                .get(lsn)
                .unwrap_or_else(|| panic!("seed {seed}: acknowledged LSN {lsn} lost"));
            assert_eq!(stored, &payload(*round, *seq), "seed {seed}: LSN {lsn} changed");
        }
    }
}
