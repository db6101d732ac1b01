//! Process crash of a replicated database: a child process writes from 4 threads in
//! `Quorum` mode over three AZs while another thread keeps promoting replicas and failing
//! and restoring AZs, so that SIGKILL lands during shipping, during promotions and during
//! rejoins. After each kill the parent reopens the data directory and checks that every
//! acknowledged write is on the primary, that all three AZs converge to identical items,
//! and that `verify` is clean on every AZ.
//!
//! The child is this test binary re-run with `DYNASTORE_REPLICATION_CHILD` set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use dynastore::item::{KeyAttribute, ScalarType};
use dynastore::wal::fs::StdFs;
use dynastore::{AckMode, Database, Item, KeyInput, KeySchema, Options, PutItemInput, Replication, TableSchema};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "DYNASTORE_REPLICATION_CHILD";
const KEYS_PER_THREAD: u64 = 40;
const AZS: [&str; 3] = ["az-a", "az-b", "az-c"];

fn options() -> Options {
    Options {
        initial_partitions: 2,
        // Small segments and memtables, so kills also land in rotations, flushes and
        // replica rebuilds.
        wal_segment_bytes: 16 << 10,
        memtable_bytes: 32 << 10,
        replication: Some(Replication {
            ack: AckMode::Quorum,
            ..Replication::default()
        }),
        ..Options::default()
    }
}

fn key(thread: u64, k: u64) -> Item {
    Item::new().with("pk", format!("t{thread}-k{k}")).with("sk", 0)
}

fn item(thread: u64, k: u64, seq: u64) -> Item {
    key(thread, k)
        .with("seq", seq as i64)
        .with("body", "r".repeat((seq % 200) as usize))
}

fn seq_of(item: &Item) -> u64 {
    match item.get("seq") {
        Some(dynastore::AttributeValue::N(n)) => n.to_string().parse().unwrap(),
        other => panic!("bad seq {other:?}"),
    }
}

/// The child: 4 writers overwrite their keys, printing `ack thread k seq` per
/// acknowledged write, while a fifth thread promotes, fails and restores AZs.
#[test]
#[ignore = "the child process of the replication crash test, run by it"]
fn replication_crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let db = std::sync::Arc::new(Database::open(StdFs::shared(), &dir, options()).unwrap());
    if db.list_tables().is_empty() {
        db.create_table(TableSchema {
            name: "Items".into(),
            key_schema: KeySchema {
                partition_key: KeyAttribute::new("pk", ScalarType::S),
                sort_key: Some(KeyAttribute::new("sk", ScalarType::N)),
            },
        })
        .unwrap();
    }
    let start: u64 = std::env::var("DYNASTORE_REPLICATION_SEQ").unwrap().parse().unwrap();
    let out = std::sync::Arc::new(std::sync::Mutex::new(std::io::stdout()));
    let writers: Vec<_> = (0..4u64)
        .map(|thread| {
            let (db, out) = (db.clone(), out.clone());
            std::thread::spawn(move || {
                for seq in start.. {
                    let k = seq % KEYS_PER_THREAD;
                    // With one AZ down at a time, every Quorum write must succeed (the engine
                    // retries on a new primary): a failure is reported, not hidden.
                    let line = match db.put_item(PutItemInput::new("Items", item(thread, k, seq))) {
                        Ok(_) => format!("ack {thread} {k} {seq}"),
                        Err(error) => format!("failed write {thread} {k} {seq}: {error}"),
                    };
                    let mut out = out.lock().unwrap();
                    writeln!(out, "{line}").unwrap();
                    out.flush().unwrap();
                }
            })
        })
        .collect();
    let chaos = {
        let db = db.clone();
        std::thread::spawn(move || {
            // From az-b: the first step then changes something.
            for round in 1u64.. {
                std::thread::sleep(Duration::from_millis(7));
                let az = AZS[(round % 3) as usize];
                match round % 4 {
                    // A planned failover of each partition to the next AZ.
                    0 | 2 => {
                        for partition in 0..2 {
                            // Refused while the AZ's copy is behind; that is fine here.
                            let _ = db.promote("Items", partition, az);
                        }
                    }
                    // An AZ fails (its partitions fail over) and comes back.
                    _ => {
                        db.fail_az(az).unwrap();
                        std::thread::sleep(Duration::from_millis(3));
                        db.restore_az(az).unwrap();
                    }
                }
            }
        })
    };
    for writer in writers {
        writer.join().unwrap();
    }
    chaos.join().unwrap();
}

