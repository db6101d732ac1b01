//! Process crash of the engine: a child process writes items with `Sync` durability (and,
//! in a second test, `Written`: handed to the OS, synced only on an interval) from 4
//! threads, flushing memtables to SSTables and compacting them every few milliseconds,
//! and prints each
//! acknowledged write; the parent SIGKILLs it at random moments, several times over one
//! data directory, and checks every acknowledged item after reopen.
//!
//! The child is this test binary re-run with `DYNASTORE_ENGINE_CHILD` set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use dynastore::wal::Durability;
use dynastore::wal::fs::StdFs;
use dynastore::{Database, GetItemInput, Item, Options, PutItemInput};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

const CHILD_ENV: &str = "DYNASTORE_ENGINE_CHILD";
const KEYS_PER_THREAD: u64 = 50;
/// `written` makes the child write with [`Durability::Written`].
const DURABILITY_ENV: &str = "DYNASTORE_ENGINE_DURABILITY";

fn options() -> Options {
    Options {
        // Small segments, so kills also land during rotation.
        wal_segment_bytes: 32 << 10,
        ..Options::default()
    }
}

/// The child's options: `Written` with a sync interval far longer than a child lives, so
/// that only the writes to the OS carry its acknowledged items over the kill.
fn child_options() -> Options {
    match std::env::var(DURABILITY_ENV).as_deref() {
        Ok("written") => Options {
            durability: Durability::Written {
                interval: Duration::from_secs(3600),
            },
            ..options()
        },
        _ => options(),
    }
}

fn key(thread: u64, k: u64) -> Item {
    Item::new().with("pk", format!("t{thread}-k{k}")).with("sk", 0)
}

/// The item a thread writes as its `seq`-th write of key `k`.
fn item(thread: u64, k: u64, seq: u64) -> Item {
    key(thread, k)
        .with("seq", seq as i64)
        .with("body", "x".repeat((seq % 300) as usize))
}

/// The child: each thread overwrites its own keys in turn, printing `ack thread k seq` once a
/// write is acknowledged.
#[test]
#[ignore = "the child process of the crash test, run by it"]
fn engine_crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let db = std::sync::Arc::new(Database::open(StdFs::shared(), &dir, child_options()).unwrap());
    common::create_table_once(&db, "Items", true);
    let start: u64 = std::env::var("DYNASTORE_ENGINE_SEQ").unwrap().parse().unwrap();
    let out = std::sync::Arc::new(std::sync::Mutex::new(std::io::stdout()));
    let threads: Vec<_> = (0..4u64)
        .map(|thread| {
            let (db, out) = (db.clone(), out.clone());
            std::thread::spawn(move || {
                for seq in start.. {
                    let k = seq % KEYS_PER_THREAD;
                    db.put_item(PutItemInput::new("Items", item(thread, k, seq))).unwrap();
                    let mut out = out.lock().unwrap();
                    writeln!(out, "ack {thread} {k} {seq}").unwrap();
                    out.flush().unwrap();
                }
            })
        })
        .collect();
    // Flush and compact now and then, so that kills also land in table writes, MANIFEST
    // saves, WAL truncation and compactions.
    let flusher = {
        let db = db.clone();
        std::thread::spawn(move || {
            for round in 1.. {
                std::thread::sleep(std::time::Duration::from_millis(15));
                db.flush().unwrap();
                if round % 3 == 0 {
                    db.compact().unwrap();
                }
            }
        })
    };
    for thread in threads {
        thread.join().unwrap();
    }
    flusher.join().unwrap();
}

/// One child life: returns the acknowledged `(thread, k) -> seq`, the newest per key.
fn run_child_and_kill(dir: &Path, start: u64, run_for: Duration, durability: &str) -> BTreeMap<(u64, u64), u64> {
    let env = [
        (CHILD_ENV, dir.display().to_string()),
        ("DYNASTORE_ENGINE_SEQ", start.to_string()),
        (DURABILITY_ENV, durability.to_owned()),
    ];
    common::newest_per_key(common::run_child_and_kill("engine_crash_child", &env, run_for))
}

#[test]
fn every_acknowledged_item_survives_sigkill() {
    kill_and_check("sync");
}

#[test]
fn every_written_item_survives_sigkill_without_a_sync() {
    kill_and_check("written");
}

fn kill_and_check(durability: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let seed = common::seed();
    let mut acked: BTreeMap<(u64, u64), u64> = BTreeMap::new();
    for round in 0..5u64 {
        let run_for = Duration::from_millis(5 + (seed.rotate_left(round as u32 * 9) % 150));
        // Each life writes higher sequence numbers than any before it.
        let start = (round + 1) * 1_000_000;
        let mine = run_child_and_kill(tmp.path(), start, run_for, durability);
        assert!(!mine.is_empty(), "round {round}: the child acknowledged nothing");
        println!(
            "round {round}: killed after {run_for:?}, {} keys acknowledged",
            mine.len()
        );
        acked.extend(mine);

        let db = Database::open(StdFs::shared(), tmp.path(), options()).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        for (&(thread, k), &seq) in &acked {
            let stored = db
                .get_item(GetItemInput::new("Items", key(thread, k)))
                .unwrap()
                .item
                .unwrap_or_else(|| panic!("seed {seed}: acknowledged t{thread}-k{k} lost"));
            let stored_seq = match stored.get("seq") {
                Some(dynastore::AttributeValue::N(n)) => n.to_string().parse::<u64>().unwrap(),
                other => panic!("seed {seed}: bad seq {other:?}"),
            };
            // The newest acknowledged write, or the one write after it that was in flight.
            assert!(
                stored_seq >= seq,
                "seed {seed}: t{thread}-k{k} went back from {seq} to {stored_seq}"
            );
            assert_eq!(
                stored,
                item(thread, k, stored_seq),
                "seed {seed}: t{thread}-k{k} is not whole"
            );
        }
        // Opening repaired what the crash left (torn WAL tail, unrecorded tables): the
        // closed data directory passes every check.
        drop(db);
        let report = dynastore::verify::verify(tmp.path());
        assert!(
            report.problems.is_empty(),
            "seed {seed}: verify after reopen: {:?}",
            report.problems
        );
    }
}