/// One child life: the acknowledged `(thread, k) -> seq`, the newest per key.
fn run_child_and_kill(dir: &Path, start: u64, run_for: Duration) -> BTreeMap<(u64, u64), u64> {
    let env = [
        (CHILD_ENV, dir.display().to_string()),
        ("DYNASTORE_REPLICATION_SEQ", start.to_string()),
    ];
    let (acks, failures) = common::run_child_and_kill_reporting("replication_crash_child", &env, run_for);
    assert!(failures.is_empty(), "writes failed: {failures:?}");
    common::newest_per_key(acks)
}

/// Promotions recorded in the CATALOG, over every partition.
fn failovers_of(db: &Database) -> u64 {
    db.stats()
        .unwrap()
        .iter()
        .flat_map(|t| &t.partitions)
        .map(|p| p.entry.group.failovers)
        .sum()
}

/// Waits until every replica holds and applied everything durable on its primary.
fn wait_caught_up(db: &Database, seed: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stats = db.stats().unwrap();
        let caught_up = stats.iter().flat_map(|t| &t.partitions).all(|p| {
            p.replicas
                .iter()
                .all(|r| r.state == "live" && r.lag_records == 0 && r.applied_lsn == r.durable_lsn)
        });
        if caught_up {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "seed {seed}: replicas did not converge: {stats:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn acknowledged_writes_survive_sigkill_during_shipping_and_promotion() {
    let tmp = tempfile::tempdir().unwrap();
    let seed = common::seed();
    let mut acked: BTreeMap<(u64, u64), u64> = BTreeMap::new();
    // Failovers the children did (the checks below promote too; those are not counted).
    let (mut by_children, mut after_checks) = (0, 0);
    for round in 0..6u64 {
        let run_for = Duration::from_millis(10 + (seed.rotate_left(round as u32 * 11) % 150));
        let start = (round + 1) * 1_000_000;
        let mine = run_child_and_kill(tmp.path(), start, run_for);
        assert!(
            !mine.is_empty(),
            "seed {seed}, round {round}: the child acknowledged nothing"
        );
        println!(
            "round {round}: killed after {run_for:?}, {} keys acknowledged",
            mine.len()
        );
        acked.extend(mine);

        let db = Database::open(StdFs::shared(), tmp.path(), options()).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let failovers = failovers_of(&db);
        by_children += failovers - after_checks;
        println!("round {round}: {failovers} failovers so far, {by_children} by the children");
        let read = |db: &Database, thread: u64, k: u64| {
            let mut input = KeyInput::new("Items", key(thread, k));
            input.consistent_read = true;
            db.get_item(input).unwrap()
        };
        for (&(thread, k), &seq) in &acked {
            let stored =
                read(&db, thread, k).unwrap_or_else(|| panic!("seed {seed}: acknowledged t{thread}-k{k} lost"));
            // The newest acknowledged write, or one after it that was in flight.
            assert!(
                seq_of(&stored) >= seq,
                "seed {seed}: t{thread}-k{k} went back from {seq}"
            );
            assert_eq!(stored, item(thread, k, seq_of(&stored)), "seed {seed}: not whole");
        }
        // Every AZ converges to the same items: each is made primary in turn and read.
        wait_caught_up(&db, seed);
        let mut per_az = Vec::new();
        for az in AZS {
            for partition in 0..2 {
                db.promote("Items", partition, az)
                    .unwrap_or_else(|e| panic!("seed {seed}: promoting {az}: {e}"));
            }
            let items: BTreeMap<_, _> = acked.keys().map(|&(t, k)| ((t, k), read(&db, t, k))).collect();
            per_az.push(items);
            wait_caught_up(&db, seed);
        }
        assert_eq!(per_az[0], per_az[1], "seed {seed}: az-a and az-b differ");
        assert_eq!(per_az[0], per_az[2], "seed {seed}: az-a and az-c differ");
        db.close().unwrap();
        let report = dynastore::verify::verify(tmp.path());
        assert!(report.problems.is_empty(), "seed {seed}: verify: {:?}", report.problems);
        let db = Database::open(StdFs::shared(), tmp.path(), options()).unwrap();
        after_checks = failovers_of(&db);
    }
    assert!(
        by_children > 0,
        "seed {seed}: no child failed over before it was killed"
    );
}
